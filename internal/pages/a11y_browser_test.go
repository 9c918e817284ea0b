package pages_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/browsertest"
)

// axeEnv names the file of axe-core (axe.min.js) that the accessibility
// test injects into every page; .ci/run installs it with npm.
const axeEnv = "PFORTE_TEST_AXE"

// violation is one rule axe-core found broken, with the elements that
// break it.
type violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// runAxe runs axe-core on the page the tab shows and returns what it
// found broken.
const runAxe = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help,
	nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " ")),
})))`

// TestBrowserAccessibility runs axe-core on every page, in the states a
// customer sees it in (with errors, with notices), and fails on every
// serious or critical violation.
func TestBrowserAccessibility(t *testing.T) {
	path := os.Getenv(axeEnv)
	if path == "" {
		browsertest.SkipOrFail(t, "the accessibility test needs %s naming axe-core's axe.min.js (npm install axe-core; .ci/run does)", axeEnv)
	}
	axe, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", axeEnv, err)
	}
	browser := startBrowser(t)
	// With everything a tenant can add to the pages: footer links and a
	// consent checkbox.
	eachStore(t, browser, func(e *env) { e.scenario("every page", func(e *env) { pagesAccessible(e, axe) }) },
		apitest.WithSetting("pages.display_name", "Beispiel-Shop"),
		apitest.WithSetting("pages.support_url", "https://shop.example/hilfe"),
		apitest.WithSetting("pages.imprint_url", "https://shop.example/impressum"),
		apitest.WithSetting("pages.privacy_url", "https://shop.example/datenschutz"),
		apitest.WithSetting("pages.consent_de", "Ich stimme den AGB zu."),
		apitest.WithSetting("pages.consent_en", "I agree to the terms."))
}

// pagesAccessible walks through every page and runs axe-core on each.
func pagesAccessible(e *env, axe []byte) {
	t := e.t
	// axe-core goes into every document the tab loads, as DevTools
	// puts it: the pages' Content-Security-Policy allows no script.
	if _, err := chromedp.Call(e.ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: string(axe)}); err != nil {
		t.Fatalf("AddScriptToEvaluateOnNewDocument: %v", err)
	}
	checked := 0
	check := func(name string) {
		t.Helper()
		e.checkAccessible(name)
		checked++
	}
	const addr = "a11y@example.com"

	// The control: axe-core runs, and finds an image without a text.
	e.open(e.page("register"))
	if err := chromedp.Do(e.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("main").append(document.createElement("img"))`)); err != nil {
		t.Fatal(err)
	}
	if vs := e.axe("register with an image"); !slices.ContainsFunc(vs, func(v violation) bool { return v.ID == "image-alt" }) {
		t.Fatalf("axe-core did not find the image without alt text: %+v", vs)
	}

	e.open(e.page("register"))
	check("register")
	res := e.press("main form button") // empty: every field wrong
	if res.Status != http.StatusBadRequest || e.count(".summary li") == 0 {
		t.Fatalf("the empty register form: status %d, no error summary", res.Status)
	}
	check("register with errors")
	e.open(e.page("register?lang=en&partnerId=ABC-123"))
	check("register in English")
	e.open(e.page("register?lang=de"))
	e.register(addr, firstPassword)
	check("checkmail")
	link := e.linkIn(e.mailTo(addr, confirmMailDE), "confirm")
	e.open(link)
	check("confirm")
	e.press("main form button")
	e.expectPage(nil, 0, "/p/default/account?done=confirmed", accountDE)
	check("account with a notice")
	e.fill("current_password", "not the password")
	e.fill("new_password", "short")
	res = e.press(`form[action$="/account/password"] button`)
	if res.Status != http.StatusBadRequest {
		t.Fatalf("a wrong password change: status %d", res.Status)
	}
	check("account with errors")
	e.fill("new_email", "a11y-neu@example.com")
	e.fill("email_password", firstPassword)
	e.press(`form[action$="/account/email"] button`)
	check("account after asking for a new address")
	e.fill("new_email", "not an address")
	e.fill("email_password", firstPassword)
	if res := e.press(`form[action$="/account/email"] button`); res.Status != http.StatusBadRequest {
		t.Fatalf("an invalid new address: status %d", res.Status)
	}
	check("account with an address error")
	e.open(e.linkIn(e.mailTo("a11y-neu@example.com", "Bestätigen Sie Ihre neue E-Mail-Adresse"), "email-confirm"))
	check("email-confirm")
	e.open(e.page("account/delete"))
	check("delete")
	e.open(e.page("account"))
	e.press("form.logout button")
	check("login with a notice")
	e.fill("email", addr)
	e.fill("password", "not the password")
	e.press("main form button")
	check("login with an error")
	e.open(e.page("forgot"))
	check("forgot")
	// Link pages need live tokens to show their forms.
	reset, err := e.h.Svc.Recovery.Request(context.Background(), e.sec, addr)
	if err != nil || reset.Token == "" {
		t.Fatalf("a reset token: %+v, %v", reset, err)
	}
	e.open(e.page("reset?token=" + url.QueryEscape(reset.Token)))
	check("reset")
	invited, err := e.h.Svc.Customers.Create(context.Background(), e.sec, account.NewCustomer{Email: "invited-a11y@example.com", Activation: true})
	if err != nil || invited.InviteToken == "" {
		t.Fatalf("an invitation: %+v, %v", invited, err)
	}
	e.open(e.page("activate?token=" + url.QueryEscape(invited.InviteToken)))
	check("activate")
	e.open(e.page("activate/code"))
	check("activate/code")
	res = e.open(e.page("nope"))
	if res.Status != http.StatusNotFound {
		t.Errorf("/p/default/nope: status %d, want 404", res.Status)
	}
	check("message: not found")
	e.open(e.page("confirm?token=spent"))
	check("message: a dead link")
	t.Logf("axe-core ran on %d pages", checked)
}

// checkAccessible runs axe-core on the tab's page, fails the test on
// every serious or critical violation and logs the others.
func (e *env) checkAccessible(name string) {
	e.t.Helper()
	for _, v := range e.axe(name) {
		msg := name + ": " + v.Impact + " " + v.ID + " (" + v.Help + ")\n\t" + strings.Join(v.Nodes, "\n\t")
		if v.Impact == "serious" || v.Impact == "critical" {
			e.t.Error(msg)
		} else {
			e.t.Log(msg)
		}
	}
}

// axe runs axe-core on the tab's page.
func (e *env) axe(name string) []violation {
	e.t.Helper()
	await := func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }
	vs, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]violation](runAxe, await))
	if err != nil {
		e.t.Fatalf("%s: axe.run: %v", name, err)
	}
	return vs
}
