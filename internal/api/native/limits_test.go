package native_test

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"pforte/internal/api/apitest"
	"pforte/internal/password"
	"pforte/internal/redislimit/redistest"
	"pforte/internal/store/teststore"
)

// A call without a secret key (a public key, a session alone, a bad key)
// takes one request from its client address's bucket, kept in memory or
// in Redis; past the burst it is answered 429 too_many_requests with
// Retry-After. Secret keys, which servers use, often many behind one
// address, are not limited per address.
func TestClientLimit(t *testing.T) {
	t.Parallel()
	for _, kept := range []string{"memory", "redis"} {
		t.Run(kept, func(t *testing.T) {
			t.Parallel()
			// 2 a minute: no request refills while the test runs, on the
			// harness's clock or on Redis's.
			opts := []apitest.Option{apitest.WithClientLimit(2, 3),
				apitest.WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32"))}
			if kept == "redis" {
				url := redistest.URL(t)
				opts = append(opts, apitest.WithRedisLimit(url, redistest.Prefix(t, url)))
			}
			h := newHarness(t, teststore.SQLite, opts...)
			send := func(r request, client string) *response {
				r.Header = http.Header{"X-Forwarded-For": {client}}
				return h.Do(t, r)
			}
			reset := func(key, client string) *response {
				return send(request{Method: http.MethodPost, Path: "/api/v1/password-resets", Key: key,
					Body: map[string]string{"email": "nobody@example.com"}}, client)
			}
			const client = "203.0.113.7"
			for i := range 3 {
				if r := reset(h.public, client); r.Status != http.StatusAccepted {
					t.Fatalf("public key, request %d of the burst: %s", i+1, r)
				}
			}
			r := reset(h.public, client)
			apitest.MustProblem(t, r, http.StatusTooManyRequests, "too_many_requests")
			// The next request is 30 s away, rounded up.
			if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 30 || s > 31 {
				t.Errorf("Retry-After %q, want 30 or 31", r.Header.Get("Retry-After"))
			}

			// A secret key from the same address is not limited.
			for i := range 10 {
				if r := reset(h.secret, client); r.Status != http.StatusAccepted {
					t.Fatalf("secret key, request %d from a limited address: %s", i+1, r)
				}
			}
			// Whatever else comes from the address counts, before its key
			// or session is judged.
			for _, r := range []request{
				{Method: http.MethodGet, Path: "/api/v1/session", Bearer: "not-a-session"},
				{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.public,
					Body: map[string]string{"email": "nobody@example.com", "password": "whatever-phrase"}},
				{Method: http.MethodGet, Path: "/api/v1/customers", Key: h.public},
				{Method: http.MethodGet, Path: "/api/v1/customers", Key: "sk_not_a_key"},
			} {
				apitest.MustProblem(t, send(r, client), http.StatusTooManyRequests, "too_many_requests")
			}

			// Other clients have buckets of their own; IPv6 clients one per /64.
			if r := reset(h.public, "203.0.113.8"); r.Status != http.StatusAccepted {
				t.Fatalf("another client: %s", r)
			}
			for i := range 3 {
				if r := reset(h.public, "2001:db8::"+strconv.Itoa(i+1)); r.Status != http.StatusAccepted {
					t.Fatalf("IPv6 request %d: %s", i+1, r)
				}
			}
			apitest.MustProblem(t, reset(h.public, "2001:db8::ffff"), http.StatusTooManyRequests, "too_many_requests")

			if kept == "memory" {
				// Redis's buckets refill on Redis's clock; these on the
				// harness's.
				h.clock.Advance(30 * time.Second)
				if r := reset(h.public, client); r.Status != http.StatusAccepted {
					t.Fatalf("30 s later: %s", r)
				}
			}
		})
	}
}

// A call past its client's limit is refused at once (429), also while
// every hashing turn is taken: the limit is checked before a call that
// will hash waits for its turn, so calls over their limit hold no place
// in the hashing pool's line.
func TestClientLimitBeforeHashingTurn(t *testing.T) {
	pool := password.NewPool(1, 8)
	h := newHarness(t, teststore.SQLite, apitest.WithHashing(apitest.CheapParams(), pool),
		apitest.WithClientLimit(2, 1), apitest.WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32")))
	for range 2 { // a pool of one slot has two turns
		held, release, err := h.svc.HoldHashing(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if err := h.svc.AwaitHashingTurn(held); err != nil {
			t.Fatal(err)
		}
	}
	send := func(r request) *response {
		r.Header = http.Header{"X-Forwarded-For": {"203.0.113.7"}}
		return h.Do(t, r)
	}
	send(request{Method: http.MethodGet, Path: "/api/v1/customers", Key: h.public}) // the burst of one
	login := request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.public,
		Body: map[string]string{"email": "nobody@example.com", "password": "whatever-phrase"}}
	apitest.MustProblem(t, send(login), http.StatusTooManyRequests, "too_many_requests")
	if pool.Pending() != 2 || pool.Waiting() != 0 {
		t.Errorf("%d places taken and %d waiting after the refusal, want the two held and none", pool.Pending(), pool.Waiting())
	}
}
