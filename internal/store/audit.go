package store

import (
	"context"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// InsertAudit appends an entry to the audit trail.
func (s *Store) InsertAudit(ctx context.Context, e *domain.AuditEntry) error {
	if err := s.insertAudit(s.wrow(ctx), e); err != nil {
		return fmt.Errorf("store: insert audit entry: %w", mapErr(err))
	}
	return nil
}

func (s *Store) insertAudit(row rowFunc, e *domain.AuditEntry) error {
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	err := row(`INSERT INTO audit_log (environment_id, secret_key_id, via, action, target, detail, client, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.EnvironmentID, e.SecretKeyID, e.Via, e.Action, e.Target, e.Detail, e.Client, ms(at)).Scan(&e.ID)
	if err != nil {
		return err
	}
	e.At = fromMS(ms(at))
	return nil
}

// ListAudit pages through an environment's audit trail, newest first.
func (s *Store) ListAudit(ctx context.Context, envID int64, f domain.AuditFilter) ([]*domain.AuditEntry, error) {
	q := `SELECT id, environment_id, secret_key_id, via, action, target, detail, client, at FROM audit_log WHERE environment_id = ?`
	args := []any{envID}
	if f.Action != "" {
		q += ` AND action = ?`
		args = append(args, f.Action)
	}
	if f.BeforeID > 0 {
		q += ` AND id < ?`
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", mapErr(err))
	}
	defer rows.Close()
	out := []*domain.AuditEntry{}
	for rows.Next() {
		var e domain.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.EnvironmentID, &e.SecretKeyID, &e.Via, &e.Action, &e.Target, &e.Detail, &e.Client, &at); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, &e)
	}
	return out, rows.Err()
}
