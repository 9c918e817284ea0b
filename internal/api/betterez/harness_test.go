package betterez_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail/mailtest"
	"pforte/internal/store/teststore"
)

// The harness is apitest's, with a mail relay that sends over real SMTP to
// a mailtest server. Every response has been checked for the invariants
// of the whole dialect (apitest's JSONDialect with mustErrorDoc) before a
// test sees it.

// The URLs of the tests: Betterez's application and the tenant's default
// link, "the default URL to websales".
const (
	appEndpoint     = "https://www.domain-of-your-app.org/actions/"
	tenantEndpoint  = "https://websales.example.org/account/"
	otherEndpoint   = "https://www.andere.example/aktionen"
	oldPassword     = "Altes-Passwort-2029"
	newPassword     = "Neues-Passwort-2030"
	otherTenantSlug = "andere"
)

type harness struct {
	*apitest.Harness
	clock *apitest.Clock
	smtp  *mailtest.Server

	secret, public           string // keys of tenant default
	otherSecret, otherPublic string // keys of tenant andere
}

// newHarness starts the service on a fresh store from open, with tenant
// default's default link at tenantEndpoint, its application "my-app" at
// Betterez's request endpoint, and a second tenant "andere" whose
// application "fremde" exists only there.
func newHarness(t *testing.T, open teststore.Opener) *harness {
	t.Helper()
	a := apitest.New(t, open, apitest.WithRelay())
	a.Check = a.JSONDialect(dialect, func(t *testing.T, r *response) { mustErrorDoc(t, r) })
	h := &harness{Harness: a, clock: a.Clock, smtp: a.SMTP, secret: a.Secret, public: a.Public}
	h.otherSecret, h.otherPublic = h.MustTenant(t, otherTenantSlug)
	h.MustSetting(t, account.DefaultTenant, "endpoint", tenantEndpoint)
	h.MustSetting(t, otherTenantSlug, "endpoint", otherEndpoint)

	h.MustApp(t, h.secret, map[string]string{"name": "my-app", "endpoint": appEndpoint})
	h.MustApp(t, h.otherSecret, map[string]string{"name": "fremde", "endpoint": "https://www.fremde.example/actions/"})
	return h
}

// ---- requests ----

type (
	request  = apitest.Request
	response = apitest.Response
)

// dialect reports whether a path is this dialect's (and not the native
// API's, which the tests use for setup).
func dialect(path string) bool { return !strings.HasPrefix(path, "/api/") }

// errorDoc is the dialect's error document as a client reads it.
type errorDoc struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Fields  []struct {
		Field   string `json:"field"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"fields"`
	RequestID string `json:"requestId"`
}

// mustErrorDoc decodes r's body strictly as an error document with a code,
// a message and the request's id.
func mustErrorDoc(t testing.TB, r *response) errorDoc {
	t.Helper()
	e, ok := apitest.CheckErrorDoc(t, r, func(e errorDoc) string { return e.RequestID })
	if ok && (e.Code == "" || e.Message == "") {
		t.Errorf("%s: error without code or message", r)
	}
	return e
}

// mustError checks that r is an error with this status and code.
func mustError(t *testing.T, r *response, status int, code string) errorDoc {
	t.Helper()
	return apitest.MustError(t, r, status, code, mustErrorDoc, func(e errorDoc) string { return e.Code })
}

// ---- the dialect's calls, as a site makes them ----

func (h *harness) requestReset(t *testing.T, key, appName, email string) *response {
	t.Helper()
	path := "/notifications/customers/reset"
	if appName != "" {
		path += "?appName=" + url.QueryEscape(appName)
	}
	return h.Do(t, request{Method: http.MethodPost, Path: path, Key: key, Body: map[string]string{"email": email}})
}

// mustRequestReset expects the one answer to a reset request.
func (h *harness) mustRequestReset(t *testing.T, key, appName, email string) {
	t.Helper()
	r := h.requestReset(t, key, appName, email)
	if r.Status != http.StatusOK || string(r.Body) != `{"status":"ok"}`+"\n" {
		t.Fatalf("%s, want 200 {\"status\":\"ok\"}", r)
	}
}

func (h *harness) resetPassword(t *testing.T, method, key, customerID, token, pw string) *response {
	t.Helper()
	return h.Do(t, request{Method: method, Path: "/accounts/customers/" + customerID, Key: key,
		Body: map[string]string{"token": token, "password": pw}})
}

// customerDoc is the dialect's customer as a client reads it.
type customerDoc struct {
	ID        string    `json:"_id"`
	AccountID string    `json:"accountId"`
	Email     string    `json:"email"`
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Username  string    `json:"username"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// mustReset resets a password and returns the customer of the answer.
func (h *harness) mustReset(t *testing.T, method, key, customerID, token, pw string) customerDoc {
	t.Helper()
	r := h.resetPassword(t, method, key, customerID, token, pw)
	c := mustCustomerDoc(t, r)
	if c.ID != customerID {
		t.Errorf("%s: _id %q, want %q", r, c.ID, customerID)
	}
	return c
}

// mustCustomerDoc decodes a 200 answer strictly as a customer.
func mustCustomerDoc(t *testing.T, r *response) customerDoc {
	t.Helper()
	return apitest.MustJSON[customerDoc](t, r, http.StatusOK)
}

// ---- setup through the native API ----

// mustCustomer creates an active customer with oldPassword through the
// native admin API of the tenant of secret, and returns its id.
func (h *harness) mustCustomer(t *testing.T, secret, email, first, last string) string {
	t.Helper()
	c := h.MustCreateCustomer(t, secret, map[string]string{
		"email": email, "password": oldPassword, "state": "active", "first_name": first, "last_name": last})
	return itoa(c.Customer.ID)
}

// ---- mail ----

// mustResetLinks waits until n password reset mails to addr have arrived
// over SMTP and returns their links, oldest first. A reset mail is one
// whose text carries a link with action=resetPwd.
func (h *harness) mustResetLinks(t *testing.T, addr string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(apitest.MailWait)
	for {
		all := h.smtp.Messages()
		var links []string
		for _, m := range all {
			if !slices.Contains(m.To, addr) {
				continue
			}
			if m.ParseErr != nil {
				t.Fatalf("mail to %s does not parse: %v", addr, m.ParseErr)
			}
			for _, l := range apitest.Links(m.Text) {
				if strings.HasSuffix(l, "&action=resetPwd") {
					links = append(links, l)
				}
			}
		}
		if len(links) >= n {
			return links
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%d of %d reset mails to %s arrived within %v", len(links), n, addr, apitest.MailWait)
		}
		h.smtp.WaitFor(t, len(all)+1, left)
	}
}

// mustResetLink waits for the n-th (from 1) reset mail to addr.
func (h *harness) mustResetLink(t *testing.T, addr string, n int) string {
	t.Helper()
	return h.mustResetLinks(t, addr, n)[n-1]
}

// resetLink is a link taken apart as a site does.
type resetLink struct {
	base                                 string // the endpoint, before the query
	accountID, customerID, token, action string
}

// parseLink reads a link's query string as a site's page does.
func parseLink(t *testing.T, link string) resetLink {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	q := u.Query()
	for _, k := range []string{"accountId", "customerId", "token", "action"} {
		if len(q[k]) != 1 || q[k][0] == "" {
			t.Fatalf("link %q: %s is %q, want one value", link, k, q[k])
		}
	}
	if len(q) != 4 {
		t.Fatalf("link %q: query %v, want exactly accountId, customerId, token and action", link, q)
	}
	base := *u
	base.RawQuery = ""
	return resetLink{base: base.String(), accountID: q.Get("accountId"), customerID: q.Get("customerId"),
		token: q.Get("token"), action: q.Get("action")}
}

// mustNotLeak checks that no response of the dialect carried a secret.
func (h *harness) mustNotLeak(t *testing.T, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		h.CheckNotCarried(t, s, 0)
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }
