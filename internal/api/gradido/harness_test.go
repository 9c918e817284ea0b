package gradido_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail/mailtest"
	"pforte/internal/store/teststore"
)

// The harness serves server.New over a fresh store through a real HTTP
// server, with a clock the test controls and cheap argon2id parameters.
// Tenant default is reached from any host; tenant andere from otherHost
// (its hosts setting). Every answer of /login_api/ has been checked for the
// dialect's invariants (see check) before a test sees it, and everything
// the service and the server log is kept, to check that no session id
// reaches the log.

const (
	seedEmail       = "max.musterman@gmail.de"
	seedPassword    = "123abcDE&"
	strongPassword  = "Gradido-Wallet-2030"
	otherPassword   = "Anderes-Passwort-2031"
	otherTenantSlug = "andere"
	otherHost       = "wallet.andere.example"
	confirmURL      = "https://wallet.example/checkEmail/{token}"
	inviteURL       = "https://wallet.example/activate/{token}"

	settingPasswords = "gradido.allow_password_via_json"
	settingCORS      = "gradido.allow_cors_all"
)

// passwordsOn lets tenant default take passwords via JSON from the start.
func passwordsOn() apitest.Option { return apitest.WithSetting(settingPasswords, "true") }

type harness struct {
	*apitest.Harness
	logs        *apitest.LogBuffer
	otherSecret string // secret key of tenant andere
}

// newHarness starts the service on a fresh store from open, with tenants
// default (links to wallet.example) and andere (reached from otherHost).
func newHarness(t *testing.T, open teststore.Opener, opts ...apitest.Option) *harness {
	t.Helper()
	base := []apitest.Option{apitest.WithLogs(),
		apitest.WithSetting("confirm_url", confirmURL), apitest.WithSetting("invite_url", inviteURL)}
	a := apitest.New(t, open, append(base, opts...)...)
	h := &harness{Harness: a, logs: a.Logs}
	a.Check = h.check
	h.otherSecret, _ = h.MustTenant(t, otherTenantSlug)
	h.MustSetting(t, otherTenantSlug, "hosts", otherHost)
	// Every other host (127.0.0.1 of the test server) is default's.
	h.MustSetting(t, account.DefaultTenant, "hosts", "*")
	h.MustSetting(t, otherTenantSlug, "confirm_url", "https://wallet.andere.example/checkEmail/{token}")
	h.Clock.Advance(10 * time.Second) // past the service's cache of hosts
	return h
}

// ---- requests ----

type response = apitest.Response

// call is a request to the dialect (or, with Path, to any path).
type call struct {
	Method      string // default POST
	Call        string // the name under /login_api/
	Path        string // instead of Call
	Host        string // the Host header; default the server's address (tenant default)
	Key         string // X-API-KEY
	Header      map[string]string
	Body        any    // nil: none; string: as is; else JSON
	ContentType string // default application/json with a body; "-": none
}

// send sends c and reads the whole answer, which check sees first.
func (h *harness) send(t *testing.T, c call) *response {
	t.Helper()
	r := apitest.Request{Method: c.Method, Path: c.Path, Host: c.Host, Key: c.Key, Body: c.Body, ContentType: c.ContentType}
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	if r.Path == "" {
		r.Path = "/login_api/" + c.Call
	}
	if len(c.Header) > 0 {
		r.Header = http.Header{}
		for k, v := range c.Header {
			r.Header.Set(k, v)
		}
	}
	out, err := h.RoundTrip(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	h.check(t, out)
	return out
}

// post sends body to a call of tenant default.
func (h *harness) post(t *testing.T, name string, body any) *response {
	t.Helper()
	return h.send(t, call{Call: name, Body: body})
}

func (h *harness) login(t *testing.T, email, pw string) *response {
	t.Helper()
	return h.post(t, "unsecureLogin", map[string]string{"email": email, "password": pw})
}

func (h *harness) logout(t *testing.T, host string, sessionID int64) *response {
	t.Helper()
	return h.send(t, call{Call: "logout", Host: host, Body: map[string]int64{"session_id": sessionID}})
}

// register is a createUser with emailType 2, as Gradido's frontend sends it.
func (h *harness) register(t *testing.T, host, email, pw, first, last string) *response {
	t.Helper()
	return h.send(t, call{Call: "createUser", Host: host, Body: map[string]any{"email": email, "first_name": first,
		"last_name": last, "emailType": 2, "password": pw, "login_after_register": true}})
}

// mustRegister registers and expects the one answer.
func (h *harness) mustRegister(t *testing.T, host, email, pw, first, last string) {
	t.Helper()
	mustSuccess(t, h.register(t, host, email, pw, first, last))
}

// ---- what the dialect answers ----

// answer is every member any answer of the dialect may have.
type answer struct {
	State     string          `json:"state"`
	Msg       string          `json:"msg"`
	Details   []string        `json:"details"`
	Code      string          `json:"code"`
	SessionID *int64          `json:"session_id"`
	ClientIP  string          `json:"clientIP"`
	User      json.RawMessage `json:"user"`
}

// userDoc is Gradido's user.
type userDoc struct {
	Created      int64  `json:"created"`
	Disabled     bool   `json:"disabled"`
	Email        string `json:"email"`
	EmailChecked bool   `json:"email_checked"`
	FirstName    string `json:"first_name"`
	GroupAlias   string `json:"group_alias"`
	IdentHash    uint32 `json:"ident_hash"`
	PublicHex    string `json:"public_hex"`
	LastName     string `json:"last_name"`
	Role         string `json:"role"`
	Username     string `json:"username"`
	Balance      int64  `json:"balance"`
	ID           int64  `json:"id"`
	ErrorCount   int    `json:"errorCount"`
}

// seedUserFields are the members of Gradido's example user.
var seedUserFields = []string{"balance", "created", "disabled", "email", "email_checked", "errorCount", "first_name",
	"group_alias", "id", "ident_hash", "last_name", "public_hex", "role", "username"}

type loginDoc struct {
	State     string  `json:"state"`
	SessionID int64   `json:"session_id"`
	ClientIP  string  `json:"clientIP"`
	User      userDoc `json:"user"`
}

type errorDoc struct {
	State   string   `json:"state"`
	Msg     string   `json:"msg"`
	Details []string `json:"details"`
	Code    string   `json:"code"`
}

const maxSafeInteger = 1<<53 - 1

var hexKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check holds for every answer: no 5xx anywhere; for /login_api/, never
// cached, JSON unless a 204, a state, and either a success (status 200,
// no msg or code; a session id within JavaScript's safe integers and
// never 0; a user with exactly Gradido's members) or a failure with msg
// and code. Each answer of the dialect is recorded for leak checks.
func (h *harness) check(t *testing.T, r *response) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("server error: %s", r)
	}
	if !strings.HasPrefix(r.Path, "/login_api/") {
		return
	}
	h.Record(r)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", r, got)
	}
	if r.Status == http.StatusNoContent {
		if len(r.Body) != 0 {
			t.Errorf("%s: a 204 with a body", r)
		}
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", r, ct)
	}
	var a answer
	if err := apitest.DecodeStrict(r.Body, &a); err != nil {
		t.Errorf("%s: not an answer of the dialect: %v", r, err)
		return
	}
	if a.State == "success" {
		if r.Status != http.StatusOK || a.Msg != "" || a.Code != "" || a.Details != nil {
			t.Errorf("%s: a success must be a bare 200", r)
		}
		if a.SessionID != nil && (*a.SessionID == 0 || *a.SessionID > maxSafeInteger || *a.SessionID < -maxSafeInteger) {
			t.Errorf("%s: session_id outside ±(2^53-1) or 0", r)
		}
		if a.User != nil {
			var fields map[string]json.RawMessage
			var u userDoc
			if err := json.Unmarshal(a.User, &fields); err != nil || apitest.DecodeStrict(a.User, &u) != nil {
				t.Errorf("%s: user is not Gradido's", r)
			}
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, seedUserFields) {
				t.Errorf("%s: user members %v, want Gradido's %v", r, keys, seedUserFields)
			}
			if !hexKey.MatchString(u.PublicHex) || u.Role != "none" || u.Username != "" || u.Balance != 0 || u.ErrorCount != 0 {
				t.Errorf("%s: user %+v", r, u)
			}
		}
		return
	}
	if a.State == "" || a.Msg == "" || a.Code == "" || a.SessionID != nil || a.User != nil || a.ClientIP != "" {
		t.Errorf("%s: a failure needs state, msg and code, and nothing of a success", r)
	}
}

// mustSuccess expects {"state":"success"} alone.
func mustSuccess(t *testing.T, r *response) {
	t.Helper()
	if r.Status != http.StatusOK || string(r.Body) != `{"state":"success"}`+"\n" {
		t.Fatalf("%s, want 200 {\"state\":\"success\"}", r)
	}
}

// mustLogin decodes a successful login.
func mustLogin(t *testing.T, r *response) loginDoc {
	t.Helper()
	var l loginDoc
	if r.Status != http.StatusOK {
		t.Fatalf("%s, want a login", r)
	}
	if err := apitest.DecodeStrict(r.Body, &l); err != nil || l.State != "success" || l.SessionID == 0 {
		t.Fatalf("%s: not a login (%v)", r, err)
	}
	return l
}

// mustFail checks that r is a failure with this status, state and code.
func mustFail(t *testing.T, r *response, status int, state, code string) errorDoc {
	t.Helper()
	var e errorDoc
	if r.Status != status {
		t.Fatalf("%s, want %d %s", r, status, code)
	}
	if err := apitest.DecodeStrict(r.Body, &e); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	if e.State != state || e.Code != code {
		t.Fatalf("%s: state %q code %q, want %q %q", r, e.State, e.Code, state, code)
	}
	return e
}

// ---- setup and checks through the native API ----

// mustSetState changes a customer's state through the native admin API.
func (h *harness) mustSetState(t *testing.T, id int64, state string) {
	t.Helper()
	r := h.Do(t, apitest.Request{Method: http.MethodPatch, Path: fmt.Sprintf("/api/v1/customers/%d", id), Key: h.Secret,
		Body: map[string]string{"state": state}})
	if r.Status != http.StatusOK {
		t.Fatalf("set state %s: %s", state, r)
	}
}

// publicHex is the customer's public key as the service derives it.
func (h *harness) publicHex(t *testing.T, id int64) string {
	t.Helper()
	ctx := context.Background()
	c, err := h.Svc.APIKeys.Authenticate(ctx, h.Secret)
	if err != nil {
		t.Fatal(err)
	}
	cust, err := h.Svc.Customers.Get(ctx, c, strconv.FormatInt(id, 10))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Svc.Keyring.CustomerKey(cust))
}

// ---- mail ----

var (
	confirmLink = regexp.MustCompile(`https://wallet\.example/checkEmail/([A-Za-z0-9_-]{20,})`)
	inviteLink  = regexp.MustCompile(`https://wallet\.example/activate/([A-Za-z0-9_-]{20,})`)
)

// mustMailTo waits for the n-th mail (counting from 1) and checks that it
// went to addr.
func (h *harness) mustMailTo(t *testing.T, n int, addr string) mailtest.Message {
	t.Helper()
	m := h.SMTP.WaitFor(t, n, apitest.MailWait)[n-1]
	if len(m.To) != 1 || m.To[0] != addr {
		t.Fatalf("mail %d went to %v, want %s", n, m.To, addr)
	}
	return m
}

// mustToken finds the token of a link in a mail's text.
func mustToken(t *testing.T, m mailtest.Message, link *regexp.Regexp) string {
	t.Helper()
	match := link.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("no link %s in the mail %q:\n%s", link, m.Subject, m.Text)
	}
	return match[1]
}

// mustNotLog checks that no session id, in any form the dialect gives it,
// reached the log.
func (h *harness) mustNotLog(t *testing.T, sessionIDs ...int64) {
	t.Helper()
	logs := h.logs.String()
	if logs == "" {
		t.Fatal("nothing was logged: the check proves nothing")
	}
	for _, id := range sessionIDs {
		if strings.Contains(logs, strconv.FormatInt(id, 10)) {
			t.Errorf("session id %d reached the log", id)
		}
	}
}
