package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/pages"
	"pforte/internal/store/teststore"
)

// TestDiscovery checks the discovery document and the JWKS against what
// OpenID Connect Discovery 1.0 requires: the issuer equals the URL it was
// fetched under, every endpoint is under it, RS256 is supported, and the
// published keys carry kid, alg and use.
func TestDiscovery(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		b := newBrowser(t, h)
		issuer := h.Srv.URL + "/oidc/default"
		doc := jsonOf(t, b.do(http.MethodGet, issuer+"/.well-known/openid-configuration", nil).body)
		if doc["issuer"] != issuer {
			t.Errorf("issuer %v, want %s", doc["issuer"], issuer)
		}
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
			"end_session_endpoint", "revocation_endpoint"} {
			if u, _ := doc[k].(string); !strings.HasPrefix(u, issuer+"/") {
				t.Errorf("%s = %v, want it under %s", k, doc[k], issuer)
			}
		}
		for k, want := range map[string]string{"id_token_signing_alg_values_supported": "RS256",
			"code_challenge_methods_supported": "S256", "response_types_supported": "code",
			"subject_types_supported": "public", "grant_types_supported": "refresh_token",
			"scopes_supported": "openid", "claims_supported": "partner_ref"} {
			if !contains(doc[k], want) {
				t.Errorf("%s = %v, want it to hold %s", k, doc[k], want)
			}
		}
		if contains(doc["code_challenge_methods_supported"], "plain") {
			t.Errorf("plain PKCE is offered: %v", doc["code_challenge_methods_supported"])
		}
		// Only what the clients may use is offered.
		for k, want := range map[string]int{"response_types_supported": 1, "grant_types_supported": 2} {
			if list, _ := doc[k].([]any); len(list) != want {
				t.Errorf("%s = %v, want %d values", k, doc[k], want)
			}
		}
		if doc["device_authorization_endpoint"] != nil {
			t.Errorf("a device endpoint is offered: %v", doc["device_authorization_endpoint"])
		}
		jwks := jsonOf(t, b.do(http.MethodGet, doc["jwks_uri"].(string), nil).body)
		keys, _ := jwks["keys"].([]any)
		if len(keys) != 1 {
			t.Fatalf("jwks: %v, want one key", jwks)
		}
		key := keys[0].(map[string]any)
		if key["kid"] == "" || key["alg"] != "RS256" || key["use"] != "sig" || key["kty"] != "RSA" || key["d"] != nil {
			t.Errorf("jwk %v: want a public RS256 signing key with a kid", key)
		}
		// A real relying party agrees.
		if _, err := gooidc.NewProvider(context.Background(), issuer); err != nil {
			t.Errorf("go-oidc discovery: %v", err)
		}
		if r := b.do(http.MethodGet, h.Srv.URL+"/oidc/nobody/.well-known/openid-configuration", nil); r.status != http.StatusNotFound {
			t.Errorf("an unknown tenant's issuer: %d, want 404", r.status)
		}
	})
}

func contains(v any, want string) bool {
	list, _ := v.([]any)
	return slices.ContainsFunc(list, func(x any) bool { return x == want })
}

// TestCodeFlow is a site's whole login: discovery, the hosted login, the
// code redeemed with PKCE, the ID token and the access token verified
// against the JWKS, userinfo, and a second login that the page session
// answers without a form.
func TestCodeFlow(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		cust := h.MustSignUp(t, h.Secret, "ada@example.com", password)
		pref := "P-4711"
		if _, err := h.Svc.Customers.Update(context.Background(), secretCaller(t, h, account.DefaultTenant), cust.Customer.UUID,
			account.CustomerPatch{FirstName: ptr("Ada"), LastName: ptr("Lovelace"), PartnerRef: &pref, Locale: ptr("en")}); err != nil {
			t.Fatal(err)
		}
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		f := s.start()
		tk := s.mustExchange(f, code(t, f, b.login(f, "ada@example.com", password)))
		for claim, want := range map[string]any{"sub": cust.Customer.UUID, "email": "ada@example.com", "email_verified": true,
			"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace", "locale": "en", "partner_ref": "P-4711"} {
			if tk.claims[claim] != want {
				t.Errorf("ID token %s = %v, want %v", claim, tk.claims[claim], want)
			}
		}
		if tk.claims["sid"] == nil || tk.claims["auth_time"] == nil {
			t.Errorf("ID token without sid or auth_time: %v", tk.claims)
		}
		// The access token is a JWT a backend verifies offline.
		at, err := s.provider.Verifier(&gooidc.Config{ClientID: s.oauth.ClientID}).Verify(context.Background(), tk.AccessToken)
		if err != nil {
			t.Fatalf("access token against the JWKS: %v", err)
		}
		if at.Subject != cust.Customer.UUID || at.Issuer != s.issuer {
			t.Errorf("access token sub %s iss %s", at.Subject, at.Issuer)
		}
		if left := time.Until(at.Expiry); left > 10*time.Minute+5*time.Second || left < 9*time.Minute {
			t.Errorf("access token lives %s, want 10 minutes", left)
		}
		info, err := s.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tk.Token))
		if err != nil || info.Subject != cust.Customer.UUID || info.Email != "ada@example.com" || !info.EmailVerified {
			t.Fatalf("userinfo: %+v, %v", info, err)
		}
		// The login made a page session: a second login needs no form.
		f2 := s.start()
		back := b.back(b.follow(f2.authURL))
		tk2 := s.mustExchange(f2, code(t, f2, back))
		if tk2.idToken.Subject != cust.Customer.UUID {
			t.Errorf("second login's subject %s", tk2.idToken.Subject)
		}
		// prompt=login and max_age=0 ask for the password again.
		for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
			f3 := s.start(opt)
			p := b.follow(f3.authURL)
			if p.location != "" || !strings.Contains(p.body, `name="password"`) {
				t.Fatalf("%s: no login form: %d %s", f3.authURL, p.status, p.location)
			}
			s.mustExchange(f3, code(t, f3, b.back(b.submit(p, url.Values{"email": {"ada@example.com"}, "password": {password}}))))
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestCodeOnce: a code is redeemed once; of concurrent redemptions
// exactly one succeeds; a second use revokes what the first gave.
func TestCodeOnce(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		f := s.start()
		c := code(t, f, b.login(f, "ada@example.com", password))
		var won atomic.Int32
		var got []tokens
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				tk, err := s.exchange(f, c)
				switch {
				case err == nil:
					won.Add(1)
					mu.Lock()
					got = append(got, tk)
					mu.Unlock()
				case oauthError(err) != "invalid_grant":
					t.Errorf("exchange: %v", err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d of 8 concurrent redemptions succeeded, want 1", won.Load())
		}
		// The losers' replays revoked the grant: its refresh token and its
		// access token no longer work.
		if _, err := s.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: got[0].RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
			t.Errorf("refresh after a replayed code: %v, want invalid_grant", err)
		}
		if _, err := s.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(got[0].Token)); err == nil {
			t.Errorf("userinfo answers for a replayed code's access token")
		}
		// A code expires after 60 seconds.
		f2 := s.start()
		c2 := code(t, f2, b.login(f2, "ada@example.com", password))
		h.Clock.Advance(61 * time.Second)
		if _, err := s.exchange(f2, c2); oauthError(err) != "invalid_grant" {
			t.Errorf("an expired code: %v, want invalid_grant", err)
		}
	})
}

// TestRefreshRotation: each refresh spends its token for a new one; a
// spent token used again revokes the whole chain.
func TestRefreshRotation(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		f := s.start()
		first := s.mustExchange(f, code(t, f, b.login(f, "ada@example.com", password)))
		if first.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		refresh := func(rt string) (*oauth2.Token, error) {
			return s.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
		}
		second, err := refresh(first.RefreshToken)
		if err != nil || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
			t.Fatalf("refresh: %+v, %v", second, err)
		}
		third, err := refresh(second.RefreshToken)
		if err != nil {
			t.Fatalf("second refresh: %v", err)
		}
		// The first token again: a replay. The chain ends, the newest too.
		if _, err := refresh(first.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("replayed refresh token: %v, want invalid_grant", err)
		}
		if _, err := refresh(third.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("the chain's newest token after a replay: %v, want invalid_grant", err)
		}
		// Revocation ends a chain too.
		f2 := s.start()
		tk := s.mustExchange(f2, code(t, f2, b.login(f2, "ada@example.com", password)))
		revoke(t, s, tk.RefreshToken)
		if _, err := refresh(tk.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("refresh after revocation: %v, want invalid_grant", err)
		}
	})
}

func revoke(t *testing.T, s *site, token string) {
	t.Helper()
	var doc struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := s.provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, doc.Revocation, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.oauth.ClientID), url.QueryEscape(s.oauth.ClientSecret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
}

// TestSessionsEndGrants: logging out at the end-session endpoint ends the
// pforte session and its grants; so do a password reset and disabling.
func TestSessionsEndGrants(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		cust := h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		login := func() tokens {
			f := s.start()
			return s.mustExchange(f, code(t, f, b.login(f, "ada@example.com", password)))
		}
		dead := func(what string, tk tokens) {
			t.Helper()
			if _, err := s.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
				t.Errorf("%s: refresh = %v, want invalid_grant", what, err)
			}
			if _, err := s.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tk.Token)); err == nil {
				t.Errorf("%s: userinfo still answers", what)
			}
		}

		// RP-initiated logout.
		tk := login()
		var doc struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := s.provider.Claims(&doc); err != nil {
			t.Fatal(err)
		}
		q := url.Values{"id_token_hint": {tk.raw}, "post_logout_redirect_uri": {logoutURI}, "state": {"s1"}}
		p := b.do(http.MethodGet, doc.EndSession+"?"+q.Encode(), nil)
		if p.status != http.StatusFound || p.location != logoutURI+"?state=s1" {
			t.Fatalf("end session: %d %s\n%s", p.status, p.location, p.body)
		}
		dead("after logout", tk)
		if _, ok := b.cookies["__Host-pforte-default"]; ok {
			t.Errorf("the page session cookie outlived the logout")
		}
		// A logout URI the client did not register is an error page.
		q.Set("post_logout_redirect_uri", "https://evil.example/")
		if p := b.do(http.MethodGet, doc.EndSession+"?"+q.Encode(), nil); p.status != http.StatusBadRequest || p.location != "" ||
			!strings.Contains(p.body, "<html") {
			t.Errorf("unregistered logout URI: %d %q", p.status, p.location)
		}

		// A password reset ends every session, and so the grants.
		tk = login()
		c := secretCaller(t, h, account.DefaultTenant)
		if _, err := h.Svc.Customers.SetPassword(context.Background(), c, cust.Customer.UUID, "Ganz-Neue-Phrase-2031"); err != nil {
			t.Fatal(err)
		}
		dead("after a password change by the back office", tk)

		// Disabling ends them too.
		b = newBrowser(t, h)
		f := s.start()
		tk = s.mustExchange(f, code(t, f, b.login(f, "ada@example.com", "Ganz-Neue-Phrase-2031")))
		disabled := account.StateDisabled
		if _, err := h.Svc.Customers.Update(context.Background(), c, cust.Customer.UUID, account.CustomerPatch{State: &disabled}); err != nil {
			t.Fatal(err)
		}
		dead("after disabling", tk)
	})
}

// TestTenantsAreIssuers: a second tenant's tokens are refused by the
// first tenant's client, and its clients are unknown at the first's
// endpoints.
func TestTenantsAreIssuers(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		secret, _ := h.MustTenant(t, "other")
		h.MustSignUp(t, secret, "ada@example.com", password)
		ours := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		theirs := newSite(t, h, "other", "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		f := theirs.start()
		tk := theirs.mustExchange(f, code(t, f, b.login(f, "ada@example.com", password)))
		if _, err := ours.provider.Verifier(&gooidc.Config{ClientID: ours.oauth.ClientID}).Verify(context.Background(), tk.raw); err == nil {
			t.Errorf("our verifier takes the other tenant's ID token")
		}
		if _, err := ours.provider.Verifier(&gooidc.Config{SkipClientIDCheck: true}).Verify(context.Background(), tk.AccessToken); err == nil {
			t.Errorf("our verifier takes the other tenant's access token")
		}
		if _, err := ours.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tk.Token)); err == nil {
			t.Errorf("our userinfo answers the other tenant's access token")
		}
		// Their client, at our authorization endpoint, is unknown.
		cross := ours.oauth
		cross.ClientID = theirs.oauth.ClientID
		p := b.do(http.MethodGet, cross.AuthCodeURL("x", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
		if p.status != http.StatusBadRequest || p.location != "" {
			t.Errorf("another tenant's client: %d %s", p.status, p.location)
		}
	})
}

// TestStates: a pending customer cannot finish a login, a pending_active
// one can, a disabled one cannot; unknown address and wrong password
// answer alike.
func TestStates(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustRegister(t, h.Secret, "pending@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		try := func(email, pw string) page {
			f := s.start()
			return b.submit(b.follow(f.authURL), url.Values{"email": {email}, "password": {pw}})
		}
		if p := try("pending@example.com", password); p.location != "" || !strings.Contains(p.body, "confirm") {
			t.Errorf("pending: %d %s", p.status, p.location)
		}
		unknown, wrong := try("nobody@example.com", password), try("pending@example.com", "Falsche-Phrase-2030")
		if unknown.status != wrong.status || unknown.location != "" || wrong.location != "" {
			t.Errorf("unknown address %d, wrong password %d: want the same refusal", unknown.status, wrong.status)
		}
	})
}

// TestIssuerOnOwnHost: on a host name the tenant claims, its issuer is
// https://{host}/oidc, and every endpoint is under it.
func TestIssuerOnOwnHost(t *testing.T) {
	h := newHarness(t, teststore.SQLite)
	secret, _ := h.MustTenant(t, "shop")
	h.MustSetting(t, "shop", "hosts", "id.shop.example")
	h.MustSignUp(t, secret, "ada@example.com", password)
	req, _ := http.NewRequest(http.MethodGet, h.Srv.URL+"/oidc/.well-known/openid-configuration", nil)
	req.Host = "id.shop.example"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body := new(strings.Builder)
	_, _ = io.Copy(body, res.Body)
	doc := jsonOf(t, body.String())
	if doc["issuer"] != "https://id.shop.example/oidc" || doc["authorization_endpoint"] != "https://id.shop.example/oidc/authorize" {
		t.Errorf("discovery on the tenant's host: %v", doc)
	}
	// On the public URL's host the path names the tenant, as ever.
	if _, err := gooidc.NewProvider(context.Background(), h.Srv.URL+"/oidc/shop"); err != nil {
		t.Errorf("the tenant's issuer under the public URL: %v", err)
	}
}

// TestAuthorizeLimited: a client address that starts too many
// authorizations is refused with 429 and Retry-After, before anything is
// stored.
func TestAuthorizeLimited(t *testing.T) {
	h := newHarness(t, teststore.SQLite, apitest.WithClientLimit(60, 2))
	s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
	b := newBrowser(t, h)
	for i := range 3 {
		p := b.do(http.MethodGet, s.start().authURL, nil)
		switch {
		case i < 2 && p.status != http.StatusFound:
			t.Fatalf("authorization %d: %d", i, p.status)
		case i == 2 && p.status != http.StatusTooManyRequests:
			t.Fatalf("authorization over the limit: %d, want 429", p.status)
		}
	}
}

// TestResetContinuesAuthorization: a customer who forgot the password
// follows the login page's link, gets the mail, opens its link in the
// same browser and, with the new password set, lands back at the site.
func TestResetContinuesAuthorization(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay(), apitest.WithDefaultLinks(pages.LinkTemplates))
		h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		f := s.start()
		login := b.follow(f.authURL)
		forgot := b.follow(h.Srv.URL + regexpLink(t, login.body, "/p/default/forgot"))
		if !strings.Contains(forgot.url, "authorization=") {
			t.Fatalf("the forgot link lost the authorization: %s", forgot.url)
		}
		b.submit(forgot, url.Values{"email": {"ada@example.com"}})
		mails := apitest.MustMailsTo(t, h.SMTP, "ada@example.com", 2) // the confirmation, then the reset
		var link string
		for _, l := range apitest.Links(mails[len(mails)-1].Text) {
			if strings.Contains(l, "/reset?") {
				link = l
			}
		}
		if link == "" {
			t.Fatalf("no reset link in\n%s", mails[len(mails)-1].Text)
		}
		reset := b.follow(link)
		newPassword := "Ganz-Neue-Phrase-2031"
		back := b.back(b.submit(reset, url.Values{"password": {newPassword}, "password_confirmation": {newPassword}}))
		tk := s.mustExchange(f, code(t, f, back))
		if tk.claims["email"] != "ada@example.com" {
			t.Errorf("claims after the reset: %v", tk.claims)
		}
		// The cookie is spent: a later plain visit to a link page carries
		// no authorization.
		if _, ok := b.cookies["__Host-pforte.authz"]; ok {
			t.Errorf("the authorization cookie outlived its use")
		}
	})
}
