-- An application may override some of its tenant's settings (the hosted
-- pages' branding, consent texts and return URLs), as a JSON object of
-- strings.
ALTER TABLE applications ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
