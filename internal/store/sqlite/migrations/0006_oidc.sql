-- OpenID Connect. An application may be a client: its client_id is
-- unique across tenants, its secret kept only as a hash, its URIs as JSON
-- arrays of strings.
ALTER TABLE applications ADD COLUMN client_type TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN client_id TEXT;
ALTER TABLE applications ADD COLUMN client_secret_hash BLOB;
ALTER TABLE applications ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE applications ADD COLUMN logout_uris TEXT NOT NULL DEFAULT '[]';
CREATE UNIQUE INDEX applications_client_id ON applications (client_id);

-- A login in progress for a client. request is the client's checked
-- request as JSON; callback_hash the SHA-256 of the secret that only the
-- approving browser's redirect carries; code_hash that of its one-time code.
CREATE TABLE oidc_authorizations (
    id              TEXT    PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    app_id          INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    request         TEXT    NOT NULL,
    issuer          TEXT    NOT NULL,
    callback_url    TEXT    NOT NULL,
    customer_id     INTEGER NOT NULL DEFAULT 0,
    session_id      INTEGER NOT NULL DEFAULT 0,
    auth_time       INTEGER NOT NULL DEFAULT 0,
    callback_hash   BLOB,
    code_hash       BLOB    UNIQUE,
    code_expires_at INTEGER NOT NULL DEFAULT 0,
    redeemed_at     INTEGER,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX oidc_authorizations_expires_at ON oidc_authorizations (expires_at);

-- What a redeemed code gave a client. It ends with its session: logout,
-- a password reset, disabling and erasure delete sessions.
CREATE TABLE oidc_grants (
    id          TEXT    PRIMARY KEY,
    tenant_id   INTEGER NOT NULL,
    app_id      INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    client_id   TEXT    NOT NULL,
    customer_id INTEGER NOT NULL,
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    scopes      TEXT    NOT NULL,
    auth_time   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX oidc_grants_session ON oidc_grants (session_id);
CREATE INDEX oidc_grants_app ON oidc_grants (app_id);

-- A grant's refresh tokens: each is used once, for the next.
CREATE TABLE oidc_refresh_tokens (
    hash       BLOB    PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    tenant_id  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);
CREATE INDEX oidc_refresh_tokens_expires_at ON oidc_refresh_tokens (expires_at);

-- Tenants' token signing keys, sealed under the server secret.
CREATE TABLE oidc_signing_keys (
    id         TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    algorithm  TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
) STRICT;
CREATE INDEX oidc_signing_keys_tenant ON oidc_signing_keys (tenant_id, created_at);
