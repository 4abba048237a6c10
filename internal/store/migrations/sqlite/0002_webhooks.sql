-- Webhook outbox: rows are written in the same transaction as the connection
-- change they announce, then delivered by the dispatcher with retries.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    connection_id   TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_status     INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_outbox_env ON webhook_outbox (environment_id, id DESC);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES webhook_outbox(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_outbox ON webhook_attempts (outbox_id, attempt);
