-- The proof of each double opt-in: the request (time, client address as
-- the tenant keeps it, user agent, channel, consent text version and the
-- SHA-256 of its text), the confirmation mail (its outbox row, Message-ID
-- and when the SMTP server accepted it) and the confirmation (time,
-- address, agent). Rows go with their customer.
CREATE TABLE optin_proofs (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id        bigint NOT NULL,
	customer_id      bigint NOT NULL,
	token_id         bigint NOT NULL,
	kind             text NOT NULL,
	channel          text NOT NULL,
	requested_at     timestamptz NOT NULL,
	request_address  text NOT NULL DEFAULT '',
	request_agent    text NOT NULL DEFAULT '',
	consent_version  text NOT NULL DEFAULT '',
	consent_lang     text NOT NULL DEFAULT '',
	consent_hash     bytea NOT NULL DEFAULT '',
	mail_id          bigint NOT NULL DEFAULT 0,
	message_id       text NOT NULL DEFAULT '',
	mail_accepted_at timestamptz,
	confirmed_at     timestamptz,
	confirm_address  text NOT NULL DEFAULT '',
	confirm_agent    text NOT NULL DEFAULT '',
	FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX optin_proofs_customer ON optin_proofs (tenant_id, customer_id);
CREATE INDEX optin_proofs_token ON optin_proofs (tenant_id, token_id);
CREATE INDEX optin_proofs_mail ON optin_proofs (mail_id);
