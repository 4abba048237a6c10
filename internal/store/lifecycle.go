package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// ClaimChecks leases up to limit connections due for re-verification: those whose
// next check time has passed (or, never scheduled, whose last verification is
// older than interval). The lease keeps other instances off them, so each is
// checked once per interval across the cluster.
func (s *Store) ClaimChecks(ctx context.Context, now time.Time, interval, lease time.Duration, limit int) ([]*domain.Connection, error) {
	skipLocked := ""
	if s.dialect == "postgres" {
		skipLocked = " FOR UPDATE SKIP LOCKED"
	}
	var out []*domain.Connection
	err := s.tx(ctx, func(tx *sql.Tx) error {
		query, args := claimQuery(now, interval, limit)
		rows, err := tx.QueryContext(ctx, s.q(query+skipLocked), args...)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET check_locked_until = ? WHERE id = ? AND (check_locked_until IS NULL OR check_locked_until < ?)`),
				ms(now.Add(lease)), id, ms(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			c, err := scanConnection(tx.QueryRowContext(ctx, s.q(`SELECT `+connectionColumns+connectionFrom+` WHERE c.id = ?`), id))
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim checks: %w", err)
	}
	return out, nil
}

// claimQuery picks the connections due for a check, longest overdue first.
// A connection is due at next_check_at, or, before its first check, an
// interval after it was verified (or created). Rows are read in the order of
// the connections_check_due index (migration 0010), whose key is the first of
// those times that is set; the key bound (never after now) ends the read at
// the first row not yet due, so a claim reads about as many rows as it takes,
// and a run with nothing due reads only the connections not checked yet.
func claimQuery(now time.Time, interval time.Duration, limit int) (string, []any) {
	return `SELECT id FROM connections
			WHERE COALESCE(next_check_at, last_verified_at, created_at) <= ?
			AND (next_check_at <= ? OR (next_check_at IS NULL AND COALESCE(last_verified_at, created_at) <= ?))
			AND (check_locked_until IS NULL OR check_locked_until < ?)
			ORDER BY COALESCE(next_check_at, last_verified_at, created_at), id LIMIT ?`,
		[]any{ms(now), ms(now), ms(now.Add(-interval)), ms(now), limit}
}

// ExplainClaimChecks returns the plan of ClaimChecks' query (tests, and
// docs/database.md).
func (s *Store) ExplainClaimChecks(ctx context.Context, now time.Time, interval time.Duration) (string, error) {
	query, args := claimQuery(now, interval, 200)
	return s.explain(ctx, query, args...)
}

// CompleteCheck records a check: status, warnings, failure count, next check,
// and, when the status turns failing, an operation-log entry referenced from the
// connection's errors; outbox messages go in the same transaction. applied is
// false, and nothing is written, when the connection's credentials are no
// longer those that were checked (c.SealedCredentials).
func (s *Store) CompleteCheck(ctx context.Context, c *domain.Connection, r domain.CheckResult, event *domain.Event, outbox []domain.OutboxMessage) (applied bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// The result is about the credentials that were checked: if they were
		// replaced (or the connection deleted) meanwhile, it says nothing about
		// the connection as it is now, and is dropped with its event and webhooks.
		lock := ""
		if s.dialect == "postgres" {
			lock = " FOR UPDATE"
		}
		var current string
		err := tx.QueryRowContext(ctx, s.q(`SELECT credentials FROM connections WHERE id = ?`+lock), c.ID).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && current != c.SealedCredentials) {
			return nil
		}
		if err != nil {
			return err
		}
		applied = true
		errs := []domain.ConnectionError{}
		if event != nil {
			var id int64
			if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO events (environment_id, integration_key, connection_id, kind, outcome, code, message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
				event.EnvironmentID, event.IntegrationKey, event.ConnectionID, event.Kind, event.Outcome, event.Code, event.Message, ms(s.now())).Scan(&id); err != nil {
				return err
			}
			if r.Status != domain.StatusOK && r.Status != domain.StatusScopeMissing {
				errs = []domain.ConnectionError{{Type: "auth", LogID: strconv.FormatInt(id, 10)}}
			}
		} else if r.Status != domain.StatusOK && r.Status != domain.StatusScopeMissing {
			errs = c.Errors
		}
		warnings := r.Warnings
		if warnings == nil {
			warnings = []domain.Warning{}
		}
		sets := `status = ?, warnings = ?, errors = ?, consecutive_failures = ?, next_check_at = ?, check_locked_until = NULL`
		args := []any{r.Status, mustJSON(warnings), mustJSON(nonNilErrs(errs)), r.Failures, ms(r.Next)}
		if r.Verified {
			sets += `, last_verified_at = ?`
			args = append(args, ms(s.now()))
		}
		args = append(args, c.ID)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET `+sets+` WHERE id = ?`), args...); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, outbox)
	})
	if err != nil {
		return false, fmt.Errorf("store: complete check of %d: %w", c.ID, err)
	}
	return applied, nil
}

func nonNilErrs(e []domain.ConnectionError) []domain.ConnectionError {
	if e == nil {
		return []domain.ConnectionError{}
	}
	return e
}

// ExpiringConnections lists connections not yet marked expired whose
// credentials expire before horizon, soonest first.
func (s *Store) ExpiringConnections(ctx context.Context, now, horizon time.Time, limit int) ([]*domain.Connection, error) {
	rows, err := s.read(ctx, `SELECT `+connectionColumns+connectionFrom+`
		WHERE c.credentials_expires_at IS NOT NULL AND c.credentials_expires_at <= ? AND c.status <> ?
		ORDER BY c.credentials_expires_at, c.id LIMIT ?`, ms(horizon), domain.StatusExpired, limit)
	if err != nil {
		return nil, fmt.Errorf("store: expiring: %w", mapErr(err))
	}
	defer rows.Close()
	var out []*domain.Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkExpiryNotified records a notice for a lead time, with its webhooks, once:
// it only succeeds if no smaller-or-equal lead was already recorded.
func (s *Store) MarkExpiryNotified(ctx context.Context, pk int64, days int, outbox []domain.OutboxMessage) (bool, error) {
	done := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET expiry_notified_days = ? WHERE id = ? AND (expiry_notified_days IS NULL OR expiry_notified_days > ?)`), days, pk, days)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		done = true
		return s.enqueue(ctx, tx, outbox)
	})
	if err != nil {
		return false, fmt.Errorf("store: expiry notice: %w", err)
	}
	return done, nil
}

// SetCredentialsExpiry sets (or clears with nil) a connection's credential expiry date,
// and forgets earlier expiry notices.
func (s *Store) SetCredentialsExpiry(ctx context.Context, envID, integrationID int64, connectionID string, at *time.Time) error {
	res, err := s.wdb.ExecContext(ctx, s.q(`UPDATE connections SET credentials_expires_at = ?, expiry_notified_days = NULL, updated_at = ? WHERE environment_id = ? AND integration_id = ? AND connection_id = ?`),
		toNullMS(at), ms(s.now()), envID, integrationID, connectionID)
	if err != nil {
		return fmt.Errorf("store: set expiry: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: set expiry: %w", domain.ErrNotFound)
	}
	return nil
}

// CheckNow makes a connection due for a check at once (its token just expired).
func (s *Store) CheckNow(ctx context.Context, pk int64, now time.Time) error {
	_, err := s.wdb.ExecContext(ctx, s.q(`UPDATE connections SET next_check_at = ? WHERE id = ? AND status <> ?`), ms(now), pk, domain.StatusExpired)
	if err != nil {
		return fmt.Errorf("store: check now: %w", mapErr(err))
	}
	return nil
}
