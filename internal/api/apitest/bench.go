package apitest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/password"
	"pforte/internal/server"
	"pforte/internal/store/teststore"
)

// The customer BenchService makes.
const (
	BenchEmail    = "bench@example.com"
	BenchPassword = "correct horse battery staple"
)

// BenchService is a service for benchmarks: on a SQLite store, at the
// default argon2id parameters (a login costs what it costs in
// production), with a secret key of tenant default, which it returns,
// and one active customer, BenchEmail with BenchPassword.
func BenchService(b *testing.B) (*account.Service, string) {
	b.Helper()
	ctx := context.Background()
	hasher, err := password.NewHasher(password.DefaultParams(), password.NewPool(1, 0))
	if err != nil {
		b.Fatal(err)
	}
	svc := account.NewService(account.Config{Store: teststore.SQLite(b), Hasher: hasher, Policy: password.DefaultPolicy()})
	if err := svc.Start(ctx, nil); err != nil {
		b.Fatal(err)
	}
	key, _, err := svc.APIKeys.Create(ctx, account.DefaultTenant, account.KeySecret, "bench")
	if err != nil {
		b.Fatal(err)
	}
	caller, _ := svc.APIKeys.Authenticate(ctx, key)
	if _, err := svc.Customers.Create(ctx, caller, account.NewCustomer{Email: BenchEmail, Password: BenchPassword}); err != nil {
		b.Fatal(err)
	}
	return svc, key
}

// Handler is server.New for svc, logging nowhere: what a benchmark sends
// its requests to.
func Handler(svc *account.Service) http.Handler {
	return server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler)})
}

// ServeJSON posts a JSON body to path with the key (none when empty)
// straight to h, without a network, and returns the answer.
func ServeJSON(h http.Handler, path, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
