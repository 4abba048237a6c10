package store

import (
	"context"
	"database/sql"
	"fmt"
)

// SealedCredential is one connection's sealed credentials and what binds them.
type SealedCredential struct {
	PK, EnvironmentID, IntegrationID int64
	ConnectionID                     string
	Sealed                           string
}

// CredentialsNotSealedWith returns up to limit connections whose credentials
// were sealed by a key other than keyID.
func (s *Store) CredentialsNotSealedWith(ctx context.Context, keyID string, limit int) ([]SealedCredential, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, environment_id, integration_id, connection_id, credentials FROM connections WHERE credentials_key_id <> ? ORDER BY id LIMIT ?`), keyID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: credentials to reseal: %w", mapErr(err))
	}
	defer rows.Close()
	var out []SealedCredential
	for rows.Next() {
		var c SealedCredential
		if err := rows.Scan(&c.PK, &c.EnvironmentID, &c.IntegrationID, &c.ConnectionID, &c.Sealed); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Reseal replaces sealed credentials in one transaction; a row changed since it
// was read (a reconnect meanwhile) is left as it is. It returns how many it replaced.
func (s *Store) Reseal(ctx context.Context, old []SealedCredential, sealed []string, keyID string) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, o := range old {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET credentials = ?, credentials_key_id = ? WHERE id = ? AND credentials = ?`), sealed[i], keyID, o.PK, o.Sealed)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: reseal: %w", err)
	}
	return n, nil
}

// KeyUsage counts connections per sealing key id.
func (s *Store) KeyUsage(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT credentials_key_id, COUNT(*) FROM connections GROUP BY credentials_key_id`)
	if err != nil {
		return nil, fmt.Errorf("store: key usage: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
