-- Leases: a background job that must run once across every instance holds
-- its lease row while it runs.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
