package native_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// TestConcurrentTokenUse: of 16 concurrent uses of one token exactly one
// succeeds; the others get token_invalid.
func TestConcurrentTokenUse(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const n = 16

		t.Run("confirm", func(t *testing.T) {
			reg := h.mustRegister(t, "race-confirm@example.com", "race-Secret-phrase")
			results := h.burst(t, n, func(int) request {
				return request{Method: http.MethodPost, Path: "/api/v1/confirmations", Key: h.secret, Body: map[string]any{"token": reg.ConfirmationToken}}
			})
			winner := mustOneWinner(t, results, http.StatusOK)
			cs := apitest.MustJSON[customerSession](t, winner, http.StatusOK)
			h.mustSessionValid(t, cs.Session.Token)
		})

		t.Run("reset", func(t *testing.T) {
			h.mustSignUp(t, "race-reset@example.com", "race-Secret-phrase")
			token := h.mustRequestReset(t, "race-reset@example.com")
			results := h.burst(t, n, func(int) request {
				return request{Method: http.MethodPost, Path: "/api/v1/password-resets/complete", Key: h.secret,
					Body: map[string]any{"token": token, "password": "race-New-phrase"}}
			})
			winner := mustOneWinner(t, results, http.StatusOK)
			h.mustSessionValid(t, apitest.MustJSON[customerSession](t, winner, http.StatusOK).Session.Token)
			h.mustLogin(t, "race-reset@example.com", "race-New-phrase")
		})
	})
}

// mustOneWinner checks that exactly one response has status win and that
// every other is token_invalid, and returns the winner.
func mustOneWinner(t *testing.T, results []*response, win int) *response {
	t.Helper()
	var winners []*response
	for _, res := range results {
		if res == nil {
			t.Fatal("a request failed")
		}
		if res.Status == win {
			winners = append(winners, res)
			continue
		}
		apitest.MustProblem(t, res, http.StatusBadRequest, "token_invalid")
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d uses of one token succeeded", len(winners), len(results))
	}
	return winners[0]
}

// TestConcurrentRegistration: 50 concurrent secret-key registrations of
// one email, spelt in several ways, make exactly one customer.
func TestConcurrentRegistration(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		spellings := []string{"race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@EXAMPLE.com"}
		const n = 50
		results := h.burst(t, n, func(i int) request {
			return request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: h.secret,
				Body: map[string]any{"email": spellings[i%len(spellings)], "password": "race-Secret-phrase"}}
		})
		var tokens []string
		var id int64
		for _, res := range results {
			if res == nil {
				t.Fatal("a request failed")
			}
			if res.Status == http.StatusTooManyRequests {
				// Past the limit of open registrations per address.
				apitest.MustProblem(t, res, http.StatusTooManyRequests, "too_many_registrations")
				continue
			}
			reg := apitest.MustJSON[registered](t, res, http.StatusCreated)
			if id == 0 {
				id = reg.Customer.ID
			}
			if reg.Customer.ID != id || !strings.EqualFold(reg.Customer.Email, "race@example.com") || reg.ConfirmationToken == "" {
				t.Errorf("registration answered %s; the first had id %d", res, id)
			}
			tokens = append(tokens, reg.ConfirmationToken)
		}
		found := h.mustFind(t, "race@example.com")
		if len(found) != 1 || found[0].ID != id {
			t.Fatalf("customers for the email: %+v", found)
		}
		if all := apitest.MustJSON[customerList](t, h.Get(t, h.secret, "/api/v1/customers"), http.StatusOK); len(all.Customers) != 1 {
			t.Fatalf("%d customers after one registration race: %+v", len(all.Customers), all.Customers)
		}
		// Each registration replaced the token before it: one is left.
		confirmed := 0
		for _, token := range tokens {
			res := h.Post(t, h.secret, "/api/v1/confirmations", map[string]any{"token": token})
			if res.Status == http.StatusOK {
				confirmed++
				continue
			}
			apitest.MustProblem(t, res, http.StatusBadRequest, "token_invalid")
		}
		if confirmed != 1 {
			t.Errorf("%d of the %d confirmation tokens worked, want 1", confirmed, len(tokens))
		}
		h.mustLogin(t, "race@example.com", "race-Secret-phrase")
	})
}

// TestConcurrentRegistrationAnswers: a registration that races another
// registration of the same email answers as if the two had run one after
// the other: 201 with a fresh token for a secret key (the email is still
// pending), and 202 for a public key, which must never learn whether the
// email has an account. Many short rounds, because a race is lost only
// at the start of each.
func TestConcurrentRegistrationAnswers(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const rounds, n = 40, 8
		for round := range rounds {
			email := fmt.Sprintf("round%d@example.com", round)
			results := h.burst(t, n, func(i int) request {
				key := h.secret
				if i%2 == 1 {
					key = h.public
				}
				return request{Method: http.MethodPost, Path: "/api/v1/registrations", Key: key,
					Body: map[string]any{"email": email, "password": "round-Secret-phrase"}}
			})
			for i, res := range results {
				switch {
				case res == nil:
				case i%2 == 0 && res.Status == http.StatusTooManyRequests && strings.Contains(string(res.Body), `"too_many_registrations"`):
					// More open registrations for one address than pforte keeps.
				case i%2 == 0 && res.Status != http.StatusCreated:
					t.Errorf("round %d, secret key: %s, want 201 (or 429 past the claim limit)", round, res)
				case i%2 == 1 && (res.Status != http.StatusAccepted || string(res.Body) != `{"status":"accepted"}`+"\n"):
					t.Errorf("round %d, public key: %s, want 202 accepted", round, res)
				}
			}
			if found := h.mustFind(t, email); len(found) != 1 {
				t.Fatalf("round %d: %d customers", round, len(found))
			}
		}
	})
}
