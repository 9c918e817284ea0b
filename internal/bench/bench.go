// Package bench is pforte bench: it starts a pforte server on a scratch
// store, creates customers through its API, and measures in one run the
// bare password hash at the server's parameters next to login,
// registration, session check and confirmation, and a storm of logins
// sent at once. It talks only to loopback and stops by itself.
package bench

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"pforte/internal/password"
)

// Config is what one run measures, and against what.
type Config struct {
	Server        string          // the pforte binary to run as the server
	Against       string          // another pforte binary measured in turns with Server, or ""
	DB            string          // "" or "sqlite": a scratch SQLite file; postgres://…: a scratch schema there
	Duration      time.Duration   // of each timed measurement
	Rounds        int             // each measurement runs once per round; rounds interleave them
	Customers     int             // active customers created before the measurements
	Confirmations int             // confirmation tokens spent in each round
	Storm         int             // logins sent at once in each storm
	Params        password.Params // the server's argon2id parameters
	Progress      io.Writer       // a line per step, or nil
}

// DefaultConfig measures the default hash parameters for about two
// minutes on SQLite.
func DefaultConfig() Config {
	return Config{DB: "sqlite", Duration: 3 * time.Second, Rounds: 3, Customers: 1000,
		Confirmations: 500, Storm: 1000, Params: password.DefaultParams()}
}

func (cfg Config) check() error {
	switch {
	case cfg.Server == "":
		return errors.New("no server binary")
	case cfg.Duration <= 0 || cfg.Duration > time.Minute:
		return errors.New("--duration must be more than 0 and at most 1m")
	case cfg.Rounds < 1 || cfg.Rounds > 10:
		return errors.New("--rounds must be 1 to 10")
	case cfg.Customers < 1 || cfg.Customers > 100_000:
		return errors.New("--customers must be 1 to 100000")
	case cfg.Confirmations < 1 || cfg.Confirmations > 100_000:
		return errors.New("--confirmations must be 1 to 100000")
	case cfg.Storm < 0 || cfg.Storm > 10_000:
		return errors.New("--storm must be 0 (none) to 10000")
	}
	return cfg.Params.Validate()
}

// Run runs the benchmark and writes its report to out.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	// Nothing here may run for ever: the whole run has a bound well above
	// what the configuration needs.
	bound := 10*time.Minute + time.Duration(cfg.Rounds)*20*cfg.Duration
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	r := &run{cfg: cfg, rows: map[string]*row{}}
	r.progress("starting %s serve on %s", cfg.Server, storeName(cfg.DB))
	srv, err := startServer(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.stop()
	r.srv = srv
	if err := r.prepareHash(ctx); err != nil {
		return err
	}
	if err := r.setUp(ctx); err != nil {
		return err
	}
	defer r.api.close()
	if cfg.Against != "" {
		ocfg := cfg
		ocfg.Server = cfg.Against
		r.progress("starting %s serve on %s, to measure against", cfg.Against, storeName(cfg.DB))
		osrv, err := startServer(ctx, ocfg)
		if err != nil {
			return err
		}
		defer osrv.stop()
		r.other = &run{cfg: ocfg, srv: osrv, pw: r.pw, sealed: r.sealed, hasher: r.hasher}
		if err := r.other.setUp(ctx); err != nil {
			return err
		}
		defer r.other.api.close()
	}
	for round := 1; round <= cfg.Rounds; round++ {
		r.progress("round %d of %d", round, cfg.Rounds)
		if err := r.round(ctx, round); err != nil {
			return err
		}
	}
	if cfg.Storm > 0 {
		if err := r.storms(ctx); err != nil {
			return err
		}
		if r.other != nil {
			if err := r.other.storms(ctx); err != nil {
				return err
			}
			for _, s := range r.other.stormLines {
				r.stormLines = append(r.stormLines, stormLine{s.name + ", against", s.res})
			}
		}
	}
	r.report(out)
	return nil
}

// run is the state of one benchmark run.
type run struct {
	cfg    Config
	srv    *server
	api    *client
	pw     string
	emails []string         // active customers
	sealed string           // their password's hash, at the server's parameters
	hasher *password.Hasher // the bare hash's, with a slot per CPU
	tokens *tokenBag        // session tokens from logins, for the session check
	other  *run             // the --against server's, measured in turns with this one

	confirm [][]string // per round, confirmation tokens of pending customers
	regs    atomic.Int64
	logins  atomic.Int64

	order      []string // row names in the order first measured
	rows       map[string]*row
	stormLines []stormLine
}

func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench: "+format+"\n", args...)
	}
}

func storeName(db string) string {
	if db == "" || db == "sqlite" {
		return "SQLite"
	}
	return "PostgreSQL"
}

// prepareHash picks the customers' password and makes the bare hash's
// pool and the password's hash at the server's parameters.
func (r *run) prepareHash(ctx context.Context) error {
	r.pw = "bench horse battery " + hex.EncodeToString(randomBytes(4))
	var err error
	if r.hasher, err = password.NewHasher(r.cfg.Params, password.NewPool(0, 0)); err != nil {
		return err
	}
	// Each slot hashes once, so that no measured hash pays for the
	// first use of its slot's memory (the server's slots are warm too).
	for range runtime.NumCPU() {
		if r.sealed, err = r.hasher.Hash(ctx, r.pw); err != nil {
			return err
		}
	}
	return nil
}

// setUp makes the API key and the customers, through the API.
func (r *run) setUp(ctx context.Context) error {
	key, err := r.srv.secretKey(ctx)
	if err != nil {
		return err
	}
	r.api = newClient(r.srv.base, key, 64)
	r.tokens = &tokenBag{max: 1000}
	r.progress("creating %d customers and %d pending ones", r.cfg.Customers, r.cfg.Rounds*r.cfg.Confirmations)
	r.emails = make([]string, r.cfg.Customers)
	for i := range r.emails {
		r.emails[i] = fmt.Sprintf("bench-%d@example.com", i)
	}
	if err := r.create(ctx, r.emails, "active", nil); err != nil {
		return err
	}
	r.confirm = make([][]string, r.cfg.Rounds)
	for round := range r.confirm {
		emails := make([]string, r.cfg.Confirmations)
		for i := range emails {
			emails[i] = fmt.Sprintf("bench-pending-%d-%d@example.com", round, i)
		}
		r.confirm[round] = make([]string, len(emails))
		if err := r.create(ctx, emails, "pending", r.confirm[round]); err != nil {
			return err
		}
	}
	if err := r.srv.analyze(ctx); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// create makes customers with the run's password hash, four at a time,
// keeping their confirmation tokens in tokens if it is not nil.
func (r *run) create(ctx context.Context, emails []string, state string, tokens []string) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(emails) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				var resp struct {
					ConfirmationToken string `json:"confirmation_token"`
				}
				body := map[string]string{"email": emails[i], "password_hash": r.sealed, "state": state}
				status, err := r.api.do(ctx, http.MethodPost, "/api/v1/customers", "", body, http.StatusCreated, &resp)
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("create customer: status %d", status)
				}
				if err == nil && tokens != nil && resp.ConfirmationToken == "" {
					err = errors.New("create customer: no confirmation_token in the answer (is the tenant's delivery return or both?)")
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if tokens != nil {
					tokens[i] = resp.ConfirmationToken
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// round runs each measurement once. Login and registration take turns
// with the bare hash they are compared with, and every measurement with
// the same one of the --against server, if there is one.
func (r *run) round(ctx context.Context, round int) error {
	for _, c := range []int{2, 4} {
		r.measured(ctx, "login", c, r.bareHash(c), func(o *run) load { return o.measure(c, o.login) })
	}
	r.measured(ctx, "registration", 16, r.bareHash(16), func(o *run) load { return o.measure(16, o.register(round)) })
	r.measured(ctx, "session check", 4, r.floor(4), func(o *run) load { return o.measure(4, o.sessionCheck) })
	r.measured(ctx, "confirmation", 4, nil, func(o *run) load { return o.measure(4, o.confirmation(round)) })
	return ctx.Err()
}

// A reference is measured in turns with what is compared with it, and
// added as a row of its own above it.
type reference struct {
	name string
	load load
	hash bool // a bare hash: the rows below get its ratios
}

// measured runs of(r) for the run's duration, in turns with ref (if not
// nil) and with of(r.other) (if there is one), and adds their rows.
func (r *run) measured(ctx context.Context, name string, c int, ref *reference, of func(*run) load) {
	loads := []load{of(r)}
	if r.other != nil {
		loads = append(loads, of(r.other))
	}
	if ref != nil {
		loads = append(loads, ref.load)
	}
	samples := r.turns(ctx, loads...)
	var b, against *sample
	if ref != nil {
		r.add(fmt.Sprintf("%s|%d", ref.name, c), samples[len(samples)-1], nil, nil)
		if ref.hash {
			b = &samples[len(samples)-1]
		}
	}
	if r.other != nil {
		against = &samples[1]
	}
	r.add(fmt.Sprintf("%s|%d", name, c), samples[0], b, against)
	if against != nil {
		r.add(fmt.Sprintf("%s, against|%d", name, c), *against, b, nil)
	}
}

// A load runs for d and returns what it measured.
type load func(ctx context.Context, d time.Duration) sample

// turn is how long each load of a compared pair runs before the other
// takes over. The speed of a shared machine drifts by more than the
// difference being measured within seconds; loads taking turns see the
// same drift.
const turn = time.Second

// turns runs each load for the run's duration, in turns of about a
// second, in order, and adds up each one's turns.
func (r *run) turns(ctx context.Context, loads ...load) []sample {
	n := max(1, int(r.cfg.Duration/turn))
	each := r.cfg.Duration / time.Duration(n)
	out := make([]sample, len(loads))
	for i := range out {
		out[i] = sample{cpuKnown: true}
	}
	for range n {
		for i, l := range loads {
			out[i] = out[i].plus(l(ctx, each))
		}
	}
	for i := range out {
		slices.Sort(out[i].latencies)
	}
	return out
}

// bareHash verifies the run's password against its hash, c at a time,
// in this process, as a login's hash would run in the server: through a
// pool with a slot per CPU, whose slots have hashed before.
func (r *run) bareHash(c int) *reference {
	return &reference{name: "bare hash", hash: true, load: func(ctx context.Context, d time.Duration) sample {
		return closedLoop(ctx, c, d, ownCPU, func(ctx context.Context, _, _ int) (bool, error) {
			ok, _, err := r.hasher.Verify(ctx, r.sealed, r.pw)
			return ok, err
		})
	}}
}

// floor is GET /healthz on the server, c at a time: a request that reads
// and writes nothing, what every request costs before its own work.
func (r *run) floor(c int) *reference {
	return &reference{name: "GET /healthz (the floor)", load: r.measure(c, func(ctx context.Context, _, _ int) (bool, error) {
		status, err := r.api.do(ctx, http.MethodGet, "/healthz", "", nil, http.StatusOK, nil)
		return status == http.StatusOK, err
	})}
}

// measure runs do against the server, c at a time, measuring the
// server's CPU time.
func (r *run) measure(c int, do op) load {
	pid := r.srv.cmd.Process.Pid
	return func(ctx context.Context, d time.Duration) sample {
		return closedLoop(ctx, c, d, func() (time.Duration, error) { return cpuTime(pid) }, do)
	}
}

func (r *run) login(ctx context.Context, _, _ int) (bool, error) {
	email := r.emails[int(r.logins.Add(1))%len(r.emails)]
	var resp struct {
		Session struct {
			Token string `json:"token"`
		} `json:"session"`
	}
	status, err := r.api.do(ctx, http.MethodPost, "/api/v1/sessions", "", map[string]string{"email": email, "password": r.pw}, http.StatusCreated, &resp)
	if err != nil || status != http.StatusCreated {
		return false, err
	}
	r.tokens.put(resp.Session.Token)
	return true, nil
}

func (r *run) register(round int) op {
	return func(ctx context.Context, _, _ int) (bool, error) {
		email := fmt.Sprintf("bench-new-%d-%d@example.com", round, r.regs.Add(1))
		status, err := r.api.do(ctx, http.MethodPost, "/api/v1/registrations", "", map[string]string{"email": email, "password": r.pw}, http.StatusCreated, nil)
		return status == http.StatusCreated, err
	}
}

func (r *run) sessionCheck(ctx context.Context, _, _ int) (bool, error) {
	token := r.tokens.next()
	if token == "" {
		return false, errors.New("no session token: no login succeeded")
	}
	status, err := r.api.do(ctx, http.MethodGet, "/api/v1/session", token, nil, http.StatusOK, nil)
	return status == http.StatusOK, err
}

func (r *run) confirmation(round int) op {
	var taken atomic.Int64
	tokens := r.confirm[round-1]
	return func(ctx context.Context, _, _ int) (bool, error) {
		i := int(taken.Add(1) - 1)
		if i >= len(tokens) {
			return false, errNoMoreWork
		}
		status, err := r.api.do(ctx, http.MethodPost, "/api/v1/confirmations", "", map[string]string{"token": tokens[i]}, http.StatusOK, nil)
		return status == http.StatusOK, err
	}
}

// storms sends Storm logins at once, first to as many customers, then all
// to one; and as many GET /healthz, the floor the logins' refusals are
// measured against.
func (r *run) storms(ctx context.Context) error {
	host := strings.TrimPrefix(r.srv.base, "http://")
	for _, s := range []struct {
		name string
		reqs []string
	}{
		{fmt.Sprintf("%d GET /healthz at once (the floor)", r.cfg.Storm), healthRequests(host, r.cfg.Storm)},
		{fmt.Sprintf("%d logins at once, %d addresses", r.cfg.Storm, min(r.cfg.Storm, len(r.emails))),
			loginRequests(host, r.api.key, loginBodies(r.cfg.Storm, r.emails, r.pw))},
		{fmt.Sprintf("%d logins at once, one address", r.cfg.Storm),
			loginRequests(host, r.api.key, loginBodies(r.cfg.Storm, r.emails[:1], r.pw))},
	} {
		r.progress("storm: %s", s.name)
		res, err := storm(ctx, r.srv, s.reqs)
		if err != nil {
			return err
		}
		r.stormLines = append(r.stormLines, stormLine{s.name, res})
	}
	return nil
}

// ownCPU is this process's CPU time.
func ownCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// tokenBag keeps up to max session tokens and hands them out in turn.
type tokenBag struct {
	mu     sync.Mutex
	max, i int
	tokens []string
}

func (b *tokenBag) put(t string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.tokens) < b.max {
		b.tokens = append(b.tokens, t)
	}
}

func (b *tokenBag) next() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.tokens) == 0 {
		return ""
	}
	b.i = (b.i + 1) % len(b.tokens)
	return b.tokens[b.i]
}

// header describes the run.
func (r *run) header() string {
	p := r.cfg.Params
	host, _ := os.Hostname()
	h := fmt.Sprintf("pforte bench: %s, argon2id m=%d KiB t=%d p=%d, %d CPUs (%s), %d rounds of %s, server %s",
		storeName(r.cfg.DB), p.Memory, p.Iterations, p.Parallelism, runtime.NumCPU(), host, r.cfg.Rounds, r.cfg.Duration, r.cfg.Server)
	if r.other != nil {
		h += ", against " + r.other.cfg.Server
	}
	return h
}
