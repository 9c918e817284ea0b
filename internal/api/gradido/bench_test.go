package gradido_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/server"
)

// BenchmarkLoginHTTPGradido is seed 002's keyless POST
// /login_api/unsecureLogin: tenant by host, the same checks as the native
// login, a numeric session stored as an HMAC, and the user with its
// derived Ed25519 public key.
func BenchmarkLoginHTTPGradido(b *testing.B) {
	svc, _ := apitest.BenchService(b)
	if err := svc.Tenants.Set(context.Background(), account.DefaultTenant, "gradido.allow_password_via_json", "true"); err != nil {
		b.Fatal(err)
	}
	h := server.New(server.Deps{Service: svc, Logger: slog.New(slog.DiscardHandler)})
	body := `{"email":"` + apitest.BenchEmail + `","password":"` + apitest.BenchPassword + `"}`
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
