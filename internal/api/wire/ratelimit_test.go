package wire

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
)

func TestMemoryLimiter(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter(60, 5, func() time.Time { return now }, nil)
	a := netip.MustParseAddr("203.0.113.7")
	for i := range 5 {
		if err := l.Allow(ctx, a); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	err := l.Allow(ctx, a)
	e, ok := err.(*account.Error)
	if !ok || e.Kind != account.KindRateLimited || e.RetryAfter < time.Second || e.RetryAfter > 2*time.Second {
		t.Fatalf("sixth request at once: %v", err)
	}
	// Another client is not affected.
	if err := l.Allow(ctx, netip.MustParseAddr("203.0.113.8")); err != nil {
		t.Fatalf("another client: %v", err)
	}
	// A refused request costs nothing: one second later one more is allowed.
	now = now.Add(time.Second)
	if err := l.Allow(ctx, a); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if err := l.Allow(ctx, a); err == nil {
		t.Fatal("the bucket refilled faster than 60 a minute")
	}
	// IPv6 clients count per /64.
	for i := range 5 {
		if err := l.Allow(ctx, netip.MustParseAddr("2001:db8::"+string(rune('1'+i)))); err != nil {
			t.Fatalf("IPv6 request %d: %v", i, err)
		}
	}
	if err := l.Allow(ctx, netip.MustParseAddr("2001:db8::ffff")); err == nil {
		t.Fatal("another address of the same /64 got a bucket of its own")
	}
	// Idle buckets are forgotten.
	now = now.Add(10 * time.Minute)
	l.Allow(ctx, a)
	if n := len(l.clients); n != 1 {
		t.Fatalf("%d buckets after the others idled, want 1", n)
	}
	if NewMemoryLimiter(0, 0, nil, nil).Allow(ctx, a) != nil {
		t.Fatal("a disabled limiter refused")
	}
}

func TestMemoryLimiterBounds(t *testing.T) {
	defer func(n int) { maxClients = n }(maxClients)
	maxClients = 3
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter(60, 2, func() time.Time { return now }, nil)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }
	for i := range 3 {
		if err := l.Allow(ctx, ip(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Beyond maxClients a new address takes an arbitrary bucket's place:
	// memory stays bounded, and nobody is locked out.
	for i := 10; i < 20; i++ {
		if err := l.Allow(ctx, ip(i)); err != nil {
			t.Fatalf("new address %d beyond maxClients: %v", i, err)
		}
		if len(l.clients) > 3 {
			t.Fatalf("%d buckets, want at most 3", len(l.clients))
		}
	}
	l.Allow(ctx, ip(0))
	l.Allow(ctx, ip(0))
	// IPv4-mapped IPv6 addresses count as the IPv4 address (whose bucket
	// the two requests above emptied).
	if l.Allow(ctx, netip.MustParseAddr("::ffff:198.51.100.0")) == nil {
		t.Fatal("the mapped form of an address whose bucket is empty was allowed")
	}
	// Once the buckets idle, room is made at once.
	now = now.Add(5 * time.Minute)
	if err := l.Allow(ctx, ip(20)); err != nil {
		t.Fatalf("after the others idled: %v", err)
	}
	if _, ok := l.clients[ip(20)]; !ok {
		t.Fatal("a new address got no bucket of its own after a sweep")
	}
}

func TestClientsWarnsOfUntrustedProxy(t *testing.T) {
	var logged strings.Builder
	l := NewMemoryLimiter(60, 5, nil, slog.New(slog.NewTextHandler(&logged, nil)))
	trustedProxy, _ := ParseProxies([]string{"10.0.0.1"})
	r := httptest.NewRequest("POST", "/", nil)
	r.RemoteAddr = "10.0.0.1:4000"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	Clients{Proxies: trustedProxy, Limiter: l}.Limit(r)
	if logged.Len() != 0 {
		t.Fatalf("warned of a trusted proxy: %s", logged.String())
	}
	Clients{Limiter: l}.Limit(r)
	Clients{Limiter: l}.Limit(r)
	if n := strings.Count(logged.String(), "trusted-proxies"); n != 1 {
		t.Fatalf("warned %d times of an untrusted proxy, want once:\n%s", n, logged.String())
	}
}

func TestBucketAddr(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"2001:db8:1:2::":       "2001:db8:1:2::",
	} {
		if got := BucketAddr(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("BucketAddr(%s) = %s, want %s", in, got, want)
		}
	}
}

// A keyed API limits every caller per address but those with a valid
// secret key.
func TestLimitUnlessSecret(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Clients{Limiter: NewMemoryLimiter(60, 1, func() time.Time { return now }, nil)}
	r := httptest.NewRequest("POST", "/", nil)
	r.RemoteAddr = "203.0.113.7:4000"
	secret := account.Caller{Key: account.KeySecret}
	for _, caller := range []account.Caller{secret, secret, {Key: account.KeyPublic}} {
		if err := c.LimitUnlessSecret(r, caller); err != nil {
			t.Fatalf("%s key: %v", caller.Key, err)
		}
	}
	for _, caller := range []account.Caller{{Key: account.KeyPublic}, {}} {
		if err := c.LimitUnlessSecret(r, caller); err == nil {
			t.Fatalf("caller %q past the burst was allowed", caller.Key)
		}
	}
	if err := c.LimitUnlessSecret(r, secret); err != nil {
		t.Fatalf("secret key once the address's bucket is empty: %v", err)
	}
	if (Clients{}).LimitUnlessSecret(r, account.Caller{}) != nil {
		t.Fatal("Clients without a limiter refused")
	}
}
