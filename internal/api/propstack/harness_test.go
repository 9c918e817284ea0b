package propstack_test

import (
	"net/http"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The harness serves server.New over a fresh store through a real HTTP
// server, with a clock the test controls and cheap argon2id parameters.
// Both tenants send their own mail (delivery=return), as the README asks
// of sites using this dialect; tests of the other modes set them. Every
// response has been checked for the invariants of the whole dialect
// (apitest's JSONDialect with mustErrorDoc) before a test sees it, and
// everything the service and the server log is kept, to check that no
// token reaches the log.

const (
	strongPassword  = "Foo-Bar-Kundenbereich-2030"
	newPassword     = "Neues-Passwort-2031"
	otherTenantSlug = "andere"
)

type harness struct {
	*apitest.Harness
	svc   *account.Service
	clock *apitest.Clock
	logs  *apitest.LogBuffer

	secret, public string // keys of tenant default
	otherSecret    string // secret key of tenant andere
}

// newHarness starts the service on a fresh store from open, with tenants
// default and andere, both with delivery=return.
func newHarness(t *testing.T, open teststore.Opener) *harness {
	t.Helper()
	a := apitest.New(t, open, apitest.WithLogs(), apitest.WithMailFrom("Makler <noreply@meine-immobilien.de>"))
	a.Check = a.JSONDialect(dialect, func(t *testing.T, r *response) { mustErrorDoc(t, r) })
	h := &harness{Harness: a, svc: a.Svc, clock: a.Clock, logs: a.Logs, secret: a.Secret, public: a.Public}
	h.otherSecret, _ = h.MustTenant(t, otherTenantSlug)
	h.MustSetting(t, account.DefaultTenant, "delivery", "return")
	h.MustSetting(t, otherTenantSlug, "delivery", "return")
	return h
}

// ---- requests ----

type (
	request  = apitest.Request
	response = apitest.Response
)

// dialect reports whether a path is this dialect's (and not the native
// API's, which the tests use for setup and checks).
func dialect(path string) bool { return strings.HasPrefix(path, "/v1/") }

// errorDoc is the dialect's error document as a client reads it.
type errorDoc struct {
	Errors    map[string][]string `json:"errors"`
	Code      string              `json:"code"`
	RequestID string              `json:"request_id"`
}

// mustErrorDoc decodes r's body strictly as an error document with at
// least one message, a code and the request's id.
func mustErrorDoc(t testing.TB, r *response) errorDoc {
	t.Helper()
	e, ok := apitest.CheckErrorDoc(t, r, func(e errorDoc) string { return e.RequestID })
	if !ok {
		return e
	}
	if e.Code == "" || len(e.Errors) == 0 {
		t.Errorf("%s: error without code or messages", r)
	}
	for field, msgs := range e.Errors {
		if field == "" || len(msgs) == 0 {
			t.Errorf("%s: field %q with messages %q", r, field, msgs)
		}
	}
	return e
}

// mustError checks that r is an error with this status and code, and
// that field (when not empty) has a message.
func mustError(t *testing.T, r *response, status int, code, field string) errorDoc {
	t.Helper()
	e := apitest.MustError(t, r, status, code, mustErrorDoc, func(e errorDoc) string { return e.Code })
	if field != "" && len(e.Errors[field]) == 0 {
		t.Fatalf("%s: no message for %q", r, field)
	}
	return e
}

// ---- the dialect's calls, as a site makes them ----

type client struct {
	Email, Password, Confirmation, FirstName, LastName, Salutation string
}

func (c client) body() map[string]any {
	return map[string]any{"client": map[string]string{"email": c.Email, "password": c.Password,
		"password_confirmation": c.Confirmation, "first_name": c.FirstName, "last_name": c.LastName, "salutation": c.Salutation}}
}

// fooBar is Propstack's contact, with a password the policy accepts.
func fooBar() client {
	return client{Email: "foo.bar@example.de", Password: strongPassword, Confirmation: strongPassword,
		FirstName: "Foo", LastName: "Bar", Salutation: "mr"}
}

func (h *harness) register(t *testing.T, key string, c client) *response {
	t.Helper()
	return h.Post(t, key, "/v1/contacts/register", c.body())
}

// mustRegister registers c and returns the confirmation token.
func (h *harness) mustRegister(t *testing.T, key string, c client) string {
	t.Helper()
	r := h.register(t, key, c)
	v := apitest.MustJSON[struct {
		Token string `json:"confirmation_token"`
	}](t, r, http.StatusOK)
	if v.Token == "" {
		t.Fatalf("%s: no confirmation_token", r)
	}
	return v.Token
}

func (h *harness) confirm(t *testing.T, key, token string) *response {
	t.Helper()
	return h.Post(t, key, "/v1/contacts/confirm", map[string]string{"confirmation_token": token})
}

func (h *harness) login(t *testing.T, key, email, pw string) *response {
	t.Helper()
	return h.Post(t, key, "/v1/contacts/login", map[string]any{"credentials": map[string]string{"email": email, "password": pw}})
}

func (h *harness) sendReset(t *testing.T, key, email string) *response {
	t.Helper()
	return h.Post(t, key, "/v1/contacts/send_password_reset", map[string]string{"email": email})
}

// mustSendReset asks for a reset and returns the token.
func (h *harness) mustSendReset(t *testing.T, key, email string) string {
	t.Helper()
	r := h.sendReset(t, key, email)
	v := apitest.MustJSON[struct {
		Token string `json:"token"`
	}](t, r, http.StatusOK)
	if v.Token == "" {
		t.Fatalf("%s: no token", r)
	}
	return v.Token
}

// resetPassword resets with the token in the path; spelling is "contats"
// (Propstack's) or "contacts".
func (h *harness) resetPassword(t *testing.T, key, spelling, token, pw, confirmation string) *response {
	t.Helper()
	return h.Post(t, key, "/v1/"+spelling+"/"+token+"/reset_password",
		map[string]any{"client": map[string]string{"password": pw, "password_confirmation": confirmation}})
}

// clientDoc is the dialect's contact as a client reads it.
type clientDoc struct {
	Client struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"client"`
}

// mustClient decodes a 200 answer strictly as a contact and checks its id
// (when not 0) and name.
func mustClient(t *testing.T, r *response, id int64, name string) int64 {
	t.Helper()
	c := apitest.MustJSON[clientDoc](t, r, http.StatusOK)
	if c.Client.ID == 0 || (id != 0 && c.Client.ID != id) || c.Client.Name != name {
		t.Fatalf("%s: want id %d, name %q", r, id, name)
	}
	return c.Client.ID
}

// ---- setup and checks through the native API ----

// mustCreateCustomer creates a customer through the native admin API of
// the tenant of secret; fields are the request's JSON fields.
func (h *harness) mustCreateCustomer(t *testing.T, secret string, fields map[string]string) apitest.Customer {
	t.Helper()
	return h.MustCreateCustomer(t, secret, fields).Customer
}

// mustNotLeak checks that no token reached the log, and that none came
// back anywhere but in the answer that issued it (bodies of other
// answers, any header).
func (h *harness) mustNotLeak(t *testing.T, tokens ...string) {
	t.Helper()
	logs := h.logs.String()
	for _, tok := range tokens {
		if tok != "" && strings.Contains(logs, tok) {
			t.Errorf("a token reached the log")
		}
		h.CheckNotCarried(t, tok, 1)
	}
}
