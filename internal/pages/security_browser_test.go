package pages_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"pforte/internal/account"
)

// TestFormPostsAndHeaders checks with a plain HTTP client what keeps
// other sites out: form posts from them or without the form token are
// refused, and every answer refuses framing and caching.
func TestFormPostsAndHeaders(t *testing.T) {
	eachStore(t, nil, func(e *env) {
		e.scenario("cross-site post", crossSitePost)
		e.scenario("form token", formToken)
		e.scenario("headers", headers)
	})
}

// TestBrowserSecurity checks the same in Chromium: another site's form
// post and a post without the form token are refused, another origin
// cannot frame a page, and the browser is sent on only to return URLs
// the tenant configures.
func TestBrowserSecurity(t *testing.T) {
	browser := startBrowser(t)
	eachStore(t, browser, func(e *env) {
		e.scenario("cross-site post", browserCrossSitePost)
		e.scenario("form token", browserFormToken)
		e.scenario("framing", framing)
		e.scenario("return_to", returnTo)
	})
}

// otherSite serves pages on another origin (127.0.0.1 on another port),
// as a shop or an attacker would: html by path.
func otherSite(t *testing.T, html map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := html[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// formSession is what a plain client gets from a page: its cookies and
// the form token of its forms.
type formSession struct {
	cookies []*http.Cookie
	csrf    string
}

// getForm fetches a page with a plain client and keeps its cookies and
// form token.
func (e *env) getForm(path string) formSession {
	e.t.Helper()
	res, err := plainClient().Get(e.url(path))
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s: status %d, form token %q", path, res.StatusCode, m)
	}
	return formSession{cookies: res.Cookies(), csrf: string(m[1])}
}

// post sends a form with a plain client, with the session's cookies and
// the headers given, and returns the status and body.
func (e *env) post(path string, s formSession, form url.Values, header map[string]string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range s.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := plainClient().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

const formExpiredDE = "Das Formular ist abgelaufen. Bitte gehen Sie zurück, laden Sie die Seite neu und senden Sie das Formular noch einmal."

func crossSitePost(e *env) {
	s := e.getForm("/p/default/login")
	form := url.Values{"csrf": {s.csrf}, "email": {"nobody@example.com"}, "password": {firstPassword}}
	for _, c := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign Origin, no Sec-Fetch-Site", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		// The same form from the page itself is read: the login fails.
		{"same-origin", map[string]string{"Origin": e.h.Srv.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusBadRequest},
	} {
		status, body := e.post("/p/default/login", s, form, c.header)
		if status != c.want {
			e.t.Errorf("%s: status %d, want %d", c.name, status, c.want)
		}
		if c.want == http.StatusForbidden && !strings.Contains(body, formExpiredDE) {
			e.t.Errorf("%s: the page does not say %q:\n%s", c.name, formExpiredDE, body)
		}
	}
}

// browserCrossSitePost posts another site's form from the browser, which
// sets Origin and Sec-Fetch-Site itself.
func browserCrossSitePost(e *env) {
	evil := otherSite(e.t, map[string]string{"/": `<!doctype html><html lang="en"><title>Win a prize</title>
<form method="post" action="` + e.page("forgot") + `"><input name="email" value="victim@example.com"><button>Win</button></form>`})
	e.open(evil.URL + "/")
	res := e.press("button")
	e.expectPage(res, http.StatusForbidden, "/p/default/forgot", "Fehler")
	e.expectText("main p", formExpiredDE)
}

func formToken(e *env) {
	s := e.getForm("/p/default/forgot")
	same := map[string]string{"Origin": e.h.Srv.URL, "Sec-Fetch-Site": "same-origin"}
	for name, form := range map[string]url.Values{
		"no token":        {"email": {"someone@example.com"}},
		"empty token":     {"email": {"someone@example.com"}, "csrf": {""}},
		"wrong token":     {"email": {"someone@example.com"}, "csrf": {strings.Repeat("A", len(s.csrf))}},
		"another's token": {"email": {"someone@example.com"}, "csrf": {e.getForm("/p/default/forgot").csrf}},
	} {
		status, body := e.post("/p/default/forgot", s, form, same)
		if status != http.StatusForbidden || !strings.Contains(body, formExpiredDE) {
			e.t.Errorf("%s: status %d, want 403 saying %q", name, status, formExpiredDE)
		}
	}
	// A token without the cookie it is bound to is no token either.
	status, _ := e.post("/p/default/forgot", formSession{}, url.Values{"email": {"someone@example.com"}, "csrf": {s.csrf}}, same)
	if status != http.StatusForbidden {
		e.t.Errorf("token without its cookie: status %d, want 403", status)
	}
	// The control: the token with its cookie passes.
	if status, body := e.post("/p/default/forgot", s, url.Values{"email": {"someone@example.com"}, "csrf": {s.csrf}}, same); status != http.StatusOK {
		e.t.Errorf("token with its cookie: status %d:\n%s", status, body)
	}
}

// browserFormToken sends the page's own form with its token taken out.
func browserFormToken(e *env) {
	e.open(e.page("forgot"))
	if err := chromedp.Do(e.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name="csrf"]').remove()`)); err != nil {
		e.t.Fatal(err)
	}
	e.fill("email", "someone@example.com")
	res := e.press("main form button")
	e.expectPage(res, http.StatusForbidden, "/p/default/forgot", "Fehler")
	e.expectText("main p", formExpiredDE)
}

func headers(e *env) {
	// Every answer under /p/ refuses framing: pages, and refusals that
	// no page handler sees (404, 405, a cross-origin post).
	for _, c := range []struct {
		method, page string
		header       map[string]string
		status       int
	}{
		{"GET", "register", nil, http.StatusOK},
		{"GET", "login", nil, http.StatusOK},
		{"GET", "forgot", nil, http.StatusOK},
		{"GET", "activate/code", nil, http.StatusOK},
		{"GET", "confirm?token=x", nil, http.StatusBadRequest}, // a dead link's page
		{"GET", "account", nil, http.StatusSeeOther},
		{"GET", "nope", nil, http.StatusNotFound},
		{"GET", "logout", nil, http.StatusMethodNotAllowed},
		{"POST", "login", map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded"}, http.StatusForbidden},
		{"POST", "login", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}, http.StatusForbidden},
	} {
		req, err := http.NewRequest(c.method, e.page(c.page), nil)
		if err != nil {
			e.t.Fatal(err)
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		res, err := plainClient().Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		res.Body.Close()
		name := c.method + " " + c.page
		if res.StatusCode != c.status {
			e.t.Errorf("%s: status %d, want %d", name, res.StatusCode, c.status)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			e.t.Errorf("%s: Content-Security-Policy %q has no frame-ancestors 'none'", name, csp)
		}
		if xfo := res.Header.Get("X-Frame-Options"); xfo != "DENY" {
			e.t.Errorf("%s: X-Frame-Options %q, want DENY", name, xfo)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			e.t.Errorf("%s: Cache-Control %q, want no-store", name, cc)
		}
	}
}

func framing(e *env) {
	// Another origin frames the login page, and, as a control, the
	// server's health check, which may be framed.
	login, health := e.page("login"), e.url("/healthz")
	site := otherSite(e.t, map[string]string{"/": `<!doctype html><html lang="en"><title>Framer</title>
<iframe title="login" src="` + login + `"></iframe><iframe title="health" src="` + health + `"></iframe>`})
	e.open(site.URL + "/") // returns once the frames have loaded, or failed to
	tree, err := chromedp.Call(e.ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		e.t.Fatalf("GetFrameTree: %v", err)
	}
	// Chromium shows its error page in a frame it refused, and names the
	// refused URL.
	shown, refused := map[string]bool{}, map[string]bool{}
	for _, c := range tree.FrameTree.ChildFrames {
		shown[c.Frame.URL] = true
		refused[c.Frame.UnreachableURL] = true
	}
	if !shown[health] {
		e.t.Fatalf("the control frame did not show %s: %v", health, tree.FrameTree.ChildFrames)
	}
	if shown[login] || !refused[login] {
		e.t.Errorf("another origin framed %s: shown %v, refused %v", login, shown, refused)
	}
}

func returnTo(e *env) {
	const addr = "shopper@example.com"
	if _, err := e.h.Svc.Customers.Create(context.Background(), e.sec, account.NewCustomer{Email: addr,
		Password: firstPassword, State: account.StateActive}); err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	shop := otherSite(e.t, map[string]string{
		"/back":      `<!doctype html><html lang="en"><title>Shop</title><h1>Back in the shop</h1>`,
		"/elsewhere": `<!doctype html><html lang="en"><title>Elsewhere</title><h1>Elsewhere</h1>`,
	})
	back, elsewhere := shop.URL+"/back", shop.URL+"/elsewhere"
	login := func(returnTo string) {
		e.t.Helper()
		p := "login?return_to=" + url.QueryEscape(returnTo)
		e.open(e.page(p))
		e.fill("email", addr)
		e.fill("password", firstPassword)
		e.press("main form button")
	}
	logout := func() {
		e.t.Helper()
		e.open(e.page("account"))
		e.expectPage(nil, 0, "/p/default/account", accountDE)
		e.press("form.logout button")
	}

	// No return URL configured: the asked for one is ignored.
	login(back)
	e.expectPage(nil, 0, "/p/default/account", accountDE)
	logout()

	// Configured, it is followed; an unconfigured one is not: the
	// browser goes to the tenant's first return URL instead.
	e.h.MustSetting(e.t, account.DefaultTenant, "pages.return_urls", back)
	login(back)
	e.expectPage(nil, 0, back, "Back in the shop")
	logout()
	login(elsewhere)
	if got := e.location(); got != back {
		e.t.Errorf("return_to %s sent the browser to %s, want the configured %s", elsewhere, got, back)
	}
}
