package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"pforte/internal/account"
)

const authorizationColumns = `id, tenant_id, app_id, request, issuer, callback_url, customer_id, session_id, auth_time,
	callback_hash, code_hash, code_expires_at, redeemed_at, created_at, expires_at`

func scanAuthorization(s scanner) (account.Authorization, error) {
	var (
		a                                       account.Authorization
		request                                 string
		authTime, codeExpires, created, expires int64
		redeemed                                sql.NullInt64
	)
	if err := s.Scan(&a.ID, &a.TenantID, &a.AppID, &request, &a.Issuer, &a.CallbackURL, &a.CustomerID, &a.SessionID,
		&authTime, &a.CallbackHash, &a.CodeHash, &codeExpires, &redeemed, &created, &expires); err != nil {
		return account.Authorization{}, err
	}
	if err := json.Unmarshal([]byte(request), &a.Request); err != nil {
		return account.Authorization{}, err
	}
	if authTime != 0 {
		a.AuthTime = fromMicros(authTime)
	}
	if codeExpires != 0 {
		a.CodeExpiresAt = fromMicros(codeExpires)
	}
	a.RedeemedAt = fromNullMicros(redeemed)
	a.CreatedAt, a.ExpiresAt = fromMicros(created), fromMicros(expires)
	return a, nil
}

// CreateAuthorization inserts a.
func (q queries) CreateAuthorization(ctx context.Context, a *account.Authorization) error {
	request, err := json.Marshal(a.Request)
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO oidc_authorizations
		(id, tenant_id, app_id, request, issuer, callback_url, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.TenantID, a.AppID, string(request), a.Issuer, a.CallbackURL, micros(a.CreatedAt), micros(a.ExpiresAt))
	if err != nil {
		return dbErr("create authorization", err)
	}
	a.CreatedAt, a.ExpiresAt = utc(a.CreatedAt), utc(a.ExpiresAt)
	return nil
}

// AuthorizationByID returns the authorization with this ID, in any state.
func (q queries) AuthorizationByID(ctx context.Context, id string) (account.Authorization, error) {
	a, err := scanAuthorization(q.r.QueryRowContext(ctx, `SELECT `+authorizationColumns+` FROM oidc_authorizations WHERE id = ?`, id))
	if err != nil {
		return account.Authorization{}, dbErr("authorization by id", err)
	}
	return a, nil
}

// AuthorizationByCode returns the authorization with this code, in any state.
func (q queries) AuthorizationByCode(ctx context.Context, codeHash []byte) (account.Authorization, error) {
	a, err := scanAuthorization(q.r.QueryRowContext(ctx, `SELECT `+authorizationColumns+` FROM oidc_authorizations WHERE code_hash = ?`, codeHash))
	if err != nil {
		return account.Authorization{}, dbErr("authorization by code", err)
	}
	return a, nil
}

// ApproveAuthorization records the login of an unapproved, unexpired
// authorization.
func (q queries) ApproveAuthorization(ctx context.Context, id string, customerID, sessionID int64, authTime time.Time, callbackHash []byte, now time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE oidc_authorizations SET customer_id = ?, session_id = ?, auth_time = ?, callback_hash = ?
		WHERE id = ? AND session_id = 0 AND expires_at > ?`, customerID, sessionID, micros(authTime), callbackHash, id, micros(now))
	if err != nil {
		return dbErr("approve authorization", err)
	}
	return mustAffect("approve authorization", res)
}

// SetAuthorizationCode keeps the code of an approved authorization
// without one.
func (q queries) SetAuthorizationCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE oidc_authorizations SET code_hash = ?, code_expires_at = ?
		WHERE id = ? AND session_id <> 0 AND code_hash IS NULL`, codeHash, micros(expiresAt), id)
	if err != nil {
		return dbErr("set authorization code", err)
	}
	return mustAffect("set authorization code", res)
}

// RedeemAuthorizationCode marks the authorization of an unexpired,
// unredeemed code redeemed; one UPDATE, so one of concurrent calls wins.
func (q queries) RedeemAuthorizationCode(ctx context.Context, codeHash []byte, now time.Time) (account.Authorization, error) {
	a, err := scanAuthorization(q.w.QueryRowContext(ctx, `UPDATE oidc_authorizations SET redeemed_at = ?
		WHERE code_hash = ? AND redeemed_at IS NULL AND code_expires_at > ?
		RETURNING `+authorizationColumns, micros(now), codeHash, micros(now)))
	if err != nil {
		return account.Authorization{}, dbErr("redeem authorization code", err)
	}
	return a, nil
}

const grantColumns = `id, tenant_id, app_id, client_id, customer_id, session_id, scopes, auth_time, created_at`

// CreateGrant inserts g.
func (q queries) CreateGrant(ctx context.Context, g *account.Grant) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO oidc_grants (`+grantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.TenantID, g.AppID, g.ClientID, g.CustomerID, g.SessionID, strings.Join(g.Scopes, " "), micros(g.AuthTime), micros(g.CreatedAt))
	if err != nil {
		return dbErr("create grant", err)
	}
	g.AuthTime, g.CreatedAt = utc(g.AuthTime), utc(g.CreatedAt)
	return nil
}

// GrantByID returns the tenant's grant with this ID.
func (q queries) GrantByID(ctx context.Context, tenantID int64, id string) (account.Grant, error) {
	var (
		g                 account.Grant
		scopes            string
		authTime, created int64
	)
	err := q.r.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM oidc_grants WHERE tenant_id = ? AND id = ?`, tenantID, id).
		Scan(&g.ID, &g.TenantID, &g.AppID, &g.ClientID, &g.CustomerID, &g.SessionID, &scopes, &authTime, &created)
	if err != nil {
		return account.Grant{}, dbErr("grant by id", err)
	}
	g.Scopes = strings.Fields(scopes)
	g.AuthTime, g.CreatedAt = fromMicros(authTime), fromMicros(created)
	return g, nil
}

// DeleteGrant deletes the tenant's grant, and so its refresh tokens.
func (q queries) DeleteGrant(ctx context.Context, tenantID int64, id string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM oidc_grants WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return dbErr("delete grant", err)
	}
	return mustAffect("delete grant", res)
}

// CreateRefreshToken inserts t.
func (q queries) CreateRefreshToken(ctx context.Context, t *account.RefreshToken) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO oidc_refresh_tokens (hash, grant_id, tenant_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, t.Hash, t.GrantID, t.TenantID, micros(t.CreatedAt), micros(t.ExpiresAt))
	if err != nil {
		return dbErr("create refresh token", err)
	}
	t.CreatedAt, t.ExpiresAt = utc(t.CreatedAt), utc(t.ExpiresAt)
	return nil
}

// RefreshTokenByHash returns the refresh token with this hash, in any state.
func (q queries) RefreshTokenByHash(ctx context.Context, hash []byte) (account.RefreshToken, error) {
	var (
		t                account.RefreshToken
		created, expires int64
		used             sql.NullInt64
	)
	err := q.r.QueryRowContext(ctx, `SELECT hash, grant_id, tenant_id, created_at, expires_at, used_at
		FROM oidc_refresh_tokens WHERE hash = ?`, hash).Scan(&t.Hash, &t.GrantID, &t.TenantID, &created, &expires, &used)
	if err != nil {
		return account.RefreshToken{}, dbErr("refresh token by hash", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return t, nil
}

// UseRefreshToken marks an unused, unexpired refresh token used.
func (q queries) UseRefreshToken(ctx context.Context, hash []byte, now time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE oidc_refresh_tokens SET used_at = ?
		WHERE hash = ? AND used_at IS NULL AND expires_at > ?`, micros(now), hash, micros(now))
	if err != nil {
		return dbErr("use refresh token", err)
	}
	return mustAffect("use refresh token", res)
}

// CreateSigningKey inserts k.
func (q queries) CreateSigningKey(ctx context.Context, k *account.StoredSigningKey) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO oidc_signing_keys (id, tenant_id, algorithm, sealed, created_at, retired_at)
		VALUES (?, ?, ?, ?, ?, ?)`, k.ID, k.TenantID, k.Algorithm, k.Sealed, micros(k.CreatedAt), nullMicros(k.RetiredAt))
	if err != nil {
		return dbErr("create signing key", err)
	}
	k.CreatedAt, k.RetiredAt = utc(k.CreatedAt), utcPtr(k.RetiredAt)
	return nil
}

// ListSigningKeys returns the tenant's signing keys, newest first.
func (q queries) ListSigningKeys(ctx context.Context, tenantID int64) ([]account.StoredSigningKey, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT id, tenant_id, algorithm, sealed, created_at, retired_at
		FROM oidc_signing_keys WHERE tenant_id = ? ORDER BY created_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, dbErr("list signing keys", err)
	}
	defer rows.Close()
	keys := []account.StoredSigningKey{}
	for rows.Next() {
		var (
			k       account.StoredSigningKey
			created int64
			retired sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.TenantID, &k.Algorithm, &k.Sealed, &created, &retired); err != nil {
			return nil, dbErr("list signing keys", err)
		}
		k.CreatedAt, k.RetiredAt = fromMicros(created), fromNullMicros(retired)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list signing keys", err)
	}
	return keys, nil
}

// RetireSigningKeys retires the tenant's unretired keys but exceptID.
func (q queries) RetireSigningKeys(ctx context.Context, tenantID int64, exceptID string, at time.Time) error {
	_, err := q.w.ExecContext(ctx, `UPDATE oidc_signing_keys SET retired_at = ?
		WHERE tenant_id = ? AND id <> ? AND retired_at IS NULL`, micros(at), tenantID, exceptID)
	if err != nil {
		return dbErr("retire signing keys", err)
	}
	return nil
}

// SessionByID returns the tenant's session with this ID, expired or not.
func (q queries) SessionByID(ctx context.Context, tenantID, id int64) (account.Session, error) {
	s, err := scanSession(q.r.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return account.Session{}, dbErr("session by id", err)
	}
	return s, nil
}

// PurgeSigningKeys deletes the keys retired before retiredBefore.
func (q queries) PurgeSigningKeys(ctx context.Context, retiredBefore time.Time) error {
	if _, err := q.w.ExecContext(ctx, `DELETE FROM oidc_signing_keys WHERE retired_at < ?`, micros(retiredBefore)); err != nil {
		return dbErr("purge signing keys", err)
	}
	return nil
}
