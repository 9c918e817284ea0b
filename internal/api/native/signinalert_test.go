package native_test

import (
	"net/http"
	"regexp"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// shownToken is the token a mail without a link shows on a line of its
// own.
var shownToken = regexp.MustCompile(`(?m)^\s*([A-Za-z0-9_-]{43})\s*$`)

// TestNewSignInMail: with session.new_sign_in_mail a login from a device
// not seen for the customer before is mailed, with a token that ends
// that login and starts a reset; known devices and the first login of
// all are not, nor is anything while the setting is off.
func TestNewSignInMail(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const email, pw = "watched@example.com", "Sommer-Haus-am-See-2030"
		h.mustSignUp(t, email, pw) // one mail: the confirmation
		h.loginFrom(t, email, pw, safariOnIPhone, false)
		h.MustSetting(t, account.DefaultTenant, "session.new_sign_in_mail", "true")
		h.loginFrom(t, email, pw, firefoxOnWindows, false) // the first place recorded: no mail
		h.loginFrom(t, email, pw, firefoxOnWindows, false) // known
		phone := h.loginFrom(t, email, pw, safariOnIPhone, false)

		alert := apitest.MustMailsTo(t, srv, email, 2)[1]
		checkMail(t, alert, email)
		if alert.Subject != "Neue Anmeldung bei Ihrem Kundenkonto" {
			t.Fatalf("second mail %q, want the new sign-in mail", alert.Subject)
		}
		m := shownToken.FindStringSubmatch(alert.Text)
		if m == nil {
			t.Fatalf("no token in the new sign-in mail:\n%s", alert.Text)
		}
		if !regexp.MustCompile(`Safari on iPhone`).MatchString(alert.Text) {
			t.Errorf("the mail does not name the device:\n%s", alert.Text)
		}
		res := h.Post(t, h.public, "/api/v1/sign-in-alert", map[string]any{"token": m[1]})
		apitest.MustStatus(t, res, http.StatusNoContent)
		if h.sessionAlive(t, phone.Session.Token) {
			t.Error("the reported login lives on")
		}
		if reset := apitest.MustMailsTo(t, srv, email, 3)[2]; reset.Subject != "Passwort zurücksetzen" {
			t.Errorf("third mail %q, want the reset", reset.Subject)
		}
		apitest.MustProblem(t, h.Post(t, h.public, "/api/v1/sign-in-alert", map[string]any{"token": m[1]}), http.StatusBadRequest, "token_invalid")

		h.MustSetting(t, account.DefaultTenant, "session.new_sign_in_mail", "false")
		h.loginFrom(t, email, pw, "curl/8.5.0", false)
		ms := h.mustSettle(t)
		if n := len(h.mailsOf(t, ms, email)); n != 3 {
			t.Errorf("%d mails to the customer, want 3: a login while the setting is off mails nothing", n)
		}
	})
}
