package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"pforte/internal/account"
)

// compiles counts the SQL that a store's connections compile: a statement
// prepared (kept, per connection and text) or run unprepared (compiled for
// that one run). BEGIN and COMMIT, which the driver runs itself, are not
// counted.
type compiles struct {
	mu         sync.Mutex
	prepared   map[prepared]int
	unprepared int
	openStmts  int
}

type prepared struct {
	conn  *countingConn
	query string
}

// sqliteConn is what database/sql uses of a modernc.org/sqlite connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type countingDriver struct {
	sqlite.Driver
	c *compiles
}

func (d *countingDriver) Open(name string) (driver.Conn, error) {
	conn, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{sqliteConn: conn.(sqliteConn), c: d.c}, nil
}

type countingConn struct {
	sqliteConn
	c *compiles
}

func (cc *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := cc.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cc.c.mu.Lock()
	defer cc.c.mu.Unlock()
	cc.c.prepared[prepared{cc, query}]++
	cc.c.openStmts++
	return &countingStmt{sqliteStmt: s.(sqliteStmt), c: cc.c}, nil
}

func (cc *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cc.c.mu.Lock()
	cc.c.unprepared++
	cc.c.mu.Unlock()
	return cc.sqliteConn.ExecContext(ctx, query, args)
}

func (cc *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cc.c.mu.Lock()
	cc.c.unprepared++
	cc.c.mu.Unlock()
	return cc.sqliteConn.QueryContext(ctx, query, args)
}

type countingStmt struct {
	sqliteStmt
	c *compiles
}

func (s *countingStmt) Close() error {
	s.c.mu.Lock()
	s.c.openStmts--
	s.c.mu.Unlock()
	return s.sqliteStmt.Close()
}

// unpreparedRuns is how many statements ran unprepared so far.
func (c *compiles) unpreparedRuns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unprepared
}

// checkOncePerConn fails t for each text prepared more than once on one
// connection.
func (c *compiles) checkOncePerConn(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.prepared) == 0 {
		t.Error("no statement was prepared")
	}
	for k, n := range c.prepared {
		if n > 1 {
			t.Errorf("prepared %d times on one connection: %s", n, k.query)
		}
	}
}

var countingDrivers atomic.Int64

// mustOpenCounting opens and migrates a fresh store whose connections count
// what they compile.
func mustOpenCounting(t *testing.T) (*Store, *compiles) {
	t.Helper()
	c := &compiles{prepared: map[prepared]int{}}
	name := fmt.Sprintf("sqlite-counting-%d", countingDrivers.Add(1))
	sql.Register(name, &countingDriver{c: c})
	s, err := open(t.Context(), filepath.Join(t.TempDir(), "pforte.db"), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// sessionFixture makes a tenant, a customer and a session of theirs.
func sessionFixture(t testing.TB, s *Store) (account.Customer, account.Session) {
	t.Helper()
	tn := account.Tenant{Slug: "acme"}
	if err := s.CreateTenant(t.Context(), &tn); err != nil {
		t.Fatal(err)
	}
	c := mustCustomer(t, s, tn.ID, "alice")
	now := time.Now()
	sess := account.Session{TenantID: tn.ID, CustomerID: c.ID, Hash: []byte("session hash"),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiry: time.Hour}
	if err := s.CreateSession(t.Context(), &sess); err != nil {
		t.Fatal(err)
	}
	return c, sess
}

// TestStatementsPreparedOnce runs store calls, on the pools and in
// transactions, many times: each SQL text is compiled once per connection,
// and after the first round nothing runs unprepared.
func TestStatementsPreparedOnce(t *testing.T) {
	ctx := t.Context()
	s, c := mustOpenCounting(t)
	cust, sess := sessionFixture(t, s)

	round := func() {
		t.Helper()
		if _, _, err := s.SessionWithCustomer(ctx, sess.Hash); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchSession(ctx, sess.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ListCustomers(ctx, cust.TenantID, account.CustomerFilter{}, 0, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CustomerByEmailKey(ctx, cust.TenantID, "nobody@example.com"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("CustomerByEmailKey(nobody) = %v, want ErrNotFound", err)
		}
		err := s.InTx(ctx, func(tx account.Tx) error {
			cu, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
			if err != nil {
				return err
			}
			cu.UpdatedAt = time.Now()
			return tx.UpdateCustomer(ctx, &cu)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	round()
	after1 := c.unpreparedRuns()
	for range 50 {
		round()
	}
	if n := c.unpreparedRuns() - after1; n != 0 {
		t.Errorf("%d statements ran unprepared after the first round, want 0", n)
	}
	c.checkOncePerConn(t)
}

// TestStatementsAfterRollback rolls back transactions that ran cached and
// uncached statements; the statements still work, in and out of
// transactions.
func TestStatementsAfterRollback(t *testing.T) {
	ctx := t.Context()
	s, c := mustOpenCounting(t)
	cust, _ := sessionFixture(t, s)
	errAbort := errors.New("abort")

	rename := func(name string, commit bool) error {
		return s.InTx(ctx, func(tx account.Tx) error {
			cu, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
			if err != nil {
				return err
			}
			cu.FirstName = name
			if err := tx.UpdateCustomer(ctx, &cu); err != nil {
				return err
			}
			if !commit {
				return errAbort
			}
			return nil
		})
	}
	firstName := func() string {
		t.Helper()
		cu, err := s.CustomerByID(ctx, cust.TenantID, cust.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cu.FirstName
	}

	// The first rollback runs the statements unprepared, the second
	// prepared.
	for i := range 2 {
		if err := rename("rolled back", false); !errors.Is(err, errAbort) {
			t.Fatalf("rollback #%d: %v", i+1, err)
		}
		if got := firstName(); got != "" {
			t.Fatalf("after rollback #%d: first name %q, want it unchanged", i+1, got)
		}
	}
	before := c.unpreparedRuns()
	if err := rename("Alice", true); err != nil {
		t.Fatal(err)
	}
	if got := firstName(); got != "Alice" {
		t.Fatalf("after commit: first name %q, want Alice", got)
	}
	// The same statement outside a transaction, on the write connection.
	cu, err := s.CustomerByID(ctx, cust.TenantID, cust.ID)
	if err != nil {
		t.Fatal(err)
	}
	cu.LastName = "Liddell"
	if err := s.UpdateCustomer(ctx, &cu); err != nil {
		t.Fatal(err)
	}
	if n := c.unpreparedRuns() - before; n != 0 {
		t.Errorf("%d statements ran unprepared after two rollbacks, want 0", n)
	}
	c.checkOncePerConn(t)
}

// TestStatementsConcurrently reads from many goroutines while one writes,
// in and out of transactions, on a fresh store, so that first uses race to
// prepare the same statements. Run it with -race.
func TestStatementsConcurrently(t *testing.T) {
	ctx := t.Context()
	s, c := mustOpenCounting(t)
	cust, sess := sessionFixture(t, s)

	const readers, rounds = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	for range readers {
		wg.Go(func() {
			for range rounds {
				sc, cu, err := s.SessionWithCustomer(ctx, sess.Hash)
				if err == nil && (sc.ID != sess.ID || cu.ID != cust.ID) {
					err = fmt.Errorf("session %d of customer %d, want %d of %d", sc.ID, cu.ID, sess.ID, cust.ID)
				}
				if err == nil {
					_, err = s.CustomerByID(ctx, cust.TenantID, cust.ID)
				}
				if err == nil {
					_, err = s.ListCustomers(ctx, cust.TenantID, account.CustomerFilter{}, 0, 10)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range rounds {
			err := s.TouchSession(ctx, sess.ID, time.Now())
			if err == nil {
				err = s.InTx(ctx, func(tx account.Tx) error {
					cu, err := tx.CustomerByID(ctx, cust.TenantID, cust.ID)
					if err != nil {
						return err
					}
					cu.FirstName = fmt.Sprint("name ", i)
					return tx.UpdateCustomer(ctx, &cu)
				})
			}
			if err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cu, err := s.CustomerByID(ctx, cust.TenantID, cust.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint("name ", rounds-1); cu.FirstName != want {
		t.Errorf("first name %q, want %q", cu.FirstName, want)
	}
	c.checkOncePerConn(t)
}

// TestStatementErrors: SQL that does not compile is an error from the call,
// on the pools and in a transaction, and is not kept.
func TestStatementErrors(t *testing.T) {
	ctx := t.Context()
	s, _ := mustOpenCounting(t)
	const bad = `SELEC 1`
	var n int
	if err := s.readStmts.QueryRowContext(ctx, bad).Scan(&n); err == nil {
		t.Error("QueryRow of bad SQL on the read pool succeeded")
	}
	if _, err := s.readStmts.QueryContext(ctx, bad); err == nil {
		t.Error("Query of bad SQL on the read pool succeeded")
	}
	if _, err := s.writeStmts.ExecContext(ctx, bad); err == nil {
		t.Error("Exec of bad SQL on the write pool succeeded")
	}
	err := runTx(ctx, s.writeStmts, func(q queries) error {
		_, err := q.w.ExecContext(ctx, bad)
		return err
	})
	if err == nil {
		t.Error("Exec of bad SQL in a transaction succeeded")
	}
	for _, c := range []*stmtCache{s.readStmts, s.writeStmts} {
		if e, _ := c.lookup(bad); e != nil {
			t.Error("bad SQL was kept as a statement")
		}
	}
	// The store still works.
	if _, err := s.ListTenants(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStatementsClosed: Close closes every prepared statement, and a store
// call after it fails rather than using one.
func TestStatementsClosed(t *testing.T) {
	ctx := t.Context()
	s, c := mustOpenCounting(t)
	_, sess := sessionFixture(t, s)
	if _, _, err := s.SessionWithCustomer(ctx, sess.Hash); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	open := c.openStmts
	c.mu.Unlock()
	if open != 0 {
		t.Errorf("%d statements open after Close, want 0", open)
	}
	if _, _, err := s.SessionWithCustomer(ctx, sess.Hash); err == nil {
		t.Error("SessionWithCustomer after Close succeeded")
	}
}

// TestReadsEndTheirSnapshot: once a read returns, its statement is reset
// and holds no WAL snapshot, so a checkpoint copies every frame back. A
// statement left running keeps its snapshot and stops the checkpoint short
// of a later write, as the first part shows.
func TestReadsEndTheirSnapshot(t *testing.T) {
	ctx := t.Context()
	s, _ := mustOpenCounting(t)
	cust, sess := sessionFixture(t, s)
	// checkpoint writes, then reports whether a checkpoint copied every
	// frame of the WAL back into the database.
	checkpoint := func() bool {
		t.Helper()
		if err := s.TouchSession(ctx, sess.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		var busy, log, done int
		if err := s.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		return busy == 0 && done == log
	}
	const many = `SELECT value FROM json_each('[1, 2, 3]')`
	rows, err := s.readStmts.QueryContext(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	if checkpoint() {
		t.Fatal("checkpoint complete while a read is open; the test cannot see snapshots")
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if !checkpoint() {
		t.Fatal("checkpoint incomplete after the read was closed")
	}

	for range 2 { // preparing, then prepared
		if _, _, err := s.SessionWithCustomer(ctx, sess.Hash); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByHash(ctx, []byte("no such session")); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("SessionByHash(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.ListCustomers(ctx, cust.TenantID, account.CustomerFilter{}, 0, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ListTenants(ctx); err != nil {
			t.Fatal(err)
		}
		var v int
		if err := s.readStmts.QueryRowContext(ctx, many).Scan(&v); err != nil { // rows left unread
			t.Fatal(err)
		}
	}
	if !checkpoint() {
		t.Error("checkpoint incomplete: a read still holds a snapshot")
	}
}
