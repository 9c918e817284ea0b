package native_test

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

func (h *harness) patch(t *testing.T, id int64, body any) *response {
	t.Helper()
	return h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + itoa(id), Key: h.secret, Body: body})
}

// TestAdminNeedsSecretKey: a public key reaches no admin endpoint, and
// changes nothing trying.
func TestAdminNeedsSecretKey(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		cs := h.mustSignUp(t, "admin-target@example.com", "target-Secret-phrase")
		ref := "/api/v1/customers/" + itoa(cs.Customer.ID)
		for _, r := range []request{
			{Method: http.MethodPost, Path: "/api/v1/customers", Body: map[string]any{"email": "sneaky@example.com"}},
			{Method: http.MethodGet, Path: "/api/v1/customers"},
			{Method: http.MethodGet, Path: "/api/v1/customers?email=admin-target%40example.com"},
			{Method: http.MethodGet, Path: ref},
			{Method: http.MethodGet, Path: "/api/v1/customers/" + cs.Customer.UUID},
			{Method: http.MethodPatch, Path: ref, Body: map[string]any{"state": "disabled"}},
			{Method: http.MethodDelete, Path: ref},
			{Method: http.MethodPut, Path: ref + "/password", Body: map[string]any{"password": "hijacked-Secret-phrase"}},
		} {
			r.Key = h.public
			apitest.MustProblem(t, h.Do(t, r), http.StatusForbidden, "secret_key_required")
		}
		h.mustNotStored(t, "sneaky@example.com")
		h.mustSessionValid(t, cs.Session.Token)
		h.mustLogin(t, "admin-target@example.com", "target-Secret-phrase")
	})
}

// TestAdminCustomers covers creating, finding, listing, changing and
// deleting customers through the admin API.
func TestAdminCustomers(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)

		t.Run("invite", func(t *testing.T) {
			c := h.mustCreate(t, map[string]any{"email": "invited@example.com", "first_name": "Ina"})
			if c.InviteToken == "" || c.ConfirmationToken != "" || c.Customer.State != "pending" {
				t.Fatalf("create without password: %+v", c)
			}
			apitest.MustProblem(t, h.Login(t, h.secret, "invited@example.com", "invited-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
			res := h.Post(t, h.public, "/api/v1/invitations/accept", map[string]any{"token": c.InviteToken, "password": "invited-Secret-phrase"})
			acc := apitest.MustJSON[customerSession](t, res, http.StatusOK)
			if acc.Customer.ID != c.Customer.ID || acc.Customer.State != "active" || acc.Customer.EmailConfirmedAt == nil || acc.Session.Token == "" {
				t.Fatalf("accept: %s", res)
			}
			h.mustSessionValid(t, acc.Session.Token)
			h.mustTokenRefused(t, h.secret, "/api/v1/invitations/accept", c.InviteToken)
			h.mustLogin(t, "invited@example.com", "invited-Secret-phrase")
		})

		t.Run("create with password", func(t *testing.T) {
			c := h.mustCreate(t, map[string]any{"email": "ready@example.com", "password": "ready-Secret-phrase"})
			if c.Customer.State != "active" || c.InviteToken != "" || c.ConfirmationToken != "" {
				t.Fatalf("create with password: %+v", c)
			}
			h.mustLogin(t, "ready@example.com", "ready-Secret-phrase")
			c = h.mustCreate(t, map[string]any{"email": "unsure@example.com", "password": "unsure-Secret-phrase", "state": "pending"})
			if c.Customer.State != "pending" || c.ConfirmationToken == "" || c.InviteToken != "" {
				t.Fatalf("create pending with password: %+v", c)
			}
			h.mustConfirm(t, c.ConfirmationToken)
		})

		t.Run("uuid", func(t *testing.T) {
			const id = "0b5a4d6e-2f0c-4c1e-9a77-5e8f6f1d2c3b"
			c := h.mustCreate(t, map[string]any{"email": "uuid@example.com", "uuid": strings.ToUpper(id), "last_name": "Uid"})
			if c.Customer.UUID != id {
				t.Fatalf("uuid %q, want %q", c.Customer.UUID, id)
			}
			for _, ref := range []string{itoa(c.Customer.ID), id, strings.ToUpper(id)} {
				got := apitest.MustJSON[map[string]customer](t, h.Get(t, h.secret, "/api/v1/customers/"+ref), http.StatusOK)["customer"]
				if !reflect.DeepEqual(got, c.Customer) {
					t.Errorf("GET %s: %+v, want %+v", ref, got, c.Customer)
				}
			}
			apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/customers", map[string]any{"email": "uuid2@example.com", "uuid": id}),
				http.StatusConflict, "uuid_taken")
			apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/customers", map[string]any{"email": "UUID@example.com"}),
				http.StatusConflict, "email_taken")
			apitest.MustFieldError(t, h.Post(t, h.secret, "/api/v1/customers", map[string]any{"email": "uuid3@example.com", "uuid": "not-a-uuid"}), "uuid", "invalid")
			apitest.MustFieldError(t, h.Post(t, h.secret, "/api/v1/customers", map[string]any{"email": "uuid3@example.com", "state": "disabled"}), "state", "invalid")
			h.mustNotStored(t, "uuid2@example.com")
			h.mustNotStored(t, "uuid3@example.com")
			for _, ref := range []string{"999999", "ffffffff-ffff-4fff-bfff-ffffffffffff", "nonsense", "99999999999999999999999"} {
				apitest.MustProblem(t, h.Get(t, h.secret, "/api/v1/customers/"+ref), http.StatusNotFound, "customer_not_found")
			}
		})

		t.Run("find by email", func(t *testing.T) {
			reg := h.mustSignUp(t, "user@bücher.de", "buecher-Secret-phrase")
			for _, q := range []string{"user@bücher.de", "USER@xn--bcher-kva.de", "User@BÜCHER.DE"} {
				got := h.mustFind(t, q)
				if len(got) != 1 || got[0].ID != reg.Customer.ID || got[0].Email != "user@bücher.de" {
					t.Errorf("find %s: %+v", q, got)
				}
			}
			apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/registrations", map[string]any{"email": "USER@xn--bcher-kva.de", "password": "other-Secret-phrase"}),
				http.StatusConflict, "email_taken")
			// Unicode NFC: a decomposed é is the same address as a composed one.
			nfc := h.mustRegister(t, "jos\u00e9@example.com", "jose-Secret-phrase")
			if got := h.mustFind(t, "JOSE\u0301@example.com"); len(got) != 1 || got[0].ID != nfc.Customer.ID {
				t.Errorf("find decomposed: %+v", got)
			}
		})

		t.Run("paging", func(t *testing.T) {
			var want []int64
			all := apitest.MustJSON[customerList](t, h.Get(t, h.secret, "/api/v1/customers"), http.StatusOK)
			for _, c := range all.Customers {
				want = append(want, c.ID)
			}
			for _, e := range []string{"p1@example.com", "p2@example.com", "p3@example.com", "p4@example.com", "p5@example.com"} {
				want = append(want, h.mustCreate(t, map[string]any{"email": e}).Customer.ID)
			}
			var got []int64
			after := ""
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatalf("paging does not end: %v", got)
				}
				res := h.Get(t, h.secret, "/api/v1/customers?limit=2"+after)
				page := apitest.MustJSON[customerList](t, res, http.StatusOK)
				if len(page.Customers) > 2 {
					t.Fatalf("page of %d with limit 2", len(page.Customers))
				}
				for _, c := range page.Customers {
					got = append(got, c.ID)
				}
				if page.NextAfter == nil {
					break
				}
				if *page.NextAfter != got[len(got)-1] {
					t.Fatalf("next_after %d, last id %d", *page.NextAfter, got[len(got)-1])
				}
				after = "&after=" + itoa(*page.NextAfter)
			}
			if !slices.Equal(got, want) || !slices.IsSorted(got) {
				t.Errorf("paged ids %v, want %v", got, want)
			}
			for _, q := range []string{"limit=-1", "limit=x", "after=-5", "after=1.5"} {
				p := apitest.MustProblem(t, h.Get(t, h.secret, "/api/v1/customers?"+q), http.StatusBadRequest, "validation_failed")
				if name, _, _ := strings.Cut(q, "="); p.Field(name) == nil {
					t.Errorf("%s: no field entry: %+v", q, p)
				}
			}
			res := h.Get(t, h.secret, "/api/v1/customers?email="+url.QueryEscape("nobody@example.com"))
			apitest.MustStatus(t, res, http.StatusOK)
			if got := string(res.Body); got != `{"customers":[]}`+"\n" {
				t.Errorf("unknown email: %q", got)
			}
			apitest.MustFieldError(t, h.Get(t, h.secret, "/api/v1/customers?email=nonsense"), "email", "invalid")
		})

		t.Run("patch profile", func(t *testing.T) {
			c := h.mustSignUp(t, "profile@example.com", "profile-Secret-phrase").Customer
			h.clock.Advance(time.Minute)
			res := h.patch(t, c.ID, map[string]any{"first_name": "Paula", "last_name": "Profil", "salutation": "ms",
				"username": "paula", "locale": "en-GB", "partner_ref": "crm-7"})
			got := apitest.MustJSON[map[string]customer](t, res, http.StatusOK)["customer"]
			if got.FirstName != "Paula" || got.Name != "Paula Profil" || got.Salutation != "ms" || got.Username != "paula" ||
				got.Locale != "en-GB" || got.PartnerRef != "crm-7" || got.State != "active" || !got.UpdatedAt.Equal(h.clock.Now()) ||
				!got.CreatedAt.Equal(c.CreatedAt) || got.Email != c.Email || got.EmailConfirmedAt == nil {
				t.Errorf("patched: %s", res)
			}
			if again := apitest.MustJSON[map[string]customer](t, h.Get(t, h.secret, "/api/v1/customers/"+itoa(c.ID)), http.StatusOK)["customer"]; !reflect.DeepEqual(again, got) {
				t.Errorf("GET after PATCH: %+v, want %+v", again, got)
			}
			// Only the fields sent change.
			got = apitest.MustJSON[map[string]customer](t, h.patch(t, c.ID, map[string]any{"last_name": ""}), http.StatusOK)["customer"]
			if got.FirstName != "Paula" || got.LastName != "" || got.Name != "Paula" {
				t.Errorf("partial patch: %+v", got)
			}
			apitest.MustFieldError(t, h.patch(t, c.ID, map[string]any{"first_name": "Eve\r\nBcc: all@example.com"}), "first_name", "invalid")
			apitest.MustFieldError(t, h.patch(t, c.ID, map[string]any{"salutation": "lord"}), "salutation", "invalid")
			apitest.MustFieldError(t, h.patch(t, c.ID, map[string]any{"state": "pending"}), "state", "invalid")
			apitest.MustFieldError(t, h.patch(t, c.ID, map[string]any{"state": "offline"}), "state", "invalid")
			h.mustSignUp(t, "other-profile@example.com", "other-Secret-phrase")
			apitest.MustProblem(t, h.patch(t, c.ID, map[string]any{"email": "OTHER-profile@example.com"}), http.StatusConflict, "email_taken")
			other := h.mustCreate(t, map[string]any{"email": "third-profile@example.com", "username": "third"})
			apitest.MustProblem(t, h.patch(t, other.Customer.ID, map[string]any{"username": "PAULA"}), http.StatusConflict, "username_taken")
			apitest.MustProblem(t, h.patch(t, 999999, map[string]any{"first_name": "Nobody"}), http.StatusNotFound, "customer_not_found")
			if again := apitest.MustJSON[map[string]customer](t, h.Get(t, h.secret, "/api/v1/customers/"+itoa(c.ID)), http.StatusOK)["customer"]; again.FirstName != "Paula" || again.Email != c.Email {
				t.Errorf("a refused PATCH changed %+v", again)
			}
			// A new address is unconfirmed.
			got = apitest.MustJSON[map[string]customer](t, h.patch(t, c.ID, map[string]any{"email": "new-profile@example.com"}), http.StatusOK)["customer"]
			if got.Email != "new-profile@example.com" || got.EmailConfirmedAt != nil {
				t.Errorf("email change: %+v", got)
			}
			h.mustLogin(t, "new-profile@example.com", "profile-Secret-phrase")
		})

		t.Run("disable", func(t *testing.T) {
			const email, pw = "disable@example.com", "disable-Secret-phrase"
			first := h.mustSignUp(t, email, pw)
			second := h.mustLogin(t, email, pw)
			got := apitest.MustJSON[map[string]customer](t, h.patch(t, first.Customer.ID, map[string]any{"state": "disabled"}), http.StatusOK)["customer"]
			if got.State != "disabled" {
				t.Fatalf("state %q", got.State)
			}
			h.mustSessionInvalid(t, first.Session.Token)
			h.mustSessionInvalid(t, second.Session.Token)
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw), http.StatusForbidden, "account_disabled")
			apitest.MustProblem(t, h.Login(t, h.secret, email, "wrong-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
			// No reset by mail for a disabled account.
			res := h.Post(t, h.secret, "/api/v1/password-resets", map[string]any{"email": email})
			if body := apitest.MustJSON[map[string]any](t, res, http.StatusAccepted); body["token"] != nil {
				t.Errorf("reset token for a disabled customer: %s", res)
			}
			// Disabling again is no change; enabling lets the customer in, but
			// the old sessions stay dead.
			apitest.MustStatus(t, h.patch(t, first.Customer.ID, map[string]any{"state": "disabled"}), http.StatusOK)
			apitest.MustStatus(t, h.patch(t, first.Customer.ID, map[string]any{"state": "active"}), http.StatusOK)
			h.mustSessionInvalid(t, first.Session.Token)
			h.mustLogin(t, email, pw)
		})

		t.Run("disable kills outstanding tokens", func(t *testing.T) {
			const email, pw = "disable-token@example.com", "disable-Secret-phrase"
			h.mustSignUp(t, email, pw)
			reset := h.mustRequestReset(t, email)
			c := h.mustFind(t, email)[0]
			apitest.MustStatus(t, h.patch(t, c.ID, map[string]any{"state": "disabled"}), http.StatusOK)
			res := h.Post(t, h.secret, "/api/v1/password-resets/complete", map[string]any{"token": reset, "password": "back-in-Secret-phrase"})
			if res.Status == http.StatusOK {
				t.Fatalf("a disabled customer got back in with a reset token: %s", res)
			}
			apitest.MustStatus(t, h.Login(t, h.secret, email, pw), http.StatusForbidden)
		})

		t.Run("delete", func(t *testing.T) {
			const email, pw = "deleted@example.com", "deleted-Secret-phrase"
			cs := h.mustSignUp(t, email, pw)
			reset := h.mustRequestReset(t, email)
			pending := h.mustRegister(t, "deleted-pending@example.com", "pending-Secret-phrase")
			invited := h.mustCreate(t, map[string]any{"email": "deleted-invited@example.com"})
			for _, id := range []int64{cs.Customer.ID, pending.Customer.ID, invited.Customer.ID} {
				res := h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/customers/" + itoa(id), Key: h.secret})
				apitest.MustStatus(t, res, http.StatusNoContent)
				apitest.MustProblem(t, h.Get(t, h.secret, "/api/v1/customers/"+itoa(id)), http.StatusNotFound, "customer_not_found")
				apitest.MustProblem(t, h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/customers/" + itoa(id), Key: h.secret}),
					http.StatusNotFound, "customer_not_found")
			}
			h.mustSessionInvalid(t, cs.Session.Token)
			h.mustTokenRefused(t, h.secret, "/api/v1/password-resets/complete", reset)
			h.mustTokenRefused(t, h.secret, "/api/v1/confirmations", pending.ConfirmationToken)
			h.mustTokenRefused(t, h.secret, "/api/v1/invitations/accept", invited.InviteToken)
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw), http.StatusUnauthorized, "invalid_credentials")
			h.mustNotStored(t, email)
			// The address is free again, for a new customer with a new id.
			if again := h.mustRegister(t, email, pw); again.Customer.ID == cs.Customer.ID {
				t.Errorf("deleted id %d handed out again", again.Customer.ID)
			}
		})

		t.Run("set password", func(t *testing.T) {
			const email, pw, newPw = "set-pw@example.com", "set-pw-Secret-phrase", "set-pw-New-phrase"
			first := h.mustSignUp(t, email, pw)
			second := h.mustLogin(t, email, pw)
			reset := h.mustRequestReset(t, email)
			path := "/api/v1/customers/" + itoa(first.Customer.ID) + "/password"
			put := func(body any) *response {
				return h.Do(t, request{Method: http.MethodPut, Path: path, Key: h.secret, Body: body})
			}
			apitest.MustFieldError(t, put(map[string]any{"password": "password123"}), "password", "too_common")
			apitest.MustFieldError(t, put(map[string]any{"password": "SET-PW@example.com"}), "password", "equals_email")
			apitest.MustFieldError(t, put(map[string]any{"password": "short"}), "password", "too_short")
			h.mustSessionValid(t, first.Session.Token) // refusals change nothing
			apitest.MustStatus(t, put(map[string]any{"password": newPw}), http.StatusNoContent)
			h.mustSessionInvalid(t, first.Session.Token)
			h.mustSessionInvalid(t, second.Session.Token)
			h.mustTokenRefused(t, h.secret, "/api/v1/password-resets/complete", reset)
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw), http.StatusUnauthorized, "invalid_credentials")
			h.mustLogin(t, email, newPw)
			apitest.MustProblem(t, h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/customers/999999/password", Key: h.secret,
				Body: map[string]any{"password": newPw}}), http.StatusNotFound, "customer_not_found")
		})
	})
}
