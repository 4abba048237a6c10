package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/store"
)

// Instances starting at once on a fresh database each ensure the default
// environment: one creates it, the others find it; none fails (two latchkey
// processes starting together on PostgreSQL had one die with a duplicate key).
func TestEnsureEnvironmentConcurrently(t *testing.T) {
	run := func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 8
		for round := range 5 {
			name := fmt.Sprint("env-", round)
			var wg sync.WaitGroup
			created := make(chan bool, 2*n)
			errs := make(chan error, 2*n)
			for i := range n {
				wg.Add(2)
				go func() {
					defer wg.Done()
					e, c, err := s.EnsureEnvironment(ctx, name, "hash-"+name)
					if err == nil && e.Name != name {
						err = fmt.Errorf("got %+v", e)
					}
					if err == nil {
						if _, owner, kerr := s.SecretKeyByDigest(ctx, "hash-"+name); kerr != nil || owner.ID != e.ID {
							err = fmt.Errorf("the key of %s: %v %v", name, owner, kerr)
						}
					}
					created <- c
					errs <- err
				}()
				go func() {
					defer wg.Done()
					e, c, err := s.EnsureEnvironmentIfMissing(ctx, name+"-generated", func() (string, error) { return fmt.Sprint("generated-", round, "-", i), nil })
					if err == nil && e.Name != name+"-generated" {
						err = fmt.Errorf("got %+v", e)
					}
					if c && err == nil {
						if _, owner, kerr := s.SecretKeyByDigest(ctx, fmt.Sprint("generated-", round, "-", i)); kerr != nil || owner.ID != e.ID {
							err = fmt.Errorf("created, but not with this caller's key: %+v %v", e, kerr)
						}
					}
					created <- c
					errs <- err
				}()
			}
			wg.Wait()
			close(created)
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}
			count := 0
			for c := range created {
				if c {
					count++
				}
			}
			if count != 2 {
				t.Errorf("round %d: %d callers say they created an environment, want 2 (one per name)", round, count)
			}
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		run(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("LATCHKEY_TEST_DATABASE_URL")
		if url == "" {
			t.Skip("LATCHKEY_TEST_DATABASE_URL is not set (CI sets it)")
		}
		run(t, OpenTestPostgres(t, url))
	})
}
