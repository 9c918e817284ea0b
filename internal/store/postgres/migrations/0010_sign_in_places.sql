-- Where each customer has logged in from, for the tenant setting
-- session.new_sign_in_mail: place is an HMAC under the server secret of
-- the device label and the client's /24 or /48 network, so the table
-- holds neither. Rows go with their customer.
CREATE TABLE sign_in_places (
	tenant_id     bigint NOT NULL,
	customer_id   bigint NOT NULL,
	place         bytea NOT NULL,
	first_seen_at timestamptz NOT NULL,
	last_seen_at  timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, customer_id, place),
	FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);
