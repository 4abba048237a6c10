-- Health checks claim the connections due, longest overdue first: this index
-- is in that order (the first of next check, last verification, creation that
-- is set), so a claim reads the rows it takes instead of sorting every
-- connection. It replaces the index on next_check_at alone.
DROP INDEX connections_next_check;
CREATE INDEX connections_check_due ON connections ((COALESCE(next_check_at, last_verified_at, created_at)), id);
