-- Names typed into a public registration that may log in before
-- confirming (seed 002) are kept on the customer at once; until the
-- address is confirmed, or a back office sets them, mail does not greet
-- the address's owner with them.
ALTER TABLE customers ADD COLUMN names_unconfirmed boolean NOT NULL DEFAULT false;
-- Customers who registered themselves before this migration and have not
-- confirmed yet may carry a stranger's names: leave them out of mail too,
-- as the rule before it did for mail a public caller asked for.
UPDATE customers SET names_unconfirmed = true WHERE email_confirmed_at IS NULL AND (first_name <> '' OR last_name <> '');
