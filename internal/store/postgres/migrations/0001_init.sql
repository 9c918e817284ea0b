-- 0001_init: the tables of docs/schema.md. Times are timestamptz, optional
-- text is '' rather than NULL, hashes are bytea. Keys and foreign keys are
-- the same as SQLite's, so both stores accept and refuse the same writes.

CREATE TABLE server_state (
	key   text PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE tenants (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	slug       text NOT NULL UNIQUE,
	created_at timestamptz NOT NULL
);

CREATE TABLE tenant_settings (
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	key       text NOT NULL,
	value     text NOT NULL,
	PRIMARY KEY (tenant_id, key)
);

CREATE TABLE api_keys (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id    bigint NOT NULL,
	kind         text NOT NULL,
	name         text NOT NULL DEFAULT '',
	prefix       text NOT NULL DEFAULT '',
	hash         bytea NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant_id ON api_keys (tenant_id);

CREATE TABLE customers (
	id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	uuid               text NOT NULL,
	tenant_id          bigint NOT NULL,
	email              text NOT NULL,
	email_key          text NOT NULL,
	username           text NOT NULL DEFAULT '',
	salutation         text NOT NULL DEFAULT '',
	first_name         text NOT NULL DEFAULT '',
	last_name          text NOT NULL DEFAULT '',
	locale             text NOT NULL DEFAULT '',
	partner_ref        text NOT NULL DEFAULT '',
	state              text NOT NULL,
	disabled_from      text NOT NULL DEFAULT '',
	password_hash      text NOT NULL DEFAULT '',
	email_confirmed_at timestamptz,
	created_at         timestamptz NOT NULL,
	updated_at         timestamptz NOT NULL,
	UNIQUE (tenant_id, email_key),
	UNIQUE (tenant_id, uuid),
	-- The parent key of the tokens' and sessions' foreign keys, and the
	-- index that ListCustomers pages through.
	UNIQUE (tenant_id, id)
);
-- Usernames are optional ('' when unset) and unique per tenant regardless of case.
CREATE UNIQUE INDEX customers_tenant_username ON customers (tenant_id, lower(username)) WHERE username <> '';

CREATE TABLE tokens (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id   bigint NOT NULL,
	customer_id bigint NOT NULL,
	purpose     text NOT NULL,
	hash        bytea NOT NULL UNIQUE,
	code        boolean NOT NULL DEFAULT false,
	attempts    integer NOT NULL DEFAULT 0,
	payload     bytea NOT NULL DEFAULT ''::bytea,
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	used_at     timestamptz,
	-- A token can never point at another tenant's customer; the cascade
	-- finds rows through the (tenant_id, customer_id, ...) index.
	FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX tokens_tenant_customer_purpose ON tokens (tenant_id, customer_id, purpose);

CREATE TABLE sessions (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id    bigint NOT NULL,
	customer_id  bigint NOT NULL,
	hash         bytea NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	idle_seconds bigint NOT NULL,
	FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_tenant_customer ON sessions (tenant_id, customer_id);

CREATE TABLE login_failures (
	tenant_id bigint NOT NULL,
	email_key text NOT NULL,
	count     integer NOT NULL,
	last_at   timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, email_key)
);

-- Purge deletes by age.
CREATE INDEX tokens_expires_at ON tokens (expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX login_failures_last_at ON login_failures (last_at);
