package store_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// listCases are the listing's filters, one at a time, each on the first page
// and on a page further down (keyset).
func listCases(after *domain.ListPosition) []struct {
	name  string
	f     domain.ConnectionFilter
	index string // the index SQLite must use
} {
	return []struct {
		name  string
		f     domain.ConnectionFilter
		index string
	}{
		{"none", domain.ConnectionFilter{Limit: 101}, "connections_env_created"},
		{"none, after", domain.ConnectionFilter{Limit: 101, After: after}, "connections_env_created"},
		{"none, before", domain.ConnectionFilter{Limit: 101, Before: after}, "connections_env_created"},
		{"integration", domain.ConnectionFilter{Limit: 101, After: after, IntegrationIDs: []string{"jira"}}, "connections_integration_created"},
		{"end user", domain.ConnectionFilter{Limit: 101, After: after, EndUserID: "user-7"}, "connections_env_end_user"},
		{"organization", domain.ConnectionFilter{Limit: 101, After: after, EndUserOrgID: "org-7"}, "connections_env_org"},
		{"status", domain.ConnectionFilter{Limit: 101, After: after, Status: domain.StatusExpired}, "connections_env_status"},
		{"connection id", domain.ConnectionFilter{Limit: 101, ConnectionID: "seed-7"}, "connections_env_connection_id"},
		{"tag", domain.ConnectionFilter{Limit: 101, After: after, Tags: map[string]string{"tier": "gold"}}, "connection_tags_kv"},
		{"tags", domain.ConnectionFilter{Limit: 101, After: after, Tags: map[string]string{"tier": "gold", "n": "1"}}, "connection_tags_kv"},
		{"integrations", domain.ConnectionFilter{Limit: 101, After: after, IntegrationIDs: []string{"jira", "wiki"}}, "connections_env_created"},
		{"search", domain.ConnectionFilter{Limit: 101, After: after, Search: "user-7"}, "connections_env_created"},
	}
}

// seedList adds n connections, one millisecond apart, a tenth with tier=gold,
// a hundredth expired, end users and organisations in tens.
func seedList(t testing.TB, s *store.Store, n int) (*domain.Environment, *domain.ListPosition) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	s.SetClock(func() time.Time { return now })
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
	sealed, _ := ring.Encrypt([]byte(`{"type":"BASIC"}`), []byte("x"))
	var mid *domain.ListPosition
	for i := range n {
		now = start.Add(time.Duration(i) * time.Millisecond)
		c := &domain.Connection{EnvironmentID: env.ID, IntegrationID: integ.ID, ConnectionID: fmt.Sprint("seed-", i), Provider: integ.Provider, SealedCredentials: sealed,
			EndUser: &domain.EndUser{ID: fmt.Sprint("user-", i%(n/10+1)), OrganizationID: fmt.Sprint("org-", i%(n/10+1))}, Status: domain.StatusOK}
		if i%10 == 0 {
			c.Tags = map[string]string{"tier": "gold"}
		}
		if i%100 == 0 {
			c.Status = domain.StatusExpired
		}
		out, _, err := s.UpsertConnection(ctx, c, domain.UpsertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			mid = &domain.ListPosition{CreatedAt: out.CreatedAt, PK: out.ID}
		}
	}
	if s.Dialect() == "postgres" {
		s.DB().ExecContext(ctx, `ANALYZE`)
	}
	return env, mid
}

// Every filter of the listing is a range of an index that ends with the
// order's columns (no sort of the matches, no scan of the table), on the
// first page and any page after (SQLite's plans; docs/database.md shows both
// backends' at 100,000 connections).
func TestListConnectionsPlans(t *testing.T) {
	s := openSQLite(t)
	env, mid := seedList(t, s, 200)
	for _, c := range listCases(mid) {
		plan, err := s.ExplainListConnections(context.Background(), env.ID, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, c.index) || strings.Contains(plan, "TEMP B-TREE FOR ORDER BY") || strings.Contains(plan, "SCAN c\n") || strings.HasSuffix(plan, "SCAN c") {
			t.Errorf("%s: the plan does not walk %s alone:\n%s", c.name, c.index, plan)
		}
	}
	if os.Getenv("LATCHKEY_SHOW_PLANS") != "" {
		for _, c := range listCases(mid) {
			plan, _ := s.ExplainListConnections(context.Background(), env.ID, c.f)
			t.Logf("%s:\n%s", c.name, plan)
		}
	}
}

// The health checks' claim reads the connections_check_due index in its order
// (no sort of every connection due), bounded by the key.
func TestClaimChecksPlan(t *testing.T) {
	s := openSQLite(t)
	seedList(t, s, 200)
	plan, err := s.ExplainClaimChecks(context.Background(), time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "SEARCH connections USING INDEX connections_check_due") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("the claim does not read connections_check_due in order:\n%s", plan)
	}
	if os.Getenv("LATCHKEY_SHOW_PLANS") != "" {
		t.Logf("claim:\n%s", plan)
	}
}
