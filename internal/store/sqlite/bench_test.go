package sqlite

import (
	"context"
	"testing"
)

// These split the session check's query into what SQLite and the driver
// cost for it (docs/benchmarks.md):
//
//	go test -run '^$' -bench . -cpu 1 ./internal/store/sqlite/

// BenchmarkSessionWithCustomer is the session check's query: the session
// by its hash, joined with its customer, on the read pool.
func BenchmarkSessionWithCustomer(b *testing.B) {
	s := mustOpen(b)
	_, sess := sessionFixture(b, s)
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := s.SessionWithCustomer(ctx, sess.Hash); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionLookupOnly is the same query reading one column instead
// of thirty: the read transaction and the two index lookups without the
// columns' decoding.
func BenchmarkSessionLookupOnly(b *testing.B) {
	s := mustOpen(b)
	_, sess := sessionFixture(b, s)
	ctx := context.Background()
	for b.Loop() {
		var id int64
		if err := s.readStmts.QueryRowContext(ctx, `SELECT s.id FROM sessions s
			JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id WHERE s.hash = ?`, sess.Hash).Scan(&id); err != nil || id != sess.ID {
			b.Fatal(id, err)
		}
	}
}

// BenchmarkQueryFloor is the least a read through the store costs: a
// prepared statement on the same pool and statement cache that reads a
// constant, so SQLite opens no read transaction for it.
func BenchmarkQueryFloor(b *testing.B) {
	s := mustOpen(b)
	ctx := context.Background()
	for b.Loop() {
		var one int
		if err := s.readStmts.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
			b.Fatal(one, err)
		}
	}
}
