package account_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
	"pforte/internal/store/teststore"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A setting changed by another process (the CLI) reaches a running service
// once its tenant cache expires, without a restart.
func TestSettingsReachRunningService(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		st := open(t)
		clk := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		server := account.NewService(account.Config{Store: st, Now: clk.Now})
		if err := server.Start(ctx, nil); err != nil {
			t.Fatal(err)
		}
		cli := account.NewService(account.Config{Store: st})
		key, _, err := cli.APIKeys.Create(ctx, account.DefaultTenant, account.KeySecret, "")
		if err != nil {
			t.Fatal(err)
		}
		locale := func() string {
			t.Helper()
			c, err := server.APIKeys.Authenticate(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return c.Tenant.Setting("default_locale")
		}
		if got := locale(); got != "de" {
			t.Fatalf("default_locale = %q, want the default de", got)
		}
		if err := cli.Tenants.Set(ctx, account.DefaultTenant, "default_locale", "en"); err != nil {
			t.Fatal(err)
		}
		clk.advance(2100 * time.Millisecond)
		if got := locale(); got != "en" {
			t.Fatalf("default_locale = %q two seconds after the change, want en", got)
		}
		// Revocation, unlike settings, is never cached.
		keys, _ := cli.APIKeys.List(ctx, account.DefaultTenant)
		if err := cli.APIKeys.Revoke(ctx, account.DefaultTenant, keys[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := server.APIKeys.Authenticate(ctx, key); !account.IsKind(err, account.KindUnauthorized) {
			t.Fatalf("revoked key: %v, want unauthorized at once", err)
		}
	})
}

// A secret given by the operator is used and never written to the
// database; without one, the first start stores a generated secret that
// later starts reuse.
func TestServerSecretStorage(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		st := open(t)
		if err := account.NewService(account.Config{Store: st}).Start(ctx, []byte("operator-secret-0123")); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.ServerState(ctx, "secret", []byte("probe")); string(got) != "probe" {
			t.Fatalf("the operator's secret was stored: the database holds %q", got)
		}
		fresh := open(t)
		if err := account.NewService(account.Config{Store: fresh}).Start(ctx, nil); err != nil {
			t.Fatal(err)
		}
		stored, _ := fresh.ServerState(ctx, "secret", []byte("probe"))
		if len(stored) < 32 || string(stored) == "probe" {
			t.Fatalf("no generated secret was stored: %q", stored)
		}
	})
}

// TestSecretStarts: concurrent first starts agree on one secret and none
// is refused; a command (Attach) without the secret never writes the check,
// so a server with a given secret still starts; the generated secret left
// behind is then reported stale.
func TestSecretStarts(t *testing.T) {
	teststore.Each(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		for round := range 5 {
			st := open(t)
			const n = 8
			errs := make([]error, n)
			svcs := make([]*account.Service, n)
			var wg sync.WaitGroup
			for i := range n {
				svcs[i] = account.NewService(account.Config{Store: st})
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = svcs[i].Start(ctx, nil) }()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, start %d of %d concurrent first starts: %v", round, i, n, err)
				}
				if !bytes.Equal(svcs[i].Keyring.DialectKey("x"), svcs[0].Keyring.DialectKey("x")) {
					t.Fatalf("round %d: concurrent first starts disagree on the secret", round)
				}
			}
		}

		st := open(t)
		if err := account.NewService(account.Config{Store: st}).Attach(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := account.NewService(account.Config{Store: st}).StoredSecret(ctx); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("a command before the first server start stored a secret: %v", err)
		}
		if err := account.NewService(account.Config{Store: st}).Start(ctx, []byte("the-operators-secret")); err != nil {
			t.Fatalf("a server with a given secret after a command without it: %v", err)
		}
		if err := account.NewService(account.Config{Store: st}).Attach(ctx, nil); !errors.Is(err, account.ErrWrongSecret) {
			t.Fatalf("a command without the server's secret: %v", err)
		}

		// A generated secret left behind by an earlier version is stale once
		// a server runs with a given one.
		stale := open(t)
		if _, err := stale.ServerState(ctx, "secret", []byte("an-old-generated-secret-0123456789")); err != nil {
			t.Fatal(err)
		}
		if err := account.NewService(account.Config{Store: stale}).Start(ctx, []byte("the-operators-secret")); err != nil {
			t.Fatal(err)
		}
		if _, err := account.NewService(account.Config{Store: stale}).StoredSecret(ctx); !errors.Is(err, account.ErrStaleSecret) {
			t.Fatalf("StoredSecret of a stale generated secret: %v", err)
		}

		// Short secrets are refused when an installation is set up, and
		// kept by one set up with one before the rule.
		if err := account.NewService(account.Config{Store: open(t)}).Start(ctx, []byte("short")); !errors.Is(err, account.ErrShortSecret) {
			t.Fatalf("a first start with a short secret: %v", err)
		}
		old := open(t)
		m := hmac.New(sha256.New, []byte("hunter2hunter2"))
		m.Write([]byte("pforte derived key\x00secret check"))
		if _, err := old.ServerState(ctx, "secret_check", m.Sum(nil)); err != nil {
			t.Fatal(err)
		}
		if err := account.NewService(account.Config{Store: old}).Start(ctx, []byte("hunter2hunter2")); err != nil {
			t.Fatalf("an installation set up with a short secret: %v", err)
		}
	})
}
