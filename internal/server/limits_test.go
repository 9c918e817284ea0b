package server_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/redislimit"
	"pforte/internal/redislimit/redistest"
	"pforte/internal/store/teststore"
)

// The limits per client address. Every test allows 2 requests a minute
// with a burst of 3, so nothing refills while it runs, on a harness's
// clock or on Redis's.
const limitPerMinute, limitBurst = 2, 3

// limited is a harness whose client limit the test drives: requests name
// their client with X-Forwarded-For from the trusted loopback.
func limited(t *testing.T, opts ...apitest.Option) *apitest.Harness {
	t.Helper()
	opts = append([]apitest.Option{apitest.WithClientLimit(limitPerMinute, limitBurst),
		apitest.WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32"))}, opts...)
	return newServer(t, teststore.SQLite, opts...)
}

// resetFrom asks for a password reset with the public key, as a browser
// does, from client: 202, or 429 past the client's limit.
func resetFrom(t *testing.T, h *apitest.Harness, client string) *apitest.Response {
	t.Helper()
	return h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/password-resets", Key: h.Public,
		Body: map[string]string{"email": "nobody@example.com"}, Header: http.Header{"X-Forwarded-For": {client}}})
}

func mustAllowFrom(t *testing.T, h *apitest.Harness, client string, n int) {
	t.Helper()
	for i := range n {
		if r := resetFrom(t, h, client); r.Status != http.StatusAccepted {
			t.Fatalf("request %d of %s: %s", i+1, client, r)
		}
	}
}

func mustRefuseFrom(t *testing.T, h *apitest.Harness, client string) {
	t.Helper()
	r := resetFrom(t, h, client)
	apitest.MustProblem(t, r, http.StatusTooManyRequests, "too_many_requests")
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: no Retry-After", r)
	}
}

// mustReady checks that /readyz answers 200 with these client_limits and
// a detail that holds want.
func mustReady(t *testing.T, h *apitest.Harness, limits, want string) {
	t.Helper()
	r := h.Get(t, "", "/readyz")
	var doc struct {
		Status       string `json:"status"`
		ClientLimits string `json:"client_limits"`
		Detail       string `json:"detail"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &doc) != nil || doc.Status != "ok" ||
		doc.ClientLimits != limits || !strings.Contains(doc.Detail, want) || (want == "") != (doc.Detail == "") {
		t.Fatalf("readyz: %s, want 200, client_limits %q and a detail with %q", r, limits, want)
	}
}

// Two servers on stores of their own, with the same Redis and prefix,
// take one client's requests from one bucket.
func TestClientLimitsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	a := limited(t, apitest.WithRedisLimit(url, prefix))
	b := limited(t, apitest.WithRedisLimit(url, prefix))
	mustReady(t, a, "shared", "")
	mustReady(t, b, "shared", "")

	mustAllowFrom(t, a, "203.0.113.7", 2)
	mustAllowFrom(t, b, "203.0.113.7", 1)
	mustRefuseFrom(t, b, "203.0.113.7")
	mustRefuseFrom(t, a, "203.0.113.7")
	// Another client has its own bucket, on both.
	mustAllowFrom(t, b, "203.0.113.8", 1)
	mustAllowFrom(t, a, "203.0.113.8", 2)
	mustRefuseFrom(t, b, "203.0.113.8")

	// A server with another prefix shares nothing with them.
	other := limited(t, apitest.WithRedisLimit(url, redistest.Prefix(t, url)))
	mustAllowFrom(t, other, "203.0.113.7", limitBurst)
}

// When Redis goes away, a server keeps limiting, each client per replica,
// says so in its log and in /readyz, and serves; when Redis is back, the
// shared buckets count again.
func TestClientLimitsFallBackWhileRedisIsAway(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	proxy := redistest.StartProxy(t, url)
	a := limited(t, apitest.WithRedisLimit(proxy.URL(), prefix), apitest.WithLogs())
	b := limited(t, apitest.WithRedisLimit(url, prefix)) // another replica, which keeps its Redis

	mustAllowFrom(t, a, "203.0.113.7", limitBurst)
	mustRefuseFrom(t, a, "203.0.113.7")

	proxy.Stop()
	// a's own bucket, full at first, limits the client: neither everyone
	// refused nor anyone let through unlimited.
	mustAllowFrom(t, a, "203.0.113.7", limitBurst)
	mustRefuseFrom(t, a, "203.0.113.7")
	mustReady(t, a, "per_replica", "client limits are kept per replica: Redis is unreachable")
	if n := strings.Count(a.Logs.String(), "Redis is unreachable"); n != 1 {
		t.Errorf("the log says %d times that Redis is unreachable, want once:\n%s", n, a.Logs)
	}
	// b, which still reaches Redis, keeps the shared bucket, empty.
	mustRefuseFrom(t, b, "203.0.113.7")
	mustReady(t, b, "shared", "")

	// Redis is back. Once a's recheck is due, its requests take from the
	// shared buckets again: 203.0.113.8's, which b empties meanwhile.
	proxy.Start()
	a.Clock.Advance(redislimit.DefaultRecheck)
	mustAllowFrom(t, b, "203.0.113.8", limitBurst)
	mustRefuseFrom(t, a, "203.0.113.8")
	mustReady(t, a, "shared", "")
	if !strings.Contains(a.Logs.String(), "Redis answers again") {
		t.Errorf("the log does not say that Redis is back:\n%s", a.Logs)
	}
}

// Every endpoint a browser can call with a public key is limited per
// client address, in its API's own error format; the limits in memory
// are per server.
func TestClientLimitsOfKeyedDialects(t *testing.T) {
	t.Parallel()
	h := limited(t)
	h.Check = nil // the dialects answer in formats of their own
	mustReady(t, h, "", "")
	for i, call := range []struct {
		method, path, contentType, body string
	}{
		{http.MethodPost, "/notifications/customers/reset", "application/json", `{}`},
		{http.MethodPost, "/registeruserrequest", "application/xml", `<RegisterUserRequest/>`},
		{http.MethodPost, "/v1/contacts/login", "application/json", `{}`},
	} {
		client := "198.51.100." + string(rune('1'+i))
		send := func() *apitest.Response {
			return h.Do(t, request{Method: call.method, Path: call.path, Key: h.Public, Body: call.body,
				ContentType: call.contentType, Header: http.Header{"X-Forwarded-For": {client}}})
		}
		for n := range limitBurst {
			if r := send(); r.Status == http.StatusTooManyRequests || r.Status >= 500 {
				t.Fatalf("%s %s, request %d of the burst: %s", call.method, call.path, n+1, r)
			}
		}
		r := send()
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(r.Body), "too_many_requests") {
			t.Errorf("%s %s past the burst: %s %v", call.method, call.path, r, r.Header)
		}
		// A secret key from the same address is not limited.
		r = h.Do(t, request{Method: call.method, Path: call.path, Key: h.Secret, Body: call.body,
			ContentType: call.contentType, Header: http.Header{"X-Forwarded-For": {client}}})
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("%s %s with the secret key: %s", call.method, call.path, r)
		}
	}
}
