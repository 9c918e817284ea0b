-- What a customer's list of sessions shows: whether the login asked to be
-- remembered, the client's address as the tenant keeps it (full, a
-- network, or empty) and a device label such as "Firefox on Windows".
-- Sessions from before keep their lifetimes: expires_at and idle_seconds
-- were stored with each.
ALTER TABLE sessions ADD COLUMN remembered boolean NOT NULL DEFAULT false;
ALTER TABLE sessions ADD COLUMN client_address text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN device text NOT NULL DEFAULT '';
