package native_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestWalk goes through the whole life of an account as a site's server
// would: register, confirm, look at the session, log in, log out, reset
// the password and log in with the new one.
func TestWalk(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, pw, newPw = "Walker@Example.com", "first-Secret-phrase", "second-Secret-phrase"

		// Register: 201 with the customer and, for a secret key, the token.
		res := h.Post(t, h.secret, "/api/v1/registrations", map[string]any{
			"email": email, "password": pw, "password_confirmation": pw,
			"first_name": "Wanda", "last_name": "Walker", "salutation": "ms", "locale": "de", "partner_ref": "p-1",
		})
		reg := apitest.MustJSON[registered](t, res, http.StatusCreated)
		c := reg.Customer
		if reg.ConfirmationToken == "" || c.ID == 0 || c.UUID == "" || c.Email != email || c.State != "pending" ||
			c.EmailConfirmedAt != nil || c.Name != "Wanda Walker" || c.Salutation != "ms" || c.Locale != "de" ||
			c.PartnerRef != "p-1" || !c.CreatedAt.Equal(h.clock.Now()) {
			t.Fatalf("register: %s", res)
		}
		// The customer object has exactly the documented fields.
		var raw struct {
			Customer map[string]any `json:"customer"`
		}
		if err := json.Unmarshal(res.Body, &raw); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range raw.Customer {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := []string{"created_at", "email", "email_confirmed_at", "first_name", "id", "last_name", "locale", "name",
			"partner_ref", "salutation", "state", "updated_at", "username", "uuid"}
		if !slices.Equal(keys, want) {
			t.Errorf("customer fields %v, want %v", keys, want)
		}
		// Logging in before confirming: the state is told only after the right password.
		apitest.MustProblem(t, h.Login(t, h.secret, email, pw), http.StatusForbidden, "email_not_confirmed")

		// Confirm: active, and logged in.
		h.clock.Advance(time.Hour)
		confirmed := h.mustConfirm(t, reg.ConfirmationToken)
		if confirmed.Customer.ID != c.ID || !confirmed.Customer.EmailConfirmedAt.Equal(h.clock.Now()) {
			t.Errorf("confirm: %+v", confirmed.Customer)
		}
		if s := confirmed.Session; !s.CreatedAt.Equal(h.clock.Now()) || !s.IdleExpiresAt.Equal(h.clock.Now().Add(30*time.Minute)) ||
			!s.ExpiresAt.Equal(s.IdleExpiresAt) {
			t.Errorf("confirm session: %+v", s)
		}

		// The session, with and without the key.
		cur := h.mustSessionValid(t, confirmed.Session.Token)
		if cur.Customer.ID != c.ID || cur.Customer.State != "active" {
			t.Errorf("session: %+v", cur)
		}
		apitest.MustStatus(t, h.currentSession(t, h.secret, confirmed.Session.Token), http.StatusOK)
		apitest.MustStatus(t, h.currentSession(t, h.public, confirmed.Session.Token), http.StatusOK)
		apitest.MustProblem(t, h.currentSession(t, "", ""), http.StatusUnauthorized, "session_invalid")
		apitest.MustProblem(t, h.currentSession(t, "", "not-a-session"), http.StatusUnauthorized, "session_invalid")

		// Log in (the email in another case is the same account), then out.
		login := apitest.MustJSON[customerSession](t, h.Login(t, h.public, "walker@EXAMPLE.com", pw), http.StatusCreated)
		if login.Customer.ID != c.ID || login.Session.Token == "" || login.Session.Token == confirmed.Session.Token {
			t.Fatalf("login: %+v", login)
		}
		res = h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/session", Bearer: login.Session.Token})
		apitest.MustStatus(t, res, http.StatusNoContent)
		if len(res.Body) != 0 {
			t.Errorf("logout body %q", res.Body)
		}
		h.mustSessionInvalid(t, login.Session.Token)
		apitest.MustProblem(t, h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/session", Bearer: login.Session.Token}),
			http.StatusUnauthorized, "session_invalid")
		h.mustSessionValid(t, confirmed.Session.Token) // logout ends that session only

		// Password reset.
		token := h.mustRequestReset(t, email)
		res = h.Post(t, h.secret, "/api/v1/password-resets/complete", map[string]any{
			"token": token, "password": newPw, "password_confirmation": newPw,
		})
		reset := apitest.MustJSON[customerSession](t, res, http.StatusOK)
		if reset.Customer.ID != c.ID || reset.Customer.State != "active" || reset.Session.Token == "" {
			t.Fatalf("reset: %s", res)
		}
		h.mustSessionValid(t, reset.Session.Token)
		h.mustSessionInvalid(t, confirmed.Session.Token) // a reset ends every other session

		// The old password is dead, the new one works.
		apitest.MustProblem(t, h.Login(t, h.secret, email, pw), http.StatusUnauthorized, "invalid_credentials")
		h.mustLogin(t, email, newPw)
	})
}

// TestReregistration covers registering an email that already has a
// customer, in each state that matters.
func TestReregistration(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)

		t.Run("registrations of a pending email coexist until one is confirmed", func(t *testing.T) {
			first := h.mustRegister(t, "pending@example.com", "first-Secret-phrase")
			second := h.mustRegister(t, "pending@example.com", "second-Secret-phrase")
			if second.Customer.ID != first.Customer.ID || second.ConfirmationToken == first.ConfirmationToken {
				t.Fatalf("re-register: %+v, then %+v", first, second)
			}
			// A second registrant cannot void the first one's link, and no
			// registration changes the customer before it is confirmed.
			cs := h.mustConfirm(t, first.ConfirmationToken)
			if cs.Customer.ID != first.Customer.ID {
				t.Fatalf("confirmed %+v", cs.Customer)
			}
			// Confirming one ends the others.
			h.mustTokenRefused(t, h.secret, "/api/v1/confirmations", second.ConfirmationToken)
			// The confirmed registration's password is the one that counts.
			apitest.MustProblem(t, h.Login(t, h.secret, "pending@example.com", "second-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
			h.mustLogin(t, "pending@example.com", "first-Secret-phrase")
		})

		t.Run("offline contact keeps its id", func(t *testing.T) {
			const uuid = "11efbcf6-1628-4719-a18b-b3e6f12b1130"
			off := h.mustCreate(t, map[string]any{"email": "contact@example.com", "state": "offline", "uuid": uuid, "last_name": "Known"})
			if off.Customer.State != "offline" || off.InviteToken != "" || off.ConfirmationToken != "" {
				t.Fatalf("create offline: %+v", off)
			}
			// An offline contact has no online access.
			apitest.MustProblem(t, h.Login(t, h.secret, "contact@example.com", "any-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
			reg := h.mustRegister(t, "contact@example.com", "contact-Secret-phrase")
			if reg.Customer.ID != off.Customer.ID || reg.Customer.UUID != uuid || reg.Customer.LastName != "Known" {
				t.Fatalf("register over offline: %+v, was %+v", reg.Customer, off.Customer)
			}
			cs := h.mustConfirm(t, reg.ConfirmationToken)
			if cs.Customer.ID != off.Customer.ID {
				t.Errorf("confirmed id %d, want %d", cs.Customer.ID, off.Customer.ID)
			}
			if n := len(h.mustFind(t, "contact@example.com")); n != 1 {
				t.Errorf("%d customers for the email", n)
			}
		})

		t.Run("an account is taken", func(t *testing.T) {
			h.mustSignUp(t, "active@example.com", "active-Secret-phrase")
			res := h.Post(t, h.secret, "/api/v1/registrations", map[string]any{"email": "ACTIVE@example.com", "password": "other-Secret-phrase"})
			apitest.MustProblem(t, res, http.StatusConflict, "email_taken")
			h.mustLogin(t, "active@example.com", "active-Secret-phrase") // untouched

			h.mustCreate(t, map[string]any{"email": "pa@example.com", "state": "pending_active", "password": "pa-Secret-phrase"})
			res = h.Post(t, h.secret, "/api/v1/registrations", map[string]any{"email": "pa@example.com", "password": "other-Secret-phrase"})
			apitest.MustProblem(t, res, http.StatusConflict, "email_taken")
			h.mustLogin(t, "pa@example.com", "pa-Secret-phrase") // pending_active may log in
		})

		t.Run("offline with a password", func(t *testing.T) {
			h.mustCreate(t, map[string]any{"email": "offline-pw@example.com", "state": "offline", "password": "offline-Secret-phrase"})
			apitest.MustProblem(t, h.Login(t, h.secret, "offline-pw@example.com", "offline-Secret-phrase"), http.StatusForbidden, "account_offline")
			apitest.MustProblem(t, h.Login(t, h.secret, "offline-pw@example.com", "wrong-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
		})

		t.Run("a reset confirms a pending customer", func(t *testing.T) {
			reg := h.mustRegister(t, "forgetful@example.com", "forgetful-Secret-phrase")
			token := h.mustRequestReset(t, "forgetful@example.com")
			res := h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{"token": token, "password": "remembered-Secret-phrase"})
			cs := apitest.MustJSON[customerSession](t, res, http.StatusOK)
			if cs.Customer.ID != reg.Customer.ID || cs.Customer.State != "active" || cs.Customer.EmailConfirmedAt == nil {
				t.Errorf("reset of a pending customer: %s", res)
			}
			h.mustTokenRefused(t, h.secret, "/api/v1/confirmations", reg.ConfirmationToken)
			h.mustLogin(t, "forgetful@example.com", "remembered-Secret-phrase")
		})

		t.Run("pending login", func(t *testing.T) {
			h.mustRegister(t, "unconfirmed@example.com", "right-Secret-phrase")
			apitest.MustProblem(t, h.Login(t, h.secret, "unconfirmed@example.com", "right-Secret-phrase"), http.StatusForbidden, "email_not_confirmed")
			apitest.MustProblem(t, h.Login(t, h.secret, "unconfirmed@example.com", "wrong-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
		})
	})
}

// TestTokens covers the one-time tokens: used once, within their lifetime,
// for their purpose and tenant only, and replaced by newer ones.
func TestTokens(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const confirmPath, resetPath, invitePath = "/api/v1/confirmations", "/api/v1/password-resets/complete", "/api/v1/invitations/accept"

		t.Run("used", func(t *testing.T) {
			reg := h.mustRegister(t, "used@example.com", "used-Secret-phrase")
			h.mustConfirm(t, reg.ConfirmationToken)
			h.mustTokenRefused(t, h.secret, confirmPath, reg.ConfirmationToken)

			reset := h.mustRequestReset(t, "used@example.com")
			apitest.MustStatus(t, h.Post(t, h.secret, resetPath, map[string]any{"token": reset, "password": "reset-Secret-phrase"}), http.StatusOK)
			h.mustTokenRefused(t, h.secret, resetPath, reset)
			h.mustLogin(t, "used@example.com", "reset-Secret-phrase") // the refused use changed nothing
		})

		t.Run("unknown and empty", func(t *testing.T) {
			h.mustTokenRefused(t, h.secret, confirmPath, "no-such-token")
			h.mustTokenRefused(t, h.secret, confirmPath, "")
			h.mustTokenRefused(t, h.secret, resetPath, "no-such-token")
			h.mustTokenRefused(t, h.secret, invitePath, "no-such-token")
		})

		t.Run("confirmation expires after 24 h", func(t *testing.T) {
			early := h.mustRegister(t, "in-time@example.com", "in-time-Secret-phrase")
			late := h.mustRegister(t, "too-late@example.com", "too-late-Secret-phrase")
			h.clock.Advance(24*time.Hour - time.Second)
			h.mustConfirm(t, early.ConfirmationToken)
			h.clock.Advance(2 * time.Second)
			h.mustTokenRefused(t, h.secret, confirmPath, late.ConfirmationToken)
			// A new registration issues a fresh token.
			h.mustConfirm(t, h.mustRegister(t, "too-late@example.com", "too-late-Secret-phrase").ConfirmationToken)
		})

		t.Run("reset expires after 1 h", func(t *testing.T) {
			h.mustSignUp(t, "slow@example.com", "slow-Secret-phrase")
			token := h.mustRequestReset(t, "slow@example.com")
			h.clock.Advance(time.Hour + time.Second)
			h.mustTokenRefused(t, h.secret, resetPath, token)
			h.mustLogin(t, "slow@example.com", "slow-Secret-phrase")

			token = h.mustRequestReset(t, "slow@example.com")
			h.clock.Advance(time.Hour - time.Second)
			apitest.MustStatus(t, h.Post(t, h.secret, resetPath, map[string]any{"token": token, "password": "quick-Secret-phrase"}), http.StatusOK)
		})

		t.Run("wrong purpose", func(t *testing.T) {
			reg := h.mustRegister(t, "purpose@example.com", "purpose-Secret-phrase")
			reset := h.mustRequestReset(t, "purpose@example.com") // a pending customer may reset
			h.mustTokenRefused(t, h.secret, confirmPath, reset)
			h.mustTokenRefused(t, h.secret, invitePath, reset)
			h.mustTokenRefused(t, h.secret, resetPath, reg.ConfirmationToken)
			h.mustTokenRefused(t, h.secret, invitePath, reg.ConfirmationToken)
			inv := h.mustCreate(t, map[string]any{"email": "invited-purpose@example.com"})
			h.mustTokenRefused(t, h.secret, confirmPath, inv.InviteToken)
			h.mustTokenRefused(t, h.secret, resetPath, inv.InviteToken)
			// Each still works for its own purpose: a refusal uses nothing up.
			h.mustConfirm(t, reg.ConfirmationToken)
			apitest.MustStatus(t, h.Post(t, h.secret, resetPath, map[string]any{"token": reset, "password": "purpose-New-phrase"}), http.StatusOK)
			apitest.MustStatus(t, h.Post(t, h.secret, invitePath, map[string]any{"token": inv.InviteToken, "password": "invited-Secret-phrase"}), http.StatusOK)
		})

		t.Run("other tenant", func(t *testing.T) {
			otherSecret, otherPublic := h.MustTenant(t, "tenant-b")
			reg := h.mustRegister(t, "tenant@example.com", "tenant-Secret-phrase")
			h.mustTokenRefused(t, otherSecret, confirmPath, reg.ConfirmationToken)
			h.mustTokenRefused(t, otherPublic, confirmPath, reg.ConfirmationToken)
			cs := h.mustConfirm(t, reg.ConfirmationToken)
			reset := h.mustRequestReset(t, "tenant@example.com")
			h.mustTokenRefused(t, otherSecret, resetPath, reset)

			// Tenant B knows nothing of tenant A's customer.
			if got := h.MustFind(t, otherSecret, "tenant@example.com"); len(got) != 0 {
				t.Errorf("tenant B sees %+v", got)
			}
			ref := "/api/v1/customers/" + itoa(cs.Customer.ID)
			apitest.MustProblem(t, h.Get(t, otherSecret, ref), http.StatusNotFound, "customer_not_found")
			apitest.MustProblem(t, h.Get(t, otherSecret, "/api/v1/customers/"+cs.Customer.UUID), http.StatusNotFound, "customer_not_found")
			apitest.MustProblem(t, h.Do(t, request{Method: http.MethodPatch, Path: ref, Key: otherSecret, Body: map[string]any{"state": "disabled"}}),
				http.StatusNotFound, "customer_not_found")
			apitest.MustProblem(t, h.Do(t, request{Method: http.MethodDelete, Path: ref, Key: otherSecret}), http.StatusNotFound, "customer_not_found")
			apitest.MustProblem(t, h.Login(t, otherSecret, "tenant@example.com", "tenant-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
			// The same email is a different customer there.
			other := apitest.MustJSON[registered](t, h.Post(t, otherSecret, "/api/v1/registrations",
				map[string]any{"email": "tenant@example.com", "password": "tenant-B-Secret-phrase"}), http.StatusCreated)
			if other.Customer.ID == cs.Customer.ID {
				t.Errorf("tenant B got tenant A's customer id")
			}
			h.mustSessionValid(t, cs.Session.Token)
			h.mustLogin(t, "tenant@example.com", "tenant-Secret-phrase")
		})

		t.Run("a new reset token kills the older one", func(t *testing.T) {
			h.mustSignUp(t, "twice@example.com", "twice-Secret-phrase")
			older := h.mustRequestReset(t, "twice@example.com")
			newer := h.mustRequestReset(t, "twice@example.com")
			h.mustTokenRefused(t, h.secret, resetPath, older)
			apitest.MustStatus(t, h.Post(t, h.secret, resetPath, map[string]any{"token": newer, "password": "thrice-Secret-phrase"}), http.StatusOK)
		})

		t.Run("a password change kills reset tokens and the other sessions", func(t *testing.T) {
			const email, pw, newPw = "changer@example.com", "changer-Secret-phrase", "changed-Secret-phrase"
			first := h.mustSignUp(t, email, pw)
			second := h.mustLogin(t, email, pw)
			reset := h.mustRequestReset(t, email)

			res := h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: second.Session.Token,
				Body: map[string]any{"current_password": pw, "password": newPw, "password_confirmation": newPw}})
			apitest.MustStatus(t, res, http.StatusNoContent)
			h.mustSessionValid(t, second.Session.Token)
			h.mustSessionInvalid(t, first.Session.Token)
			h.mustTokenRefused(t, h.secret, resetPath, reset)
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw), http.StatusUnauthorized, "invalid_credentials")
			h.mustLogin(t, email, newPw)

			// A wrong current password is refused and changes nothing.
			res = h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: second.Session.Token,
				Body: map[string]any{"current_password": pw, "password": "third-Secret-phrase"}})
			apitest.MustProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
			res = h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: second.Session.Token,
				Body: map[string]any{"current_password": newPw, "password": "short"}})
			apitest.MustFieldError(t, res, "password", "too_short")
			res = h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: first.Session.Token,
				Body: map[string]any{"current_password": newPw, "password": "third-Secret-phrase"}})
			apitest.MustProblem(t, res, http.StatusUnauthorized, "session_invalid")
			h.mustLogin(t, email, newPw)
		})
	})
}

// TestSessions covers the idle timeout, the absolute lifetime and the
// tenant a session belongs to.
func TestSessions(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, pw = "sessions@example.com", "sessions-Secret-phrase"
		h.mustSignUp(t, email, pw)

		t.Run("idle timeout", func(t *testing.T) {
			s := h.mustLogin(t, email, pw).Session
			h.clock.Advance(30*time.Minute - time.Minute)
			cur := h.mustSessionValid(t, s.Token) // use extends it
			if want := h.clock.Now().Add(30 * time.Minute); !cur.Session.IdleExpiresAt.Equal(want) {
				t.Errorf("idle_expires_at %v, want %v", cur.Session.IdleExpiresAt, want)
			}
			h.clock.Advance(30*time.Minute - time.Minute)
			h.mustSessionValid(t, s.Token)
			h.clock.Advance(30*time.Minute + time.Second)
			h.mustSessionInvalid(t, s.Token)
			apitest.MustProblem(t, h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/session", Bearer: s.Token}),
				http.StatusUnauthorized, "session_invalid")
		})

		t.Run("absolute lifetime", func(t *testing.T) {
			s := h.mustLogin(t, email, pw).Session
			// A new session ends at its idle expiry, long before its absolute end.
			if !s.ExpiresAt.Equal(s.IdleExpiresAt) || !s.CreatedAt.Add(30*time.Minute).Equal(s.IdleExpiresAt) {
				t.Errorf("new session %+v", s)
			}
			end := s.CreatedAt.Add(12 * time.Hour)
			for h.clock.Now().Add(20 * time.Minute).Before(end) {
				h.clock.Advance(20 * time.Minute)
				cur := h.mustSessionValid(t, s.Token)
				if cur.Session.ExpiresAt.After(end) {
					t.Fatalf("expires_at %v after the absolute end %v", cur.Session.ExpiresAt, end)
				}
			}
			h.clock.Advance(end.Sub(h.clock.Now()) - time.Second)
			h.mustSessionValid(t, s.Token)
			h.clock.Advance(time.Second)
			h.mustSessionInvalid(t, s.Token)
		})

		t.Run("key of another tenant", func(t *testing.T) {
			otherSecret, otherPublic := h.MustTenant(t, "other")
			s := h.mustLogin(t, email, pw).Session
			for _, key := range []string{otherSecret, otherPublic} {
				apitest.MustProblem(t, h.currentSession(t, key, s.Token), http.StatusUnauthorized, "session_invalid")
				apitest.MustProblem(t, h.Do(t, request{Method: http.MethodDelete, Path: "/api/v1/session", Key: key, Bearer: s.Token}),
					http.StatusUnauthorized, "session_invalid")
				apitest.MustProblem(t, h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Key: key, Bearer: s.Token,
					Body: map[string]any{"current_password": pw, "password": "stolen-Secret-phrase"}}), http.StatusUnauthorized, "session_invalid")
			}
			h.mustSessionValid(t, s.Token) // still alive in its own tenant
			apitest.MustProblem(t, h.currentSession(t, "sk_unknown", s.Token), http.StatusUnauthorized, "api_key_invalid")
		})
	})
}

// TestAPIKeys covers unknown, missing and revoked keys.
func TestAPIKeys(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		body := map[string]any{"email": "keys@example.com", "password": "keys-Secret-phrase"}
		for _, key := range []string{"", "sk_unknown", h.secret + "x", strings.Repeat("k", 300)} {
			apitest.MustProblem(t, h.Post(t, key, "/api/v1/registrations", body), http.StatusUnauthorized, "api_key_invalid")
			apitest.MustProblem(t, h.Get(t, key, "/api/v1/customers"), http.StatusUnauthorized, "api_key_invalid")
		}
		h.mustNotStored(t, "keys@example.com")
		// Keys are read from the header only, never from the query.
		for _, q := range []string{"api_key", "apikey", "key", "X-API-KEY"} {
			apitest.MustProblem(t, h.Get(t, "", "/api/v1/customers?"+q+"="+h.secret), http.StatusUnauthorized, "api_key_invalid")
		}

		// A revoked key fails on the very next request.
		apitest.MustStatus(t, h.Get(t, h.secret, "/api/v1/customers"), http.StatusOK)
		apitest.MustStatus(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": "keys@example.com"}), http.StatusAccepted)
		keys, err := h.svc.APIKeys.List(t.Context(), "default")
		if err != nil || len(keys) != 2 {
			t.Fatalf("keys of tenant default: %+v, %v; want the secret and the public one", keys, err)
		}
		for _, k := range keys {
			if err := h.svc.APIKeys.Revoke(t.Context(), "default", k.ID); err != nil {
				t.Fatal(err)
			}
		}
		apitest.MustProblem(t, h.Get(t, h.secret, "/api/v1/customers"), http.StatusUnauthorized, "api_key_invalid")
		apitest.MustProblem(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": "keys@example.com"}),
			http.StatusUnauthorized, "api_key_invalid")
		apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/registrations", body), http.StatusUnauthorized, "api_key_invalid")
		fresh := h.MustKey(t, account.DefaultTenant, account.KeySecret)
		apitest.MustStatus(t, h.Get(t, fresh, "/api/v1/customers"), http.StatusOK)
	})
}
