package wire

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"pforte/internal/account"
)

// ClientLimiter bounds the requests each client address may make to the
// APIs that take no key (Gradido and /api/2/auth), where nothing else stands
// between a script and the registration and login flows. It is a token
// bucket per address, kept in memory: each replica counts for itself.
// IPv6 clients are counted per /64, the block one subscriber usually gets.
// At most maxClients addresses have a bucket; when a new one comes and
// none has idled, an arbitrary bucket is dropped for it. So a flood of
// addresses cannot grow memory without bound, nor lock out clients it did
// not flood (a dropped bucket only starts full again). A nil ClientLimiter
// allows everything.
type ClientLimiter struct {
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

// NewClientLimiter allows each client perMinute requests a minute on
// average and burst at once. perMinute 0 returns nil: no limit. now is the
// clock (nil: time.Now); log (nil: none) hears once when requests seem to
// come through a proxy that is not trusted.
func NewClientLimiter(perMinute, burst int, now func() time.Time, log *slog.Logger) *ClientLimiter {
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
	return &ClientLimiter{perMinute: perMinute, burst: burst, now: now, log: log, clients: map[netip.Addr]*client{}}
}

func (l *ClientLimiter) newClient() *client {
	return &client{bucket: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.burst)}
}

// idleAfter is how long an address's bucket is kept unused: by then it is
// full again, so forgetting it changes nothing.
func (l *ClientLimiter) idleAfter() time.Duration {
	return time.Duration(l.burst) * time.Minute / time.Duration(l.perMinute)
}

// Allow takes one request from the client's bucket. When it is empty the
// error is a rate limit with the time until the next request is allowed.
func (l *ClientLimiter) Allow(addr netip.Addr) error {
	if l == nil || !addr.IsValid() {
		return nil
	}
	if addr = addr.Unmap(); addr.Is6() {
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
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
		return &account.Error{Kind: account.KindRateLimited, Code: account.CodeTooManyRequests,
			Message: "too many requests from this address; try again later", RetryAfter: d.Round(time.Second) + time.Second}
	}
	return nil
}

// Clients is what the keyless APIs know of their callers: which proxies
// may name the client, and how many requests a client may make.
type Clients struct {
	Proxies []netip.Prefix // see ClientIP
	Limiter *ClientLimiter // nil: no limit
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
		// The peer forwards for others but is not trusted: every client
		// behind it shares its bucket.
		c.Limiter.warned.Do(func() {
			c.Limiter.log.Warn("a request came with X-Forwarded-For from a peer not in --trusted-proxies: " +
				"if pforte runs behind a reverse proxy, list it there, or every client behind it shares one rate limit")
		})
	}
	return c.Limiter.Allow(c.IP(r))
}

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
