package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// schemaTables reads the tables of a migrated store and their columns from
// the database itself: sqlite_master and pragma table_info on SQLite,
// information_schema on PostgreSQL (latchkey's schema only).
func schemaTables(t *testing.T, s *store.Store) map[string][]string {
	t.Helper()
	ctx := context.Background()
	q := `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
	if s.Dialect() == "postgres" {
		q = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`
	}
	rows, err := s.DB().QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		out[table] = append(out[table], col)
	}
	for _, cols := range out {
		sort.Strings(cols)
	}
	return out
}

func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// Copy moves every column of every table, as both dialects' schemas have
// them after every migration: a migration that adds a column or a table
// fails this test until copy.go lists it (or says why it is not copied).
func TestCopyMovesEveryColumn(t *testing.T) {
	plan, skipped := store.CopyPlan()
	check := func(t *testing.T, s *store.Store) {
		schema := schemaTables(t, s)
		moved := map[string]bool{}
		for _, tbl := range plan {
			moved[tbl.Name] = true
			cols, ok := schema[tbl.Name]
			if !ok {
				t.Errorf("copy moves table %s, which the %s schema does not have", tbl.Name, s.Dialect())
				continue
			}
			listed := slices.Sorted(slices.Values(tbl.Columns))
			for _, c := range cols {
				if !slices.Contains(listed, c) {
					t.Errorf("%s.%s (%s) is not moved by latchkey copy: add it to copyTables in copy.go", tbl.Name, c, s.Dialect())
				}
			}
			for _, c := range listed {
				if !slices.Contains(cols, c) {
					t.Errorf("copy lists %s.%s, which the %s schema does not have", tbl.Name, c, s.Dialect())
				}
			}
		}
		for table := range schema {
			if !moved[table] && skipped[table] == "" {
				t.Errorf("table %s (%s) is neither copied nor listed as left alone in copy.go", table, s.Dialect())
			}
		}
	}
	t.Run("sqlite", func(t *testing.T) { check(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("LATCHKEY_TEST_DATABASE_URL")
		if url == "" {
			t.Skip("LATCHKEY_TEST_DATABASE_URL is not set (CI sets it)")
		}
		check(t, OpenTestPostgres(t, url))
	})
}

// fillEveryColumn writes rows into every table copy moves, through the
// store's own methods, then sets what those leave at their defaults
// (lifecycle and rate-limit columns, lock times), so that every column holds
// at least one value other than NULL and its default.
func fillEveryColumn(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetSetting(ctx, "k", "v"))
	env, _, err := s.EnsureEnvironment(ctx, "dev", "hash-dev")
	must(err)
	must(s.SetEnvironmentWebhooks(ctx, env.ID, "https://hooks.example.com/a", "https://hooks.example.com/b"))
	must(s.SetWebhookSigningKey(ctx, env.ID, "v1:k:sealed"))
	key, err := s.CreateSecretKey(ctx, env.ID, "digest-2", "second", 10)
	must(err)
	integ, err := s.CreateIntegration(ctx, &domain.Integration{EnvironmentID: env.ID, UniqueKey: "jira", Provider: "atlassian-service-account-api-token",
		DisplayName: "Jira", ForwardWebhooks: false, Config: map[string]any{"x": "y"}})
	must(err)
	sess, err := s.CreateConnectSession(ctx, &domain.ConnectSession{EnvironmentID: env.ID, TokenHash: "th", EndUser: &domain.EndUser{ID: "u"},
		AllowedIntegrations: []string{"jira"}, ConfigDefaults: map[string]domain.IntegrationDefaults{"jira": {ConnectionConfig: map[string]any{"a": "b"}}},
		Overrides: map[string]map[string]string{"jira": {"docs_connect": "https://docs.example.com"}}, WebhookURLOverride: "https://hooks.example.com/s",
		Tags: map[string]string{"t": "1"}, ReconnectIntegration: "jira", ReconnectConnectionID: "c1", ExpiresAt: now.Add(time.Hour)})
	must(err)
	if _, _, err := s.TakeSessionAttempt(ctx, sess.ID, now, 5, 12*time.Second); err != nil {
		t.Fatal(err)
	}
	k, _ := secret.GenerateKey()
	ring, _ := secret.NewKeyRing(k)
	sealed, _ := ring.Encrypt([]byte(`{"type":"BASIC"}`), []byte("c1"))
	verified, expires := now.Add(-time.Hour), now.Add(90*24*time.Hour)
	c, _, err := s.UpsertConnection(ctx, &domain.Connection{EnvironmentID: env.ID, IntegrationID: integ.ID, ConnectionID: "c1", Provider: integ.Provider,
		ConnectionConfig: map[string]any{"cloudId": "x"}, SealedCredentials: sealed, Metadata: map[string]any{"m": 1},
		EndUser: &domain.EndUser{ID: "u", Email: "u@example.com", DisplayName: "U", OrganizationID: "o", OrganizationDisplayName: "O", Tags: map[string]string{"e": "f"}},
		Tags:    map[string]string{"tier": "gold"}, WebhookURLOverride: "https://hooks.example.com/c", Status: domain.StatusExpired,
		Errors: []domain.ConnectionError{{Type: "expired", LogID: "l"}}, Warnings: []domain.Warning{{Code: "w", Message: "m"}},
		LastVerifiedAt: &verified, CredentialsExpiresAt: &expires}, domain.UpsertOptions{})
	must(err)
	must(s.MarkFetched(ctx, c.ID, now))
	must(s.InsertEvent(ctx, &domain.Event{EnvironmentID: env.ID, IntegrationKey: "jira", ConnectionID: "c1", Kind: "proxy", Outcome: "failure", Code: "500", Message: "m"}))
	must(s.EnqueueWebhooks(ctx, []domain.OutboxMessage{{EnvironmentID: env.ID, URL: "https://hooks.example.com/w", EventType: "auth", ConnectionID: "c1", Body: []byte("{}")}}))
	hooks, err := s.ListWebhooks(ctx, env.ID, "", 0, 1)
	must(err)
	must(s.CompleteWebhook(ctx, hooks[0].ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 500, Error: "HTTP 500", Duration: time.Second}}))
	must(s.RetryWebhook(ctx, env.ID, hooks[0].ID))
	must(s.CompleteWebhook(ctx, hooks[0].ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 2, At: now, Status: 204}, Delivered: true}))
	_, err = s.CreateConsoleSession(ctx, &domain.ConsoleSession{Digest: "cd", EnvironmentID: env.ID, SecretKeyID: key.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)})
	must(err)
	must(s.InsertAudit(ctx, &domain.AuditEntry{EnvironmentID: env.ID, SecretKeyID: key.ID, Via: domain.ViaConsole, Action: "connection.delete", Target: "jira/c1", Detail: "d", Client: "10.0.0.1"}))
	// What the store's methods leave at NULL or a default in this short life.
	for _, q := range []string{
		`UPDATE secret_keys SET last_used_at = 1, revoked_at = 2`,
		`UPDATE connections SET next_check_at = 3, check_locked_until = 4, consecutive_failures = 2, expiry_notified_days = 7, has_end_user = 1`,
		`UPDATE webhook_outbox SET locked_until = 5, failed_at = 6, attempts = 2, last_error = 'HTTP 500'`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil { // the read pool writes too (tests only)
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// The fixture must give every column something to lose, or the round trip
// proves nothing about it: at least one row holds a value that is neither
// NULL nor the column's default.
func checkFixtureCoversEveryColumn(t *testing.T, s *store.Store) {
	t.Helper()
	plan, _ := store.CopyPlan()
	for _, tbl := range plan {
		for _, col := range tbl.Columns {
			var dflt sql.NullString
			if err := s.DB().QueryRow(`SELECT dflt_value FROM pragma_table_info(?) WHERE name = ?`, tbl.Name, col).Scan(&dflt); err != nil {
				t.Fatal(err)
			}
			cond := col + ` IS NOT NULL`
			if dflt.Valid {
				cond += ` AND ` + col + ` <> ` + dflt.String
			}
			var n int
			if err := s.DB().QueryRow(`SELECT COUNT(*) FROM ` + tbl.Name + ` WHERE ` + cond).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Errorf("the copy fixture never sets %s.%s to a value of its own (other than NULL or %s): set it in fillEveryColumn", tbl.Name, col, dflt.String)
			}
		}
	}
}

// dump reads every row of every copied table, columns in copy's order, rows
// in the order of their first columns, values as text.
func dump(t *testing.T, s *store.Store) map[string][]string {
	t.Helper()
	plan, _ := store.CopyPlan()
	out := map[string][]string{}
	for _, tbl := range plan {
		rows, err := s.DB().Query(`SELECT ` + strings.Join(tbl.Columns, ", ") + ` FROM ` + tbl.Name + ` ORDER BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(tbl.Columns))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&b, "%s=%v; ", tbl.Columns[i], v)
			}
			out[tbl.Name] = append(out[tbl.Name], b.String())
		}
		rows.Close()
	}
	return out
}

// latchkey copy from SQLite to PostgreSQL and back leaves every column of
// every row as it was.
func TestCopyRoundTripKeepsEveryColumn(t *testing.T) {
	url := os.Getenv("LATCHKEY_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("LATCHKEY_TEST_DATABASE_URL is not set (CI sets it)")
	}
	ctx := context.Background()
	src := openSQLite(t)
	fillEveryColumn(t, src)
	checkFixtureCoversEveryColumn(t, src)
	pg := OpenTestPostgres(t, url)
	back := openSQLite(t)
	for _, hop := range []struct {
		name     string
		from, to *store.Store
	}{{"sqlite to postgres", src, pg}, {"postgres to sqlite", pg, back}} {
		if _, err := store.Copy(ctx, hop.from, hop.to, nil); err != nil {
			t.Fatalf("%s: %v", hop.name, err)
		}
		want, got := dump(t, src), dump(t, hop.to)
		for table, rows := range want {
			if !slices.Equal(rows, got[table]) {
				t.Errorf("%s, table %s:\n want %q\n  got %q", hop.name, table, rows, got[table])
			}
		}
	}
}
