package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pforte/internal/account"
	"pforte/internal/store/postgres"
	"pforte/internal/store/storetest"
	"pforte/internal/store/teststore"
)

// mustSchema gives the test an empty schema of its own, dropped when the
// test ends, and returns a DSN whose search_path is that schema.
func mustSchema(t *testing.T) string {
	t.Helper()
	return teststore.PostgresDSN(t)
}

// mustOpenDSN opens a store and closes it when the test ends.
func mustOpenDSN(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mustOpen returns a migrated store on a fresh schema of its own.
func mustOpen(t *testing.T) *postgres.Store {
	t.Helper()
	s := mustOpenDSN(t, mustSchema(t))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// TestConformance holds the store to the contract both stores share.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) account.Store { return mustOpen(t) })
}

func mustTenant(t *testing.T, tx account.Tx, slug string) account.Tenant {
	t.Helper()
	tn := account.Tenant{Slug: slug}
	if err := tx.CreateTenant(t.Context(), &tn); err != nil {
		t.Fatalf("create tenant %q: %v", slug, err)
	}
	return tn
}

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCustomer(t *testing.T, tx account.Tx, tenantID int64, email string) account.Customer {
	t.Helper()
	c := account.Customer{
		UUID: "uuid-" + email, TenantID: tenantID, Email: email, EmailKey: email,
		State: account.StateActive, CreatedAt: testNow, UpdatedAt: testNow,
	}
	if err := tx.CreateCustomer(t.Context(), &c); err != nil {
		t.Fatalf("create customer %q: %v", email, err)
	}
	return c
}

func TestMigrateIdempotent(t *testing.T) {
	dsn := mustSchema(t)
	s := mustOpenDSN(t, dsn)
	for i := range 3 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
	}
	mustMigratedOnce(t, s, dsn)
}

func TestMigrateConcurrent(t *testing.T) {
	dsn := mustSchema(t)
	stores := []*postgres.Store{mustOpenDSN(t, dsn), mustOpenDSN(t, dsn), mustOpenDSN(t, dsn)}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: migrate: %v", i, err)
		}
	}
	mustMigratedOnce(t, stores[0], dsn)
}

// mustMigratedOnce checks that the schema works and that each migration is
// recorded once.
func mustMigratedOnce(t *testing.T, s *postgres.Store, dsn string) {
	t.Helper()
	mustTenant(t, s, "probe")
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	var n, versions int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &versions); err != nil {
		t.Fatal(err)
	}
	if n != len(files) || versions != len(files) {
		t.Errorf("schema_migrations: %d rows, %d versions; want %d of each", n, versions, len(files))
	}
}

func TestErrorMapping(t *testing.T) {
	s := mustOpen(t)
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, tn.ID, "a@example.com")
	tests := []struct {
		name string
		err  error
		want *account.Error
	}{
		{"duplicate slug", s.CreateTenant(ctx, &account.Tenant{Slug: "acme"}), account.ErrDuplicate},
		{"duplicate email key", func() error { d := c; return s.CreateCustomer(ctx, &d) }(), account.ErrDuplicate},
		{"missing tenant", func() error { _, err := s.TenantByID(ctx, 999); return err }(), account.ErrNotFound},
		{"missing customer", func() error { _, err := s.CustomerByID(ctx, tn.ID, 999); return err }(), account.ErrNotFound},
		{"customer of another tenant", func() error { _, err := s.CustomerByID(ctx, tn.ID+1, c.ID); return err }(), account.ErrNotFound},
		{"update missing", func() error { d := c; d.ID = 999; return s.UpdateCustomer(ctx, &d) }(), account.ErrNotFound},
		{"delete missing", s.DeleteCustomer(ctx, tn.ID, 999), account.ErrNotFound},
		{"revoke missing", s.RevokeAPIKey(ctx, tn.ID, 999, testNow), account.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Fatalf("err = %v, want %v", tt.err, tt.want)
			}
			var e *account.Error
			if !errors.As(tt.err, &e) || e != tt.want {
				t.Errorf("errors.As gives %v, want %v", e, tt.want)
			}
		})
	}

	// An update's driver error stays in the chain for the log; an insert
	// skips the conflicting row (ON CONFLICT DO NOTHING) and says which
	// write it was.
	b := mustCustomer(t, s, tn.ID, "b@example.com")
	b.Email, b.EmailKey = c.Email, c.EmailKey
	err := s.UpdateCustomer(ctx, &b)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Errorf("duplicate update: driver error not in chain: %v", err)
	}
	if err := s.CreateTenant(ctx, &account.Tenant{Slug: "acme"}); err == nil || !strings.Contains(err.Error(), "create tenant") {
		t.Errorf("duplicate insert: %v, want the operation named", err)
	}
}

func TestDuplicateInTxLeavesTxUsable(t *testing.T) {
	s := mustOpen(t)
	ctx := t.Context()
	mustTenant(t, s, "acme")
	err := s.InTx(ctx, func(tx account.Tx) error {
		if err := tx.CreateTenant(ctx, &account.Tenant{Slug: "acme"}); !errors.Is(err, account.ErrDuplicate) {
			t.Errorf("duplicate in tx: %v, want ErrDuplicate", err)
		}
		return tx.CreateTenant(ctx, &account.Tenant{Slug: "other"})
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.TenantBySlug(ctx, "other"); err != nil {
		t.Errorf("tenant written after the duplicate: %v", err)
	}
}

// TestCustomersInPlan: an import's batch reads look each email key or
// UUID up in the (tenant_id, email_key) or (tenant_id, uuid) index, in a
// transaction and out, before the table has statistics and after. With
// email_key = ANY they walked the whole tenant until the table was
// analyzed.
func TestCustomersInPlan(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	tn := mustTenant(t, s, "acme")
	values := map[string][]string{}
	for i := range 2000 {
		c := mustCustomer(t, s, tn.ID, fmt.Sprintf("kunde%d@example.com", i))
		if i < 500 {
			values["email_key"] = append(values["email_key"], c.EmailKey)
			values["uuid"] = append(values["uuid"], c.UUID)
		}
	}
	check := func(when string) {
		t.Helper()
		for column, vs := range values {
			for _, where := range []string{"outside a transaction", "in a transaction"} {
				var plan []string
				var err error
				if where == "outside a transaction" {
					plan, err = postgres.CustomersInPlan(ctx, s, column, tn.ID, vs)
				} else {
					err = s.InTx(ctx, func(tx account.Tx) error {
						plan, err = postgres.CustomersInPlan(ctx, tx, column, tn.ID, vs)
						return err
					})
				}
				if err != nil {
					t.Fatal(err)
				}
				text := strings.Join(plan, "\n")
				if !strings.Contains(text, "Index Scan using customers_tenant_id_"+column+"_key") || !strings.Contains(text, column+" = k.value") {
					t.Errorf("%s, %s, the plan does not look each value up by %s:\n%s", when, where, column, text)
				}
			}
		}
	}
	check("before ANALYZE")
	if err := postgres.Analyze(ctx, s); err != nil {
		t.Fatal(err)
	}
	check("after ANALYZE")
}

// onlyOne is the one customer of a batch read.
func onlyOne(cs []account.Customer, err error) (account.Customer, error) {
	if err == nil && len(cs) != 1 {
		err = fmt.Errorf("%d customers, want 1", len(cs))
	}
	if err != nil {
		return account.Customer{}, err
	}
	return cs[0], nil
}

// TestForUpdateInTx checks that a customer read inside a transaction locks
// the row until commit, and that a read outside a transaction does not wait.
func TestForUpdateInTx(t *testing.T) {
	s := mustOpen(t)
	tn := mustTenant(t, s, "acme")
	c := mustCustomer(t, s, tn.ID, "a@example.com")
	c.Username = "alice"
	if err := s.UpdateCustomer(t.Context(), &c); err != nil {
		t.Fatal(err)
	}

	type read func(ctx context.Context, tx account.Tx) (account.Customer, error)
	for _, tc := range []struct {
		name string
		read read
	}{
		{"by id", func(ctx context.Context, tx account.Tx) (account.Customer, error) {
			return tx.CustomerByID(ctx, tn.ID, c.ID)
		}},
		{"by uuid", func(ctx context.Context, tx account.Tx) (account.Customer, error) {
			return tx.CustomerByUUID(ctx, tn.ID, c.UUID)
		}},
		{"by email key", func(ctx context.Context, tx account.Tx) (account.Customer, error) {
			return tx.CustomerByEmailKey(ctx, tn.ID, c.EmailKey)
		}},
		{"by username", func(ctx context.Context, tx account.Tx) (account.Customer, error) {
			return tx.CustomerByUsername(ctx, tn.ID, "Alice")
		}},
		{"by email keys", func(ctx context.Context, tx account.Tx) (account.Customer, error) {
			return onlyOne(tx.CustomersByEmailKeys(ctx, tn.ID, []string{"nobody@example.com", c.EmailKey}))
		}},
		{"by uuids", func(ctx context.Context, tx account.Tx) (account.Customer, error) {
			return onlyOne(tx.CustomersByUUIDs(ctx, tn.ID, []string{c.UUID, "no such uuid"}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A lock that is never released fails the test instead of hanging it.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()

			locked := make(chan struct{})
			release := make(chan struct{})
			closeRelease := sync.OnceFunc(func() { close(release) })
			defer closeRelease()
			holder := make(chan error, 1)
			go func() {
				holder <- s.InTx(ctx, func(tx account.Tx) error {
					got, err := tc.read(ctx, tx)
					if err != nil {
						return err
					}
					close(locked)
					<-release
					got.FirstName = tc.name
					return tx.UpdateCustomer(ctx, &got)
				})
			}()
			select {
			case <-locked:
			case err := <-holder:
				t.Fatalf("first tx: %v", err)
			}

			// Outside a transaction a read does not wait for the lock.
			outside, cancelOutside := context.WithTimeout(ctx, 2*time.Second)
			defer cancelOutside()
			if got, err := tc.read(outside, s); err != nil || got.FirstName == tc.name {
				t.Fatalf("read outside a transaction = %+v, %v; want the old row at once", got, err)
			}

			type result struct {
				c   account.Customer
				err error
			}
			waiter := make(chan result, 1)
			go func() {
				var r result
				r.err = s.InTx(ctx, func(tx account.Tx) error {
					r.c, r.err = tc.read(ctx, tx)
					return r.err
				})
				waiter <- r
			}()
			select {
			case r := <-waiter:
				t.Fatalf("a second transaction read the customer while the first held it: %+v, %v", r.c, r.err)
			case <-time.After(200 * time.Millisecond):
			}
			closeRelease()
			if err := <-holder; err != nil {
				t.Fatalf("first tx: %v", err)
			}
			// Once the lock is released the waiter reads the committed change.
			r := <-waiter
			if r.err != nil || r.c.FirstName != tc.name {
				t.Errorf("second tx read FirstName %q, %v; want %q", r.c.FirstName, r.err, tc.name)
			}
		})
	}
}

// TestInTxRetriesDeadlock makes two transactions lock two customers in
// opposite order. PostgreSQL aborts one with 40P01; InTx runs it again and
// both commit.
func TestInTxRetriesDeadlock(t *testing.T) {
	s := mustOpen(t)
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	a := mustCustomer(t, s, tn.ID, "a@example.com")
	b := mustCustomer(t, s, tn.ID, "b@example.com")

	var calls atomic.Int32
	var bothLocked sync.WaitGroup
	bothLocked.Add(2)
	run := func(first, second int64) error {
		attempt := 0
		return s.InTx(ctx, func(tx account.Tx) error {
			calls.Add(1)
			attempt++
			if _, err := tx.CustomerByID(ctx, tn.ID, first); err != nil {
				return err
			}
			if attempt == 1 {
				bothLocked.Done()
				bothLocked.Wait()
			}
			_, err := tx.CustomerByID(ctx, tn.ID, second)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- run(a.ID, b.ID) }()
	go func() { errs <- run(b.ID, a.ID) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("InTx: %v", err)
		}
	}
	// At least one retry. Under load the retried transaction may meet the
	// other's locks again and be retried once more; what matters is that
	// both commit.
	if n := calls.Load(); n < 3 {
		t.Errorf("fn ran %d times, want at least 3 (a retry after the deadlock)", n)
	}
}

// TestInTxWithoutSync checks that synchronous_commit is off in a
// transaction without sync, and only there: the pool's connections go on
// committing with the server's setting.
func TestInTxWithoutSync(t *testing.T) {
	testTxSetting(t, "synchronous_commit", "off", "on", func(s *postgres.Store) txRun { return s.InTxWithoutSync })
}

// TestInBulkTx checks that a bulk transaction plans each statement for its
// parameters, and that the pool's connections go back to reusing plans.
func TestInBulkTx(t *testing.T) {
	testTxSetting(t, "plan_cache_mode", "force_custom_plan", "auto", func(s *postgres.Store) txRun { return s.InBulkTx })
}

type txRun func(context.Context, func(account.Tx) error) error

// testTxSetting checks that run's transactions have the setting name at
// inside, and InTx's after them at outside.
func testTxSetting(t *testing.T, name, inside, outside string, run func(s *postgres.Store) txRun) {
	s := mustOpen(t)
	ctx := t.Context()
	setting := func(run txRun) string {
		t.Helper()
		var got string
		if err := run(ctx, func(tx account.Tx) error {
			var err error
			got, err = postgres.Setting(ctx, tx, name)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	// One after the other, the transactions take turns on the pool's
	// idle connection: one with the setting must not leave it behind.
	for range 4 {
		if got := setting(run(s)); got != inside {
			t.Fatalf("%s in the transaction = %q, want %q", name, got, inside)
		}
		if got := setting(s.InTx); got != outside {
			t.Fatalf("%s in InTx after it = %q, want %q", name, got, outside)
		}
	}
}

// TestTimesRoundTrip checks that times come back in UTC at microsecond
// precision, and that Create leaves in the struct what a read returns.
func TestTimesRoundTrip(t *testing.T) {
	s := mustOpen(t)
	ctx := t.Context()
	tn := mustTenant(t, s, "acme")
	berlin := time.FixedZone("CET", 3600)
	at := time.Date(2025, 6, 30, 23, 59, 59, 123456789, berlin)
	c := account.Customer{
		UUID: "u1", TenantID: tn.ID, Email: "a@example.com", EmailKey: "a@example.com", State: account.StatePending,
		CreatedAt: at, UpdatedAt: at.Add(time.Hour), EmailConfirmedAt: &at,
	}
	if err := s.CreateCustomer(ctx, &c); err != nil {
		t.Fatal(err)
	}
	got, err := s.CustomerByID(ctx, tn.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2025, 6, 30, 22, 59, 59, 123456000, time.UTC)
	if got.CreatedAt != want || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want)
	}
	if got.EmailConfirmedAt == nil || *got.EmailConfirmedAt != want {
		t.Errorf("EmailConfirmedAt = %v, want %v", got.EmailConfirmedAt, want)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("read %+v\ncreated %+v", got, c)
	}

	ses := account.Session{TenantID: tn.ID, CustomerID: c.ID, Hash: []byte("h"), CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(24 * time.Hour), IdleExpiry: 90 * time.Minute}
	if err := s.CreateSession(ctx, &ses); err != nil {
		t.Fatal(err)
	}
	gotSes, err := s.SessionByHash(ctx, []byte("h"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSes, ses) {
		t.Errorf("read %+v\ncreated %+v", gotSes, ses)
	}
}

func TestOpenFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://postgres:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	} else if strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
}

// A claim that cannot reach the database fails, naming what failed,
// instead of claiming nothing.
func TestClaimMailFails(t *testing.T) {
	s := mustOpen(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ms, err := s.ClaimMail(ctx, "relay", testNow, testNow.Add(time.Minute), 10)
	if err == nil || !strings.Contains(err.Error(), "claim mail") || ms != nil {
		t.Errorf("ClaimMail with a cancelled context = %v, %v", ms, err)
	}
}
