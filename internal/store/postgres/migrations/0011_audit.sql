-- The audit log: security events per tenant in a hash chain. An event's
-- hash covers its header (seq, time, type, actor, outcome), the hash of
-- its body (customer, client address, detail) and the previous event's
-- hash; erasing a customer clears the body of its events and sets erased,
-- keeping body_hash, so the chain still verifies. audit_heads holds each
-- tenant's last seq and hash (taken under its row lock, which orders the
-- chain) and where pruning cut it.
CREATE TABLE audit_heads (
	tenant_id bigint PRIMARY KEY REFERENCES tenants (id),
	seq       bigint NOT NULL,
	hash      bytea NOT NULL,
	cut_seq   bigint NOT NULL DEFAULT 0,
	cut_hash  bytea NOT NULL DEFAULT ''
);

CREATE TABLE audit_events (
	tenant_id      bigint NOT NULL REFERENCES tenants (id),
	seq            bigint NOT NULL,
	at             timestamptz NOT NULL,
	type           text NOT NULL,
	actor          text NOT NULL,
	outcome        text NOT NULL,
	customer_id    bigint NOT NULL DEFAULT 0,
	client_address text NOT NULL DEFAULT '',
	detail         text NOT NULL DEFAULT '{}',
	erased         boolean NOT NULL DEFAULT false,
	body_hash      bytea NOT NULL,
	prev_hash      bytea NOT NULL,
	hash           bytea NOT NULL,
	PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_customer ON audit_events (tenant_id, customer_id, seq);
CREATE INDEX audit_events_at ON audit_events (tenant_id, at);
