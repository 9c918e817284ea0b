package oidc_test

import (
	"context"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"pforte/internal/account"
	"pforte/internal/api/apitest"
	"pforte/internal/store/teststore"
)

// Benchmarks of the provider's two busiest endpoints, through a real
// listener and a real relying party, at the default argon2id parameters
// (which only the one login of the setup pays):
//
//	go test ./internal/oidc -run '^$' -bench . -benchtime 2000x
//
// With PFORTE_TEST_POSTGRES_DSN set they run on PostgreSQL too.

func benchStores(b *testing.B, bench func(b *testing.B, open teststore.Opener)) {
	b.Run("sqlite", func(b *testing.B) { bench(b, teststore.SQLite) })
	b.Run("postgres", func(b *testing.B) { bench(b, teststore.Postgres) })
}

// benchSite is a harness with one customer, logged in to the tenant's
// pages in b's browser, and a confidential client.
func benchSite(b *testing.B, open teststore.Opener) (*site, *browser) {
	h := apitest.New(b, open, apitest.WithServerPublicURL())
	body := `{"email":"` + apitest.BenchEmail + `","password":"` + apitest.BenchPassword + `"}`
	if rec := apitest.Serve(h.Srv.Config.Handler, http.MethodPost, "/api/v1/customers", h.Secret, body); rec.Code != http.StatusCreated {
		b.Fatalf("create customer: %d %s", rec.Code, rec.Body)
	}
	s := newSite(b, h, account.DefaultTenant, "shop", account.ClientConfidential)
	br := newBrowser(b, h)
	f := s.start()
	s.mustExchange(f, code(b, f, br.login(f, apitest.BenchEmail, apitest.BenchPassword)))
	return s, br
}

// BenchmarkTokenCode is the token endpoint redeeming a code: client
// authentication, the code spent with its grant and refresh token in one
// transaction, and an ID token and an access token signed (RS256). The
// codes are made before the timer starts, by logins the page session
// approves.
func BenchmarkTokenCode(b *testing.B) {
	benchStores(b, func(b *testing.B, open teststore.Opener) {
		s, br := benchSite(b, open)
		type pending struct {
			f    flow
			code string
		}
		codes := make([]pending, b.N)
		for i := range codes {
			f := s.start()
			codes[i] = pending{f, code(b, f, br.back(br.follow(f.authURL)))}
		}
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.oauth.Exchange(ctx, codes[i].code, oauth2.VerifierOption(codes[i].f.verifier)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUserinfo is the userinfo endpoint answering an access token:
// its signature checked against the tenant's key, its grant, session and
// customer read. Four clients at once.
func BenchmarkUserinfo(b *testing.B) {
	benchStores(b, func(b *testing.B, open teststore.Opener) {
		s, br := benchSite(b, open)
		f := s.start()
		tk := s.mustExchange(f, code(b, f, br.back(br.follow(f.authURL))))
		userinfo := s.provider.UserInfoEndpoint()
		b.SetParallelism(2) // 2 × GOMAXPROCS (2 here): four clients
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			client := &http.Client{}
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodGet, userinfo, nil)
				req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("userinfo: %d", res.StatusCode)
					return
				}
			}
		})
	})
}
