package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

// Setting is the run-time setting name in force in q, a transaction of
// one of the Store's ways to run one.
func Setting(ctx context.Context, q account.Tx, name string) (string, error) {
	db := q.(*queries).db
	var v string
	err := db.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
	return v, err
}

// CustomersInPlan is PostgreSQL's plan for CustomersByEmailKeys
// (column email_key) or CustomersByUUIDs (uuid) in q, one line of
// EXPLAIN's text a string.
func CustomersInPlan(ctx context.Context, q account.Tx, column string, tenantID int64, values []string) ([]string, error) {
	qs, ok := q.(*queries)
	if s, isStore := q.(*Store); isStore {
		qs, ok = &s.queries, true
	}
	if !ok {
		panic("CustomersInPlan: not a PostgreSQL store or transaction")
	}
	rows, err := qs.db.Query(ctx, `EXPLAIN `+customersIn(column, qs.forUpdate()), tenantID, values)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Analyze gathers the statistics of the customers table.
func Analyze(ctx context.Context, s *Store) error {
	_, err := s.pool.Exec(ctx, `ANALYZE customers`)
	return err
}
