package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

const envColumns = `id, name, webhook_url, webhook_secondary_url, webhook_signing_key, created_at`

func scanEnv(row interface{ Scan(...any) error }) (*domain.Environment, error) {
	var e domain.Environment
	var created int64
	if err := row.Scan(&e.ID, &e.Name, &e.WebhookURL, &e.WebhookSecondaryURL, &e.WebhookSigningKey, &created); err != nil {
		return nil, mapErr(err)
	}
	e.CreatedAt = fromMS(created)
	return &e, nil
}

// envPlaceholder is what environments.secret_key_hash holds since secret keys
// moved to their own table: unique, and no digest of anything.
const envPlaceholder = `'moved to secret_keys: ' || CAST(? AS TEXT)`

// Labels of the keys latchkey adds itself.
const (
	labelFirstKey   = "first key"
	labelStartupKey = "added at start-up"
	labelGenerated  = "generated at first start"
)

// EnsureEnvironment creates the named environment with this secret-key digest
// as its first key if it does not exist. If it exists and secretKeyHash is not
// empty, the key is added to its keys unless it is one already (the operator
// set a new key: the others keep working until revoked; a revoked key stays
// revoked). created reports whether the environment is new. A digest that is
// another environment's key is a conflict.
func (s *Store) EnsureEnvironment(ctx context.Context, name, secretKeyHash string) (env *domain.Environment, created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if secretKeyHash == "" {
			env, err = scanEnv(tx.QueryRowContext(ctx, s.q(`SELECT `+envColumns+` FROM environments WHERE name = ?`), name))
			if errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("environment %s does not exist and no secret key was given", name)
			}
			return err
		}
		// ON CONFLICT DO NOTHING: instances starting together on one database
		// create the environment once; the others wait, then find it.
		if created, err = s.insertEnv(ctx, tx, name); err != nil {
			return err
		}
		env, err = scanEnv(tx.QueryRowContext(ctx, s.q(`SELECT `+envColumns+` FROM environments WHERE name = ?`), name))
		if err != nil {
			return err
		}
		label := labelStartupKey
		if created {
			label = labelFirstKey
		}
		return s.ensureKey(ctx, tx, env.ID, secretKeyHash, label)
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: ensure environment %s: %w", name, err)
	}
	return env, created, nil
}

func (s *Store) insertEnv(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	now := ms(s.now())
	// No conflict target: the placeholder is unique too and made from the
	// name, and PostgreSQL raises a conflict on an index other than the
	// target (two instances creating the environment at once) as an error.
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO environments (name, secret_key_hash, created_at, updated_at) VALUES (?, `+envPlaceholder+`, ?, ?) ON CONFLICT DO NOTHING`),
		name, name, now, now)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ensureKey adds digest to the environment's keys unless it is there already
// (active or revoked); it is a conflict when another environment has it.
func (s *Store) ensureKey(ctx context.Context, tx *sql.Tx, envID int64, digest, label string) error {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO secret_keys (environment_id, digest, label, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`),
		envID, digest, label, ms(s.now()))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var owner int64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT environment_id FROM secret_keys WHERE digest = ?`), digest).Scan(&owner); err != nil {
		return err
	}
	if owner != envID {
		return fmt.Errorf("%w: this secret key belongs to another environment", domain.ErrConflict)
	}
	return nil
}

// EnvironmentBySecretKeyHash finds the environment an active secret key belongs to.
func (s *Store) EnvironmentBySecretKeyHash(ctx context.Context, hash string) (*domain.Environment, error) {
	_, e, err := s.SecretKeyByDigest(ctx, hash)
	return e, err
}

// EnvironmentByID loads an environment (from memory when it was read less
// than CacheTTL ago, cache.go).
func (s *Store) EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error) {
	e, gen, ok := s.cache.environment(id)
	if ok {
		return e, nil
	}
	e, err := scanEnv(s.readRow(ctx, `SELECT `+envColumns+` FROM environments WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("store: environment %d: %w", id, err)
	}
	s.cache.putEnvironment(id, gen, e)
	return e, nil
}

// EnsureEnvironmentIfMissing creates the named environment with the key digest
// that newHash returns, only if it does not exist; newHash is not called otherwise.
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
		if created, err = s.insertEnv(ctx, tx, name); err != nil {
			return err
		}
		// Not created: another instance created it meanwhile, with its own key.
		env, err = scanEnv(tx.QueryRowContext(ctx, s.q(`SELECT `+envColumns+` FROM environments WHERE name = ?`), name))
		if err != nil || !created {
			return err
		}
		return s.ensureKey(ctx, tx, env.ID, hash, labelGenerated)
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
	s.changed(ctx, false, envID)
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
	s.changed(ctx, false, envID)
	if err != nil {
		return fmt.Errorf("store: set signing key: %w", mapErr(err))
	}
	return nil
}
