package native_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"pforte/internal/api/apitest"
	"pforte/internal/password"
	"pforte/internal/store/teststore"
)

// The two benchmarks below run at the default argon2id parameters. A login
// cannot be faster than its hash, so compare them as a ratio:
//
//	go test -run '^$' -bench 'Login|Argon2id' -benchmem ./internal/api/native/
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

// BenchmarkLoginHTTP is a whole POST /api/v1/sessions through the server's
// handler on a SQLite store: key lookup, throttle check, customer lookup,
// argon2id verify, session insert and the JSON answer.
func BenchmarkLoginHTTP(b *testing.B) {
	h := apitest.NewBench(b)
	body := `{"email":"` + apitest.BenchEmail + `","password":"` + apitest.BenchPassword + `"}`
	b.ReportAllocs()
	for b.Loop() {
		rec := apitest.Serve(h.Srv.Config.Handler, http.MethodPost, "/api/v1/sessions", h.Secret, body)
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
	h := apitest.NewBench(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		body := `{"email":"nobody` + strconv.Itoa(i) + `@example.com","password":"wrong horse battery staple"}`
		rec := apitest.Serve(h.Srv.Config.Handler, http.MethodPost, "/api/v1/sessions", h.Secret, body)
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkSessionCheck is GET /api/v1/session through the server's
// handler on a SQLite store: the key, then the session and its customer.
// With PFORTE_TEST_POSTGRES_DSN set it runs on PostgreSQL too:
//
//	go test -run '^$' -bench SessionCheck -benchmem ./internal/api/native/
func BenchmarkSessionCheck(b *testing.B) {
	for _, store := range []struct {
		name string
		open teststore.Opener
	}{{"sqlite", teststore.SQLite}, {"postgres", teststore.Postgres}} {
		b.Run(store.name, func(b *testing.B) {
			h := apitest.New(b, store.open)
			body := `{"email":"` + apitest.BenchEmail + `","password":"` + apitest.BenchPassword + `"}`
			if rec := apitest.Serve(h.Srv.Config.Handler, http.MethodPost, "/api/v1/customers", h.Secret, body); rec.Code != http.StatusCreated {
				b.Fatalf("create: %d %s", rec.Code, rec.Body)
			}
			rec := apitest.Serve(h.Srv.Config.Handler, http.MethodPost, "/api/v1/sessions", h.Secret, body)
			var login struct {
				Session struct {
					Token string `json:"token"`
				} `json:"session"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &login); err != nil || login.Session.Token == "" {
				b.Fatalf("login: %d %s", rec.Code, rec.Body)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, "/api/v1/session", nil)
					req.Header.Set("X-API-KEY", h.Secret)
					req.Header.Set("Authorization", "Bearer "+login.Session.Token)
					w := httptest.NewRecorder()
					h.Srv.Config.Handler.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Errorf("session check: %d %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}
