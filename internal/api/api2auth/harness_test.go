package api2auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail/mailtest"
	"pforte/internal/store/teststore"
)

// The harness serves server.New over a fresh store through a real HTTP
// server, with a clock the test controls, cheap argon2id parameters and a
// mail relay that sends over real SMTP to a mailtest server. This API has
// no key: requests name their tenant by Host (see send), and redirects are
// not followed. Every response has been checked for the invariants
// of the whole dialect (see checkDoc) before a test sees it, and everything
// the service and the server log is kept, to check that no token reaches
// the log.

const (
	publicURL  = "https://accounts.example"
	publicHost = "accounts.example"
	// resetURL is tenant default's reset page, the site's frontend.
	resetURL = "https://app.example/passwort-neu?token={token}"
	// otherResetURL is tenant andere's.
	otherResetURL = "https://andere.example/reset/{token}"

	otherTenantSlug = "andere"
	otherHost       = "andere.example"

	seedPassword    = "MyNameIsJeff"
	seedNewPassword = "APasswordIWontForgetAgain"
	strongPassword  = "Jeffs-Kundenkonto-2030"
	newPassword     = "Neues-Passwort-2031"
)

type harness struct {
	*apitest.Harness
	svc   *account.Service
	clock *apitest.Clock
	smtp  *mailtest.Server
	logs  *apitest.LogBuffer
}

type (
	request  = apitest.Request
	response = apitest.Response
)

// newHarness starts the service on a fresh store from open with tenant
// default (reset page resetURL) and tenant andere, which the host
// andere.example names (reset page otherResetURL). opts go to apitest.New
// after the harness's own.
func newHarness(t *testing.T, open teststore.Opener, opts ...apitest.Option) *harness {
	t.Helper()
	opts = append([]apitest.Option{apitest.WithLogs(), apitest.WithRelay(), apitest.WithPublicURL(publicURL),
		apitest.WithSetting("reset_url", resetURL), apitest.WithSetting("api2.enabled", "true")}, opts...)
	a := apitest.New(t, open, opts...)
	h := &harness{Harness: a, svc: a.Svc, clock: a.Clock, smtp: a.SMTP, logs: a.Logs}
	a.Client = &http.Client{Transport: a.Srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	a.Check = a.JSONDialectEach(dialect, checkDoc)
	h.MustTenant(t, otherTenantSlug)
	h.MustSetting(t, otherTenantSlug, "hosts", otherHost)
	// Every other host (127.0.0.1 of the test server) is default's.
	h.MustSetting(t, account.DefaultTenant, "hosts", "*")
	h.MustSetting(t, otherTenantSlug, "api2.enabled", "true")
	h.MustSetting(t, otherTenantSlug, "reset_url", otherResetURL)
	return h
}

// ---- requests ----

// send sends r with the Host header host (empty: the server's address, a
// host no tenant names, so tenant default) and reads the whole answer,
// which the harness's Check sees first. Redirects are not followed. header
// holds further header names and values, in pairs.
func (h *harness) send(t *testing.T, r request, host string, header ...string) *response {
	t.Helper()
	return h.Do(t, withHost(r, host, header...))
}

// roundTrip is send without the test: for goroutines, whose answers the
// test checks afterwards.
func (h *harness) roundTrip(r request, host string, header ...string) (*response, error) {
	return h.RoundTrip(withHost(r, host, header...))
}

func withHost(r request, host string, header ...string) request {
	r.Host = host
	if len(header) > 0 {
		r.Header = http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
	}
	return r
}

// do sends r to tenant default, for the golden replay.
func (h *harness) do(t *testing.T, r request) *response {
	t.Helper()
	return h.send(t, r, "")
}

// dialect reports whether a path is this dialect's (and not the native
// API's, which the tests use to log in).
func dialect(path string) bool { return strings.HasPrefix(path, "/api/2/auth/") }

// checkDoc holds for every answer of the dialect, which apitest's
// JSONDialectEach has recorded and checked to be JSON and never cached:
// every error an error document and every success the success document,
// each with the answer's status.
func checkDoc(t *testing.T, r *response) {
	t.Helper()
	if r.Method == http.MethodHead {
		return // no body
	}
	status := r.Status
	if r.Status == http.StatusSeeOther {
		status = mustRedirect(t, r).status
	}
	if status >= 400 {
		e := mustErrorDoc(t, r)
		if e.Status != status {
			t.Errorf("%s: status %d in the body", r, e.Status)
		}
		return
	}
	var ok okDoc
	if err := apitest.DecodeStrict(r.Body, &ok); err != nil || ok.Status != status || ok.Message == "" {
		t.Errorf("%s: not a success document with status %d: %v", r, status, err)
	}
}

// okDoc is the dialect's success document as a client reads it.
type okDoc struct {
	Status   int    `json:"status"`
	Message  string `json:"message"`
	Username string `json:"username"`
}

// errorDoc is the dialect's error document as a client reads it.
type errorDoc struct {
	Status    int        `json:"status"`
	Error     string     `json:"error"`
	Message   string     `json:"message"`
	Fields    []fieldDoc `json:"fields"`
	RequestID string     `json:"request_id"`
}

// fieldDoc is an offending field of an error document.
type fieldDoc struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// mustErrorDoc decodes r's body strictly as an error document with a
// code, a message and the request's id.
func mustErrorDoc(t testing.TB, r *response) errorDoc {
	t.Helper()
	e, ok := apitest.CheckErrorDoc(t, r, func(e errorDoc) string { return e.RequestID })
	if !ok {
		return e
	}
	if e.Error == "" || e.Message == "" {
		t.Errorf("%s: error without code or message", r)
	}
	for _, f := range e.Fields {
		if f.Field == "" || f.Code == "" || f.Message == "" {
			t.Errorf("%s: field error %+v", r, f)
		}
	}
	return e
}

// mustError checks that r is an error with this status and code, and
// that field (when not empty) is named.
func mustError(t *testing.T, r *response, status int, code, field string) errorDoc {
	t.Helper()
	e := apitest.MustError(t, r, status, code, mustErrorDoc, func(e errorDoc) string { return e.Error })
	if field != "" && !slices.ContainsFunc(e.Fields, func(f fieldDoc) bool { return f.Field == field }) {
		t.Fatalf("%s: no error on %q", r, field)
	}
	return e
}

// mustOK checks that r is the success document.
func mustOK(t *testing.T, r *response) okDoc {
	t.Helper()
	return apitest.MustJSON[okDoc](t, r, http.StatusOK)
}

// redirect is a 303 to the frontend, taken apart.
type redirect struct {
	base     string // the Location without verified and status
	verified string
	status   int
}

// mustRedirect reads a 303's Location: the frontend URL with verified and
// status appended, last.
func mustRedirect(t *testing.T, r *response) redirect {
	t.Helper()
	loc := r.Header.Get("Location")
	m := regexp.MustCompile(`^(.*)[?&]verified=(true|false)&status=(\d{3})(#.*)?$`).FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("%s: Location %q", r, loc)
	}
	status, _ := strconv.Atoi(m[3])
	return redirect{base: m[1] + m[4], verified: m[2], status: status}
}

// ---- the dialect's calls, as a site makes them ----

func (h *harness) register(t *testing.T, host, username, email, pw string) *response {
	t.Helper()
	return h.send(t, request{Method: http.MethodPost, Path: "/api/2/auth/register.json",
		Body: map[string]string{"username": username, "email": email, "password": pw}}, host)
}

func (h *harness) mustRegister(t *testing.T, host, username, email, pw string) {
	t.Helper()
	mustOK(t, h.register(t, host, username, email, pw))
}

func (h *harness) verify(t *testing.T, host, username, token string) *response {
	t.Helper()
	return h.send(t, request{Method: http.MethodGet, Path: "/api/2/auth/" + url.PathEscape(username) + "/verify.json?token=" + url.QueryEscape(token)}, host)
}

func (h *harness) forgot(t *testing.T, host, email string) *response {
	t.Helper()
	return h.send(t, request{Method: http.MethodPost, Path: "/api/2/auth/" + url.PathEscape(email) + "/forgot.json"}, host)
}

func (h *harness) resetPassword(t *testing.T, host, username, token, pw string) *response {
	t.Helper()
	return h.send(t, request{Method: http.MethodPut, Path: "/api/2/auth/" + url.PathEscape(username) + "/resetpassword.json?token=" + url.QueryEscape(token),
		Body: map[string]string{"password": pw}}, host)
}

// ---- mail ----

// mustMail waits until n mails to addr, in any case, have arrived over SMTP and returns
// the n-th (from 1).
func (h *harness) mustMail(t *testing.T, addr string, n int) mailtest.Message {
	t.Helper()
	return apitest.MustMailsToAnyCase(t, h.smtp, addr, n)[n-1]
}

// mailsTo counts the mails to addr, in any case, that have arrived so far.
func (h *harness) mailsTo(addr string) int {
	return len(apitest.MessagesToAnyCase(h.smtp.Messages(), addr))
}

// mustLink returns the one link of a mail's text that starts with prefix.
func mustLink(t *testing.T, m mailtest.Message, prefix string) string {
	t.Helper()
	var found []string
	for _, l := range apitest.Links(m.Text) {
		if strings.HasPrefix(l, prefix) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("mail %q: links %q with prefix %s, want one\n%s", m.Subject, found, prefix, m.Text)
	}
	return found[0]
}

// verifyLink is a verification link taken apart.
type verifyLink struct {
	link, username, token string
}

// mustVerifyLink waits for the n-th mail to addr and reads its
// verification link: {publicURL}/api/2/auth/{username}/verify.json?token=JWT
// and nothing else.
func (h *harness) mustVerifyLink(t *testing.T, addr string, n int) verifyLink {
	t.Helper()
	link := mustLink(t, h.mustMail(t, addr, n), publicURL+"/api/2/auth/")
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(publicURL) + `/api/2/auth/([^/?#]+)/verify\.json\?token=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$`).FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("verification link %q", link)
	}
	name, err := url.PathUnescape(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return verifyLink{link: link, username: name, token: m[2]}
}

// mustResetToken waits for the n-th mail to addr and returns the JWT of
// its link to the reset page tmpl (a reset_url with {token}).
func (h *harness) mustResetToken(t *testing.T, addr string, n int, tmpl string) string {
	t.Helper()
	prefix, _, _ := strings.Cut(tmpl, "{token}")
	link := mustLink(t, h.mustMail(t, addr, n), prefix)
	tok := strings.TrimPrefix(link, prefix)
	if !jwtShape.MatchString(tok) {
		t.Fatalf("reset link %q does not carry a JWT", link)
	}
	return tok
}

var jwtShape = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// jwtClaims are a JWT's header and claims as anyone can read them.
type jwtClaims struct {
	Alg, Typ string
	Claims   map[string]any
}

// readJWT decodes a JWT's header and payload without checking it, as a
// frontend does.
func readJWT(t *testing.T, raw string) jwtClaims {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT %q", raw)
	}
	var header struct{ Alg, Typ string }
	var c jwtClaims
	for i, v := range []any{&header, &c.Claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
	}
	c.Alg, c.Typ = header.Alg, header.Typ
	return c
}

// jti is the one-time token a JWT wraps.
func jti(t *testing.T, raw string) string {
	t.Helper()
	s, _ := readJWT(t, raw).Claims["jti"].(string)
	if len(s) != 43 {
		t.Fatalf("jti %q is not a token of pforte's", s)
	}
	return s
}

// mustNotLeak checks that no JWT and no one-time token they wrap reached
// the log, and that none came back in any answer.
func (h *harness) mustNotLeak(t *testing.T, jwts ...string) {
	t.Helper()
	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("the log holds no access log lines: is it the server's?")
	}
	var secrets []string
	for _, j := range jwts {
		secrets = append(secrets, j, jti(t, j))
		// The signature alone identifies the JWT too.
		secrets = append(secrets, j[strings.LastIndexByte(j, '.')+1:])
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a JWT or token reached the log")
		}
		h.CheckNotCarried(t, s, 0)
	}
}
