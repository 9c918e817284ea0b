package native_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/password"
	"pforte/internal/server"
	"pforte/internal/store/teststore"
)

// The two benchmarks below run at the default argon2id parameters. A login
// cannot be faster than its hash, so compare them as a ratio:
//
//	go test -run '^$' -bench 'Login|Argon2id' -benchmem ./internal/server/
func BenchmarkArgon2idDefault(b *testing.B) {
	h, err := password.NewHasher(password.DefaultParams(), password.NewPool(1, 0))
	if err != nil {
		b.Fatal(err)
	}
	encoded, _ := h.Hash(context.Background(), "correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(context.Background(), encoded, "correct horse battery staple"); !ok || err != nil {
			b.Fatal("verify failed", err)
		}
	}
}

// benchService is a service on a SQLite store at the default argon2id
// parameters, with a secret key of tenant default and one active customer.
func benchService(b *testing.B) (*account.Service, string) {
	ctx := context.Background()
	st := teststore.SQLite(b)
	hasher, err := password.NewHasher(password.DefaultParams(), password.NewPool(1, 0))
	if err != nil {
		b.Fatal(err)
	}
	svc := account.NewService(account.Config{Store: st, Hasher: hasher, Policy: password.DefaultPolicy()})
	if err := svc.Start(ctx, nil); err != nil {
		b.Fatal(err)
	}
	key, _, err := svc.APIKeys.Create(ctx, account.DefaultTenant, account.KeySecret, "bench")
	if err != nil {
		b.Fatal(err)
	}
	caller, _ := svc.APIKeys.Authenticate(ctx, key)
	if _, err := svc.Customers.Create(ctx, caller, account.NewCustomer{Email: "bench@example.com", Password: "correct horse battery staple"}); err != nil {
		b.Fatal(err)
	}
	return svc, key
}

// BenchmarkLoginHTTPGradido is seed 002's keyless POST
// /login_api/unsecureLogin: tenant by host, the same checks as the native
// login, a numeric session stored as an HMAC, and the user with its
// derived Ed25519 public key.
func BenchmarkLoginHTTPGradido(b *testing.B) {
	svc, _ := benchService(b)
	if err := svc.Tenants.Set(context.Background(), account.DefaultTenant, "gradido.allow_password_via_json", "true"); err != nil {
		b.Fatal(err)
	}
	h := server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler)})
	body := `{"email":"bench@example.com","password":"correct horse battery staple"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/login_api/unsecureLogin", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"state":"success"`) {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkLoginHTTP is a whole POST /api/v1/sessions through the server's
// handler on a SQLite store: key lookup, throttle check, customer lookup,
// argon2id verify, session insert and the JSON answer.
func BenchmarkLoginHTTP(b *testing.B) {
	svc, key := benchService(b)
	h := server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler)})
	body := `{"email":"bench@example.com","password":"correct horse battery staple"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sessions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-KEY", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkLoginHTTPWrongPassword is a failed POST /api/v1/sessions for an
// address nobody has (each a new one, so the throttle stays out of it): two
// hashes, the dummy's and the second that every failed login pays so that
// its time does not tell whether registrations are waiting.
func BenchmarkLoginHTTPWrongPassword(b *testing.B) {
	svc, key := benchService(b)
	h := server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler)})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		body := `{"email":"nobody` + strconv.Itoa(i) + `@example.com","password":"wrong horse battery staple"}`
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sessions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-KEY", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
	}
}
