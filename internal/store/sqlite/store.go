// Package sqlite is the account.Store on a SQLite database file, through the
// pure-Go driver modernc.org/sqlite.
//
// The database runs in WAL mode: readers never block the writer or each
// other, and SQLite allows one writer at a time. Store keeps two pools on the
// file. Every write, and every transaction, goes through a pool of one
// connection, so this process's writers queue in Go instead of polling
// SQLite's lock; busy_timeout covers waits for other processes. Reads go
// through a pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"pforte/internal/account"
)

var (
	_ account.Store = (*Store)(nil)
	_ account.Tx    = (*Store)(nil)
	_ account.Tx    = (*tx)(nil)
)

// dsnParams configure every connection of both pools:
//   - busy_timeout: wait up to 10 s for another process's lock, not fail.
//   - foreign_keys: SQLite leaves them off unless asked, per connection.
//   - journal_mode WAL: readers and the writer do not block each other.
//   - synchronous FULL: a commit is on disk before it returns, also in WAL
//     mode, so whatever was acknowledged survives a crash or power loss.
//   - secure_delete: deleted and overwritten content (a sent mail's sealed
//     body, a used token's row) is zeroed in the database file rather than
//     left in free space. Older page versions can remain in the WAL until a
//     checkpoint reuses it.
//   - _txlock=immediate: BEGIN IMMEDIATE takes the write lock up front, so a
//     transaction waits for it under busy_timeout instead of failing with
//     SQLITE_BUSY when it upgrades from reading to writing.
//
// _pragma values are applied by the driver to each new connection, so they
// hold for every connection in the pools.
const dsnParams = "_pragma=busy_timeout(10000)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)" +
	"&_pragma=secure_delete(1)" +
	"&_txlock=immediate"

// Store is the SQLite account.Store. Its account.Tx methods each run on
// their own, outside any transaction.
type Store struct {
	queries
	write *sql.DB // one connection: all writes and transactions
	read  *sql.DB // read-only connections

	writeStmts, readStmts *stmtCache // the queries' statements on each pool
}

// Open opens the database file at path, creating it if it does not exist.
// It does not migrate; call Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, "sqlite")
}

// open is Open with the database/sql driver registered as driverName, which
// tests replace with one that counts statements compiled.
func open(ctx context.Context, path, driverName string) (*Store, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		// Each pooled connection would get a database of its own.
		return nil, fmt.Errorf("sqlite: open %q: need the path of a database file", path)
	}
	// The file holds password and token hashes: readable by its owner only.
	// SQLite gives the -wal and -shm files the same permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	uri := fileURI(path)
	write, err := sql.Open(driverName, uri+"?"+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// SQLite has one writer at a time. With one connection, database/sql
	// queues this process's writers (honouring their contexts), where more
	// connections would only sleep in SQLite's busy handler, polling.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL before any reader opens.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	// query_only makes a write routed to the read pool by mistake fail
	// loudly instead of competing for the lock.
	read, err := sql.Open(driverName, uri+"?"+dsnParams+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// Reads in WAL mode run in parallel, but the driver is CPU-bound Go
	// code, so more connections than about two per core only add page
	// caches. Idle connections are kept so their pragmas are not rerun.
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	ws, rs := newStmtCache(write), newStmtCache(read)
	return &Store{queries: queries{r: rs, w: ws}, write: write, read: read, writeStmts: ws, readStmts: rs}, nil
}

// fileURI turns a path into a SQLite file: URI. In a bare path a '?' would
// start the driver's parameters; in a URI it, '#' and '%' can be escaped.
func fileURI(path string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	if strings.HasPrefix(p, "/") {
		return "file://" + p // empty authority, so "//x" stays a path
	}
	return "file:" + p
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the statements and both pools.
func (s *Store) Close() error {
	return errors.Join(s.readStmts.close(), s.writeStmts.close(), s.read.Close(), s.write.Close())
}

// InTx runs fn in one BEGIN IMMEDIATE transaction on the write connection.
// It rolls back if fn returns an error or panics, and returns fn's error
// unchanged. SQLite transactions are serialised, so fn is never retried.
//
// fn must use tx only: a write through the Store would wait for the write
// connection that the transaction holds.
func (s *Store) InTx(ctx context.Context, fn func(tx account.Tx) error) error {
	return runTx(ctx, s.writeStmts, func(q queries) error { return fn(&tx{q}) })
}

// InTxWithoutSync is InTx, committed with synchronous NORMAL: in WAL mode
// the commit is not synced to disk (a later sync or checkpoint takes it
// along), so a power cut may lose it but never leaves the file
// inconsistent. The setting holds on the write connection for this
// transaction only: it is held throughout, and set back to FULL before
// any other writer can have it.
func (s *Store) InTxWithoutSync(ctx context.Context, fn func(tx account.Tx) error) error {
	t, err := s.inTxWithoutSync(ctx, fn)
	if t != nil {
		t.afterCommit(ctx, err == nil)
	}
	return err
}

// InBulkTx is InTx: SQLite plans a statement when it is prepared, by the
// indexes alone, so a plan does not depend on how big a table was then
// (the store runs no ANALYZE).
func (s *Store) InBulkTx(ctx context.Context, fn func(tx account.Tx) error) error {
	return s.InTx(ctx, fn)
}

// inTxWithoutSync runs the transaction of InTxWithoutSync on the write
// connection, which it gives back, set to FULL again, also after a panic.
func (s *Store) inTxWithoutSync(ctx context.Context, fn func(tx account.Tx) error) (*txStmts, error) {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			// A connection that may still commit without syncing is not
			// handed to the next writer: the pool opens a new one.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	return inTx(ctx, s.writeStmts, conn.BeginTx, func(q queries) error { return fn(&tx{q}) })
}

// runTx runs fn in a transaction on the pool of stmts, committing if it
// returns nil and rolling back otherwise, also when it panics. fn's error is
// returned as is.
func runTx(ctx context.Context, stmts *stmtCache, fn func(q queries) error) error {
	t, err := inTx(ctx, stmts, stmts.db.BeginTx, fn)
	if t != nil {
		t.afterCommit(ctx, err == nil)
	}
	return err
}

// inTx runs fn in a transaction that begin starts, as runTx describes. The
// caller runs the returned transaction's afterCommit once the connection
// is released.
func inTx(ctx context.Context, stmts *stmtCache, begin func(context.Context, *sql.TxOptions) (*sql.Tx, error), fn func(q queries) error) (*txStmts, error) {
	sqlTx, err := begin(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	t := &txStmts{tx: sqlTx, cache: stmts}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback() // the panic that got us here matters more
		}
	}()
	err = fn(queries{r: t, w: t})
	done = true
	if err != nil {
		_ = sqlTx.Rollback() // fn's error matters more
	} else if err = sqlTx.Commit(); err != nil {
		err = fmt.Errorf("sqlite: commit: %w", err)
	}
	return t, err
}

// afterCommit does what needs the write connection after a transaction:
// truncating the WAL if it erased anything and committed, and preparing
// the statements it missed.
func (t *txStmts) afterCommit(ctx context.Context, committed bool) {
	if committed && t.scrub {
		t.cache.truncateWAL(ctx)
	}
	t.warm(ctx)
}

// scrubAfterCommit has the WAL checkpointed and truncated once the
// current write commits: secure_delete zeroes erased content in the
// database file, but the WAL keeps the pages as they were until it is
// reused, and an erasure should not linger that long.
func (q queries) scrubAfterCommit(ctx context.Context) {
	switch w := q.w.(type) {
	case *txStmts:
		w.scrub = true
	case *stmtCache:
		w.truncateWAL(ctx)
	}
}

// truncateWAL copies the WAL into the database and empties it. It waits
// (busy_timeout) for readers of older snapshots; should it still not
// finish, the next checkpoint does, so the error is dropped: the write
// it follows has committed.
func (c *stmtCache) truncateWAL(ctx context.Context) {
	_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
}

// tx is the account.Tx that InTx hands to its function.
type tx struct{ queries }

// dbtx is what queries need of a pool (stmtCache) and of a transaction
// (txStmts) alike.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries holds every statement of the store, written once. A method reads
// through r and writes through w: on the Store they are the two pools, in a
// transaction both are the transaction.
type queries struct {
	r dbtx
	w dbtx
}

// atomically runs fn so that its writes commit together: in a transaction
// of its own on the Store, and as part of the current one inside InTx.
func (q queries) atomically(ctx context.Context, fn func(q queries) error) error {
	if stmts, ok := q.w.(*stmtCache); ok {
		return runTx(ctx, stmts, fn)
	}
	return fn(q)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// dbErr is the one place that turns driver errors into domain errors: a
// missing row into account.ErrNotFound, a unique or primary key violation
// into account.ErrDuplicate (keeping the driver error, which names the
// constraint, for the log). Constraint violations are told apart by
// SQLite's extended result code, never by message text.
func dbErr(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, account.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w: %w", op, account.ErrDuplicate, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// mustAffect returns account.ErrNotFound if res changed no row.
func mustAffect(op string, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(op, err)
	}
	if n == 0 {
		return dbErr(op, sql.ErrNoRows)
	}
	return nil
}

// Times are stored as INTEGER unix microseconds UTC and read back in UTC.

// utc is t as stored: in UTC, truncated to the microsecond.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// micros is t in unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the time of v unix microseconds, in UTC.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros is t in unix microseconds, or NULL if t is nil.
func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// fromNullMicros is the time of v, or nil if v is NULL.
func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// utcPtr is utc of *t in a new pointer, leaving the caller's value alone.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}
