package connections

import (
	"context"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/verify"
)

// Recheck verifies a stored connection again, as at connect time, for the
// health checks.
func (s *Service) Recheck(ctx context.Context, c *domain.Connection) (domain.Outcome, error) {
	if err := s.Open(c); err != nil {
		return domain.Outcome{}, err
	}
	p, ok := s.catalogue.Get(c.Provider)
	if !ok {
		return domain.Outcome{}, fmt.Errorf("connections: provider %s of connection %d is not in the catalogue", c.Provider, c.ID)
	}
	return verify.Classify(s.verifiers.Verify(ctx, verify.Request{Provider: p, Config: c.ConnectionConfig, Credentials: c.Credentials}))
}

// AuthMode is the auth mode of a connection's provider: what its webhooks
// report, whether or not its credentials have been opened.
func (s *Service) AuthMode(c *domain.Connection) string {
	if c.Credentials.Type != "" {
		return c.Credentials.Type
	}
	if p, ok := s.catalogue.Get(c.Provider); ok {
		return p.AuthMode
	}
	return ""
}
