-- The address a customer last confirmed, kept while a back office's
-- change of address is unconfirmed: password mail goes there too, so that
-- changing the address and then resetting the password cannot take an
-- account over unseen. Empty otherwise, and always under email_storage=hmac.
ALTER TABLE customers ADD COLUMN previous_email text NOT NULL DEFAULT '';
