package api2auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// mustVerified registers username with email on tenant default, verifies
// it through the mail's link and returns the link.
func (h *harness) mustVerified(t *testing.T, username, email, pw string) verifyLink {
	t.Helper()
	n := h.mailsTo(email)
	h.mustRegister(t, "", username, email, pw)
	v := h.mustVerifyLink(t, email, n+1)
	mustOK(t, h.verify(t, "", v.username, v.token))
	return v
}

// mustForgot asks for a reset of email on tenant default and returns the
// JWT of the mail's link.
func (h *harness) mustForgot(t *testing.T, email string) string {
	t.Helper()
	n := h.mailsTo(email)
	mustOK(t, h.forgot(t, "", email))
	return h.mustResetToken(t, email, n+1, resetURL)
}

// TestBadInput: malformed, oversized and invalid requests to every path
// are a clear 4xx in the error document, never a 5xx, and change nothing:
// nothing is registered, and the tokens they carried stay usable.
func TestBadInput(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "jeff@example.com"
		h.mustRegister(t, "", "jeff", email, seedPassword)
		v := h.mustVerifyLink(t, email, 1)
		verifyPath := "/api/2/auth/jeff/verify.json?token=" + v.token

		const register = "/api/2/auth/register.json"
		long := strings.Repeat("x", 70<<10)
		for _, tc := range []struct {
			name, method, path, body, contentType string
			status                                int
			code, field                           string
		}{
			{"register: not JSON", "POST", register, `{username: "anna"}`, "", 400, "malformed_json", ""},
			{"register: empty body", "POST", register, ``, "application/json", 400, "malformed_json", ""},
			{"register: array", "POST", register, `[]`, "", 400, "malformed_json", ""},
			{"register: string", "POST", register, `"anna"`, "", 400, "malformed_json", ""},
			{"register: trailing data", "POST", register, `{"username": "anna", "email": "anna@example.com", "password": "Annas-Konto-2030"} {}`, "", 400, "malformed_json", ""},
			{"register: repeated key", "POST", register, `{"username": "anna", "username": "admin", "email": "anna@example.com", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "username"},
			{"register: key in another case", "POST", register, `{"Username": "anna", "email": "anna@example.com", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "Username"},
			{"register: wrong type", "POST", register, `{"username": 1, "email": "anna@example.com", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "username"},
			{"register: null username", "POST", register, `{"username": null, "email": "anna@example.com", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "username"},
			{"register: invalid UTF-8", "POST", register, "{\"username\": \"an\xffna\", \"email\": \"anna@example.com\", \"password\": \"Annas-Konto-2030\"}", "", 400, "invalid_utf8", ""},
			{"register: too large", "POST", register, `{"username": "` + long + `"}`, "", 413, "body_too_large", ""},
			{"register: Latin-1", "POST", register, `{}`, "application/json; charset=iso-8859-1", 415, "unsupported_charset", ""},
			{"register: no content type", "POST", register, `{}`, "-", 415, "unsupported_media_type", ""},
			{"register: username too long", "POST", register, `{"username": "` + strings.Repeat("a", 65) + `", "email": "anna@example.com", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "username"},
			{"register: username with a slash", "POST", register, `{"username": "anna/../admin", "email": "anna@example.com", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "username"},
			{"register: invalid email", "POST", register, `{"username": "anna", "email": "anna", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "email"},
			{"register: email with CRLF", "POST", register, `{"username": "anna", "email": "anna@example.com\r\nBcc: x@example.com", "password": "Annas-Konto-2030"}`, "", 400, "validation_failed", "email"},
			{"register: short password", "POST", register, `{"username": "anna", "email": "anna@example.com", "password": "kurz"}`, "", 400, "validation_failed", "password"},
			{"register: password too long", "POST", register, `{"username": "anna", "email": "anna@example.com", "password": "` + strings.Repeat("p", 5000) + `"}`, "", 400, "validation_failed", "password"},
			{"register: password is the address", "POST", register, `{"username": "anna", "email": "anna.maria@example.com", "password": "anna.maria@example.com"}`, "", 400, "validation_failed", "password"},
			{"verify: token twice", "GET", verifyPath + "&token=" + v.token, "", "", 400, "validation_failed", "token"},
			{"verify: garbage token", "GET", "/api/2/auth/jeff/verify.json?token=abc", "", "", 401, "token_invalid", ""},
			{"verify: the raw one-time token", "GET", "/api/2/auth/jeff/verify.json?token=" + jti(t, v.token), "", "", 401, "token_invalid", ""},
			{"verify: huge token", "GET", "/api/2/auth/jeff/verify.json?token=" + strings.Repeat("a", 6000), "", "", 401, "token_invalid", ""},
			{"verify: bad query escape", "GET", "/api/2/auth/jeff/verify.json?token=%zz", "", "", 401, "token_invalid", ""},
			{"forgot: not an address", "POST", "/api/2/auth/jeff/forgot.json", "", "", 400, "validation_failed", "email"},
			{"forgot: spaces", "POST", "/api/2/auth/jeff%20@example.com/forgot.json", "", "", 400, "validation_failed", "email"},
			{"forgot: CRLF", "POST", "/api/2/auth/jeff@example.com%0D%0ABcc:x@example.com/forgot.json", "", "", 400, "validation_failed", "email"},
			{"forgot: a name with the address", "POST", "/api/2/auth/Jeff%20%3Cjeff@example.com%3E/forgot.json", "", "", 400, "validation_failed", "email"},
			{"forgot: too long", "POST", "/api/2/auth/" + strings.Repeat("a", 300) + "@example.com/forgot.json", "", "", 400, "validation_failed", "email"},
			{"forgot: invalid UTF-8", "POST", "/api/2/auth/j%FFeff@example.com/forgot.json", "", "", 400, "validation_failed", "email"},
			{"resetpassword: no token", "PUT", "/api/2/auth/jeff/resetpassword.json", `{"password": "` + newPassword + `"}`, "", 401, "token_invalid", ""},
			{"resetpassword: a verify JWT", "PUT", "/api/2/auth/jeff/resetpassword.json?token=" + v.token, `{"password": "` + newPassword + `"}`, "", 401, "token_invalid", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.send(t, request{Method: tc.method, Path: tc.path, Body: bodyOf(tc.body), ContentType: tc.contentType}, "")
				mustError(t, r, tc.status, tc.code, tc.field)
			})
		}

		// None of them verified the address; the link still does.
		if r := h.Login(t, h.Public, email, seedPassword); r.Status != http.StatusForbidden {
			t.Errorf("login before verifying: %s, want 403", r)
		}
		mustOK(t, h.verify(t, "", "jeff", v.token))
		h.MustPassword(t, h.Public, email, seedPassword, "")

		// The reset path with a good JWT and bad bodies; the JWT survives.
		reset := h.mustForgot(t, email)
		resetPath := "/api/2/auth/jeff/resetpassword.json?token=" + reset
		for _, tc := range []struct {
			name, body, contentType string
			status                  int
			code, field             string
		}{
			{"not JSON", `{password: "x"}`, "", 400, "malformed_json", ""},
			{"empty body", ``, "application/json", 400, "malformed_json", ""},
			{"no password", `{}`, "", 400, "validation_failed", "password"},
			{"unknown field", `{"password": "` + newPassword + `", "password_confirmation": "` + newPassword + `"}`, "", 400, "validation_failed", "password_confirmation"},
			{"common password", `{"password": "12345678"}`, "", 400, "validation_failed", "password"},
			{"too long", `{"password": "` + strings.Repeat("p", 70<<10) + `"}`, "", 413, "body_too_large", ""},
			{"form body", `password=` + newPassword, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		} {
			t.Run("resetpassword: "+tc.name, func(t *testing.T) {
				r := h.send(t, request{Method: http.MethodPut, Path: resetPath, Body: bodyOf(tc.body), ContentType: tc.contentType}, "")
				mustError(t, r, tc.status, tc.code, tc.field)
			})
		}
		mustError(t, h.send(t, request{Method: http.MethodPut, Path: resetPath + "&token=" + reset, Body: `{"password": "` + newPassword + `"}`}, ""),
			http.StatusBadRequest, "validation_failed", "token")
		mustOK(t, h.resetPassword(t, "", "jeff", reset, newPassword))
		h.MustPassword(t, h.Public, email, newPassword, seedPassword)

		// Nothing was registered by the refused registrations.
		h.MustSetting(t, account.DefaultTenant, "api2.reveal_unknown_email", "true")
		for _, addr := range []string{"anna@example.com", "anna.maria@example.com"} {
			mustError(t, h.forgot(t, "", addr), http.StatusNotFound, "email_unknown", "")
		}
		h.mustNotLeak(t, v.token, reset)
	})
}

// bodyOf is a request body: none for "".
func bodyOf(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestTokensOnce: each JWT works once and for its own purpose only; a
// newer reset JWT voids the older one; a JWT refused because of the
// request (a weak password, another user in the path) stays usable.
func TestTokensOnce(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "jeff@example.com"
		h.mustRegister(t, "", "jeff", email, seedPassword)
		v := h.mustVerifyLink(t, email, 1)
		// A verification JWT is no reset JWT.
		mustError(t, h.resetPassword(t, "", "jeff", v.token, newPassword), http.StatusUnauthorized, "token_invalid", "")
		// Another user in the path: 404, and the link still works.
		mustError(t, h.verify(t, "", "john", v.token), http.StatusNotFound, "user_not_found", "")
		if ok := mustOK(t, h.verify(t, "", "JEFF", v.token)); ok.Username != "jeff" {
			t.Errorf("verified as %q, want jeff", ok.Username)
		}
		mustError(t, h.verify(t, "", "jeff", v.token), http.StatusBadRequest, "already_verified", "")

		older := h.mustForgot(t, email)
		reset := h.mustForgot(t, email)
		mustError(t, h.resetPassword(t, "", "jeff", older, newPassword), http.StatusUnauthorized, "token_invalid", "")
		// A reset JWT is no verification JWT.
		mustError(t, h.verify(t, "", "jeff", reset), http.StatusUnauthorized, "token_invalid", "")
		mustError(t, h.resetPassword(t, "", "john", reset, newPassword), http.StatusUnauthorized, "token_invalid", "")
		mustError(t, h.resetPassword(t, "", "jeff", reset, "12345678"), http.StatusBadRequest, "validation_failed", "password")
		mustOK(t, h.resetPassword(t, "", "jeff", reset, newPassword))
		mustError(t, h.resetPassword(t, "", "jeff", reset, "Noch-ein-Passwort-2032"), http.StatusUnauthorized, "token_invalid", "")
		h.MustPassword(t, h.Public, email, newPassword, "Noch-ein-Passwort-2032")
		h.mustNotLeak(t, v.token, older, reset)
	})
}

// TestExpiry: a verification JWT is good for 24 hours and a reset JWT for
// one, as the service's tokens they wrap; at their expiry, on the
// server's clock, they are a 401.
func TestExpiry(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, c := range []struct {
			name     string
			wait     time.Duration
			verified bool
		}{
			{"early", 24*time.Hour - time.Second, true},
			{"late", 24 * time.Hour, false},
		} {
			email := c.name + "@example.com"
			h.mustRegister(t, "", c.name, email, strongPassword)
			v := h.mustVerifyLink(t, email, 1)
			cl := readJWT(t, v.token).Claims
			if exp, iat := cl["exp"].(json.Number).String(), cl["iat"].(json.Number).String(); mustInt(t, exp)-mustInt(t, iat) != 24*3600 {
				t.Fatalf("verification JWT: iat %s, exp %s, want 24 h apart", iat, exp)
			}
			h.clock.Advance(c.wait)
			r := h.verify(t, "", c.name, v.token)
			if c.verified {
				mustOK(t, r)
			} else {
				mustError(t, r, http.StatusUnauthorized, "token_invalid", "")
				h.MustPassword(t, h.Public, "early@example.com", strongPassword, "")
				if r := h.Login(t, h.Public, email, strongPassword); r.Status == http.StatusCreated {
					t.Errorf("login after an expired verification: %s", r)
				}
			}
		}

		reset := h.mustForgot(t, "early@example.com")
		cl := readJWT(t, reset).Claims
		if exp, iat := cl["exp"].(json.Number).String(), cl["iat"].(json.Number).String(); mustInt(t, exp)-mustInt(t, iat) != 3600 {
			t.Fatalf("reset JWT: iat %s, exp %s, want 1 h apart", iat, exp)
		}
		h.clock.Advance(time.Hour)
		mustError(t, h.resetPassword(t, "", "early", reset, newPassword), http.StatusUnauthorized, "token_invalid", "")
		h.MustPassword(t, h.Public, "early@example.com", strongPassword, newPassword)
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// TestOtherTenant: the Host names the tenant (its port, case and final dot
// ignored); a JWT is good only at its own tenant's host, and at the public
// URL's host, where it acts for its own tenant; links lead to the public
// URL whatever the Host; an unknown Host is tenant default.
func TestOtherTenant(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "jeff@example.com"
		// The same address and username at both tenants: two customers.
		h.mustRegister(t, otherHost+":8443", "jeff", email, strongPassword)
		other := h.mustVerifyLink(t, email, 1)
		if cl := readJWT(t, other.token).Claims; cl["tenant"] != otherTenantSlug {
			t.Fatalf("claims %v", cl)
		}
		h.mustRegister(t, "Evil.Example", "jeff", email, seedPassword)
		def := h.mustVerifyLink(t, email, 2)
		if cl := readJWT(t, def.token).Claims; cl["tenant"] != account.DefaultTenant {
			t.Fatalf("an unknown host registered at %v, want default", cl["tenant"])
		}

		mustError(t, h.verify(t, "", "jeff", other.token), http.StatusUnauthorized, "token_invalid", "")
		mustError(t, h.verify(t, "evil.example", "jeff", other.token), http.StatusUnauthorized, "token_invalid", "")
		mustError(t, h.verify(t, otherHost, "jeff", def.token), http.StatusUnauthorized, "token_invalid", "")
		mustOK(t, h.verify(t, "ANDERE.example.", "jeff", other.token))
		// Tenant default's customer is still unverified.
		if r := h.Login(t, h.Public, email, seedPassword); r.Status != http.StatusForbidden {
			t.Fatalf("login at default: %s, want 403 email_not_confirmed", r)
		}
		// The links as mailed, to the public URL's host, which every
		// tenant's links share: each acts for the tenant its JWT names.
		mustOK(t, h.verify(t, publicHost+":443", "jeff", def.token))
		h.MustPassword(t, h.Public, email, seedPassword, strongPassword)
		h.mustRegister(t, otherHost, "anna", "anna@example.com", strongPassword)
		anna := h.mustVerifyLink(t, "anna@example.com", 1)
		mustOK(t, h.verify(t, publicHost, "anna", anna.token))
		if r := h.Login(t, h.Public, "anna@example.com", strongPassword); r.Status != http.StatusUnauthorized {
			t.Errorf("tenant andere's anna logs in at default: %s", r)
		}

		mustOK(t, h.forgot(t, otherHost, email))
		otherReset := h.mustResetToken(t, email, 3, otherResetURL)
		mustError(t, h.resetPassword(t, "", "jeff", otherReset, newPassword), http.StatusUnauthorized, "token_invalid", "")
		defReset := h.mustForgot(t, email)
		mustError(t, h.resetPassword(t, otherHost, "jeff", defReset, newPassword), http.StatusUnauthorized, "token_invalid", "")
		mustOK(t, h.resetPassword(t, publicHost, "jeff", otherReset, newPassword))
		// Tenant default's password did not change; its JWT still works.
		h.MustPassword(t, h.Public, email, seedPassword, newPassword)
		mustOK(t, h.resetPassword(t, "", "jeff", defReset, "Drittes-Passwort-2032"))
		h.MustPassword(t, h.Public, email, "Drittes-Passwort-2032", seedPassword)
		h.mustNotLeak(t, other.token, def.token, otherReset, defReset)
	})
}

// TestForgotSameAnswer: by default, forgot answers an unknown address, an
// address whose registration is not verified, a verified one and a
// disabled one the same (status, headers, body); only verified and
// unverified accounts get mail. With api2.reveal_unknown_email=true an
// unknown address is a 404.
func TestForgotSameAnswer(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustVerified(t, "jeff", "jeff@example.com", seedPassword)
		h.mustRegister(t, "", "anna", "anna@example.com", strongPassword)
		h.mustVerified(t, "gesperrt", "gesperrt@example.com", strongPassword)
		h.mustDisable(t, "gesperrt@example.com")

		addrs := []string{"jeff@example.com", "anna@example.com", "gesperrt@example.com", "nobody@example.com", "JEFF@example.com"}
		var want string
		for _, addr := range addrs {
			r := h.forgot(t, "", addr)
			mustOK(t, r)
			if got := apitest.Uniform(r); want == "" {
				want = got
			} else if got != want {
				t.Errorf("forgot %s:\n%s\nwant, as for %s:\n%s", addr, got, addrs[0], want)
			}
		}
		// Mail went only to the two accounts that may reset (jeff twice).
		h.mustResetToken(t, "jeff@example.com", 3, resetURL)
		h.mustResetToken(t, "anna@example.com", 2, resetURL)
		// The relay works in order: a mail queued after the others
		// arriving means those others had their chance.
		h.mustVerified(t, "marker", "marker@example.com", strongPassword)
		for addr, n := range map[string]int{"gesperrt@example.com": 1, "nobody@example.com": 0, "jeff@example.com": 3, "anna@example.com": 2} {
			if got := h.mailsTo(addr); got != n {
				t.Errorf("%d mails to %s, want %d", got, addr, n)
			}
		}

		h.MustSetting(t, account.DefaultTenant, "api2.reveal_unknown_email", "true")
		mustError(t, h.forgot(t, "", "nobody@example.com"), http.StatusNotFound, "email_unknown", "")
		mustOK(t, h.forgot(t, "", "jeff@example.com"))
		// The setting is the tenant's: tenant andere keeps the same answer.
		mustOK(t, h.forgot(t, otherHost, "nobody@example.com"))
	})
}

// mustDisable disables a customer of tenant default through the native
// admin API.
func (h *harness) mustDisable(t *testing.T, email string) {
	t.Helper()
	cust := h.mustCustomer(t, email)
	r := h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + cust.UUID, Key: h.Secret,
		Body: map[string]string{"state": "disabled"}})
	if r.Status != http.StatusOK {
		t.Fatalf("disable %s: %s", email, r)
	}
}

// TestFrontendRedirect: with api2.frontend_url, every answer of verify is
// a 303 to the frontend with verified and status appended to its own query
// (its fragment kept), and the body the JSON it would have answered.
func TestFrontendRedirect(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const front = "https://app.example/willkommen?from=mail#start"
		h.MustSetting(t, account.DefaultTenant, "api2.frontend_url", front)
		h.mustRegister(t, "", "jeff", "jeff@example.com", seedPassword)
		v := h.mustVerifyLink(t, "jeff@example.com", 1)

		for _, c := range []struct {
			name, username, token string
			verified              string
			status                int
			location              string
		}{
			{"unknown user", "john", v.token, "false", 404, "https://app.example/willkommen?from=mail&verified=false&status=404#start"},
			{"forged", "jeff", forge(v.token), "false", 401, "https://app.example/willkommen?from=mail&verified=false&status=401#start"},
			{"verified", "jeff", v.token, "true", 200, "https://app.example/willkommen?from=mail&verified=true&status=200#start"},
			{"again", "jeff", v.token, "false", 400, "https://app.example/willkommen?from=mail&verified=false&status=400#start"},
		} {
			r := h.verify(t, "", c.username, c.token)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != c.location {
				t.Fatalf("%s: %s, Location %q, want 303 to %s", c.name, r, r.Header.Get("Location"), c.location)
			}
			var body struct {
				Status int `json:"status"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil || body.Status != c.status {
				t.Errorf("%s: body %s, want status %d", c.name, r.Body, c.status)
			}
		}
		h.MustPassword(t, h.Public, "jeff@example.com", seedPassword, "")

		// A frontend URL without a query gets one; other paths answer JSON.
		h.MustSetting(t, account.DefaultTenant, "api2.frontend_url", "https://app.example/")
		r := h.verify(t, "", "jeff", v.token)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "https://app.example/?verified=false&status=400" {
			t.Fatalf("%s, Location %q", r, r.Header.Get("Location"))
		}
		mustOK(t, h.forgot(t, "", "jeff@example.com"))
		// Tenant andere has no frontend_url: JSON.
		mustError(t, h.verify(t, otherHost, "jeff", v.token), http.StatusUnauthorized, "token_invalid", "")

		// At the public URL's host the JWT's tenant is the one whose
		// frontend the browser goes to; with a refused JWT, the Host's.
		h.MustSetting(t, otherTenantSlug, "api2.frontend_url", "https://andere.example/da")
		h.mustRegister(t, otherHost, "anna", "anna@example.com", strongPassword)
		anna := h.mustVerifyLink(t, "anna@example.com", 1)
		for _, c := range []struct{ host, token, location string }{
			{publicHost, forge(anna.token), "https://app.example/?verified=false&status=401"},
			{otherHost, forge(anna.token), "https://andere.example/da?verified=false&status=401"},
			{publicHost, anna.token, "https://andere.example/da?verified=true&status=200"},
		} {
			r := h.verify(t, c.host, "anna", c.token)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != c.location {
				t.Errorf("%s at %s: Location %q, want %s", r, c.host, r.Header.Get("Location"), c.location)
			}
		}
	})
}

// TestMethods: other methods on the dialect's paths are a 405 in its
// error format with Allow. HEAD on verify is refused too, and consumes
// nothing: link checkers that only probe do not verify.
func TestMethods(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustRegister(t, "", "jeff", "jeff@example.com", seedPassword)
		v := h.mustVerifyLink(t, "jeff@example.com", 1)
		for path, allow := range map[string]string{
			"/api/2/auth/register.json":                             http.MethodPost,
			"/api/2/auth/jeff/verify.json?token=" + v.token:         http.MethodGet,
			"/api/2/auth/jeff@example.com/forgot.json":              http.MethodPost,
			"/api/2/auth/jeff/resetpassword.json?token=" + v.token:  http.MethodPut,
			"/api/2/auth/jeff%2Fx/resetpassword.json?token=x":       http.MethodPut,
			"/api/2/auth/jeff@example.com/forgot.json?email=x@y.de": http.MethodPost,
		} {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
				if m == allow {
					continue
				}
				r := h.send(t, request{Method: m, Path: path, Body: bodyOf(`{}`)}, "")
				mustError(t, r, http.StatusMethodNotAllowed, "method_not_allowed", "")
				if got := r.Header.Get("Allow"); got != allow {
					t.Errorf("%s: Allow %q, want %q", r, got, allow)
				}
			}
		}
		r := h.send(t, request{Method: http.MethodHead, Path: "/api/2/auth/jeff/verify.json?token=" + v.token}, "")
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != http.MethodGet {
			t.Fatalf("HEAD: %s, Allow %q", r, r.Header.Get("Allow"))
		}
		mustOK(t, h.verify(t, "", "jeff", v.token))
	})
}

// mustCustomer finds a customer of tenant default by address, as the
// service sees it.
func (h *harness) mustCustomer(t *testing.T, email string) account.Customer {
	t.Helper()
	ctx := context.Background()
	c, err := h.svc.APIKeys.Authenticate(ctx, h.Secret)
	if err != nil {
		t.Fatal(err)
	}
	cust, err := h.svc.Customers.ByEmail(ctx, c, email)
	if err != nil {
		t.Fatalf("customer %s: %v", email, err)
	}
	return cust
}

// TestConcurrentUse: of many concurrent uses of one verification link,
// exactly one verifies and the others answer already verified; of many
// concurrent resets with one JWT, exactly one sets its password and the
// others are a 401.
func TestConcurrentUse(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, n = "jeff@example.com", 8
		h.mustRegister(t, "", "jeff", email, seedPassword)
		v := h.mustVerifyLink(t, email, 1)
		statuses := h.concurrently(t, n, func(int) request {
			return request{Method: http.MethodGet, Path: "/api/2/auth/jeff/verify.json?token=" + v.token}
		})
		if statuses[http.StatusOK] != 1 || statuses[http.StatusBadRequest] != n-1 {
			t.Fatalf("concurrent verifications: %v, want one 200 and %d 400", statuses, n-1)
		}

		reset := h.mustForgot(t, email)
		statuses = h.concurrently(t, n, func(i int) request {
			return request{Method: http.MethodPut, Path: "/api/2/auth/jeff/resetpassword.json?token=" + reset,
				Body: map[string]string{"password": newPassword + "-" + strconv.Itoa(i)}}
		})
		if statuses[http.StatusOK] != 1 || statuses[http.StatusUnauthorized] != n-1 {
			t.Fatalf("concurrent resets: %v, want one 200 and %d 401", statuses, n-1)
		}
		won := 0
		for i := range n {
			// Past the throttling of the wrong passwords tried before.
			h.clock.Advance(2 * time.Hour)
			if h.Login(t, h.Public, email, newPassword+"-"+strconv.Itoa(i)).Status == http.StatusCreated {
				won++
			}
		}
		if won != 1 {
			t.Errorf("%d of the concurrent passwords log in, want 1", won)
		}
	})
}

// concurrently sends n requests at once to tenant default and counts the
// answers' statuses, after checking each.
func (h *harness) concurrently(t *testing.T, n int, req func(i int) request) map[int]int {
	t.Helper()
	var wg sync.WaitGroup
	out := make([]*response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = h.roundTrip(req(i), "")
		})
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	for i, r := range out {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		h.Check(t, r)
		statuses[r.Status]++
	}
	return statuses
}

// TestDisabledTenant: a tenant that has not turned the API on
// (api2.enabled) answers 404 on every path, for any Host, and a link it
// mailed while it was on stops working; other tenants are unaffected.
func TestDisabledTenant(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "off@example.com"
		h.mustRegister(t, "", "offline", email, seedPassword)
		v := h.mustVerifyLink(t, email, 1)

		h.MustSetting(t, account.DefaultTenant, "api2.enabled", "false")
		mustError(t, h.register(t, "", "someone", "someone@example.com", seedPassword), http.StatusNotFound, "not_found", "")
		mustError(t, h.send(t, request{Method: http.MethodPost, Path: "/api/2/auth/register.json", Body: "{not json"}, ""), http.StatusNotFound, "not_found", "")
		mustError(t, h.forgot(t, "", email), http.StatusNotFound, "not_found", "")
		mustError(t, h.verify(t, "", v.username, v.token), http.StatusNotFound, "not_found", "")
		mustError(t, h.send(t, request{Method: http.MethodGet, Path: strings.TrimPrefix(v.link, publicURL)}, publicHost), http.StatusNotFound, "not_found", "")
		mustError(t, h.resetPassword(t, "", "offline", v.token, seedNewPassword), http.StatusNotFound, "not_found", "")
		if h.mailsTo("someone@example.com") != 0 {
			t.Error("a disabled tenant sent mail")
		}
		// Another tenant that turned it on still serves.
		mustOK(t, h.register(t, otherHost, "andere", "andere@example.com", seedPassword))

		// Turned on again, the link works: nothing was spent meanwhile.
		h.MustSetting(t, account.DefaultTenant, "api2.enabled", "true")
		mustOK(t, h.verify(t, "", v.username, v.token))
	})
}

// TestClientLimit: requests beyond a client's burst answer 429 with
// Retry-After in this dialect's error document, and send no mail.
func TestClientLimit(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithClientLimit(60, 2))
		mustOK(t, h.forgot(t, "", "a@example.com"))
		mustOK(t, h.forgot(t, "", "b@example.com"))
		r := h.register(t, "", "limited", "limited@example.com", seedPassword)
		mustError(t, r, http.StatusTooManyRequests, "too_many_requests", "")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After: %v", r.Header)
		}
		h.Clock.Advance(2 * time.Second)
		mustOK(t, h.register(t, "", "limited", "limited@example.com", seedPassword))
	})
}
