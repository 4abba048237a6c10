package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Console sessions and the console's overview reads.

// CreateConsoleSession stores a console session (its token's digest).
func (s *Store) CreateConsoleSession(ctx context.Context, c *domain.ConsoleSession) (*domain.ConsoleSession, error) {
	out := *c
	err := s.wdb.QueryRowContext(ctx, s.q(`INSERT INTO console_sessions (digest, environment_id, secret_key_id, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), c.Digest, c.EnvironmentID, c.SecretKeyID, ms(c.CreatedAt), ms(c.LastSeenAt), ms(c.ExpiresAt)).Scan(&out.ID)
	if err != nil {
		return nil, fmt.Errorf("store: create console session: %w", mapErr(err))
	}
	return &out, nil
}

// ConsoleSession finds a console session by its token's digest, with its
// environment, as long as the key it was opened with is active. Expiry is the
// caller's to check.
func (s *Store) ConsoleSession(ctx context.Context, digest string) (*domain.ConsoleSession, *domain.Environment, error) {
	var c domain.ConsoleSession
	var e domain.Environment
	var created, seen, expires, eCreated int64
	err := s.readRow(ctx, `SELECT c.id, c.digest, c.environment_id, c.secret_key_id, c.created_at, c.last_seen_at, c.expires_at,
			e.name, e.webhook_url, e.webhook_secondary_url, e.webhook_signing_key, e.created_at
		FROM console_sessions c JOIN secret_keys k ON k.id = c.secret_key_id JOIN environments e ON e.id = c.environment_id
		WHERE c.digest = ? AND k.revoked_at IS NULL`, digest).
		Scan(&c.ID, &c.Digest, &c.EnvironmentID, &c.SecretKeyID, &created, &seen, &expires,
			&e.Name, &e.WebhookURL, &e.WebhookSecondaryURL, &e.WebhookSigningKey, &eCreated)
	if err != nil {
		return nil, nil, fmt.Errorf("store: console session: %w", mapErr(err))
	}
	c.CreatedAt, c.LastSeenAt, c.ExpiresAt = fromMS(created), fromMS(seen), fromMS(expires)
	e.ID, e.CreatedAt = c.EnvironmentID, fromMS(eCreated)
	return &c, &e, nil
}

// TouchConsoleSession records activity in a session at t.
func (s *Store) TouchConsoleSession(ctx context.Context, id int64, t time.Time) error {
	if _, err := s.wdb.ExecContext(ctx, s.q(`UPDATE console_sessions SET last_seen_at = ? WHERE id = ?`), ms(t), id); err != nil {
		return fmt.Errorf("store: touch console session: %w", mapErr(err))
	}
	return nil
}

// DeleteConsoleSession ends a session (signing out); a missing one is no error.
func (s *Store) DeleteConsoleSession(ctx context.Context, digest string) error {
	if _, err := s.wdb.ExecContext(ctx, s.q(`DELETE FROM console_sessions WHERE digest = ?`), digest); err != nil {
		return fmt.Errorf("store: delete console session: %w", mapErr(err))
	}
	return nil
}

// ConnectionCounts counts an environment's connections by status, those whose
// token expires between now and horizon, and those failing their checks.
func (s *Store) ConnectionCounts(ctx context.Context, envID int64, now, horizon time.Time) (*domain.ConnectionCounts, error) {
	out := &domain.ConnectionCounts{ByStatus: map[string]int{}}
	// Grouped in the index's own order, so that it is read once, with no sort.
	rows, err := s.read(ctx, `SELECT c.status, c.consecutive_failures, COUNT(*) FROM connections c WHERE c.environment_id = ?
		GROUP BY c.status, c.consecutive_failures`, envID)
	if err != nil {
		return nil, fmt.Errorf("store: connection counts: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var failures, n int
		if err := rows.Scan(&st, &failures, &n); err != nil {
			return nil, err
		}
		out.ByStatus[st] += n
		out.Total += n
		if st != domain.StatusOK || failures > 0 {
			out.Failing += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := s.readRow(ctx, `SELECT COUNT(*) FROM connections c WHERE c.environment_id = ? AND c.credentials_expires_at > ? AND c.credentials_expires_at <= ?`,
		envID, ms(now), ms(horizon)).Scan(&out.Expiring); err != nil {
		return nil, fmt.Errorf("store: expiring count: %w", mapErr(err))
	}
	return out, nil
}

func (s *Store) connectionList(ctx context.Context, query string, args ...any) ([]*domain.Connection, error) {
	return readAll(ctx, s, "list connections", `SELECT `+connectionColumns+connectionFrom+query, scanConnection, args...)
}

// ExpiringSoon lists up to limit connections of an environment whose token
// expires between now and horizon, soonest first.
func (s *Store) ExpiringSoon(ctx context.Context, envID int64, now, horizon time.Time, limit int) ([]*domain.Connection, error) {
	return s.connectionList(ctx, ` WHERE c.environment_id = ? AND c.credentials_expires_at > ? AND c.credentials_expires_at <= ?
		ORDER BY c.credentials_expires_at, c.id LIMIT ?`, envID, ms(now), ms(horizon), limit)
}

// FailingConnections lists up to limit connections of an environment failing
// their checks (a status other than ok, or checks that could not reach the
// provider), the most recently changed first. Each branch of the union is a
// range of the (environment_id, status, consecutive_failures) index, so
// healthy connections are never read, however many there are.
func (s *Store) FailingConnections(ctx context.Context, envID int64, limit int) ([]*domain.Connection, error) {
	return s.connectionList(ctx, ` WHERE c.id IN (
			SELECT id FROM connections WHERE environment_id = ? AND status < 'ok'
			UNION ALL SELECT id FROM connections WHERE environment_id = ? AND status > 'ok'
			UNION ALL SELECT id FROM connections WHERE environment_id = ? AND status = 'ok' AND consecutive_failures > 0)
		ORDER BY c.updated_at DESC, c.id DESC LIMIT ?`, envID, envID, envID, limit)
}

// ConnectionSchedule returns when a connection's next health check is due
// (nil when none is scheduled yet: it is then due one interval after its last
// verification).
func (s *Store) ConnectionSchedule(ctx context.Context, pk int64) (*time.Time, error) {
	var next sql.NullInt64
	if err := s.readRow(ctx, `SELECT next_check_at FROM connections WHERE id = ?`, pk).Scan(&next); err != nil {
		return nil, fmt.Errorf("store: connection schedule: %w", mapErr(err))
	}
	return fromNullMS(next), nil
}

// WebhookCounts counts an environment's deliveries given up on, being
// retried, and waiting, with the oldest waiting one's creation time.
func (s *Store) WebhookCounts(ctx context.Context, envID int64) (*domain.WebhookCounts, error) {
	var out domain.WebhookCounts
	var oldest sql.NullInt64
	err := s.readRow(ctx, `SELECT
			COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN failed_at IS NULL AND delivered_at IS NULL AND attempts > 0 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN failed_at IS NULL AND delivered_at IS NULL THEN 1 ELSE 0 END), 0),
			MIN(CASE WHEN failed_at IS NULL AND delivered_at IS NULL THEN created_at END)
		FROM webhook_outbox WHERE environment_id = ? AND delivered_at IS NULL`, envID).Scan(&out.Failed, &out.Retrying, &out.Pending, &oldest)
	if err != nil {
		return nil, fmt.Errorf("store: webhook counts: %w", mapErr(err))
	}
	out.OldestPending = fromNullMS(oldest)
	return &out, nil
}

// ConnectionDeliveries lists up to limit webhook deliveries about one
// connection id, newest first.
func (s *Store) ConnectionDeliveries(ctx context.Context, envID int64, connectionID string, limit int) ([]*domain.OutboxMessage, error) {
	rows, err := s.read(ctx, `SELECT `+outboxColumns+` FROM webhook_outbox WHERE environment_id = ? AND connection_id = ? ORDER BY id DESC LIMIT ?`, envID, connectionID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: connection deliveries: %w", mapErr(err))
	}
	defer rows.Close()
	out := []*domain.OutboxMessage{}
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
