package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TryLease takes (or renews) the named lease for holder until now+ttl, if it
// is free, expired, or already holder's. Only one holder gets it: jobs that must
// run once across every instance run only while holding it.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	var got string
	err := s.wdb.QueryRowContext(ctx, s.q(`INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.expires_at < ? OR leases.holder = excluded.holder
		RETURNING holder`), name, holder, ms(now.Add(ttl)), ms(now)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: lease %s: %w", name, mapErr(err))
	}
	return got == holder, nil
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.wdb.ExecContext(ctx, s.q(`DELETE FROM leases WHERE name = ? AND holder = ?`), name, holder)
	if err != nil {
		return fmt.Errorf("store: release lease %s: %w", name, mapErr(err))
	}
	return nil
}
