package apitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pforte/internal/password"
	"pforte/internal/store/teststore"
)

// The customer NewBench makes.
const (
	BenchEmail    = "bench@example.com"
	BenchPassword = "correct horse battery staple"
)

// NewBench is New for benchmarks: on a SQLite store, at the default
// argon2id parameters (a login costs what it costs in production), with
// one active customer, BenchEmail with BenchPassword. Benchmarks send to
// Srv.Config.Handler through Serve, without a network.
func NewBench(b *testing.B, opts ...Option) *Harness {
	b.Helper()
	h := New(b, teststore.SQLite, append(opts, WithHashing(password.DefaultParams(), password.NewPool(1, 0)))...)
	body := `{"email":"` + BenchEmail + `","password":"` + BenchPassword + `"}`
	if rec := Serve(h.Srv.Config.Handler, http.MethodPost, "/api/v1/customers", h.Secret, body); rec.Code != http.StatusCreated {
		b.Fatalf("create %s: %d %s", BenchEmail, rec.Code, rec.Body)
	}
	return h
}

// Serve sends a request straight to h, without a network, for benchmarks
// and for tests of a handler the harness does not build: body (JSON; none
// when empty) with the key (none when empty).
func Serve(h http.Handler, method, path, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
