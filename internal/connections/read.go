package connections

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// integration resolves provider_config_key for the connection routes.
func (s *Service) integration(ctx context.Context, envID int64, key string) (*domain.Integration, error) {
	if key == "" {
		return nil, domain.Invalid("invalid_query_params", "provider_config_key is required.",
			domain.Field("invalid_type", "provider_config_key is required.", "provider_config_key"))
	}
	integ, err := s.store.Integration(ctx, envID, key)
	if isNotFound(err) {
		return nil, domain.NotFound(CodeUnknownIntegration, "Provider does not exists")
	}
	return integ, err
}

// Stored loads a connection as stored (credentials sealed).
func (s *Service) Stored(ctx context.Context, envID int64, integrationKey, connectionID string) (*domain.Connection, error) {
	integ, err := s.integration(ctx, envID, integrationKey)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Connection(ctx, envID, integ.ID, connectionID)
	if isNotFound(err) {
		return nil, domain.NotFound("not_found", "Failed to find connection")
	}
	return c, err
}

// Get returns a connection with its decrypted credentials, and notes when
// credentials were last fetched (at most once a minute per connection). An
// OAUTH2_CC connection comes with a token that is not about to expire; with
// forceRefresh, with a newly fetched one. A token that cannot be fetched is an
// invalid_credentials error whose payload names the connection, as Nango's.
func (s *Service) Get(ctx context.Context, envID int64, integrationKey, connectionID string, forceRefresh bool) (*domain.Connection, error) {
	c, err := s.Stored(ctx, envID, integrationKey, connectionID)
	if err != nil {
		return nil, err
	}
	if err := s.Open(c); err != nil {
		return nil, err
	}
	if c.Credentials.Type == domain.AuthModeOAuth2CC {
		p, ok := s.catalogue.Get(c.Provider)
		if !ok {
			return nil, domain.NotFound("unknown_provider_template", fmt.Sprintf("The provider %q of this connection is not in the catalogue.", c.Provider))
		}
		if !p.Supported() {
			return nil, unsupported(p)
		}
		fresh, err := s.WithToken(ctx, c, p, forceRefresh)
		if err != nil {
			if e, ok := domain.AsError(err); ok && e.Kind == domain.KindInvalid {
				return nil, &domain.Error{Kind: domain.KindInvalid, Code: "invalid_credentials", Message: e.Message,
					Payload: map[string]any{"connection": map[string]any{"connection_id": c.ConnectionID, "provider_config_key": integrationKey, "provider": c.Provider}}}
			}
			return nil, err
		}
		c = fresh
	}
	now := s.clock.Now()
	if c.LastFetchedAt == nil || now.Sub(*c.LastFetchedAt) > time.Minute {
		if err := s.store.MarkFetched(ctx, c.ID, now); err != nil {
			s.log.Warn("could not record credential fetch", "err", err)
		}
	}
	return c, nil
}

// List lists connections without credentials.
func (s *Service) List(ctx context.Context, envID int64, f domain.ConnectionFilter) ([]*domain.Connection, error) {
	return s.store.ListConnections(ctx, envID, f)
}

// Events pages through one connection's operation log, newest first.
func (s *Service) Events(ctx context.Context, envID int64, integrationKey, connectionID string, before int64, limit int) ([]*domain.Event, error) {
	if _, err := s.Stored(ctx, envID, integrationKey, connectionID); err != nil {
		return nil, err
	}
	return s.store.ListEvents(ctx, envID, integrationKey, connectionID, before, limit)
}
