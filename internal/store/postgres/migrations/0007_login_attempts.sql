-- Attempts being checked, apart from failures: a login counts before its
-- password is checked, but only a wrong one is a failure. pending_at is
-- the newest reservation; reservations older than a minute are stale
-- (their checker died) and start over.
ALTER TABLE login_failures ADD COLUMN pending integer NOT NULL DEFAULT 0;
ALTER TABLE login_failures ADD COLUMN pending_at timestamptz NOT NULL DEFAULT '-infinity';
