package sqlite

import (
	"context"
	"database/sql"
	"time"

	"pforte/internal/account"
)

const tokenColumns = `id, tenant_id, customer_id, purpose, hash, code, attempts, payload, created_at, expires_at, used_at`

func scanToken(s scanner) (account.Token, error) {
	var (
		t                account.Token
		code             int64
		created, expires int64
		used             sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.TenantID, &t.CustomerID, &t.Purpose, &t.Hash, &code, &t.Attempts, &t.Payload,
		&created, &expires, &used); err != nil {
		return account.Token{}, err
	}
	t.Code = code != 0
	if len(t.Payload) == 0 {
		t.Payload = nil // an empty payload reads back as nil, in both stores
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt = fromMicros(expires)
	t.UsedAt = fromNullMicros(used)
	return t, nil
}

// boolInt is b as the INTEGER 0 or 1 the schema stores.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// payloadBytes is p as the column stores it: never NULL, so a nil payload
// is the empty blob.
func payloadBytes(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// CreateToken inserts t and sets its ID.
func (q queries) CreateToken(ctx context.Context, t *account.Token) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO tokens
		(tenant_id, customer_id, purpose, hash, code, attempts, payload, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.TenantID, t.CustomerID, string(t.Purpose), t.Hash, boolInt(t.Code), t.Attempts, payloadBytes(t.Payload),
		micros(t.CreatedAt), micros(t.ExpiresAt), nullMicros(t.UsedAt))
	if err != nil {
		return dbErr("create token", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbErr("create token", err)
	}
	t.ID = id
	t.CreatedAt, t.ExpiresAt, t.UsedAt = utc(t.CreatedAt), utc(t.ExpiresAt), utcPtr(t.UsedAt)
	return nil
}

// ConsumeToken marks the token used in one UPDATE whose WHERE clause holds
// every condition, so of concurrent calls exactly one changes the row; the
// others, and calls for a token that is not usable, get account.ErrNotFound.
func (q queries) ConsumeToken(ctx context.Context, tenantID int64, hash []byte, purpose account.Purpose, now time.Time, maxAttempts int) (account.Token, error) {
	t, err := scanToken(q.w.QueryRowContext(ctx, `UPDATE tokens SET used_at = ?
		WHERE tenant_id = ? AND hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?
		RETURNING `+tokenColumns,
		micros(now), tenantID, hash, string(purpose), micros(now), maxAttempts))
	if err != nil {
		return account.Token{}, dbErr("consume token", err)
	}
	return t, nil
}

// RecordCodeFailure counts an attempt (made before each guess is checked)
// against each of the customer's unused, unexpired codes of this purpose and
// returns the highest attempt count among them, or 0 if there are none.
func (q queries) RecordCodeFailure(ctx context.Context, tenantID, customerID int64, purpose account.Purpose, now time.Time) (int, error) {
	rows, err := q.w.QueryContext(ctx, `UPDATE tokens SET attempts = attempts + 1
		WHERE tenant_id = ? AND customer_id = ? AND purpose = ? AND code = 1 AND used_at IS NULL AND expires_at > ?
		RETURNING attempts`,
		tenantID, customerID, string(purpose), micros(now))
	if err != nil {
		return 0, dbErr("record code failure", err)
	}
	defer rows.Close()
	highest := 0
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			return 0, dbErr("record code failure", err)
		}
		highest = max(highest, n)
	}
	if err := rows.Err(); err != nil {
		return 0, dbErr("record code failure", err)
	}
	return highest, nil
}

// DeleteTokens deletes the customer's unused tokens of this purpose. Used
// ones stay until Purge.
func (q queries) DeleteTokens(ctx context.Context, tenantID, customerID int64, purpose account.Purpose) error {
	_, err := q.w.ExecContext(ctx,
		`DELETE FROM tokens WHERE tenant_id = ? AND customer_id = ? AND purpose = ? AND used_at IS NULL`,
		tenantID, customerID, string(purpose))
	if err != nil {
		return dbErr("delete tokens", err)
	}
	return nil
}

// DeleteClaims deletes the customer's unused tokens that carry a payload.
func (q queries) DeleteClaims(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.w.ExecContext(ctx,
		`DELETE FROM tokens WHERE tenant_id = ? AND customer_id = ? AND length(payload) > 0 AND used_at IS NULL`,
		tenantID, customerID)
	if err != nil {
		return dbErr("delete claims", err)
	}
	return nil
}

// DeleteAllTokens deletes the customer's unused tokens of every purpose.
// Used ones stay until Purge.
func (q queries) DeleteAllTokens(ctx context.Context, tenantID, customerID int64) error {
	_, err := q.w.ExecContext(ctx,
		`DELETE FROM tokens WHERE tenant_id = ? AND customer_id = ? AND used_at IS NULL`,
		tenantID, customerID)
	if err != nil {
		return dbErr("delete all tokens", err)
	}
	return nil
}

// LiveTokens returns the customer's unused tokens of this purpose that are
// unexpired at now, newest first (by creation, then ID). It returns an
// empty slice, not nil, if there are none.
// LiveToken returns the tenant's unused token with this hash and
// purpose, unexpired at now, without using it.
func (q queries) LiveToken(ctx context.Context, tenantID int64, hash []byte, purpose account.Purpose, now time.Time) (account.Token, error) {
	t, err := scanToken(q.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE tenant_id = ? AND hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?`,
		tenantID, hash, string(purpose), micros(now)))
	if err != nil {
		return account.Token{}, dbErr("live token", err)
	}
	return t, nil
}

func (q queries) LiveTokens(ctx context.Context, tenantID, customerID int64, purpose account.Purpose, now time.Time) ([]account.Token, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE tenant_id = ? AND customer_id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC`,
		tenantID, customerID, string(purpose), micros(now))
	if err != nil {
		return nil, dbErr("live tokens", err)
	}
	defer rows.Close()
	ts := []account.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr("live tokens", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("live tokens", err)
	}
	return ts, nil
}
