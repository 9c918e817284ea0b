package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/server"
	"pforte/internal/store/teststore"
)

// The server itself: routing, the middleware around every API, health and
// readiness, and what the metrics observer hears. What each API answers is
// tested in its own package under internal/api.

type (
	request  = apitest.Request
	response = apitest.Response
)

// newServer is apitest's harness, with every answer checked by
// apitest.CheckNative.
func newServer(t *testing.T, open teststore.Opener, opts ...apitest.Option) *apitest.Harness {
	t.Helper()
	h := apitest.New(t, open, opts...)
	h.Check = apitest.CheckNative
	return h
}

// TestRouting: unknown paths and methods get problems, health checks answer.
func TestRouting(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newServer(t, open)
		for _, r := range []request{
			{Method: http.MethodGet, Path: "/api/v1/nope"},
			{Method: http.MethodGet, Path: "/api/v1/nope", Key: h.Secret},
			{Method: http.MethodPost, Path: "/api/v1/customers/1/nope", Key: h.Secret, Body: `{}`},
			{Method: http.MethodGet, Path: "/api/v1/"},
		} {
			apitest.MustProblem(t, h.Do(t, r), http.StatusNotFound, "no_such_endpoint")
		}
		for _, tt := range []struct {
			method, path string
			allow        []string
		}{
			{http.MethodDelete, "/api/v1/registrations", []string{"POST"}},
			{http.MethodPut, "/api/v1/sessions", []string{"GET", "POST"}},
			{http.MethodPost, "/api/v1/session", []string{"GET", "DELETE"}},
			{http.MethodPut, "/api/v1/customers/1", []string{"GET", "PATCH", "DELETE"}},
			{http.MethodGet, "/api/v1/password", []string{"PUT"}},
		} {
			res := h.Do(t, request{Method: tt.method, Path: tt.path, Key: h.Secret})
			apitest.MustProblem(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
			allow := res.Header.Get("Allow")
			for _, m := range tt.allow {
				if !strings.Contains(allow, m) {
					t.Errorf("%s %s: Allow %q lacks %s", tt.method, tt.path, allow, m)
				}
			}
			if strings.Contains(allow, tt.method) {
				t.Errorf("%s %s: Allow %q has the refused method", tt.method, tt.path, allow)
			}
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			res := h.Get(t, "", path)
			apitest.MustStatus(t, res, http.StatusOK)
			if got := string(res.Body); got != `{"status":"ok"}`+"\n" || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %s", path, res)
			}
		}
	})
}

// Browsers on allowed origins may call the API with a public key.
func TestCORS(t *testing.T) {
	t.Parallel()
	h := newServer(t, teststore.SQLite, apitest.WithCORS("https://shop.example"))
	preflight := func(origin string) *response {
		return h.Do(t, request{Method: http.MethodOptions, Path: "/api/v1/registrations",
			Header: http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type,x-api-key"}}})
	}
	ok := preflight("https://shop.example")
	apitest.MustStatus(t, ok, http.StatusNoContent)
	if ok.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || ok.Header.Get("Access-Control-Allow-Headers") == "" {
		t.Fatalf("preflight from an allowed origin: %v", ok.Header)
	}
	other := preflight("https://evil.example")
	if other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin was allowed: %v", other.Header)
	}
	res := h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.Public,
		Body: map[string]any{"email": "x@example.com", "password": "whatever-phrase"}, Header: http.Header{"Origin": {"https://shop.example"}}})
	if res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || res.Header.Get("Vary") != "Origin" {
		t.Fatalf("simple request headers: %v", res.Header)
	}
}

// Every answer, routed or not, carries a fresh request id and the security
// headers; the access log has one line per request with its route pattern,
// never its path or query, which carry tokens in some dialects.
func TestEveryAnswer(t *testing.T) {
	t.Parallel()
	h := newServer(t, teststore.SQLite, apitest.WithLogs())
	const secret = "a-token-in-the-path-0123456789"
	ids := map[string]bool{}
	for _, r := range []request{
		{Method: http.MethodGet, Path: "/healthz"},
		{Method: http.MethodGet, Path: "/readyz"},
		{Method: http.MethodGet, Path: "/api/v1/customers", Key: h.Secret},
		{Method: http.MethodGet, Path: "/api/v1/nope?token=" + secret},
		{Method: http.MethodPost, Path: "/v1/contats/" + secret + "/reset_password", Key: h.Secret, Body: `{}`},
		{Method: http.MethodGet, Path: "/nowhere/" + secret},
	} {
		res := h.Do(t, r)
		id := res.Header.Get("X-Request-Id")
		if len(id) != 16 || ids[id] {
			t.Errorf("%s: X-Request-Id %q, want a new one", res, id)
		}
		ids[id] = true
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: security headers %v", res, res.Header)
		}
		if !strings.Contains(h.Logs.String(), `"request_id":"`+id+`"`) {
			t.Errorf("%s: no access log line with its request id", res)
		}
	}
	logs := h.Logs.String()
	if strings.Contains(logs, secret) {
		t.Errorf("a path or query reached the log:\n%s", logs)
	}
	for _, want := range []string{`"route":"GET /healthz"`, `"route":"GET /api/v1/customers","status":200`,
		`"route":"POST /v1/contats/{token}/reset_password"`, `"route":"unrouted"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the access log lacks %s:\n%s", want, logs)
		}
	}
}

// observed is what a server.Observer heard.
type observed struct {
	mu    sync.Mutex
	calls []string
}

func (o *observed) ObserveRequest(route, method string, status int, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if took < 0 {
		route += " (negative duration)"
	}
	o.calls = append(o.calls, method+" "+route+" "+http.StatusText(status))
}

// storeWith is a store whose Ping the test decides; nothing else of it
// may be used.
type storeWith struct {
	account.Store
	ping func() error
}

func (s storeWith) Ping(context.Context) error { return s.ping() }

// serve sends one request straight to a server.New of d.
func serve(t *testing.T, d server.Deps, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return apitest.Serve(server.New(d), method, path, "", "")
}

// The observer hears of every answered request, by route pattern.
func TestObserver(t *testing.T) {
	t.Parallel()
	svc := account.NewService(account.Config{Store: storeWith{ping: func() error { return nil }}})
	obs := &observed{}
	d := server.Deps{Service: svc, Observer: obs}
	serve(t, d, http.MethodGet, "/healthz")
	serve(t, d, http.MethodGet, "/readyz")
	serve(t, d, http.MethodGet, "/nowhere")
	serve(t, d, http.MethodDelete, "/healthz")
	want := []string{"GET GET /healthz OK", "GET GET /readyz OK", "GET unrouted Not Found", "DELETE unrouted Method Not Allowed"}
	if strings.Join(obs.calls, "; ") != strings.Join(want, "; ") {
		t.Errorf("observed %q, want %q", obs.calls, want)
	}
}

// Readiness fails while the store does not answer; health does not ask it.
func TestReadiness(t *testing.T) {
	t.Parallel()
	svc := account.NewService(account.Config{Store: storeWith{ping: func() error { return errors.New("down") }}})
	d := server.Deps{Service: svc}
	if rec := serve(t, d, http.MethodGet, "/readyz"); rec.Code != http.StatusServiceUnavailable ||
		rec.Body.String() != `{"status":"unavailable"}`+"\n" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("readyz with the store down: %d %q", rec.Code, rec.Body)
	}
	if rec := serve(t, d, http.MethodGet, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("healthz with the store down: %d %q", rec.Code, rec.Body)
	}
}

// A handler that panics is answered with a problem, logged with its
// request id, and the server goes on.
func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	logs := &apitest.LogBuffer{}
	svc := account.NewService(account.Config{Store: storeWith{ping: func() error { panic("the store broke") }}})
	d := server.Deps{Service: svc, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	rec := serve(t, d, http.MethodGet, "/readyz")
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(rec.Body.String(), `"code":"internal"`) {
		t.Errorf("a panic was answered %d %q", rec.Code, rec.Body)
	}
	id := rec.Header().Get("X-Request-Id")
	if l := logs.String(); !strings.Contains(l, `"msg":"panic"`) || !strings.Contains(l, `"request_id":"`+id+`"`) || !strings.Contains(l, "the store broke") {
		t.Errorf("the panic was not logged with request id %s:\n%s", id, l)
	}
	if rec := serve(t, d, http.MethodGet, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("after a panic: %d", rec.Code)
	}
}

// TestRequestIDOnEveryLine: every line one request causes, the service's
// own as well as the access log's, carries the request's id.
func TestRequestIDOnEveryLine(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newServer(t, open, apitest.WithLogs())
		before := len(h.Logs.String())
		res := h.Post(t, h.Public, "/api/v1/registrations", map[string]any{
			"email": "ida@example.com", "password": "a-Long-enough-phrase"})
		apitest.MustStatus(t, res, http.StatusAccepted)
		id := res.Header.Get("X-Request-Id")
		lines := strings.Split(strings.TrimSpace(h.Logs.String()[before:]), "\n")
		var msgs []string
		for _, line := range lines {
			var rec struct {
				Msg       string `json:"msg"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if rec.RequestID != id {
				t.Errorf("line %q has request_id %q, want %q", rec.Msg, rec.RequestID, id)
			}
			if strings.Count(line, `"request_id"`) != 1 {
				t.Errorf("line %q names the request id more than once", line)
			}
			msgs = append(msgs, rec.Msg)
		}
		// The service's lines and the access log's.
		if !slices.Contains(msgs, "public registration") || !slices.Contains(msgs, "request") {
			t.Errorf("lines %q lack the service's or the access log's", msgs)
		}
	})
}

// TestChallenges: every 401 names the credential it wants (RFC 9110,
// RFC 6750), in the native API and the dialects.
func TestChallenges(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := apitest.New(t, open)
		const apiKey, bearer = `ApiKey realm="pforte", header="X-API-KEY"`, `Bearer realm="pforte"`
		for _, tt := range []struct {
			name string
			r    request
			want string
		}{
			{"no key", request{Method: http.MethodGet, Path: "/api/v1/customers"}, apiKey},
			{"unknown key", request{Method: http.MethodGet, Path: "/api/v1/customers", Key: "pk_nope"}, apiKey},
			{"no session token", request{Method: http.MethodGet, Path: "/api/v1/session", Key: h.Public}, bearer},
			{"bad session token", request{Method: http.MethodGet, Path: "/api/v1/session", Key: h.Public, Bearer: "nope"},
				bearer + `, error="invalid_token"`},
			{"wrong password", request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: h.Public,
				Body: map[string]any{"email": "nobody@example.com", "password": "not-the-Password-1"}}, apiKey},
			{"hgsp, bad SSO token", request{Method: http.MethodPost, Path: "/passwordchangerequest", Bearer: "nope",
				ContentType: "application/xml", Body: "<PasswordChangeRequest><OldPassword>alt-und-lang-2030</OldPassword>" +
					"<NewPassword>neu-und-lang-2030</NewPassword></PasswordChangeRequest>"},
				bearer + `, error="invalid_token"`},
		} {
			res := h.Do(t, tt.r)
			apitest.MustStatus(t, res, http.StatusUnauthorized)
			if got := res.Header.Get("WWW-Authenticate"); got != tt.want {
				t.Errorf("%s: WWW-Authenticate %q, want %q", tt.name, got, tt.want)
			}
		}
	})
}

// A tenant's cors_origins add to --cors-origins for the requests whose key
// belongs to the tenant; its preflights, which carry no key, are allowed
// for every tenant's origins.
func TestTenantCORS(t *testing.T) {
	apitest.EachParallel(t, func(t *testing.T, open teststore.Opener) {
		h := newServer(t, open, apitest.WithCORS("https://all.example"))
		if _, err := h.Svc.Tenants.Create(context.Background(), "other"); err != nil {
			t.Fatal(err)
		}
		otherKey := h.MustKey(t, "other", account.KeyPublic)
		for _, bad := range []string{"https://shop.example/", "https://shop.example/path", "http://shop.example",
			"https://Shop.example", "*", "shop.example", "https://shop.example:443", "https://u@shop.example"} {
			if err := h.Svc.Tenants.Set(context.Background(), account.DefaultTenant, "cors_origins", bad); err == nil {
				t.Errorf("cors_origins %q was accepted", bad)
			}
		}
		h.MustSetting(t, account.DefaultTenant, "cors_origins", "https://shop.example, http://localhost:3000")

		preflight := func(origin string) string {
			res := h.Do(t, request{Method: http.MethodOptions, Path: "/api/v1/sessions",
				Header: http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}}})
			apitest.MustStatus(t, res, http.StatusNoContent)
			return res.Header.Get("Access-Control-Allow-Origin")
		}
		for origin, want := range map[string]string{"https://shop.example": "https://shop.example",
			"http://localhost:3000": "http://localhost:3000", "https://all.example": "https://all.example", "https://evil.example": ""} {
			if got := preflight(origin); got != want {
				t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
			}
		}
		login := func(key, origin string) *response {
			return h.Do(t, request{Method: http.MethodPost, Path: "/api/v1/sessions", Key: key,
				Body:   map[string]any{"email": "x@example.com", "password": "whatever-phrase"},
				Header: http.Header{"Origin": {origin}}})
		}
		for _, tt := range []struct {
			key, origin string
			allowed     bool
		}{
			{h.Public, "https://shop.example", true},
			{otherKey, "https://shop.example", false}, // another tenant's key
			{otherKey, "https://all.example", true},   // --cors-origins
			{"pk_unknown", "https://shop.example", false},
			{h.Public, "https://evil.example", false},
		} {
			res := login(tt.key, tt.origin)
			if got := res.Header.Get("Access-Control-Allow-Origin") != ""; got != tt.allowed {
				t.Errorf("%s with key %.8s: allowed %v, want %v (%v)", tt.origin, tt.key, got, tt.allowed, res.Header)
			}
			if res.Header.Get("Vary") != "Origin" {
				t.Errorf("%s: Vary %q", tt.origin, res.Header.Get("Vary"))
			}
		}
	})
}
