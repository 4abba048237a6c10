-- Each outbox row names its receiver (scheme://host:port), so the dispatcher
-- can share its deliveries out by receiver: one slow receiver holds back only
-- its own messages. Rows already pending are keyed by their whole URL.
ALTER TABLE webhook_outbox ADD COLUMN target TEXT NOT NULL DEFAULT '';
UPDATE webhook_outbox SET target = url WHERE delivered_at IS NULL AND failed_at IS NULL;
-- Claims for given receivers seek by receiver; claims for the others walk the
-- due rows in time order and read each row's receiver from the index, so a
-- busy receiver's backlog costs an index entry per claim, not a row.
CREATE INDEX webhook_outbox_target_due ON webhook_outbox (target, next_attempt_at, id) WHERE delivered_at IS NULL AND failed_at IS NULL;
DROP INDEX webhook_outbox_due;
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id, target, locked_until) WHERE delivered_at IS NULL AND failed_at IS NULL;
