package native_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// requestEmailChange asks for a new address with the bearer's session
// alone, naming the application "zweite", whose request endpoint the
// mails' links lead to.
func (h *harness) requestEmailChange(t *testing.T, bearer, newEmail, pw string) *response {
	t.Helper()
	return h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/email-change", Bearer: bearer,
		Body: map[string]any{"new_email": newEmail, "password": pw, "app": "zweite"}})
}

// TestEmailChange walks a customer's own change of address: a link to the
// new address, nothing changed until it is confirmed, one of concurrent
// confirmations wins, the other sessions end, the old address hears of
// it and can undo it, which ends every session and mails a reset.
func TestEmailChange(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const old, neu, pw = "alt@example.com", "neu@example.com", "Sommer-Haus-am-See-2030"
		laptop := h.mustSignUp(t, old, pw)
		phone := h.mustLogin(t, old, pw)

		apitest.MustProblem(t, h.requestEmailChange(t, laptop.Session.Token, neu, "wrong password here"),
			http.StatusUnauthorized, "invalid_credentials")
		apitest.MustProblem(t, h.requestEmailChange(t, laptop.Session.Token, "not an address", pw),
			http.StatusBadRequest, "validation_failed")
		apitest.MustProblem(t, h.requestEmailChange(t, laptop.Session.Token, "ALT@example.com", pw),
			http.StatusBadRequest, "validation_failed")
		apitest.MustProblem(t, h.requestEmailChange(t, "no-session", neu, pw), http.StatusUnauthorized, "session_invalid")

		mustAccepted(t, h.requestEmailChange(t, laptop.Session.Token, neu, pw))
		changeMail := mustMailTo(t, srv, neu)
		tok := mustTokenMail(t, changeMail, "Bestätigen Sie Ihre neue E-Mail-Adresse", zweiteEndpoint)
		if got := h.storedCustomer(t, old); got.ID != laptop.Customer.ID {
			t.Fatalf("before confirming, %s is customer %d", old, got.ID)
		}
		if !h.sessionAlive(t, phone.Session.Token) {
			t.Fatal("asking for a new address ended a session")
		}

		const racers = 8
		answers := make([]*response, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				res, err := h.RoundTrip(request{Method: http.MethodPost, Path: "/api/v1/email-change/confirm", Key: h.public,
					Body: map[string]any{"token": tok, "app": "zweite"}})
				if err != nil {
					t.Error(err)
					return
				}
				answers[i] = res
			})
		}
		wg.Wait()
		won := 0
		for _, res := range answers {
			if res == nil {
				continue
			}
			switch res.Status {
			case http.StatusOK:
				won++
				if c := apitest.MustJSON[map[string]customer](t, res, http.StatusOK)["customer"]; c.Email != neu || c.EmailConfirmedAt == nil {
					t.Errorf("confirmed customer %+v, want %s, confirmed", c, neu)
				}
			default:
				apitest.MustProblem(t, res, http.StatusBadRequest, "token_invalid")
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d concurrent confirmations succeeded, want exactly 1", won, racers)
		}
		if got := h.storedCustomer(t, neu); got.ID != laptop.Customer.ID {
			t.Fatalf("after confirming, %s is customer %d", neu, got.ID)
		}
		if !h.sessionAlive(t, laptop.Session.Token) || h.sessionAlive(t, phone.Session.Token) {
			t.Fatal("after confirming: want the asking session alive and every other ended")
		}
		h.mustSettle(t)
		ps := apitest.MustJSON[proofs](t, h.Get(t, h.secret, fmt.Sprintf("/api/v1/customers/%d/consents", laptop.Customer.ID)), http.StatusOK).Proofs
		if len(ps) != 2 || ps[1].Kind != "email_change" || ps[1].MessageID != changeMail.MessageID || ps[1].MailAcceptedAt == nil ||
			ps[1].ConfirmedAt == nil || ps[1].Channel != "native" {
			t.Errorf("the proofs after the change: %+v, want the registration's and the change's, confirmed", ps)
		}

		notice := apitest.MustMailsTo(t, srv, old, 2)[1] // after the registration's confirmation
		checkMail(t, notice, old)
		undo := mustTokenMail(t, notice, "Ihre E-Mail-Adresse wurde geändert", zweiteEndpoint)
		if !strings.Contains(notice.Text, neu) || !strings.Contains(linkOf(t, notice), "action=undoEmail") {
			t.Errorf("the notice to the old address:\n%s", notice.Text)
		}

		res := h.Post(t, h.public, "/api/v1/email-change/undo", map[string]any{"token": undo, "app": "zweite"})
		if c := apitest.MustJSON[map[string]customer](t, res, http.StatusOK)["customer"]; c.Email != old {
			t.Fatalf("undone: %+v, want %s back", c, old)
		}
		if h.sessionAlive(t, laptop.Session.Token) {
			t.Fatal("a session outlived the undo")
		}
		reset := mustTokenMail(t, apitest.MustMailsTo(t, srv, old, 3)[2], "Passwort zurücksetzen", zweiteEndpoint)
		res = h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{"token": reset, "password": "Neues-Passwort-nach-Undo-1"})
		apitest.MustJSON[customerSession](t, res, http.StatusOK)
		h.mustLogin(t, old, "Neues-Passwort-nach-Undo-1")
		for path, spent := range map[string]string{"/api/v1/email-change/undo": undo, "/api/v1/email-change/confirm": tok} {
			apitest.MustProblem(t, h.Post(t, h.public, path, map[string]any{"token": spent}), http.StatusBadRequest, "token_invalid")
		}
	})
}

// TestEmailChangeToATakenAddress: the asker cannot tell a taken address
// from a free one; the owner of the taken one hears of the attempt. A
// secret key, which learns it anyway, is told.
func TestEmailChangeToATakenAddress(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const pw = "Sommer-Haus-am-See-2030"
		asker := h.mustSignUp(t, "asker@example.com", pw)
		h.mustSignUp(t, "owner@example.com", pw)

		free := h.requestEmailChange(t, asker.Session.Token, "free@example.com", pw)
		taken := h.requestEmailChange(t, asker.Session.Token, "owner@example.com", pw)
		mustAccepted(t, free)
		mustAccepted(t, taken)
		apitest.MustSameAnswer(t, free, taken)

		attempt := apitest.MustMailsTo(t, srv, "owner@example.com", 2)[1]
		checkMail(t, attempt, "owner@example.com")
		if attempt.Subject != "Jemand wollte Ihre E-Mail-Adresse verwenden" || len(apitest.Links(attempt.Text)) != 0 {
			t.Errorf("the owner's mail %q:\n%s", attempt.Subject, attempt.Text)
		}
		if strings.Contains(attempt.Text, "asker@example.com") {
			t.Error("the owner's mail names the asker")
		}

		res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/email-change", Key: h.secret, Bearer: asker.Session.Token,
			Body: map[string]any{"new_email": "owner@example.com", "password": pw}})
		apitest.MustProblem(t, res, http.StatusConflict, "email_taken")
		res = h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/email-change", Key: h.secret, Bearer: asker.Session.Token,
			Body: map[string]any{"new_email": "sites-own@example.com", "password": pw}})
		if got := apitest.MustJSON[map[string]string](t, res, http.StatusAccepted); got["token"] == "" {
			t.Fatalf("a secret key in both delivery: %s, want the token", res)
		}
		// A token the site mails itself confirms as the mailed one does.
		tok := apitest.MustJSON[map[string]string](t, res, http.StatusAccepted)["token"]
		res = h.Post(t, h.secret, "/api/v1/email-change/confirm", map[string]any{"token": tok})
		if c := apitest.MustJSON[map[string]customer](t, res, http.StatusOK)["customer"]; c.Email != "sites-own@example.com" {
			t.Fatalf("confirmed: %+v", c)
		}
	})
}

// TestAdminEmailChangeTakeover: a back office changes an address, then
// someone resets the password from the new one. The old, confirmed
// address hears of the change and gets the reset and the password
// notice too.
func TestAdminEmailChangeTakeover(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h, srv := newMailHarness(t, open)
		const owner, taker, pw = "owner@example.com", "taker@example.com", "Sommer-Haus-am-See-2030"
		cs := h.mustSignUp(t, owner, pw)
		// The sign-up's mail first: a change of address fails mail still unsent.
		apitest.MustMailsTo(t, srv, owner, 1)
		res := h.Do(t, request{Method: http.MethodPatch, Path: fmt.Sprintf("/api/v1/customers/%d", cs.Customer.ID), Key: h.secret,
			Body: map[string]any{"email": taker}})
		apitest.MustJSON[map[string]customer](t, res, http.StatusOK)

		notice := apitest.MustMailsTo(t, srv, owner, 2)[1]
		checkMail(t, notice, owner)
		if notice.Subject != "Ihre E-Mail-Adresse wurde geändert" || !strings.Contains(notice.Text, "Kundenservice") ||
			!strings.Contains(notice.Text, taker) {
			t.Errorf("the notice of the back office's change %q:\n%s", notice.Subject, notice.Text)
		}

		mustAccepted(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": taker, "app": "zweite"}))
		toTaker := apitest.MustMailsTo(t, srv, taker, 1)[0]
		toOwner := apitest.MustMailsTo(t, srv, owner, 3)[2]
		checkMail(t, toOwner, owner)
		mustTokenMail(t, toOwner, "Passwort zurücksetzen", zweiteEndpoint)
		tok := mustTokenMail(t, toTaker, "Passwort zurücksetzen", zweiteEndpoint)
		res = h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{"token": tok, "password": "Uebernommen-2031-xyz"})
		apitest.MustJSON[customerSession](t, res, http.StatusOK)
		if changed := apitest.MustMailsTo(t, srv, owner, 4)[3]; changed.Subject != "Ihr Passwort wurde geändert" {
			t.Errorf("the owner's fourth mail %q, want the password notice", changed.Subject)
		}
	})
}

// TestDeleteOwnAccount: a customer erases the account with the current
// password, whatever is pending; a wrong password erases nothing.
func TestDeleteOwnAccount(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, pw = "leaving@example.com", "Sommer-Haus-am-See-2030"
		cs := h.mustSignUp(t, email, pw)
		h.mustRequestReset(t, email) // a reset pending
		// A registration claim pending.
		mustAccepted(t, h.Post(t, h.public, "/api/v1/registrations", map[string]any{"email": email, "password": "Another-One-2030"}))
		del := func(bearer, password string) *response {
			return h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/account/deletion", Bearer: bearer,
				Body: map[string]any{"password": password}})
		}
		apitest.MustProblem(t, del(cs.Session.Token, "not the password"), http.StatusUnauthorized, "invalid_credentials")
		h.storedCustomer(t, email)
		apitest.MustStatus(t, del(cs.Session.Token, pw), http.StatusNoContent)
		h.mustNotStored(t, email)
		apitest.MustProblem(t, h.Get(t, h.secret, fmt.Sprintf("/api/v1/customers/%d", cs.Customer.ID)), http.StatusNotFound, "customer_not_found")
		apitest.MustProblem(t, del(cs.Session.Token, pw), http.StatusUnauthorized, "session_invalid")
		apitest.MustProblem(t, h.Login(t, h.secret, email, pw), http.StatusUnauthorized, "invalid_credentials")
	})
}

// TestEmailChangeUnderHMAC: a tenant that keeps no addresses changes one
// with the addresses the requests carry; the old one, named in the
// request, gets its notice, and the database holds neither address while
// the change waits.
func TestEmailChangeUnderHMAC(t *testing.T) {
	t.Parallel()
	teststore.EachDumped(t, func(t *testing.T, st account.Store, dump teststore.Dumper) {
		t.Parallel()
		h := newHarness(t, nil, apitest.WithStore(st), apitest.WithRelay())
		h.MustSetting(t, account.DefaultTenant, "email_storage", "hmac")
		h.mustApps(t)
		const old, neu, pw = "Geheim.Alt@Example.org", "Geheim.Neu@Example.org", "Sommer-Haus-am-See-2030"
		cs := h.mustSignUp(t, old, pw)
		res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/email-change", Bearer: cs.Session.Token,
			Body: map[string]any{"new_email": neu, "password": pw, "app": "zweite", "current_email": "someone.else@example.org"}})
		apitest.MustProblem(t, res, http.StatusBadRequest, "validation_failed")
		res = h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/email-change", Bearer: cs.Session.Token,
			Body: map[string]any{"new_email": neu, "password": pw, "app": "zweite", "current_email": old}})
		mustAccepted(t, res)
		tok := mustTokenMail(t, mustMailTo(t, h.SMTP, neu), "Bestätigen Sie Ihre neue E-Mail-Adresse", zweiteEndpoint)
		h.mustSettle(t)
		db := bytes.ToLower(dump(t))
		for _, addr := range []string{old, neu} {
			if bytes.Contains(db, []byte(strings.ToLower(addr))) {
				t.Errorf("while the change waits, the database holds %s", addr)
			}
		}
		res = h.Post(t, h.public, "/api/v1/email-change/confirm", map[string]any{"token": tok, "app": "zweite"})
		apitest.MustJSON[map[string]customer](t, res, http.StatusOK)
		notice := apitest.MustMailsTo(t, h.SMTP, old, 2)[1]
		mustTokenMail(t, notice, "Ihre E-Mail-Adresse wurde geändert", zweiteEndpoint)
		h.mustLogin(t, neu, pw)
	})
}
