package store

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Purging: each method deletes at most limit rows, in one statement that is
// its own short transaction, and returns how many it deleted. The retention
// job (internal/retention) calls them until a call deletes fewer than limit,
// so other writers get SQLite's single write lock between two batches instead
// of waiting behind one long delete. Each picks its rows through an index
// (migration 0008), so a call with nothing to delete costs a seek.

// purge deletes up to limit rows of table picked by the inner query, which
// selects ids and ends with "LIMIT ?".
// still, when not empty, repeats the inner query's condition on the rows
// deleted: on PostgreSQL a row changed by another transaction while the
// delete waited for it is checked again against the outer WHERE only (a
// webhook retried by hand meanwhile is pending again and must stay).
func (s *Store) purge(ctx context.Context, what, table, still, pick string, args ...any) (int64, error) {
	if still != "" {
		still = " AND " + still
	}
	res, err := s.wdb.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE id IN (`+pick+`)`+still), args...)
	if err != nil {
		return 0, fmt.Errorf("store: purge %s: %w", what, mapErr(err))
	}
	return res.RowsAffected()
}

// PurgeEvents deletes up to limit operation-log entries written before before,
// oldest first.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	// An entry its connection's errors point at (errors[].log_id: why the
	// connection is failing) is kept however old, as long as the connection
	// points at it; two index lookups per old entry find out.
	return s.purge(ctx, "events", "events", "", `SELECT id FROM events WHERE at < ?
		AND NOT EXISTS (SELECT 1 FROM integrations i JOIN connections c ON c.integration_id = i.id AND c.connection_id = events.connection_id
			WHERE i.environment_id = events.environment_id AND i.unique_key = events.integration_key
			AND c.errors LIKE '%"log_id":"' || events.id || '"%')
		ORDER BY at LIMIT ?`, ms(before), limit)
}

// PurgeWebhooks deletes up to limit webhook deliveries that finished
// (delivered, or given up on) before before, with their attempts (the
// foreign key cascades). A delivery still pending or being retried is never
// deleted, however old.
func (s *Store) PurgeWebhooks(ctx context.Context, before time.Time, limit int) (int64, error) {
	const finished = `(delivered_at IS NOT NULL OR failed_at IS NOT NULL)`
	return s.purge(ctx, "webhook deliveries", "webhook_outbox", finished, `SELECT id FROM webhook_outbox
		WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) AND COALESCE(delivered_at, failed_at) < ?
		ORDER BY COALESCE(delivered_at, failed_at) LIMIT ?`, ms(before), limit)
}

// PurgeSessions deletes up to limit connect sessions that expired before before.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	return s.purge(ctx, "connect sessions", "connect_sessions", "", `SELECT id FROM connect_sessions WHERE expires_at < ? ORDER BY expires_at LIMIT ?`, ms(before), limit)
}

// PurgeAudit deletes up to limit audit entries (of every environment) written
// before before. The retention job calls it with now - LATCHKEY_EVENT_RETENTION.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time, limit int) (int64, error) {
	return s.purge(ctx, "audit entries", "audit_log", "", `SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?`, ms(before), limit)
}

// PurgeConsoleSessions deletes up to limit console sessions past their
// absolute expiry at now or idle since before idleBefore.
func (s *Store) PurgeConsoleSessions(ctx context.Context, now, idleBefore time.Time, limit int) (int64, error) {
	return s.purge(ctx, "console sessions", "console_sessions", "", `SELECT id FROM console_sessions WHERE expires_at <= ? OR last_seen_at < ? LIMIT ?`,
		ms(now), ms(idleBefore), limit)
}

// Reclaimed says what Reclaim gave back to the file system.
type Reclaimed struct {
	// Pages is how many free pages were cut off the database file.
	Pages int64
	// SizeBefore and SizeAfter are the sizes of the database file and its
	// write-ahead log together, in bytes.
	SizeBefore, SizeAfter int64
}

// incrementalVacuum is SQLite's auto_vacuum mode that keeps the free pages'
// list so that PRAGMA incremental_vacuum can cut them off the file.
const incrementalVacuum = 2

// NeedsVacuumConversion is true for a SQLite file made before latchkey set
// auto_vacuum=INCREMENTAL (at creation, in OpenSQLite): Reclaim cannot cut
// its free pages off until ConvertForReclaim has run once.
func (s *Store) NeedsVacuumConversion(ctx context.Context) (bool, error) {
	if s.dialect != "sqlite" {
		return false, nil
	}
	var mode int64
	if err := s.wdb.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return false, fmt.Errorf("store: auto_vacuum: %w", mapErr(err))
	}
	return mode != incrementalVacuum, nil
}

// ConvertForReclaim converts an old SQLite file to incremental auto-vacuum
// with one VACUUM, which rewrites the file (it needs as much free disk as the
// file's size) and holds the write lock until it ends: about 15 s for 300 MB
// on a busy 2-core machine. latchkey serve runs it once at start, before it
// answers anything, so no request waits behind it. Killed midway, the file
// stays as it was and the next start converts it.
func (s *Store) ConvertForReclaim(ctx context.Context) error {
	if _, err := s.wdb.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return fmt.Errorf("store: convert to incremental vacuum: %w", mapErr(err))
	}
	if _, err := s.wdb.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("store: convert to incremental vacuum: %w", mapErr(err))
	}
	return nil
}

// Reclaim gives the space freed by purges back to the file system. On SQLite
// it cuts the free pages off the end of the file, step pages at a time (each
// step a short write of its own), then checkpoints the write-ahead log and
// truncates it. A file not yet converted (NeedsVacuumConversion) keeps its
// free pages for new rows and only has its log truncated: Reclaim never runs
// the VACUUM that would hold every writer back.
// On PostgreSQL it does nothing: autovacuum makes the deleted rows' space
// reusable, and the tables stop growing.
func (s *Store) Reclaim(ctx context.Context, step int) (Reclaimed, error) {
	var out Reclaimed
	if s.dialect != "sqlite" {
		return out, nil
	}
	out.SizeBefore = s.fileSize()
	old, err := s.NeedsVacuumConversion(ctx)
	if err != nil {
		return out, err
	}
	for !old {
		var free int64
		if err := s.wdb.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return out, fmt.Errorf("store: reclaim: %w", mapErr(err))
		}
		if free == 0 {
			break
		}
		n := min(free, int64(step))
		if _, err := s.wdb.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, n)); err != nil {
			return out, fmt.Errorf("store: reclaim: %w", mapErr(err))
		}
		out.Pages += n
	}
	// The log holds the pages the purges and the vacuum wrote; copying them
	// into the file and emptying it is what makes the file shrink on disk.
	var busy, logged, copied int64
	if err := s.wdb.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &copied); err != nil {
		return out, fmt.Errorf("store: reclaim: checkpoint: %w", mapErr(err))
	}
	out.SizeAfter = s.fileSize()
	return out, nil
}

// fileSize is the size of the SQLite file and its log (0 when unknown).
func (s *Store) fileSize() int64 {
	if s.path == "" {
		return 0
	}
	var n int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// Size is the database's size in bytes: the SQLite file and its log, or on
// PostgreSQL the tables of latchkey's schema with their indexes and TOAST.
func (s *Store) Size(ctx context.Context) (int64, error) {
	if s.dialect == "sqlite" {
		return s.fileSize(), nil
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: size: %w", mapErr(err))
	}
	return n, nil
}
