package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// Write transactions that run together on SQLite (group.go) each commit or
// fail on their own: a refused one leaves nothing, the others everything,
// whatever else shares their commit.
func TestGroupedWritesCommitOrFailAlone(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	env, _, err := s.EnsureEnvironment(ctx, "dev", "hash-dev")
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(ctx, func(tx domain.Tx) error {
				if err := tx.InsertEvent(ctx, &domain.Event{EnvironmentID: env.ID, Kind: "test", Outcome: "success", Message: fmt.Sprint(i)}); err != nil {
					return err
				}
				switch i % 4 {
				case 1: // refused by its own function, after writing
					return refused
				case 2: // refused by the database, after writing
					return tx.InsertEvent(ctx, &domain.Event{EnvironmentID: env.ID + 1000, Kind: "test"})
				}
				return nil
			})
		})
	}
	wg.Wait()
	var rows *sql.Rows
	if rows, err = s.DB().Query(`SELECT message FROM events WHERE kind = 'test'`); err != nil {
		t.Fatal(err)
	}
	saved := map[string]bool{}
	for rows.Next() {
		var m string
		rows.Scan(&m)
		saved[m] = true
	}
	rows.Close()
	for i := range n {
		kept := saved[fmt.Sprint(i)]
		switch i % 4 {
		case 1:
			if !errors.Is(errs[i], refused) || kept {
				t.Errorf("%d: refused by itself: err %v, kept %v", i, errs[i], kept)
			}
		case 2:
			if errs[i] == nil || kept {
				t.Errorf("%d: refused by the database: err %v, kept %v", i, errs[i], kept)
			}
		default:
			if errs[i] != nil || !kept {
				t.Errorf("%d: err %v, kept %v", i, errs[i], kept)
			}
		}
	}
	// A panic reaches its own caller only.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach its caller")
			}
		}()
		_ = s.Write(ctx, func(domain.Tx) error { panic("boom") })
	}()
	if err := s.Write(ctx, func(tx domain.Tx) error {
		return tx.InsertEvent(ctx, &domain.Event{EnvironmentID: env.ID, Kind: "after"})
	}); err != nil {
		t.Errorf("a write after a panic: %v", err)
	}
}
