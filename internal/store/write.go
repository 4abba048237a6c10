package store

import (
	"context"
	"database/sql"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Write runs fn in one write transaction: the connection change, the webhooks
// that announce it and its operation-log entry commit together or not at all.
// fn must not call the network: the transaction holds SQLite's write lock.
func (s *Store) Write(ctx context.Context, fn func(domain.Tx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return fn(&writeTx{s: s, tx: tx}) })
}

type writeTx struct {
	s  *Store
	tx *sql.Tx
}

func (w *writeTx) UpsertConnection(ctx context.Context, in *domain.Connection, opts domain.UpsertOptions) (*domain.Connection, bool, error) {
	return w.s.upsertConnection(ctx, w.tx, in, opts)
}

func (w *writeTx) Enqueue(ctx context.Context, msgs []domain.OutboxMessage) error {
	return w.s.enqueue(ctx, w.tx, msgs)
}

func (w *writeTx) InsertEvent(ctx context.Context, e *domain.Event) error {
	return w.s.insertEvent(ctx, txExecer{w.s, w.tx}, e)
}

// txExecer runs statements in a transaction through the write statement cache.
type txExecer struct {
	s  *Store
	tx *sql.Tx
}

func (t txExecer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.s.txExec(ctx, t.tx, query, args...)
}

func (w *writeTx) EndConnectSession(ctx context.Context, id int64) error {
	res, err := w.s.txExec(ctx, w.tx, `DELETE FROM connect_sessions WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.ErrNotFound
	}
	return nil
}
