-- Webhook endpoints of a tenant and the deliveries of events to them, an
-- outbox written in the transaction of the change each event reports.
-- secret and payload are sealed under a key derived from the server
-- secret; a delivery's payload is erased once it is delivered or failed.
CREATE TABLE webhook_endpoints (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id     bigint NOT NULL REFERENCES tenants (id),
	url           text NOT NULL,
	events        text NOT NULL,
	description   text NOT NULL DEFAULT '',
	secret        bytea NOT NULL,
	enabled       boolean NOT NULL DEFAULT true,
	failing_since timestamptz,
	disabled_why  text NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

CREATE TABLE webhook_deliveries (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id       bigint NOT NULL,
	endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	customer_id     bigint NOT NULL DEFAULT 0,
	event_id        text NOT NULL,
	type            text NOT NULL,
	payload         bytea,
	status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	lease_owner     text NOT NULL DEFAULT '',
	lease_until     timestamptz,
	response_status integer NOT NULL DEFAULT 0,
	last_error      text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	finished_at     timestamptz,
	UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, customer_id, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE status <> 'pending';
