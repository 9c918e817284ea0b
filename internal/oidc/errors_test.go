package oidc_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestBadAuthorizations: what the authorization endpoint cannot trust is
// a page, never a redirect; what it can (a registered redirect URI) gets
// the error the specifications define at that URI.
func TestBadAuthorizations(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		pub := newSite(t, h, account.DefaultTenant, "app", account.ClientPublic)
		b := newBrowser(t, h)
		authorize := s.provider.Endpoint().AuthURL
		valid := url.Values{"client_id": {s.oauth.ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}}
		with := func(changes map[string]string) string {
			q := url.Values{}
			for k, v := range valid {
				q[k] = v
			}
			for k, v := range changes {
				if v == "" {
					q.Del(k)
				} else {
					q.Set(k, v)
				}
			}
			return authorize + "?" + q.Encode()
		}
		for name, target := range map[string]string{
			"unknown client":             with(map[string]string{"client_id": "pfc_nobody"}),
			"no client":                  with(map[string]string{"client_id": ""}),
			"unregistered redirect URI":  with(map[string]string{"redirect_uri": "https://evil.example/cb"}),
			"redirect URI with a suffix": with(map[string]string{"redirect_uri": redirectURI + "/x"}),
			"no redirect URI":            with(map[string]string{"redirect_uri": ""}),
			"token response type":        with(map[string]string{"response_type": "token"}),
		} {
			p := b.do(http.MethodGet, target, nil)
			if p.status != http.StatusBadRequest || p.location != "" || !strings.Contains(p.body, "<html") ||
				!strings.Contains(p.body, "made a login request we cannot accept") {
				t.Errorf("%s: %d %q, want the error page\n%s", name, p.status, p.location, p.body)
			}
		}
		for name, tc := range map[string]struct {
			target, error string
		}{
			"public client without PKCE": {with(map[string]string{"client_id": pub.oauth.ClientID}), "invalid_request"},
			"plain PKCE":                 {with(map[string]string{"code_challenge": "abc", "code_challenge_method": "plain"}), "invalid_request"},
			"no scope":                   {with(map[string]string{"scope": ""}), "invalid_request"},
			"prompt none and login":      {with(map[string]string{"prompt": "none login"}), "invalid_request"},
		} {
			p := b.do(http.MethodGet, tc.target, nil)
			u, _ := url.Parse(p.location)
			if p.status != http.StatusFound || !strings.HasPrefix(p.location, redirectURI+"?") ||
				u.Query().Get("error") != tc.error || u.Query().Get("state") != "st" {
				t.Errorf("%s: %d %q, want a redirect with error=%s", name, p.status, p.location, tc.error)
			}
		}
		// prompt=none without a session is sent back: a login is needed.
		p := b.follow(with(map[string]string{"prompt": "none"}))
		if u, _ := url.Parse(p.location); u == nil || u.Query().Get("error") != "login_required" || u.Query().Get("state") != "st" {
			t.Errorf("prompt=none without a session: %d %q", p.status, p.location)
		}
		// An authorization the login page does not know is a page too.
		if p := b.do(http.MethodGet, h.Srv.URL+"/p/default/login?authorization=nope", nil); p.status != http.StatusBadRequest ||
			!strings.Contains(p.body, "This login has expired") {
			t.Errorf("unknown authorization: %d\n%s", p.status, p.body)
		}
	})
}

// TestBadTokenRequests: each bad request at the token endpoint gets the
// OAuth error its specification defines, and spends nothing it should
// not.
func TestBadTokenRequests(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		other := newSite(t, h, account.DefaultTenant, "blog", account.ClientConfidential)
		b := newBrowser(t, h)
		tokenURL := s.provider.Endpoint().TokenURL
		post := func(form url.Values, user, pass string) (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if user != "" {
				req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			return res.StatusCode, jsonOf(t, string(body))
		}
		f := s.start()
		c := code(t, f, b.login(f, "ada@example.com", password))
		exchange := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirectURI}, "code_verifier": {f.verifier}}
		for name, tc := range map[string]struct {
			form       url.Values
			user, pass string
			status     int
			error      string
		}{
			"wrong secret":         {exchange, s.oauth.ClientID, "wrong", http.StatusUnauthorized, "invalid_client"},
			"unknown client":       {exchange, "pfc_nobody", "x", http.StatusUnauthorized, "invalid_client"},
			"no grant type":        {url.Values{"code": {c}}, s.oauth.ClientID, s.oauth.ClientSecret, http.StatusBadRequest, "invalid_request"},
			"unknown grant type":   {url.Values{"grant_type": {"password"}}, s.oauth.ClientID, s.oauth.ClientSecret, http.StatusBadRequest, "unsupported_grant_type"},
			"no code":              {url.Values{"grant_type": {"authorization_code"}}, s.oauth.ClientID, s.oauth.ClientSecret, http.StatusBadRequest, "invalid_request"},
			"made-up code":         {url.Values{"grant_type": {"authorization_code"}, "code": {"made-up"}, "redirect_uri": {redirectURI}}, s.oauth.ClientID, s.oauth.ClientSecret, http.StatusBadRequest, "invalid_grant"},
			"made-up refresh":      {url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"made-up"}}, s.oauth.ClientID, s.oauth.ClientSecret, http.StatusBadRequest, "invalid_grant"},
			"client credentials":   {url.Values{"grant_type": {"client_credentials"}}, s.oauth.ClientID, s.oauth.ClientSecret, http.StatusBadRequest, "unsupported_grant_type"},
			"no client credential": {exchange, "", "", http.StatusUnauthorized, "invalid_client"},
		} {
			status, doc := post(tc.form, tc.user, tc.pass)
			if status != tc.status || doc["error"] != tc.error {
				t.Errorf("%s: %d %v, want %d %s", name, status, doc, tc.status, tc.error)
			}
		}
		// Failed client authentication spent nothing: the code is still
		// good for its own client.
		s.mustExchange(f, c)
		// Another client's code, the wrong verifier, the wrong redirect URI.
		for name, mutate := range map[string]func(f *flow, cfg *oauth2.Config){
			"another client":   func(_ *flow, cfg *oauth2.Config) { *cfg = other.oauth },
			"wrong verifier":   func(f *flow, _ *oauth2.Config) { f.verifier = oauth2.GenerateVerifier() },
			"wrong redirect":   func(_ *flow, cfg *oauth2.Config) { cfg.RedirectURL = redirectURI + "?x=1" },
			"missing verifier": func(f *flow, _ *oauth2.Config) { f.verifier = "" },
		} {
			f := s.start()
			c := code(t, f, b.login(f, "ada@example.com", password))
			cfg := s.oauth
			mutate(&f, &cfg)
			opts := []oauth2.AuthCodeOption{}
			if f.verifier != "" {
				opts = append(opts, oauth2.VerifierOption(f.verifier))
			}
			_, err := cfg.Exchange(context.Background(), c, opts...)
			if e := oauthError(err); e != "invalid_grant" && e != "invalid_request" {
				t.Errorf("%s: %v, want invalid_grant or invalid_request", name, err)
			}
		}
		// A body over the limit is refused before it is read whole.
		status, _ := post(url.Values{"grant_type": {"authorization_code"}, "code": {strings.Repeat("x", 128<<10)}}, s.oauth.ClientID, s.oauth.ClientSecret)
		if status != http.StatusBadRequest {
			t.Errorf("a 128 KiB body: %d, want 400", status)
		}
	})
}

// TestPublicClient: a public client proves itself with PKCE alone.
func TestPublicClient(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		cust := h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "app", account.ClientPublic)
		b := newBrowser(t, h)
		f := s.start()
		tk := s.mustExchange(f, code(t, f, b.login(f, "ada@example.com", password)))
		if tk.idToken.Subject != cust.Customer.UUID || tk.RefreshToken == "" {
			t.Errorf("public client: sub %s, refresh %q", tk.idToken.Subject, tk.RefreshToken)
		}
		next, err := s.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tk.RefreshToken}).Token()
		if err != nil || next.RefreshToken == tk.RefreshToken {
			t.Errorf("public client refresh: %v", err)
		}
	})
}

// TestPromptCreate: prompt=create opens registration; its link back to
// the login carries the authorization without looping.
func TestPromptCreate(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		f := s.start(oauth2.SetAuthURLParam("prompt", "create"))
		p := b.follow(f.authURL)
		if !strings.Contains(p.url, "/p/default/register?") || !strings.Contains(p.body, `name="password_confirmation"`) {
			t.Fatalf("prompt=create: %s\n%s", p.url, p.body)
		}
		login := regexpLink(t, p.body, "/p/default/login")
		lp := b.follow(h.Srv.URL + login)
		back := b.back(b.submit(lp, url.Values{"email": {"ada@example.com"}, "password": {password}}))
		s.mustExchange(f, code(t, f, back))
	})
}

func regexpLink(t *testing.T, body, prefix string) string {
	t.Helper()
	i := strings.Index(body, `href="`+prefix)
	if i < 0 {
		t.Fatalf("no link to %s in\n%s", prefix, body)
	}
	rest := body[i+len(`href="`):]
	link := rest[:strings.Index(rest, `"`)]
	return strings.ReplaceAll(link, "&amp;", "&")
}

// TestKeyRotation: a rotated key signs the next tokens; the old one stays
// in the JWKS, so tokens it signed still verify.
func TestKeyRotation(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSignUp(t, h.Secret, "ada@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		b := newBrowser(t, h)
		f := s.start()
		before := s.mustExchange(f, code(t, f, b.login(f, "ada@example.com", password)))
		tenant, err := h.Svc.Tenants.BySlug(context.Background(), account.DefaultTenant)
		if err != nil {
			t.Fatal(err)
		}
		var last tokens
		for _, alg := range []string{account.AlgES256, account.AlgEdDSA} {
			if _, err := h.Svc.SigningKeys.Rotate(context.Background(), tenant, alg); err != nil {
				t.Fatal(err)
			}
			// Discovery now offers the new algorithm too.
			if s.provider, err = gooidc.NewProvider(context.Background(), s.issuer); err != nil {
				t.Fatal(err)
			}
			f := s.start()
			p := b.follow(f.authURL)
			tk := s.mustExchange(f, code(t, f, b.back(p)))
			if tk.idToken == nil {
				t.Fatalf("%s: no ID token", alg)
			}
			header := jsonOf(t, decodeSegment(t, strings.Split(tk.raw, ".")[0]))
			if header["alg"] != alg {
				t.Errorf("after rotating to %s the ID token is signed with %v", alg, header["alg"])
			}
			// The provider verifies its own tokens of every algorithm.
			if _, err := s.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tk.Token)); err != nil {
				t.Errorf("userinfo with a %s access token: %v", alg, err)
			}
			last = tk
		}
		if _, err := s.provider.Verifier(&gooidc.Config{ClientID: s.oauth.ClientID}).Verify(context.Background(), before.raw); err != nil {
			t.Errorf("an ID token of the retired key: %v", err)
		}
		keys := jsonOf(t, b.do(http.MethodGet, s.issuer+"/keys", nil).body)["keys"].([]any)
		if len(keys) != 3 {
			t.Errorf("JWKS has %d keys, want the signing one and two retired ones", len(keys))
		}
		// Past the overlap, the retired keys leave the JWKS. The browser
		// uses its page session meanwhile, so that the logout below has
		// a live one to end.
		for passed := time.Duration(0); passed <= account.KeyOverlap; passed += 20 * time.Minute {
			h.Clock.Advance(20 * time.Minute)
			if p := b.do(http.MethodGet, h.Srv.URL+"/p/default/account", nil); p.status != http.StatusOK {
				t.Fatalf("the account page while the keys age: %d", p.status)
			}
		}
		keys = jsonOf(t, b.do(http.MethodGet, s.issuer+"/keys", nil).body)["keys"].([]any)
		if len(keys) != 1 || keys[0].(map[string]any)["alg"] != "EdDSA" {
			t.Errorf("JWKS past the overlap: %v", keys)
		}
		// A site's logout may send an ID token of a key that is no longer
		// published: it still ends the session.
		var doc struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := s.provider.Claims(&doc); err != nil {
			t.Fatal(err)
		}
		q := url.Values{"id_token_hint": {before.raw}, "post_logout_redirect_uri": {logoutURI}}
		if p := b.do(http.MethodGet, doc.EndSession+"?"+q.Encode(), nil); p.status != http.StatusFound || p.location != logoutURI {
			t.Errorf("logout with a retired key's ID token: %d %q", p.status, p.location)
		}
		// An EdDSA hint, with a state but nowhere to return to, ends on
		// the hosted login page.
		q = url.Values{"id_token_hint": {last.raw}, "state": {"s"}}
		if p := b.do(http.MethodGet, doc.EndSession+"?"+q.Encode(), nil); p.status != http.StatusFound || !strings.HasSuffix(p.location, "/p/default/login?done=logout") {
			t.Errorf("logout with an EdDSA ID token and no redirect: %d %q", p.status, p.location)
		}
		if _, ok := b.cookies["__Host-pforte-default"]; ok {
			t.Errorf("the page session outlived the logout")
		}
	})
}

func decodeSegment(t *testing.T, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoServerErrors: junk at every endpoint, in the query, the form or
// the credentials, is a 4xx, never a 5xx.
func TestNoServerErrors(t *testing.T) {
	apitest.EachParallel(t, testNoServerErrors)
}

func testNoServerErrors(t *testing.T, open teststore.Opener) {
	h := newHarness(t, open)
	s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
	pub := newSite(t, h, account.DefaultTenant, "app", account.ClientPublic)
	b := newBrowser(t, h)
	// NUL and invalid UTF-8, which PostgreSQL refuses in text, wherever
	// a value reaches the database.
	authorize := url.Values{"client_id": {s.oauth.ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}}
	for _, field := range []string{"state", "nonce", "login_hint", "code_challenge", "ui_locales", "response_mode"} {
		for _, junk := range []string{"a\x00b", "\xff\xfe"} {
			q := url.Values{}
			for k, v := range authorize {
				q[k] = v
			}
			q.Set(field, junk)
			if field == "code_challenge" {
				q.Set("code_challenge_method", "S256")
			}
			// ui_locales is a preference: a tag that does not parse is
			// dropped. Every other field is refused.
			p := b.do(http.MethodGet, s.issuer+"/authorize?"+q.Encode(), nil)
			if p.status >= 500 || (field != "ui_locales" && p.status == http.StatusFound && !strings.Contains(p.location, "error=")) {
				t.Errorf("%s=%q: %d %s", field, junk, p.status, p.location)
			}
		}
	}
	for _, target := range []string{"/p/default/login?authorization=%00", "/p/default/login?authorization=%ff", "/p/default/register?authorization=a%00b"} {
		if p := b.do(http.MethodGet, h.Srv.URL+target, nil); p.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", target, p.status)
		}
	}
	for _, body := range []string{"client_id=" + pub.oauth.ClientID + "&token=%00", "client_id=%00&token=x", "client_id=pfc_%ff&token=x"} {
		req, _ := http.NewRequest(http.MethodPost, s.issuer+"/revoke", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Errorf("revoke %q: %d", body, res.StatusCode)
		}
	}
	for _, q := range []string{"?client_id=%00", "?client_id=" + s.oauth.ClientID + "&id_token_hint=%00", "?state=%00&client_id=pfc_%ff"} {
		if p := b.do(http.MethodGet, s.issuer+"/end_session"+q, nil); p.status >= 500 {
			t.Errorf("end_session%s: %d", q, p.status)
		}
	}
	paths := []string{"/.well-known/openid-configuration", "/keys", "/authorize", "/authorize/callback", "/oauth/token",
		"/userinfo", "/oauth/introspect", "/revoke", "/end_session", "/nothing", "/device_authorization"}
	bodies := []string{"", "%zz", "grant_type=authorization_code&code=%zz", "token=x&token=y", strings.Repeat("a=b&", 20000),
		"grant_type=refresh_token&refresh_token=" + strings.Repeat("r", 300), "id_token_hint=not.a.jwt", "client_id=" + s.oauth.ClientID}
	queries := []string{"", "?%zz", "?id=nope", "?client_id=" + s.oauth.ClientID + "&redirect_uri=" + url.QueryEscape(redirectURI) + "&response_type=code&scope=openid&code_challenge=x&code_challenge_method=S256&max_age=-1",
		"?id_token_hint=a.b.c", "?prompt=none&prompt=login"}
	for _, path := range paths {
		for _, q := range queries {
			for _, body := range bodies {
				for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
					req, _ := http.NewRequest(method, s.issuer+path+q, strings.NewReader(body))
					if body != "" {
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					}
					req.Header.Set("Authorization", "Bearer junk")
					if path == "/oauth/token" || path == "/revoke" || path == "/oauth/introspect" {
						req.SetBasicAuth("%zz", "x")
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					if res.StatusCode >= 500 {
						t.Errorf("%s %s%s with %.40q: %d", method, path, q, body, res.StatusCode)
					}
				}
			}
		}
	}
}

// TestCallbackNeedsTheApprovingBrowser: the authorization's ID travels in
// links, so it proves nothing. An attacker who starts a login, has a
// logged-in victim open its login link, and then asks the callback for
// the code gets nothing: only the victim's browser has the callback's
// secret, and the code it collects carries the attacker's state, which
// the victim's site session does not know.
func TestCallbackNeedsTheApprovingBrowser(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.MustSignUp(t, h.Secret, "victim@example.com", password)
		s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
		victim, attacker := newBrowser(t, h), newBrowser(t, h)
		f := s.start()
		victim.login(f, "victim@example.com", password) // the victim has a page session

		evil := s.start()
		loginURL := attacker.do(http.MethodGet, evil.authURL, nil).location
		id := mustQuery(t, loginURL, "authorization")
		back := victim.back(victim.follow(loginURL)) // the victim opens the attacker's link
		if back.Query().Get("state") != evil.state {
			t.Fatalf("the victim's browser came back with %s", back)
		}
		for _, k := range []string{"", "made-up", strings.Repeat("A", 43)} {
			target := s.issuer + "/authorize/callback?" + url.Values{"id": {id}, "k": {k}}.Encode()
			if p := attacker.do(http.MethodGet, target, nil); p.status != http.StatusBadRequest || p.location != "" {
				t.Errorf("callback with k=%q: %d %q, want the error page", k, p.status, p.location)
			}
		}
		// A bare grant ID (the ID token's sid) revokes nothing.
		f2 := s.start()
		tk := s.mustExchange(f2, code(t, f2, victim.back(victim.follow(f2.authURL))))
		revoke(t, s, tk.claims["sid"].(string))
		if _, err := s.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tk.Token)); err != nil {
			t.Errorf("a bare grant ID revoked the grant: %v", err)
		}
		// The access token itself does.
		revoke(t, s, tk.AccessToken)
		if _, err := s.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tk.Token)); err == nil {
			t.Errorf("revoking the access token left its grant")
		}
	})
}

func mustQuery(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get(key) == "" {
		t.Fatalf("no %s in %q", key, raw)
	}
	return u.Query().Get(key)
}

// TestBackChannelMethods: the token, revocation and introspection
// endpoints take POST with their parameters in the body, and answer CORS
// for any origin without credentials, as discovery does.
func TestBackChannelMethods(t *testing.T) {
	h := newHarness(t, teststore.SQLite)
	s := newSite(t, h, account.DefaultTenant, "shop", account.ClientConfidential)
	for _, path := range []string{"/oauth/token", "/revoke", "/oauth/introspect"} {
		for _, method := range []string{http.MethodGet, http.MethodPut, "post"} {
			req, _ := http.NewRequest(method, s.issuer+path+"?grant_type=refresh_token&refresh_token=x", nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
				t.Errorf("%s %s: %d, want 405", method, path, res.StatusCode)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, s.issuer+path+"?client_secret=x", strings.NewReader("grant_type=refresh_token"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s with a query: %d, want 400", path, res.StatusCode)
		}
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/keys", "/oauth/token"} {
		req, _ := http.NewRequest(http.MethodGet, s.issuer+path, nil)
		req.Header.Set("Origin", "https://spa.example")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: CORS %q, want * without credentials", path, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	for _, path := range []string{"/healthz", "/ready"} {
		if p := newBrowser(t, h).do(http.MethodGet, s.issuer+path, nil); p.status != http.StatusNotFound {
			t.Errorf("%s under the issuer: %d, want 404", path, p.status)
		}
	}
}
