-- OpenID Connect. An application may be a client: its client_id is
-- unique across tenants, its secret kept only as a hash.
ALTER TABLE applications ADD COLUMN client_type text NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN client_id text UNIQUE;
ALTER TABLE applications ADD COLUMN client_secret_hash bytea;
ALTER TABLE applications ADD COLUMN redirect_uris text[] NOT NULL DEFAULT '{}';
ALTER TABLE applications ADD COLUMN logout_uris text[] NOT NULL DEFAULT '{}';

-- A login in progress for a client. request is the client's checked
-- request as JSON; callback_hash the SHA-256 of the secret that only the
-- approving browser's redirect carries; code_hash that of its one-time code.
CREATE TABLE oidc_authorizations (
	id              text PRIMARY KEY,
	tenant_id       bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	app_id          bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
	request         jsonb NOT NULL,
	issuer          text NOT NULL,
	callback_url    text NOT NULL,
	customer_id     bigint NOT NULL DEFAULT 0,
	session_id      bigint NOT NULL DEFAULT 0,
	auth_time       timestamptz,
	callback_hash   bytea,
	code_hash       bytea UNIQUE,
	code_expires_at timestamptz,
	redeemed_at     timestamptz,
	created_at      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL
);
CREATE INDEX oidc_authorizations_expires_at ON oidc_authorizations (expires_at);

-- What a redeemed code gave a client. It ends with its session: logout,
-- a password reset, disabling and erasure delete sessions.
CREATE TABLE oidc_grants (
	id          text PRIMARY KEY,
	tenant_id   bigint NOT NULL,
	app_id      bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
	client_id   text NOT NULL,
	customer_id bigint NOT NULL,
	session_id  bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	scopes      text NOT NULL,
	auth_time   timestamptz NOT NULL,
	created_at  timestamptz NOT NULL
);
CREATE INDEX oidc_grants_session ON oidc_grants (session_id);
CREATE INDEX oidc_grants_app ON oidc_grants (app_id);

-- A grant's refresh tokens: each is used once, for the next.
CREATE TABLE oidc_refresh_tokens (
	hash       bytea PRIMARY KEY,
	grant_id   text NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
	tenant_id  bigint NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);
CREATE INDEX oidc_refresh_tokens_expires_at ON oidc_refresh_tokens (expires_at);

-- Tenants' token signing keys, sealed under the server secret.
CREATE TABLE oidc_signing_keys (
	id         text PRIMARY KEY,
	tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	algorithm  text NOT NULL,
	sealed     bytea NOT NULL,
	created_at timestamptz NOT NULL,
	retired_at timestamptz
);
CREATE INDEX oidc_signing_keys_tenant ON oidc_signing_keys (tenant_id, created_at);
