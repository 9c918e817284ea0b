// Package apitest is the test harness every API package under
// internal/api shares, the native API and the dialects alike, and the
// server's own tests too: server.New over a fresh store through a real
// HTTP server, with a clock the test controls, cheap argon2id parameters,
// keys of tenant default and, on request, a mail relay that sends over
// real SMTP to a mailtest server. It also sends requests, speaks the
// native API for setup and checks (see native.go), waits for mail (see
// mail.go) and replays golden exchanges (see Golden). It is used only by
// tests.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/wire"
	"pforte/internal/mail"
	"pforte/internal/mail/mailtest"
	"pforte/internal/password"
	"pforte/internal/redislimit"
	"pforte/internal/server"
	"pforte/internal/store/teststore"
)

// Start is the time a harness's clock starts at.
var Start = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

// CheapParams keep hashing fast in tests; no flow depends on the cost.
func CheapParams() password.Params {
	return password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// NewClock returns a clock standing at Start.
func NewClock() *Clock { return &Clock{now: Start} }

// Clock is the service's time: frozen until the test advances it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	templatesOnce sync.Once
	templates     *mail.Templates
	templatesErr  error
)

// Templates returns the mail templates, parsed once per test binary.
func Templates(t testing.TB) *mail.Templates {
	t.Helper()
	templatesOnce.Do(func() { templates, templatesErr = mail.NewTemplates() })
	if templatesErr != nil {
		t.Fatalf("NewTemplates: %v", templatesErr)
	}
	return templates
}

// Harness is a running service and its server.
type Harness struct {
	Srv   *httptest.Server
	Svc   *account.Service
	Store account.Store // the service's store
	Clock *Clock
	SMTP  *mailtest.Server // nil without WithRelay
	Logs  *LogBuffer       // what was logged; nil without WithLogs

	Secret, Public string // keys of tenant default

	// Check, when set, sees every response before Do returns it.
	Check func(*testing.T, *Response)
	// Client sends the requests; nil: the server's, which follows redirects.
	Client *http.Client

	contentType string   // of a request with a body and no content type
	openAPI     *OpenAPI // checks every exchange with the native API

	mu        sync.Mutex
	responses []*Response // every response Record was given
}

type config struct {
	logger      *slog.Logger
	logs        *LogBuffer
	params      password.Params
	pool        *password.Pool
	store       account.Store
	cors        []string
	retryBase   time.Duration
	lease       time.Duration
	mailFrom    string
	relay       bool
	contentType string
	settings    [][2]string
	publicURL   string
	proxies     []netip.Prefix
	perMinute   int // client limit; 0: none
	burst       int
	redisURL    string // where the client limit is kept; empty: in memory
	redisPrefix string
	links       func(serverURL string) map[string]string
	hooksPublic bool // webhook endpoints only on public addresses
}

// Option configures New.
type Option func(*config)

// WithPublicWebhooksOnly refuses webhook endpoints on loopback and
// private addresses, as a server does without --webhook-allow-private.
func WithPublicWebhooksOnly() Option { return func(c *config) { c.hooksPublic = true } }

// WithLogs makes the service and the server log everything, down to
// debug, as JSON lines to a LogBuffer, Harness.Logs (default: nowhere).
func WithLogs() Option {
	return func(c *config) {
		c.logs = &LogBuffer{}
		c.logger = slog.New(wire.LogRequestID(slog.NewJSONHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
}

// WithHashing hashes with these parameters on this pool instead of
// CheapParams on an unbounded pool.
func WithHashing(p password.Params, pool *password.Pool) Option {
	return func(c *config) { c.params, c.pool = p, pool }
}

// WithStore serves a store the test opened itself (and closes itself);
// New's opener may then be nil.
func WithStore(st account.Store) Option { return func(c *config) { c.store = st } }

// WithCORS lets these origins call from a browser (default none).
func WithCORS(origins ...string) Option { return func(c *config) { c.cors = origins } }

// WithMailRetry sets the base of the outbox's backoff (default the
// service's).
func WithMailRetry(base time.Duration) Option { return func(c *config) { c.retryBase = base } }

// WithMailLease sets how long a relay holds the mail it claimed (default
// the service's).
func WithMailLease(d time.Duration) Option { return func(c *config) { c.lease = d } }

// WithMailFrom sets the service's sender (default Shop <noreply@shop.example>).
func WithMailFrom(from string) Option { return func(c *config) { c.mailFrom = from } }

// WithRelay starts a mailtest SMTP server and a mail relay sending to it.
func WithRelay() Option { return func(c *config) { c.relay = true } }

// WithContentType sets the content type of requests with a body that name
// none (default application/json).
func WithContentType(ct string) Option { return func(c *config) { c.contentType = ct } }

// WithSetting sets a setting of tenant default right after the service
// starts, before its keys are made and before any request.
func WithSetting(key, value string) Option {
	return func(c *config) { c.settings = append(c.settings, [2]string{key, value}) }
}

// WithPublicURL sets the server's public URL (default
// https://accounts.example).
func WithPublicURL(u string) Option { return func(c *config) { c.publicURL = u } }

// WithServerPublicURL makes the test server's own URL the public URL, so
// that the links and issuers built from it lead back to the server.
func WithServerPublicURL() Option { return func(c *config) { c.publicURL = "" } }

// WithTrustedProxies lets these peers set X-Forwarded-For (default none).
func WithTrustedProxies(p ...netip.Prefix) Option { return func(c *config) { c.proxies = p } }

// WithClientLimit limits each client address to perMinute requests a
// minute, burst at once, where browsers and keyless clients call, on the
// harness's clock.
func WithClientLimit(perMinute, burst int) Option {
	return func(c *config) { c.perMinute, c.burst = perMinute, burst }
}

// WithRedisLimit keeps WithClientLimit's limits in the Redis at url under
// prefix, shared with every harness given the same two (see
// redistest.URL and redistest.Prefix). Redis's buckets run on Redis's
// clock; the per-replica fallback and its rechecks on the harness's.
// Each call to Redis may take 2 s, not 100 ms, so that a slow test machine
// does not fall back by chance.
func WithRedisLimit(url, prefix string) Option {
	return func(c *config) { c.redisURL, c.redisPrefix = url, prefix }
}

// WithDefaultLinks sets the service's DefaultLinks to what links makes of
// the server's URL (http://127.0.0.1:port), e.g. pages.LinkTemplates, so
// that mail without a configured URL links to the harness's own server.
// Default: none, and such mail shows the token.
func WithDefaultLinks(links func(serverURL string) map[string]string) Option {
	return func(c *config) { c.links = links }
}

// New starts the service on a fresh store from open (one of
// teststore.Each's), with a secret and a public key of tenant default, and
// serves server.New until the test (or benchmark) ends.
func New(t testing.TB, open teststore.Opener, opts ...Option) *Harness {
	t.Helper()
	cfg := config{
		logger:      slog.New(slog.DiscardHandler),
		params:      CheapParams(),
		mailFrom:    "Shop <noreply@shop.example>",
		contentType: "application/json",
		publicURL:   "https://accounts.example",
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.pool == nil {
		cfg.pool = password.NewPool(0, 0)
	}
	st := cfg.store
	if st == nil {
		st = open(t)
	}
	hasher, err := password.NewHasher(cfg.params, cfg.pool)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	clk := NewClock()
	// The server listens before the service starts, so that its URL can
	// go into the service's links.
	srv := httptest.NewUnstartedServer(nil)
	started := false
	defer func() {
		if !started { // a t.Fatalf below
			srv.Listener.Close()
		}
	}()
	if cfg.publicURL == "" {
		cfg.publicURL = "http://" + srv.Listener.Addr().String()
	}
	var links map[string]string
	if cfg.links != nil {
		links = cfg.links("http://" + srv.Listener.Addr().String())
	}
	svc := account.NewService(account.Config{
		Store:         st,
		Hasher:        hasher,
		Policy:        password.DefaultPolicy(),
		Logger:        cfg.logger,
		Now:           clk.Now,
		Renderer:      Templates(t),
		MailFrom:      cfg.mailFrom,
		MailRetryBase: cfg.retryBase,
		MailLease:     cfg.lease,
		DefaultLinks:  links,
		// Test receivers listen on loopback.
		WebhookAllowPrivate: !cfg.hooksPublic,
		WebhookRetryBase:    5 * time.Second,
	})
	ctx := context.Background()
	if err := svc.Start(ctx, nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for _, s := range cfg.settings {
		if err := svc.Tenants.Set(ctx, account.DefaultTenant, s[0], s[1]); err != nil {
			t.Fatalf("SetTenantSetting: %v", err)
		}
	}
	oa, err := LoadOpenAPI()
	if err != nil {
		t.Fatalf("native's OpenAPI document: %v", err)
	}
	h := &Harness{Svc: svc, Store: st, Clock: clk, Logs: cfg.logs, contentType: cfg.contentType, openAPI: oa}
	if cfg.relay {
		h.SMTP = mailtest.Start(t)
	}
	h.Secret = h.MustKey(t, account.DefaultTenant, account.KeySecret)
	h.Public = h.MustKey(t, account.DefaultTenant, account.KeyPublic)
	srv.Config.Handler = server.New(server.Deps{Service: svc, Logger: cfg.logger,
		CORSOrigins: cfg.cors, PublicURL: cfg.publicURL, TrustedProxies: cfg.proxies,
		ClientLimiter: clientLimiter(t, cfg, clk)})
	srv.Start()
	started = true
	h.Srv = srv
	t.Cleanup(h.Srv.Close)
	if cfg.relay {
		StartRelay(t, svc.Outbox, h.SMTP.URL())
	}
	return h
}

// clientLimiter is the limiter cfg asks for, or nil.
func clientLimiter(t testing.TB, cfg config, clk *Clock) wire.Limiter {
	t.Helper()
	switch {
	case cfg.perMinute <= 0:
		return nil
	case cfg.redisURL == "":
		return wire.NewMemoryLimiter(cfg.perMinute, cfg.burst, clk.Now, cfg.logger)
	}
	l, err := redislimit.New(redislimit.Config{URL: cfg.redisURL, Prefix: cfg.redisPrefix,
		PerMinute: cfg.perMinute, Burst: cfg.burst, Timeout: 2 * time.Second, Now: clk.Now, Log: cfg.logger})
	if err != nil {
		t.Fatalf("redislimit.New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// EachParallel runs test on a fresh store of each kind teststore.Each
// knows, in parallel with each other and with the other parallel tests.
func EachParallel(t *testing.T, test func(t *testing.T, open teststore.Opener)) {
	t.Helper()
	t.Parallel()
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		t.Parallel()
		test(t, open)
	})
}

// MustKey makes a new key of a tenant and returns it.
func (h *Harness) MustKey(t testing.TB, tenant string, kind account.KeyKind) string {
	t.Helper()
	raw, _, err := h.Svc.APIKeys.Create(context.Background(), tenant, kind, "test")
	if err != nil {
		t.Fatalf("CreateAPIKey(%s, %s): %v", tenant, kind, err)
	}
	return raw
}

// MustSetting sets a tenant setting, then lets the service's tenant cache
// (2 s on its clock) expire, so that the next request sees it.
func (h *Harness) MustSetting(t *testing.T, tenant, key, value string) {
	t.Helper()
	if err := h.Svc.Tenants.Set(context.Background(), tenant, key, value); err != nil {
		t.Fatalf("SetTenantSetting(%s, %s=%s): %v", tenant, key, value, err)
	}
	h.Clock.Advance(3 * time.Second)
}

// MustTenant adds a tenant and returns a new secret and a new public key
// of it.
func (h *Harness) MustTenant(t *testing.T, slug string) (secret, public string) {
	t.Helper()
	if _, err := h.Svc.Tenants.Create(context.Background(), slug); err != nil {
		t.Fatalf("CreateTenant(%s): %v", slug, err)
	}
	return h.MustKey(t, slug, account.KeySecret), h.MustKey(t, slug, account.KeyPublic)
}

// RelayPoll is how often a test's relay looks for due mail: mail becomes
// due on the service's clock, which wakes no relay.
const RelayPoll = 10 * time.Millisecond

// StartRelay runs a mail relay for out that sends over SMTP to smtpURL,
// until the test ends.
func StartRelay(t testing.TB, out mail.Outbox, smtpURL string) {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(smtpURL)
	if err != nil {
		t.Fatalf("ParseSMTPURL: %v", err)
	}
	RunRelay(t, &mail.Relay{Outbox: out, Sender: mail.NewSMTPSender(cfg, 5*time.Second), Poll: RelayPoll})
}

// RunRelay runs r until the test ends, and then waits for it to stop.
func RunRelay(t testing.TB, r *mail.Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("relay: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// ---- requests ----

// Request is a request to the server.
type Request struct {
	Method      string
	Path        string
	Key         string      // X-API-KEY; empty sends none
	Bearer      string      // Authorization: Bearer; empty sends none
	Body        any         // nil: none; string or []byte: as is; else JSON
	ContentType string      // default the harness's with a body; "-": none
	Host        string      // the Host header; empty: the server's address
	Header      http.Header // further headers (Origin, X-Forwarded-For, ...)
}

// Response is the server's answer to a Request.
type Response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

func (r *Response) String() string {
	return fmt.Sprintf("%s %s: %d %s", r.Method, r.Path, r.Status, bytes.TrimSpace(r.Body))
}

// Do sends r and reads the whole answer, which Check sees first.
func (h *Harness) Do(t *testing.T, r Request) *Response {
	t.Helper()
	out, err := h.RoundTrip(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	if h.Check != nil {
		h.Check(t, out)
	}
	return out
}

// RoundTrip is Do without a test and without Check: for goroutines, whose
// answers the test checks afterwards. Redirects are followed unless
// Client says otherwise. An exchange with the native API that its OpenAPI
// document does not describe is an error (see OpenAPI.Validate).
func (h *Harness) RoundTrip(r Request) (*Response, error) {
	var raw []byte
	switch b := r.Body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		raw = js
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(r.Method, h.Srv.URL+r.Path, body)
	if err != nil {
		return nil, err
	}
	switch {
	case r.ContentType == "-":
	case r.ContentType != "":
		req.Header.Set("Content-Type", r.ContentType)
	case r.Body != nil:
		req.Header.Set("Content-Type", h.contentType)
	}
	if r.Key != "" {
		req.Header.Set("X-API-KEY", r.Key)
	}
	if r.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.Bearer)
	}
	for name, values := range r.Header {
		req.Header[http.CanonicalHeaderKey(name)] = values
	}
	if r.Host != "" {
		req.Host = r.Host
	}
	client := h.Client
	if client == nil {
		client = h.Srv.Client()
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if err := h.openAPI.Validate(res.Request, raw, res.StatusCode, res.Header, b); err != nil {
		return nil, err
	}
	return &Response{Method: r.Method, Path: r.Path, Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// Record keeps r for Responses.
func (h *Harness) Record(r *Response) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.responses = append(h.responses, r)
}

// Responses returns the responses given to Record, in order.
func (h *Harness) Responses() []*Response {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.responses)
}

// JSONDialect returns a Check for a JSON dialect: no 5xx anywhere; and for
// the dialect's paths, every response recorded (see Responses), never
// cached, always JSON, and every error checked by errorDoc.
func (h *Harness) JSONDialect(dialect func(path string) bool, errorDoc func(*testing.T, *Response)) func(*testing.T, *Response) {
	return h.JSONDialectEach(dialect, func(t *testing.T, r *Response) {
		t.Helper()
		if r.Status >= 400 {
			errorDoc(t, r)
		}
	})
}

// JSONDialectEach is JSONDialect with each checking every answer of the
// dialect, not only its errors.
func (h *Harness) JSONDialectEach(dialect func(path string) bool, each func(*testing.T, *Response)) func(*testing.T, *Response) {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if r.Status >= 500 {
			t.Errorf("server error: %s", r)
		}
		if !dialect(r.Path) {
			return
		}
		h.Record(r)
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", r, got)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", r, ct)
		}
		each(t, r)
	}
}

// DecodeStrict decodes the JSON value at the start of body into v,
// refusing fields v does not have.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// ---- answers ----

// MustStatus stops the test unless r has the status.
func MustStatus(t testing.TB, r *Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s, want status %d", r, status)
	}
}

// MustJSON checks r's status and Content-Type (application/json) and
// decodes its body strictly (see DecodeStrict) into a T.
func MustJSON[T any](t testing.TB, r *Response, status int) T {
	t.Helper()
	MustStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want application/json", r, ct)
	}
	var v T
	if err := DecodeStrict(r.Body, &v); err != nil {
		t.Fatalf("%s: decode %T: %v", r, v, err)
	}
	return v
}

// CheckErrorDoc decodes r's body strictly as T, a JSON error document, and
// checks that it carries the answer's X-Request-Id, which requestID reads
// from it. It reports failures with t.Errorf, so that a Check may call it;
// ok is false when the body is no T at all.
func CheckErrorDoc[T any](t testing.TB, r *Response, requestID func(T) string) (doc T, ok bool) {
	t.Helper()
	if err := DecodeStrict(r.Body, &doc); err != nil {
		t.Errorf("%s: not an error document: %v", r, err)
		return doc, false
	}
	if id := r.Header.Get("X-Request-Id"); id == "" || requestID(doc) != id {
		t.Errorf("%s: request id %q in the body, X-Request-Id %q", r, requestID(doc), id)
	}
	return doc, true
}

// MustError checks that r has the status and is an error document, which
// doc decodes and checks as its dialect's, with the code that codeOf reads
// from it.
func MustError[T any](t testing.TB, r *Response, status int, code string, doc func(testing.TB, *Response) T, codeOf func(T) string) T {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s, want %d %s", r, status, code)
	}
	e := doc(t, r)
	if got := codeOf(e); got != code {
		t.Fatalf("%s: code %q, want %q", r, got, code)
	}
	return e
}

// Uniform is what two answers that must not be told apart share: the
// status, every header but Date and X-Request-Id, and the body, a JSON
// object without its request id ("request_id" or "requestId").
func Uniform(r *Response) string {
	var hs []string
	for k, vs := range r.Header {
		if k != "Date" && k != "X-Request-Id" {
			hs = append(hs, k+": "+strings.Join(vs, ", "))
		}
	}
	slices.Sort(hs)
	body := string(r.Body)
	var m map[string]any
	if json.Unmarshal(r.Body, &m) == nil {
		delete(m, "request_id")
		delete(m, "requestId")
		b, _ := json.Marshal(m)
		body = string(b)
	}
	return fmt.Sprintf("%d\n%s\n%s", r.Status, strings.Join(hs, "\n"), body)
}

// MustSameAnswer checks that b cannot be told from a (see Uniform).
func MustSameAnswer(t testing.TB, a, b *Response) {
	t.Helper()
	if ua, ub := Uniform(a), Uniform(b); ua != ub {
		t.Errorf("answers differ:\n%s %s: %s\n%s %s: %s", a.Method, a.Path, ua, b.Method, b.Path, ub)
	}
}

// CheckNotCarried checks the responses given to Record: no header of any
// carries secret, and at most bodies of their bodies do (1 for the answer
// that issued a token, 0 for a secret no answer may show).
func (h *Harness) CheckNotCarried(t testing.TB, secret string, bodies int) {
	t.Helper()
	if secret == "" {
		return
	}
	n := 0
	for _, r := range h.Responses() {
		if bytes.Contains(r.Body, []byte(secret)) {
			if n++; n > bodies {
				t.Errorf("%s: the body carries a secret", r)
			}
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, secret) {
					t.Errorf("%s: header %s carries a secret", r, k)
				}
			}
		}
	}
}
