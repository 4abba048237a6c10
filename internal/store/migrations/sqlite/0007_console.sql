-- Secret keys: an environment has one or more, so a key is replaced without
-- downtime (create a second key, move the clients to it, revoke the first).
-- Only digests are stored. The key each environment had moves here;
-- environments.secret_key_hash is read no more and keeps a placeholder
-- (SQLite cannot drop a UNIQUE column).
CREATE TABLE secret_keys (
    id             INTEGER PRIMARY KEY,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    digest         TEXT NOT NULL UNIQUE,
    label          TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    revoked_at     INTEGER
);
CREATE INDEX secret_keys_env ON secret_keys (environment_id, id);
INSERT INTO secret_keys (environment_id, digest, label, created_at)
    SELECT id, secret_key_hash, 'first key', created_at FROM environments;
UPDATE environments SET secret_key_hash = 'moved to secret_keys: ' || name;

-- Operators signed in to the console; the cookie holds a random token, this
-- table its digest. A session ends with its key's revocation.
CREATE TABLE console_sessions (
    id             INTEGER PRIMARY KEY,
    digest         TEXT NOT NULL UNIQUE,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    secret_key_id  INTEGER NOT NULL REFERENCES secret_keys(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX console_sessions_key ON console_sessions (secret_key_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- The audit trail: operator actions, by secret key id, through the API or
-- the console. Kept as long as the operation log (LATCHKEY_EVENT_RETENTION).
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    secret_key_id  INTEGER NOT NULL,
    via            TEXT NOT NULL,
    action         TEXT NOT NULL,
    target         TEXT NOT NULL DEFAULT '',
    detail         TEXT NOT NULL DEFAULT '',
    client         TEXT NOT NULL DEFAULT '',
    at             INTEGER NOT NULL
);
CREATE INDEX audit_log_env ON audit_log (environment_id, id DESC);
CREATE INDEX audit_log_at ON audit_log (at);

-- The console filters connections by status among many, counts them by
-- status and health, lists those failing and expiring, and shows one
-- connection's webhook deliveries.
CREATE INDEX connections_env_status ON connections (environment_id, status, created_at DESC, id DESC);
CREATE INDEX connections_env_health ON connections (environment_id, status, consecutive_failures);
CREATE INDEX connections_env_expires ON connections (environment_id, credentials_expires_at);
CREATE INDEX webhook_outbox_connection ON webhook_outbox (environment_id, connection_id, id DESC);
