package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const tokenColumns = `id, tenant_id, customer_id, purpose, hash, code, attempts, payload, created_at, expires_at, used_at`

func scanToken(row scanner) (account.Token, error) {
	var t account.Token
	if err := row.Scan(&t.ID, &t.TenantID, &t.CustomerID, &t.Purpose, &t.Hash, &t.Code, &t.Attempts, &t.Payload,
		&t.CreatedAt, &t.ExpiresAt, &t.UsedAt); err != nil {
		return account.Token{}, err
	}
	if len(t.Payload) == 0 {
		t.Payload = nil // an empty payload reads back as nil, in both stores
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt = t.ExpiresAt.UTC()
	t.UsedAt = utcPtr(t.UsedAt)
	return t, nil
}

// payloadBytes is p as the column stores it: pgx sends a nil slice as
// NULL, which the NOT NULL column refuses, so nil becomes empty bytes.
func payloadBytes(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// CreateToken inserts t and sets t.ID.
func (q *queries) CreateToken(ctx context.Context, t *account.Token) error {
	t.CreatedAt = dbTime(t.CreatedAt)
	t.ExpiresAt = dbTime(t.ExpiresAt)
	t.UsedAt = dbTimePtr(t.UsedAt)
	err := insertID(ctx, q.db, &t.ID, `INSERT INTO tokens (tenant_id, customer_id, purpose, hash, code, attempts, payload, created_at, expires_at, used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT DO NOTHING RETURNING id`,
		t.TenantID, t.CustomerID, t.Purpose, t.Hash, t.Code, t.Attempts, payloadBytes(t.Payload),
		t.CreatedAt, t.ExpiresAt, t.UsedAt)
	return storeError("create token", err)
}

// ConsumeToken checks and uses the token in one UPDATE. Concurrent calls
// queue on the row lock, and each re-checks used_at once the one before it
// commits, so exactly one gets the token and the others ErrNotFound.
func (q *queries) ConsumeToken(ctx context.Context, tenantID int64, hash []byte, purpose account.Purpose, now time.Time, maxAttempts int) (account.Token, error) {
	t, err := scanToken(q.db.QueryRow(ctx, `UPDATE tokens SET used_at = $4
		WHERE tenant_id = $1 AND hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4 AND attempts < $5
		RETURNING `+tokenColumns,
		tenantID, hash, purpose, now, maxAttempts))
	return t, storeError("consume token", err)
}

// RecordCodeFailure counts an attempt (made before each guess is checked)
// against each of the customer's unused, unexpired codes of this purpose and
// returns the highest count among them, or 0 if there are none.
func (q *queries) RecordCodeFailure(ctx context.Context, tenantID, customerID int64, purpose account.Purpose, now time.Time) (int, error) {
	var attempts int
	err := q.db.QueryRow(ctx, `WITH u AS (
			UPDATE tokens SET attempts = attempts + 1
			WHERE tenant_id = $1 AND customer_id = $2 AND purpose = $3 AND code AND used_at IS NULL AND expires_at > $4
			RETURNING attempts
		)
		SELECT coalesce(max(attempts), 0) FROM u`,
		tenantID, customerID, purpose, now).Scan(&attempts)
	return attempts, storeError("record code failure", err)
}

// DeleteTokens deletes the customer's unused tokens of this purpose; used
// ones are left to Purge.
func (q *queries) DeleteTokens(ctx context.Context, tenantID, customerID int64, purpose account.Purpose) error {
	_, err := q.db.Exec(ctx, `DELETE FROM tokens WHERE tenant_id = $1 AND customer_id = $2 AND purpose = $3 AND used_at IS NULL`,
		tenantID, customerID, purpose)
	return storeError("delete tokens", err)
}

// DeleteClaims deletes the customer's unused tokens that carry a payload.
func (q *queries) DeleteClaims(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.db.Exec(ctx, `DELETE FROM tokens WHERE tenant_id = $1 AND customer_id = $2 AND octet_length(payload) > 0 AND used_at IS NULL`,
		tenantID, customerID)
	return storeError("delete claims", err)
}

// LiveToken returns the tenant's unused token with this hash and
// purpose, unexpired at now, without using it.
func (q *queries) LiveToken(ctx context.Context, tenantID int64, hash []byte, purpose account.Purpose, now time.Time) (account.Token, error) {
	t, err := scanToken(q.db.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE tenant_id = $1 AND hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4`,
		tenantID, hash, purpose, now))
	return t, storeError("live token", err)
}

// LiveTokens returns the customer's unused tokens of this purpose that are
// unexpired at now, newest first (by creation, then ID). It returns an
// empty slice, not nil, if there are none.
func (q *queries) LiveTokens(ctx context.Context, tenantID, customerID int64, purpose account.Purpose, now time.Time) ([]account.Token, error) {
	rows, err := q.db.Query(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE tenant_id = $1 AND customer_id = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4
		ORDER BY created_at DESC, id DESC`,
		tenantID, customerID, purpose, now)
	if err != nil {
		return nil, storeError("live tokens", err)
	}
	ts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Token, error) { return scanToken(row) })
	if err != nil {
		return nil, storeError("live tokens", err)
	}
	if ts == nil {
		ts = []account.Token{}
	}
	return ts, nil
}

// DeleteAllTokens deletes the customer's unused tokens of every purpose;
// used ones are left to Purge.
func (q *queries) DeleteAllTokens(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.db.Exec(ctx, `DELETE FROM tokens WHERE tenant_id = $1 AND customer_id = $2 AND used_at IS NULL`,
		tenantID, customerID)
	return storeError("delete all tokens", err)
}

// Purge deletes tokens and sessions that expired before expiredBefore and
// login failure records last touched before failuresBefore, in one
// statement.
func (q *queries) Purge(ctx context.Context, expiredBefore, failuresBefore time.Time) error {
	_, err := q.db.Exec(ctx, `WITH
			t AS (DELETE FROM tokens WHERE expires_at < $1),
			s AS (DELETE FROM sessions WHERE expires_at < $1)
		DELETE FROM login_failures WHERE last_at < $2`,
		expiredBefore, failuresBefore)
	if err != nil {
		return storeError("purge", err)
	}
	return q.purgeOIDC(ctx, expiredBefore)
}
