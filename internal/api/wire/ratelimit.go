package wire

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"pforte/internal/account"
)

// A Limiter bounds the requests each client address may make to the
// endpoints a browser or a keyless client can call, where nothing else
// stands between a script and the registration and login flows.
// MemoryLimiter counts in this process; internal/redislimit shares the
// counts between replicas through Redis.
type Limiter interface {
	// Allow takes one request from the bucket of addr (see BucketAddr),
	// or fails with a rate limit error that says when to retry. An
	// invalid addr is allowed.
	Allow(ctx context.Context, addr netip.Addr) error
	// UntrustedProxy hears of a request whose peer forwards for others
	// but is not in --trusted-proxies: every client behind it shares one
	// bucket, which the limiter warns of once.
	UntrustedProxy()
}

// A SharedLimiter is a Limiter that shares its counts between replicas
// through a store that may be out of reach; meanwhile each replica limits
// for itself.
type SharedLimiter interface {
	Limiter
	// Shared reports whether the counts are shared now, asking the store
	// if need be; when they are not, why says so (for /readyz).
	Shared(ctx context.Context) (ok bool, why string)
}

// BucketAddr is the address whose bucket a client's requests take from:
// an IPv4 address as it is (also when IPv4-mapped), an IPv6 address's
// /64, the block one subscriber usually gets.
func BucketAddr(addr netip.Addr) netip.Addr {
	if addr = addr.Unmap(); addr.Is6() {
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	return addr
}

// TooManyRequests is the error of a client whose bucket is empty until
// wait has passed. Retry-After is rounded up to whole seconds, so that a
// client that waits as told is let in.
func TooManyRequests(wait time.Duration) error {
	return &account.Error{Kind: account.KindRateLimited, Code: account.CodeTooManyRequests,
		Message: "too many requests from this address; try again later", RetryAfter: wait.Round(time.Second) + time.Second}
}

// MemoryLimiter is a Limiter that keeps a token bucket per address in
// memory: each replica counts for itself. At most maxClients addresses
// have a bucket; when a new one comes and none has idled, an arbitrary
// bucket is dropped for it. So a flood of addresses cannot grow memory
// without bound, nor lock out clients it did not flood (a dropped bucket
// only starts full again). A nil MemoryLimiter allows everything.
type MemoryLimiter struct {
	perMinute int
	burst     int
	now       func() time.Time
	log       *slog.Logger

	mu      sync.Mutex
	clients map[netip.Addr]*client
	swept   time.Time
	warned  sync.Once
}

// maxClients bounds the addresses with a bucket of their own: about 20 MB.
var maxClients = 100_000

type client struct {
	bucket *rate.Limiter
	seen   time.Time
}

// NewMemoryLimiter allows each client perMinute requests a minute on
// average and burst at once. perMinute 0 returns nil: no limit. now is the
// clock (nil: time.Now); log (nil: none) hears once when requests seem to
// come through a proxy that is not trusted.
func NewMemoryLimiter(perMinute, burst int, now func() time.Time, log *slog.Logger) *MemoryLimiter {
	if perMinute <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = perMinute
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MemoryLimiter{perMinute: perMinute, burst: burst, now: now, log: log, clients: map[netip.Addr]*client{}}
}

func (l *MemoryLimiter) newClient() *client {
	return &client{bucket: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.burst)}
}

// idleAfter is how long an address's bucket is kept unused: by then it is
// full again, so forgetting it changes nothing.
func (l *MemoryLimiter) idleAfter() time.Duration {
	return time.Duration(l.burst) * time.Minute / time.Duration(l.perMinute)
}

// Allow takes one request from the client's bucket. When it is empty the
// error is a rate limit with the time until the next request is allowed.
func (l *MemoryLimiter) Allow(_ context.Context, addr netip.Addr) error {
	if l == nil || !addr.IsValid() {
		return nil
	}
	addr = BucketAddr(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.clients) >= maxClients && now.Sub(l.swept) > time.Second {
		// Forget full buckets, so that memory follows the active clients.
		for a, c := range l.clients {
			if now.Sub(c.seen) > l.idleAfter() {
				delete(l.clients, a)
			}
		}
		l.swept = now
	}
	c := l.clients[addr]
	if c == nil {
		if len(l.clients) >= maxClients {
			for a := range l.clients { // an arbitrary one: map order is random
				delete(l.clients, a)
				break
			}
		}
		c = l.newClient()
		l.clients[addr] = c
	}
	c.seen = now
	r := c.bucket.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return TooManyRequests(d)
	}
	return nil
}

// UntrustedProxy warns once that clients behind an untrusted proxy share
// its bucket.
func (l *MemoryLimiter) UntrustedProxy() {
	if l == nil {
		return
	}
	l.warned.Do(func() {
		l.log.Warn("a request came with X-Forwarded-For from a peer not in --trusted-proxies: " +
			"if pforte runs behind a reverse proxy, list it there, or every client behind it shares one rate limit")
	})
}

// Clients is what the APIs that browsers and keyless clients call know of
// their callers: which proxies may name the client, and how many requests
// a client may make.
type Clients struct {
	Proxies []netip.Prefix // see ClientIP
	Limiter Limiter        // nil: no limit
}

// IP is the request's client address; see ClientIP.
func (c Clients) IP(r *http.Request) netip.Addr { return ClientIP(r, c.Proxies) }

// Limit takes one request from the client's bucket, or fails with a rate
// limit error.
func (c Clients) Limit(r *http.Request) error {
	if c.Limiter == nil {
		return nil
	}
	if r.Header.Get("X-Forwarded-For") != "" && !trusted(peer(r), c.Proxies) {
		c.Limiter.UntrustedProxy()
	}
	return c.Limiter.Allow(r.Context(), c.IP(r))
}

// LimitUnlessSecret is Limit for an API that takes keys: a request that
// came with a valid secret key is not limited per address (servers, often
// many behind one address, call with those); any other (a public key, a
// session alone, a key that failed to authenticate) is. caller is the
// request's, or zero when its key is unknown or missing.
func (c Clients) LimitUnlessSecret(r *http.Request, caller account.Caller) error {
	if caller.IsSecret() {
		return nil
	}
	return c.Limit(r)
}

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
