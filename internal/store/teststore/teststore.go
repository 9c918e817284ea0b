// Package teststore opens fresh, migrated stores for tests: a SQLite file
// in a temporary directory, and a PostgreSQL schema of the test's own, so
// that parallel runs never collide.
package teststore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
	"pforte/internal/store/postgres"
	"pforte/internal/store/sqlite"
)

// PostgresDSNEnv names the variable that points tests at a PostgreSQL
// database in which they may create schemas.
const PostgresDSNEnv = "PFORTE_TEST_POSTGRES_DSN"

// SQLitePath returns the path of a new database file in a temporary directory.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "pforte.db")
}

// SQLite opens a migrated SQLite store in a new file.
func SQLite(t testing.TB) account.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), SQLitePath(t))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	return migrated(t, st)
}

// PostgresDSN creates an empty schema that is dropped when the test ends,
// and returns a DSN whose search_path is that schema. Without
// PFORTE_TEST_POSTGRES_DSN the test is skipped.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := requirePostgres(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "pforte_test_" + hex.EncodeToString(b)
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

// PostgresServer returns the DSN of the test database, for code that
// makes and drops a schema of its own there, or skips the test.
func PostgresServer(t testing.TB) string {
	t.Helper()
	return requirePostgres(t)
}

// requirePostgres returns the test DSN or skips the test, saying why.
func requirePostgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresDSNEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: set %s, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresDSNEnv)
	}
	return dsn
}

// withSearchPath adds search_path to a URL or keyword/value DSN; pgx sends
// it to the server as a run-time parameter.
func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", PostgresDSNEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// Postgres opens a migrated PostgreSQL store in a schema of its own.
func Postgres(t testing.TB) account.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), PostgresDSN(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	return migrated(t, st)
}

func migrated(t testing.TB, st account.Store) account.Store {
	t.Helper()
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

// Opener opens a fresh store.
type Opener func(t testing.TB) account.Store

// Each runs fn once per store kind, as subtests "sqlite" and "postgres".
// The PostgreSQL run skips when PFORTE_TEST_POSTGRES_DSN is unset.
func Each(t *testing.T, fn func(t *testing.T, open Opener)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite) })
	t.Run("postgres", func(t *testing.T) {
		requirePostgres(t)
		fn(t, Postgres)
	})
}
