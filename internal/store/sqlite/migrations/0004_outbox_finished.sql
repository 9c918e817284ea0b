-- The hourly purge deletes finished mail by finished_at.
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'unsent';
