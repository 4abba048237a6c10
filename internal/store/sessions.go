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
func (s *Store) CreateConnectSession(ctx context.Context, c *domain.ConnectSession) (*domain.ConnectSession, error) {
	var endUser sql.NullString
	if c.EndUser != nil {
		endUser = sql.NullString{String: mustJSON(c.EndUser), Valid: true}
	}
	allowed := c.AllowedIntegrations
	if allowed == nil {
		allowed = []string{}
	}
	row := s.wdb.QueryRowContext(ctx, s.q(`INSERT INTO connect_sessions (environment_id, token_hash, end_user, allowed_integrations, config_defaults, overrides,
		webhook_url_override, tags, reconnect_integration, reconnect_connection_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+sessionColumns),
		c.EnvironmentID, c.TokenHash, endUser, mustJSON(allowed), mustJSON(nonNilMap(c.ConfigDefaults)), mustJSON(nonNilMap(c.Overrides)),
		c.WebhookURLOverride, mustJSON(nonNilMap(c.Tags)), c.ReconnectIntegration, c.ReconnectConnectionID, ms(c.ExpiresAt), ms(s.now()))
	out, err := scanSession(row)
	if err != nil {
		return nil, fmt.Errorf("store: create connect session: %w", err)
	}
	return out, nil
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
func (s *Store) TakeSessionAttempt(ctx context.Context, sessionID int64, now time.Time, burst float64, refill time.Duration) (bool, time.Duration, error) {
	ok, wait := false, time.Duration(0)
	lock := ""
	if s.dialect == "postgres" {
		lock = " FOR UPDATE"
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var tokens sql.NullFloat64
		var at sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT attempt_tokens, attempt_at FROM connect_sessions WHERE id = ?`+lock), sessionID).Scan(&tokens, &at); err != nil {
			return err
		}
		t := burst
		if tokens.Valid && at.Valid {
			t = math.Min(burst, tokens.Float64+float64(now.Sub(fromMS(at.Int64)))/float64(refill))
		}
		if t >= 1 {
			ok, t = true, t-1
		} else {
			wait = time.Duration((1 - t) * float64(refill))
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE connect_sessions SET attempt_tokens = ?, attempt_at = ? WHERE id = ?`), t, ms(now), sessionID)
		return err
	})
	if err != nil {
		return false, 0, fmt.Errorf("store: session attempt: %w", err)
	}
	return ok, wait, nil
}
