package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Group commit on SQLite. Every write goes through the one write connection,
// so concurrent write transactions wait for each other anyway; most of what
// one costs is its commit, which writes each page it changed to the WAL with
// a system call of its own, and concurrent creations change the same pages
// (the tables' last leaves, their indexes'). So transactions that queue up
// while another runs are run together, each in a savepoint of one
// transaction, and committed once: each still commits or fails on its own, as
// if alone.

// unit is one caller's transaction waiting for its turn.
type unit struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan result
}

type result struct {
	err      error
	panicked any // a panic of fn, raised again in its caller's goroutine
}

// maxGroup bounds how many transactions commit together.
const maxGroup = 64

type group struct {
	mu      sync.Mutex
	queue   []*unit
	leading bool // a goroutine is running the queue (drain)
}

// grouped runs fn as tx does, together with the transactions queued
// meanwhile: a goroutine runs the queue while it is not empty (the callers
// wait for their own result only, however long the queue stays busy).
func (s *Store) grouped(ctx context.Context, fn func(*sql.Tx) error) error {
	u := &unit{ctx: ctx, fn: fn, done: make(chan result, 1)}
	g := &s.group
	g.mu.Lock()
	g.queue = append(g.queue, u)
	start := !g.leading
	g.leading = true
	g.mu.Unlock()
	if start {
		go s.drain()
	}
	r := <-u.done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// drain runs the queue's batches until it is empty.
func (s *Store) drain() {
	g := &s.group
	for {
		g.mu.Lock()
		batch := g.queue[:min(len(g.queue), maxGroup)]
		if len(batch) == 0 {
			g.leading = false
			g.queue = nil
			g.mu.Unlock()
			return
		}
		g.queue = g.queue[len(batch):]
		g.mu.Unlock()
		s.runGroup(batch)
	}
}

// runGroup runs a batch: alone, as a plain transaction; together, each in a
// savepoint of one transaction. When the shared transaction itself fails (a
// savepoint that cannot be rolled back to, a commit that fails), every unit
// not yet refused by its own function runs again alone.
func (s *Store) runGroup(batch []*unit) {
	s.prepareWanted(context.Background())
	if len(batch) == 1 {
		batch[0].done <- s.alone(batch[0])
		return
	}
	tx, err := s.wdb.BeginTx(context.Background(), nil)
	if err != nil {
		for _, u := range batch {
			u.done <- result{err: mapErr(err)}
		}
		return
	}
	results := make([]*result, len(batch))
	broken := false
	for i, u := range batch {
		if err := u.ctx.Err(); err != nil {
			results[i] = &result{err: mapErr(err)}
			continue
		}
		if _, err := s.txExec(context.Background(), tx, `SAVEPOINT unit`); err != nil {
			broken = true
			break
		}
		r := call(u, tx)
		if r.err == nil && r.panicked == nil {
			if _, err := s.txExec(context.Background(), tx, `RELEASE unit`); err != nil {
				broken = true
				break
			}
			results[i] = nil // done, if the commit is
			continue
		}
		results[i] = &r
		if _, err := s.txExec(context.Background(), tx, `ROLLBACK TO unit`); err != nil {
			broken = true
			break
		}
		if _, err := s.txExec(context.Background(), tx, `RELEASE unit`); err != nil {
			broken = true
			break
		}
	}
	if !broken {
		if err := tx.Commit(); err == nil {
			for i, u := range batch {
				if results[i] == nil {
					u.done <- result{}
				} else {
					u.done <- *results[i]
				}
			}
			return
		}
	} else {
		_ = tx.Rollback()
	}
	// Nothing of the batch was committed: whoever its own function did not
	// refuse runs again, alone.
	for i, u := range batch {
		if results[i] != nil {
			u.done <- *results[i]
			continue
		}
		u.done <- s.alone(u)
	}
}

// alone runs one unit in a transaction of its own.
func (s *Store) alone(u *unit) result {
	tx, err := s.wdb.BeginTx(u.ctx, nil)
	if err != nil {
		return result{err: mapErr(err)}
	}
	r := call(u, tx)
	if r.err != nil || r.panicked != nil {
		_ = tx.Rollback()
		return r
	}
	return result{err: mapErr(tx.Commit())}
}

// call runs a unit's function, keeping its error (mapped) or its panic.
func call(u *unit, tx *sql.Tx) (r result) {
	defer func() {
		if v := recover(); v != nil {
			r = result{err: fmt.Errorf("store: transaction panicked: %v", v), panicked: v}
		}
	}()
	if err := u.fn(tx); err != nil {
		return result{err: mapErr(err)}
	}
	return result{}
}
