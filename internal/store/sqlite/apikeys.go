package sqlite

import (
	"context"
	"database/sql"
	"time"

	"pforte/internal/account"
)

const apiKeyColumns = `id, tenant_id, kind, name, prefix, hash, created_at, last_used_at, revoked_at`

func scanAPIKey(s scanner) (account.APIKey, error) {
	var (
		k                 account.APIKey
		created           int64
		lastUsed, revoked sql.NullInt64
	)
	if err := s.Scan(&k.ID, &k.TenantID, &k.Kind, &k.Name, &k.Prefix, &k.Hash, &created, &lastUsed, &revoked); err != nil {
		return account.APIKey{}, err
	}
	k.CreatedAt = fromMicros(created)
	k.LastUsedAt = fromNullMicros(lastUsed)
	k.RevokedAt = fromNullMicros(revoked)
	return k, nil
}

// CreateAPIKey inserts k and sets its ID.
func (q queries) CreateAPIKey(ctx context.Context, k *account.APIKey) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO api_keys
		(tenant_id, kind, name, prefix, hash, created_at, last_used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.TenantID, string(k.Kind), k.Name, k.Prefix, k.Hash,
		micros(k.CreatedAt), nullMicros(k.LastUsedAt), nullMicros(k.RevokedAt))
	if err != nil {
		return dbErr("create api key", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbErr("create api key", err)
	}
	k.ID = id
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = utc(k.CreatedAt), utcPtr(k.LastUsedAt), utcPtr(k.RevokedAt)
	return nil
}

// APIKeyByHash returns the key with this hash, revoked or not: the caller
// checks RevokedAt.
func (q queries) APIKeyByHash(ctx context.Context, hash []byte) (account.APIKey, error) {
	k, err := scanAPIKey(q.r.QueryRowContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if err != nil {
		return account.APIKey{}, dbErr("api key by hash", err)
	}
	return k, nil
}

// ListAPIKeys returns the tenant's keys, revoked ones included, by ID.
func (q queries) ListAPIKeys(ctx context.Context, tenantID int64) ([]account.APIKey, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, dbErr("list api keys", err)
	}
	defer rows.Close()
	keys := []account.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, dbErr("list api keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list api keys", err)
	}
	return keys, nil
}

// RevokeAPIKey marks the tenant's live key revoked at at. It returns
// account.ErrNotFound if the tenant has no such key or it is revoked already.
func (q queries) RevokeAPIKey(ctx context.Context, tenantID, id int64, at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`,
		micros(at), tenantID, id)
	if err != nil {
		return dbErr("revoke api key", err)
	}
	return mustAffect("revoke api key", res)
}

// TouchAPIKey records that the key was used at at.
func (q queries) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, micros(at), id)
	if err != nil {
		return dbErr("touch api key", err)
	}
	return mustAffect("touch api key", res)
}
