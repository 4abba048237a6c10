package store

import (
	"context"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

const integrationColumns = `id, environment_id, unique_key, provider, display_name, forward_webhooks, config, created_at, updated_at`

func scanIntegration(row interface{ Scan(...any) error }) (*domain.Integration, error) {
	var i domain.Integration
	var cfg string
	var fw int
	var created, updated int64
	if err := row.Scan(&i.ID, &i.EnvironmentID, &i.UniqueKey, &i.Provider, &i.DisplayName, &fw, &cfg, &created, &updated); err != nil {
		return nil, mapErr(err)
	}
	i.ForwardWebhooks = fw != 0
	i.CreatedAt, i.UpdatedAt = fromMS(created), fromMS(updated)
	if err := fromJSON(cfg, &i.Config); err != nil {
		return nil, err
	}
	return &i, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateIntegration inserts an integration; a taken unique key is domain.ErrConflict.
func (s *Store) CreateIntegration(ctx context.Context, in *domain.Integration) (*domain.Integration, error) {
	now := ms(s.now())
	if in.Config == nil {
		in.Config = map[string]any{}
	}
	row := s.wdb.QueryRowContext(ctx, s.q(`INSERT INTO integrations (environment_id, unique_key, provider, display_name, forward_webhooks, config, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+integrationColumns),
		in.EnvironmentID, in.UniqueKey, in.Provider, in.DisplayName, boolInt(in.ForwardWebhooks), mustJSON(in.Config), now, now)
	out, err := scanIntegration(row)
	if err != nil {
		return nil, fmt.Errorf("store: create integration %s: %w", in.UniqueKey, err)
	}
	s.changed(ctx, true, in.EnvironmentID)
	return out, nil
}

// Integration loads an integration by its unique key (from memory when it
// was read less than CacheTTL ago, cache.go).
func (s *Store) Integration(ctx context.Context, envID int64, uniqueKey string) (*domain.Integration, error) {
	k := integrationID{envID, uniqueKey}
	in, gen, ok := s.cache.integration(k)
	if ok {
		return in, nil
	}
	out, err := scanIntegration(s.readRow(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE environment_id = ? AND unique_key = ?`, envID, uniqueKey))
	if err != nil {
		return nil, fmt.Errorf("store: integration %s: %w", uniqueKey, err)
	}
	s.cache.putIntegration(k, gen, out)
	return out, nil
}

// ListIntegrations returns the environment's integrations, oldest first.
func (s *Store) ListIntegrations(ctx context.Context, envID int64) ([]*domain.Integration, error) {
	return readAll(ctx, s, "list integrations", `SELECT `+integrationColumns+` FROM integrations WHERE environment_id = ? ORDER BY created_at, id`, scanIntegration, envID)
}

// UpdateIntegration writes the mutable fields (unique key, display name,
// forward_webhooks, config) of the integration with in.ID.
func (s *Store) UpdateIntegration(ctx context.Context, in *domain.Integration) (*domain.Integration, error) {
	row := s.wdb.QueryRowContext(ctx, s.q(`UPDATE integrations SET unique_key = ?, display_name = ?, forward_webhooks = ?, config = ?, updated_at = ?
		WHERE id = ? AND environment_id = ? RETURNING `+integrationColumns),
		in.UniqueKey, in.DisplayName, boolInt(in.ForwardWebhooks), mustJSON(in.Config), ms(s.now()), in.ID, in.EnvironmentID)
	out, err := scanIntegration(row)
	s.changed(ctx, true, in.EnvironmentID)
	if err != nil {
		return nil, fmt.Errorf("store: update integration %d: %w", in.ID, err)
	}
	return out, nil
}

// DeleteIntegration removes an integration and, by cascade, its connections.
func (s *Store) DeleteIntegration(ctx context.Context, envID int64, uniqueKey string) error {
	res, err := s.wdb.ExecContext(ctx, s.q(`DELETE FROM integrations WHERE environment_id = ? AND unique_key = ?`), envID, uniqueKey)
	s.changed(ctx, true, envID)
	if err != nil {
		return fmt.Errorf("store: delete integration %s: %w", uniqueKey, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: delete integration %s: %w", uniqueKey, domain.ErrNotFound)
	}
	return nil
}
