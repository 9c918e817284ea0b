-- Opt-in proofs no longer go with their customer's row: when the tenant
-- keeps proofs past an erasure (proof_retention), they stay, found by an
-- erasure record, and the service deletes them itself otherwise.
ALTER TABLE optin_proofs DROP CONSTRAINT optin_proofs_tenant_id_customer_id_fkey;
CREATE INDEX optin_proofs_unconfirmed ON optin_proofs (tenant_id, requested_at) WHERE confirmed_at IS NULL;

-- An erased customer whose proofs and audit events are kept until
-- keep_until; subject is an HMAC of the address under the server secret.
CREATE TABLE erasures (
	tenant_id   bigint NOT NULL,
	customer_id bigint NOT NULL,
	subject     text NOT NULL,
	erased_at   timestamptz NOT NULL,
	keep_until  timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX erasures_subject ON erasures (tenant_id, subject);
CREATE INDEX erasures_keep_until ON erasures (keep_until);
