package propstack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// mailKinds lists the kinds of the tenant's mails, oldest first.
func (h *harness) mailKinds(t *testing.T, tenant string) []string {
	t.Helper()
	ms, err := h.svc.Outbox.List(context.Background(), tenant, 1000)
	if err != nil {
		t.Fatalf("Mails: %v", err)
	}
	kinds := make([]string, len(ms))
	for i, m := range ms {
		kinds[len(ms)-1-i] = string(m.Kind)
	}
	return kinds
}

// TestWalk is a site's whole customer area: register, confirm, log in,
// forget the password and reset it through Propstack's misspelt path, log
// in with it, reset again through the right spelling, and log in with the
// newest password, while the older ones stop working. With
// delivery=return pforte mails nothing, and no token reaches the log.
func TestWalk(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		c := fooBar()
		confirmToken := h.mustRegister(t, h.secret, c)
		id := mustClient(t, h.confirm(t, h.secret, confirmToken), 0, "Foo Bar")
		got := h.MustGetCustomer(t, h.secret, id)
		if got.State != "active" || got.Email != c.Email || got.Salutation != "mr" || got.FirstName != "Foo" || got.LastName != "Bar" {
			t.Fatalf("after confirmation: %+v", got)
		}
		mustClient(t, h.login(t, h.secret, c.Email, strongPassword), id, "Foo Bar")

		reset1 := h.mustSendReset(t, h.secret, c.Email)
		mustClient(t, h.resetPassword(t, h.secret, "contats", reset1, newPassword, newPassword), id, "Foo Bar")
		mustClient(t, h.login(t, h.secret, c.Email, newPassword), id, "Foo Bar")
		mustError(t, h.login(t, h.secret, c.Email, strongPassword), http.StatusUnauthorized, "invalid_credentials", "base")

		const third = "Drittes-Passwort-2032"
		reset2 := h.mustSendReset(t, h.secret, c.Email)
		mustClient(t, h.resetPassword(t, h.secret, "contacts", reset2, third, third), id, "Foo Bar")
		mustClient(t, h.login(t, h.secret, c.Email, third), id, "Foo Bar")
		mustError(t, h.login(t, h.secret, c.Email, newPassword), http.StatusUnauthorized, "invalid_credentials", "base")

		if mailed := h.mailKinds(t, account.DefaultTenant); len(mailed) != 0 {
			t.Errorf("with delivery=return pforte queued %v", mailed)
		}
		h.mustNotLeak(t, confirmToken, reset1, reset2)
		// The access log names the route, not the path with its token.
		if logs := h.logs.String(); !strings.Contains(logs, "POST /v1/contats/{token}/reset_password") ||
			!strings.Contains(logs, "POST /v1/contacts/{token}/reset_password") {
			t.Errorf("the reset routes were not logged by pattern:\n%s", logs)
		}
	})
}

// TestDeliveryModes: the token comes back in every delivery mode, since the
// vendor always hands it to the site; only with delivery=return does
// pforte not mail the customer as well (hence the README's advice).
func TestDeliveryModes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, mode := range []string{"return", "mail", "both"} {
			h.MustSetting(t, account.DefaultTenant, "delivery", mode)
			before := h.mailKinds(t, account.DefaultTenant)
			c := fooBar()
			c.Email = mode + "@example.de"
			tok := h.mustRegister(t, h.secret, c)
			mustClient(t, h.confirm(t, h.secret, tok), 0, "Foo Bar")
			h.mustSendReset(t, h.secret, c.Email)
			added := h.mailKinds(t, account.DefaultTenant)[len(before):]
			mailed := strings.Join(added, " ")
			switch {
			case mode == "return" && len(added) != 0:
				t.Errorf("delivery=return: pforte queued %s", mailed)
			case mode != "return" && (!strings.Contains(mailed, string(account.MailConfirm)) || !strings.Contains(mailed, string(account.MailPasswordReset))):
				t.Errorf("delivery=%s: pforte queued %q, want a confirmation and a reset mail as well", mode, mailed)
			}
		}
	})
}

// TestOfflineContact: a contact without an account (offline), created by
// the back office, registers through the site. The registration changes
// nothing until it is confirmed; then the contact has the account, keeps
// its id, and takes the registration's password and names, keeping its
// salutation where the registration gives none. An address with an
// account cannot register again.
func TestOfflineContact(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		offline := h.mustCreateCustomer(t, h.secret, map[string]string{"email": "erika@example.de", "state": "offline",
			"salutation": "ms", "first_name": "Erika", "last_name": "Musterfrau"})

		// Before the confirmation: no account yet, so no reset and no login.
		mustError(t, h.sendReset(t, h.secret, "erika@example.de"), http.StatusNotFound, "customer_not_found", "email")
		tok := h.mustRegister(t, h.secret, client{Email: "Erika@example.de", Password: strongPassword,
			Confirmation: strongPassword, FirstName: "Erika", LastName: "Mustermann"})
		if got := h.MustGetCustomer(t, h.secret, offline.ID); got.State == "active" || got.LastName != "Musterfrau" || got.FirstName != "Erika" {
			t.Fatalf("the registration changed the contact before its confirmation: %+v", got)
		}
		mustError(t, h.login(t, h.secret, "erika@example.de", strongPassword), http.StatusForbidden, "email_not_confirmed", "base")

		mustClient(t, h.confirm(t, h.secret, tok), offline.ID, "Erika Mustermann")
		got := h.MustGetCustomer(t, h.secret, offline.ID)
		if got.State != "active" || got.Salutation != "ms" || got.LastName != "Mustermann" || got.Email != "erika@example.de" {
			t.Fatalf("after confirmation: %+v", got)
		}
		mustClient(t, h.login(t, h.secret, "erika@example.de", strongPassword), offline.ID, "Erika Mustermann")

		// Now the address has an account.
		r := h.register(t, h.secret, client{Email: "erika@example.de", Password: newPassword, Confirmation: newPassword})
		mustError(t, r, http.StatusUnprocessableEntity, "email_taken", "email")
		active := h.mustCreateCustomer(t, h.secret, map[string]string{"email": "aktiv@example.de", "state": "active", "password": strongPassword})
		r = h.register(t, h.secret, client{Email: "aktiv@example.de", Password: newPassword, Confirmation: newPassword})
		mustError(t, r, http.StatusUnprocessableEntity, "email_taken", "email")
		mustClient(t, h.login(t, h.secret, "aktiv@example.de", strongPassword), active.ID, "")
	})
}

// TestSalutations: Propstack's salutations map onto pforte's; the native
// API shows what was stored. Unknown ones are refused and register nobody.
func TestSalutations(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, c := range []struct {
			name string
			body string // the salutation member of the client object, or ""
			want string // stored; "!" for refused
		}{
			{"mr", `"salutation": "mr"`, "mr"},
			{"ms", `"salutation": "ms"`, "ms"},
			{"mrs", `"salutation": "mrs"`, "ms"},
			{"upper case", `"salutation": "Mrs"`, "ms"},
			{"mx", `"salutation": "mx"`, "mx"},
			{"family", `"salutation": "family"`, ""},
			{"company", `"salutation": "company"`, ""},
			{"empty", `"salutation": ""`, ""},
			{"null", `"salutation": null`, ""},
			{"missing", ``, ""},
			{"unknown", `"salutation": "dr"`, "!"},
			{"German", `"salutation": "Herr"`, "!"},
			{"padded", `"salutation": " mr"`, "!"},
			{"number", `"salutation": 1`, "!"},
		} {
			t.Run(c.name, func(t *testing.T) {
				email := strings.ReplaceAll(c.name, " ", "-") + "@example.de"
				body := `{"client": {"email": "` + email + `", "password": "` + strongPassword + `", "first_name": "Foo", "last_name": "Bar"`
				if c.body != "" {
					body += ", " + c.body
				}
				body += "}}"
				r := h.Post(t, h.secret, "/v1/contacts/register", body)
				if c.want == "!" {
					mustError(t, r, http.StatusUnprocessableEntity, "validation_failed", "salutation")
					mustError(t, h.sendReset(t, h.secret, email), http.StatusNotFound, "customer_not_found", "email")
					return
				}
				v := apitest.MustJSON[struct {
					Token string `json:"confirmation_token"`
				}](t, r, http.StatusOK)
				id := mustClient(t, h.confirm(t, h.secret, v.Token), 0, "Foo Bar")
				if got := h.MustGetCustomer(t, h.secret, id).Salutation; got != c.want {
					t.Errorf("salutation %q, want %q", got, c.want)
				}
			})
		}
	})
}
