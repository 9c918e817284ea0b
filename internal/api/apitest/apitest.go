// Package apitest is the test harness the dialect packages under
// internal/api share: server.New over a fresh store through a real HTTP
// server, with a clock the test controls, cheap argon2id parameters, keys
// of tenant default and, on request, a mail relay that sends over real
// SMTP to a mailtest server. It also sends requests and replays golden
// exchanges (see Golden). It is used only by tests.
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
	Clock *Clock
	SMTP  *mailtest.Server // nil without WithRelay

	Secret, Public string // keys of tenant default

	// Check, when set, sees every response before Do returns it.
	Check func(*testing.T, *Response)
	// Client sends the requests; nil: the server's, which follows redirects.
	Client *http.Client

	contentType string // of a request with a body and no content type

	mu        sync.Mutex
	responses []*Response // every response Record was given
}

type config struct {
	logger      *slog.Logger
	mailFrom    string
	relay       bool
	contentType string
	settings    [][2]string
	publicURL   string
	proxies     []netip.Prefix
	perMinute   int // client limit of the keyless dialects; 0: none
	burst       int
	links       func(serverURL string) map[string]string
}

// Option configures New.
type Option func(*config)

// WithLogger makes the service and the server log to l (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

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

// WithTrustedProxies lets these peers set X-Forwarded-For (default none).
func WithTrustedProxies(p ...netip.Prefix) Option { return func(c *config) { c.proxies = p } }

// WithClientLimit limits each client address to perMinute requests a
// minute, burst at once, on the keyless dialects, on the harness's clock.
func WithClientLimit(perMinute, burst int) Option {
	return func(c *config) { c.perMinute, c.burst = perMinute, burst }
}

// WithDefaultLinks sets the service's DefaultLinks to what links makes of
// the server's URL (http://127.0.0.1:port), e.g. pages.LinkTemplates, so
// that mail without a configured URL links to the harness's own server.
// Default: none, and such mail shows the token.
func WithDefaultLinks(links func(serverURL string) map[string]string) Option {
	return func(c *config) { c.links = links }
}

// New starts the service on a fresh store from open, with a secret and a
// public key of tenant default, and serves server.New until the test ends.
func New(t *testing.T, open teststore.Opener, opts ...Option) *Harness {
	t.Helper()
	cfg := config{
		logger:      slog.New(slog.DiscardHandler),
		mailFrom:    "Shop <noreply@shop.example>",
		contentType: "application/json",
		publicURL:   "https://accounts.example",
	}
	for _, o := range opts {
		o(&cfg)
	}
	renderer := Templates(t)
	hasher, err := password.NewHasher(CheapParams(), password.NewPool(0, 0))
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
	var links map[string]string
	if cfg.links != nil {
		links = cfg.links("http://" + srv.Listener.Addr().String())
	}
	svc := account.NewService(account.Config{
		Store:    open(t),
		Hasher:   hasher,
		Policy:   password.DefaultPolicy(),
		Logger:   cfg.logger,
		Now:      clk.Now,
		Renderer: renderer,
		MailFrom: cfg.mailFrom,

		DefaultLinks: links,
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
	h := &Harness{Svc: svc, Clock: clk, contentType: cfg.contentType}
	if cfg.relay {
		h.SMTP = mailtest.Start(t)
	}
	h.Secret = h.MustKey(t, account.DefaultTenant, account.KeySecret)
	h.Public = h.MustKey(t, account.DefaultTenant, account.KeyPublic)
	srv.Config.Handler = server.New(server.Deps{Service: svc, Logger: cfg.logger,
		PublicURL: cfg.publicURL, TrustedProxies: cfg.proxies,
		ClientLimiter: wire.NewClientLimiter(cfg.perMinute, cfg.burst, clk.Now, cfg.logger)})
	srv.Start()
	started = true
	h.Srv = srv
	t.Cleanup(h.Srv.Close)
	if cfg.relay {
		h.startRelay(t)
	}
	return h
}

// MustKey makes a new key of a tenant and returns it.
func (h *Harness) MustKey(t *testing.T, tenant string, kind account.KeyKind) string {
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

// startRelay runs a mail relay that sends over SMTP to the mailtest
// server until the test ends. It polls: mail becomes due on the service's
// clock, which wakes no relay.
func (h *Harness) startRelay(t *testing.T) {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(h.SMTP.URL())
	if err != nil {
		t.Fatalf("ParseSMTPURL: %v", err)
	}
	r := &mail.Relay{Outbox: h.Svc.Outbox, Sender: mail.NewSMTPSender(cfg, 5*time.Second), Poll: 10 * time.Millisecond}
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
// Client says otherwise.
func (h *Harness) RoundTrip(r Request) (*Response, error) {
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(js)
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
		if r.Status >= 400 {
			errorDoc(t, r)
		}
	}
}

// DecodeStrict decodes the JSON value at the start of body into v,
// refusing fields v does not have.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
