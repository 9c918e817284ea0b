package hgsp_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The harness serves server.New over a fresh store through a real HTTP
// server, with a clock the test controls and cheap argon2id parameters.
// Every response it hands back has been checked for the invariants of the
// whole HGSP API (see checkInvariants).

// endpoint is tenant default's request endpoint: activation links lead there.
const endpoint = "https://www.example.org/hgsp/actions"

type harness struct {
	*apitest.Harness
	svc    *account.Service
	secret string // raw secret key of tenant default: the service user
	public string // raw public key of tenant default: the ZRP pages
	caller account.Caller
}

func newHarness(t *testing.T, open teststore.Opener) *harness {
	t.Helper()
	a := apitest.New(t, open, apitest.WithContentType("application/xml"), apitest.WithSetting("endpoint", endpoint))
	h := &harness{Harness: a, svc: a.Svc, secret: a.Secret, public: a.Public}
	a.Check = checkInvariants
	var err error
	if h.caller, err = h.svc.APIKeys.Authenticate(context.Background(), h.secret); err != nil {
		t.Fatalf("AuthenticateKey: %v", err)
	}
	return h
}

// ---- requests ----

type (
	request  = apitest.Request
	response = apitest.Response
)

// do sends r, whose body, when it has one, is a string: an empty one is
// none, without a content type.
func (h *harness) do(t *testing.T, r request) *response {
	t.Helper()
	if r.Body == "" {
		r.Body = nil
	}
	return h.Do(t, r)
}

// checkInvariants holds for every HGSP answer: no 5xx, never cached, and
// every error an <Error> document with a code and a message.
func checkInvariants(t *testing.T, r *response) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("server error: %s", r)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control = %q, want no-store", r, got)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q", r, got)
	}
	if r.Status >= 400 && r.Method != http.MethodHead {
		if ct := r.Header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
			t.Errorf("%s: Content-Type = %q", r, ct)
		}
		var e errorDoc
		if err := strictXML(r.Body, &e); err != nil || e.Code == "" || e.Message == "" {
			t.Errorf("%s: not an error document: %v", r, err)
		}
	}
}

func (h *harness) post(t *testing.T, key, path, body string) *response {
	t.Helper()
	return h.do(t, request{Method: http.MethodPost, Path: path, Key: key, Body: body})
}

func (h *harness) get(t *testing.T, key, path string) *response {
	t.Helper()
	return h.do(t, request{Method: http.MethodGet, Path: path, Key: key})
}

// ---- documents, as a client sees them ----

type errorDoc struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

type registerResponse struct {
	XMLName   xml.Name `xml:"RegisterUserResponse"`
	HMGUserID string   `xml:"HMGUserID,omitempty"`
	State     string   `xml:"State"`
}

type naturalName struct {
	Salutation string `xml:"Salutation,omitempty"`
	FirstName  string `xml:"FirstName"`
	LastName   string `xml:"LastName"`
}

type user struct {
	XMLName        xml.Name    `xml:"User"`
	HMGUserID      string      `xml:"HMGUserID"`
	Email          string      `xml:"Email"`
	State          string      `xml:"State"`
	NaturalName    naturalName `xml:"NaturalName"`
	RefID          string      `xml:"RefID,omitempty"`
	ActivationURL  string      `xml:"ActivationURL,omitempty"`
	ActivationCode string      `xml:"ActivationCode,omitempty"`
}

type resetCode struct {
	XMLName   xml.Name `xml:"PasswordResetCode"`
	Email     string   `xml:"Email"`
	ResetCode string   `xml:"ResetCode"`
}

// strictXML decodes body into v and checks that v, encoded again the way
// the server encodes, gives body back byte for byte: no element the test
// does not know, none missing, nothing out of order.
func strictXML(body []byte, v any) error {
	if err := xml.Unmarshal(body, v); err != nil {
		return err
	}
	again, err := xml.MarshalIndent(v, "", "   ")
	if err != nil {
		return err
	}
	if want := xml.Header + string(again) + "\n"; want != string(body) {
		return fmt.Errorf("body differs from its re-encoding:\n%s", want)
	}
	return nil
}

// ---- assertions ----

// mustDoc checks status and content type and decodes the body strictly.
func mustDoc[T any](t *testing.T, r *response, status int) T {
	t.Helper()
	apitest.MustStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Fatalf("%s: Content-Type = %q", r, ct)
	}
	var v T
	if err := strictXML(r.Body, &v); err != nil {
		t.Fatalf("%s: decode %T: %v", r, v, err)
	}
	return v
}

// mustError checks that r is an error document with status and code.
func mustError(t *testing.T, r *response, status int, code string) errorDoc {
	t.Helper()
	e := mustDoc[errorDoc](t, r, status)
	if e.Code != code {
		t.Fatalf("%s: code %q, want %q", r, e.Code, code)
	}
	return e
}

// mustElementError checks that r is a 400 whose message names element.
func mustElementError(t *testing.T, r *response, code, element string) errorDoc {
	t.Helper()
	e := mustError(t, r, http.StatusBadRequest, code)
	if !regexp.MustCompile(`(^|; )` + regexp.QuoteMeta(element) + `: `).MatchString(e.Message) {
		t.Fatalf("%s: message does not name %s", r, element)
	}
	return e
}

// ---- documents to send ----

// reg is a RegisterUserRequest; empty fields are left out, except the
// names, which default to Frau Anna Muster.
type reg struct {
	ID, Salutation, First, Last, Email, Password, Template, RefID, State string
}

func (r reg) String() string {
	var b strings.Builder
	el := func(name, v string) {
		if v != "" {
			b.WriteString("<" + name + ">")
			xml.EscapeText(&b, []byte(v))
			b.WriteString("</" + name + ">")
		}
	}
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	b.WriteString("<RegisterUserRequest>")
	el("HMGUserID", r.ID)
	b.WriteString("<NaturalName>")
	el("Salutation", def(r.Salutation, "Frau"))
	el("FirstName", def(r.First, "Anna"))
	el("LastName", def(r.Last, "Muster"))
	b.WriteString("</NaturalName>")
	el("Email", r.Email)
	el("Password", r.Password)
	el("TemplateUserID", r.Template)
	el("RefID", r.RefID)
	el("State", r.State)
	b.WriteString("</RegisterUserRequest>")
	return b.String()
}

// doc builds a document of root from element-value pairs, leaving out
// empty values.
func doc(root string, pairs ...string) string {
	var b strings.Builder
	b.WriteString("<" + root + ">")
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			b.WriteString("<" + pairs[i] + ">")
			xml.EscapeText(&b, []byte(pairs[i+1]))
			b.WriteString("</" + pairs[i] + ">")
		}
	}
	b.WriteString("</" + root + ">")
	return b.String()
}

// ---- flows ----

func (h *harness) register(t *testing.T, key string, r reg) *response {
	t.Helper()
	return h.post(t, key, "/registeruserrequest", r.String())
}

// mustRegister registers with the service user and expects 201.
func (h *harness) mustRegister(t *testing.T, r reg) registerResponse {
	t.Helper()
	res := mustDoc[registerResponse](t, h.register(t, h.secret, r), http.StatusCreated)
	if res.HMGUserID == "" {
		t.Fatalf("no HMGUserID: %+v", res)
	}
	return res
}

func (h *harness) users(t *testing.T, key, email string) *response {
	t.Helper()
	return h.get(t, key, "/users?email="+url.QueryEscape(email))
}

// mustUser gets a user with the service user.
func (h *harness) mustUser(t *testing.T, email string) user {
	t.Helper()
	return mustDoc[user](t, h.users(t, h.secret, email), http.StatusOK)
}

func (h *harness) activate(t *testing.T, key, email, code, pw string) *response {
	t.Helper()
	return h.post(t, key, "/activationrequest", doc("ActivationRequest", "Email", email, "ActivationCode", code, "Password", pw))
}

func (h *harness) mustActivate(t *testing.T, key, email, code, pw string) user {
	t.Helper()
	u := mustDoc[user](t, h.activate(t, key, email, code, pw), http.StatusOK)
	if u.State != "ACTIVE" || u.ActivationCode != "" || u.ActivationURL != "" {
		t.Fatalf("activated: %+v", u)
	}
	return u
}

// stored reads a customer through the service; ok is false if none exists.
func (h *harness) stored(t *testing.T, email string) (account.Customer, bool) {
	t.Helper()
	c, err := h.svc.Customers.ByEmail(context.Background(), h.caller, email)
	if account.IsKind(err, account.KindNotFound) {
		return c, false
	} else if err != nil {
		t.Fatalf("CustomerByEmail(%s): %v", email, err)
	}
	return c, true
}

func (h *harness) mustStored(t *testing.T, email string) account.Customer {
	t.Helper()
	c, ok := h.stored(t, email)
	if !ok {
		t.Fatalf("%s was not stored", email)
	}
	return c
}

func (h *harness) mustNotStored(t *testing.T, email string) {
	t.Helper()
	if c, ok := h.stored(t, email); ok {
		t.Fatalf("%s was stored: %+v", email, c)
	}
}

// counts is how many customers and mails the store holds, to show that a
// refused request stored nothing.
func (h *harness) counts(t *testing.T) [2]int {
	t.Helper()
	cs, err := h.svc.Customers.List(context.Background(), h.caller, account.CustomerFilter{}, 0, account.MaxPageSize)
	if err != nil {
		t.Fatalf("ListCustomers: %v", err)
	}
	ms, err := h.svc.Outbox.List(context.Background(), account.DefaultTenant, 1000)
	if err != nil {
		t.Fatalf("Mails: %v", err)
	}
	return [2]int{len(cs), len(ms)}
}

// login opens a session: the SSO token.
func (h *harness) login(t *testing.T, email, pw string) (string, error) {
	t.Helper()
	_, s, err := h.svc.Sessions.Login(context.Background(), h.caller, email, pw)
	return s.Token, err
}

func (h *harness) mustLogin(t *testing.T, email, pw string) string {
	t.Helper()
	token, err := h.login(t, email, pw)
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return token
}

func (h *harness) mustNoLogin(t *testing.T, email, pw string) {
	t.Helper()
	if _, err := h.login(t, email, pw); err == nil {
		t.Fatalf("login %s with %q worked", email, pw)
	}
}

// mails are the unsent mails to a customer of tenant default, newest first.
func (h *harness) mails(t *testing.T, email string) []account.MailView {
	t.Helper()
	id := h.mustStored(t, email).ID
	ms, err := h.svc.Outbox.List(context.Background(), account.DefaultTenant, 1000)
	if err != nil {
		t.Fatalf("Mails: %v", err)
	}
	var out []account.MailView
	for _, m := range ms {
		if m.CustomerID == id {
			out = append(out, m)
		}
	}
	return out
}

var codeInMail = regexp.MustCompile(`(?m)^\s*([0-9]{8})\s*$`)

// mustActivationMail returns the code of the newest mail to email, which
// must be an activation (invite) mail with a link and an 8-digit code.
func (h *harness) mustActivationMail(t *testing.T, email string) string {
	t.Helper()
	ms := h.mails(t, email)
	if len(ms) == 0 || ms[0].Kind != account.MailInvite || ms[0].Envelope == nil {
		t.Fatalf("no activation mail to %s: %+v", email, ms)
	}
	text := ms[0].Envelope.Text
	if !strings.Contains(text, endpoint+"?accountId=default&customerId=") || !strings.Contains(text, "&action=activate") {
		t.Fatalf("activation mail without link:\n%s", text)
	}
	m := codeInMail.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("activation mail without code:\n%s", text)
	}
	return m[1]
}
