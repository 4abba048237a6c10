package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/latchkeyhq/latchkey/internal/store"
	"github.com/latchkeyhq/latchkey/internal/store/storetest"
)

func TestSQLiteContract(t *testing.T) {
	storetest.Run(t, openSQLite)
}

// TestPostgresContract runs the same contract on PostgreSQL, each test in a
// schema of its own, dropped afterwards. CI sets LATCHKEY_TEST_DATABASE_URL.
func TestPostgresContract(t *testing.T) {
	url := os.Getenv("LATCHKEY_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("LATCHKEY_TEST_DATABASE_URL is not set (CI sets it)")
	}
	storetest.Run(t, func(t *testing.T) *store.Store { return OpenTestPostgres(t, url) })
}

// OpenTestPostgres creates a fresh schema and a migrated store on it.
func OpenTestPostgres(t *testing.T, url string) *store.Store {
	t.Helper()
	return openTestPostgresConns(t, url, 8)
}

// openTestPostgresConns is OpenTestPostgres with a pool of conns connections.
func openTestPostgresConns(t testing.TB, url string, conns int) *store.Store {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "lk_test_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	s, err := store.OpenPostgres(ctx, url, store.PostgresOptions{SearchPath: schema, MaxConns: conns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
