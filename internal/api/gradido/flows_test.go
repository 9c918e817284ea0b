package gradido_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// gradidoHash is the login server's DRMakeStringHash, written out
// independently of the package: rotate left by 7, add the signed byte.
func gradidoHash(s string) uint32 {
	var h uint32
	for _, b := range []byte(s) {
		h = h<<7 | h>>25
		h += uint32(int32(int8(b)))
	}
	return h
}

// TestRegisterConfirmLogin is Gradido's frontend over real SMTP:
// createUser; a login before confirming works and shows email_checked
// false; the verification mail arrives, in the registrant's language, with
// the link to the tenant's page and its token; confirming that token
// through the native API makes the next login show email_checked true.
// Every field of the user is checked against what pforte knows, and no
// session id reaches the log.
func TestRegisterConfirmLogin(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay(), passwordsOn())
		const email = "Max.Musterman@Example.DE"
		mustSuccess(t, h.send(t, call{Call: "createUser", Header: map[string]string{"Accept-Language": "en-GB, de;q=0.5"},
			Body: map[string]any{"email": email, "first_name": "Max", "last_name": "Musterman", "emailType": 2, "password": strongPassword}}))

		before := mustLogin(t, h.login(t, "max.musterman@example.de", strongPassword))
		u := before.User
		cust := h.MustGetCustomer(t, h.Secret, u.ID)
		switch {
		case u.EmailChecked || cust.EmailConfirmedAt != nil || cust.State != "pending_active":
			t.Errorf("before confirming: %+v, customer %+v", u, cust)
		case u.Created != cust.CreatedAt.Unix() || u.Created != h.Clock.Now().Unix():
			t.Errorf("created %d, customer created at %v", u.Created, cust.CreatedAt)
		case u.Email != email || u.FirstName != "Max" || u.LastName != "Musterman" || u.Disabled || u.GroupAlias != account.DefaultTenant:
			t.Errorf("user %+v", u)
		case u.IdentHash != gradidoHash("max.musterman@example.de"):
			t.Errorf("ident_hash %d, want the login server's hash of the normalised address", u.IdentHash)
		case u.PublicHex != h.publicHex(t, u.ID):
			t.Errorf("public_hex %s, want the service's key", u.PublicHex)
		case before.ClientIP != "127.0.0.1":
			t.Errorf("clientIP %q", before.ClientIP)
		}

		m := h.mustMailTo(t, 1, email)
		if !strings.Contains(m.Subject, "confirm") && !strings.Contains(m.Subject, "Confirm") {
			t.Errorf("subject %q: not the English confirmation", m.Subject)
		}
		h.MustConfirm(t, h.Public, mustToken(t, m, confirmLink))

		after := mustLogin(t, h.login(t, email, strongPassword))
		if !after.User.EmailChecked || after.User.ID != u.ID || after.User.PublicHex != u.PublicHex || after.User.Created != u.Created ||
			after.User.IdentHash != u.IdentHash || after.SessionID == before.SessionID {
			t.Errorf("after confirming: %+v (before %+v)", after, before)
		}
		if got := h.MustGetCustomer(t, h.Secret, u.ID); got.State != "active" || got.EmailConfirmedAt == nil {
			t.Errorf("customer after confirming: %+v", got)
		}
		mustSuccess(t, h.logout(t, "", before.SessionID))
		mustSuccess(t, h.logout(t, "", after.SessionID))
		h.mustNotLog(t, before.SessionID, after.SessionID)
	})
}

var activationCode = regexp.MustCompile(`\b\d{8}\b`)

// TestAdminInvite: emailType 5 with a secret key creates the customer
// pending_active with the admin's password and mails the invitation (the
// "registered by an admin" text) with a link and an 8-digit code; the
// customer may log in before activating; activating through the native
// API confirms the address.
func TestAdminInvite(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay(), passwordsOn())
		mustSuccess(t, h.send(t, call{Call: "createUser", Key: h.Secret, Body: map[string]any{"email": "erika@example.de",
			"first_name": "Erika", "last_name": "Musterfrau", "emailType": 5, "password": strongPassword}}))
		m := h.mustMailTo(t, 1, "erika@example.de")
		token := mustToken(t, m, inviteLink)
		if !strings.Contains(m.Text, "eingeladen") || !activationCode.MatchString(m.Text) {
			t.Errorf("not the invitation with a code:\n%s", m.Text)
		}

		l := mustLogin(t, h.login(t, "erika@example.de", strongPassword))
		if l.User.EmailChecked || l.User.FirstName != "Erika" || l.User.LastName != "Musterfrau" {
			t.Errorf("before activating: %+v", l.User)
		}
		r := h.Do(t, apitest.Request{Method: http.MethodPost, Path: "/api/v1/invitations/accept", Key: h.Public,
			Body: map[string]string{"token": token}})
		if r.Status != http.StatusOK {
			t.Fatalf("accept: %s", r)
		}
		if l := mustLogin(t, h.login(t, "erika@example.de", strongPassword)); !l.User.EmailChecked {
			t.Errorf("after activating: %+v", l.User)
		}
	})
}

// TestRegisterExisting: registering an address that has an account
// answers as for a new one and changes nothing: the owner's password
// still works and the registrant's does not log in (it answers "email not
// activated", as a registration that waits for its confirmation does).
// The owner is mailed that someone tried.
func TestRegisterExisting(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, apitest.WithRelay(), passwordsOn())
		h.mustRegister(t, "", seedEmail, strongPassword, "Max", "Musterman")
		h.MustConfirm(t, h.Public, mustToken(t, h.mustMailTo(t, 1, seedEmail), confirmLink))
		owner := mustLogin(t, h.login(t, seedEmail, strongPassword)).User

		h.mustRegister(t, "", seedEmail, otherPassword, "Moritz", "Anders")
		l := mustLogin(t, h.login(t, seedEmail, strongPassword))
		if l.User != owner {
			t.Errorf("the registration changed the account: %+v, was %+v", l.User, owner)
		}
		mustFail(t, h.login(t, seedEmail, otherPassword), http.StatusOK, "error", "email_not_confirmed")
		if m := h.mustMailTo(t, 2, seedEmail); confirmLink.MatchString(m.Text) {
			t.Errorf("the owner got a confirmation link for someone else's registration:\n%s", m.Text)
		}
	})
}

// TestEmailStorageHMAC: under email_storage=hmac the customer row keeps no
// address; the login answers the address the request gave, and ident_hash
// is still the hash of the normalised address.
func TestEmailStorageHMAC(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open, passwordsOn(), apitest.WithSetting("email_storage", "hmac"))
		h.mustRegister(t, "", "max.musterman@gmail.de", strongPassword, "Max", "Musterman")
		l := mustLogin(t, h.login(t, "Max.Musterman@GMAIL.de", strongPassword))
		if l.User.Email != "Max.Musterman@GMAIL.de" || l.User.IdentHash != gradidoHash(seedEmail) || l.User.IdentHash != 3354208457 {
			t.Errorf("user %+v", l.User)
		}
		if c := h.MustGetCustomer(t, h.Secret, l.User.ID); c.Email != "" {
			t.Errorf("the row keeps the address %q", c.Email)
		}
	})
}
