package oidc_test

// Browser tests of the provider: headless Chromium goes from a site's
// authorization URL through the hosted pages, typing into their forms and
// following the mailed confirmation link, and back to the site, a real
// HTTP server whose callback receives the code. The site then redeems the
// code with x/oauth2 and verifies the ID token with go-oidc, as in the
// other tests of this package.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/browsertest"
	"pforte/internal/mail/mailtest"
	"pforte/internal/pages"
	"pforte/internal/store/teststore"
)

// TestBrowser logs customers in to a site in Chromium, on both stores:
// a confirmed customer through the login form, and new customers through
// registration and the confirmation link, reached by prompt=create and by
// the login page's link. Each scenario has a site (a client) and a
// browser context of its own.
func TestBrowser(t *testing.T) {
	t.Parallel()
	// An English browser: the pages and the mails speak its language.
	browser := browsertest.Start(t, chromedp.Flag("accept-lang", "en"))
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay(), apitest.WithDefaultLinks(pages.LinkTemplates))
		scenario := func(name, app string, fn func(b *tab, s *callbackSite)) {
			t.Run(name, func(t *testing.T) {
				fn(newTab(t, h, browser), newCallbackSite(t, h, account.DefaultTenant, app))
			})
		}
		scenario("login", "Shop", browserLogin)
		scenario("prompt=create, register, confirm", "Store", browserPromptCreate)
		scenario("register from the login page, confirm", "Market", browserRegisterLink)
		scenario("confirm in another browser", "Bazaar", browserConfirmElsewhere)
	})
}

// browserLogin: a confirmed customer logs in on the hosted login page and
// arrives at the site's callback with a code for an ID token of hers.
func browserLogin(b *tab, s *callbackSite) {
	const addr = "ada@example.com"
	cust := b.h.MustSignUp(b.t, b.h.Secret, addr, password)
	f := s.start()
	res := b.open(f.authURL)
	id := b.expectAuthorizationPage(res, "/p/default/login", "Log in")
	// The page names the client by its application's display name.
	b.expectText(".notice", "Log in to continue to "+s.app.Settings["pages.display_name"]+".")
	b.fill("email", addr)
	b.fill("password", password)
	back := s.expectCallback(b, f, b.press("main form button"))
	tk := s.mustExchange(f, back.Get("code"))
	if tk.idToken.Subject != cust.Customer.UUID || tk.claims["email"] != addr || tk.claims["email_verified"] != true {
		b.t.Errorf("ID token: sub %s, claims %v; want sub %s, email %s, verified", tk.idToken.Subject, tk.claims, cust.Customer.UUID, addr)
	}
	b.expectFinished(id)
}

// browserPromptCreate: prompt=create opens registration; the confirmation
// link, opened in the same browser, logs the new customer in and sends
// the browser on to the site.
func browserPromptCreate(b *tab, s *callbackSite) {
	f := s.start(oauth2.SetAuthURLParam("prompt", "create"))
	res := b.open(f.authURL)
	id := b.expectAuthorizationPage(res, "/p/default/register", "Create an account")
	// The way out to the login keeps the authorization, and does not
	// lead back to registration.
	if login := b.attr(`a[href*="/login"]`, "href"); !strings.Contains(login, "authorization="+id) || !strings.Contains(login, "login=form") {
		b.t.Errorf("the register page's login link %q loses the authorization or loops", login)
	}
	b.registerAndConfirm(s, f, id, "grace@example.com", "Grace", "Hopper")
}

// browserRegisterLink: the login page's registration link carries the
// authorization; registering and confirming there ends at the site too.
func browserRegisterLink(b *tab, s *callbackSite) {
	f := s.start()
	res := b.open(f.authURL)
	id := b.expectAuthorizationPage(res, "/p/default/login", "Log in")
	const register = `main ul.links a[href*="/register"]`
	if href := b.attr(register, "href"); !strings.Contains(href, "authorization="+id) {
		b.t.Fatalf("the login page's registration link %q does not carry the authorization %s", href, id)
	}
	res = b.press(register)
	if got := b.expectAuthorizationPage(res, "/p/default/register", "Create an account"); got != id {
		b.t.Fatalf("registration carries the authorization %s, want %s", got, id)
	}
	b.registerAndConfirm(s, f, id, "hedy@example.com", "Hedy", "Lamarr")
}

// registerAndConfirm registers on the page the tab shows, opens the
// mailed confirmation link in the same tab, presses its button and checks
// that the browser arrives at the site with a code for the new, confirmed
// customer.
func (b *tab) registerAndConfirm(s *callbackSite, f flow, id, addr, first, last string) {
	b.t.Helper()
	link := b.register(s, addr, first, last)
	res := b.open(link)
	b.expectStatus(res, http.StatusOK)
	b.expectText("h1", "Confirm your email address")
	back := s.expectCallback(b, f, b.press("main form button"))
	cust := b.customer(addr)
	if cust.State != account.StateActive {
		b.t.Errorf("after confirming the customer is %s, want active", cust.State)
	}
	tk := s.mustExchange(f, back.Get("code"))
	for claim, want := range map[string]any{"sub": cust.UUID, "email": addr, "email_verified": true,
		"given_name": first, "family_name": last, "name": first + " " + last} {
		if tk.claims[claim] != want {
			b.t.Errorf("ID token %s = %v, want %v", claim, tk.claims[claim], want)
		}
	}
	b.expectFinished(id)
	// The link is spent.
	res = b.open(link)
	b.expectStatus(res, http.StatusBadRequest)
}

// register fills in and sends the register page the tab shows, and
// returns the link of the confirmation mail.
func (b *tab) register(s *callbackSite, addr, first, last string) string {
	b.t.Helper()
	b.fill("email", addr)
	b.fill("password", password)
	b.fill("password_confirmation", password)
	b.fill("first_name", first)
	b.fill("last_name", last)
	res := b.press("main form button")
	b.expectStatus(res, http.StatusOK)
	b.expectText("h1", "Please check your mailbox")
	if cust := b.customer(addr); cust.State != account.StatePending {
		b.t.Fatalf("after registering the customer is %s, want pending", cust.State)
	}
	s.expectNoCallback(b)
	return b.confirmLink(addr)
}

// browserConfirmElsewhere: the confirmation link opened in another
// browser, which does not carry the authorization, confirms and ends on
// pforte's account page; the site hears nothing. The first browser's
// authorization still waits, and a login there continues to the site.
func browserConfirmElsewhere(b *tab, s *callbackSite) {
	const addr = "mary@example.com"
	f := s.start(oauth2.SetAuthURLParam("prompt", "create"))
	res := b.open(f.authURL)
	id := b.expectAuthorizationPage(res, "/p/default/register", "Create an account")
	link := b.register(s, addr, "Mary", "Somerville")

	other := newTab(b.t, b.h, b.browser)
	res = other.open(link)
	other.expectStatus(res, http.StatusOK)
	res = other.press("main form button")
	if u, _ := url.Parse(other.location()); u.Path != "/p/default/account" || u.Query().Get("done") != "confirmed" {
		b.t.Fatalf("confirmed in another browser, it is at %s, want the account page", u)
	}
	other.expectStatus(res, http.StatusOK)
	other.expectText("h1", "Your account")
	s.expectNoCallback(b)
	if cust := b.customer(addr); cust.State != account.StateActive {
		b.t.Fatalf("after confirming the customer is %s, want active", cust.State)
	}

	// Back in the first browser: the register page's way to the login.
	res = b.press(`main a[href*="/login"]`)
	if got := b.expectAuthorizationPage(res, "/p/default/login", "Log in"); got != id {
		b.t.Fatalf("the login carries the authorization %s, want %s", got, id)
	}
	b.fill("email", addr)
	b.fill("password", password)
	back := s.expectCallback(b, f, b.press("main form button"))
	tk := s.mustExchange(f, back.Get("code"))
	if tk.claims["email"] != addr || tk.claims["email_verified"] != true {
		b.t.Errorf("ID token claims %v, want %s, verified", tk.claims, addr)
	}
	b.expectFinished(id)
}

// ---- the site ----

// callbackSite is a site whose redirect URI is its own HTTP server: the
// browser's navigation ends at its /callback, which records the query.
type callbackSite struct {
	*site
	srv       *httptest.Server
	callbacks chan url.Values
}

// siteHeading is the heading of the site's callback page.
const siteHeading = "Welcome to the shop"

// newCallbackSite starts the site's server and registers it as a
// confidential client of the tenant, an application with that name and
// the display name "{name} Online", with its /callback as the one
// redirect URI.
func newCallbackSite(t *testing.T, h *apitest.Harness, tenant, name string) *callbackSite {
	t.Helper()
	cs := &callbackSite{callbacks: make(chan url.Values, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		select {
		case cs.callbacks <- r.URL.Query():
		default:
			t.Errorf("more callbacks than the tests expect: %s", r.URL)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><html lang=en><title>Shop</title><h1>"+siteHeading+"</h1></html>")
	})
	cs.srv = httptest.NewServer(mux)
	t.Cleanup(cs.srv.Close)
	redirect := cs.srv.URL + "/callback"

	typ, uris := account.ClientConfidential, []string{redirect}
	app, err := h.Svc.Apps.Create(context.Background(), secretCaller(t, h, tenant), account.AppPatch{Name: &name,
		Settings: map[string]string{"pages.display_name": name + " Online"},
		Client:   &account.ClientPatch{Type: &typ, RedirectURIs: &uris}})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	issuer := h.Srv.URL + "/oidc/" + tenant
	provider, err := gooidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery of %s: %v", issuer, err)
	}
	cs.site = &site{t: t, h: h, issuer: issuer, provider: provider, app: app, oauth: oauth2.Config{
		ClientID: app.Client.ID, ClientSecret: app.NewClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: []string{gooidc.ScopeOpenID, "email", "profile"}}}
	return cs
}

// expectCallback checks that res, the answer to the tab's last action,
// is the site's callback page, reached with a code and f's state, and
// returns the query the site received.
func (s *callbackSite) expectCallback(b *tab, f flow, res *network.Response) url.Values {
	b.t.Helper()
	redirect := s.oauth.RedirectURL
	if loc := b.location(); !strings.HasPrefix(loc, redirect+"?") {
		b.t.Fatalf("the browser is at %s (heading %q), not at the site's %s", loc, b.text("h1"), redirect)
	}
	b.expectStatus(res, http.StatusOK)
	b.expectText("h1", siteHeading)
	var q url.Values
	select {
	case q = <-s.callbacks:
	case <-b.ctx.Done():
		b.t.Fatalf("the site's callback was not called: %v", b.ctx.Err())
	}
	if q.Get("state") != f.state || q.Get("code") == "" || q.Has("error") {
		b.t.Fatalf("the site's callback got %v, want a code and the state %s", q, f.state)
	}
	if u, _ := url.Parse(b.location()); u.Query().Encode() != q.Encode() {
		b.t.Errorf("the browser shows %s, the site received %v", u, q)
	}
	return q
}

// expectNoCallback checks that the site's callback has not been called.
func (s *callbackSite) expectNoCallback(b *tab) {
	b.t.Helper()
	select {
	case q := <-s.callbacks:
		b.t.Fatalf("the site's callback was called early: %v", q)
	default:
	}
}

// ---- the browser ----

// tab is a tab of Chromium in a browser context (cookies) of its own,
// on one store's server. It keeps what Chromium's log says it refused
// for security (a Content-Security-Policy, say): the flows must cause no
// such refusal, and when one breaks a navigation, the failure says why.
type tab struct {
	t       *testing.T
	h       *apitest.Harness
	browser context.Context
	ctx     context.Context

	mu      sync.Mutex
	refused []string
}

func newTab(t *testing.T, h *apitest.Harness, browser context.Context) *tab {
	t.Helper()
	b := &tab{t: t, h: h, browser: browser, ctx: browsertest.NewTab(t, browser)}
	err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry.Source == cdplog.EntrySourceSecurity {
			b.mu.Lock()
			b.refused = append(b.refused, e.Entry.Text)
			b.mu.Unlock()
		}
	})
	if err == nil {
		_, err = chromedp.Call(b.ctx, cdplog.Enable, cdp.Empty{})
	}
	if err != nil {
		t.Fatalf("listening to the tab's log: %v", err)
	}
	t.Cleanup(func() {
		if r := b.refusals(); r != "" {
			t.Errorf("Chromium refused something:%s", r)
		}
	})
	return b
}

// refusals are the log's security entries since the last call, one a
// line.
func (b *tab) refusals() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	for _, r := range b.refused {
		s.WriteString("\n\tChromium: " + r)
	}
	b.refused = nil
	return s.String()
}

// open navigates the tab to u and returns the document's response.
func (b *tab) open(u string) *network.Response {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.t.Fatalf("opening %s: %v%s", u, err, b.refusals())
	}
	return res
}

// fill types value into the input with that id: a click into the field,
// then the text as one insertion.
func (b *tab) fill(id, value string) {
	b.t.Helper()
	insert := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: value})
		return err
	})
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.ID(id)), chromedp.Click(chromedp.ID(id)), insert); err != nil {
		b.t.Fatalf("typing into #%s: %v", id, err)
	}
}

// press clicks the element css selects, waits for the page it leads to
// (through every redirect) and returns its document's response.
func (b *tab) press(css string) *network.Response {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Click(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("clicking %s on %s: %v%s", css, b.location(), err, b.refusals())
	}
	return res
}

// text is the visible text of the first element css selects.
func (b *tab) text(css string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// attr is an attribute of the first element css selects ("" without).
func (b *tab) attr(css, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		fmt.Sprintf("document.querySelector(%q)?.getAttribute(%q) ?? ''", css, name)))
	if err != nil {
		b.t.Fatalf("reading %s's %s: %v", css, name, err)
	}
	return v
}

// location is the tab's URL.
func (b *tab) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("reading the location: %v", err)
	}
	return s
}

func (b *tab) expectStatus(res *network.Response, status int) {
	b.t.Helper()
	if int(res.Status) != status {
		b.t.Errorf("%s: status %d, want %d (heading %q)", res.URL, res.Status, status, b.text("h1"))
	}
}

func (b *tab) expectText(css, want string) {
	b.t.Helper()
	if got := b.text(css); got != want {
		b.t.Errorf("%s on %s shows %q, want %q", css, b.location(), got, want)
	}
}

// expectAuthorizationPage checks that the tab shows the page at path of
// the server, for an authorization, with status 200 and the heading h1,
// and returns the authorization's id.
func (b *tab) expectAuthorizationPage(res *network.Response, path, h1 string) string {
	b.t.Helper()
	u, err := url.Parse(b.location())
	if err != nil || u.Scheme+"://"+u.Host+u.Path != b.h.Srv.URL+path || u.Query().Get("authorization") == "" {
		b.t.Fatalf("the browser is at %s, want %s%s?authorization=…", b.location(), b.h.Srv.URL, path)
	}
	b.expectStatus(res, http.StatusOK)
	b.expectText("h1", h1)
	return u.Query().Get("authorization")
}

// cookies are the names of the cookies the browser holds for the server.
func (b *tab) cookies() []string {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.h.Srv.URL + "/"}})
	if err != nil {
		b.t.Fatalf("GetCookies: %v", err)
	}
	var names []string
	for _, c := range res.Cookies {
		names = append(names, c.Name)
	}
	return names
}

// expectFinished checks, after the browser came back to the site, that
// it holds a page session, no longer the authorization's cookie, and
// that the authorization is no longer pending.
func (b *tab) expectFinished(id string) {
	b.t.Helper()
	names := b.cookies()
	if !slices.Contains(names, pages.SessionCookie(account.DefaultTenant)) {
		b.t.Errorf("no page session after the login: cookies %v", names)
	}
	if slices.Contains(names, "__Host-pforte.authz") {
		b.t.Errorf("the authorization's cookie outlived the authorization: cookies %v", names)
	}
	tenant, err := b.h.Svc.Tenants.BySlug(context.Background(), account.DefaultTenant)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, _, err := b.h.Svc.Authorizations.Pending(context.Background(), tenant.ID, id); !account.IsKind(err, account.KindNotFound) {
		b.t.Errorf("the authorization is still pending after the callback: %v", err)
	}
}

// customer is the customer with addr, as the back office sees it.
func (b *tab) customer(addr string) account.Customer {
	b.t.Helper()
	c, err := b.h.Svc.Customers.ByEmail(context.Background(), secretCaller(b.t, b.h, account.DefaultTenant), addr)
	if err != nil {
		b.t.Fatalf("ByEmail(%s): %v", addr, err)
	}
	return c
}

// confirmLink waits for the confirmation mail to addr, which arrives over
// SMTP, and returns its one link to the confirm page.
func (b *tab) confirmLink(addr string) string {
	b.t.Helper()
	m := b.mailTo(addr, "Please confirm your registration")
	re := regexp.MustCompile(regexp.QuoteMeta(b.h.Srv.URL+"/p/default/confirm?") + `[^\s<>"]+`)
	links := slices.Compact(re.FindAllString(m.Text, -1))
	if len(links) != 1 {
		b.t.Fatalf("mail %q: want one link to the confirm page, found %q in:\n%s", m.Subject, links, m.Text)
	}
	return links[0]
}

// mailTo waits for the first mail to addr with subject.
func (b *tab) mailTo(addr, subject string) mailtest.Message {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n := 1; ; {
		msgs := b.h.SMTP.WaitFor(b.t, n, time.Until(deadline))
		for _, m := range msgs {
			if slices.Contains(m.To, addr) && m.Subject == subject {
				return m
			}
		}
		n = len(msgs) + 1
	}
}
