package propstack_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// mustActive registers and confirms c and returns its id.
func (h *harness) mustActive(t *testing.T, key string, c client) int64 {
	t.Helper()
	return mustClient(t, h.confirm(t, key, h.mustRegister(t, key, c)), 0, strings.TrimSpace(c.FirstName+" "+c.LastName))
}

// TestTokensOnce: a confirmation token and a reset token work once; each
// works only for its own purpose; a newer reset token voids the older
// one; a refused token answers 422 on its field and, where the refusal
// was the request's fault (a weak password), stays usable.
func TestTokensOnce(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		c := fooBar()
		confirmToken := h.mustRegister(t, h.secret, c)
		// A confirmation token is no reset token.
		mustError(t, h.resetPassword(t, h.secret, "contacts", confirmToken, newPassword, newPassword),
			http.StatusUnprocessableEntity, "token_invalid", "token")
		id := mustClient(t, h.confirm(t, h.secret, confirmToken), 0, "Foo Bar")
		mustError(t, h.confirm(t, h.secret, confirmToken), http.StatusUnprocessableEntity, "token_invalid", "confirmation_token")

		older := h.mustSendReset(t, h.secret, c.Email)
		reset := h.mustSendReset(t, h.secret, c.Email)
		mustError(t, h.resetPassword(t, h.secret, "contats", older, newPassword, newPassword),
			http.StatusUnprocessableEntity, "token_invalid", "token")
		// A reset token is no confirmation token.
		mustError(t, h.confirm(t, h.secret, reset), http.StatusUnprocessableEntity, "token_invalid", "confirmation_token")
		// A refused password leaves the token usable.
		mustError(t, h.resetPassword(t, h.secret, "contats", reset, "12345678", "12345678"),
			http.StatusUnprocessableEntity, "validation_failed", "password")
		mustError(t, h.resetPassword(t, h.secret, "contats", reset, newPassword, "Anders-2031"),
			http.StatusUnprocessableEntity, "validation_failed", "password_confirmation")
		mustClient(t, h.resetPassword(t, h.secret, "contats", reset, newPassword, newPassword), id, "Foo Bar")
		// Used up, under either spelling.
		for _, spelling := range []string{"contats", "contacts"} {
			mustError(t, h.resetPassword(t, h.secret, spelling, reset, "Noch-ein-Passwort-2032", "Noch-ein-Passwort-2032"),
				http.StatusUnprocessableEntity, "token_invalid", "token")
		}
		mustClient(t, h.login(t, h.secret, c.Email, newPassword), id, "Foo Bar")
		h.mustNotLeak(t, confirmToken, older, reset)
	})
}

// TestExpiredTokens: a confirmation token lasts 24 hours and a reset token
// one hour, on the service's clock; an expired one is refused like a used
// one, and a new registration or request starts over.
func TestExpiredTokens(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		c := fooBar()
		confirmToken := h.mustRegister(t, h.secret, c)
		h.clock.Advance(24*time.Hour + time.Second)
		mustError(t, h.confirm(t, h.secret, confirmToken), http.StatusUnprocessableEntity, "token_invalid", "confirmation_token")
		id := mustClient(t, h.confirm(t, h.secret, h.mustRegister(t, h.secret, c)), 0, "Foo Bar")

		reset := h.mustSendReset(t, h.secret, c.Email)
		h.clock.Advance(59 * time.Minute)
		fresh := h.mustSendReset(t, h.secret, c.Email)
		h.clock.Advance(2 * time.Minute)
		mustError(t, h.resetPassword(t, h.secret, "contats", reset, newPassword, newPassword),
			http.StatusUnprocessableEntity, "token_invalid", "token")
		mustClient(t, h.resetPassword(t, h.secret, "contacts", fresh, newPassword, newPassword), id, "Foo Bar")

		late := h.mustSendReset(t, h.secret, c.Email)
		h.clock.Advance(time.Hour + time.Second)
		mustError(t, h.resetPassword(t, h.secret, "contacts", late, "Zu-spaet-2032", "Zu-spaet-2032"),
			http.StatusUnprocessableEntity, "token_invalid", "token")
		mustClient(t, h.login(t, h.secret, c.Email, newPassword), id, "Foo Bar")
	})
}

// TestOtherTenant: tokens, contacts and logins stay within the tenant of
// the key. Another tenant's token is refused like an unknown one and stays
// usable in its own tenant; the same address is a separate contact there.
func TestOtherTenant(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		c := fooBar()
		theirs := h.mustRegister(t, h.otherSecret, c)
		mustError(t, h.confirm(t, h.secret, theirs), http.StatusUnprocessableEntity, "token_invalid", "confirmation_token")
		otherID := mustClient(t, h.confirm(t, h.otherSecret, theirs), 0, "Foo Bar")

		// The address has an account only in andere.
		unknown := apitest.Uniform(h.login(t, h.secret, c.Email, strongPassword))
		if got := apitest.Uniform(h.login(t, h.secret, "niemand@example.de", strongPassword)); got != unknown {
			t.Errorf("another tenant's contact: %s, an unknown address: %s", unknown, got)
		}
		mustError(t, h.sendReset(t, h.secret, c.Email), http.StatusNotFound, "customer_not_found", "email")

		reset := h.mustSendReset(t, h.otherSecret, c.Email)
		mustError(t, h.resetPassword(t, h.secret, "contats", reset, newPassword, newPassword),
			http.StatusUnprocessableEntity, "token_invalid", "token")
		mustClient(t, h.resetPassword(t, h.otherSecret, "contats", reset, newPassword, newPassword), otherID, "Foo Bar")

		// The same address registers separately in default.
		ownID := h.mustActive(t, h.secret, c)
		if ownID == otherID {
			t.Errorf("both tenants' contacts have id %d", ownID)
		}
		mustClient(t, h.login(t, h.secret, c.Email, strongPassword), ownID, "Foo Bar")
		mustClient(t, h.login(t, h.otherSecret, c.Email, newPassword), otherID, "Foo Bar")
	})
}

// TestSameAnswers: a login answers the same 401 for an unknown address, a
// wrong password, an unconfirmed registration, a contact without an
// account and a disabled one, so a login cannot tell which addresses have
// an account; a reset request answers the same 404 for an unknown address,
// a contact without an account and a disabled one.
func TestSameAnswers(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustActive(t, h.secret, fooBar())
		pending := fooBar()
		pending.Email = "pending@example.de"
		h.mustRegister(t, h.secret, pending)
		h.mustCreateCustomer(t, h.secret, map[string]string{"email": "offline@example.de", "state": "offline"})
		disabled := h.mustCreateCustomer(t, h.secret, map[string]string{"email": "disabled@example.de", "state": "active", "password": strongPassword})
		if r := h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + strconv.FormatInt(disabled.ID, 10),
			Key: h.secret, Body: map[string]string{"state": "disabled"}}); r.Status != http.StatusOK {
			t.Fatalf("disable: %s", r)
		}

		const wrong = "Falsches-Passwort-2031"
		want := apitest.Uniform(h.login(t, h.secret, "niemand@example.de", wrong))
		mustError(t, h.login(t, h.secret, "niemand@example.de", wrong), http.StatusUnauthorized, "invalid_credentials", "base")
		for _, email := range []string{"foo.bar@example.de", "pending@example.de", "offline@example.de", "disabled@example.de"} {
			if got := apitest.Uniform(h.login(t, h.secret, email, wrong)); got != want {
				t.Errorf("login of %s with a wrong password: %s, want %s", email, got, want)
			}
		}

		want = apitest.Uniform(h.sendReset(t, h.secret, "niemand@example.de"))
		for _, email := range []string{"offline@example.de", "disabled@example.de"} {
			if got := apitest.Uniform(h.sendReset(t, h.secret, email)); got != want {
				t.Errorf("reset request for %s: %s, want %s", email, got, want)
			}
		}
	})
}

// TestThrottledLogin: after five wrong passwords an address is locked for
// 30 seconds: 429 with Retry-After, in this dialect's format.
func TestThrottledLogin(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		id := h.mustActive(t, h.secret, fooBar())
		for range 5 {
			mustError(t, h.login(t, h.secret, "foo.bar@example.de", "Falsches-Passwort-2031"), http.StatusUnauthorized, "invalid_credentials", "base")
		}
		r := h.login(t, h.secret, "foo.bar@example.de", strongPassword)
		mustError(t, r, http.StatusTooManyRequests, "too_many_attempts", "base")
		if r.Header.Get("Retry-After") != "30" {
			t.Errorf("%s: Retry-After %q, want 30", r, r.Header.Get("Retry-After"))
		}
		h.clock.Advance(31 * time.Second)
		mustClient(t, h.login(t, h.secret, "foo.bar@example.de", strongPassword), id, "Foo Bar")
	})
}

// TestBadInput: requests that do not fit are refused with 400 (not JSON),
// 413, 415 or 422 on the offending field, before anything changes.
func TestBadInput(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		c := fooBar()
		h.mustActive(t, h.secret, c)
		reset := h.mustSendReset(t, h.secret, c.Email)
		resetPath := "/v1/contacts/" + reset + "/reset_password"
		for _, tc := range []struct {
			name        string
			path        string
			body        string
			contentType string
			status      int
			code, field string
		}{
			{"empty body", "/v1/contacts/login", "", "", 400, "malformed_json", "base"},
			{"not JSON", "/v1/contacts/login", "email=foo", "", 400, "malformed_json", "base"},
			{"truncated", "/v1/contacts/register", `{"client": {"email": "a@example.de"`, "", 400, "malformed_json", "base"},
			{"trailing data", "/v1/contacts/confirm", `{"confirmation_token": "x"} {}`, "", 400, "malformed_json", "base"},
			{"an array", "/v1/contacts/confirm", `["x"]`, "", 400, "malformed_json", "base"},
			{"invalid UTF-8", "/v1/contacts/send_password_reset", "{\"email\": \"\xff@example.de\"}", "", 400, "invalid_utf8", "base"},
			{"unknown top-level field", "/v1/contacts/send_password_reset", `{"email": "foo.bar@example.de", "redirect": "x"}`, "", 422, "validation_failed", "redirect"},
			{"unknown client field", "/v1/contacts/register", `{"client": {"email": "a@example.de", "password": "Ein-sicheres-Passwort-2030", "newsletter": true}}`, "", 422, "validation_failed", "newsletter"},
			{"field in another case", "/v1/contacts/login", `{"credentials": {"Email": "foo.bar@example.de", "password": "x"}}`, "", 422, "validation_failed", "Email"},
			{"repeated field", "/v1/contacts/login", `{"credentials": {"email": "a@example.de", "email": "foo.bar@example.de", "password": "x"}}`, "", 422, "validation_failed", "email"},
			{"register not nested", "/v1/contacts/register", `{"email": "a@example.de", "password": "Ein-sicheres-Passwort-2030"}`, "", 422, "validation_failed", "email"},
			{"register nested as login", "/v1/contacts/register", `{"credentials": {"email": "a@example.de", "password": "Ein-sicheres-Passwort-2030"}}`, "", 422, "validation_failed", "credentials"},
			{"register without client", "/v1/contacts/register", `{}`, "", 422, "validation_failed", "client"},
			{"register with client null", "/v1/contacts/register", `{"client": null}`, "", 422, "validation_failed", "client"},
			{"client a string", "/v1/contacts/register", `{"client": "a@example.de"}`, "", 422, "validation_failed", "client"},
			{"login without credentials", "/v1/contacts/login", `{}`, "", 422, "validation_failed", "credentials"},
			{"login nested as register", "/v1/contacts/login", `{"client": {"email": "foo.bar@example.de", "password": "x"}}`, "", 422, "validation_failed", "client"},
			{"reset not nested", resetPath, `{"password": "Ein-sicheres-Passwort-2030"}`, "", 422, "validation_failed", "password"},
			{"reset without client", resetPath, `{}`, "", 422, "validation_failed", "client"},
			{"send reset nested", "/v1/contacts/send_password_reset", `{"client": {"email": "foo.bar@example.de"}}`, "", 422, "validation_failed", "client"},
			{"confirm without token", "/v1/contacts/confirm", `{}`, "", 422, "validation_failed", "confirmation_token"},
			{"confirm token a number", "/v1/contacts/confirm", `{"confirmation_token": 123}`, "", 422, "validation_failed", "confirmation_token"},
			{"confirm token too long", "/v1/contacts/confirm", `{"confirmation_token": "` + strings.Repeat("a", 300) + `"}`, "", 422, "token_invalid", "confirmation_token"},
			{"register without email", "/v1/contacts/register", `{"client": {"password": "Ein-sicheres-Passwort-2030"}}`, "", 422, "validation_failed", "email"},
			{"register bad email", "/v1/contacts/register", `{"client": {"email": "foo.bar", "password": "Ein-sicheres-Passwort-2030"}}`, "", 422, "validation_failed", "email"},
			{"register without password", "/v1/contacts/register", `{"client": {"email": "a@example.de"}}`, "", 422, "validation_failed", "password"},
			{"register short password", "/v1/contacts/register", `{"client": {"email": "a@example.de", "password": "kurz"}}`, "", 422, "validation_failed", "password"},
			{"register common password", "/v1/contacts/register", `{"client": {"email": "a@example.de", "password": "password1"}}`, "", 422, "validation_failed", "password"},
			{"register password is email", "/v1/contacts/register", `{"client": {"email": "lang.genug@example.de", "password": "lang.genug@example.de"}}`, "", 422, "validation_failed", "password"},
			{"register mismatch", "/v1/contacts/register", `{"client": {"email": "a@example.de", "password": "Ein-sicheres-Passwort-2030", "password_confirmation": "Ein-sicheres-Passwort-2031"}}`, "", 422, "validation_failed", "password_confirmation"},
			{"register empty confirmation", "/v1/contacts/register", `{"client": {"email": "a@example.de", "password": "Ein-sicheres-Passwort-2030", "password_confirmation": ""}}`, "", 422, "validation_failed", "password_confirmation"},
			{"register long name", "/v1/contacts/register", `{"client": {"email": "a@example.de", "password": "Ein-sicheres-Passwort-2030", "first_name": "` + strings.Repeat("x", 101) + `"}}`, "", 422, "validation_failed", "first_name"},
			{"login without password", "/v1/contacts/login", `{"credentials": {"email": "foo.bar@example.de"}}`, "", 422, "validation_failed", "password"},
			{"login bad email", "/v1/contacts/login", `{"credentials": {"email": "foo", "password": "x"}}`, "", 422, "validation_failed", "email"},
			{"login password too long", "/v1/contacts/login", `{"credentials": {"email": "foo.bar@example.de", "password": "` + strings.Repeat("x", 257) + `"}}`, "", 422, "validation_failed", "password"},
			{"send reset without email", "/v1/contacts/send_password_reset", `{}`, "", 422, "validation_failed", "email"},
			{"reset short password", resetPath, `{"client": {"password": "kurz", "password_confirmation": "kurz"}}`, "", 422, "validation_failed", "password"},
			{"reset mismatch", resetPath, `{"client": {"password": "Ein-sicheres-Passwort-2030", "password_confirmation": "Ein-sicheres-Passwort-2031"}}`, "", 422, "validation_failed", "password_confirmation"},
			{"reset unknown token", "/v1/contacts/" + strings.Repeat("A", 43) + "/reset_password", `{"client": {"password": "Ein-sicheres-Passwort-2030"}}`, "", 422, "token_invalid", "token"},
			{"form body", "/v1/contacts/login", `credentials[email]=foo`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", "base"},
			{"Latin-1", "/v1/contacts/login", `{}`, "application/json; charset=iso-8859-1", 415, "unsupported_charset", "base"},
			{"too large", "/v1/contacts/register", `{"client": {"email": "a@example.de", "first_name": "` + strings.Repeat("x", 70<<10) + `"}}`, "", 413, "body_too_large", "base"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.Do(t, request{Method: http.MethodPost, Path: tc.path, Key: h.secret, Body: tc.body, ContentType: tc.contentType})
				mustError(t, r, tc.status, tc.code, tc.field)
			})
		}
		// Nothing was registered, and the reset token is still good.
		mustError(t, h.sendReset(t, h.secret, "a@example.de"), http.StatusNotFound, "customer_not_found", "email")
		mustClient(t, h.Do(t, request{Method: http.MethodPost, Path: resetPath, Key: h.secret,
			Body: `{"client": {"password": "` + newPassword + `"}}`}), 0, "Foo Bar")
	})
}

// TestKeys: every path wants a secret key of a tenant; a public key, a
// missing or unknown one is a 401 and changes nothing. Other methods are a
// 405 in this dialect's format.
func TestKeys(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		c := fooBar()
		paths := map[string]string{
			"/v1/contacts/register":             `{"client": {"email": "foo.bar@example.de", "password": "` + strongPassword + `"}}`,
			"/v1/contacts/confirm":              `{"confirmation_token": "x"}`,
			"/v1/contacts/login":                `{"credentials": {"email": "foo.bar@example.de", "password": "` + strongPassword + `"}}`,
			"/v1/contacts/send_password_reset":  `{"email": "foo.bar@example.de"}`,
			"/v1/contats/x/reset_password":      `{"client": {"password": "` + newPassword + `"}}`,
			"/v1/contacts/x/reset_password":     `{"client": {"password": "` + newPassword + `"}}`,
			"/v1/contacts/login?key=whatever":   `{}`,
			"/v1/contacts/register?api_key=abc": `{}`,
		}
		for path, body := range paths {
			for _, k := range []struct{ key, code string }{
				{"", "api_key_invalid"},
				{"pk_unknown", "api_key_invalid"},
				{h.public, "secret_key_required"},
			} {
				mustError(t, h.Post(t, k.key, path, body), http.StatusUnauthorized, k.code, "base")
			}
			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
				r := h.Do(t, request{Method: m, Path: path, Key: h.secret})
				mustError(t, r, http.StatusMethodNotAllowed, "method_not_allowed", "base")
				if r.Header.Get("Allow") != http.MethodPost {
					t.Errorf("%s: Allow %q", r, r.Header.Get("Allow"))
				}
			}
		}
		// Nothing was registered by the refused calls.
		mustError(t, h.sendReset(t, h.secret, c.Email), http.StatusNotFound, "customer_not_found", "email")
	})
}

// TestLoginForACustomer: a site's server that names its customer in
// X-Pforte-Customer-IP and X-Pforte-Customer-Agent gets the customer's
// network and browser into the audit log, not its own.
func TestLoginForACustomer(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		id := h.mustActive(t, h.secret, fooBar())
		header := http.Header{}
		header.Set("X-Pforte-Customer-IP", "2001:db8:aa:bb::1")
		header.Set("X-Pforte-Customer-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15")
		r := h.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/contacts/login", Key: h.secret, Header: header,
			Body: map[string]any{"credentials": map[string]string{"email": "foo.bar@example.de", "password": strongPassword}}})
		mustClient(t, r, id, "Foo Bar")
		c, err := h.svc.APIKeys.Authenticate(context.Background(), h.secret)
		if err != nil {
			t.Fatal(err)
		}
		events, err := h.svc.Audit.List(context.Background(), c, account.AuditQuery{Type: account.AuditLogin, CustomerID: id})
		if err != nil || len(events) != 1 {
			t.Fatalf("login events: %+v, %v", events, err)
		}
		if e := events[0]; e.ClientAddress != "2001:db8:aa::/48" || e.Detail["device"] != "Safari on macOS" {
			t.Errorf("the login's audit event: %+v, want the customer's network and browser", e)
		}
	})
}
