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
	req := verify.Request{Provider: p, Config: c.ConnectionConfig, Credentials: c.Credentials}
	if c.Credentials.Type == domain.AuthModeOAuth2CC {
		if !p.Supported() {
			return domain.Outcome{}, unsupported(p)
		}
		// A cached token proves nothing about the secret: fetch a new one (and
		// keep it, under the token lease), then check the site with it.
		fresh, err := s.WithToken(ctx, c, p, true)
		if err != nil {
			return verify.Classify(nil, err)
		}
		req.Config, req.Credentials, req.HasToken = fresh.ConnectionConfig, fresh.Credentials, true
	}
	return verify.Classify(s.verifiers.Verify(ctx, req))
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
