package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"pforte/internal/account"
)

// mustOpen opens and migrates a fresh database file in a temporary directory.
func mustOpen(t testing.TB) *Store {
	t.Helper()
	s := mustOpenPath(t, filepath.Join(t.TempDir(), "pforte.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func mustOpenPath(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustCustomer(t testing.TB, s account.Tx, tenantID int64, name string) account.Customer {
	t.Helper()
	now := time.Now()
	c := account.Customer{
		UUID: "uuid-" + name, TenantID: tenantID, Email: name + "@example.com", EmailKey: name + "@example.com",
		State: account.StateActive, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.CreateCustomer(t.Context(), &c); err != nil {
		t.Fatalf("CreateCustomer(%s): %v", name, err)
	}
	return c
}

func appliedVersions(t *testing.T, s *Store) []int64 {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pforte.db")
	s := mustOpenPath(t, path)
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := appliedVersions(t, s); len(got) != len(ms) || got[0] != 1 {
		t.Errorf("schema_migrations = %v, want one row per migration (%d)", got, len(ms))
	}

	// Data survives a later Migrate, from another Store on the same file.
	tn := account.Tenant{Slug: "acme"}
	if err := s.CreateTenant(t.Context(), &tn); err != nil {
		t.Fatal(err)
	}
	other := mustOpenPath(t, path)
	if err := other.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate from a second Store: %v", err)
	}
	if _, err := other.TenantBySlug(t.Context(), "acme"); err != nil {
		t.Errorf("tenant after a second Migrate: %v", err)
	}
}

// TestMigrateConcurrently migrates one new file from several Stores at
// once, as processes starting together would.
func TestMigrateConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pforte.db")
	stores := make([]*Store, 4)
	for i := range stores {
		stores[i] = mustOpenPath(t, path)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate in store %d: %v", i, err)
		}
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, len(ms))
	for i, m := range ms {
		want[i] = m.Version
	}
	if got := appliedVersions(t, stores[0]); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want each of %v once", got, want)
	}
}

func TestOpenSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd ?#% name.db")
	s := mustOpenPath(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at its path: %v", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode = %v, want 0600", fi.Mode().Perm())
	}
	for _, db := range []struct {
		name string
		q    dbtx
	}{{"write", s.write}, {"read", s.read}} {
		for _, p := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"synchronous", "2"}, // FULL
			{"busy_timeout", "10000"},
			{"secure_delete", "1"},
		} {
			var got string
			if err := db.q.QueryRowContext(t.Context(), "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatalf("%s pool: PRAGMA %s: %v", db.name, p.pragma, err)
			}
			if got != p.want {
				t.Errorf("%s pool: PRAGMA %s = %q, want %q", db.name, p.pragma, got, p.want)
			}
		}
	}
	// A write routed to the read pool by mistake fails instead of competing
	// for the lock.
	if _, err := s.read.ExecContext(t.Context(), `DELETE FROM tenants`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
	for _, bad := range []string{"", ":memory:", "file:x.db"} {
		if s, err := Open(t.Context(), bad); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", bad)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	a := account.Tenant{Slug: "acme"}
	if err := s.CreateTenant(ctx, &a); err != nil {
		t.Fatal(err)
	}
	c := mustCustomer(t, s, a.ID, "alice")

	dupTenant := account.Tenant{Slug: "acme"}
	dupEmail := mustCustomerValue(a.ID, "alice")
	dupEmail.UUID = "another uuid"
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unique column", s.CreateTenant(ctx, &dupTenant), account.ErrDuplicate},
		{"unique index over two columns", s.CreateCustomer(ctx, &dupEmail), account.ErrDuplicate},
		{"no row", second(s.CustomerByID(ctx, a.ID, c.ID+1)), account.ErrNotFound},
		{"no row changed", s.DeleteCustomer(ctx, a.ID, c.ID+1), account.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want %v", tc.err, tc.want)
			}
			if !account.IsKind(tc.err, tc.want.(*account.Error).Kind) {
				t.Errorf("errors.As finds no %s *account.Error in %v", tc.want.(*account.Error).Kind, tc.err)
			}
		})
	}

	// A constraint that is not unique is not a duplicate.
	orphan := account.Token{TenantID: a.ID, CustomerID: c.ID + 1, Purpose: account.PurposeConfirm, Hash: []byte("h")}
	err := s.CreateToken(ctx, &orphan)
	if err == nil || errors.Is(err, account.ErrDuplicate) || errors.Is(err, account.ErrNotFound) {
		t.Errorf("CreateToken(unknown customer) = %v, want a plain error", err)
	}
}

func mustCustomerValue(tenantID int64, name string) account.Customer {
	return account.Customer{
		UUID: "uuid-" + name, TenantID: tenantID, Email: name + "@example.com", EmailKey: name + "@example.com",
		State: account.StateActive,
	}
}

func second[T any](_ T, err error) error { return err }

func TestTimeRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	a := account.Tenant{Slug: "acme"}
	if err := s.CreateTenant(ctx, &a); err != nil {
		t.Fatal(err)
	}
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"utc microseconds", time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)},
		{"nanoseconds truncated", time.Date(2030, 1, 2, 3, 4, 5, 678901999, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)},
		{"other zone to utc", time.Date(2030, 1, 2, 4, 4, 5, 1000, berlin), time.Date(2030, 1, 2, 3, 4, 5, 1000, time.UTC)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999999500, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"with a monotonic reading", time.Now(), time.Now()}, // want fixed below
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "with a monotonic reading" {
				tc.want = time.UnixMicro(tc.in.UnixMicro()).UTC()
			}
			c := mustCustomerValue(a.ID, string(rune('a'+i)))
			c.CreatedAt, c.UpdatedAt, c.EmailConfirmedAt = tc.in, tc.in, &tc.in
			if err := s.CreateCustomer(ctx, &c); err != nil {
				t.Fatal(err)
			}
			got, err := s.CustomerByID(ctx, a.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []struct {
				what string
				got  time.Time
			}{
				{"read CreatedAt", got.CreatedAt},
				{"read EmailConfirmedAt", *got.EmailConfirmedAt},
				{"created CreatedAt", c.CreatedAt},
				{"created EmailConfirmedAt", *c.EmailConfirmedAt},
			} {
				if v.got != tc.want { // == also compares location and monotonic reading
					t.Errorf("%s = %v, want %v", v.what, v.got, tc.want)
				}
			}
			if tc.in.Location() == time.UTC && tc.in.Nanosecond()%1000 == 0 && !tc.in.Equal(tc.want) {
				t.Errorf("caller's time changed to %v", tc.in)
			}
		})
	}
}

func TestInTx(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	a := account.Tenant{Slug: "acme"}
	if err := s.CreateTenant(ctx, &a); err != nil {
		t.Fatal(err)
	}

	wantErr := &account.Error{Kind: account.KindConflict, Code: "test"}
	err := s.InTx(ctx, func(tx account.Tx) error {
		mustCustomer(t, tx, a.ID, "rolled-back")
		return wantErr
	})
	if err != wantErr {
		t.Errorf("InTx = %v, want fn's error unchanged", err)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("InTx swallowed a panic")
			}
		}()
		_ = s.InTx(ctx, func(tx account.Tx) error {
			mustCustomer(t, tx, a.ID, "panicked")
			panic("boom")
		})
	}()

	if err := s.InTx(ctx, func(tx account.Tx) error {
		mustCustomer(t, tx, a.ID, "committed")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ListCustomers(ctx, a.ID, account.CustomerFilter{}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Email != "committed@example.com" {
		t.Errorf("customers after the transactions = %+v, want only the committed one", cs)
	}

	// The write connection is free again: a cancelled context does not
	// leave the transaction open.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.InTx(cctx, func(tx account.Tx) error { return nil }); err == nil {
		t.Error("InTx with a cancelled context succeeded")
	}
	if err := s.SetTenantSetting(ctx, a.ID, "delivery", "return"); err != nil {
		t.Errorf("write after a cancelled transaction: %v", err)
	}
}

// TestInTxWithoutSync checks that a transaction without sync commits with
// synchronous NORMAL, and that the write connection is back to FULL for
// the next writer however the transaction ended.
func TestInTxWithoutSync(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	synchronous := func(q dbtx) string {
		t.Helper()
		var got string
		if err := q.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	ends := map[string]func(tx account.Tx) error{
		"commit": func(account.Tx) error { return nil },
		"error":  func(account.Tx) error { return errors.New("rolled back") },
		"panic":  func(account.Tx) error { panic("boom") },
	}
	for name, end := range ends {
		func() {
			defer func() { _ = recover() }()
			_ = s.InTxWithoutSync(ctx, func(in account.Tx) error {
				// Not through the statement cache: a prepared PRAGMA
				// statement answers the value it was compiled with.
				if got := synchronous(in.(*tx).w.(*txStmts).tx); got != "1" {
					t.Errorf("%s: synchronous inside = %s, want 1 (NORMAL)", name, got)
				}
				return end(in)
			})
		}()
		if got := synchronous(s.write); got != "2" {
			t.Errorf("after a transaction that ended by %s: synchronous = %s, want 2 (FULL)", name, got)
		}
	}
	// A cancelled context does not leave the connection behind either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.InTxWithoutSync(cctx, func(tx account.Tx) error { return nil }); err == nil {
		t.Error("InTxWithoutSync with a cancelled context succeeded")
	}
	if got := synchronous(s.write); got != "2" {
		t.Errorf("after a cancelled transaction: synchronous = %s, want 2 (FULL)", got)
	}
}

// TestTokensGoWithCustomer checks the cascade, and that a token cannot name
// another tenant's customer.
func TestTokensGoWithCustomer(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	a, b := account.Tenant{Slug: "acme"}, account.Tenant{Slug: "globex"}
	for _, tn := range []*account.Tenant{&a, &b} {
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	c := mustCustomer(t, s, a.ID, "alice")
	now := time.Now()
	tok := account.Token{TenantID: a.ID, CustomerID: c.ID, Purpose: account.PurposeConfirm, Hash: []byte("t1"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateToken(ctx, &tok); err != nil {
		t.Fatal(err)
	}
	sess := account.Session{TenantID: a.ID, CustomerID: c.ID, Hash: []byte("s1"), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, &sess); err != nil {
		t.Fatal(err)
	}
	cross := account.Token{TenantID: b.ID, CustomerID: c.ID, Purpose: account.PurposeConfirm, Hash: []byte("t2"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateToken(ctx, &cross); err == nil {
		t.Error("CreateToken for another tenant's customer succeeded")
	}

	if err := s.DeleteCustomer(ctx, a.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM tokens) + (SELECT count(*) FROM sessions)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d tokens and sessions left after DeleteCustomer", n)
	}
}

// TestTwoStoresSerialise runs read-then-write transactions from two Stores
// on one file, as two processes would: BEGIN IMMEDIATE makes the second wait
// for the first instead of failing with SQLITE_BUSY, and no update is lost.
func TestTwoStoresSerialise(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "pforte.db")
	s1 := mustOpenPath(t, path)
	if err := s1.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpenPath(t, path)
	a := account.Tenant{Slug: "acme"}
	if err := s1.CreateTenant(ctx, &a); err != nil {
		t.Fatal(err)
	}
	const perStore = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for _, s := range []*Store{s1, s2} {
		wg.Go(func() {
			for range perStore {
				errs <- s.InTx(ctx, func(tx account.Tx) error {
					if _, err := tx.LoginFailures(ctx, a.ID, "k"); err != nil { // a read first
						return err
					}
					_, err := tx.ReserveLoginAttempt(ctx, a.ID, "k", time.Now(), time.Now().Add(-time.Minute))
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
	}
	got, err := s2.LoginFailures(ctx, a.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.Pending != 2*perStore {
		t.Errorf("Pending = %d, want %d", got.Pending, 2*perStore)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(path + suffix); err != nil {
			t.Errorf("stat %s: %v", suffix, err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode of the database file%s = %v, want 0600", suffix, fi.Mode().Perm())
		}
	}
}
