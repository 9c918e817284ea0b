package native_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/mail/mailtest"
	"pforte/internal/store/teststore"
)

// TestEmailPrivacyAtRest runs the native flows for a tenant with
// email_storage=hmac over real SMTP: mail reaches the address, logins and
// resets work by address, and the database holds the address nowhere, in
// any case or encoding, while mail is queued and after it was sent.
func TestEmailPrivacyAtRest(t *testing.T) {
	t.Parallel()
	teststore.EachDumped(t, func(t *testing.T, st account.Store, dump teststore.Dumper) {
		t.Parallel()
		srv := mailtest.Start(t)
		h := newHarness(t, nil, apitest.WithStore(st))
		h.MustSetting(t, account.DefaultTenant, "email_storage", "hmac")
		h.mustApps(t)

		const email = "Verborgen.Kundin@Example.org"
		forms := [][]byte{[]byte(email), []byte(strings.ToLower(email)), []byte("verborgen.kundin"),
			[]byte(hex.EncodeToString([]byte(strings.ToLower(email))))}
		look := func(when string) {
			t.Helper()
			db := dump(t)
			if !bytes.Contains(db, []byte("hmac:")) {
				t.Fatalf("%s: the dump holds no email key; is it the database?", when)
			}
			for _, f := range forms {
				if bytes.Contains(bytes.ToLower(db), bytes.ToLower(f)) {
					t.Errorf("%s: the database holds %q", when, f)
				}
			}
		}

		h.mustRegisterPublic(t, "/api/v1/registrations", "de", map[string]any{"email": email, "password": mailPassword, "app": "immobilien"})
		look("queued")
		apitest.StartRelay(t, h.svc.Outbox, srv.URL())
		m := mustMailTo(t, srv, email)
		token := mustTokenMail(t, m, "Bitte bestätigen Sie Ihre Registrierung", "https://www.meine-immobilien.de/confirm/")
		h.mustSettle(t)
		cs := h.MustConfirm(t, h.public, token)
		if cs.Customer.Email != "" {
			t.Errorf("the API shows an address it should not have: %q", cs.Customer.Email)
		}
		// Logins and resets find the customer by address, in any case.
		h.mustLogin(t, strings.ToUpper(email), mailPassword)
		apitest.MustStatus(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": strings.ToLower(email), "app": "immobilien"}), http.StatusAccepted)
		reset := mustTokenMail(t, mustMailTo(t, srv, strings.ToLower(email)), "Passwort zurücksetzen", "https://www.meine-immobilien.de/reset-password/")
		res := h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{"token": reset, "password": "Neues-Passwort-am-See-2031"})
		apitest.MustStatus(t, res, http.StatusOK)
		h.mustLogin(t, email, "Neues-Passwort-am-See-2031")
		h.mustSettle(t)
		look("sent")
	})
}
