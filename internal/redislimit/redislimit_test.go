package redislimit_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/redislimit"
	"pforte/internal/redislimit/redistest"
)

// The buckets in Redis run on Redis's clock. Every test here allows 2
// requests a minute, so none refills (30 s) while a test runs, and the
// tests do not depend on how fast they run.
const perMinute, burst = 2, 3

// clock is a time the test moves on; it drives the fallback's buckets and
// the rechecks.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuffer is a log the test reads.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLimiter(t *testing.T, c redislimit.Config) *redislimit.Limiter {
	t.Helper()
	c.PerMinute, c.Burst = perMinute, burst
	l, err := redislimit.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// mustAllow takes n requests of addr, each of which must be allowed.
func mustAllow(t *testing.T, l *redislimit.Limiter, addr string, n int) {
	t.Helper()
	for i := range n {
		if err := l.Allow(context.Background(), netip.MustParseAddr(addr)); err != nil {
			t.Fatalf("request %d of %s: %v", i+1, addr, err)
		}
	}
}

// mustRefuse checks that the next request of addr is refused with a rate
// limit and returns its wait.
func mustRefuse(t *testing.T, l *redislimit.Limiter, addr string) time.Duration {
	t.Helper()
	err := l.Allow(context.Background(), netip.MustParseAddr(addr))
	var e *account.Error
	if !errors.As(err, &e) || e.Kind != account.KindRateLimited || e.Code != account.CodeTooManyRequests {
		t.Fatalf("a request of %s past its burst: %v, want too_many_requests", addr, err)
	}
	return e.RetryAfter
}

func TestBuckets(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	l := newLimiter(t, redislimit.Config{URL: url, Prefix: prefix})
	mustAllow(t, l, "203.0.113.7", burst)
	// The next request is 30 s away (60 s / 2), rounded up to whole
	// seconds like the memory limiter's.
	if wait := mustRefuse(t, l, "203.0.113.7"); wait < 29*time.Second || wait > 32*time.Second {
		t.Errorf("Retry-After %s, want about 31s", wait)
	}
	// A refused request costs nothing: the wait does not grow.
	if wait := mustRefuse(t, l, "203.0.113.7"); wait > 32*time.Second {
		t.Errorf("after a refused request, Retry-After %s", wait)
	}
	// Another client is not affected; the IPv4-mapped form is the same one.
	mustAllow(t, l, "203.0.113.8", 1)
	mustRefuse(t, l, "::ffff:203.0.113.7")
	// IPv6 clients count per /64.
	mustAllow(t, l, "2001:db8::1", 2)
	mustAllow(t, l, "2001:db8::ffff", 1)
	mustRefuse(t, l, "2001:db8::2")
	mustAllow(t, l, "2001:db8:0:1::1", 1)
	// An address that is none (as in some tests) is allowed.
	if err := l.Allow(context.Background(), netip.Addr{}); err != nil {
		t.Errorf("no address: %v", err)
	}
	if ok, why := l.Shared(context.Background()); !ok {
		t.Errorf("Shared with Redis up: %s", why)
	}
}

// Every key is under the prefix and expires once its bucket is full again.
func TestKeys(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	l := newLimiter(t, redislimit.Config{URL: url, Prefix: prefix})
	mustAllow(t, l, "198.51.100.1", 1)
	mustAllow(t, l, "2001:db8:1:2:3:4:5:6", 1)
	rdb := redistest.Client(t, url)
	ctx := context.Background()
	want := []string{prefix + "client:198.51.100.1", prefix + "client:2001:db8:1:2::"}
	for _, key := range want {
		if got := l.Key(netip.MustParseAddr(strings.TrimPrefix(key, prefix+"client:"))); got != key {
			t.Errorf("Key: %s, want %s", got, key)
		}
		ttl, err := rdb.TTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > 30*time.Second {
			t.Errorf("%s: TTL %s, %v; want up to the 30 s one request takes to refill", key, ttl, err)
		}
	}
	keys, err := rdb.Keys(ctx, "*"+strings.TrimSuffix(prefix, ":")+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			t.Errorf("key %s is not under the prefix %s", k, prefix)
		}
	}
	if len(keys) != len(want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

// Two limiters with the same prefix (two replicas) take from the same
// buckets; another prefix has buckets of its own.
func TestSharedBetweenLimiters(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	a := newLimiter(t, redislimit.Config{URL: url, Prefix: prefix})
	b := newLimiter(t, redislimit.Config{URL: url, Prefix: prefix})
	other := newLimiter(t, redislimit.Config{URL: url, Prefix: redistest.Prefix(t, url)})
	mustAllow(t, a, "192.0.2.1", 2)
	mustAllow(t, b, "192.0.2.1", 1)
	mustRefuse(t, a, "192.0.2.1")
	mustRefuse(t, b, "192.0.2.1")
	mustAllow(t, other, "192.0.2.1", burst)
}

// While Redis is out of reach, each request is decided by this replica's
// buckets; Redis is asked again once Recheck has passed, and its buckets
// are used again as soon as it answers. The log says so once each way.
func TestFallback(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	proxy := redistest.StartProxy(t, url)
	clk := newClock()
	logs := &logBuffer{}
	l := newLimiter(t, redislimit.Config{URL: proxy.URL(), Prefix: prefix, Timeout: 2 * time.Second,
		Recheck: 5 * time.Second, Now: clk.Now, Log: slog.New(slog.NewTextHandler(logs, nil))})
	shared := newLimiter(t, redislimit.Config{URL: url, Prefix: prefix})

	// Redis empties the client's bucket.
	mustAllow(t, l, "192.0.2.9", burst)
	mustRefuse(t, l, "192.0.2.9")

	proxy.Stop()
	// Neither open nor closed: this replica's own bucket, full at first,
	// limits the client.
	mustAllow(t, l, "192.0.2.9", burst)
	if wait := mustRefuse(t, l, "192.0.2.9"); wait < 29*time.Second || wait > 32*time.Second {
		t.Errorf("per replica: Retry-After %s, want about 31s", wait)
	}
	if ok, why := l.Shared(context.Background()); ok || why != "Redis is unreachable" {
		t.Errorf("Shared with Redis away: %v %q", ok, why)
	}
	if n := strings.Count(logs.String(), "Redis is unreachable"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning:\n%s", logs)
	}

	// Redis is back, but the rechecks wait: the local bucket still decides.
	proxy.Start()
	mustAllow(t, l, "192.0.2.10", 1)
	if n, err := redistest.Client(t, url).Exists(context.Background(), l.Key(netip.MustParseAddr("192.0.2.10"))).Result(); err != nil || n != 0 {
		t.Errorf("Redis was asked before the recheck: %d keys, %v", n, err)
	}
	clk.Advance(5 * time.Second)
	// Now the shared bucket, which another replica meanwhile emptied for
	// 192.0.2.10, decides again.
	mustAllow(t, shared, "192.0.2.10", burst)
	mustRefuse(t, l, "192.0.2.10")
	mustRefuse(t, l, "192.0.2.9")
	if ok, why := l.Shared(context.Background()); !ok {
		t.Errorf("Shared with Redis back: %q", why)
	}
	if !strings.Contains(logs.String(), "Redis answers again") {
		t.Errorf("no word that Redis is back:\n%s", logs)
	}
}

// A Redis that takes the connection and never answers costs a request no
// more than the timeout; then the request is decided here.
func TestTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	l := newLimiter(t, redislimit.Config{URL: "redis://" + ln.Addr().String(), Prefix: "pforte:", Now: newClock().Now})
	start := time.Now()
	mustAllow(t, l, "192.0.2.1", burst)
	mustRefuse(t, l, "192.0.2.1")
	// One call waited for the timeout; the others did not ask before the
	// recheck. The bound is loose: it only tells waiting from hanging.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("4 requests took %s against a silent Redis", took)
	}
	if ok, _ := l.Shared(context.Background()); ok {
		t.Error("Shared with a silent Redis")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []redislimit.Config{
		{URL: "http://127.0.0.1:6379", PerMinute: 1},
		{URL: "redis://127.0.0.1:6379/notanumber", PerMinute: 1},
		{URL: "redis://127.0.0.1:6379", PerMinute: 0},
	} {
		if l, err := redislimit.New(c); err == nil {
			l.Close()
			t.Errorf("New(%+v) was accepted", c)
		}
	}
}
