-- What a customer's list of sessions shows: whether the login asked to be
-- remembered, the client's address as the tenant keeps it (full, a
-- network, or empty) and a device label such as "Firefox on Windows".
-- Sessions from before keep their lifetimes: expires_at and idle_seconds
-- were stored with each.
ALTER TABLE sessions ADD COLUMN remembered INTEGER NOT NULL DEFAULT 0 CHECK (remembered IN (0, 1));
ALTER TABLE sessions ADD COLUMN client_address TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
