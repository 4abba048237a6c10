package connections

import (
	"encoding/json"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// AAD is the associated data that binds a connection's sealed credentials to
// its row. Integration and environment are internal ids, so renaming an
// integration keeps it valid.
func AAD(envID, integrationID int64, connectionID string) []byte {
	return fmt.Appendf(nil, "connection/%d/%d/%s", envID, integrationID, connectionID)
}

// Seal encrypts c.Credentials into c.SealedCredentials, bound to its row.
func (s *Service) Seal(c *domain.Connection) error {
	plain, err := json.Marshal(c.Credentials)
	if err != nil {
		return fmt.Errorf("connections: encode credentials: %w", err)
	}
	sealed, err := s.keys.Encrypt(plain, AAD(c.EnvironmentID, c.IntegrationID, c.ConnectionID))
	if err != nil {
		return fmt.Errorf("connections: seal credentials: %w", err)
	}
	c.SealedCredentials = sealed
	return nil
}

// Open decrypts a connection's credentials in place.
func (s *Service) Open(c *domain.Connection) error {
	plain, err := s.keys.Decrypt(c.SealedCredentials, AAD(c.EnvironmentID, c.IntegrationID, c.ConnectionID))
	if err != nil {
		return fmt.Errorf("connections: open credentials of connection %d: %w", c.ID, err)
	}
	if err := json.Unmarshal(plain, &c.Credentials); err != nil {
		return fmt.Errorf("connections: decode credentials of connection %d: %w", c.ID, err)
	}
	return nil
}
