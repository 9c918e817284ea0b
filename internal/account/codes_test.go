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
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, password.NewPool(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	templates, err := mail.NewTemplates()
	if err != nil {
		t.Fatal(err)
	}
	svc := account.NewService(account.Config{Store: st, Hasher: hasher, Policy: password.DefaultPolicy(), Renderer: templates, Now: now})
	if err := svc.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return svc, st
}

func mustCustomer(t *testing.T, svc *account.Service) (account.Caller, account.Customer) {
	t.Helper()
	ctx := context.Background()
	c, err := svc.TenantCaller(ctx, account.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	c.Key = account.KeySecret
	res, err := svc.CreateCustomer(ctx, c, account.NewCustomer{Email: "code@example.com", State: account.StatePending})
	if err != nil {
		t.Fatal(err)
	}
	return c, res.Customer
}

func TestCodes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		svc, _ := mustService(t, open)
		c, cust := mustCustomer(t, svc)
		tenant := c.Tenant.ID

		t.Run("right code once", func(t *testing.T) {
			code, err := svc.IssueCode(ctx, tenant, cust.ID, account.PurposeConfirm)
			if err != nil || len(code) != 8 {
				t.Fatalf("IssueCode = %q, %v", code, err)
			}
			if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposePasswordReset, code); err == nil {
				t.Fatal("code accepted for another purpose")
			}
			if err := svc.ConsumeCode(ctx, tenant+1, cust.ID, account.PurposeConfirm, code); err == nil {
				t.Fatal("code accepted for another tenant")
			}
			if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, code); err != nil {
				t.Fatalf("right code: %v", err)
			}
			if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, code); err == nil {
				t.Fatal("code accepted twice")
			}
		})
		t.Run("five wrong guesses kill it", func(t *testing.T) {
			code, _ := svc.IssueCode(ctx, tenant, cust.ID, account.PurposeConfirm)
			wrong := "00000000"
			if wrong == code {
				wrong = "11111111"
			}
			for i := range 5 {
				if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, wrong); !account.IsKind(err, account.KindInvalid) {
					t.Fatalf("wrong guess %d: %v", i+1, err)
				}
			}
			if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, code); err == nil {
				t.Fatal("the right code still works after five wrong guesses")
			}
		})
		t.Run("a new code replaces the old", func(t *testing.T) {
			old, _ := svc.IssueCode(ctx, tenant, cust.ID, account.PurposeConfirm)
			fresh, _ := svc.IssueCode(ctx, tenant, cust.ID, account.PurposeConfirm)
			if old != fresh {
				if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, old); err == nil {
					t.Fatal("old code still works")
				}
			}
			if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, fresh); err != nil {
				t.Fatalf("new code: %v", err)
			}
		})
		t.Run("malformed", func(t *testing.T) {
			for _, bad := range []string{"", "1234567", "123456789", "abcdefgh", "1234 678"} {
				if err := svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, bad); !account.IsKind(err, account.KindInvalid) {
					t.Errorf("ConsumeCode(%q) = %v", bad, err)
				}
			}
		})
		t.Run("concurrent use succeeds once", func(t *testing.T) {
			code, _ := svc.IssueCode(ctx, tenant, cust.ID, account.PurposeConfirm)
			const n = 16
			var wg sync.WaitGroup
			start := make(chan struct{})
			results := make(chan error, n)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results <- svc.ConsumeCode(ctx, tenant, cust.ID, account.PurposeConfirm, code)
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
