package server_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// The limits per client address. Every test allows 2 requests a minute
// with a burst of 3, so nothing refills while it runs.
const limitPerMinute, limitBurst = 2, 3

// limited is a harness whose client limit the test drives: requests name
// their client with X-Forwarded-For from the trusted loopback.
func limited(t *testing.T, opts ...apitest.Option) *apitest.Harness {
	t.Helper()
	opts = append([]apitest.Option{apitest.WithClientLimit(limitPerMinute, limitBurst),
		apitest.WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32"))}, opts...)
	return newServer(t, teststore.SQLite, opts...)
}

// Every endpoint a browser can call with a public key is limited per
// client address, in its API's own error format.
func TestClientLimitsOfKeyedDialects(t *testing.T) {
	t.Parallel()
	h := limited(t)
	h.Check = nil // the dialects answer in formats of their own
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
