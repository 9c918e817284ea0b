-- Names typed into a public registration that may log in before
-- confirming (seed 002) are kept on the customer at once; until the
-- address is confirmed, or a back office sets them, mail does not greet
-- the address's owner with them.
ALTER TABLE customers ADD COLUMN names_unconfirmed boolean NOT NULL DEFAULT false;
