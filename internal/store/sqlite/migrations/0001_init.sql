-- 0001_init: the tables of docs/schema.md.
--
-- Times are INTEGER unix microseconds UTC. Optional text is '' and never
-- NULL; only the timestamps that may be unset are nullable. Tables are
-- STRICT, so a value of the wrong type is refused instead of stored.
-- Every id is AUTOINCREMENT: like PostgreSQL's identity columns, an id is
-- never handed out twice, not even after the newest row was deleted.
-- schema_migrations is created by Migrate itself, before this file runs.

CREATE TABLE server_state (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    slug       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tenant_settings (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, key)
) STRICT;

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    prefix       TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE customers (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid               TEXT    NOT NULL,
    tenant_id          INTEGER NOT NULL,
    email              TEXT    NOT NULL,
    email_key          TEXT    NOT NULL,
    username           TEXT    NOT NULL DEFAULT '',
    salutation         TEXT    NOT NULL DEFAULT '',
    first_name         TEXT    NOT NULL DEFAULT '',
    last_name          TEXT    NOT NULL DEFAULT '',
    locale             TEXT    NOT NULL DEFAULT '',
    partner_ref        TEXT    NOT NULL DEFAULT '',
    state              TEXT    NOT NULL,
    disabled_from      TEXT    NOT NULL DEFAULT '',
    password_hash      TEXT    NOT NULL DEFAULT '',
    email_confirmed_at INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (tenant_id, email_key),
    UNIQUE (tenant_id, uuid),
    -- The parent key of the tokens' and sessions' foreign keys, and the
    -- index that ListCustomers pages through.
    UNIQUE (tenant_id, id)
) STRICT;

-- lower() folds ASCII letters only, as SQLite has no ICU here.
CREATE UNIQUE INDEX customers_tenant_username ON customers (tenant_id, lower(username)) WHERE username <> '';

-- Tokens and sessions reference their customer by (tenant_id, customer_id),
-- so a row can never point at another tenant's customer, and the cascade
-- on delete finds them through the (tenant_id, customer_id, ...) indexes.
CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    purpose     TEXT    NOT NULL,
    hash        BLOB    NOT NULL UNIQUE,
    code        INTEGER NOT NULL DEFAULT 0 CHECK (code IN (0, 1)),
    attempts    INTEGER NOT NULL DEFAULT 0,
    payload     BLOB    NOT NULL DEFAULT x'',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX tokens_customer ON tokens (tenant_id, customer_id, purpose);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    INTEGER NOT NULL,
    customer_id  INTEGER NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    idle_seconds INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX sessions_customer ON sessions (tenant_id, customer_id);

CREATE TABLE login_failures (
    tenant_id INTEGER NOT NULL,
    email_key TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, email_key)
) STRICT;

-- Purge deletes by age.
CREATE INDEX tokens_expires_at ON tokens (expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX login_failures_last_at ON login_failures (last_at);
