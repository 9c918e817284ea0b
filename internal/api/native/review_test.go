package native_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// A public caller never learns that a username is taken, and so cannot
// link a username to its email; the username waits in the claim.
func TestPublicRegistrationNeverRevealsUsernames(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		apitest.MustStatus(t, h.Post(t, h.secret, "/api/v1/registrations", map[string]any{"email": "alice@example.com", "password": "alice-Secret-phrase", "username": "alice"}), http.StatusCreated)
		for _, email := range []string{"alice@example.com", "mallory@example.com"} {
			res := h.Post(t, h.public, "/api/v1/registrations", map[string]any{"email": email, "password": "probe-Secret-phrase", "username": "alice"})
			apitest.MustStatus(t, res, http.StatusAccepted)
		}
		// A secret key is told.
		apitest.MustProblem(t, h.Post(t, h.secret, "/api/v1/registrations", map[string]any{"email": "eve@example.com", "password": "eve-Secret-phrase", "username": "ALICE"}), http.StatusConflict, "username_taken")
		// mallory's row exists without the username; its claim cannot take it.
		if got := h.mustFind(t, "mallory@example.com"); len(got) != 1 || got[0].Username != "" {
			t.Fatalf("public registration set a username before confirmation: %+v", got)
		}
	})
}

// Tokens die with the facts they were issued for.
func TestTokensDieWithTheirFacts(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		t.Run("email change", func(t *testing.T) {
			cs := h.mustSignUp(t, "old@example.com", "old-Secret-phrase")
			reset := h.mustRequestReset(t, "old@example.com")
			apitest.MustStatus(t, h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + itoa(cs.Customer.ID), Key: h.secret,
				Body: map[string]any{"email": "new@example.com"}}), http.StatusOK)
			h.mustTokenRefused(t, h.secret, "/api/v1/password-resets/complete", reset)
		})
		t.Run("disable and enable", func(t *testing.T) {
			cs := h.mustSignUp(t, "paused@example.com", "paused-Secret-phrase")
			reset := h.mustRequestReset(t, "paused@example.com")
			path := "/api/v1/customers/" + itoa(cs.Customer.ID)
			apitest.MustStatus(t, h.Do(t, request{Method: http.MethodPatch, Path: path, Key: h.secret, Body: map[string]any{"state": "disabled"}}), http.StatusOK)
			apitest.MustStatus(t, h.Do(t, request{Method: http.MethodPatch, Path: path, Key: h.secret, Body: map[string]any{"state": "active"}}), http.StatusOK)
			h.mustTokenRefused(t, h.secret, "/api/v1/password-resets/complete", reset)
		})
		t.Run("admin password kills the invitation", func(t *testing.T) {
			inv := h.mustCreate(t, map[string]any{"email": "invited@example.com"})
			if inv.InviteToken == "" {
				t.Fatalf("no invite token: %+v", inv)
			}
			apitest.MustStatus(t, h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/customers/" + itoa(inv.Customer.ID) + "/password", Key: h.secret,
				Body: map[string]any{"password": "admin-Set-phrase"}}), http.StatusNoContent)
			h.mustTokenRefused(t, h.secret, "/api/v1/invitations/accept", inv.InviteToken)
		})
	})
}

// Re-enabling restores the state a customer was disabled from: disabling
// must not promote an offline contact or a pending account.
func TestEnableRestoresState(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, state := range []string{"offline", "pending", "active"} {
			c := h.mustCreate(t, map[string]any{"email": state + "@example.com", "state": state, "password": "some-Secret-phrase"})
			path := "/api/v1/customers/" + itoa(c.Customer.ID)
			dis := apitest.MustJSON[map[string]customer](t, h.Do(t, request{Method: http.MethodPatch, Path: path, Key: h.secret, Body: map[string]any{"state": "disabled"}}), http.StatusOK)
			if dis["customer"].State != "disabled" {
				t.Fatalf("disable %s: %+v", state, dis)
			}
			en := apitest.MustJSON[map[string]customer](t, h.Do(t, request{Method: http.MethodPatch, Path: path, Key: h.secret, Body: map[string]any{"state": "active"}}), http.StatusOK)
			if en["customer"].State != state {
				t.Errorf("re-enabled a %s customer into %s", state, en["customer"].State)
			}
		}
	})
}

// Parallel wrong passwords cannot slip past the throttle: attempts are
// counted before they are checked.
func TestThrottleHoldsUnderParallelGuessing(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		h.mustSignUp(t, "target@example.com", "target-Secret-phrase")
		results := h.burst(t, 30, func(i int) request {
			return request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.public,
				Body: map[string]any{"email": "target@example.com", "password": fmt.Sprintf("guess-%d-phrase", i)}}
		})
		checked := 0
		for _, res := range results {
			switch res.Status {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				apitest.MustProblem(t, res, http.StatusTooManyRequests, "too_many_attempts")
			default:
				t.Errorf("guess answered %s", res)
			}
		}
		if checked > 5 {
			t.Fatalf("%d of 30 parallel guesses were checked; the throttle allows 5", checked)
		}
	})
}

// Without mail delivery a public reset request changes nothing: the token
// the site mailed itself stays valid.
func TestPublicResetRequestKeepsTheSitesToken(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		if err := h.svc.Tenants.Set(context.Background(), "default", "delivery", "return"); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(3 * time.Second) // past the tenant cache
		h.mustSignUp(t, "kept@example.com", "kept-Secret-phrase")
		token := h.mustRequestReset(t, "kept@example.com")
		apitest.MustStatus(t, h.Post(t, h.public, "/api/v1/password-resets", map[string]any{"email": "kept@example.com"}), http.StatusAccepted)
		apitest.MustStatus(t, h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{"token": token, "password": "kept-New-phrase"}), http.StatusOK)
	})
}

// Neither an id nor a uuid: 404, never a database error.
func TestCustomerRefsThatAreNoIDs(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, ref := range []string{"%00", "abc", "11efbcf6-1628-4719-a18b-b3e6f12b113", "-1", "99999999999999999999", "%E2%80%AE"} {
			for _, method := range []string{http.MethodGet, http.MethodDelete} {
				apitest.MustProblem(t, h.Do(t, request{Method: method, Path: "/api/v1/customers/" + ref, Key: h.secret}), http.StatusNotFound, "customer_not_found")
			}
			apitest.MustProblem(t, h.Do(t, request{Method: http.MethodPatch, Path: "/api/v1/customers/" + ref, Key: h.secret, Body: map[string]any{"first_name": "X"}}), http.StatusNotFound, "customer_not_found")
		}
	})
}

// Without a locale, registration takes it from Accept-Language, else from
// the tenant's default_locale.
func TestRegistrationLocale(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		for _, tc := range []struct{ email, accept, locale, want string }{
			{"plain@example.com", "", "", "de"},
			{"english@example.com", "en-GB,en;q=0.9", "", "en"},
			{"swiss@example.com", "de-CH", "", "de"},
			{"french@example.com", "fr-FR", "", "de"},
			{"chosen@example.com", "de", "en-US", "en-US"},
		} {
			body := map[string]any{"email": tc.email, "password": "locale-Secret-phrase"}
			if tc.locale != "" {
				body["locale"] = tc.locale
			}
			res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.secret, Body: body,
				Header: http.Header{"Accept-Language": {tc.accept}}})
			if got := apitest.MustJSON[registered](t, res, http.StatusCreated).Customer.Locale; got != tc.want {
				t.Errorf("%s with Accept-Language %q: locale %q, want %q", tc.email, tc.accept, got, tc.want)
			}
		}
	})
}

// Imported hashes: bcrypt up to cost 14 is accepted and upgraded at the
// first login; anything else is refused before it is stored.
func TestImportPasswordHash(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		hash, _ := bcrypt.GenerateFromPassword([]byte("old-system-phrase"), bcrypt.MinCost)
		c := h.mustCreate(t, map[string]any{"email": "imported@example.com", "password_hash": string(hash)})
		if c.Customer.State != "active" {
			t.Fatalf("imported customer is %s", c.Customer.State)
		}
		h.mustLogin(t, "imported@example.com", "old-system-phrase")
		if got := h.storedCustomer(t, "imported@example.com").PasswordHash; got[:10] != "$argon2id$" {
			t.Fatalf("hash after login %q, want argon2id", got)
		}
		costly := "$2b$15$" + string(hash[7:])
		for name, body := range map[string]map[string]any{
			"cost 15":  {"email": "costly@example.com", "password_hash": costly},
			"garbage":  {"email": "garbage@example.com", "password_hash": "$1$md5$nope"},
			"and both": {"email": "both@example.com", "password_hash": string(hash), "password": "also-Secret-phrase"},
		} {
			t.Run(name, func(t *testing.T) {
				apitest.MustFieldError(t, h.Post(t, h.secret, "/api/v1/customers", body), "password_hash", "invalid")
			})
		}
	})
}
