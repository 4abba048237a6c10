package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, msgs []domain.OutboxMessage) error {
	now := ms(s.now())
	for _, m := range msgs {
		next := now
		if !m.NextAttemptAt.IsZero() {
			next = ms(m.NextAttemptAt)
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO webhook_outbox (environment_id, url, target, event_type, connection_id, body, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			m.EnvironmentID, m.URL, domain.WebhookTarget(m.URL), m.EventType, m.ConnectionID, string(m.Body), next, now); err != nil {
			return err
		}
	}
	return nil
}

// EnqueueWebhooks writes outbox rows on their own (for changes with no row of their own).
func (s *Store) EnqueueWebhooks(ctx context.Context, msgs []domain.OutboxMessage) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.enqueue(ctx, tx, msgs) })
}

const outboxColumns = `id, environment_id, url, target, event_type, connection_id, body, attempts, next_attempt_at, delivered_at, failed_at, last_status, last_error, created_at`

func scanOutbox(row interface{ Scan(...any) error }) (*domain.OutboxMessage, error) {
	var m domain.OutboxMessage
	var body string
	var next, created int64
	var delivered, failed, status sql.NullInt64
	if err := row.Scan(&m.ID, &m.EnvironmentID, &m.URL, &m.Target, &m.EventType, &m.ConnectionID, &body, &m.Attempts, &next, &delivered, &failed, &status, &m.LastError, &created); err != nil {
		return nil, mapErr(err)
	}
	m.Body = []byte(body)
	m.NextAttemptAt, m.CreatedAt = fromMS(next), fromMS(created)
	m.DeliveredAt, m.FailedAt = fromNullMS(delivered), fromNullMS(failed)
	m.LastStatus = int(status.Int64)
	return &m, nil
}

// ClaimWebhooks takes up to limit due messages, oldest first, for this
// dispatcher (ClaimWebhooksFor with no limit per target).
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*domain.OutboxMessage, error) {
	return s.ClaimWebhooksFor(ctx, now, lease, limit, limit, nil, nil)
}

// ClaimWebhooksFor takes up to limit due messages for this dispatcher, oldest
// first, at most perTarget of them for any one target, none for the targets
// in skip, and, when only is not nil, only for the targets in only. It counts
// the attempt and leases each row until now+lease, so another dispatcher (or
// instance) skips it; a crashed dispatcher's lease simply runs out. The lease
// condition is checked again in the UPDATE itself, so two claimers never both
// get a row.
//
// The per-target limit applies among the oldest limit×perTarget due rows
// (at most 256, or limit if more) that pass skip and only: a target with more
// due than that is taken up to perTarget now, and the dispatcher then skips
// it while it is busy, which lets the next claim see past it.
func (s *Store) ClaimWebhooksFor(ctx context.Context, now time.Time, lease time.Duration, limit, perTarget int, skip, only []string) ([]*domain.OutboxMessage, error) {
	if limit <= 0 || perTarget <= 0 || (only != nil && len(only) == 0) {
		return nil, nil
	}
	var out []*domain.OutboxMessage
	err := s.tx(ctx, func(tx *sql.Tx) error {
		args := []any{ms(now.Add(lease)), ms(now), ms(now)}
		filter := ""
		// The lists travel as one JSON parameter each, so the statement's
		// text is one of four whatever their lengths.
		if len(skip) > 0 {
			filter += ` AND NOT ` + s.inJSONArray("target")
			args = append(args, mustJSON(skip))
		}
		if len(only) > 0 {
			filter += ` AND ` + s.inJSONArray("target")
			args = append(args, mustJSON(only))
		}
		lock := ""
		if s.dialect == "postgres" {
			lock = ` FOR UPDATE SKIP LOCKED`
		}
		args = append(args, min(limit*perTarget, max(limit, 256)), perTarget, limit, ms(now))
		rows, err := tx.QueryContext(ctx, s.q(`UPDATE webhook_outbox SET attempts = attempts + 1, locked_until = ?
			WHERE id IN (SELECT id FROM (
				SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY target ORDER BY next_attempt_at, id) AS n FROM (
					SELECT id, target, next_attempt_at FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?
						AND (locked_until IS NULL OR locked_until < ?)`+filter+` ORDER BY next_attempt_at, id LIMIT ?`+lock+`) AS due
				) AS ranked WHERE n <= ? ORDER BY next_attempt_at, id LIMIT ?)
			AND delivered_at IS NULL AND failed_at IS NULL AND (locked_until IS NULL OR locked_until < ?)
			RETURNING `+outboxColumns), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanOutbox(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim webhooks: %w", err)
	}
	return out, nil
}

// CompleteWebhook records an attempt and the message's new state, and releases the lease.
func (s *Store) CompleteWebhook(ctx context.Context, id int64, o domain.WebhookOutcome) error {
	a := o.Attempt
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO webhook_attempts (outbox_id, attempt, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)`),
			id, a.Attempt, ms(a.At), sql.NullInt64{Int64: int64(a.Status), Valid: a.Status != 0}, a.Error, a.Duration.Milliseconds()); err != nil {
			return err
		}
		sets := []string{`locked_until = NULL`, `last_status = ?`, `last_error = ?`}
		args := []any{sql.NullInt64{Int64: int64(a.Status), Valid: a.Status != 0}, a.Error}
		switch {
		case o.Delivered:
			sets = append(sets, `delivered_at = ?`)
			args = append(args, ms(a.At))
		case o.Next != nil:
			sets = append(sets, `next_attempt_at = ?`)
			args = append(args, ms(*o.Next))
		default:
			sets = append(sets, `failed_at = ?`)
			args = append(args, ms(a.At))
		}
		args = append(args, id)
		_, err := tx.ExecContext(ctx, s.q(`UPDATE webhook_outbox SET `+strings.Join(sets, ", ")+` WHERE id = ?`), args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: complete webhook %d: %w", id, err)
	}
	return nil
}

// ListWebhooks pages through an environment's deliveries, newest first.
// status is "", "pending", "delivered" or "failed".
func (s *Store) ListWebhooks(ctx context.Context, envID int64, status string, beforeID int64, limit int) ([]*domain.OutboxMessage, error) {
	q := `SELECT ` + outboxColumns + ` FROM webhook_outbox WHERE environment_id = ?`
	args := []any{envID}
	switch status {
	case "pending":
		q += ` AND delivered_at IS NULL AND failed_at IS NULL`
	case "delivered":
		q += ` AND delivered_at IS NOT NULL`
	case "failed":
		q += ` AND failed_at IS NOT NULL`
	}
	if beforeID > 0 {
		q += ` AND id < ?`
		args = append(args, beforeID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	return readAll(ctx, s, "list webhooks", q, scanOutbox, args...)
}

// Webhook loads one delivery with its attempts.
func (s *Store) Webhook(ctx context.Context, envID, id int64) (*domain.OutboxMessage, error) {
	m, err := scanOutbox(s.readRow(ctx, `SELECT `+outboxColumns+` FROM webhook_outbox WHERE environment_id = ? AND id = ?`, envID, id))
	if err != nil {
		return nil, fmt.Errorf("store: webhook %d: %w", id, err)
	}
	rows, err := s.read(ctx, `SELECT attempt, at, status, error, duration_ms FROM webhook_attempts WHERE outbox_id = ? ORDER BY attempt`, id)
	if err != nil {
		return nil, fmt.Errorf("store: webhook attempts: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var a domain.WebhookAttempt
		var at, dur int64
		var status sql.NullInt64
		if err := rows.Scan(&a.Attempt, &at, &status, &a.Error, &dur); err != nil {
			return nil, err
		}
		a.At, a.Status, a.Duration = fromMS(at), int(status.Int64), time.Duration(dur)*time.Millisecond
		m.AttemptLog = append(m.AttemptLog, a)
	}
	return m, rows.Err()
}

// RetryWebhook makes a failed or pending delivery due now.
func (s *Store) RetryWebhook(ctx context.Context, envID, id int64) error {
	res, err := s.wdb.ExecContext(ctx, s.q(`UPDATE webhook_outbox SET failed_at = NULL, next_attempt_at = ?, locked_until = NULL WHERE environment_id = ? AND id = ? AND delivered_at IS NULL`),
		ms(s.now()), envID, id)
	if err != nil {
		return fmt.Errorf("store: retry webhook: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: retry webhook %d: %w", id, domain.ErrNotFound)
	}
	return nil
}
