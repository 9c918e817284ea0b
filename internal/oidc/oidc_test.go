package oidc_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The relying party in these tests is a real one: go-oidc for discovery
// and verification, x/oauth2 for the code flow. The browser is a plain
// HTTP client that keeps the pages' cookies by hand (they are Secure and
// the test server speaks http) and fills in the login form.

const (
	password    = "Lange-Seiten-Phrase-2030"
	redirectURI = "http://127.0.0.1:9/callback" // never called: the browser stops there
	logoutURI   = "http://127.0.0.1:9/bye"
)

// site is a website that logs its customers in with pforte.
type site struct {
	t        testing.TB
	h        *apitest.Harness
	issuer   string
	provider *gooidc.Provider
	oauth    oauth2.Config
	app      account.Application
}

func newHarness(t testing.TB, open teststore.Opener, opts ...apitest.Option) *apitest.Harness {
	return apitest.New(t, open, append([]apitest.Option{apitest.WithServerPublicURL()}, opts...)...)
}

func secretCaller(t testing.TB, h *apitest.Harness, tenant string) account.Caller {
	t.Helper()
	c, err := h.Svc.Tenants.Caller(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	c.Key = account.KeySecret
	return c
}

// newSite registers a client of the tenant and discovers its issuer.
func newSite(t testing.TB, h *apitest.Harness, tenant, name string, typ account.ClientType) *site {
	t.Helper()
	uris, logout := []string{redirectURI}, []string{logoutURI}
	app, err := h.Svc.Apps.Create(context.Background(), secretCaller(t, h, tenant), account.AppPatch{Name: &name,
		Client: &account.ClientPatch{Type: &typ, RedirectURIs: &uris, LogoutURIs: &logout}})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	if (typ == account.ClientConfidential) != (app.NewClientSecret != "") {
		t.Fatalf("client secret %q for a %s client", app.NewClientSecret, typ)
	}
	issuer := h.Srv.URL + "/oidc/" + tenant
	provider, err := gooidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery of %s: %v", issuer, err)
	}
	return &site{t: t, h: h, issuer: issuer, provider: provider, app: app, oauth: oauth2.Config{
		ClientID: app.Client.ID, ClientSecret: app.NewClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirectURI, Scopes: []string{gooidc.ScopeOpenID, "email", "profile", gooidc.ScopeOfflineAccess}}}
}

// flow is one login a site started: its state, nonce and PKCE verifier.
type flow struct {
	state, nonce, verifier string
	authURL                string
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *site) start(extra ...oauth2.AuthCodeOption) flow {
	f := flow{state: random(), nonce: random(), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}, extra...)
	f.authURL = s.oauth.AuthCodeURL(f.state, opts...)
	return f
}

// tokens are what a code gave, verified.
type tokens struct {
	*oauth2.Token
	idToken *gooidc.IDToken
	raw     string
	claims  map[string]any
}

// exchange redeems a code and verifies the ID token against the JWKS.
func (s *site) exchange(f flow, code string) (tokens, error) {
	tok, err := s.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return tokens{}, err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := s.provider.Verifier(&gooidc.Config{ClientID: s.oauth.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		s.t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != f.nonce {
		s.t.Fatalf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.t.Fatal(err)
	}
	return tokens{Token: tok, idToken: idt, raw: raw, claims: claims}, nil
}

func (s *site) mustExchange(f flow, code string) tokens {
	s.t.Helper()
	tk, err := s.exchange(f, code)
	if err != nil {
		s.t.Fatalf("exchange: %v", err)
	}
	return tk
}

// browser keeps the cookies of pforte's pages and follows redirects
// until they leave the server.
type browser struct {
	t       testing.TB
	h       *apitest.Harness
	cookies map[string]string
	client  *http.Client
}

func newBrowser(t testing.TB, h *apitest.Harness) *browser {
	return &browser{t: t, h: h, cookies: map[string]string{},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	url      string
	location string
	body     string
}

func (b *browser) do(method, target string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.h.Srv.URL)
	}
	var cookies []string
	for name, value := range b.cookies {
		cookies = append(cookies, name+"="+value)
	}
	req.Header.Set("Cookie", strings.Join(cookies, "; "))
	req.Header.Set("Accept-Language", "en")
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	if res.StatusCode >= 500 {
		b.t.Fatalf("%s %s: %d\n%s", method, target, res.StatusCode, text)
	}
	p := page{status: res.StatusCode, url: target, body: string(text)}
	if loc, err := res.Location(); err == nil {
		p.location = loc.String()
	}
	return p
}

// follow GETs target and the redirects after it while they stay on the
// server; it returns the last page, or the redirect that leaves.
func (b *browser) follow(target string) page {
	b.t.Helper()
	for range 10 {
		p := b.do(http.MethodGet, target, nil)
		if p.location == "" || !strings.HasPrefix(p.location, b.h.Srv.URL) {
			return p
		}
		target = p.location
	}
	b.t.Fatalf("too many redirects from %s", target)
	return page{}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// submit posts the page's form, its hidden fields with fields, and
// follows the answer.
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	hidden := hiddenField.FindAllStringSubmatch(p.body, -1)
	if !strings.Contains(p.body, `name="csrf"`) {
		b.t.Fatalf("no form on %s (%d):\n%s", p.url, p.status, p.body)
	}
	for _, m := range hidden {
		if !fields.Has(m[1]) {
			fields.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	res := b.do(http.MethodPost, p.url, fields)
	if res.location != "" && strings.HasPrefix(res.location, b.h.Srv.URL) {
		return b.follow(res.location)
	}
	if res.location != "" && strings.HasPrefix(res.location, "/") {
		return b.follow(b.h.Srv.URL + res.location)
	}
	return res
}

// login takes the browser through the hosted login of f and returns
// where it was sent back to the site.
func (b *browser) login(f flow, email, pw string) *url.URL {
	b.t.Helper()
	p := b.follow(f.authURL)
	if p.location == "" {
		p = b.submit(p, url.Values{"email": {email}, "password": {pw}})
	}
	return b.back(p)
}

// back is the site's callback the browser was sent to, with its query.
func (b *browser) back(p page) *url.URL {
	b.t.Helper()
	if !strings.HasPrefix(p.location, redirectURI) {
		b.t.Fatalf("not sent back to the site: %d %s\n%s", p.status, p.location, p.body)
	}
	u, _ := url.Parse(p.location)
	return u
}

// code is the code of a successful callback, whose state is f's.
func code(t testing.TB, f flow, back *url.URL) string {
	t.Helper()
	q := back.Query()
	if q.Get("state") != f.state || q.Get("code") == "" {
		t.Fatalf("callback %s: want code and state %s", back, f.state)
	}
	return q.Get("code")
}

// oauthError is the error code of an oauth2 failure.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func jsonOf(t testing.TB, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	return m
}

// TestMain quiets the provider library, which logs refused requests
// through the default logger (serve points it at pforte's own): here
// every test refuses many on purpose.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
