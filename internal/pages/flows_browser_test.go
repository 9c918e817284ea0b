package pages_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pforte/internal/account"
)

// The passwords of the flows: long enough and on no blocklist.
const (
	firstPassword  = "Erster Versuch mit Hut 1"
	secondPassword = "Zweiter Anlauf ohne Hut 2"
	thirdPassword  = "Dritter Weg durch den Wald 3"
)

// Texts of the German pages and mails that the flows look for.
const (
	checkMailDE   = "Bitte prüfen Sie Ihr Postfach"
	confirmMailDE = "Bitte bestätigen Sie Ihre Registrierung"
	accountDE     = "Ihr Konto"
)

// TestBrowserFlows walks the hosted pages in Chromium as customers do,
// with the links and codes from mail that arrived over SMTP.
func TestBrowserFlows(t *testing.T) {
	browser := startBrowser(t)
	eachStore(t, browser, func(e *env) {
		e.scenario("register, confirm, change password, log out, reset, log in", registerToLogin)
		e.scenario("activation by code", activationByCode)
		e.scenario("partner id", partnerID)
		e.scenario("in English", inEnglish)
		e.scenario("mail scanners", mailScanners)
		e.scenario("devices", devices)
		e.scenario("change address and delete", changeAddressAndDelete)
	})
}

// register fills in and sends the register page the tab shows, and
// gives the consent if the tenant asks for one.
func (e *env) register(addr, password string) {
	e.t.Helper()
	e.fill("email", addr)
	e.fill("password", password)
	e.fill("password_confirmation", password)
	if e.count("#consent") > 0 {
		if err := chromedp.Do(e.ctx, chromedp.Click(chromedp.ID("consent"))); err != nil {
			e.t.Fatalf("ticking the consent: %v", err)
		}
	}
	res := e.press("main form button")
	if res.Status != http.StatusOK {
		e.t.Fatalf("register: status %d, heading %q", res.Status, e.text("h1"))
	}
}

func registerToLogin(e *env) {
	const addr = "erika@example.com"
	res := e.open(e.page("register"))
	e.expectPage(res, http.StatusOK, "/p/default/register", "Konto anlegen")
	e.fill("email", addr)
	e.fill("password", firstPassword)
	e.fill("password_confirmation", firstPassword)
	e.choose("salutation", "ms")
	e.fill("first_name", "Erika")
	e.fill("last_name", "Mustermann")
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/register", checkMailDE)
	e.expectText("main p", "Wenn die Adresse noch nicht bestätigt ist, haben wir Ihnen eine E-Mail mit einem Bestätigungslink geschickt. Erst nach dem Klick darauf ist Ihr Konto aktiv.")
	if e.hasSession() {
		e.t.Error("registering logged the browser in")
	}

	// The mailed link shows a page with a button; the button confirms.
	link := e.linkIn(e.mailTo(addr, confirmMailDE), "confirm")
	res = e.open(link)
	e.expectPage(res, http.StatusOK, link, "E-Mail-Adresse bestätigen")
	if got := e.customer(addr).State; got != account.StatePending {
		e.t.Fatalf("after opening the link the customer is %s, want pending", got)
	}
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/account?done=confirmed", accountDE)
	e.expectText(".notice", "Ihre E-Mail-Adresse ist bestätigt. Willkommen!")
	e.expectText("main > p:nth-of-type(2)", "Angemeldet als "+addr)
	e.expectText("main > p:nth-of-type(3)", "Kunde seit 4. März 2030")
	if got := e.customer(addr); got.State != account.StateActive || got.FirstName != "Erika" || got.Salutation != "ms" {
		e.t.Errorf("after confirming: %+v", got)
	}
	if !e.hasSession() {
		e.t.Fatal("confirming did not log the browser in")
	}

	// Change the password on the account page.
	e.fill("current_password", firstPassword)
	e.fill("new_password", secondPassword)
	e.fill("new_password_confirmation", secondPassword)
	res = e.press(`form[action$="/account/password"] button`)
	e.expectPage(res, http.StatusOK, "/p/default/account/password", accountDE)
	e.expectText(".notice", "Ihr Passwort ist geändert. Andere Anmeldungen wurden beendet.")
	e.mailTo(addr, "Ihr Passwort wurde geändert")

	// Log out: the session ends, and the account page wants a login.
	res = e.press("form.logout button")
	e.expectPage(res, http.StatusOK, "/p/default/login?done=logout", "Anmelden")
	e.expectText(".notice", "Sie sind abgemeldet.")
	if e.hasSession() {
		e.t.Error("the session cookie outlived the logout")
	}
	res = e.open(e.page("account"))
	e.expectPage(res, http.StatusOK, "/p/default/login", "Anmelden")

	// Forgot the password: the mailed link leads to a new one.
	res = e.press(`a[href$="/forgot"]`)
	e.expectPage(res, http.StatusOK, "/p/default/forgot", "Passwort vergessen")
	e.fill("email", addr)
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/forgot", checkMailDE)
	e.expectText("main p", "Wenn zu dieser Adresse ein Konto gehört, haben wir Ihnen eine E-Mail mit einem Link zum Zurücksetzen des Passworts geschickt.")
	link = e.linkIn(e.mailTo(addr, "Passwort zurücksetzen"), "reset")
	res = e.open(link)
	e.expectPage(res, http.StatusOK, link, "Neues Passwort wählen")
	e.fill("password", thirdPassword)
	e.fill("password_confirmation", thirdPassword)
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/account?done=reset", accountDE)
	e.expectText(".notice", "Ihr neues Passwort ist gespeichert.")

	// Log out and in again: the old password is refused, the new one works.
	res = e.press("form.logout button")
	e.expectPage(res, http.StatusOK, "/p/default/login?done=logout", "Anmelden")
	e.fill("email", addr)
	e.fill("password", secondPassword)
	res = e.press("main form button")
	e.expectPage(res, http.StatusBadRequest, "/p/default/login?done=logout", "Anmelden")
	e.expectText(".summary li", "E-Mail-Adresse oder Passwort ist falsch.")
	e.fill("password", thirdPassword) // the address is still filled in
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/account", accountDE)
	e.expectText("main > p", "Angemeldet als "+addr)
}

func activationByCode(e *env) {
	const addr = "max@example.com"
	created, err := e.h.Svc.Customers.Create(context.Background(), e.sec, account.NewCustomer{Email: addr,
		State: account.StatePending, Activation: true, Profile: account.Profile{FirstName: "Max"}})
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	m := e.mailTo(addr, "Einladung: Bitte aktivieren Sie Ihr Konto")
	e.linkIn(m, "activate") // the mail links to the pages too
	code := e.codeIn(m)
	if created.ActivationCode != "" && code != created.ActivationCode {
		e.t.Errorf("the mail's code %s is not the one Create returned, %s", code, created.ActivationCode)
	}

	res := e.open(e.page("activate/code"))
	e.expectPage(res, http.StatusOK, "/p/default/activate/code", "Konto aktivieren")
	e.fill("email", addr)
	e.fill("code", code)
	e.fill("password", firstPassword)
	e.fill("password_confirmation", firstPassword)
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/account?done=activated", accountDE)
	e.expectText(".notice", "Ihr Konto ist aktiviert. Willkommen!")
	e.expectText("main > p:nth-of-type(2)", "Angemeldet als "+addr)
	if got := e.customer(addr).State; got != account.StateActive {
		e.t.Errorf("after activation the customer is %s, want active", got)
	}
}

func partnerID(e *env) {
	const addr = "partner@example.com"
	res := e.open(e.page("register?partnerId=ABC-123"))
	e.expectPage(res, http.StatusOK, "/p/default/register?partnerId=ABC-123", "Konto anlegen")
	if got := e.attr(`input[name="partner_id"]`, "value"); got != "ABC-123" {
		e.t.Errorf("the form carries partner_id %q, want ABC-123", got)
	}
	e.register(addr, firstPassword)
	// A public registration's profile waits in its claim until the
	// address is confirmed.
	e.open(e.linkIn(e.mailTo(addr, confirmMailDE), "confirm"))
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/account?done=confirmed", accountDE)
	if got := e.customer(addr); got.State != account.StateActive || got.PartnerRef != "ABC-123" {
		e.t.Errorf("after confirming: state %s, PartnerRef %q", got.State, got.PartnerRef)
	}
}

func inEnglish(e *env) {
	const addr = "jane@example.com"
	res := e.open(e.page("register?lang=en"))
	e.expectPage(res, http.StatusOK, "/p/default/register?lang=en", "Create an account")
	if lang := e.attr("html", "lang"); lang != "en" {
		e.t.Errorf("<html lang=%q>, want en", lang)
	}
	e.expectText(`label[for="email"]`, "Email address (required)")
	e.register(addr, firstPassword)
	e.expectText("h1", "Please check your mailbox")
	e.expectText("main p", "If the address is not confirmed yet, we have sent you an email with a confirmation link. Your account is active once you follow it.")

	// The mail is in English too, and the page behind its link (which
	// names no language) remembers the choice.
	link := e.linkIn(e.mailTo(addr, "Please confirm your registration"), "confirm")
	res = e.open(link)
	e.expectPage(res, http.StatusOK, link, "Confirm your email address")
	e.expectText("main form button", "Confirm address")
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/account?done=confirmed", "Your account")
	e.expectText(".notice", "Your email address is confirmed. Welcome!")
	e.expectText("main > p:nth-of-type(2)", "Logged in as "+addr)
	e.expectText("main > p:nth-of-type(3)", "Customer since 4 March 2030")
	e.expectText("form.logout button", "Log out")
	if got := e.customer(addr).Locale; got != "en" {
		e.t.Errorf("the customer's locale is %q, want en", got)
	}
}

// scannerAgents fetch links in mail before the customer does: link
// checkers of mail services, chat previews, scripts.
var scannerAgents = []string{
	"Mozilla/5.0 (compatible; Microsoft Office SafeLinks; +https://aka.ms/safelinks)",
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"curl/8.5.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
	"Go-http-client/1.1",
}

func mailScanners(e *env) {
	const addr = "scanned@example.com"
	e.open(e.page("register"))
	e.register(addr, firstPassword)
	link := e.linkIn(e.mailTo(addr, confirmMailDE), "confirm")

	// Scanners fetch the link, five times each way: nothing is spent.
	client := plainClient()
	for i, agent := range scannerAgents {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequest(method, link, nil)
			if err != nil {
				e.t.Fatal(err)
			}
			req.Header.Set("User-Agent", agent)
			res, err := client.Do(req)
			if err != nil {
				e.t.Fatalf("%s %s: %v", method, link, err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				e.t.Errorf("scanner %d, %s: status %d", i, method, res.StatusCode)
			}
			for _, c := range res.Cookies() {
				if strings.HasPrefix(c.Name, "__Host-pforte-default") {
					e.t.Errorf("scanner %d, %s: a session cookie", i, method)
				}
			}
			if method == http.MethodGet && !strings.Contains(string(body), `<button type="submit">Adresse bestätigen</button>`) {
				e.t.Errorf("scanner %d, GET: no confirm button in\n%s", i, body)
			}
		}
	}
	if got := e.customer(addr).State; got != account.StatePending {
		e.t.Fatalf("after the scanners the customer is %s, want pending", got)
	}

	// The customer's browser then confirms, once.
	res := e.open(link)
	e.expectPage(res, http.StatusOK, link, "E-Mail-Adresse bestätigen")
	res = e.press("main form button")
	e.expectPage(res, http.StatusOK, "/p/default/account?done=confirmed", accountDE)
	if got := e.customer(addr).State; got != account.StateActive {
		e.t.Errorf("after the button the customer is %s, want active", got)
	}
	// Opened again, the used link says so at once, with no button.
	res = e.open(link)
	e.expectPage(res, http.StatusBadRequest, link, "E-Mail-Adresse bestätigen")
	e.expectText("main p", "Dieser Link oder Code ist ungültig, abgelaufen oder wurde schon benutzt.")
}
