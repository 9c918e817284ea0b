package pages_test

// The harness of the browser tests: headless Chromium driven with
// chromedp against a real server (apitest: server.New over a fresh store,
// a listener on 127.0.0.1, a mailtest SMTP server and the mail relay), on
// both stores. One browser per test function; each scenario gets a tab in
// a browser context (cookies) of its own.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/browsertest"
	"pforte/internal/mail/mailtest"
	"pforte/internal/pages"
	"pforte/internal/store/teststore"
)

// startBrowser starts headless Chromium for one test function (see
// browsertest.Start). The pages pick their language from
// Accept-Language: a German browser, unless a test asks for English.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, chromedp.Flag("accept-lang", "de-DE,de"))
}

// env is one store's run of a test: a served service with mail, and in
// a scenario a tab.
type env struct {
	t       *testing.T
	h       *apitest.Harness
	browser context.Context // nil: the test uses no browser
	ctx     context.Context // the scenario's tab, with its deadline
	sec     account.Caller  // a back office: tenant default's secret key

	mailsTaken map[string]bool // by Message-Id: what mailTo returned
}

// eachStore runs fn once per store with a fresh service: pages as mail
// links, a relay to a mailtest server.
func eachStore(t *testing.T, browser context.Context, fn func(e *env), opts ...apitest.Option) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, browser, open, opts...)
		fn(e)
	})
}

// newEnv starts a service whose scenarios open tabs of browser.
func newEnv(t *testing.T, browser context.Context, open teststore.Opener, opts ...apitest.Option) *env {
	t.Helper()
	opts = append([]apitest.Option{apitest.WithRelay(), apitest.WithDefaultLinks(pages.LinkTemplates)}, opts...)
	h := apitest.New(t, open, opts...)
	sec, err := h.Svc.APIKeys.Authenticate(context.Background(), h.Secret)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return &env{t: t, h: h, browser: browser, sec: sec, mailsTaken: map[string]bool{}}
}

// scenario runs fn as a subtest on the same service, with a browser in a
// new tab with a browser context (cookies) of its own.
func (e *env) scenario(name string, fn func(e *env)) {
	e.t.Run(name, func(t *testing.T) {
		sub := *e
		sub.t = t
		if e.browser != nil {
			sub.ctx = browsertest.NewTab(t, e.browser)
		}
		fn(&sub)
	})
}

// url is the absolute URL of a path on the server.
func (e *env) url(path string) string { return e.h.Srv.URL + path }

// page is the absolute URL of one of tenant default's pages.
func (e *env) page(p string) string { return e.url(pages.Prefix + "/default/" + p) }

// open navigates the tab to url and returns the document's response.
func (e *env) open(url string) *network.Response {
	e.t.Helper()
	res, err := chromedp.Run(e.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		e.t.Fatalf("opening %s: %v", url, err)
	}
	return res
}

// fill types value into the input with that id: a click into the field,
// then the text as one insertion, which is much faster than a key event
// for each character.
func (e *env) fill(id, value string) {
	e.t.Helper()
	insert := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: value})
		return err
	})
	if err := chromedp.Do(e.ctx, chromedp.Click(chromedp.ID(id)), insert); err != nil {
		e.t.Fatalf("typing into #%s: %v", id, err)
	}
}

// press clicks the element that css selects, waits for the page it leads
// to and returns its document's response.
func (e *env) press(css string) *network.Response {
	e.t.Helper()
	res, err := chromedp.RunResponse(e.ctx, chromedp.Click(chromedp.CSS(css)))
	if err != nil {
		e.t.Fatalf("clicking %s: %v", css, err)
	}
	return res
}

// choose selects the option with value in the select with that id.
func (e *env) choose(id, value string) {
	e.t.Helper()
	if err := chromedp.Do(e.ctx, chromedp.SetValue(chromedp.ID(id), value)); err != nil {
		e.t.Fatalf("choosing %q in #%s: %v", value, id, err)
	}
}

// text is the visible text of the first element css selects.
func (e *env) text(css string) string {
	e.t.Helper()
	s, err := chromedp.Run(e.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		e.t.Fatalf("reading %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// location is the tab's URL.
func (e *env) location() string {
	e.t.Helper()
	s, err := chromedp.Run(e.ctx, chromedp.Location())
	if err != nil {
		e.t.Fatalf("reading the location: %v", err)
	}
	return s
}

// count is how many elements css selects now.
func (e *env) count(css string) int {
	e.t.Helper()
	n, err := chromedp.Run(e.ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", css)))
	if err != nil {
		e.t.Fatalf("counting %s: %v", css, err)
	}
	return n
}

// attr is an attribute of the first element css selects ("" without).
func (e *env) attr(css, name string) string {
	e.t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](
		fmt.Sprintf("document.querySelector(%q)?.getAttribute(%q) ?? ''", css, name)))
	if err != nil {
		e.t.Fatalf("reading %s's %s: %v", css, name, err)
	}
	return v
}

// expectPage checks that the tab shows the page at where (a path and
// query on the server, or an absolute URL) with status (unless res is
// nil) and the heading h1.
func (e *env) expectPage(res *network.Response, status int, where, h1 string) {
	e.t.Helper()
	if !strings.HasPrefix(where, "http") {
		where = e.url(where)
	}
	if got := e.location(); got != where {
		e.t.Fatalf("the browser is at %s, want %s", got, where)
	}
	if res != nil && int(res.Status) != status {
		e.t.Errorf("%s: status %d, want %d", where, res.Status, status)
	}
	if got := e.text("h1"); got != h1 {
		e.t.Errorf("%s: heading %q, want %q", where, got, h1)
	}
}

// expectText checks that the first element css selects shows want.
func (e *env) expectText(css, want string) {
	e.t.Helper()
	if got := e.text(css); got != want {
		e.t.Errorf("%s shows %q, want %q", css, got, want)
	}
}

// cookies are the names of the cookies the browser holds for the server.
func (e *env) cookies() []string {
	e.t.Helper()
	res, err := chromedp.Call(e.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.url("/")}})
	if err != nil {
		e.t.Fatalf("GetCookies: %v", err)
	}
	var names []string
	for _, c := range res.Cookies {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// hasSession reports whether the browser holds a page session of tenant
// default.
func (e *env) hasSession() bool {
	return slices.Contains(e.cookies(), "__Host-pforte-default")
}

// ---- mail ----

// mailTo waits for a mail to addr with subject that mailTo has not
// returned before, and returns it.
func (e *env) mailTo(addr, subject string) mailtest.Message {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n := 1; ; {
		msgs := e.h.SMTP.WaitFor(e.t, n, time.Until(deadline))
		for _, m := range msgs {
			if slices.Contains(m.To, addr) && m.Subject == subject && !e.mailsTaken[m.MessageID] {
				e.mailsTaken[m.MessageID] = true
				return m
			}
		}
		n = len(msgs) + 1
	}
}

// linkIn is the one link to the server's page in a mail's text.
func (e *env) linkIn(m mailtest.Message, page string) string {
	e.t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(e.page(page)) + `\?token=[A-Za-z0-9_%.~-]+`)
	links := slices.Compact(re.FindAllString(m.Text, -1))
	if len(links) != 1 {
		e.t.Fatalf("mail %q: want one link to %s, found %q in:\n%s", m.Subject, e.page(page), links, m.Text)
	}
	if html := re.FindAllString(m.HTML, -1); len(html) == 0 || html[0] != links[0] {
		e.t.Errorf("mail %q: the HTML part links to %q, the text to %q", m.Subject, html, links[0])
	}
	return links[0]
}

// codeIn is the 8-digit code on a line of its own in a mail's text.
func (e *env) codeIn(m mailtest.Message) string {
	e.t.Helper()
	codes := regexp.MustCompile(`(?m)^\s*(\d{8})\s*$`).FindAllStringSubmatch(m.Text, -1)
	if len(codes) != 1 {
		e.t.Fatalf("mail %q: want one 8-digit code, found %d in:\n%s", m.Subject, len(codes), m.Text)
	}
	return codes[0][1]
}

// customer is the customer with addr, as a back office sees it.
func (e *env) customer(addr string) account.Customer {
	e.t.Helper()
	c, err := e.h.Svc.Customers.ByEmail(context.Background(), e.sec, addr)
	if err != nil {
		e.t.Fatalf("ByEmail(%s): %v", addr, err)
	}
	return c
}

// plainClient is a Go HTTP client that follows no redirect.
func plainClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
