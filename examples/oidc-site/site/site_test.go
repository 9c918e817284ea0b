package site_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"pforte/examples/oidc-site/site"
	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/pages"
	"pforte/internal/store/teststore"
)

// These tests run the example site against a real pforte server, as a
// browser would: the site's /login, pforte's authorization endpoint and
// hosted login page, the site's callback, and its logout through
// pforte's end-session endpoint.

const (
	email    = "ada@example.com"
	password = "Lange-Seiten-Phrase-2030"
)

// startSite registers the site as a confidential client of tenant
// default and serves it.
func startSite(t *testing.T, h *apitest.Harness) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	base := "http://" + srv.Listener.Addr().String()
	c, err := h.Svc.Tenants.Caller(context.Background(), account.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	c.Key = account.KeySecret
	name, typ := "shop", account.ClientConfidential
	uris, logout := []string{base + "/callback"}, []string{base + "/"}
	app, err := h.Svc.Apps.Create(context.Background(), c, account.AppPatch{Name: &name,
		Client: &account.ClientPatch{Type: &typ, RedirectURIs: &uris, LogoutURIs: &logout}})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	handler, err := site.New(context.Background(), site.Config{Issuer: h.Srv.URL + "/oidc/default",
		ClientID: app.Client.ID, ClientSecret: app.NewClientSecret, BaseURL: base,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatalf("site.New: %v", err)
	}
	srv.Config.Handler = handler
	srv.Start()
	return base
}

// TestLoginAndLogout is a customer's visit: not logged in, logged in
// through pforte's login page, logged out at both, and asked for the
// password again at the next login.
func TestLoginAndLogout(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open, apitest.WithServerPublicURL())
		h.MustSignUp(t, h.Secret, email, password)
		web := startSite(t, h)
		issuer := h.Srv.URL + "/oidc/default"
		b := newBrowser(t)

		p := b.get(web + "/")
		if p.status != http.StatusOK || !strings.Contains(p.body, `href="/login"`) || strings.Contains(p.body, "logged in as") {
			t.Fatalf("before login: %d\n%s", p.status, p.body)
		}

		// /login goes through the authorization endpoint to pforte's login page.
		p = b.get(web + "/login")
		if !b.went(issuer+"/authorize?") || !strings.HasPrefix(p.url, h.Srv.URL+"/p/default/login") {
			t.Fatalf("/login ended at %s after %v", p.url, b.history)
		}
		p = b.submit(p, url.Values{"email": {email}, "password": {password}})
		callback := b.last(web + "/callback?")
		if callback == "" {
			t.Fatalf("pforte did not send the browser to the callback: %v", b.history)
		}
		if p.url != web+"/" || p.status != http.StatusOK || !strings.Contains(p.body, "logged in as "+email) {
			t.Fatalf("after login: %s %d\n%s", p.url, p.status, p.body)
		}

		// The callback again (the back button, or a leaked URL) finds its
		// login spent, and leaves the session alone.
		if p := b.get(callback); p.status != http.StatusBadRequest || strings.Contains(p.body, "logged in as") {
			t.Errorf("callback used twice: %d\n%s", p.status, p.body)
		}
		if p := b.get(web + "/"); !strings.Contains(p.body, "logged in as "+email) {
			t.Errorf("a spent callback ended the session:\n%s", p.body)
		}

		// Logout ends the site's session and, through the end-session
		// endpoint, pforte's, and comes back to the site.
		p = b.post(web+"/logout", nil)
		if !b.went(issuer + "/end_session?") {
			t.Fatalf("logout did not go to pforte's end_session_endpoint: %v", b.history)
		}
		if p.url != web+"/" || !strings.Contains(p.body, "not logged in") {
			t.Fatalf("after logout: %s %d\n%s", p.url, p.status, p.body)
		}
		if _, ok := b.cookies[hostOf(h.Srv.URL)]["__Host-pforte-default"]; ok {
			t.Errorf("pforte's session cookie outlived the logout")
		}
		// pforte no longer knows the browser: the next login asks again.
		p = b.get(web + "/login")
		if !strings.HasPrefix(p.url, h.Srv.URL+"/p/default/login") || !strings.Contains(p.body, `name="password"`) {
			t.Fatalf("login after logout: %s %d, want pforte's form", p.url, p.status)
		}
		if p = b.submit(p, url.Values{"email": {email}, "password": {password}}); !strings.Contains(p.body, "logged in as "+email) {
			t.Fatalf("second login: %s %d\n%s", p.url, p.status, p.body)
		}
	})
}

// TestCallbackBoundToBrowser: a callback is only taken from the browser
// that started its login, with that login's state.
func TestCallbackBoundToBrowser(t *testing.T) {
	h := apitest.New(t, teststore.SQLite, apitest.WithServerPublicURL())
	h.MustSignUp(t, h.Secret, email, password)
	web := startSite(t, h)

	// The attacker logs in and stops at the callback, which would log
	// its browser in.
	attacker := newBrowser(t)
	attacker.stop = func(u *url.URL) bool { return u.Host == hostOf(web) && u.Path == "/callback" }
	p := attacker.submit(attacker.get(web+"/login"), url.Values{"email": {email}, "password": {password}})
	if !strings.HasPrefix(p.url, web+"/callback?") {
		t.Fatalf("the login stopped at %s", p.url)
	}
	stolen := p.url

	// A victim that started no login, and one that started another,
	// both refuse it.
	victim := newBrowser(t)
	if p := victim.get(stolen); p.status != http.StatusBadRequest {
		t.Errorf("a callback without a login: %d", p.status)
	}
	victim.stop = func(u *url.URL) bool { return u.Host != hostOf(web) }
	victim.get(web + "/login")
	if p := victim.get(stolen); p.status != http.StatusBadRequest {
		t.Errorf("another login's callback: %d", p.status)
	}
	if p := victim.get(web + "/"); strings.Contains(p.body, "logged in as") {
		t.Errorf("the victim is logged in:\n%s", p.body)
	}

	// The attacker's own browser takes it.
	attacker.stop = nil
	if p := attacker.get(stolen); p.url != web+"/" || !strings.Contains(p.body, "logged in as "+email) {
		t.Errorf("the browser that started the login: %s %d\n%s", p.url, p.status, p.body)
	}
}

// TestRegister: /register opens pforte's registration page
// (prompt=create); the customer registers, confirms with the mailed
// link in the same browser, and is back at the site, logged in.
func TestRegister(t *testing.T) {
	h := apitest.New(t, teststore.SQLite, apitest.WithServerPublicURL(), apitest.WithDefaultLinks(pages.LinkTemplates))
	web := startSite(t, h)
	b := newBrowser(t)
	p := b.get(web + "/register")
	if !strings.HasPrefix(p.url, h.Srv.URL+"/p/default/register?") || !strings.Contains(p.url, "authorization=") ||
		!strings.Contains(p.body, `name="password_confirmation"`) {
		t.Fatalf("/register ended at %s %d after %v", p.url, p.status, b.history)
	}
	p = b.submit(p, url.Values{"email": {email}, "password": {password}, "password_confirmation": {password},
		"first_name": {"Ada"}, "last_name": {"Lovelace"}})
	if p.status != http.StatusOK || strings.Contains(p.url, web) {
		t.Fatalf("registering: %s %d\n%s", p.url, p.status, p.body)
	}
	mails, err := h.Svc.Outbox.List(context.Background(), account.DefaultTenant, 1)
	if err != nil || len(mails) != 1 || mails[0].Envelope == nil || len(mails[0].Envelope.Links) != 1 {
		t.Fatalf("the confirmation mail: %+v, %v", mails, err)
	}
	p = b.submit(b.get(mails[0].Envelope.Links[0]), url.Values{})
	if p.url != web+"/" || !strings.Contains(p.body, "logged in as "+email+" (Ada Lovelace)") {
		t.Fatalf("after confirming: %s %d after %v\n%s", p.url, p.status, b.history, p.body)
	}
}

// TestUnknownIssuer: the site does not start without discovery.
func TestUnknownIssuer(t *testing.T) {
	h := apitest.New(t, teststore.SQLite, apitest.WithServerPublicURL())
	_, err := site.New(context.Background(), site.Config{Issuer: h.Srv.URL + "/oidc/nobody",
		ClientID: "pfc_x", ClientSecret: "x", BaseURL: "http://localhost:3000"})
	if err == nil {
		t.Fatal("site.New with an unknown issuer succeeded")
	}
}

// browser follows redirects across the site and pforte and keeps each
// host's cookies by hand: pforte's are Secure __Host- cookies, which a
// cookie jar would not send over the tests' http. Like a browser, it
// holds a form's redirects to the form-action of the page's
// Content-Security-Policy.
type browser struct {
	t       *testing.T
	client  *http.Client
	cookies map[string]map[string]string // host → name → value
	history []string                     // every URL requested, in order
	// stop, when set, ends following at a redirect to a URL it accepts.
	stop func(*url.URL) bool
}

func newBrowser(t *testing.T) *browser {
	return &browser{t: t, cookies: map[string]map[string]string{},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	url    string
	status int
	body   string
	csp    string // the Content-Security-Policy header
}

func hostOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

func (b *browser) get(target string) page { return b.do(http.MethodGet, target, nil, nil) }

func (b *browser) post(target string, form url.Values) page {
	return b.do(http.MethodPost, target, form, nil)
}

// do sends one request and follows its redirects, as a browser does: a
// 302 or 303 becomes a GET. allowed, if not nil, is the form-action that
// every request of the chain must match.
func (b *browser) do(method, target string, form url.Values, allowed func(*url.URL) bool) page {
	b.t.Helper()
	for range 20 {
		u, err := url.Parse(target)
		if err != nil {
			b.t.Fatal(err)
		}
		if allowed != nil && !allowed(u) {
			b.t.Fatalf("the form's Content-Security-Policy (form-action) blocks %s, after %v", target, b.history)
		}
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			b.t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", u.Scheme+"://"+u.Host) // the forms post to their own origin
		}
		for name, value := range b.cookies[u.Host] {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
		req.Header.Set("Accept-Language", "en")
		b.history = append(b.history, target)
		res, err := b.client.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", method, target, err)
		}
		text, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			b.t.Fatal(err)
		}
		if b.cookies[u.Host] == nil {
			b.cookies[u.Host] = map[string]string{}
		}
		for _, c := range res.Cookies() {
			if c.MaxAge < 0 {
				delete(b.cookies[u.Host], c.Name)
			} else {
				b.cookies[u.Host][c.Name] = c.Value
			}
		}
		if res.StatusCode >= 500 {
			b.t.Fatalf("%s %s: %d\n%s", method, target, res.StatusCode, text)
		}
		loc, err := res.Location()
		if err != nil {
			return page{url: target, status: res.StatusCode, body: string(text), csp: res.Header.Get("Content-Security-Policy")}
		}
		if b.stop != nil && b.stop(loc) {
			return page{url: loc.String(), status: res.StatusCode}
		}
		target = loc.String()
		if res.StatusCode != http.StatusTemporaryRedirect && res.StatusCode != http.StatusPermanentRedirect {
			method, form = http.MethodGet, nil
		}
	}
	b.t.Fatalf("too many redirects: %v", b.history)
	return page{}
}

// went reports whether the browser requested a URL starting with prefix.
func (b *browser) went(prefix string) bool { return b.last(prefix) != "" }

// last is the last URL the browser requested that starts with prefix.
func (b *browser) last(prefix string) string {
	for i := len(b.history) - 1; i >= 0; i-- {
		if strings.HasPrefix(b.history[i], prefix) {
			return b.history[i]
		}
	}
	return ""
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hidden     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// submit posts p's form with fields and its hidden inputs (the csrf
// token among them).
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	action := formAction.FindStringSubmatch(p.body)
	if action == nil || !strings.Contains(p.body, `name="csrf"`) {
		b.t.Fatalf("no form on %s (%d):\n%s", p.url, p.status, p.body)
	}
	base, _ := url.Parse(p.url)
	target, err := base.Parse(html.UnescapeString(action[1]))
	if err != nil {
		b.t.Fatal(err)
	}
	for _, m := range hidden.FindAllStringSubmatch(p.body, -1) {
		fields.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return b.do(http.MethodPost, target.String(), fields, formActionOf(base, p.csp))
}

// formActionOf is the form-action directive of a page's policy, as
// browsers apply it to a form's request and its redirects; the sources
// are 'self' and origins, the only ones pforte uses. nil: no directive.
func formActionOf(page *url.URL, csp string) func(*url.URL) bool {
	for _, directive := range strings.Split(csp, ";") {
		fields := strings.Fields(directive)
		if len(fields) == 0 || fields[0] != "form-action" {
			continue
		}
		origins := map[string]bool{}
		for _, src := range fields[1:] {
			if src == "'self'" {
				src = page.Scheme + "://" + page.Host
			}
			origins[strings.TrimSuffix(src, "/")] = true
		}
		return func(u *url.URL) bool { return origins[u.Scheme+"://"+u.Host] }
	}
	return nil
}
