package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pforte/internal/account"
)

const authorizationColumns = `id, tenant_id, app_id, request, issuer, callback_url, customer_id, session_id, auth_time,
	callback_hash, code_hash, code_expires_at, redeemed_at, created_at, expires_at`

func scanAuthorization(row scanner) (account.Authorization, error) {
	var (
		a                     account.Authorization
		request               []byte
		authTime, codeExpires *time.Time
	)
	if err := row.Scan(&a.ID, &a.TenantID, &a.AppID, &request, &a.Issuer, &a.CallbackURL, &a.CustomerID, &a.SessionID,
		&authTime, &a.CallbackHash, &a.CodeHash, &codeExpires, &a.RedeemedAt, &a.CreatedAt, &a.ExpiresAt); err != nil {
		return account.Authorization{}, err
	}
	if err := json.Unmarshal(request, &a.Request); err != nil {
		return account.Authorization{}, err
	}
	if authTime != nil {
		a.AuthTime = authTime.UTC()
	}
	if codeExpires != nil {
		a.CodeExpiresAt = codeExpires.UTC()
	}
	a.RedeemedAt = utcPtr(a.RedeemedAt)
	a.CreatedAt, a.ExpiresAt = a.CreatedAt.UTC(), a.ExpiresAt.UTC()
	return a, nil
}

// CreateAuthorization inserts a.
func (q *queries) CreateAuthorization(ctx context.Context, a *account.Authorization) error {
	request, err := json.Marshal(a.Request)
	if err != nil {
		return err
	}
	a.CreatedAt, a.ExpiresAt = dbTime(a.CreatedAt), dbTime(a.ExpiresAt)
	err = insertOne(ctx, q.db, `INSERT INTO oidc_authorizations
			(id, tenant_id, app_id, request, issuer, callback_url, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT DO NOTHING`,
		a.ID, a.TenantID, a.AppID, string(request), a.Issuer, a.CallbackURL, a.CreatedAt, a.ExpiresAt)
	return storeError("create authorization", err)
}

// AuthorizationByID returns the authorization with this ID, in any state.
func (q *queries) AuthorizationByID(ctx context.Context, id string) (account.Authorization, error) {
	a, err := scanAuthorization(q.db.QueryRow(ctx, `SELECT `+authorizationColumns+` FROM oidc_authorizations WHERE id = $1`, id))
	return a, storeError("authorization by id", err)
}

// AuthorizationByCode returns the authorization with this code, in any state.
func (q *queries) AuthorizationByCode(ctx context.Context, codeHash []byte) (account.Authorization, error) {
	a, err := scanAuthorization(q.db.QueryRow(ctx, `SELECT `+authorizationColumns+` FROM oidc_authorizations WHERE code_hash = $1`, codeHash))
	return a, storeError("authorization by code", err)
}

// ApproveAuthorization records the login of an unapproved, unexpired
// authorization.
func (q *queries) ApproveAuthorization(ctx context.Context, id string, customerID, sessionID int64, authTime time.Time, callbackHash []byte, now time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE oidc_authorizations SET customer_id = $2, session_id = $3, auth_time = $4, callback_hash = $6
		WHERE id = $1 AND session_id = 0 AND expires_at > $5`, id, customerID, sessionID, dbTime(authTime), now, callbackHash)
	return exactlyOne("approve authorization", tag, err)
}

// SetAuthorizationCode keeps the code of an approved authorization
// without one.
func (q *queries) SetAuthorizationCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error {
	err := q.guard(ctx, func(db querier) error {
		tag, err := db.Exec(ctx, `UPDATE oidc_authorizations SET code_hash = $2, code_expires_at = $3
			WHERE id = $1 AND session_id <> 0 AND code_hash IS NULL`, id, codeHash, dbTime(expiresAt))
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
	return storeError("set authorization code", err)
}

// RedeemAuthorizationCode marks the authorization of an unexpired,
// unredeemed code redeemed; the row lock makes one of concurrent calls win.
func (q *queries) RedeemAuthorizationCode(ctx context.Context, codeHash []byte, now time.Time) (account.Authorization, error) {
	a, err := scanAuthorization(q.db.QueryRow(ctx, `UPDATE oidc_authorizations SET redeemed_at = $2
		WHERE code_hash = $1 AND redeemed_at IS NULL AND code_expires_at > $2
		RETURNING `+authorizationColumns, codeHash, dbTime(now)))
	return a, storeError("redeem authorization code", err)
}

const grantColumns = `id, tenant_id, app_id, client_id, customer_id, session_id, scopes, auth_time, created_at`

// CreateGrant inserts g.
func (q *queries) CreateGrant(ctx context.Context, g *account.Grant) error {
	g.AuthTime, g.CreatedAt = dbTime(g.AuthTime), dbTime(g.CreatedAt)
	err := insertOne(ctx, q.db, `INSERT INTO oidc_grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT DO NOTHING`,
		g.ID, g.TenantID, g.AppID, g.ClientID, g.CustomerID, g.SessionID, strings.Join(g.Scopes, " "), g.AuthTime, g.CreatedAt)
	return storeError("create grant", err)
}

// GrantByID returns the tenant's grant with this ID.
func (q *queries) GrantByID(ctx context.Context, tenantID int64, id string) (account.Grant, error) {
	var g account.Grant
	var scopes string
	err := q.db.QueryRow(ctx, `SELECT `+grantColumns+` FROM oidc_grants WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Scan(&g.ID, &g.TenantID, &g.AppID, &g.ClientID, &g.CustomerID, &g.SessionID, &scopes, &g.AuthTime, &g.CreatedAt)
	if err != nil {
		return account.Grant{}, storeError("grant by id", err)
	}
	g.Scopes = strings.Fields(scopes)
	g.AuthTime, g.CreatedAt = g.AuthTime.UTC(), g.CreatedAt.UTC()
	return g, nil
}

// DeleteGrant deletes the tenant's grant, and so its refresh tokens.
func (q *queries) DeleteGrant(ctx context.Context, tenantID int64, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM oidc_grants WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return exactlyOne("delete grant", tag, err)
}

// CreateRefreshToken inserts t.
func (q *queries) CreateRefreshToken(ctx context.Context, t *account.RefreshToken) error {
	t.CreatedAt, t.ExpiresAt = dbTime(t.CreatedAt), dbTime(t.ExpiresAt)
	err := insertOne(ctx, q.db, `INSERT INTO oidc_refresh_tokens (hash, grant_id, tenant_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, t.Hash, t.GrantID, t.TenantID, t.CreatedAt, t.ExpiresAt)
	return storeError("create refresh token", err)
}

// RefreshTokenByHash returns the refresh token with this hash, in any state.
func (q *queries) RefreshTokenByHash(ctx context.Context, hash []byte) (account.RefreshToken, error) {
	var t account.RefreshToken
	err := q.db.QueryRow(ctx, `SELECT hash, grant_id, tenant_id, created_at, expires_at, used_at
		FROM oidc_refresh_tokens WHERE hash = $1`, hash).Scan(&t.Hash, &t.GrantID, &t.TenantID, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt)
	if err != nil {
		return account.RefreshToken{}, storeError("refresh token by hash", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), utcPtr(t.UsedAt)
	return t, nil
}

// UseRefreshToken marks an unused, unexpired refresh token used.
func (q *queries) UseRefreshToken(ctx context.Context, hash []byte, now time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE oidc_refresh_tokens SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, dbTime(now))
	return exactlyOne("use refresh token", tag, err)
}

// CreateSigningKey inserts k.
func (q *queries) CreateSigningKey(ctx context.Context, k *account.StoredSigningKey) error {
	k.CreatedAt, k.RetiredAt = dbTime(k.CreatedAt), dbTimePtr(k.RetiredAt)
	err := insertOne(ctx, q.db, `INSERT INTO oidc_signing_keys (id, tenant_id, algorithm, sealed, created_at, retired_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT DO NOTHING`, k.ID, k.TenantID, k.Algorithm, k.Sealed, k.CreatedAt, k.RetiredAt)
	return storeError("create signing key", err)
}

// ListSigningKeys returns the tenant's signing keys, newest first.
func (q *queries) ListSigningKeys(ctx context.Context, tenantID int64) ([]account.StoredSigningKey, error) {
	rows, err := q.db.Query(ctx, `SELECT id, tenant_id, algorithm, sealed, created_at, retired_at
		FROM oidc_signing_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, storeError("list signing keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.StoredSigningKey, error) {
		var k account.StoredSigningKey
		err := row.Scan(&k.ID, &k.TenantID, &k.Algorithm, &k.Sealed, &k.CreatedAt, &k.RetiredAt)
		k.CreatedAt, k.RetiredAt = k.CreatedAt.UTC(), utcPtr(k.RetiredAt)
		return k, err
	})
	if err != nil {
		return nil, storeError("list signing keys", err)
	}
	if keys == nil {
		keys = []account.StoredSigningKey{}
	}
	return keys, nil
}

// RetireSigningKeys retires the tenant's unretired keys but exceptID.
func (q *queries) RetireSigningKeys(ctx context.Context, tenantID int64, exceptID string, at time.Time) error {
	_, err := q.db.Exec(ctx, `UPDATE oidc_signing_keys SET retired_at = $3
		WHERE tenant_id = $1 AND id <> $2 AND retired_at IS NULL`, tenantID, exceptID, dbTime(at))
	return storeError("retire signing keys", err)
}

// SessionByID returns the tenant's session with this ID, expired or not.
func (q *queries) SessionByID(ctx context.Context, tenantID, id int64) (account.Session, error) {
	s, err := scanSession(q.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return s, storeError("session by id", err)
}

// purgeOIDC deletes authorizations and refresh tokens that expired
// before cutoff.
func (q *queries) purgeOIDC(ctx context.Context, cutoff time.Time) error {
	_, err := q.db.Exec(ctx, `WITH a AS (DELETE FROM oidc_authorizations WHERE expires_at < $1)
		DELETE FROM oidc_refresh_tokens WHERE expires_at < $1`, cutoff)
	return storeError("purge oidc", err)
}

// PurgeSigningKeys deletes the keys retired before retiredBefore.
func (q *queries) PurgeSigningKeys(ctx context.Context, retiredBefore time.Time) error {
	_, err := q.db.Exec(ctx, `DELETE FROM oidc_signing_keys WHERE retired_at < $1`, retiredBefore)
	return storeError("purge signing keys", err)
}
