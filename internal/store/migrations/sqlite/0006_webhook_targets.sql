-- Each outbox row names its receiver (scheme://host:port), so the dispatcher
-- can share its deliveries out by receiver: one slow receiver holds back only
-- its own messages. Rows already pending are keyed by their whole URL.
ALTER TABLE webhook_outbox ADD COLUMN target TEXT NOT NULL DEFAULT '';
UPDATE webhook_outbox SET target = url WHERE delivered_at IS NULL AND failed_at IS NULL;
