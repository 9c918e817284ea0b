-- 0002_outbox: the transactional outbox and the tenants' applications
-- (docs/schema.md), with the same keys and indexes as SQLite's.
--
-- outbox.customer_id is 0 for a mail without a customer and has no foreign
-- key: the row, and with it the record of what was sent, outlives a
-- customer who is erased. sealed holds the encrypted envelope and is NULL
-- once the mail is sent or has failed.

CREATE TABLE outbox (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id       bigint NOT NULL,
	customer_id     bigint NOT NULL DEFAULT 0,
	kind            text NOT NULL,
	locale          text NOT NULL DEFAULT '',
	message_id      text NOT NULL UNIQUE,
	status          text NOT NULL CHECK (status IN ('unsent', 'sent', 'failed')),
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	lease_owner     text NOT NULL DEFAULT '',
	lease_until     timestamptz,
	last_error      text NOT NULL DEFAULT '',
	sealed          bytea,
	created_at      timestamptz NOT NULL,
	finished_at     timestamptz
);
-- ClaimMail looks for due mails among the unsent ones only.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'unsent';
-- ListMail pages a tenant's mails newest first.
CREATE INDEX outbox_tenant ON outbox (tenant_id, id);
-- CountMail counts a customer's recent mails of some kinds.
CREATE INDEX outbox_customer_kind ON outbox (tenant_id, customer_id, kind, created_at);

CREATE TABLE applications (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id   bigint NOT NULL,
	name        text NOT NULL DEFAULT '',
	endpoint    text NOT NULL DEFAULT '',
	confirm_url text NOT NULL DEFAULT '',
	reset_url   text NOT NULL DEFAULT '',
	invite_url  text NOT NULL DEFAULT '',
	delivery    text NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	UNIQUE (tenant_id, name)
);
