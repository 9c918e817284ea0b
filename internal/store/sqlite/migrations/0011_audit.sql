-- The audit log: security events per tenant in a hash chain. An event's
-- hash covers its header (seq, time, type, actor, outcome), the hash of
-- its body (customer, client address, detail) and the previous event's
-- hash; erasing a customer clears the body of its events and sets erased,
-- keeping body_hash, so the chain still verifies. audit_heads holds each
-- tenant's last seq and hash (taken under its row lock, which orders the
-- chain) and where pruning cut it.
CREATE TABLE audit_heads (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id),
    seq       INTEGER NOT NULL,
    hash      BLOB    NOT NULL,
    cut_seq   INTEGER NOT NULL DEFAULT 0,
    cut_hash  BLOB    NOT NULL DEFAULT x''
) STRICT;

CREATE TABLE audit_events (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id),
    seq            INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    outcome        TEXT    NOT NULL,
    customer_id    INTEGER NOT NULL DEFAULT 0,
    client_address TEXT    NOT NULL DEFAULT '',
    detail         TEXT    NOT NULL DEFAULT '{}',
    erased         INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
    body_hash      BLOB    NOT NULL,
    prev_hash      BLOB    NOT NULL,
    hash           BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) STRICT;
CREATE INDEX audit_events_customer ON audit_events (tenant_id, customer_id, seq);
CREATE INDEX audit_events_at ON audit_events (tenant_id, at);
