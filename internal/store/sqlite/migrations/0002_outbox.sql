-- 0002_outbox: the transactional outbox and the tenants' applications
-- (docs/schema.md).
--
-- outbox.customer_id is 0 for a mail without a customer and has no foreign
-- key: the row, and with it the record of what was sent, outlives a
-- customer who is erased. sealed holds the encrypted envelope and is NULL
-- once the mail is sent or has failed.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL,
    customer_id     INTEGER NOT NULL DEFAULT 0,
    kind            TEXT    NOT NULL,
    locale          TEXT    NOT NULL DEFAULT '',
    message_id      TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL CHECK (status IN ('unsent', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    sealed          BLOB,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
) STRICT;

-- ClaimMail looks for due mails among the unsent ones only.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'unsent';
-- ListMail pages a tenant's mails newest first.
CREATE INDEX outbox_tenant ON outbox (tenant_id, id);
-- CountMail counts a customer's recent mails of some kinds.
CREATE INDEX outbox_customer_kind ON outbox (tenant_id, customer_id, kind, created_at);

CREATE TABLE applications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    endpoint    TEXT    NOT NULL DEFAULT '',
    confirm_url TEXT    NOT NULL DEFAULT '',
    reset_url   TEXT    NOT NULL DEFAULT '',
    invite_url  TEXT    NOT NULL DEFAULT '',
    delivery    TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;
