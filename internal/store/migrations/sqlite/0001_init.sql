-- latchkey schema, SQLite dialect. Times are Unix milliseconds (UTC).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE environments (
    id                    INTEGER PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    secret_key_hash       TEXT NOT NULL UNIQUE,
    webhook_url           TEXT NOT NULL DEFAULT '',
    webhook_secondary_url TEXT NOT NULL DEFAULT '',
    webhook_signing_key   TEXT NOT NULL DEFAULT '',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE integrations (
    id               INTEGER PRIMARY KEY,
    environment_id   INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    unique_key       TEXT NOT NULL,
    provider         TEXT NOT NULL,
    display_name     TEXT NOT NULL DEFAULT '',
    forward_webhooks INTEGER NOT NULL DEFAULT 1,
    config           TEXT NOT NULL DEFAULT '{}',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (environment_id, unique_key)
);

CREATE TABLE connect_sessions (
    id                      INTEGER PRIMARY KEY,
    environment_id          INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    token_hash              TEXT NOT NULL UNIQUE,
    end_user                TEXT,
    allowed_integrations    TEXT NOT NULL DEFAULT '[]',
    config_defaults         TEXT NOT NULL DEFAULT '{}',
    overrides               TEXT NOT NULL DEFAULT '{}',
    webhook_url_override    TEXT NOT NULL DEFAULT '',
    tags                    TEXT NOT NULL DEFAULT '{}',
    reconnect_integration   TEXT NOT NULL DEFAULT '',
    reconnect_connection_id TEXT NOT NULL DEFAULT '',
    expires_at              INTEGER NOT NULL,
    created_at              INTEGER NOT NULL
);
CREATE INDEX connect_sessions_expires_at ON connect_sessions (expires_at);

CREATE TABLE connections (
    id                        INTEGER PRIMARY KEY,
    environment_id            INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    integration_id            INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    connection_id             TEXT NOT NULL,
    provider                  TEXT NOT NULL,
    connection_config         TEXT NOT NULL DEFAULT '{}',
    credentials               TEXT NOT NULL,
    credentials_key_id        TEXT NOT NULL,
    metadata                  TEXT,
    end_user_id               TEXT NOT NULL DEFAULT '',
    end_user_email            TEXT NOT NULL DEFAULT '',
    end_user_display_name     TEXT NOT NULL DEFAULT '',
    end_user_org_id           TEXT NOT NULL DEFAULT '',
    end_user_org_display_name TEXT NOT NULL DEFAULT '',
    end_user_tags             TEXT NOT NULL DEFAULT '{}',
    has_end_user              INTEGER NOT NULL DEFAULT 0,
    tags                      TEXT NOT NULL DEFAULT '{}',
    webhook_url_override      TEXT NOT NULL DEFAULT '',
    status                    TEXT NOT NULL DEFAULT 'ok',
    errors                    TEXT NOT NULL DEFAULT '[]',
    warnings                  TEXT NOT NULL DEFAULT '[]',
    last_verified_at          INTEGER,
    credentials_expires_at    INTEGER,
    last_fetched_at           INTEGER,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    UNIQUE (integration_id, connection_id)
);
CREATE INDEX connections_env_created ON connections (environment_id, created_at DESC, id DESC);
CREATE INDEX connections_end_user ON connections (environment_id, end_user_id);
CREATE INDEX connections_key_id ON connections (credentials_key_id);

CREATE TABLE connection_tags (
    connection_pk INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (connection_pk, key)
);
CREATE INDEX connection_tags_kv ON connection_tags (key, value);

CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    integration_key TEXT NOT NULL DEFAULT '',
    connection_id   TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    code            TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    at              INTEGER NOT NULL
);
CREATE INDEX events_connection ON events (environment_id, integration_key, connection_id, id DESC);
