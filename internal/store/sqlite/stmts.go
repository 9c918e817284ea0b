package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxStmts bounds the statements a pool keeps. The store's SQL texts are
// constants, some eighty; the only text built at run time is CountMail's,
// with one placeholder per kind. A text past the bound runs unprepared, as
// every statement did before the cache.
const maxStmts = 256

// stmtCache runs a pool's statements prepared. modernc.org/sqlite compiles
// the SQL of a plain Query or Exec on every call, but keeps the compiled
// statement of a driver Stmt and resets it for the next run. database/sql
// prepares a *sql.Stmt on each connection of the pool the first time it runs
// there and keeps it per connection, so one *sql.Stmt per SQL text serves
// the whole pool.
type stmtCache struct {
	db *sql.DB

	mu     sync.RWMutex
	stmts  map[string]*cachedStmt
	closed bool
}

// cachedStmt is a statement being prepared until ready is closed. Then stmt
// is the statement, or the entry has left the cache and stmt is nil.
type cachedStmt struct {
	ready chan struct{}
	stmt  *sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*cachedStmt{}}
}

// lookup returns the entry of query if there is one, and whether there is
// room for another.
func (c *stmtCache) lookup(query string) (e *cachedStmt, room bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[query], !c.closed && len(c.stmts) < maxStmts
}

// stmt returns the statement of query, preparing it on first use, or nil if
// it cannot be prepared, the cache is full or ctx ends first: the caller
// then runs query unprepared, which reports any error of the SQL or of ctx.
// Callers that find query being prepared wait for it rather than prepare it
// again on another connection.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	e, room := c.lookup(query)
	if e == nil {
		if !room {
			return nil
		}
		var mine bool
		if e, mine = c.add(query); e == nil {
			return nil
		}
		if mine {
			c.prepare(ctx, query, e)
		}
	}
	select {
	case <-e.ready:
		return e.stmt
	case <-ctx.Done():
		return nil
	}
}

// add returns the entry of query, adding one that the caller is to prepare
// (mine) if there is none; nil if there is no room.
func (c *stmtCache) add(query string) (e *cachedStmt, mine bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.stmts[query]; e != nil {
		return e, false
	}
	if c.closed || len(c.stmts) >= maxStmts {
		return nil, false
	}
	e = &cachedStmt{ready: make(chan struct{})}
	c.stmts[query] = e
	return e, true
}

// prepare prepares e's statement, or removes e if that fails, and then
// releases those waiting for it.
func (c *stmtCache) prepare(ctx context.Context, query string, e *cachedStmt) {
	// Not under mu: on the write pool, preparing waits for the connection,
	// which a transaction may hold while it looks up its statements.
	s, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	switch {
	case err != nil:
		delete(c.stmts, query)
	case c.closed:
		_ = s.Close()
	default:
		e.stmt = s
	}
	c.mu.Unlock()
	close(e.ready)
}

// close closes the statements; later ones run unprepared.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, e := range c.stmts {
		if e.stmt != nil {
			errs = append(errs, e.stmt.Close())
		}
	}
	c.stmts, c.closed = map[string]*cachedStmt{}, true
	return errors.Join(errs...)
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := c.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := c.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := c.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// txStmts runs a transaction's statements with the write pool's prepared
// statements. Tx.StmtContext looks among the driver statements that the
// *sql.Stmt keeps per connection for the transaction's connection and uses
// that one; only if there is none does it prepare one there, and it adds
// that to the *sql.Stmt's list too. The write pool has one connection, so a
// statement the cache holds is compiled there once, in or out of
// transactions.
//
// A statement the cache lacks runs unprepared: preparing it on the pool
// would wait for the connection this transaction holds. It is prepared
// after the transaction instead, see warm.
//
// The statements of a transaction share their connection's driver
// statement, so a statement's rows must be closed before the same SQL runs
// again in the transaction. Every query of the store reads its rows to the
// end, or one row, and closes them before it returns.
type txStmts struct {
	tx    *sql.Tx
	cache *stmtCache

	mu     sync.Mutex
	missed []string
	scrub  bool // checkpoint and truncate the WAL after commit
}

// stmt is the transaction's statement of query, or nil if the cache has
// none yet.
func (t *txStmts) stmt(ctx context.Context, query string) *sql.Stmt {
	e, room := t.cache.lookup(query)
	if e != nil {
		select {
		case <-e.ready:
			if e.stmt != nil {
				return t.tx.StmtContext(ctx, e.stmt)
			}
		default: // another caller is preparing it, waiting for this connection
		}
		return nil
	}
	if !room {
		return nil
	}
	t.mu.Lock()
	t.missed = append(t.missed, query)
	t.mu.Unlock()
	return nil
}

// warm prepares the statements the transaction ran unprepared, once it has
// ended and released the connection. A failure only leaves a statement
// unprepared until it runs again outside a transaction.
func (t *txStmts) warm(ctx context.Context) {
	t.mu.Lock()
	missed := t.missed
	t.missed = nil
	t.mu.Unlock()
	for _, q := range missed {
		if ctx.Err() != nil {
			return
		}
		t.cache.stmt(ctx, q)
	}
}

func (t *txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}
