package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// A database made before secret keys had their own table (migrations 1 to 5,
// one key per environment in environments.secret_key_hash) keeps working
// after migration 6: the key moves to secret_keys and still authenticates,
// and the old column holds nothing that looks like a key.
func TestSecretKeyMigration(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		checkKeyMigration(t, s, "sqlite")
	})
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("LATCHKEY_TEST_DATABASE_URL")
		if url == "" {
			t.Skip("LATCHKEY_TEST_DATABASE_URL is not set (CI sets it)")
		}
		ctx := context.Background()
		b := make([]byte, 6)
		rand.Read(b)
		schema := "lk_test_" + hex.EncodeToString(b)
		admin, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			admin.Close(context.Background())
		})
		s, err := store.OpenPostgres(ctx, url, store.PostgresOptions{SearchPath: schema, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		checkKeyMigration(t, s, "postgres")
	})
}

func checkKeyMigration(t *testing.T, s *store.Store, dialect string) {
	ctx := context.Background()
	db := s.DB()
	files, _ := filepath.Glob(filepath.Join("migrations", dialect, "000[1-5]_*.sql"))
	sort.Strings(files)
	if len(files) != 5 {
		t.Fatalf("%d old migrations", len(files))
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		b, _ := os.ReadFile(f)
		if _, err := db.ExecContext(ctx, string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := db.ExecContext(ctx, q(dialect, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`), i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range []string{"dev", "prod"} {
		if _, err := db.ExecContext(ctx, q(dialect, `INSERT INTO environments (name, secret_key_hash, created_at, updated_at) VALUES (?, ?, 1700000000000, 1700000000000)`), env, "digest-of-"+env); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Migrate(ctx)
	if err != nil || n < 1 {
		t.Fatalf("migrate: %d %v", n, err)
	}
	for _, env := range []string{"dev", "prod"} {
		k, e, err := s.SecretKeyByDigest(ctx, "digest-of-"+env)
		if err != nil || e.Name != env || k.Label != "first key" || k.CreatedAt.UnixMilli() != 1700000000000 || !k.Active() {
			t.Errorf("%s after the migration: %+v %+v %v", env, k, e, err)
		}
	}
	var old string
	if err := db.QueryRowContext(ctx, `SELECT secret_key_hash FROM environments WHERE name = 'dev'`).Scan(&old); err != nil || strings.Contains(old, "digest") {
		t.Errorf("environments.secret_key_hash = %q, %v", old, err)
	}
	// New environments still get a unique placeholder.
	if _, _, err := s.EnsureEnvironment(ctx, "stage", "digest-of-stage"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SecretKeyByDigest(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown digest: %v", err)
	}
}

func q(dialect, query string) string {
	if dialect != "postgres" {
		return query
	}
	for i := 1; strings.Contains(query, "?"); i++ {
		query = strings.Replace(query, "?", "$"+string(rune('0'+i)), 1)
	}
	return query
}
