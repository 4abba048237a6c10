package store_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// BenchmarkList100k pages through 100,000 connections, 100 at a time, by
// offset and by cursor: the first, the middle and the last page, on SQLite
// and PostgreSQL (LATCHKEY_TEST_DATABASE_URL); with -v it also logs each
// filter's plan (docs/database.md shows them).
//
//	go test ./internal/store -run XXX -bench List100k -v
func BenchmarkList100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := store.OpenSQLite(context.Background(), b.TempDir()+"/latchkey.db")
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		benchList(b, s)
	})
	if url := os.Getenv("LATCHKEY_TEST_DATABASE_URL"); url != "" {
		b.Run("postgres", func(b *testing.B) { benchList(b, openTestPostgresConns(b, url, 8)) })
	}
}

const benchConns = 100_000

// seedBulk writes n connections with multi-row INSERTs: created one
// millisecond apart, end users and organisations in groups of ten, every
// hundredth expired, every tenth tagged tier=gold.
func seedBulk(b testing.TB, s *store.Store, n int) (*domain.Environment, []*domain.ListPosition) {
	ctx := context.Background()
	env, _, err := s.EnsureEnvironment(ctx, "dev", "hash")
	if err != nil {
		b.Fatal(err)
	}
	integ, err := s.CreateIntegration(ctx, &domain.Integration{EnvironmentID: env.ID, UniqueKey: "jira", Provider: "atlassian-service-account-api-token"})
	if err != nil {
		b.Fatal(err)
	}
	ph := func(i int) string {
		if s.Dialect() == "postgres" {
			return fmt.Sprintf("$%d", i)
		}
		return "?"
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	const per = 500
	cols := []string{"environment_id", "integration_id", "connection_id", "provider", "credentials", "credentials_key_id", "has_end_user", "end_user_id", "end_user_org_id",
		"end_user_email", "status", "created_at", "updated_at"}
	for from := 0; from < n; from += per {
		var sb, tb strings.Builder
		sb.WriteString("INSERT INTO connections (" + strings.Join(cols, ", ") + ") VALUES ")
		var args, targs []any
		for i := from; i < min(from+per, n); i++ {
			if i > from {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j := range cols {
				if j > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(ph(len(args) + j + 1))
			}
			sb.WriteByte(')')
			status := domain.StatusOK
			if i%100 == 0 {
				status = domain.StatusExpired
			}
			at := base + int64(i)
			args = append(args, env.ID, integ.ID, fmt.Sprintf("seed-%06d", i), integ.Provider, "v1:bench:sealed", "bench", 1,
				fmt.Sprint("user-", i/10), fmt.Sprint("org-", i/10), fmt.Sprintf("user-%d@example.com", i), status, at, at)
		}
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
		tb.WriteString("INSERT INTO connection_tags (connection_pk, key, value) SELECT id, 'tier', 'gold' FROM connections WHERE connection_id IN (")
		for i := from; i < min(from+per, n); i += 10 {
			if len(targs) > 0 {
				tb.WriteString(", ")
			}
			targs = append(targs, fmt.Sprintf("seed-%06d", i))
			tb.WriteString(ph(len(targs)))
		}
		tb.WriteString(")")
		if _, err := tx.ExecContext(ctx, tb.String(), targs...); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if s.Dialect() == "postgres" {
		// What autovacuum does soon after a load: statistics for the planner,
		// the visibility map for index-only scans.
		if _, err := s.DB().ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	// The position before the first, middle and last page of 100.
	var pos []*domain.ListPosition
	for _, skip := range []int{0, n / 2, n - 100} {
		if skip == 0 {
			pos = append(pos, nil)
			continue
		}
		list, err := s.ListConnections(ctx, env.ID, domain.ConnectionFilter{Limit: 1, Offset: skip - 1})
		if err != nil || len(list) != 1 {
			b.Fatalf("position %d: %v", skip, err)
		}
		pos = append(pos, &domain.ListPosition{CreatedAt: list[0].CreatedAt, PK: list[0].ID})
	}
	return env, pos
}

func benchList(b *testing.B, s *store.Store) {
	ctx := context.Background()
	env, pos := seedBulk(b, s, benchConns)
	for _, c := range listCases(pos[1]) {
		plan, err := s.ExplainListConnections(ctx, env.ID, c.f)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s, %s:\n%s", s.Dialect(), c.name, plan)
	}
	for i, name := range []string{"first", "middle", "last"} {
		for _, paging := range []string{"offset", "cursor"} {
			f := domain.ConnectionFilter{Limit: 101}
			if paging == "cursor" {
				f.After = pos[i]
			} else {
				f.Offset = []int{0, benchConns / 2, benchConns - 100}[i]
			}
			b.Run(paging+"-"+name, func(b *testing.B) {
				for b.Loop() {
					list, err := s.ListConnections(ctx, env.ID, f)
					if err != nil || len(list) != min(101, benchConns-[]int{0, benchConns / 2, benchConns - 100}[i]) {
						b.Fatalf("%d connections, %v", len(list), err)
					}
				}
			})
		}
	}
}
