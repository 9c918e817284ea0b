package bench

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"pforte/internal/store/teststore"
)

// TestAnalyzeScratchSchema checks that analyze gathers the statistics of
// every table in a PostgreSQL scratch store (pg_stats has columns of a
// table with rows once it is analyzed), and does nothing to a SQLite one.
func TestAnalyzeScratchSchema(t *testing.T) {
	dsn := teststore.PostgresServer(t)
	ctx := t.Context()
	s := &server{}
	t.Cleanup(s.stop)
	var err error
	if s.db, err = s.scratchStore(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	if err := execPostgres(ctx, s.db, `CREATE TABLE a (x int); CREATE TABLE b (y text);
		INSERT INTO a SELECT generate_series(1, 100); INSERT INTO b VALUES ('z')`); err != nil {
		t.Fatal(err)
	}
	if err := s.analyze(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables, analyzed int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()),
		(SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = current_schema())`).Scan(&tables, &analyzed); err != nil {
		t.Fatal(err)
	}
	if tables != 2 || analyzed != 2 {
		t.Errorf("%d of %d tables analyzed, want 2 of 2", analyzed, tables)
	}

	sqlite := &server{}
	t.Cleanup(sqlite.stop)
	if sqlite.db, err = sqlite.scratchStore(ctx, "sqlite"); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.analyze(ctx); err != nil {
		t.Errorf("analyze on SQLite: %v, want nothing done", err)
	}
}
