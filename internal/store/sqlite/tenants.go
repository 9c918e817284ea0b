package sqlite

import (
	"context"
	"database/sql"
	"time"

	"pforte/internal/account"
)

// ServerState stores candidate under key unless a value exists, then reads
// the one that does. Of concurrent first starts, one INSERT wins and all
// read its value. A nil candidate only reads.
func (q queries) ServerState(ctx context.Context, key string, candidate []byte) ([]byte, error) {
	if candidate != nil {
		if _, err := q.w.ExecContext(ctx,
			`INSERT OR IGNORE INTO server_state (key, value) VALUES (?, ?)`, key, candidate); err != nil {
			return nil, dbErr("store server state", err)
		}
	}
	var value []byte
	if err := q.w.QueryRowContext(ctx,
		`SELECT value FROM server_state WHERE key = ?`, key).Scan(&value); err != nil {
		return nil, dbErr("read server state", err)
	}
	return value, nil
}

// DeleteServerState removes the value under key, if any.
func (q queries) DeleteServerState(ctx context.Context, key string) error {
	if _, err := q.w.ExecContext(ctx, `DELETE FROM server_state WHERE key = ?`, key); err != nil {
		return dbErr("delete server state", err)
	}
	return nil
}

// CreateTenant inserts t with the settings it carries, and sets its ID and,
// if it is zero, its CreatedAt.
func (q queries) CreateTenant(ctx context.Context, t *account.Tenant) error {
	created := t.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	created = utc(created)
	var id int64
	err := q.atomically(ctx, func(q queries) error {
		res, err := q.w.ExecContext(ctx, `INSERT INTO tenants (slug, created_at) VALUES (?, ?)`,
			t.Slug, micros(created))
		if err != nil {
			return dbErr("create tenant", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return dbErr("create tenant", err)
		}
		for k, v := range t.Settings {
			if err := q.SetTenantSetting(ctx, id, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.ID, t.CreatedAt = id, created
	if t.Settings == nil {
		t.Settings = map[string]string{}
	}
	return nil
}

// tenantSelect reads tenants with their settings, one row per setting, in
// one statement so that tenant and settings come from one snapshot.
const tenantSelect = `SELECT t.id, t.slug, t.created_at, s.key, s.value
	FROM tenants t LEFT JOIN tenant_settings s ON s.tenant_id = t.id`

// TenantByID returns the tenant with this ID.
func (q queries) TenantByID(ctx context.Context, id int64) (account.Tenant, error) {
	return q.oneTenant(ctx, "tenant by id", tenantSelect+` WHERE t.id = ?`, id)
}

// TenantBySlug returns the tenant with this slug.
func (q queries) TenantBySlug(ctx context.Context, slug string) (account.Tenant, error) {
	return q.oneTenant(ctx, "tenant by slug", tenantSelect+` WHERE t.slug = ?`, slug)
}

// ListTenants returns every tenant, by ID.
func (q queries) ListTenants(ctx context.Context) ([]account.Tenant, error) {
	return q.tenants(ctx, "list tenants", tenantSelect+` ORDER BY t.id`)
}

func (q queries) oneTenant(ctx context.Context, op, query string, args ...any) (account.Tenant, error) {
	ts, err := q.tenants(ctx, op, query, args...)
	if err != nil {
		return account.Tenant{}, err
	}
	if len(ts) == 0 {
		return account.Tenant{}, dbErr(op, sql.ErrNoRows)
	}
	return ts[0], nil
}

// tenants runs a tenantSelect query and folds each tenant's rows into one
// Tenant. The rows of one tenant must be adjacent.
func (q queries) tenants(ctx context.Context, op, query string, args ...any) ([]account.Tenant, error) {
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	ts := []account.Tenant{}
	for rows.Next() {
		var (
			t          account.Tenant
			created    int64
			key, value sql.NullString
		)
		if err := rows.Scan(&t.ID, &t.Slug, &created, &key, &value); err != nil {
			return nil, dbErr(op, err)
		}
		if n := len(ts); n == 0 || ts[n-1].ID != t.ID {
			t.CreatedAt = fromMicros(created)
			t.Settings = map[string]string{}
			ts = append(ts, t)
		}
		if key.Valid {
			ts[len(ts)-1].Settings[key.String] = value.String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	return ts, nil
}

// SetTenantSetting stores value under key for the tenant, replacing any
// value it had.
func (q queries) SetTenantSetting(ctx context.Context, tenantID int64, key, value string) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO tenant_settings (tenant_id, key, value) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value`, tenantID, key, value)
	if err != nil {
		return dbErr("set tenant setting", err)
	}
	return nil
}
