package account_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/mail"
	"pforte/internal/password"
	"pforte/internal/store/teststore"
)

func mustService(t *testing.T, open teststore.Opener) (*account.Service, account.Store) {
	t.Helper()
	return mustServiceAt(t, open, nil)
}

// mustServiceAt is mustService on a clock (nil: the real one).
func mustServiceAt(t *testing.T, open teststore.Opener, now func() time.Time) (*account.Service, account.Store) {
	t.Helper()
	st := open(t)
	return startService(t, st, password.NewPool(0, 0), func(c *account.Config) { c.Now = now }), st
}

// startService starts a service on st with cheap hashes in pool; tweak,
// if not nil, changes its configuration first.
func startService(t *testing.T, st account.Store, pool *password.Pool, tweak func(*account.Config)) *account.Service {
	t.Helper()
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, pool)
	if err != nil {
		t.Fatal(err)
	}
	templates, err := mail.NewTemplates()
	if err != nil {
		t.Fatal(err)
	}
	cfg := account.Config{Store: st, Hasher: hasher, Policy: password.DefaultPolicy(), Renderer: templates}
	if tweak != nil {
		tweak(&cfg)
	}
	svc := account.NewService(cfg)
	if err := svc.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return svc
}

func mustCustomer(t *testing.T, svc *account.Service) (account.Caller, account.Customer) {
	t.Helper()
	ctx := context.Background()
	c, err := svc.Tenants.Caller(ctx, account.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	c.Key = account.KeySecret
	res, err := svc.Customers.Create(ctx, c, account.NewCustomer{Email: "code@example.com", State: account.StatePending})
	if err != nil {
		t.Fatal(err)
	}
	return c, res.Customer
}

// TestCodes drives 8-digit reset codes through the flows that issue and
// spend them.
func TestCodes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c, _ := mustCustomer(t, svc)
		issue := func(t *testing.T) string {
			t.Helper()
			_, code, err := svc.Recovery.IssueCode(ctx, c, "code@example.com")
			if err != nil || len(code) != 8 {
				t.Fatalf("IssueCode = %q, %v", code, err)
			}
			return code
		}
		use := func(c account.Caller, code string) error {
			_, _, err := svc.Recovery.CompleteWithCode(ctx, c, "code@example.com", code, "Neues-Passwort-2031")
			return err
		}

		t.Run("right code once", func(t *testing.T) {
			code := issue(t)
			if _, _, err := svc.Invitations.AcceptCode(ctx, c, "code@example.com", code, "Neues-Passwort-2031", nil); err == nil {
				t.Fatal("reset code accepted as an activation code")
			}
			other, err := svc.Tenants.Create(ctx, "codes-other")
			if err != nil {
				t.Fatal(err)
			}
			if err := use(account.Caller{Tenant: other, Key: account.KeySecret}, code); err == nil {
				t.Fatal("code accepted for another tenant")
			}
			if err := use(c, code); err != nil {
				t.Fatalf("right code: %v", err)
			}
			if err := use(c, code); err == nil {
				t.Fatal("code accepted twice")
			}
		})
		t.Run("five wrong guesses kill it", func(t *testing.T) {
			code := issue(t)
			wrong := "00000000"
			if wrong == code {
				wrong = "11111111"
			}
			for i := range 5 {
				if err := use(c, wrong); !account.IsKind(err, account.KindInvalid) {
					t.Fatalf("wrong guess %d: %v", i+1, err)
				}
			}
			if err := use(c, code); err == nil {
				t.Fatal("the right code still works after five wrong guesses")
			}
		})
		t.Run("a new code replaces the old", func(t *testing.T) {
			old, fresh := issue(t), issue(t)
			if old != fresh {
				if err := use(c, old); err == nil {
					t.Fatal("old code still works")
				}
			}
			if err := use(c, fresh); err != nil {
				t.Fatalf("new code: %v", err)
			}
		})
		t.Run("malformed", func(t *testing.T) {
			for _, bad := range []string{"", "1234567", "123456789", "abcdefgh", "1234 678"} {
				if err := use(c, bad); !account.IsKind(err, account.KindInvalid) {
					t.Errorf("CompleteWithCode(%q) = %v", bad, err)
				}
			}
		})
		t.Run("concurrent use succeeds once", func(t *testing.T) {
			code := issue(t)
			const n = 16
			var wg sync.WaitGroup
			start := make(chan struct{})
			results := make(chan error, n)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results <- use(c, code)
				}()
			}
			close(start)
			wg.Wait()
			close(results)
			ok := 0
			for err := range results {
				if err == nil {
					ok++
				} else if !account.IsKind(err, account.KindInvalid) {
					t.Errorf("unexpected error: %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d of %d concurrent uses succeeded, want 1", ok, n)
			}
		})
	})
}
