package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// changesChannel carries cache invalidations between instances on PostgreSQL.
const changesChannel = "latchkey_changes"

// Announce tells the other instances that something they may cache changed
// (payload names it: text PostgreSQL accepts in a notification, no NUL bytes,
// under 8000 bytes). On SQLite there are no other instances: it does nothing.
func (s *Store) Announce(ctx context.Context, payload string) error {
	if s.dialect != "postgres" {
		return nil
	}
	if _, err := s.wdb.ExecContext(ctx, `SELECT pg_notify($1, $2)`, changesChannel, payload); err != nil {
		return fmt.Errorf("store: announce a change: %w", mapErr(err))
	}
	return nil
}

// Follow calls fn with every payload announced by any instance (this one
// included) until ctx ends, reconnecting as needed. reset is called after each
// (re)connection, since announcements made meanwhile were missed.
func (s *Store) Follow(ctx context.Context, url string, fn func(payload string), reset func(), log *slog.Logger) {
	if s.dialect != "postgres" {
		return
	}
	for ctx.Err() == nil {
		err := func() error {
			cfg, err := pgx.ParseConfig(url)
			if err != nil {
				return err
			}
			cfg.ConnectTimeout = 5 * time.Second
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, `LISTEN `+changesChannel); err != nil {
				return err
			}
			reset()
			for {
				n, err := conn.WaitForNotification(ctx)
				if err != nil {
					return err
				}
				fn(n.Payload)
			}
		}()
		if ctx.Err() != nil {
			return
		}
		log.Warn("lost the change feed from PostgreSQL; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
