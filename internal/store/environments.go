package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

const envColumns = `id, name, secret_key_hash, webhook_url, webhook_secondary_url, webhook_signing_key, created_at`

func scanEnv(row interface{ Scan(...any) error }) (*domain.Environment, error) {
	var e domain.Environment
	var created int64
	if err := row.Scan(&e.ID, &e.Name, &e.SecretKeyHash, &e.WebhookURL, &e.WebhookSecondaryURL, &e.WebhookSigningKey, &created); err != nil {
		return nil, mapErr(err)
	}
	e.CreatedAt = fromMS(created)
	return &e, nil
}

// EnsureEnvironment creates the named environment with this secret-key hash if it
// does not exist. If it exists and secretKeyHash is not empty, the hash is replaced
// (the operator set a new key). created reports whether the row is new.
func (s *Store) EnsureEnvironment(ctx context.Context, name, secretKeyHash string) (env *domain.Environment, created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if secretKeyHash == "" {
			env, err = scanEnv(tx.QueryRowContext(ctx, s.q(`SELECT `+envColumns+` FROM environments WHERE name = ?`), name))
			if errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("environment %s does not exist and no secret key was given", name)
			}
			return err
		}
		// ON CONFLICT DO NOTHING (on any unique index: name, or the key's
		// digest, which PostgreSQL checks on its own): instances starting
		// together on one database create the environment once; the others
		// wait, then find it.
		now := ms(s.now())
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO environments (name, secret_key_hash, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`), name, secretKeyHash, now, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1
		if !created {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE environments SET secret_key_hash = ?, updated_at = ? WHERE name = ? AND secret_key_hash <> ?`), secretKeyHash, now, name, secretKeyHash); err != nil {
				return err
			}
		}
		env, err = scanEnv(tx.QueryRowContext(ctx, s.q(`SELECT `+envColumns+` FROM environments WHERE name = ?`), name))
		if errors.Is(err, domain.ErrNotFound) {
			// Not inserted and not there: the key belongs to another environment.
			return fmt.Errorf("%w: the secret key is another environment's", domain.ErrConflict)
		}
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: ensure environment %s: %w", name, err)
	}
	return env, created, nil
}

// EnvironmentBySecretKeyHash finds the environment a secret key belongs to.
func (s *Store) EnvironmentBySecretKeyHash(ctx context.Context, hash string) (*domain.Environment, error) {
	e, err := scanEnv(s.readRow(ctx, `SELECT `+envColumns+` FROM environments WHERE secret_key_hash = ?`, hash))
	if err != nil {
		return nil, fmt.Errorf("store: environment by key: %w", err)
	}
	return e, nil
}

// EnvironmentByID loads an environment.
func (s *Store) EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error) {
	e, err := scanEnv(s.readRow(ctx, `SELECT `+envColumns+` FROM environments WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("store: environment %d: %w", id, err)
	}
	return e, nil
}

// EnsureEnvironmentIfMissing creates the named environment with the hash that
// newHash returns, only if it does not exist; newHash is not called otherwise.
func (s *Store) EnsureEnvironmentIfMissing(ctx context.Context, name string, newHash func() (string, error)) (env *domain.Environment, created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		e, err := scanEnv(tx.QueryRowContext(ctx, s.q(`SELECT `+envColumns+` FROM environments WHERE name = ?`), name))
		if err == nil {
			env = e
			return nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		hash, err := newHash()
		if err != nil {
			return err
		}
		now := ms(s.now())
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO environments (name, secret_key_hash, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`), name, hash, now, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1 // else another instance created it meanwhile, with its own key
		env, err = scanEnv(tx.QueryRowContext(ctx, s.q(`SELECT `+envColumns+` FROM environments WHERE name = ?`), name))
		if errors.Is(err, domain.ErrNotFound) {
			// Not inserted and not there: the key belongs to another environment.
			return fmt.Errorf("%w: the secret key is another environment's", domain.ErrConflict)
		}
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: ensure environment %s: %w", name, err)
	}
	return env, created, nil
}

// EnvironmentByName loads an environment.
func (s *Store) EnvironmentByName(ctx context.Context, name string) (*domain.Environment, error) {
	e, err := scanEnv(s.readRow(ctx, `SELECT `+envColumns+` FROM environments WHERE name = ?`, name))
	if err != nil {
		return nil, fmt.Errorf("store: environment %s: %w", name, err)
	}
	return e, nil
}

// SetEnvironmentWebhooks sets the primary and secondary webhook URLs ("" clears).
func (s *Store) SetEnvironmentWebhooks(ctx context.Context, envID int64, primary, secondary string) error {
	res, err := s.wdb.ExecContext(ctx, s.q(`UPDATE environments SET webhook_url = ?, webhook_secondary_url = ?, updated_at = ? WHERE id = ?`), primary, secondary, ms(s.now()), envID)
	if err != nil {
		return fmt.Errorf("store: set webhooks: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: set webhooks: %w", domain.ErrNotFound)
	}
	return nil
}

// SetWebhookSigningKey stores a sealed signing key.
func (s *Store) SetWebhookSigningKey(ctx context.Context, envID int64, sealed string) error {
	_, err := s.wdb.ExecContext(ctx, s.q(`UPDATE environments SET webhook_signing_key = ?, updated_at = ? WHERE id = ?`), sealed, ms(s.now()), envID)
	if err != nil {
		return fmt.Errorf("store: set signing key: %w", mapErr(err))
	}
	return nil
}
