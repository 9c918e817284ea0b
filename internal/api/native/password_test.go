package native_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/password"
	"pforte/internal/store/teststore"
)

// TestLoginThrottling: five wrong passwords are free, the sixth attempt is
// refused with Retry-After, the same for an unknown email, and the lock
// ends with time; a right password then resets the count.
func TestLoginThrottling(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const known, unknown, pw = "throttled@example.com", "ghost@example.com", "throttled-Secret-phrase"
		h.mustSignUp(t, known, pw)

		for i := 1; i <= 5; i++ {
			k := h.Login(t, h.public, known, fmt.Sprintf("wrong-Secret-%d", i))
			u := h.Login(t, h.public, unknown, fmt.Sprintf("wrong-Secret-%d", i))
			apitest.MustProblem(t, k, http.StatusUnauthorized, "invalid_credentials")
			apitest.MustSameAnswer(t, k, u)
		}
		// The sixth attempt is refused, even with the right password.
		for _, attempt := range []string{"wrong-Secret-6", pw} {
			k := h.Login(t, h.public, known, attempt)
			u := h.Login(t, h.public, unknown, attempt)
			apitest.MustProblem(t, k, http.StatusTooManyRequests, "too_many_attempts")
			if got := k.Header.Get("Retry-After"); got != "30" {
				t.Errorf("Retry-After %q, want 30 (the lock is 30 s from the fifth failure)", got)
			}
			apitest.MustSameAnswer(t, k, u)
		}
		// Another spelling of the address shares the count.
		apitest.MustProblem(t, h.Login(t, h.public, strings.ToUpper(known), pw), http.StatusTooManyRequests, "too_many_attempts")
		// Other addresses are not locked.
		apitest.MustProblem(t, h.Login(t, h.public, "bystander@example.com", "wrong-Secret-1"), http.StatusUnauthorized, "invalid_credentials")

		h.clock.Advance(20 * time.Second)
		k := h.Login(t, h.public, known, pw)
		apitest.MustProblem(t, k, http.StatusTooManyRequests, "too_many_attempts")
		if got := k.Header.Get("Retry-After"); got != "10" {
			t.Errorf("Retry-After %q after 20 s, want 10", got)
		}

		h.clock.Advance(10 * time.Second)
		h.mustLogin(t, known, pw)
		// The count starts over: five more failures are free again.
		for i := 1; i <= 5; i++ {
			apitest.MustProblem(t, h.Login(t, h.public, known, fmt.Sprintf("again-Secret-%d", i)), http.StatusUnauthorized, "invalid_credentials")
		}
		apitest.MustProblem(t, h.Login(t, h.public, known, pw), http.StatusTooManyRequests, "too_many_attempts")

		// The unknown address stays locked until its own lock ends, then
		// the lock doubles.
		h.clock.Advance(31 * time.Second)
		apitest.MustProblem(t, h.Login(t, h.public, unknown, "wrong-Secret-7"), http.StatusUnauthorized, "invalid_credentials")
		u := h.Login(t, h.public, unknown, "wrong-Secret-8")
		apitest.MustProblem(t, u, http.StatusTooManyRequests, "too_many_attempts")
		if got := u.Header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After after the sixth failure %q, want 60", got)
		}

		// A wrong current password at PUT /api/v1/password counts too.
		h.clock.Advance(time.Hour)
		const other, otherPw = "changer@example.com", "changer-Secret-phrase"
		s := h.mustSignUp(t, other, otherPw).Session
		for i := 1; i <= 5; i++ {
			res := h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: s.Token,
				Body: map[string]any{"current_password": fmt.Sprintf("guess-Secret-%d", i), "password": "changed-Secret-phrase"}})
			apitest.MustProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
		}
		res := h.Do(t, request{Method: http.MethodPut, Path: "/api/v1/password", Bearer: s.Token,
			Body: map[string]any{"current_password": otherPw, "password": "changed-Secret-phrase"}})
		apitest.MustProblem(t, res, http.StatusTooManyRequests, "too_many_attempts")
		apitest.MustProblem(t, h.Login(t, h.public, other, otherPw), http.StatusTooManyRequests, "too_many_attempts")
	})
}

// TestLoginHardLimit: after 100 consecutive failures an address stays
// locked however long one waits, until a password reset.
func TestLoginHardLimit(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, pw = "besieged@example.com", "besieged-Secret-phrase"
		h.mustSignUp(t, email, pw)
		for i := 1; i <= 100; i++ {
			apitest.MustProblem(t, h.Login(t, h.public, email, fmt.Sprintf("guess-Secret-%d", i)), http.StatusUnauthorized, "invalid_credentials")
			h.clock.Advance(time.Hour + time.Second) // past any lock
		}
		h.clock.Advance(24 * time.Hour)
		res := h.Login(t, h.public, email, pw)
		apitest.MustProblem(t, res, http.StatusTooManyRequests, "too_many_attempts")
		if got := res.Header.Get("Retry-After"); got != "3600" {
			t.Errorf("Retry-After %q, want 3600", got)
		}
		token := h.mustRequestReset(t, email)
		apitest.MustStatus(t, h.Post(t, h.public, "/api/v1/password-resets/complete", map[string]any{"token": token, "password": "relieved-Secret-phrase"}), http.StatusOK)
		h.mustLogin(t, email, "relieved-Secret-phrase")
	})
}

// TestImportedBcrypt: a customer imported with a bcrypt hash logs in, and
// the hash is replaced by argon2id of the whole password.
func TestImportedBcrypt(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		ctx := context.Background()

		importHash := func(t *testing.T, email string, hash []byte) {
			t.Helper()
			h.mustCreate(t, map[string]any{"email": email, "password": "placeholder-Secret-phrase"})
			c := h.storedCustomer(t, email)
			c.PasswordHash = string(hash)
			if err := h.Store.UpdateCustomer(ctx, &c); err != nil {
				t.Fatalf("UpdateCustomer: %v", err)
			}
		}

		t.Run("short password", func(t *testing.T) {
			const email, pw = "imported@example.com", "imported-Secret-phrase"
			hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			importHash(t, email, hash)
			apitest.MustProblem(t, h.Login(t, h.secret, email, "placeholder-Secret-phrase"), http.StatusUnauthorized, "invalid_credentials")
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw+"x"), http.StatusUnauthorized, "invalid_credentials")
			if got := h.storedCustomer(t, email).PasswordHash; got != string(hash) {
				t.Fatalf("a failed login changed the hash to %q", got)
			}
			h.mustLogin(t, email, pw)
			if got := h.storedCustomer(t, email).PasswordHash; !strings.HasPrefix(got, "$argon2id$") {
				t.Fatalf("hash after login %q, want argon2id", got)
			}
			h.mustLogin(t, email, pw)
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw+"x"), http.StatusUnauthorized, "invalid_credentials")
		})

		t.Run("password over 72 bytes", func(t *testing.T) {
			const email = "long-import@example.com"
			pw := strings.Repeat("long-imported-Secret-", 5) // 105 bytes
			// bcrypt reads 72 bytes: this is what the old system stored for pw.
			hash, err := bcrypt.GenerateFromPassword([]byte(pw[:72]), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			importHash(t, email, hash)
			h.mustLogin(t, email, pw)
			if got := h.storedCustomer(t, email).PasswordHash; !strings.HasPrefix(got, "$argon2id$") {
				t.Fatalf("hash after login %q, want argon2id", got)
			}
			h.mustLogin(t, email, pw)
			// The new hash covers the whole password: the 72-byte limit is gone.
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw[:72]), http.StatusUnauthorized, "invalid_credentials")
			apitest.MustProblem(t, h.Login(t, h.secret, email, pw[:72]+"something else entirely"), http.StatusUnauthorized, "invalid_credentials")
		})
	})
}

// TestHashingPoolBusy: with one hashing slot, a one-place queue and a slow
// hash, a burst of logins gets 503 busy with Retry-After for what does not
// fit, never a 500, and the right answer for the rest.
func TestHashingPoolBusy(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		slow := apitest.CheapParams()
		slow.Memory = 32 << 10 // 32 MiB: far slower than a request's way to the pool
		h := newHarness(t, open, apitest.WithHashing(slow, password.NewPool(1, 1)))
		h.allowBusy = true
		const email, pw = "busy@example.com", "busy-Secret-phrase"
		h.mustCreate(t, map[string]any{"email": email, "password": pw})

		const n = 20
		results := h.burst(t, n, func(i int) request {
			body := map[string]any{"email": email, "password": pw}
			if i%2 == 1 { // wrong passwords on distinct addresses: no throttling
				body = map[string]any{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong-Secret-phrase"}
			}
			return request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.public, Body: body}
		})
		var busy, ok int
		for i, res := range results {
			if res == nil {
				continue
			}
			switch {
			case res.Status == http.StatusServiceUnavailable:
				busy++
				apitest.MustProblem(t, res, http.StatusServiceUnavailable, "busy")
				if got := res.Header.Get("Retry-After"); got != "1" {
					t.Errorf("busy answer with Retry-After %q", got)
				}
			case i%2 == 0:
				ok++
				apitest.MustJSON[customerSession](t, res, http.StatusCreated)
			default:
				ok++
				apitest.MustProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
			}
		}
		t.Logf("%d of %d logins busy", busy, n)
		if busy == 0 || ok == 0 {
			t.Errorf("%d busy and %d answered: want some of each", busy, ok)
		}
		// The pool is free again afterwards.
		h.mustLogin(t, email, pw)
	})
}

// TestFullPoolRefusesBeforeTheKey: endpoints that hash take their place
// in the hashing pool before anything else, so a full pool answers 503
// busy without looking up the API key: a wrong key is not even told it is
// wrong, and a right one is not marked as used.
func TestFullPoolRefusesBeforeTheKey(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		pool := password.NewPool(1, 1)
		h := newHarness(t, open, apitest.WithHashing(apitest.CheapParams(), pool))
		h.allowBusy = true
		fresh, _, err := h.svc.APIKeys.Create(context.Background(), account.DefaultTenant, account.KeyPublic, "fresh")
		if err != nil {
			t.Fatal(err)
		}
		var held []*password.Place
		for range pool.Capacity() {
			pl, err := pool.Take()
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, pl)
		}
		login := map[string]any{"email": "busy@example.com", "password": "busy-Secret-phrase"}
		register := map[string]any{"email": "new@example.com", "password": "new-Secret-phrase"}
		for _, key := range []string{"pk_no_such_key", fresh} {
			for _, call := range []struct {
				path string
				body map[string]any
			}{{"/api/v1/sessions", login}, {"/api/v1/registrations", register}} {
				res := h.Post(t, key, call.path, call.body)
				apitest.MustProblem(t, res, http.StatusServiceUnavailable, "busy")
				if res.Header.Get("Retry-After") == "" {
					t.Errorf("%s: busy without Retry-After", call.path)
				}
			}
		}
		keys, err := h.svc.APIKeys.List(context.Background(), account.DefaultTenant)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Name == "fresh" && k.LastUsedAt != nil {
				t.Errorf("the refused calls marked their key used at %s", k.LastUsedAt)
			}
		}
		for _, pl := range held {
			pl.Leave()
		}
		apitest.MustProblem(t, h.Post(t, "pk_no_such_key", "/api/v1/sessions", login), http.StatusUnauthorized, "api_key_invalid")
	})
}

// TestConcurrentCorrectLogins: attempts are counted before they are
// checked, but attempts still being checked are no failures: 50 correct
// logins to one address at once are never refused as too many attempts.
// (503 busy, with Retry-After, is allowed: contention is load.)
func TestConcurrentCorrectLogins(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newHarness(t, open)
		const email, pw = "popular@example.com", "popular-Secret-phrase"
		h.mustSignUp(t, email, pw)
		// Logins to one address are checked one at a time and wait about
		// a second at most: on a slow or busy machine some are busy.
		h.allowBusy = true
		results := h.burst(t, 50, func(int) request {
			return request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.public, Body: map[string]any{"email": email, "password": pw}}
		})
		var ok int
		for _, res := range results {
			switch {
			case res == nil:
			case res.Status == http.StatusCreated:
				ok++
			case res.Status == http.StatusServiceUnavailable:
				apitest.MustProblem(t, res, http.StatusServiceUnavailable, "busy")
				if res.Header.Get("Retry-After") == "" {
					t.Errorf("busy without Retry-After")
				}
			default:
				t.Errorf("a correct login: %s", res)
			}
		}
		if ok == 0 {
			t.Fatal("no login succeeded")
		}
		// Nothing was counted against the address: five failures are
		// still free, the sixth attempt is refused for the 30 s lock.
		for i := 1; i <= 5; i++ {
			apitest.MustProblem(t, h.Login(t, h.public, email, fmt.Sprintf("wrong-Secret-%d", i)), http.StatusUnauthorized, "invalid_credentials")
		}
		res := h.Login(t, h.public, email, pw)
		apitest.MustProblem(t, res, http.StatusTooManyRequests, "too_many_attempts")
		if got := res.Header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After %q, want 30", got)
		}
	})
}
