package teststore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
	"pforte/internal/store/postgres"
	"pforte/internal/store/sqlite"
)

// DumpFiles returns the bytes of the SQLite database at path and of its
// WAL and shared-memory files, for tests that look for what must never be
// stored.
func DumpFiles(t testing.TB, path string) []byte {
	t.Helper()
	var all []byte
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// DumpSchema returns every row of every table of the DSN's schema as
// PostgreSQL's text form (bytea as hex), one row a line.
func DumpSchema(t testing.TB, dsn string) []byte {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("schema has tables %v", tables)
	}
	var all bytes.Buffer
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			all.WriteString(s)
			all.WriteByte('\n')
		}
	}
	return all.Bytes()
}

// Dumper returns every byte the store it belongs to keeps.
type Dumper func(t testing.TB) []byte

// EachDumped is Each for tests that read the store's bytes back: fn gets a
// fresh, migrated store and a Dumper of its files (SQLite: the database,
// its WAL and shared memory) or rows (PostgreSQL: every table).
func EachDumped(t *testing.T, fn func(t *testing.T, st account.Store, dump Dumper)) {
	t.Run("sqlite", func(t *testing.T) {
		path := SQLitePath(t)
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		fn(t, migrated(t, st), func(t testing.TB) []byte { return DumpFiles(t, path) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := PostgresDSN(t)
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		fn(t, migrated(t, st), func(t testing.TB) []byte { return DumpSchema(t, dsn) })
	})
}
