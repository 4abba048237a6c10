package app_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// seedBulk adds n connections to integration key with multi-row INSERTs (as
// bench/ does): one in every 10,000 has invalid credentials, one in 500
// expires within the week. It knows the connections table's columns.
func (h *harness) seedBulk(key string, n int) {
	h.t.Helper()
	ctx := context.Background()
	st := h.app.Store()
	env, _ := st.EnvironmentByName(ctx, "dev")
	integ, err := st.Integration(ctx, env.ID, key)
	if err != nil {
		h.t.Fatal(err)
	}
	cols := []string{"environment_id", "integration_id", "connection_id", "provider", "connection_config", "credentials", "credentials_key_id",
		"has_end_user", "end_user_id", "end_user_email", "end_user_display_name", "status", "last_verified_at", "credentials_expires_at", "created_at", "updated_at"}
	now := h.now()
	const batch = 500
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		var sb strings.Builder
		sb.WriteString("INSERT INTO connections (" + strings.Join(cols, ", ") + ") VALUES ")
		var args []any
		for i := from; i < to; i++ {
			if i > from {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j := range cols {
				if j > 0 {
					sb.WriteString(", ")
				}
				if st.Dialect() == "postgres" {
					fmt.Fprintf(&sb, "$%d", len(args)+j+1)
				} else {
					sb.WriteByte('?')
				}
			}
			sb.WriteByte(')')
			c := &domain.Connection{EnvironmentID: env.ID, IntegrationID: integ.ID, ConnectionID: fmt.Sprintf("bulk-%07d", i),
				Credentials: domain.Credentials{Type: domain.AuthModeBasic, Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken}}
			if err := h.app.Connections().Seal(c); err != nil {
				h.t.Fatal(err)
			}
			keyID, _ := secret.CiphertextKeyID(c.SealedCredentials)
			status := domain.StatusOK
			if i%10_000 == 4_321 {
				status = domain.StatusInvalidCredentials
			}
			var expires any
			if i%500 == 7 {
				expires = now.Add(5 * 24 * time.Hour).UnixMilli()
			}
			at := now.Add(-time.Duration(n-i) * time.Second).UnixMilli()
			args = append(args, env.ID, integ.ID, c.ConnectionID, integ.Provider,
				`{"cloudId":"`+atlassiansim.DemoCloudID+`","accountId":"712020:bulk-`+fmt.Sprint(i)+`"}`, c.SealedCredentials, keyID,
				1, fmt.Sprintf("customer-%d", i), fmt.Sprintf("ops@customer%d.example", i), fmt.Sprintf("Customer %d", i), status, at, expires, at, at)
		}
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			h.t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			tx.Rollback()
			h.t.Fatalf("seed %d to %d: %v", from, to, err)
		}
		if err := tx.Commit(); err != nil {
			h.t.Fatal(err)
		}
	}
	if st.Dialect() == "postgres" {
		// What autovacuum does to a table this size soon after the load:
		// statistics for the planner, the visibility map for index-only scans.
		if _, err := st.DB().ExecContext(ctx, `VACUUM ANALYZE connections`); err != nil {
			h.t.Fatal(err)
		}
	}
}

// The console's pages over 100,000 connections, on SQLite (and PostgreSQL
// when LATCHKEY_TEST_DATABASE_URL is set): the overview's counts, the first
// page, the one broken connection found by status, a search, a deep page.
func BenchmarkConsole100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchConsole(b, newHarness(b)) })
	if os.Getenv("LATCHKEY_TEST_DATABASE_URL") != "" {
		b.Run("postgres", func(b *testing.B) { benchConsole(b, newHarness(b, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(b))) })
	}
}

func benchConsole(b *testing.B, h *harness) {
	h.integration("jira", atlassian)
	h.seedBulk("jira", 100_000)
	op := h.operator()
	if p := op.signIn(testSecretKey); p.status != 303 {
		b.Fatalf("sign in: %d", p.status)
	}
	for _, c := range []struct{ name, path, want string }{
		{"overview", "/admin", `<span class="n">100000</span>`},
		{"first-page", "/admin/connections", "bulk-0099999"},
		{"by-status", "/admin/connections?status=invalid_credentials", "bulk-0094321"},
		{"search", "/admin/connections?q=" + url.QueryEscape("customer99998"), "bulk-0099998"},
		{"page-1000", "/admin/connections?page=1000", "bulk-0050049"},
		{"connection", "/admin/connection?integration=jira&id=bulk-0004321", "Invalid credentials"},
	} {
		b.Run(c.name, func(b *testing.B) {
			if p := op.get(c.path); p.status != 200 || !strings.Contains(p.body, c.want) {
				b.Fatalf("%s: %d, lacks %q", c.path, p.status, c.want)
			}
			b.ResetTimer()
			for b.Loop() {
				if p := op.get(c.path); p.status != 200 {
					b.Fatalf("%s: %d", c.path, p.status)
				}
			}
		})
	}
}
