package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"pforte/internal/account"
)

const appColumns = `id, tenant_id, name, endpoint, confirm_url, reset_url, invite_url, delivery, settings,
	client_type, client_id, client_secret_hash, redirect_uris, logout_uris, created_at, updated_at`

func scanApp(s scanner) (account.Application, error) {
	var (
		a                                  account.Application
		settings, redirectURIs, logoutURIs string
		clientID                           sql.NullString
		created, updated                   int64
	)
	if err := s.Scan(&a.ID, &a.TenantID, &a.Name, &a.Endpoint, &a.ConfirmURL, &a.ResetURL, &a.InviteURL, &a.Delivery,
		&settings, &a.Client.Type, &clientID, &a.Client.SecretHash, &redirectURIs, &logoutURIs, &created, &updated); err != nil {
		return account.Application{}, err
	}
	a.Client.ID = clientID.String
	for _, f := range []struct {
		src string
		dst any
	}{{settings, &a.Settings}, {redirectURIs, &a.Client.RedirectURIs}, {logoutURIs, &a.Client.LogoutURIs}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return account.Application{}, err
		}
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
	a.CreatedAt = fromMicros(created)
	a.UpdatedAt = fromMicros(updated)
	return a, nil
}

// appSettings is the JSON the settings column keeps.
func appSettings(a *account.Application) string {
	if len(a.Settings) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(a.Settings) // a map of strings always marshals
	return string(b)
}

// uriList is the JSON a list of URIs is kept as.
func uriList(uris []string) string {
	if len(uris) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(uris)
	return string(b)
}

// clientID is the client_id column: NULL for no client, so that the
// unique index takes any number of them.
func clientID(a *account.Application) sql.NullString {
	return sql.NullString{String: a.Client.ID, Valid: a.Client.ID != ""}
}

// CreateApp inserts a and sets its ID. It returns account.ErrDuplicate if
// the tenant has an application of this name.
func (q queries) CreateApp(ctx context.Context, a *account.Application) error {
	res, err := q.w.ExecContext(ctx, `INSERT INTO applications
		(tenant_id, name, endpoint, confirm_url, reset_url, invite_url, delivery, settings,
		client_type, client_id, client_secret_hash, redirect_uris, logout_uris, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.TenantID, a.Name, a.Endpoint, a.ConfirmURL, a.ResetURL, a.InviteURL, string(a.Delivery), appSettings(a),
		string(a.Client.Type), clientID(a), a.Client.SecretHash, uriList(a.Client.RedirectURIs), uriList(a.Client.LogoutURIs),
		micros(a.CreatedAt), micros(a.UpdatedAt))
	if err != nil {
		return dbErr("create app", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return dbErr("create app", err)
	}
	a.ID = id
	a.CreatedAt, a.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
	return nil
}

// AppByName returns the tenant's application of this name.
func (q queries) AppByName(ctx context.Context, tenantID int64, name string) (account.Application, error) {
	a, err := scanApp(q.r.QueryRowContext(ctx,
		`SELECT `+appColumns+` FROM applications WHERE tenant_id = ? AND name = ?`, tenantID, name))
	if err != nil {
		return account.Application{}, dbErr("app by name", err)
	}
	return a, nil
}

// AppByClientID returns the application with this client_id, of any tenant.
func (q queries) AppByClientID(ctx context.Context, clientID string) (account.Application, error) {
	a, err := scanApp(q.r.QueryRowContext(ctx, `SELECT `+appColumns+` FROM applications WHERE client_id = ?`, clientID))
	if err != nil {
		return account.Application{}, dbErr("app by client id", err)
	}
	return a, nil
}

// ListApps returns the tenant's applications by name, in byte order (the
// BINARY collation, as PostgreSQL's "C").
func (q queries) ListApps(ctx context.Context, tenantID int64) ([]account.Application, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+appColumns+` FROM applications WHERE tenant_id = ? ORDER BY name`, tenantID)
	if err != nil {
		return nil, dbErr("list apps", err)
	}
	defer rows.Close()
	as := []account.Application{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, dbErr("list apps", err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list apps", err)
	}
	return as, nil
}

// UpdateApp writes every column of a but ID, TenantID and CreatedAt. It
// returns account.ErrNotFound if the tenant has no application a.ID, and
// account.ErrDuplicate if it has another one of a's name.
func (q queries) UpdateApp(ctx context.Context, a *account.Application) error {
	res, err := q.w.ExecContext(ctx, `UPDATE applications SET
		name = ?, endpoint = ?, confirm_url = ?, reset_url = ?, invite_url = ?, delivery = ?, settings = ?,
		client_type = ?, client_id = ?, client_secret_hash = ?, redirect_uris = ?, logout_uris = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`,
		a.Name, a.Endpoint, a.ConfirmURL, a.ResetURL, a.InviteURL, string(a.Delivery), appSettings(a),
		string(a.Client.Type), clientID(a), a.Client.SecretHash, uriList(a.Client.RedirectURIs), uriList(a.Client.LogoutURIs),
		micros(a.UpdatedAt), a.TenantID, a.ID)
	if err != nil {
		return dbErr("update app", err)
	}
	if err := mustAffect("update app", res); err != nil {
		return err
	}
	a.UpdatedAt = utc(a.UpdatedAt)
	return nil
}

// DeleteApp deletes the tenant's application with this ID. It returns
// account.ErrNotFound if there is none.
func (q queries) DeleteApp(ctx context.Context, tenantID, id int64) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM applications WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return dbErr("delete app", err)
	}
	return mustAffect("delete app", res)
}
