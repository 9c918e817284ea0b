-- Opt-in proofs no longer go with their customer's row: when the tenant
-- keeps proofs past an erasure (proof_retention), they stay, found by an
-- erasure record, and the service deletes them itself otherwise.
CREATE TABLE optin_proofs_kept (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        INTEGER NOT NULL,
    customer_id      INTEGER NOT NULL,
    token_id         INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    requested_at     INTEGER NOT NULL,
    request_address  TEXT    NOT NULL DEFAULT '',
    request_agent    TEXT    NOT NULL DEFAULT '',
    consent_version  TEXT    NOT NULL DEFAULT '',
    consent_lang     TEXT    NOT NULL DEFAULT '',
    consent_hash     BLOB    NOT NULL DEFAULT x'',
    mail_id          INTEGER NOT NULL DEFAULT 0,
    message_id       TEXT    NOT NULL DEFAULT '',
    mail_accepted_at INTEGER,
    confirmed_at     INTEGER,
    confirm_address  TEXT    NOT NULL DEFAULT '',
    confirm_agent    TEXT    NOT NULL DEFAULT ''
) STRICT;
INSERT INTO optin_proofs_kept SELECT * FROM optin_proofs;
DROP TABLE optin_proofs;
ALTER TABLE optin_proofs_kept RENAME TO optin_proofs;
CREATE INDEX optin_proofs_customer ON optin_proofs (tenant_id, customer_id);
CREATE INDEX optin_proofs_token ON optin_proofs (tenant_id, token_id);
CREATE INDEX optin_proofs_mail ON optin_proofs (mail_id);
CREATE INDEX optin_proofs_unconfirmed ON optin_proofs (tenant_id, requested_at) WHERE confirmed_at IS NULL;

-- An erased customer whose proofs and audit events are kept until
-- keep_until; subject is an HMAC of the address under the server secret.
CREATE TABLE erasures (
    tenant_id   INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    subject     TEXT    NOT NULL,
    erased_at   INTEGER NOT NULL,
    keep_until  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
) STRICT;
CREATE INDEX erasures_subject ON erasures (tenant_id, subject);
CREATE INDEX erasures_keep_until ON erasures (keep_until);
