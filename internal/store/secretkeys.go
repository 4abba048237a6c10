package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

const secretKeyColumns = `k.id, k.environment_id, k.digest, k.label, k.created_at, k.last_used_at, k.revoked_at`

func scanSecretKey(row interface{ Scan(...any) error }) (*domain.SecretKey, error) {
	var k domain.SecretKey
	var created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&k.ID, &k.EnvironmentID, &k.Digest, &k.Label, &created, &used, &revoked); err != nil {
		return nil, mapErr(err)
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMS(created), fromNullMS(used), fromNullMS(revoked)
	return &k, nil
}

// SecretKeyByDigest finds an active secret key by its digest, with its
// environment. A revoked or unknown key is not found.
func (s *Store) SecretKeyByDigest(ctx context.Context, digest string) (*domain.SecretKey, *domain.Environment, error) {
	var k domain.SecretKey
	var e domain.Environment
	var kCreated, eCreated int64
	var used, revoked sql.NullInt64
	err := s.readRow(ctx, `SELECT `+secretKeyColumns+`, e.name, e.webhook_url, e.webhook_secondary_url, e.webhook_signing_key, e.created_at
		FROM secret_keys k JOIN environments e ON e.id = k.environment_id WHERE k.digest = ? AND k.revoked_at IS NULL`, digest).
		Scan(&k.ID, &k.EnvironmentID, &k.Digest, &k.Label, &kCreated, &used, &revoked,
			&e.Name, &e.WebhookURL, &e.WebhookSecondaryURL, &e.WebhookSigningKey, &eCreated)
	if err != nil {
		return nil, nil, fmt.Errorf("store: secret key by digest: %w", mapErr(err))
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMS(kCreated), fromNullMS(used), fromNullMS(revoked)
	e.ID, e.CreatedAt = k.EnvironmentID, fromMS(eCreated)
	return &k, &e, nil
}

// ListSecretKeys lists an environment's keys, revoked ones included, oldest first.
func (s *Store) ListSecretKeys(ctx context.Context, envID int64) ([]*domain.SecretKey, error) {
	return readAll(ctx, s, "list secret keys", `SELECT `+secretKeyColumns+` FROM secret_keys k WHERE k.environment_id = ? ORDER BY k.id`, scanSecretKey, envID)
}

// CreateSecretKey adds a key (its digest) to an environment, unless the
// environment already has maxActive active keys (domain.ErrConflict then).
func (s *Store) CreateSecretKey(ctx context.Context, envID int64, digest, label string, maxActive int) (*domain.SecretKey, error) {
	var out *domain.SecretKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockEnv(ctx, tx, envID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM secret_keys WHERE environment_id = ? AND revoked_at IS NULL`), envID).Scan(&n); err != nil {
			return err
		}
		if n >= maxActive {
			return fmt.Errorf("%w: the environment has %d active secret keys", domain.ErrConflict, n)
		}
		var err error
		out, err = scanSecretKey(tx.QueryRowContext(ctx, s.q(`INSERT INTO secret_keys (environment_id, digest, label, created_at) VALUES (?, ?, ?, ?)
			RETURNING id, environment_id, digest, label, created_at, last_used_at, revoked_at`),
			envID, digest, label, ms(s.now())))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: create secret key: %w", err)
	}
	return out, nil
}

// lockEnv serialises changes to one environment's keys on PostgreSQL (SQLite
// has one writer anyway), so that two revocations at once cannot leave it with
// no active key. A missing environment is not found.
func (s *Store) lockEnv(ctx context.Context, tx *sql.Tx, envID int64) error {
	lock := ""
	if s.dialect == "postgres" {
		lock = " FOR UPDATE"
	}
	var id int64
	return tx.QueryRowContext(ctx, s.q(`SELECT id FROM environments WHERE id = ?`+lock), envID).Scan(&id)
}

// ErrLastSecretKey is returned by RevokeSecretKey for an environment's last active key.
var ErrLastSecretKey = fmt.Errorf("%w: it is the environment's last active secret key", domain.ErrConflict)

// RevokeSecretKey revokes a key at once and ends the console sessions opened
// with it. Revoking a revoked key changes nothing and returns it. The last
// active key of an environment cannot be revoked (ErrLastSecretKey, which is a
// domain.ErrConflict); an unknown key is domain.ErrNotFound.
func (s *Store) RevokeSecretKey(ctx context.Context, envID, id int64) (*domain.SecretKey, error) {
	var out *domain.SecretKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockEnv(ctx, tx, envID); err != nil {
			return err
		}
		k, err := scanSecretKey(tx.QueryRowContext(ctx, s.q(`SELECT `+secretKeyColumns+` FROM secret_keys k WHERE k.environment_id = ? AND k.id = ?`), envID, id))
		if err != nil {
			return err
		}
		if !k.Active() {
			out = k
			return nil
		}
		var others int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM secret_keys WHERE environment_id = ? AND id <> ? AND revoked_at IS NULL`), envID, id).Scan(&others); err != nil {
			return err
		}
		if others == 0 {
			return ErrLastSecretKey
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE secret_keys SET revoked_at = ? WHERE id = ?`), ms(now), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM console_sessions WHERE secret_key_id = ?`), id); err != nil {
			return err
		}
		t := fromMS(ms(now))
		k.RevokedAt = &t
		out = k
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrLastSecretKey) {
			return nil, ErrLastSecretKey
		}
		return nil, fmt.Errorf("store: revoke secret key %d: %w", id, err)
	}
	return out, nil
}

// TouchSecretKey records that a key was used at t; it writes only when the
// recorded time is older than a minute.
func (s *Store) TouchSecretKey(ctx context.Context, id int64, t time.Time) error {
	_, err := s.wdb.ExecContext(ctx, s.q(`UPDATE secret_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`),
		ms(t), id, ms(t.Add(-time.Minute)))
	if err != nil {
		return fmt.Errorf("store: touch secret key: %w", mapErr(err))
	}
	return nil
}
