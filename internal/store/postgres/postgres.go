// Package postgres is the PostgreSQL implementation of account.Store, for
// installations that run more than one replica or already operate
// PostgreSQL. It speaks in domain terms and holds no business rules.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"pforte/internal/account"
)

var (
	_ account.Store = (*Store)(nil)
	_ account.Tx    = (*queries)(nil)
)

// Store is an account.Store on a pgxpool connection pool. Its reads and
// writes run each on its own; InTx groups them into one transaction.
type Store struct {
	queries
	pool *pgxpool.Pool
}

// Open connects a pool to the database at dsn and checks that it answers.
// It does not migrate; call Migrate.
//
// The pool keeps pgxpool's defaults (at most max(4, NumCPU) connections,
// recycled after an hour, closed after 30 idle minutes): every request runs
// a few short statements or one short transaction, and how many connections
// each replica may hold depends on max_connections and the number of
// replicas, which only the operator knows. The DSN's pool_* parameters
// (pool_max_conns=20, ...) override the defaults. Other unknown parameters,
// such as search_path, are sent to the server as run-time settings.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgconn redacts the password, best effort
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return &Store{queries: queries{db: pool}, pool: pool}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// querier is what the store's SQL needs; both *pgxpool.Pool and pgx.Tx have
// it, so each query is written once for use on its own and in a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queries implements account.Tx: on the pool for Store, on a transaction
// inside InTx.
type queries struct {
	db querier
	tx pgx.Tx // nil outside a transaction
}

// Retrying a transaction: PostgreSQL may abort one to break a deadlock
// (40P01) or, under stricter isolation than ours, a serialisation conflict
// (40001). Either succeeds when run again.
const (
	txAttempts = 4
	txBackoff  = 10 * time.Millisecond
)

// InTx runs fn in one READ COMMITTED transaction and commits if fn returns
// nil. It rolls back if fn fails or panics and returns fn's error as it is.
// Customer reads inside fn lock their row (SELECT ... FOR UPDATE) until the
// transaction ends, so concurrent flows on one customer run one after the
// other. On a deadlock or serialisation failure fn runs again, up to
// txAttempts times in all, with a short randomised backoff.
func (s *Store) InTx(ctx context.Context, fn func(tx account.Tx) error) error {
	return s.retryTx(ctx, readCommitted, fn)
}

// InTxWithoutSync is InTx with synchronous_commit off for the transaction:
// the commit returns once it is visible, before its WAL is flushed (within
// wal_writer_delay, 200 ms by default). A crash of the server machine may
// lose it; it never leaves the database inconsistent.
func (s *Store) InTxWithoutSync(ctx context.Context, fn func(tx account.Tx) error) error {
	return s.retryTx(ctx, readCommittedWithoutSync, fn)
}

// InBulkTx is InTx with plan_cache_mode force_custom_plan for the
// transaction: each statement is planned for its parameters, also one
// that the connection has prepared before. After five runs PostgreSQL may
// reuse a generic plan made for the table as it was then; made for a
// nearly empty customers table, the lookup by email address of every
// imported row picked the (tenant_id, id) index and read the whole
// tenant, and an import of 100,000 rows into a fresh database without
// autovacuum ran at 50 rows per second instead of 3,000.
func (s *Store) InBulkTx(ctx context.Context, fn func(tx account.Tx) error) error {
	return s.retryTx(ctx, readCommittedCustomPlans, fn)
}

// The transactions' options. Set in the BEGIN query itself, the setting
// costs no round trip of its own: pgx sends a query without arguments in
// the simple protocol, which takes several statements.
var (
	readCommitted            = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	readCommittedWithoutSync = pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit TO OFF"}
	readCommittedCustomPlans = pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL plan_cache_mode TO force_custom_plan"}
)

func (s *Store) retryTx(ctx context.Context, opts pgx.TxOptions, fn func(tx account.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.runTx(ctx, opts, fn)
		if err == nil || attempt == txAttempts || !retryable(err) {
			return err
		}
		wait := txBackoff<<(attempt-1) + rand.N(txBackoff)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (s *Store) runTx(ctx context.Context, opts pgx.TxOptions, fn func(tx account.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// The error that made us roll back is the one worth
			// reporting; if the rollback fails too, the server ends
			// the transaction when pgx closes the broken connection.
			_ = tx.Rollback(ctx)
		}
	}()
	if err := fn(&queries{db: tx, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	committed = true
	return nil
}

// retryable reports whether err is a deadlock or serialisation failure,
// after which the whole transaction may simply run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// guard runs an update that may break a unique constraint. PostgreSQL
// aborts the whole transaction on any error, so inside one the update runs
// under a savepoint: a caller that gets ErrDuplicate can go on using the
// transaction, as it can with SQLite. Inserts need no savepoint, see
// insertID and insertOne: a savepoint costs two round trips.
func (q *queries) guard(ctx context.Context, write func(db querier) error) error {
	if q.tx == nil {
		return write(q.db)
	}
	sp, err := q.tx.Begin(ctx) // SAVEPOINT
	if err != nil {
		return err
	}
	if err := write(sp); err != nil {
		// If rolling back to the savepoint fails, the transaction stays
		// aborted and its commit fails: nothing is lost silently.
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx) // RELEASE SAVEPOINT
}

// insertID runs an INSERT … ON CONFLICT DO NOTHING RETURNING id into id.
// A row that would break a unique constraint is not inserted, and that is
// ErrDuplicate with the transaction still usable, as guard's savepoint
// would leave it. Any other error aborts the transaction, as it does on
// every statement: the Store promises a usable transaction only after
// ErrDuplicate.
func insertID(ctx context.Context, db querier, id *int64, sql string, args ...any) error {
	err := db.QueryRow(ctx, sql, args...).Scan(id)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.ErrDuplicate
	}
	return err
}

// insertOne is insertID for an INSERT … ON CONFLICT DO NOTHING of one row
// that returns nothing.
func insertOne(ctx context.Context, db querier, sql string, args ...any) error {
	tag, err := db.Exec(ctx, sql, args...)
	if err == nil && tag.RowsAffected() == 0 {
		return account.ErrDuplicate
	}
	return err
}

// forUpdate is appended to customer reads inside a transaction: the row
// stays locked until commit, so two flows on one customer (a password reset
// and a login, two confirmations) cannot both act on the same old state.
func (q *queries) forUpdate() string {
	if q.tx != nil {
		return " FOR UPDATE"
	}
	return ""
}

// storeError turns a driver error into the domain's: no row is
// account.ErrNotFound, a unique violation (SQLSTATE 23505) is
// account.ErrDuplicate, decided by code and never by message text. op names
// the operation for the log. The driver error stays in the chain, so the
// constraint's name reaches the log too; an insert's ErrDuplicate (see
// insertID) has no driver error and names the operation only.
func storeError(op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: %w", op, account.ErrNotFound)
	case errors.Is(err, account.ErrDuplicate):
		return fmt.Errorf("postgres: %s: %w", op, err)
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return fmt.Errorf("postgres: %s: %w: %w", op, account.ErrDuplicate, err)
	default:
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
}

// exactlyOne is the result of a write aimed at one row: ErrNotFound if the
// row does not exist (for this tenant).
func exactlyOne(op string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return storeError(op, err)
	}
	if tag.RowsAffected() == 0 {
		return storeError(op, pgx.ErrNoRows)
	}
	return nil
}

// scanner is a row to scan: pgx.Row or pgx.CollectableRow.
type scanner interface {
	Scan(dest ...any) error
}

// dbTime is how a time is stored: PostgreSQL keeps microseconds, and reads
// return UTC. Create and update methods write it back into the caller's
// struct, so what they hold equals what a later read returns.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := dbTime(*t)
	return &u
}

// utcPtr converts a nullable time read from the database to UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
