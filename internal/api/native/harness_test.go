package native_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail"
	"pforte/internal/password"
	"pforte/internal/server"
	"pforte/internal/store/teststore"
)

// The harness serves server.New over a fresh store through a real HTTP
// server, with a clock the test controls and cheap argon2id parameters.
// Every response it hands back has already been checked for the invariants
// that hold for the whole API (see checkInvariants).

// cheapParams keep hashing fast; the flows do not depend on the cost.
func cheapParams() password.Params { return apitest.CheapParams() }

type options struct {
	params    password.Params
	pool      *password.Pool
	store     account.Store // opened by the test itself; else the Opener's
	allowBusy bool          // 503 busy is an expected answer
	cors      []string      // origins allowed to call from a browser
	retryBase time.Duration // outbox backoff base (0: the default)
	lease     time.Duration // outbox lease (0: the default)
	relayURL  string        // SMTP URL a mail relay sends to; empty: no relay
}

type option func(*options)

// withHashing replaces the cheap parameters and the default pool.
func withHashing(p password.Params, pool *password.Pool) option {
	return func(o *options) { o.params, o.pool = p, pool }
}

// withStore serves a store the test opened itself (and closes itself).
func withStore(st account.Store) option { return func(o *options) { o.store = st } }

// allowBusy lets 503 busy through the no-5xx check, for the pool test only.
func allowBusy() option { return func(o *options) { o.allowBusy = true } }

func withCORS(origins ...string) option { return func(o *options) { o.cors = origins } }

// withRelay runs a mail relay against the service, sending over SMTP to
// smtpURL, from the start until the test ends.
func withRelay(smtpURL string) option { return func(o *options) { o.relayURL = smtpURL } }

// withRetry sets the outbox's backoff base.
func withRetry(base time.Duration) option { return func(o *options) { o.retryBase = base } }

// withLease sets how long a relay holds the mail it claimed.
func withLease(d time.Duration) option { return func(o *options) { o.lease = d } }

type harness struct {
	srv    *httptest.Server
	client *http.Client
	svc    *account.Service
	store  account.Store
	clock  *apitest.Clock
	opts   options

	secret    string // raw secret key of tenant default
	public    string // raw public key of tenant default
	secretKey account.APIKey
	publicKey account.APIKey
	tenant    account.Tenant
}

// newHarness starts the service on a fresh store from open and serves it.
func newHarness(t *testing.T, open teststore.Opener, opts ...option) *harness {
	t.Helper()
	o := options{params: cheapParams()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.pool == nil {
		o.pool = password.NewPool(0, 0)
	}
	st := o.store
	if st == nil {
		st = open(t)
	}
	hasher, err := password.NewHasher(o.params, o.pool)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	clk := apitest.NewClock()
	svc := account.NewService(account.Config{
		Store:           st,
		Hasher:          hasher,
		Policy:          password.DefaultPolicy(),
		Logger:          slog.New(slog.DiscardHandler),
		Now:             clk.Now,
		UniformResponse: 0,
		Renderer:        apitest.Templates(t),
		MailFrom:        "Shop <noreply@shop.example>",
		MailRetryBase:   o.retryBase,
		MailLease:       o.lease,
	})
	ctx := context.Background()
	if err := svc.Start(ctx, nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h := &harness{svc: svc, store: st, clock: clk, opts: o}
	h.secret, h.secretKey = mustCreateKey(t, svc, account.DefaultTenant, account.KeySecret)
	h.public, h.publicKey = mustCreateKey(t, svc, account.DefaultTenant, account.KeyPublic)
	if h.tenant, err = svc.Tenants.BySlug(ctx, account.DefaultTenant); err != nil {
		t.Fatalf("TenantBySlug: %v", err)
	}
	h.srv = httptest.NewServer(server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler), CORSOrigins: o.cors}))
	t.Cleanup(h.srv.Close)
	h.client = h.srv.Client()
	if o.relayURL != "" {
		startRelay(t, svc.Outbox, o.relayURL)
	}
	return h
}

// relayPoll is how often a test relay looks for due mail: retries become
// due when the test advances the service's clock, which wakes no relay.
const relayPoll = 10 * time.Millisecond

// startRelay runs a mail relay for out that sends over SMTP to smtpURL,
// until the test ends.
func startRelay(t *testing.T, out mail.Outbox, smtpURL string) {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(smtpURL)
	if err != nil {
		t.Fatalf("ParseSMTPURL: %v", err)
	}
	runRelay(t, &mail.Relay{Outbox: out, Sender: mail.NewSMTPSender(cfg, 5*time.Second), Poll: relayPoll})
}

// runRelay runs r until the test ends, and waits for it to stop.
func runRelay(t *testing.T, r *mail.Relay) {
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

func mustCreateKey(t *testing.T, svc *account.Service, tenant string, kind account.KeyKind) (string, account.APIKey) {
	t.Helper()
	raw, k, err := svc.APIKeys.Create(context.Background(), tenant, kind, "test")
	if err != nil {
		t.Fatalf("CreateAPIKey(%s, %s): %v", tenant, kind, err)
	}
	return raw, k
}

// mustCreateTenant adds a tenant and returns a secret and a public key of it.
func (h *harness) mustCreateTenant(t *testing.T, slug string) (secret, public string) {
	t.Helper()
	if _, err := h.svc.Tenants.Create(context.Background(), slug); err != nil {
		t.Fatalf("CreateTenant(%s): %v", slug, err)
	}
	secret, _ = mustCreateKey(t, h.svc, slug, account.KeySecret)
	public, _ = mustCreateKey(t, h.svc, slug, account.KeyPublic)
	return secret, public
}

// ---- requests ----

// request is one HTTP request to the test server.
type request struct {
	method      string
	path        string
	key         string // X-API-KEY; empty sends none
	bearer      string // Authorization: Bearer; empty sends none
	body        any    // nil: no body; []byte or string: sent as is; anything else: JSON
	contentType string // default application/json when there is a body; "-" sends none
	header      map[string]string
}

// response is a fully read HTTP response.
type response struct {
	method string
	path   string
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) String() string {
	return fmt.Sprintf("%s %s: %d %s", r.method, r.path, r.Status, bytes.TrimSpace(r.Body))
}

// send performs r and checks the API-wide invariants. It reports failures
// with t.Errorf only, so goroutines may call it.
func (h *harness) send(t testing.TB, r request) (*response, error) {
	var body io.Reader
	if r.body != nil {
		switch b := r.body.(type) {
		case []byte:
			body = bytes.NewReader(b)
		case string:
			body = strings.NewReader(b)
		default:
			js, err := json.Marshal(b)
			if err != nil {
				return nil, fmt.Errorf("marshal body: %w", err)
			}
			body = bytes.NewReader(js)
		}
	}
	req, err := http.NewRequest(r.method, h.srv.URL+r.path, body)
	if err != nil {
		return nil, err
	}
	switch {
	case r.contentType == "-":
	case r.contentType != "":
		req.Header.Set("Content-Type", r.contentType)
	case r.body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	if r.key != "" {
		req.Header.Set("X-API-KEY", r.key)
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := &response{method: r.method, path: r.path, Status: res.StatusCode, Header: res.Header, Body: b}
	h.checkInvariants(t, out)
	return out, nil
}

// checkInvariants holds for every response of the suite: no 5xx (503 busy
// only where the test allows it), never cached, and errors as problem
// documents.
func (h *harness) checkInvariants(t testing.TB, r *response) {
	if r.Status >= 500 {
		busy := r.Status == http.StatusServiceUnavailable && h.opts.allowBusy && problemCode(r) == "busy"
		if !busy {
			t.Errorf("server error: %s", r)
		}
	}
	if !strings.HasPrefix(r.path, "/api/v1/") {
		return
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s %s: Cache-Control = %q, want no-store", r.method, r.path, got)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s %s: X-Content-Type-Options = %q, want nosniff", r.method, r.path, got)
	}
	if r.Status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type = %q, want application/problem+json", r, ct)
		}
	}
}

func problemCode(r *response) string {
	var p problem
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

// do performs r and stops the test if the request could not be made.
func (h *harness) do(t *testing.T, r request) *response {
	t.Helper()
	res, err := h.send(t, r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return res
}

func (h *harness) post(t *testing.T, key, path string, body any) *response {
	t.Helper()
	return h.do(t, request{method: http.MethodPost, path: path, key: key, body: body})
}

func (h *harness) get(t *testing.T, key, path string) *response {
	t.Helper()
	return h.do(t, request{method: http.MethodGet, path: path, key: key})
}

// ---- wire types, as the client sees them ----

type customer struct {
	ID               int64      `json:"id"`
	UUID             string     `json:"uuid"`
	Email            string     `json:"email"`
	Username         string     `json:"username"`
	Salutation       string     `json:"salutation"`
	FirstName        string     `json:"first_name"`
	LastName         string     `json:"last_name"`
	Name             string     `json:"name"`
	Locale           string     `json:"locale"`
	PartnerRef       string     `json:"partner_ref"`
	State            string     `json:"state"`
	EmailConfirmedAt *time.Time `json:"email_confirmed_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

type session struct {
	Token         string    `json:"token"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

type customerSession struct {
	Customer customer `json:"customer"`
	Session  session  `json:"session"`
}

type registered struct {
	Customer          customer `json:"customer"`
	ConfirmationToken string   `json:"confirmation_token"`
}

type created struct {
	Customer          customer `json:"customer"`
	ConfirmationToken string   `json:"confirmation_token"`
	InviteToken       string   `json:"invite_token"`
	ActivationCode    string   `json:"activation_code"`
}

type customerList struct {
	Customers []customer `json:"customers"`
	NextAfter *int64     `json:"next_after"`
}

type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id"`
	Errors    []fieldError `json:"errors"`
}

type fieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// field returns the entry for name, or nil.
func (p problem) field(name string) *fieldError {
	for i := range p.Errors {
		if p.Errors[i].Field == name {
			return &p.Errors[i]
		}
	}
	return nil
}

// ---- assertions ----

// mustStatus stops the test unless r has the status.
func mustStatus(t *testing.T, r *response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s, want status %d", r, status)
	}
}

// mustJSON checks status and Content-Type and decodes the body strictly:
// a field the test does not know is an error.
func mustJSON[T any](t *testing.T, r *response, status int) T {
	t.Helper()
	mustStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type = %q, want application/json", r, ct)
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: decode %T: %v", r, v, err)
	}
	return v
}

// mustProblem checks that r is an RFC 9457 problem with this status and code.
func mustProblem(t *testing.T, r *response, status int, code string) problem {
	t.Helper()
	mustStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: Content-Type = %q, want application/problem+json", r, ct)
	}
	var p problem
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: decode problem: %v", r, err)
	}
	if p.Code != code {
		t.Fatalf("%s: code %q, want %q", r, p.Code, code)
	}
	if p.Status != status || p.Type != "urn:pforte:problem:"+code || p.Title != http.StatusText(status) || p.Detail == "" {
		t.Errorf("%s: malformed problem %+v", r, p)
	}
	if id := r.Header.Get("X-Request-Id"); id == "" || p.RequestID != id {
		t.Errorf("%s: request_id %q, X-Request-Id %q", r, p.RequestID, id)
	}
	return p
}

// mustFieldError checks that r is a validation problem naming field with code.
func mustFieldError(t *testing.T, r *response, field, code string) problem {
	t.Helper()
	p := mustProblem(t, r, http.StatusBadRequest, "validation_failed")
	fe := p.field(field)
	if fe == nil {
		t.Fatalf("%s: no entry for field %q", r, field)
	}
	if fe.Code != code || fe.Message == "" {
		t.Fatalf("%s: field %q has code %q message %q, want code %q", r, field, fe.Code, fe.Message, code)
	}
	return p
}

// withoutRequestID is a JSON body with its request_id removed, for comparing
// answers that must not differ.
func withoutRequestID(t *testing.T, r *response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	delete(m, "request_id")
	return m
}

// headersApartFrom returns r's header without the named fields.
func headersApartFrom(r *response, names ...string) http.Header {
	h := r.Header.Clone()
	for _, n := range names {
		h.Del(n)
	}
	return h
}

// ---- flows ----

// mustRegister registers with the secret key and returns the pending
// customer and its confirmation token.
func (h *harness) mustRegister(t *testing.T, email, pw string) registered {
	t.Helper()
	res := h.post(t, h.secret, "/api/v1/registrations", map[string]any{"email": email, "password": pw})
	reg := mustJSON[registered](t, res, http.StatusCreated)
	// A registration leaves an existing (offline) customer as it was
	// until it is confirmed.
	if reg.ConfirmationToken == "" || (reg.Customer.State != "pending" && reg.Customer.State != "offline") {
		t.Fatalf("register %s: %s", email, res)
	}
	return reg
}

// mustConfirm uses a confirmation token and returns the active customer
// with the new session.
func (h *harness) mustConfirm(t *testing.T, token string) customerSession {
	t.Helper()
	res := h.post(t, h.secret, "/api/v1/confirmations", map[string]any{"token": token})
	cs := mustJSON[customerSession](t, res, http.StatusOK)
	if cs.Customer.State != "active" || cs.Customer.EmailConfirmedAt == nil || cs.Session.Token == "" {
		t.Fatalf("confirm: %s", res)
	}
	return cs
}

// mustSignUp registers and confirms an account.
func (h *harness) mustSignUp(t *testing.T, email, pw string) customerSession {
	t.Helper()
	return h.mustConfirm(t, h.mustRegister(t, email, pw).ConfirmationToken)
}

func (h *harness) login(t *testing.T, key, email, pw string) *response {
	t.Helper()
	return h.post(t, key, "/api/v1/sessions", map[string]any{"email": email, "password": pw})
}

// mustLogin logs in with the secret key and returns the new session.
func (h *harness) mustLogin(t *testing.T, email, pw string) customerSession {
	t.Helper()
	res := h.login(t, h.secret, email, pw)
	cs := mustJSON[customerSession](t, res, http.StatusCreated)
	if cs.Session.Token == "" {
		t.Fatalf("login %s: no session token: %s", email, res)
	}
	return cs
}

// mustRequestReset asks for a reset token with the secret key.
func (h *harness) mustRequestReset(t *testing.T, email string) string {
	t.Helper()
	res := h.post(t, h.secret, "/api/v1/password-resets", map[string]any{"email": email})
	type resetResponse struct {
		Status     string `json:"status"`
		Token      string `json:"token"`
		CustomerID int64  `json:"customer_id"`
		Email      string `json:"email"`
	}
	body := mustJSON[resetResponse](t, res, http.StatusAccepted)
	if body.Status != "accepted" || body.Token == "" || body.CustomerID == 0 || body.Email == "" {
		t.Fatalf("reset request %s: %s", email, res)
	}
	return body.Token
}

// mustCreate creates a customer through the admin API.
func (h *harness) mustCreate(t *testing.T, body map[string]any) created {
	t.Helper()
	res := h.post(t, h.secret, "/api/v1/customers", body)
	c := mustJSON[created](t, res, http.StatusCreated)
	if want := fmt.Sprintf("/api/v1/customers/%d", c.Customer.ID); res.Header.Get("Location") != want {
		t.Errorf("%s: Location %q, want %q", res, res.Header.Get("Location"), want)
	}
	return c
}

// mustFind looks an email up through the admin API.
func (h *harness) mustFind(t *testing.T, email string) []customer {
	t.Helper()
	return h.mustFindWith(t, h.secret, email)
}

func (h *harness) mustFindWith(t *testing.T, key, email string) []customer {
	t.Helper()
	res := h.get(t, key, "/api/v1/customers?email="+url.QueryEscape(email))
	return mustJSON[customerList](t, res, http.StatusOK).Customers
}

// mustNotStored checks that no customer with this email exists.
func (h *harness) mustNotStored(t *testing.T, email string) {
	t.Helper()
	if cs := h.mustFind(t, email); len(cs) != 0 {
		t.Fatalf("%s was stored: %+v", email, cs)
	}
}

// currentSession asks GET /api/v1/session with the bearer token (and key, if any).
func (h *harness) currentSession(t *testing.T, key, token string) *response {
	t.Helper()
	return h.do(t, request{method: http.MethodGet, path: "/api/v1/session", key: key, bearer: token})
}

// mustSessionValid checks that the session token works and returns it.
func (h *harness) mustSessionValid(t *testing.T, token string) customerSession {
	t.Helper()
	cs := mustJSON[customerSession](t, h.currentSession(t, "", token), http.StatusOK)
	if cs.Session.Token != "" {
		t.Errorf("GET /api/v1/session echoes the session token")
	}
	return cs
}

// mustSessionInvalid checks that the session token is refused.
func (h *harness) mustSessionInvalid(t *testing.T, token string) {
	t.Helper()
	mustProblem(t, h.currentSession(t, "", token), http.StatusUnauthorized, "session_invalid")
}

// mustTokenRefused checks that posting {token} (plus extra fields) to path fails with token_invalid.
func (h *harness) mustTokenRefused(t *testing.T, key, path, token string) {
	t.Helper()
	body := map[string]any{"token": token}
	if path != "/api/v1/confirmations" {
		body["password"] = "Another-Fine-Passw0rd"
	}
	mustProblem(t, h.post(t, key, path, body), http.StatusBadRequest, "token_invalid")
}

// storedCustomer reads a customer straight from the store.
func (h *harness) storedCustomer(t *testing.T, email string) account.Customer {
	t.Helper()
	key, fe := account.NormalizeEmail(email)
	if fe != nil {
		t.Fatalf("NormalizeEmail(%s): %v", email, fe.Message)
	}
	c, err := h.store.CustomerByEmailKey(context.Background(), h.tenant.ID, key)
	if err != nil {
		t.Fatalf("CustomerByEmailKey(%s): %v", email, err)
	}
	return c
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// burst sends n requests at once: every goroutine is ready before the
// barrier opens. A request that could not be made is reported and left nil.
func (h *harness) burst(t *testing.T, n int, req func(i int) request) []*response {
	t.Helper()
	results := make([]*response, n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			r := req(i)
			ready.Done()
			<-start
			res, err := h.send(t, r)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			results[i] = res
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return results
}
