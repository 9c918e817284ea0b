package pages_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/pages"
	"pforte/internal/store/teststore"
)

// linkPath is the path and query of the one link of a mail to addr, the
// n-th to arrive there.
func linkPath(t *testing.T, h *apitest.Harness, addr string, n int, subject string) string {
	t.Helper()
	m := apitest.MustMailsTo(t, h.SMTP, addr, n)[n-1]
	if m.Subject != subject {
		t.Fatalf("mail %d to %s: %q, want %q", n, addr, m.Subject, subject)
	}
	links := apitest.Links(m.Text)
	if len(links) != 1 {
		t.Fatalf("mail %q has links %q, want one", m.Subject, links)
	}
	return strings.TrimPrefix(links[0], h.Srv.URL)
}

// TestPagesEmailChangeAndDeletion: on the account page a customer changes
// the address (the link's page spends nothing on GET), undoes it from the
// old address's notice, and deletes the account after a confirmation
// step.
func TestPagesEmailChangeAndDeletion(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open, apitest.WithRelay(), apitest.WithDefaultLinks(pages.LinkTemplates))
		const old, neu, pw = "alt@example.com", "neu@example.com", "Lange-Seiten-Phrase-2030"
		h.MustSignUp(t, h.Secret, old, pw)
		b := newBrowser(t, h)
		b.do(http.MethodGet, "/p/default/login?lang=en", nil)
		pageLogin(t, b, old, pw, false)
		page := b.do(http.MethodGet, "/p/default/account", nil)

		res := b.do(http.MethodPost, "/p/default/account/email", url.Values{"csrf": {b.form(page)}, "new_email": {neu}, "email_password": {"wrong password!"}})
		wantStatus(t, res, http.StatusBadRequest)
		if !strings.Contains(string(res.Body), `id="email_password-error"`) {
			t.Errorf("a wrong password: no error at the password field:\n%s", res.Body)
		}
		res = b.do(http.MethodPost, "/p/default/account/email", url.Values{"csrf": {b.form(page)}, "new_email": {neu}, "email_password": {pw}})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), "If neu@example.com can be used, we have sent a link there.") {
			t.Errorf("after asking for a new address:\n%s", res.Body)
		}

		confirm := linkPath(t, h, neu, 1, "Bestätigen Sie Ihre neue E-Mail-Adresse")
		if !strings.HasPrefix(confirm, "/p/default/email-confirm?token=") {
			t.Fatalf("the confirmation link %s", confirm)
		}
		for range 2 {
			wantStatus(t, b.do(http.MethodHead, confirm, nil), http.StatusOK)
			get := b.do(http.MethodGet, confirm, nil)
			wantStatus(t, get, http.StatusOK)
			if !strings.Contains(string(get.Body), neu) {
				t.Fatalf("the confirmation page does not show the new address:\n%s", get.Body)
			}
		}
		token, _ := url.ParseQuery(strings.SplitN(confirm, "?", 2)[1])
		res = b.do(http.MethodPost, "/p/default/email-confirm", url.Values{"csrf": {b.form(page)}, "token": {token.Get("token")}})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), "Your email address is now neu@example.com.") {
			t.Fatalf("after confirming:\n%s", res.Body)
		}
		wantStatus(t, b.do(http.MethodPost, "/p/default/email-confirm", url.Values{"csrf": {b.form(page)}, "token": {token.Get("token")}}), http.StatusBadRequest)

		undo := linkPath(t, h, old, 2, "Ihre E-Mail-Adresse wurde geändert")
		wantStatus(t, b.do(http.MethodGet, undo, nil), http.StatusOK)
		token, _ = url.ParseQuery(strings.SplitN(undo, "?", 2)[1])
		res = b.do(http.MethodPost, "/p/default/email-undo", url.Values{"csrf": {b.form(page)}, "token": {token.Get("token")}})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), "The change is undone and every device is logged out.") {
			t.Fatalf("after undoing:\n%s", res.Body)
		}
		if b.cookies["__Host-pforte-default"] != "" {
			t.Error("the page session cookie outlived the undo")
		}
		linkPath(t, h, old, 3, "Passwort zurücksetzen")

		pageLogin(t, b, old, pw, false)
		export := b.do(http.MethodGet, "/p/default/account/export", nil)
		wantStatus(t, export, http.StatusOK)
		var x account.CustomerExport
		if err := apitest.DecodeStrict(export.Body, &x); err != nil || x.Customer.Email != old ||
			!strings.HasPrefix(export.Header.Get("Content-Disposition"), "attachment;") {
			t.Fatalf("the account page's export: %v, %q\n%s", err, export.Header.Get("Content-Disposition"), export.Body)
		}
		del := b.do(http.MethodGet, "/p/default/account/delete", nil)
		wantStatus(t, del, http.StatusOK)
		res = b.do(http.MethodPost, "/p/default/account/delete", url.Values{"csrf": {b.form(del)}, "current_password": {"wrong password!"}})
		wantStatus(t, res, http.StatusBadRequest)
		res = b.do(http.MethodPost, "/p/default/account/delete", url.Values{"csrf": {b.form(del)}, "current_password": {pw}})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), "Your account has been deleted.") || b.cookies["__Host-pforte-default"] != "" {
			t.Fatalf("after deleting: cookie %q\n%s", b.cookies["__Host-pforte-default"], res.Body)
		}
		if res := h.Login(t, h.Secret, old, pw); res.Status != http.StatusUnauthorized {
			t.Errorf("a login after the deletion: %s", res)
		}
	})
}

// TestPagesSignInAlert: the new sign-in mail's link shows the login it
// reports on GET, as often as a scanner likes, and ends it on POST.
func TestPagesSignInAlert(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open, apitest.WithRelay(), apitest.WithDefaultLinks(pages.LinkTemplates),
			apitest.WithSetting("session.new_sign_in_mail", "true"))
		const email, pw = "alarm@example.com", "Lange-Seiten-Phrase-2030"
		h.MustSignUp(t, h.Secret, email, pw)
		b := newBrowser(t, h)
		pageLogin(t, b, email, pw, false) // the first place of all
		res := h.Do(t, apitest.Request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.Secret,
			Body: map[string]any{"email": email, "password": pw}, Header: http.Header{"User-Agent": {iPhoneSafari}}})
		phone := apitest.MustJSON[apitest.CustomerSession](t, res, http.StatusCreated)

		link := linkPath(t, h, email, 2, "Neue Anmeldung bei Ihrem Kundenkonto")
		if !strings.HasPrefix(link, "/p/default/sign-in-alert?token=") {
			t.Fatalf("the alert's link %s", link)
		}
		for range 3 {
			page := b.do(http.MethodGet, link+"&lang=en", nil)
			wantStatus(t, page, http.StatusOK)
			if !strings.Contains(string(page.Body), "Your account was logged in to on Safari on iPhone") {
				t.Fatalf("the alert's page:\n%s", page.Body)
			}
		}
		if res := h.Do(t, apitest.Request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: phone.Session.Token}); res.Status != http.StatusOK {
			t.Fatalf("the reported login after GETs of the link: %s", res)
		}
		page := b.do(http.MethodGet, link, nil)
		token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
		res = b.do(http.MethodPost, "/p/default/sign-in-alert", url.Values{"csrf": {b.form(page)}, "token": {token.Get("token")}})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), "That login has ended.") {
			t.Fatalf("after ending the login:\n%s", res.Body)
		}
		if res := h.Do(t, apitest.Request{Method: http.MethodGet, Path: "/api/v1/session", Bearer: phone.Session.Token}); res.Status != http.StatusUnauthorized {
			t.Errorf("the reported login after the POST: %s", res)
		}
		linkPath(t, h, email, 3, "Passwort zurücksetzen")
	})
}

// TestPagesOptInProof: a registration on the hosted page records the
// consent text it showed, with the request and the confirmation.
func TestPagesOptInProof(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		const text = "Ich stimme den Nutzungsbedingungen zu."
		h := apitest.New(t, open, apitest.WithRelay(), apitest.WithDefaultLinks(pages.LinkTemplates),
			apitest.WithSetting("pages.consent_de", text))
		b := newBrowser(t, h)
		page := b.do(http.MethodGet, "/p/default/register", nil)
		res := b.do(http.MethodPost, "/p/default/register", url.Values{"csrf": {b.form(page)}, "email": {"seite@example.com"},
			"password": {"Lange-Seiten-Phrase-2030"}, "password_confirmation": {"Lange-Seiten-Phrase-2030"}, "consent": {"yes"}},
			"User-Agent", "PageBrowser/1.0")
		wantStatus(t, res, http.StatusOK)
		link := linkPath(t, h, "seite@example.com", 1, "Bitte bestätigen Sie Ihre Registrierung")
		token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
		res = b.do(http.MethodPost, "/p/default/confirm", url.Values{"csrf": {b.form(page)}, "token": {token.Get("token")}},
			"User-Agent", "PageBrowser/2.0")
		wantStatus(t, res, http.StatusSeeOther)

		c, err := h.Svc.APIKeys.Authenticate(t.Context(), h.Secret)
		if err != nil {
			t.Fatal(err)
		}
		cust, err := h.Svc.Customers.ByEmail(t.Context(), c, "seite@example.com")
		if err != nil {
			t.Fatal(err)
		}
		proofs, err := h.Svc.Customers.Proofs(t.Context(), c, fmt.Sprint(cust.ID))
		if err != nil || len(proofs) != 1 {
			t.Fatalf("proofs: %+v, %v", proofs, err)
		}
		p := proofs[0].Exported()
		sum := sha256.Sum256([]byte(text))
		if p.Channel != "pages" || p.ConsentVersion != "pages.consent_de" || p.ConsentLang != "de" ||
			p.ConsentSHA256 != hex.EncodeToString(sum[:]) || p.RequestAgent != "PageBrowser/1.0" || p.ConfirmAgent != "PageBrowser/2.0" {
			t.Errorf("the page registration's proof: %+v", p)
		}
	})
}

// TestPagesShowKeptConsent: a consent text pforte keeps wins over the
// setting; the register page shows it and the proof names its version.
func TestPagesShowKeptConsent(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open, apitest.WithRelay(), apitest.WithDefaultLinks(pages.LinkTemplates),
			apitest.WithSetting("pages.consent_de", "Der alte Text aus der Einstellung."))
		const kept = "Ich willige ein (Fassung Dezember 2026)."
		if _, err := h.Svc.Consents.Add(t.Context(), "default", "", "2026-12", "de", kept); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, h)
		page := b.do(http.MethodGet, "/p/default/register", nil)
		if body := string(page.Body); !strings.Contains(body, kept) || strings.Contains(body, "alte Text") {
			t.Fatalf("the register page does not show the kept text:\n%s", body)
		}
		res := b.do(http.MethodPost, "/p/default/register", url.Values{"csrf": {b.form(page)}, "email": {"fassung@example.com"},
			"password": {"Lange-Seiten-Phrase-2030"}, "password_confirmation": {"Lange-Seiten-Phrase-2030"}, "consent": {"yes"}})
		wantStatus(t, res, http.StatusOK)
		linkPath(t, h, "fassung@example.com", 1, "Bitte bestätigen Sie Ihre Registrierung")
		c, err := h.Svc.APIKeys.Authenticate(t.Context(), h.Secret)
		if err != nil {
			t.Fatal(err)
		}
		cust, err := h.Svc.Customers.ByEmail(t.Context(), c, "fassung@example.com")
		if err != nil {
			t.Fatal(err)
		}
		proofs, err := h.Svc.Customers.Proofs(t.Context(), c, fmt.Sprint(cust.ID))
		sum := sha256.Sum256([]byte(kept))
		if err != nil || len(proofs) != 1 || proofs[0].ConsentVersion != "2026-12" || hex.EncodeToString(proofs[0].ConsentHash) != hex.EncodeToString(sum[:]) {
			t.Errorf("the proof: %+v, %v", proofs, err)
		}
		if list, _ := h.Svc.Consents.List(t.Context(), "default"); len(list) != 1 || list[0].ShownAt == nil {
			t.Errorf("the kept text after a registration showed it: %+v, want it marked shown", list)
		}
	})
}
