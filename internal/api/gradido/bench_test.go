package gradido_test

import (
	"net/http"
	"strings"
	"testing"

	"pforte/internal/api/apitest"
)

// BenchmarkLoginHTTPGradido is Gradido's keyless POST
// /login_api/unsecureLogin: tenant by host, the same checks as the native
// login, a numeric session stored as an HMAC, and the user with its
// derived Ed25519 public key.
func BenchmarkLoginHTTPGradido(b *testing.B) {
	h := apitest.NewBench(b, passwordsOn())
	body := `{"email":"` + apitest.BenchEmail + `","password":"` + apitest.BenchPassword + `"}`
	b.ReportAllocs()
	for b.Loop() {
		rec := apitest.Serve(h.Srv.Config.Handler, http.MethodPost, "/login_api/unsecureLogin", "", body)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"state":"success"`) {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
	}
}
