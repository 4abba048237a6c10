-- Health checks claim the connections due, longest overdue first: this index
-- is in that order (the first of next check, last verification, creation that
-- is set), so a claim reads the rows it takes instead of sorting every
-- connection. It replaces the index on next_check_at alone, dropped last: on
-- PostgreSQL the drop locks the table out until the migration commits, and
-- the build before it only holds off writes.
CREATE INDEX connections_check_due ON connections ((COALESCE(next_check_at, last_verified_at, created_at)), id);
DROP INDEX connections_next_check;
