package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Pools names the database/sql pools in use, for their statistics: on SQLite
// a read pool and the single-connection write pool, on PostgreSQL one pool.
func (s *Store) Pools() map[string]*sql.DB {
	if s.db == s.wdb {
		return map[string]*sql.DB{s.dialect: s.db}
	}
	return map[string]*sql.DB{s.dialect + "_read": s.db, s.dialect + "_write": s.wdb}
}

// WebhookQueue counts the deliveries still pending (neither delivered nor
// abandoned) in every environment, and says when the oldest was queued (zero
// when there is none). It reads the outbox's partial index of pending rows.
func (s *Store) WebhookQueue(ctx context.Context) (int64, time.Time, error) {
	var n int64
	var oldest sql.NullInt64
	err := s.readRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL`).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: webhook queue: %w", mapErr(err))
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, fromMS(oldest.Int64), nil
}
