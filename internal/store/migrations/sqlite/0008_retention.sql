-- Retention: the purge job picks the oldest operation-log entries and the
-- webhook deliveries finished longest ago through these indexes, in batches,
-- so a run with nothing to delete costs a seek and a run with much to delete
-- never scans the table. Pending deliveries are not in the second index.
CREATE INDEX events_at ON events (at);
CREATE INDEX webhook_outbox_finished ON webhook_outbox (COALESCE(delivered_at, failed_at))
    WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;
