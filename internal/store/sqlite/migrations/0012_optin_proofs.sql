-- The proof of each double opt-in: the request (time, client address as
-- the tenant keeps it, user agent, channel, consent text version and the
-- SHA-256 of its text), the confirmation mail (its outbox row, Message-ID
-- and when the SMTP server accepted it) and the confirmation (time,
-- address, agent). Rows go with their customer.
CREATE TABLE optin_proofs (
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
    confirm_agent    TEXT    NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX optin_proofs_customer ON optin_proofs (tenant_id, customer_id);
CREATE INDEX optin_proofs_token ON optin_proofs (tenant_id, token_id);
CREATE INDEX optin_proofs_mail ON optin_proofs (mail_id);
