package teststore

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
	"pforte/internal/store/postgres"
	"pforte/internal/store/sqlite"
)

// Tamperer runs one SQL statement on the store's database behind its
// back, as someone with access to the database could: for tests that
// must notice. Placeholders are the database's own (? or $1).
type Tamperer func(t testing.TB, query string, args ...any)

// EachTampered is Each for tests that change the database directly: fn
// gets a fresh, migrated store and a Tamperer of its database.
func EachTampered(t *testing.T, fn func(t *testing.T, st account.Store, tamper Tamperer)) {
	t.Run("sqlite", func(t *testing.T) {
		path := SQLitePath(t)
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		fn(t, migrated(t, st), func(t testing.TB, query string, args ...any) {
			t.Helper()
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := PostgresDSN(t)
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		fn(t, migrated(t, st), func(t testing.TB, query string, args ...any) {
			t.Helper()
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		})
	})
}
