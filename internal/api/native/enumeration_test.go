package native_test

import (
	"net/http"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestPublicRegistrationIsUniform: with a public key, registration answers
// the same whether the email is new, pending, active, offline or disabled,
// and never carries a token.
func TestPublicRegistrationIsUniform(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustRegister(t, "pending@example.com", "pending-Secret-phrase")
		h.mustSignUp(t, "active@example.com", "active-Secret-phrase")
		h.mustCreate(t, map[string]any{"email": "offline@example.com", "state": "offline"})
		dis := h.mustSignUp(t, "disabled@example.com", "disabled-Secret-phrase")
		apitest.MustStatus(t, h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + itoa(dis.Customer.ID), Key: h.secret,
			Body: map[string]any{"state": "disabled"}}), http.StatusOK)

		var first *response
		for _, email := range []string{"new@example.com", "pending@example.com", "active@example.com", "offline@example.com", "disabled@example.com"} {
			res := h.Post(t, h.public, "/api/v1/registrations", map[string]any{"email": email, "password": "public-Secret-phrase", "first_name": "Pat"})
			mustAccepted(t, res)
			if first == nil {
				first = res
				continue
			}
			apitest.MustSameAnswer(t, first, res)
		}
		// The new email was registered; the accounts were left alone.
		if got := h.mustFind(t, "new@example.com"); len(got) != 1 || got[0].State != "pending" {
			t.Errorf("public registration stored %+v", got)
		}
		if got := h.mustFind(t, "offline@example.com"); len(got) != 1 || got[0].State != "offline" || got[0].FirstName == "Pat" {
			t.Errorf("public registration changed an offline contact before confirmation: %+v", got)
		}
		h.mustLogin(t, "active@example.com", "active-Secret-phrase")
		apitest.MustProblem(t, h.Login(t, h.secret, "disabled@example.com", "disabled-Secret-phrase"), http.StatusForbidden, "account_disabled")
		// Registering and then logging in with the registered password looks
		// the same whether or not the email had an account: both answer
		// email_not_confirmed.
		probeNew := h.Login(t, h.public, "new@example.com", "public-Secret-phrase")
		probeActive := h.Login(t, h.public, "active@example.com", "public-Secret-phrase")
		apitest.MustProblem(t, probeNew, http.StatusForbidden, "email_not_confirmed")
		apitest.MustSameAnswer(t, probeNew, probeActive)
		// The owner's own password still works, and the probe's does not.
		h.mustLogin(t, "active@example.com", "active-Secret-phrase")
	})
}

// TestPublicRegistrationUsernameDoesNotTellEmail: a taken username must
// not let a public caller find out whether an email has an account. The
// answer for a new email and for an email with an account has to be the
// same, whatever the username.
func TestPublicRegistrationUsernameDoesNotTellEmail(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		res := h.Post(t, h.secret, "/api/v1/registrations", map[string]any{"email": "owner@example.com", "password": "owner-Secret-phrase", "username": "taken"})
		apitest.MustStatus(t, res, http.StatusCreated)
		h.mustSignUp(t, "victim@example.com", "victim-Secret-phrase")
		h.mustRegister(t, "waiting@example.com", "waiting-Secret-phrase")

		register := func(email string) *response {
			return h.Post(t, h.public, "/api/v1/registrations", map[string]any{"email": email, "password": "probe-Secret-phrase", "username": "taken"})
		}
		unknown := register("nobody@example.com")
		for _, email := range []string{"victim@example.com", "waiting@example.com"} {
			t.Run(email, func(t *testing.T) { apitest.MustSameAnswer(t, unknown, register(email)) })
		}
	})
}

// TestPasswordResetRequestIsUniform: a reset request answers 202 the same
// for known and unknown emails; only a secret key gets the token.
func TestPasswordResetRequestIsUniform(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustSignUp(t, "known@example.com", "known-Secret-phrase")
		h.mustCreate(t, map[string]any{"email": "offline@example.com", "state": "offline"})

		var first *response
		for _, email := range []string{"unknown@example.com", "known@example.com", "KNOWN@example.com", "offline@example.com"} {
			res := h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": email})
			mustAccepted(t, res)
			if first == nil {
				first = res
				continue
			}
			apitest.MustSameAnswer(t, first, res)
		}
		// The secret key: a token for the customer, none for the unknown
		// email or the contact without an account.
		h.mustRequestReset(t, "known@example.com")
		for _, email := range []string{"unknown@example.com", "offline@example.com"} {
			res := h.Post(t, h.secret, "/api/v1/password-resets", map[string]any{"email": email})
			if got := apitest.MustJSON[map[string]string](t, res, http.StatusAccepted); len(got) != 1 || got["status"] != "accepted" {
				t.Errorf("%s: %s", email, res)
			}
		}
		apitest.MustFieldError(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": "not an email"}), "email", "invalid")
	})
}

// TestLoginFailuresAreUniform: an unknown email, a wrong password and a
// wrong password of an unconfirmed, disabled or offline customer give the
// same 401.
func TestLoginFailuresAreUniform(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustSignUp(t, "active@example.com", "active-Secret-phrase")
		h.mustRegister(t, "pending@example.com", "pending-Secret-phrase")
		h.mustCreate(t, map[string]any{"email": "offline@example.com", "state": "offline"})
		h.mustCreate(t, map[string]any{"email": "invited@example.com"})
		dis := h.mustSignUp(t, "disabled@example.com", "disabled-Secret-phrase")
		apitest.MustStatus(t, h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + itoa(dis.Customer.ID), Key: h.secret,
			Body: map[string]any{"state": "disabled"}}), http.StatusOK)

		unknown := h.Login(t, h.public, "nobody@example.com", "wrong-Secret-phrase")
		apitest.MustProblem(t, unknown, http.StatusUnauthorized, "invalid_credentials")
		for _, email := range []string{"active@example.com", "pending@example.com", "offline@example.com", "invited@example.com", "disabled@example.com"} {
			t.Run(email, func(t *testing.T) {
				apitest.MustSameAnswer(t, unknown, h.Login(t, h.public, email, "wrong-Secret-phrase"))
			})
		}
	})
}
