// Package redislimit keeps the limits per client address in Redis, so that
// every replica of pforte takes from the same buckets. The buckets are
// redis_rate's GCRA, one Lua script run with EVALSHA, on Redis's clock:
// one clock for all replicas. When Redis cannot be reached in time, each
// request is decided by this replica's own buckets in memory, and Redis is
// asked again a few seconds later: pforte neither refuses everyone nor
// stops limiting while Redis is away, and it says so in the log and in
// /readyz.
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"pforte/internal/api/wire"
)

// Config is what New needs.
type Config struct {
	// URL is Redis's: redis://[USER:PASS@]HOST:PORT[/DB], rediss:// for
	// TLS, or unix:///PATH; see ParseURL.
	URL string
	// Prefix starts every key, e.g. "pforte:"; replicas that share limits
	// share it.
	Prefix string
	// PerMinute requests a minute on average and Burst at once are allowed
	// to each client address, as wire.MemoryLimiter allows them.
	PerMinute, Burst int
	// Timeout bounds each call to Redis; 0: DefaultTimeout.
	Timeout time.Duration
	// Recheck is how long after a failed call Redis is asked again; until
	// then this replica limits for itself. 0: DefaultRecheck.
	Recheck time.Duration
	// Now is the clock of the fallback's buckets and of the rechecks; nil:
	// time.Now. Redis's buckets run on Redis's clock.
	Now func() time.Time
	// Log hears when Redis goes out of reach and when it is back; nil: none.
	Log *slog.Logger
}

const (
	// DefaultTimeout is short: a request waits for its limit no longer.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultRecheck keeps requests from each waiting for a Redis that is
	// away: only one every few seconds asks it.
	DefaultRecheck = 5 * time.Second
)

// Limiter is a wire.SharedLimiter over Redis.
type Limiter struct {
	client  *redis.Client
	buckets *redis_rate.Limiter
	limit   redis_rate.Limit
	prefix  string
	timeout time.Duration
	recheck time.Duration
	now     func() time.Time
	log     *slog.Logger
	redis   string // Redis's address, for the log: never the password
	local   *wire.MemoryLimiter

	mu        sync.Mutex
	away      bool      // the last call failed: local decides
	recheckAt time.Time // while away: when a request may ask Redis again
	asking    bool      // while away: one request is asking Redis
}

var _ wire.SharedLimiter = (*Limiter)(nil)

// ParseURL reads a Redis URL as go-redis does, with the timeouts and
// connection settings of a limiter whose every call is short.
func ParseURL(url string, timeout time.Duration) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "redis: "))
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeout, timeout, timeout
	opts.ContextTimeoutEnabled = true
	// One retry gets past a connection that Redis closed (after its
	// restart, say) without falling back; more would not fit the timeout,
	// nor would dialling again after a refusal.
	opts.MaxRetries = 1
	opts.DialerRetries = 1
	// Nothing but the limiter's script and PING is sent: no client name
	// to set, no maintenance notices to follow.
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opts, nil
}

// New returns a limiter over the Redis at c.URL; it connects on first
// use. It fails only for a URL that ParseURL refuses or a PerMinute below
// 1. Close it when done.
func New(c Config) (*Limiter, error) {
	if c.PerMinute <= 0 {
		return nil, fmt.Errorf("redislimit: PerMinute is %d, want at least 1", c.PerMinute)
	}
	if c.Burst <= 0 {
		c.Burst = c.PerMinute
	}
	opts, err := ParseURL(c.URL, c.Timeout)
	if err != nil {
		return nil, err
	}
	if c.Recheck <= 0 {
		c.Recheck = DefaultRecheck
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	client := redis.NewClient(opts)
	return &Limiter{
		client:  client,
		buckets: redis_rate.NewLimiter(ownKeys{client}),
		limit:   redis_rate.Limit{Rate: c.PerMinute, Burst: c.Burst, Period: time.Minute},
		prefix:  c.Prefix,
		timeout: opts.ReadTimeout,
		recheck: c.Recheck,
		now:     c.Now,
		log:     c.Log,
		redis:   opts.Addr,
		local:   wire.NewMemoryLimiter(c.PerMinute, c.Burst, c.Now, c.Log),
	}, nil
}

// Close closes the connections to Redis.
func (l *Limiter) Close() error { return l.client.Close() }

// Key is the Redis key of the bucket addr takes from.
func (l *Limiter) Key(addr netip.Addr) string {
	return l.prefix + "client:" + wire.BucketAddr(addr).String()
}

// Allow takes one request from addr's bucket in Redis, or, while Redis is
// out of reach, from this replica's.
func (l *Limiter) Allow(ctx context.Context, addr netip.Addr) error {
	if !addr.IsValid() {
		return nil
	}
	if !l.askRedis() {
		return l.local.Allow(ctx, addr)
	}
	callCtx, cancel := context.WithTimeout(ctx, l.timeout)
	res, err := l.buckets.Allow(callCtx, l.Key(addr), l.limit)
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		// The client left, which tells nothing of Redis.
		l.endTurn()
		return l.local.Allow(ctx, addr)
	case err != nil:
		l.asked(err)
		return l.local.Allow(ctx, addr)
	}
	l.asked(nil)
	if res.Allowed == 0 {
		return wire.TooManyRequests(res.RetryAfter)
	}
	return nil
}

// UntrustedProxy warns once, as the fallback does.
func (l *Limiter) UntrustedProxy() { l.local.UntrustedProxy() }

// Shared asks Redis whether it answers, and reports whether the limits
// are shared.
func (l *Limiter) Shared(ctx context.Context) (ok bool, why string) {
	pingCtx, cancel := context.WithTimeout(ctx, l.timeout)
	err := l.client.Ping(pingCtx).Err()
	cancel()
	if err == nil || ctx.Err() == nil {
		l.heard(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.away {
		return false, "Redis is unreachable"
	}
	return true, ""
}

// askRedis says whether this request asks Redis: always while Redis
// answers; while it does not, one request at a time once recheckAt has
// come.
func (l *Limiter) askRedis() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.away {
		return true
	}
	if l.asking || l.now().Before(l.recheckAt) {
		return false
	}
	l.asking = true
	return true
}

// asked ends the turn of a request that asked Redis, and records how it
// went (err nil: Redis answered).
func (l *Limiter) asked(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asking = false
	l.record(err)
}

// heard records how a call to Redis outside any request's turn went.
func (l *Limiter) heard(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.record(err)
}

func (l *Limiter) endTurn() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asking = false
}

// record notes whether Redis answered, with l.mu held. Only the change
// between reachable and unreachable is logged.
func (l *Limiter) record(err error) {
	switch {
	case err == nil && l.away:
		l.away = false
		l.log.Info("Redis answers again: the client limits are shared again", "redis", l.redis)
	case err == nil:
	case !l.away:
		l.away = true
		l.recheckAt = l.now().Add(l.recheck)
		l.log.Warn("Redis is unreachable: each replica keeps its own client limits until it answers again",
			"redis", l.redis, "err", err)
	default:
		l.recheckAt = l.now().Add(l.recheck)
	}
}

// LogTo sends go-redis's own log lines to log, at debug level: they
// repeat, for every connection that fails, what a Limiter tells once. It
// sets go-redis's one logger, for the whole process.
func LogTo(log *slog.Logger) { redis.SetLogger(redisLog{log}) }

type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// ownKeys hands redis_rate's calls on to Redis with the keys named as
// pforte names them. redis_rate puts "rate:" before every key; without
// it, every key starts with the configured prefix, which ACLs and SCAN
// can match. Its script runs through redis.Script, which calls EvalSha
// and, when Redis does not know the script yet, Eval.
type ownKeys struct{ *redis.Client }

func (c ownKeys) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return c.Client.Eval(ctx, script, withoutRatePrefix(keys), args...)
}

func (c ownKeys) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return c.Client.EvalSha(ctx, sha1, withoutRatePrefix(keys), args...)
}

func withoutRatePrefix(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimPrefix(k, "rate:")
	}
	return out
}
