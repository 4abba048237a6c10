package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// InsertEvent appends to the operation log.
func (s *Store) InsertEvent(ctx context.Context, e *domain.Event) error {
	return s.insertEvent(ctx, s.wdb, e)
}

// insertEvent writes e through db: the write pool, or a transaction's
// txExecer.
func (s *Store) insertEvent(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, e *domain.Event) error {
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	_, err := db.ExecContext(ctx, s.q(`INSERT INTO events (environment_id, integration_key, connection_id, kind, outcome, code, message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		e.EnvironmentID, e.IntegrationKey, e.ConnectionID, e.Kind, e.Outcome, e.Code, e.Message, ms(at))
	if err != nil {
		return fmt.Errorf("store: insert event: %w", mapErr(err))
	}
	return nil
}

// ListEvents returns the operation log of one connection (or of the whole
// environment when integrationKey is empty), newest first, before the id beforeID
// when it is positive.
func (s *Store) ListEvents(ctx context.Context, envID int64, integrationKey, connectionID string, beforeID int64, limit int) ([]*domain.Event, error) {
	query := `SELECT id, environment_id, integration_key, connection_id, kind, outcome, code, message, at FROM events WHERE environment_id = ?`
	args := []any{envID}
	if integrationKey != "" {
		query += ` AND integration_key = ? AND connection_id = ?`
		args = append(args, integrationKey, connectionID)
	}
	if beforeID > 0 {
		query += ` AND id < ?`
		args = append(args, beforeID)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	return readAll(ctx, s, "list events", query, func(row interface{ Scan(...any) error }) (*domain.Event, error) {
		var e domain.Event
		var at int64
		if err := row.Scan(&e.ID, &e.EnvironmentID, &e.IntegrationKey, &e.ConnectionID, &e.Kind, &e.Outcome, &e.Code, &e.Message, &at); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		return &e, nil
	}, args...)
}

// InsertEvents appends several events in one transaction, many rows per
// statement (the proxy logs every call, so this is the busiest write path).
func (s *Store) InsertEvents(ctx context.Context, events []*domain.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for len(events) > 0 {
			// Statements of 100, 10 or 1 rows: three texts, whatever the
			// batch's size, so that PostgreSQL's statement cache keeps them.
			n := 1
			for _, size := range []int{100, 10} {
				if len(events) >= size {
					n = size
					break
				}
			}
			chunk := events[:n]
			events = events[len(chunk):]
			var b strings.Builder
			b.WriteString(`INSERT INTO events (environment_id, integration_key, connection_id, kind, outcome, code, message, at) VALUES `)
			args := make([]any, 0, len(chunk)*8)
			for i, e := range chunk {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
				at := e.At
				if at.IsZero() {
					at = s.now()
				}
				args = append(args, e.EnvironmentID, e.IntegrationKey, e.ConnectionID, e.Kind, e.Outcome, e.Code, e.Message, ms(at))
			}
			if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
				return err
			}
		}
		return nil
	})
}
