package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

// ServerState stores candidate under key unless a value exists, then reads
// the one that does. The insert waits for a concurrent one and then does
// nothing, and the select that follows sees the winner's row, so
// concurrent first starts agree. A nil candidate only reads.
func (q *queries) ServerState(ctx context.Context, key string, candidate []byte) ([]byte, error) {
	if candidate != nil {
		if _, err := q.db.Exec(ctx, `INSERT INTO server_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
			key, candidate); err != nil {
			return nil, storeError("server state", err)
		}
	}
	var value []byte
	if err := q.db.QueryRow(ctx, `SELECT value FROM server_state WHERE key = $1`, key).Scan(&value); err != nil {
		return nil, storeError("server state", err)
	}
	return value, nil
}

// DeleteServerState removes the value under key, if any.
func (q *queries) DeleteServerState(ctx context.Context, key string) error {
	_, err := q.db.Exec(ctx, `DELETE FROM server_state WHERE key = $1`, key)
	return storeError("delete server state", err)
}

// tenantColumns reads a tenant with its settings in one statement, so the
// two are consistent without a transaction.
const tenantColumns = `t.id, t.slug, t.created_at,
	(SELECT coalesce(jsonb_object_agg(s.key, s.value), '{}') FROM tenant_settings s WHERE s.tenant_id = t.id)`

func scanTenant(row scanner) (account.Tenant, error) {
	var t account.Tenant
	if err := row.Scan(&t.ID, &t.Slug, &t.CreatedAt, &t.Settings); err != nil {
		return account.Tenant{}, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if t.Settings == nil {
		t.Settings = map[string]string{}
	}
	return t, nil
}

// CreateTenant inserts t with its settings and sets t.ID. A zero CreatedAt
// becomes now.
func (q *queries) CreateTenant(ctx context.Context, t *account.Tenant) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	t.CreatedAt = dbTime(t.CreatedAt)
	if t.Settings == nil {
		t.Settings = map[string]string{}
	}
	keys := make([]string, 0, len(t.Settings))
	values := make([]string, 0, len(t.Settings))
	for k, v := range t.Settings {
		keys = append(keys, k)
		values = append(values, v)
	}
	// One statement, so the tenant never exists without its settings.
	err := insertID(ctx, q.db, &t.ID, `WITH t AS (
			INSERT INTO tenants (slug, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id
		), s AS (
			INSERT INTO tenant_settings (tenant_id, key, value)
			SELECT t.id, x.key, x.value FROM t, unnest($3::text[], $4::text[]) AS x (key, value)
		)
		SELECT id FROM t`,
		t.Slug, t.CreatedAt, keys, values)
	return storeError("create tenant", err)
}

// TenantByID returns the tenant with its settings.
func (q *queries) TenantByID(ctx context.Context, id int64) (account.Tenant, error) {
	t, err := scanTenant(q.db.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants t WHERE t.id = $1`, id))
	return t, storeError("tenant by id", err)
}

// TenantBySlug returns the tenant with its settings.
func (q *queries) TenantBySlug(ctx context.Context, slug string) (account.Tenant, error) {
	t, err := scanTenant(q.db.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants t WHERE t.slug = $1`, slug))
	return t, storeError("tenant by slug", err)
}

// ListTenants returns every tenant by ID.
func (q *queries) ListTenants(ctx context.Context) ([]account.Tenant, error) {
	rows, err := q.db.Query(ctx, `SELECT `+tenantColumns+` FROM tenants t ORDER BY t.id`)
	if err != nil {
		return nil, storeError("list tenants", err)
	}
	ts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Tenant, error) { return scanTenant(row) })
	return ts, storeError("list tenants", err)
}

// SetTenantSetting stores or replaces one setting.
func (q *queries) SetTenantSetting(ctx context.Context, tenantID int64, key, value string) error {
	_, err := q.db.Exec(ctx, `INSERT INTO tenant_settings (tenant_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value`,
		tenantID, key, value)
	return storeError("set tenant setting", err)
}

const apiKeyColumns = `id, tenant_id, kind, name, prefix, hash, created_at, last_used_at, revoked_at`

func scanAPIKey(row scanner) (account.APIKey, error) {
	var k account.APIKey
	if err := row.Scan(&k.ID, &k.TenantID, &k.Kind, &k.Name, &k.Prefix, &k.Hash, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt); err != nil {
		return account.APIKey{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.LastUsedAt = utcPtr(k.LastUsedAt)
	k.RevokedAt = utcPtr(k.RevokedAt)
	return k, nil
}

// CreateAPIKey inserts k and sets k.ID.
func (q *queries) CreateAPIKey(ctx context.Context, k *account.APIKey) error {
	k.CreatedAt = dbTime(k.CreatedAt)
	k.LastUsedAt = dbTimePtr(k.LastUsedAt)
	k.RevokedAt = dbTimePtr(k.RevokedAt)
	err := insertID(ctx, q.db, &k.ID, `INSERT INTO api_keys (tenant_id, kind, name, prefix, hash, created_at, last_used_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT DO NOTHING RETURNING id`,
		k.TenantID, k.Kind, k.Name, k.Prefix, k.Hash, k.CreatedAt, k.LastUsedAt, k.RevokedAt)
	return storeError("create api key", err)
}

// APIKeyByHash returns the key with this hash, revoked or not: the caller
// decides what a revoked key means.
func (q *queries) APIKeyByHash(ctx context.Context, hash []byte) (account.APIKey, error) {
	k, err := scanAPIKey(q.db.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash))
	return k, storeError("api key by hash", err)
}

// ListAPIKeys returns the tenant's keys by ID, revoked ones included.
func (q *queries) ListAPIKeys(ctx context.Context, tenantID int64) ([]account.APIKey, error) {
	rows, err := q.db.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, storeError("list api keys", err)
	}
	ks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.APIKey, error) { return scanAPIKey(row) })
	return ks, storeError("list api keys", err)
}

// RevokeAPIKey revokes a live key of the tenant; ErrNotFound if there is
// none, including when it is revoked already.
func (q *queries) RevokeAPIKey(ctx context.Context, tenantID, id int64, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`,
		tenantID, id, at)
	return exactlyOne("revoke api key", tag, err)
}

// TouchAPIKey records when the key was last used.
func (q *queries) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id = $1`, id, at)
	return exactlyOne("touch api key", tag, err)
}
