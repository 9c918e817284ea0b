package api2auth_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// mustClaims checks a JWT's header and claims as the README documents
// them, and returns its sub.
func mustClaims(t *testing.T, raw, tenant, purpose, username string, ttl int64) string {
	t.Helper()
	c := readJWT(t, raw)
	if c.Alg != "HS256" || c.Typ != "JWT" {
		t.Errorf("JWT header alg %q typ %q", c.Alg, c.Typ)
	}
	cl := c.Claims
	for k, want := range map[string]string{"tenant": tenant, "purpose": purpose, "username": username, "iss": publicURL} {
		if cl[k] != want {
			t.Errorf("JWT claim %s = %v, want %q", k, cl[k], want)
		}
	}
	sub, _ := cl["sub"].(string)
	if !uuidShape.MatchString(sub) {
		t.Errorf("JWT sub %v is not a uuid", cl["sub"])
	}
	jti(t, raw)
	if exp, iat := mustNumber(t, cl["exp"]), mustNumber(t, cl["iat"]); exp-iat != ttl {
		t.Errorf("JWT exp - iat = %d, want %d", exp-iat, ttl)
	}
	if len(cl) != 8 {
		t.Errorf("JWT claims %v, want exactly tenant, purpose, username, iss, sub, iat, exp, jti", cl)
	}
	return sub
}

func mustNumber(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(interface{ Int64() (int64, error) })
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// TestWalk is a site's whole life with /api/2/auth over real SMTP:
// register; the mail carries the verify link under the public URL (not
// the request's Host); GET it: verified; log in through the native API;
// forgot; the mail's reset link carries a JWT; PUT resetpassword; log in
// with the new password, the old one refused; the "password changed"
// mail. No JWT and no token reaches the log or any other answer.
func TestWalk(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email = "jeff@example.com"
		r := h.send(t, request{Method: http.MethodPost, Path: "/api/2/auth/register.json",
			Body: map[string]string{"username": "jeff", "email": email, "password": seedPassword}}, "www.shop.example",
			"Accept-Language", "en-GB,en;q=0.9", "X-Forwarded-Host", "evil.example")
		mustOK(t, r)
		m := h.mustMail(t, email, 1)
		if m.Subject != "Please confirm your registration" {
			t.Errorf("subject %q: the registration's Accept-Language was not used", m.Subject)
		}
		v := h.mustVerifyLink(t, email, 1)
		if v.username != "jeff" {
			t.Fatalf("link %s names %q", v.link, v.username)
		}
		sub := mustClaims(t, v.token, "default", "confirm", "jeff", 24*3600)
		if r := h.Login(t, h.Public, email, seedPassword); r.Status != http.StatusForbidden {
			t.Fatalf("login before verifying: %s, want 403", r)
		}

		// The link as a browser opens it: at the public URL's host.
		mustOK(t, h.send(t, request{Method: http.MethodGet, Path: strings.TrimPrefix(v.link, publicURL)}, publicHost))
		if cust := h.mustCustomer(t, email); cust.UUID != sub || cust.Username != "jeff" || cust.EmailConfirmedAt == nil || cust.State != "active" {
			t.Fatalf("after verifying: %+v, want %s, jeff, confirmed, active", cust, sub)
		}
		h.MustPassword(t, h.Public, email, seedPassword, seedNewPassword)

		mustOK(t, h.forgot(t, "", email))
		m = h.mustMail(t, email, 2)
		if m.Subject != "Reset your password" {
			t.Errorf("reset mail %q", m.Subject)
		}
		reset := h.mustResetToken(t, email, 2, resetURL)
		if got := mustClaims(t, reset, "default", "reset", "jeff", 3600); got != sub {
			t.Errorf("reset JWT sub %s, want %s", got, sub)
		}
		mustOK(t, h.resetPassword(t, "", "jeff", reset, seedNewPassword))
		h.MustPassword(t, h.Public, email, seedNewPassword, seedPassword)
		if m := h.mustMail(t, email, 3); m.Subject != "Your password was changed" {
			t.Errorf("third mail %q, want the password change notice", m.Subject)
		}

		h.mustNotLeak(t, v.token, reset)
		logs := h.logs.String()
		for _, route := range []string{"POST /api/2/auth/register.json", "GET /api/2/auth/{username}/verify.json",
			"POST /api/2/auth/{email}/forgot.json", "PUT /api/2/auth/{username}/resetpassword.json"} {
			if !strings.Contains(logs, route) {
				t.Errorf("the access log lacks route %s", route)
			}
		}
		// The address is in the path of forgot; the log names the route.
		if strings.Contains(logs, "jeff@example.com/forgot") {
			t.Error("a path with an address reached the log")
		}
	})
}

// TestPublicRegistration: registering never tells whether the address or
// the username is taken. A second registration of a pending address gets
// its own link; an address with an account gets a mail with a reset link
// instead, which works; a username is the first verifier's, and a later
// verifier of the same name is verified without it and uses its uuid in
// the paths.
func TestPublicRegistration(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		first := h.register(t, "", "jeff", "jeff@example.com", seedPassword)
		mustOK(t, first)
		want := apitest.Uniform(first)
		for _, c := range []struct{ username, email, pw string }{
			{"jeff", "jeff@example.com", strongPassword},  // the same again, pending
			{"jeff", "other@example.com", strongPassword}, // the username again
			{"anna", "jeff@example.com", strongPassword},  // the address again, another name
		} {
			if got := apitest.Uniform(h.register(t, "", c.username, c.email, c.pw)); got != want {
				t.Errorf("register %s %s:\n%s\nwant\n%s", c.username, c.email, got, want)
			}
		}
		// jeff@example.com has three links; the last one wins the name anna.
		h.mustVerifyLink(t, "jeff@example.com", 1)
		h.mustVerifyLink(t, "jeff@example.com", 2)
		anna := h.mustVerifyLink(t, "jeff@example.com", 3)
		other := h.mustVerifyLink(t, "other@example.com", 1)
		if anna.username != "anna" || other.username != "jeff" {
			t.Fatalf("links name %q and %q", anna.username, other.username)
		}
		if ok := mustOK(t, h.verify(t, "", "anna", anna.token)); ok.Username != "anna" {
			t.Errorf("verified as %q, want anna", ok.Username)
		}
		// The last registration's password is the account's.
		h.MustPassword(t, h.Public, "jeff@example.com", strongPassword, seedPassword)
		if ok := mustOK(t, h.verify(t, "", "jeff", other.token)); ok.Username != "jeff" {
			t.Errorf("verified as %q, want jeff", ok.Username)
		}

		// Registering a verified address: the same answer, and its owner
		// gets a reset link for the name it has.
		if got := apitest.Uniform(h.register(t, "", "mallory", "jeff@example.com", "Mallorys-Passwort-2030")); got != want {
			t.Errorf("register a verified address:\n%s\nwant\n%s", got, want)
		}
		attempt := h.mustMail(t, "jeff@example.com", 4)
		if attempt.Subject != "Registrierung mit Ihrer E-Mail-Adresse" {
			t.Fatalf("mail %q, want the registration attempt notice", attempt.Subject)
		}
		reset := h.mustResetToken(t, "jeff@example.com", 4, resetURL)
		mustClaims(t, reset, "default", "reset", "anna", 3600)
		mustOK(t, h.resetPassword(t, "", "anna", reset, newPassword))
		h.MustPassword(t, h.Public, "jeff@example.com", newPassword, "Mallorys-Passwort-2030")

		// A third address asks for jeff, taken since: verified without a
		// username; its paths name its uuid.
		mustOK(t, h.register(t, "", "jeff", "third@example.com", strongPassword))
		third := h.mustVerifyLink(t, "third@example.com", 1)
		if ok := mustOK(t, h.verify(t, "", "jeff", third.token)); ok.Username != "" {
			t.Errorf("verified with the taken name %q", ok.Username)
		}
		cust := h.mustCustomer(t, "third@example.com")
		if cust.Username != "" || cust.EmailConfirmedAt == nil {
			t.Fatalf("third customer %+v", cust)
		}
		mustOK(t, h.forgot(t, "", "third@example.com"))
		reset = h.mustResetToken(t, "third@example.com", 2, resetURL)
		mustClaims(t, reset, "default", "reset", cust.UUID, 3600)
		mustError(t, h.resetPassword(t, "", "jeff", reset, newPassword), http.StatusUnauthorized, "token_invalid", "")
		mustOK(t, h.resetPassword(t, "", cust.UUID, reset, newPassword))
		h.MustPassword(t, h.Public, "third@example.com", newPassword, strongPassword)
	})
}

// TestResetWithoutResetURL: a tenant without reset_url or endpoint gets
// reset mails without a link, which show the reset JWT (the form this API
// takes), never the raw one-time token it wraps.
func TestResetWithoutResetURL(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSetting(t, account.DefaultTenant, "reset_url", "")
		const email = "linkless@example.com"
		h.mustRegister(t, "", "linkless", email, seedPassword)
		v := h.mustVerifyLink(t, email, 1)
		mustOK(t, h.verify(t, "", v.username, v.token))

		mustOK(t, h.forgot(t, "", email))
		m := h.mustMail(t, email, 2)
		if strings.Contains(m.Text, "https://") {
			t.Fatalf("a reset mail without reset_url has a link:\n%s", m.Text)
		}
		shown := regexp.MustCompile(`[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`).FindString(m.Text)
		if shown == "" {
			t.Fatalf("the reset mail shows no JWT:\n%s", m.Text)
		}
		if strings.Contains(m.Text, jti(t, shown)) {
			t.Fatal("the mail shows the raw one-time token")
		}
		mustClaims(t, shown, "default", "reset", "linkless", 3600)
		mustOK(t, h.resetPassword(t, "", "linkless", shown, seedNewPassword))
		h.MustPassword(t, h.Public, email, seedNewPassword, seedPassword)
	})
}
