package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// However the lists are filtered (lists of integrations and tag filters of
// any length, every combination of the optional filters, webhook claims
// skipping or taking any set of receivers, event batches of any size), the
// store sends a fixed set of query texts: the statements it prepares (and, on
// PostgreSQL, those the server holds for its connection) stop growing after
// the first pass, none of them is dropped from the cache unprepared, and a
// second pass with other lengths and values adds none.
func TestStatementsStayBounded(t *testing.T) {
	run := func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		env, _, err := s.EnsureEnvironment(ctx, "dev", "hash")
		if err != nil {
			t.Fatal(err)
		}
		integ, err := s.CreateIntegration(ctx, &domain.Integration{EnvironmentID: env.ID, UniqueKey: "jira", Provider: "atlassian-service-account-api-token"})
		if err != nil {
			t.Fatal(err)
		}
		k, _ := secret.GenerateKey()
		ring, _ := secret.NewKeyRing(k)
		for i := range 5 {
			id := fmt.Sprint("c", i)
			sealed, _ := ring.Encrypt([]byte(`{"type":"BASIC"}`), []byte(id))
			if _, _, err := s.UpsertConnection(ctx, &domain.Connection{EnvironmentID: env.ID, IntegrationID: integ.ID, ConnectionID: id, Provider: integ.Provider,
				SealedCredentials: sealed, EndUser: &domain.EndUser{ID: fmt.Sprint("u", i%2), OrganizationID: "o"}, Tags: map[string]string{"tier": "gold", "n": fmt.Sprint(i)}},
				domain.UpsertOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		pass := func(lengths []int, salt string) {
			t.Helper()
			for _, n := range lengths {
				keys := []string{"jira"}
				tags := map[string]string{"tier": "gold"}
				for i := range n {
					keys = append(keys, fmt.Sprint("key-", salt, i))
					tags[fmt.Sprint("t", salt, i)] = fmt.Sprint(i)
				}
				for mask := range 1 << 7 {
					f := domain.ConnectionFilter{Limit: 10 + n, Offset: n % 3}
					if mask&1 != 0 {
						f.ConnectionID = "c1"
					}
					if mask&2 != 0 {
						f.Search = "c" + salt
					}
					if mask&4 != 0 {
						f.EndUserID = "u1"
					}
					if mask&8 != 0 {
						f.EndUserOrgID = "o"
					}
					if mask&16 != 0 {
						f.IntegrationIDs = keys
					}
					if mask&32 != 0 {
						f.Status = domain.StatusOK
					}
					if mask&64 != 0 {
						f.Tags = tags
					}
					if _, err := s.ListConnections(ctx, env.ID, f); err != nil {
						t.Fatalf("list %+v: %v", f, err)
					}
				}
				if _, err := s.ClaimWebhooksFor(ctx, time.Now(), time.Minute, 5, 2, keys, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := s.ClaimWebhooksFor(ctx, time.Now(), time.Minute, 5, 2, nil, keys); err != nil {
					t.Fatal(err)
				}
				var events []*domain.Event
				for range n {
					events = append(events, &domain.Event{EnvironmentID: env.ID, Kind: "proxy", Outcome: "success"})
				}
				if err := s.InsertEvents(ctx, events); err != nil {
					t.Fatal(err)
				}
			}
		}
		serverStatements := func() int {
			if s.Dialect() != "postgres" {
				return 0
			}
			var n int
			if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_prepared_statements`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		pass([]int{1, 2, 3, 7, 12, 25, 40, 120}, "a")
		cached, unprepared := s.StatementStats()
		server := serverStatements()
		pass([]int{4, 5, 9, 13, 31, 57, 101, 150}, "b")
		cached2, unprepared2 := s.StatementStats()
		server2 := serverStatements()
		t.Logf("%s: %d statements cached, %d on the server", s.Dialect(), cached2, server2)
		if cached2 != cached || unprepared2 != 0 || unprepared != 0 {
			t.Errorf("cached statements %d, then %d after other lengths (%d, %d run unprepared): the query texts vary with the filters", cached, cached2, unprepared, unprepared2)
		}
		if server2 != server {
			t.Errorf("PostgreSQL holds %d prepared statements for the connection, then %d after other lengths", server, server2)
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("LATCHKEY_TEST_DATABASE_URL")
		if url == "" {
			t.Skip("LATCHKEY_TEST_DATABASE_URL is not set (CI sets it)")
		}
		// One connection, so that pg_prepared_statements (per session) sees
		// every statement the store made.
		run(t, openTestPostgresConns(t, url, 1))
	})
}
