package postgres

import (
	"context"

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
