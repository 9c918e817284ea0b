package pages_test

import (
	"context"
	"errors"
	"net/http"

	"github.com/chromedp/chromedp"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
)

// devices: a customer logged in on a phone and by the sign-up sees both
// on the account page next to this browser, logs out the phone, then
// every other device.
func devices(e *env) {
	const addr, pw = "geraete@example.com", "Lange-Seiten-Phrase-2030"
	signUp := e.h.MustSignUp(e.t, e.h.Secret, addr, pw)
	res := e.h.Do(e.t, apitest.Request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: e.h.Secret,
		Body: map[string]any{"email": addr, "password": pw}, Header: http.Header{"User-Agent": {iPhoneSafari}}})
	phone := apitest.MustJSON[apitest.CustomerSession](e.t, res, http.StatusCreated)

	nav := e.open(e.page("login"))
	e.expectPage(nav, http.StatusOK, "/p/default/login", "Anmelden")
	e.fill("email", addr)
	e.fill("password", pw)
	if err := chromedp.Do(e.ctx, chromedp.Click(chromedp.ID("remember"))); err != nil {
		e.t.Fatalf("ticking remember: %v", err)
	}
	nav = e.press("main form button")
	e.expectPage(nav, http.StatusOK, "/p/default/account", accountDE)
	e.expectText("#sessions-heading", "Wo Sie angemeldet sind")
	if n := e.count(".sessions li"); n != 3 {
		e.t.Fatalf("the account page lists %d sessions, want 3", n)
	}
	e.expectText(".sessions li:first-child strong", "Chrome on Linux")
	e.expectText(".sessions li:first-child p.meta", "Netz 127.0.0.0/24 · zuletzt genutzt 4. März 2030, 05:06 UTC · bleibt angemeldet")

	nav = e.press(`button[aria-label="Safari on iPhone abmelden"]`)
	e.expectPage(nav, http.StatusOK, "/p/default/account/sessions/end", accountDE)
	e.expectText(".notice", "Das Gerät wurde abgemeldet.")
	if n := e.count(".sessions li"); n != 2 {
		e.t.Errorf("after logging out the phone the page lists %d sessions, want 2", n)
	}
	if res := e.h.Do(e.t, apitest.Request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: phone.Session.Token}); res.Status != http.StatusUnauthorized {
		e.t.Errorf("the phone's session after the page logged it out: %s", res)
	}

	nav = e.press(`form[action$="/account/sessions/others"] button`)
	e.expectPage(nav, http.StatusOK, "/p/default/account/sessions/others", accountDE)
	e.expectText(".notice", "Alle anderen Geräte wurden abgemeldet.")
	if n := e.count(".sessions li"); n != 1 || e.count(`form[action$="/account/sessions/others"]`) != 0 {
		e.t.Errorf("after logging out everywhere else: %d sessions listed, want this one alone and no button", n)
	}
	if res := e.h.Do(e.t, apitest.Request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: signUp.Session.Token}); res.Status != http.StatusUnauthorized {
		e.t.Errorf("the sign-up's session after logging out everywhere else: %s", res)
	}
	if !e.hasSession() {
		e.t.Error("logging out the other devices ended this browser's session")
	}
}

// changeAddressAndDelete: a customer changes the address on the account
// page, confirms it from the new mailbox, and then deletes the account
// after the confirmation step.
func changeAddressAndDelete(e *env) {
	const old, neu, pw = "umzug@example.com", "neu-umzug@example.com", "Lange-Seiten-Phrase-2030"
	e.h.MustSignUp(e.t, e.h.Secret, old, pw)
	nav := e.open(e.page("login"))
	e.expectPage(nav, http.StatusOK, "/p/default/login", "Anmelden")
	e.fill("email", old)
	e.fill("password", pw)
	nav = e.press("main form button")
	e.expectPage(nav, http.StatusOK, "/p/default/account", accountDE)

	e.fill("new_email", neu)
	e.fill("email_password", pw)
	nav = e.press(`form[action$="/account/email"] button`)
	e.expectPage(nav, http.StatusOK, "/p/default/account/email", accountDE)
	e.expectText(".notice", "Falls "+neu+" verwendet werden kann, haben wir dorthin einen Link geschickt. Ihre Adresse ändert sich, sobald Sie ihn öffnen.")

	link := e.linkIn(e.mailTo(neu, "Bestätigen Sie Ihre neue E-Mail-Adresse"), "email-confirm")
	nav = e.open(link)
	e.expectPage(nav, http.StatusOK, link, "Neue E-Mail-Adresse bestätigen")
	e.expectText(".address", neu)
	nav = e.press("main form button")
	e.expectPage(nav, http.StatusOK, link, "Neue E-Mail-Adresse bestätigen")
	e.expectText("main p", "Ihre E-Mail-Adresse ist jetzt "+neu+". Ihre anderen Geräte wurden abgemeldet.")
	e.mailTo(old, "Ihre E-Mail-Adresse wurde geändert")

	nav = e.open(e.page("account"))
	e.expectPage(nav, http.StatusOK, "/p/default/account", accountDE)
	e.expectText("main > p", "Angemeldet als "+neu)
	nav = e.press(`a[href$="/account/delete"]`)
	e.expectPage(nav, http.StatusOK, "/p/default/account/delete", "Konto löschen")
	e.fill("current_password", pw)
	nav = e.press("main form button")
	e.expectPage(nav, http.StatusOK, "/p/default/account/delete", "Konto löschen")
	e.expectText("main p", "Ihr Konto wurde gelöscht.")
	if e.hasSession() {
		e.t.Error("the page session outlived the deletion")
	}
	if _, err := e.h.Svc.Customers.ByEmail(context.Background(), e.sec, neu); !errors.Is(err, account.ErrCustomerNotFound) {
		e.t.Errorf("after the deletion the customer is still found: %v", err)
	}
}
