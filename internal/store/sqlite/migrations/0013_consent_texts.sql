-- Versioned consent texts per tenant (and optionally per application,
-- app_id 0: the tenant's), one row per version and language. A text that
-- was shown to a registrant (shown_at set) never changes: a new text is a
-- new version. Opt-in proofs name the version and the text's SHA-256.
CREATE TABLE consent_texts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    app_id     INTEGER NOT NULL DEFAULT 0,
    version    TEXT    NOT NULL,
    lang       TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    text_hash  BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    shown_at   INTEGER,
    UNIQUE (tenant_id, app_id, version, lang)
) STRICT;
