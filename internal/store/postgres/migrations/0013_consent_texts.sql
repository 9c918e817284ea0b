-- Versioned consent texts per tenant (and optionally per application,
-- app_id 0: the tenant's), one row per version and language. A text that
-- was shown to a registrant (shown_at set) never changes: a new text is a
-- new version. Opt-in proofs name the version and the text's SHA-256.
CREATE TABLE consent_texts (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id  bigint NOT NULL REFERENCES tenants (id),
	app_id     bigint NOT NULL DEFAULT 0,
	version    text NOT NULL,
	lang       text NOT NULL,
	text       text NOT NULL,
	text_hash  bytea NOT NULL,
	created_at timestamptz NOT NULL,
	shown_at   timestamptz,
	UNIQUE (tenant_id, app_id, version, lang)
);
