package oplog_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/oplog"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// open opens and migrates a real store of the backend: a SQLite file, or a
// PostgreSQL schema of its own (skipped when no server is configured).
func open(t *testing.T, backend string) *store.Store {
	t.Helper()
	ctx := context.Background()
	var st *store.Store
	var err error
	if backend == "sqlite" {
		st, err = store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	} else {
		st, err = store.OpenPostgres(ctx, testdb.PostgresURL(t), store.PostgresOptions{MaxConns: 4})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// Entries with text a database refuses (NUL, invalid UTF-8) are cleaned, and
// none of them loses the entries written in the same batch.
func TestHostileEntriesDoNotLoseTheirBatch(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			st := open(t, backend)
			ctx := context.Background()
			env, _, err := st.EnsureEnvironment(ctx, "dev", secret.HashToken("k"))
			if err != nil {
				t.Fatal(err)
			}
			w := oplog.New(st, slog.New(slog.DiscardHandler))
			defer w.Close()
			msgs := []string{"fine", "nul\x00inside", "bad \xff\xfe utf-8", "also fine"}
			for _, m := range msgs {
				w.Add(&domain.Event{EnvironmentID: env.ID, IntegrationKey: "jira", ConnectionID: "c1", Kind: "proxy", Outcome: "success", Message: m})
			}
			w.Flush()
			got, err := st.ListEvents(ctx, env.ID, "jira", "c1", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(msgs) || w.Dropped() != 0 {
				t.Fatalf("%d of %d entries written, %d dropped", len(got), len(msgs), w.Dropped())
			}
			for _, e := range got {
				if strings.ContainsRune(e.Message, 0) || !strings.Contains(strings.Join(msgs, ""), strings.Split(e.Message, "\uFFFD")[0]) {
					t.Errorf("stored %q", e.Message)
				}
			}
		})
	}
}
