package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

const sessionColumns = `id, environment_id, token_hash, end_user, allowed_integrations, config_defaults, overrides, webhook_url_override, tags, reconnect_integration, reconnect_connection_id, expires_at, created_at`

func scanSession(row interface{ Scan(...any) error }) (*domain.ConnectSession, error) {
	var c domain.ConnectSession
	var endUser sql.NullString
	var allowed, defaults, overrides, tags string
	var expires, created int64
	if err := row.Scan(&c.ID, &c.EnvironmentID, &c.TokenHash, &endUser, &allowed, &defaults, &overrides, &c.WebhookURLOverride, &tags,
		&c.ReconnectIntegration, &c.ReconnectConnectionID, &expires, &created); err != nil {
		return nil, mapErr(err)
	}
	if endUser.Valid {
		c.EndUser = &domain.EndUser{}
		if err := fromJSON(endUser.String, c.EndUser); err != nil {
			return nil, err
		}
	}
	if err := fromJSONPairs(allowed, &c.AllowedIntegrations, defaults, &c.ConfigDefaults, overrides, &c.Overrides, tags, &c.Tags); err != nil {
		return nil, err
	}
	c.ExpiresAt, c.CreatedAt = fromMS(expires), fromMS(created)
	return &c, nil
}

// CreateConnectSession stores a session; only the token's hash is kept.
//
// audit, when given, makes the audit-trail entries of the creation (from the
// stored session: they name its id), written in the same transaction: a
// session is never created without its entry.
func (s *Store) CreateConnectSession(ctx context.Context, c *domain.ConnectSession, audit ...func(*domain.ConnectSession) *domain.AuditEntry) (*domain.ConnectSession, error) {
	var endUser sql.NullString
	if c.EndUser != nil {
		endUser = sql.NullString{String: mustJSON(c.EndUser), Valid: true}
	}
	allowed := c.AllowedIntegrations
	if allowed == nil {
		allowed = []string{}
	}
	insert := func(row rowFunc) (*domain.ConnectSession, error) {
		return scanSession(row(`INSERT INTO connect_sessions (environment_id, token_hash, end_user, allowed_integrations, config_defaults, overrides,
		webhook_url_override, tags, reconnect_integration, reconnect_connection_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+sessionColumns,
			c.EnvironmentID, c.TokenHash, endUser, mustJSON(allowed), mustJSON(nonNilMap(c.ConfigDefaults)), mustJSON(nonNilMap(c.Overrides)),
			c.WebhookURLOverride, mustJSON(nonNilMap(c.Tags)), c.ReconnectIntegration, c.ReconnectConnectionID, ms(c.ExpiresAt), ms(s.now())))
	}
	var out *domain.ConnectSession
	var err error
	if len(audit) == 0 {
		out, err = insert(s.wrow(ctx))
	} else {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if out, err = insert(s.txRowFunc(ctx, tx)); err != nil {
				return err
			}
			for _, entry := range audit {
				if e := entry(out); e != nil {
					if err := s.insertAudit(s.txRowFunc(ctx, tx), e); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("store: create connect session: %w", err)
	}
	return out, nil
}

// rowFunc runs a single-row statement (with ? placeholders) somewhere: on
// the write pool (wrow) or in a transaction (txRowFunc).
type rowFunc func(query string, args ...any) interface{ Scan(...any) error }

func (s *Store) wrow(ctx context.Context) rowFunc {
	return func(query string, args ...any) interface{ Scan(...any) error } {
		if s.dialect == "postgres" {
			return s.wdb.QueryRowContext(ctx, s.q(query), args...)
		}
		st, err := s.wprepared(ctx, query)
		if err != nil {
			return errRow{err}
		}
		if st == nil {
			return s.wdb.QueryRowContext(ctx, s.q(query), args...)
		}
		return st.QueryRowContext(ctx, args...)
	}
}

// wexec runs a write statement (with ? placeholders) on its own; on SQLite
// in a transaction of its own, which commits with the others queued
// (group.go), through the write statement cache.
func (s *Store) wexec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.dialect == "postgres" {
		return s.wdb.ExecContext(ctx, s.q(query), args...)
	}
	var res sql.Result
	err := s.grouped(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.txExec(ctx, tx, query, args...)
		return err
	})
	return res, err
}

func (s *Store) txRowFunc(ctx context.Context, tx *sql.Tx) rowFunc {
	return func(query string, args ...any) interface{ Scan(...any) error } {
		return s.txRow(ctx, tx, query, args...)
	}
}

func nonNilMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

// ConnectSessionByTokenHash loads a session that has not expired at now.
func (s *Store) ConnectSessionByTokenHash(ctx context.Context, hash string, now time.Time) (*domain.ConnectSession, error) {
	out, err := scanSession(s.readRow(ctx, `SELECT `+sessionColumns+` FROM connect_sessions WHERE token_hash = ? AND expires_at > ?`, hash, ms(now)))
	if err != nil {
		return nil, fmt.Errorf("store: connect session: %w", err)
	}
	return out, nil
}

// DeleteConnectSession removes a session.
func (s *Store) DeleteConnectSession(ctx context.Context, id int64) error {
	if _, err := s.wdb.ExecContext(ctx, s.q(`DELETE FROM connect_sessions WHERE id = ?`), id); err != nil {
		return fmt.Errorf("store: delete connect session: %w", mapErr(err))
	}
	return nil
}

// TakeSessionAttempt spends one submission attempt of a session from a token
// bucket (burst attempts, one more every refill) kept on the session row, so
// every instance draws from the same bucket. When none is left it returns how
// long until one is.
//
// Every submission pays for it before its credentials reach the provider, so
// it is one statement (no transaction around a read and a write): the row is
// updated only when the refilled bucket holds an attempt, and the database
// makes concurrent submissions take turns on the row. A refused attempt
// changes nothing (the bucket's level follows from its last spend), and reads
// the row only to say how long to wait.
func (s *Store) TakeSessionAttempt(ctx context.Context, sessionID int64, now time.Time, burst float64, refill time.Duration) (bool, time.Duration, error) {
	least := "MIN"
	if s.dialect == "postgres" {
		least = "LEAST"
	}
	// The bucket refilled until now: burst when never used.
	level := least + `(CAST(? AS DOUBLE PRECISION), COALESCE(attempt_tokens + (CAST(? AS BIGINT) - attempt_at) / CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION)))`
	perMS := float64(refill) / float64(time.Millisecond)
	levelArgs := []any{burst, ms(now), perMS, burst}
	args := append(append(append([]any{}, levelArgs...), ms(now), sessionID), levelArgs...)
	res, err := s.wexec(ctx, `UPDATE connect_sessions SET attempt_tokens = `+level+` - 1, attempt_at = ? WHERE id = ? AND `+level+` >= 1`, args...)
	if err != nil {
		return false, 0, fmt.Errorf("store: session attempt: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, 0, nil
	}
	var tokens sql.NullFloat64
	var at sql.NullInt64
	if err := s.wdb.QueryRowContext(ctx, s.q(`SELECT attempt_tokens, attempt_at FROM connect_sessions WHERE id = ?`), sessionID).Scan(&tokens, &at); err != nil {
		return false, 0, fmt.Errorf("store: session attempt: %w", mapErr(err))
	}
	t := burst
	if tokens.Valid && at.Valid {
		t = math.Min(burst, tokens.Float64+float64(now.Sub(fromMS(at.Int64)))/float64(refill))
	}
	if t >= 1 {
		// Refilled since the update looked: a rare race; this attempt waits for the next.
		return false, time.Second, nil
	}
	return false, time.Duration((1 - t) * float64(refill)), nil
}
