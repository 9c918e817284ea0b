package postgres

import (
	"context"

	"pforte/internal/account"
)

// SynchronousCommit is the synchronous_commit setting in force in q, a
// transaction of InTx or InTxWithoutSync.
func SynchronousCommit(ctx context.Context, q account.Tx) (string, error) {
	db := q.(*queries).db
	var v string
	err := db.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v)
	return v, err
}
