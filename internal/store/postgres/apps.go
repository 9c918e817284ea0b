package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const appColumns = `id, tenant_id, name, endpoint, confirm_url, reset_url, invite_url, delivery, settings,
	client_type, client_id, client_secret_hash, redirect_uris, logout_uris, created_at, updated_at`

// clientID is the client_id column: NULL for no client, so that the
// unique constraint takes any number of them.
func clientID(a *account.Application) *string {
	if a.Client.ID == "" {
		return nil
	}
	return &a.Client.ID
}

// uris is a list as a text[] that is never NULL.
func uris(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// appSettings is the JSON the settings column keeps.
func appSettings(a *account.Application) string {
	if len(a.Settings) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(a.Settings) // a map of strings always marshals
	return string(b)
}

func scanApp(row scanner) (account.Application, error) {
	var a account.Application
	var settings string
	var id *string
	if err := row.Scan(&a.ID, &a.TenantID, &a.Name, &a.Endpoint, &a.ConfirmURL, &a.ResetURL, &a.InviteURL, &a.Delivery,
		&settings, &a.Client.Type, &id, &a.Client.SecretHash, &a.Client.RedirectURIs, &a.Client.LogoutURIs,
		&a.CreatedAt, &a.UpdatedAt); err != nil {
		return account.Application{}, err
	}
	if id != nil {
		a.Client.ID = *id
	}
	if len(a.Client.RedirectURIs) == 0 {
		a.Client.RedirectURIs = nil
	}
	if len(a.Client.LogoutURIs) == 0 {
		a.Client.LogoutURIs = nil
	}
	if len(a.Client.SecretHash) == 0 {
		a.Client.SecretHash = nil
	}
	if err := json.Unmarshal([]byte(settings), &a.Settings); err != nil {
		return account.Application{}, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	a.UpdatedAt = a.UpdatedAt.UTC()
	return a, nil
}

// CreateApp inserts a and sets a.ID. ErrDuplicate if the tenant has an
// application of this name.
func (q *queries) CreateApp(ctx context.Context, a *account.Application) error {
	a.CreatedAt = dbTime(a.CreatedAt)
	a.UpdatedAt = dbTime(a.UpdatedAt)
	err := insertID(ctx, q.db, &a.ID, `INSERT INTO applications (tenant_id, name, endpoint, confirm_url, reset_url, invite_url, delivery,
				settings, client_type, client_id, client_secret_hash, redirect_uris, logout_uris, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT DO NOTHING RETURNING id`,
		a.TenantID, a.Name, a.Endpoint, a.ConfirmURL, a.ResetURL, a.InviteURL, string(a.Delivery), appSettings(a),
		string(a.Client.Type), clientID(a), a.Client.SecretHash, uris(a.Client.RedirectURIs), uris(a.Client.LogoutURIs),
		a.CreatedAt, a.UpdatedAt)
	return storeError("create app", err)
}

// AppByName returns the tenant's application of this name.
func (q *queries) AppByName(ctx context.Context, tenantID int64, name string) (account.Application, error) {
	a, err := scanApp(q.db.QueryRow(ctx, `SELECT `+appColumns+` FROM applications WHERE tenant_id = $1 AND name = $2`,
		tenantID, name))
	return a, storeError("app by name", err)
}

// AppByClientID returns the application with this client_id, of any tenant.
func (q *queries) AppByClientID(ctx context.Context, clientID string) (account.Application, error) {
	a, err := scanApp(q.db.QueryRow(ctx, `SELECT `+appColumns+` FROM applications WHERE client_id = $1`, clientID))
	return a, storeError("app by client id", err)
}

// ListApps returns the tenant's applications by name, in byte order
// (COLLATE "C"), as SQLite sorts them, whatever the database's collation.
func (q *queries) ListApps(ctx context.Context, tenantID int64) ([]account.Application, error) {
	rows, err := q.db.Query(ctx, `SELECT `+appColumns+` FROM applications WHERE tenant_id = $1 ORDER BY name COLLATE "C"`,
		tenantID)
	if err != nil {
		return nil, storeError("list apps", err)
	}
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.Application, error) { return scanApp(row) })
	if err != nil {
		return nil, storeError("list apps", err)
	}
	if as == nil {
		as = []account.Application{}
	}
	return as, nil
}

// UpdateApp writes every column but ID, TenantID and CreatedAt.
// ErrNotFound if the tenant has no application a.ID; ErrDuplicate if it has
// another one of a's name.
func (q *queries) UpdateApp(ctx context.Context, a *account.Application) error {
	a.UpdatedAt = dbTime(a.UpdatedAt)
	err := q.guard(ctx, func(db querier) error {
		tag, err := db.Exec(ctx, `UPDATE applications SET name = $3, endpoint = $4, confirm_url = $5, reset_url = $6,
				invite_url = $7, delivery = $8, settings = $9, updated_at = $10, client_type = $11, client_id = $12,
				client_secret_hash = $13, redirect_uris = $14, logout_uris = $15
			WHERE tenant_id = $1 AND id = $2`,
			a.TenantID, a.ID, a.Name, a.Endpoint, a.ConfirmURL, a.ResetURL, a.InviteURL, string(a.Delivery), appSettings(a), a.UpdatedAt,
			string(a.Client.Type), clientID(a), a.Client.SecretHash, uris(a.Client.RedirectURIs), uris(a.Client.LogoutURIs))
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
	return storeError("update app", err)
}

// DeleteApp deletes the tenant's application with this ID. ErrNotFound if
// there is none.
func (q *queries) DeleteApp(ctx context.Context, tenantID, id int64) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM applications WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return exactlyOne("delete app", tag, err)
}
