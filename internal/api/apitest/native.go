package apitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The native API (/api/v1) as a client sees it: its wire shapes, its
// error document and the calls the tests of every package make through it,
// to set up customers and to check what a dialect did.

// Customer is a customer as the native API shows it.
type Customer struct {
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

// Session is a session as the native API shows it; the token only when
// the session is new.
type Session struct {
	ID            int64     `json:"id"`
	Token         string    `json:"token"`
	Remembered    bool      `json:"remembered"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

// CustomerSession is the answer of a login, a confirmation and GET
// /api/v1/session.
type CustomerSession struct {
	Customer Customer `json:"customer"`
	Session  Session  `json:"session"`
}

// Device is one session in GET /api/v1/sessions and GET
// /api/v1/customers/{ref}/sessions.
type Device struct {
	ID            int64     `json:"id"`
	Current       bool      `json:"current"`
	Device        string    `json:"device"`
	ClientAddress string    `json:"client_address"`
	Remembered    bool      `json:"remembered"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

// Devices is the list of a customer's sessions.
type Devices struct {
	Sessions []Device `json:"sessions"`
}

// Registered is the answer to a registration with a secret key.
type Registered struct {
	Customer          Customer `json:"customer"`
	ConfirmationToken string   `json:"confirmation_token"`
}

// Created is the answer to POST /api/v1/customers.
type Created struct {
	Customer          Customer `json:"customer"`
	ConfirmationToken string   `json:"confirmation_token"`
	InviteToken       string   `json:"invite_token"`
	ActivationCode    string   `json:"activation_code"`
}

// CustomerList is a page of GET /api/v1/customers.
type CustomerList struct {
	Customers []Customer `json:"customers"`
	NextAfter *int64     `json:"next_after"`
}

// Problem is the native API's error document (RFC 9457).
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors"`
}

// FieldError is an offending field of a Problem.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Field returns the entry for name, or nil.
func (p Problem) Field(name string) *FieldError {
	for i := range p.Errors {
		if p.Errors[i].Field == name {
			return &p.Errors[i]
		}
	}
	return nil
}

// CheckNative checks what holds for every answer of the server: no 5xx;
// and for the native API's paths, never cached (but for the OpenAPI
// document), never sniffed, and every error a problem document.
func CheckNative(t *testing.T, r *Response) {
	t.Helper()
	checkNative(t, r, false)
}

// CheckNativeBusy is CheckNative taking 503 busy for an answer, for the
// tests of a full hashing pool.
func CheckNativeBusy(t *testing.T, r *Response) {
	t.Helper()
	checkNative(t, r, true)
}

func checkNative(t *testing.T, r *Response, busyOK bool) {
	t.Helper()
	if r.Status >= 500 && !(busyOK && r.Status == http.StatusServiceUnavailable && problemCode(r) == "busy") {
		t.Errorf("server error: %s", r)
	}
	if !strings.HasPrefix(r.Path, "/api/v1/") {
		return
	}
	// The OpenAPI document, which holds nothing personal, may be stored.
	if got := r.Header.Get("Cache-Control"); got != "no-store" && r.Path != "/api/v1/openapi.json" {
		t.Errorf("%s: Cache-Control %q, want no-store", r, got)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", r, got)
	}
	if r.Status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type %q, want application/problem+json", r, ct)
		}
	}
}

func problemCode(r *Response) string {
	var p Problem
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

// MustProblem checks that r is a problem document with this status and
// code, well formed and carrying the request's id.
func MustProblem(t testing.TB, r *Response, status int, code string) Problem {
	t.Helper()
	MustStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: Content-Type %q, want application/problem+json", r, ct)
	}
	p, ok := CheckErrorDoc(t, r, func(p Problem) string { return p.RequestID })
	if !ok {
		t.FailNow()
	}
	if p.Code != code {
		t.Fatalf("%s: code %q, want %q", r, p.Code, code)
	}
	if p.Status != status || p.Type != "urn:pforte:problem:"+code || p.Title != http.StatusText(status) || p.Detail == "" {
		t.Errorf("%s: malformed problem %+v", r, p)
	}
	return p
}

// MustFieldError checks that r is a validation problem naming field with
// code.
func MustFieldError(t testing.TB, r *Response, field, code string) Problem {
	t.Helper()
	p := MustProblem(t, r, http.StatusBadRequest, "validation_failed")
	fe := p.Field(field)
	if fe == nil {
		t.Fatalf("%s: no entry for field %q", r, field)
	}
	if fe.Code != code || fe.Message == "" {
		t.Fatalf("%s: field %q has code %q message %q, want code %q", r, field, fe.Code, fe.Message, code)
	}
	return p
}

// ---- calls ----

// Post sends body as JSON to path with the key.
func (h *Harness) Post(t *testing.T, key, path string, body any) *Response {
	t.Helper()
	return h.Do(t, Request{Method: http.MethodPost, Path: path, Key: key, Body: body})
}

// Get asks for path with the key.
func (h *Harness) Get(t *testing.T, key, path string) *Response {
	t.Helper()
	return h.Do(t, Request{Method: http.MethodGet, Path: path, Key: key})
}

// Login tries a password through the native API with the key: 201 or an
// error.
func (h *Harness) Login(t *testing.T, key, email, pw string) *Response {
	t.Helper()
	return h.Post(t, key, "/api/v1/sessions", map[string]string{"email": email, "password": pw})
}

// MustLogin logs in with the key and returns the new session.
func (h *Harness) MustLogin(t *testing.T, key, email, pw string) CustomerSession {
	t.Helper()
	res := h.Login(t, key, email, pw)
	cs := MustJSON[CustomerSession](t, res, http.StatusCreated)
	if cs.Session.Token == "" {
		t.Fatalf("login %s: no session token: %s", email, res)
	}
	return cs
}

// MustPassword checks that pw logs email in with the key and that other,
// unless empty, does not.
func (h *Harness) MustPassword(t *testing.T, key, email, pw, other string) {
	t.Helper()
	if r := h.Login(t, key, email, pw); r.Status != http.StatusCreated {
		t.Errorf("login of %s with its password: %s, want 201", email, r)
	}
	if other == "" {
		return
	}
	if r := h.Login(t, key, email, other); r.Status != http.StatusUnauthorized {
		t.Errorf("login of %s with another password: %s, want 401", email, r)
	}
}

// MustRegister registers with a secret key and returns the pending
// customer and its confirmation token. A registration leaves an existing
// (offline) customer as it was until it is confirmed.
func (h *Harness) MustRegister(t *testing.T, secret, email, pw string) Registered {
	t.Helper()
	res := h.Post(t, secret, "/api/v1/registrations", map[string]string{"email": email, "password": pw})
	reg := MustJSON[Registered](t, res, http.StatusCreated)
	if reg.ConfirmationToken == "" || (reg.Customer.State != "pending" && reg.Customer.State != "offline") {
		t.Fatalf("register %s: %s", email, res)
	}
	return reg
}

// MustConfirm uses a confirmation token with the key and returns the
// active customer with its new session.
func (h *Harness) MustConfirm(t *testing.T, key, token string) CustomerSession {
	t.Helper()
	res := h.Post(t, key, "/api/v1/confirmations", map[string]string{"token": token})
	cs := MustJSON[CustomerSession](t, res, http.StatusOK)
	if cs.Customer.State != "active" || cs.Customer.EmailConfirmedAt == nil || cs.Session.Token == "" {
		t.Fatalf("confirm: %s", res)
	}
	return cs
}

// MustSignUp registers and confirms a customer with a secret key.
func (h *Harness) MustSignUp(t *testing.T, secret, email, pw string) CustomerSession {
	t.Helper()
	return h.MustConfirm(t, secret, h.MustRegister(t, secret, email, pw).ConfirmationToken)
}

// MustCreateCustomer creates a customer through the admin API of the
// tenant of secret; body holds the request's JSON fields.
func (h *Harness) MustCreateCustomer(t *testing.T, secret string, body any) Created {
	t.Helper()
	res := h.Post(t, secret, "/api/v1/customers", body)
	c := MustJSON[Created](t, res, http.StatusCreated)
	if want := fmt.Sprintf("/api/v1/customers/%d", c.Customer.ID); c.Customer.ID == 0 || res.Header.Get("Location") != want {
		t.Errorf("%s: Location %q, want %q", res, res.Header.Get("Location"), want)
	}
	return c
}

// MustGetCustomer reads a customer of the tenant of secret.
func (h *Harness) MustGetCustomer(t *testing.T, secret string, id int64) Customer {
	t.Helper()
	res := h.Get(t, secret, fmt.Sprintf("/api/v1/customers/%d", id))
	return MustJSON[struct {
		Customer Customer `json:"customer"`
	}](t, res, http.StatusOK).Customer
}

// MustFind looks an email up in the tenant of secret.
func (h *Harness) MustFind(t *testing.T, secret, email string) []Customer {
	t.Helper()
	res := h.Get(t, secret, "/api/v1/customers?email="+url.QueryEscape(email))
	return MustJSON[CustomerList](t, res, http.StatusOK).Customers
}

// MustApp creates an application of the tenant of secret; body holds the
// request's JSON fields.
func (h *Harness) MustApp(t *testing.T, secret string, body any) {
	t.Helper()
	MustStatus(t, h.Post(t, secret, "/api/v1/apps", body), http.StatusCreated)
}
