// Package storetest is the contract every store backend passes: each method,
// constraint and ordering the services rely on, run against a real database.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// Opener returns a fresh, empty, migrated store for one test.
type Opener func(t *testing.T) *store.Store

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     *testing.T
	s     *store.Store
	clock *clock
	ctx   context.Context
	ring  *secret.KeyRing
	env   *domain.Environment
	integ *domain.Integration
}

func setup(t *testing.T, open Opener) *fixture {
	t.Helper()
	s := open(t)
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	s.SetClock(c.now)
	k, _ := secret.GenerateKey()
	ring, _ := secret.NewKeyRing(k)
	f := &fixture{t: t, s: s, clock: c, ctx: context.Background(), ring: ring}
	env, created, err := s.EnsureEnvironment(f.ctx, "dev", "hash-dev")
	if err != nil || !created {
		t.Fatalf("EnsureEnvironment: %v %v", created, err)
	}
	f.env = env
	f.integ, err = s.CreateIntegration(f.ctx, &domain.Integration{EnvironmentID: env.ID, UniqueKey: "jira", Provider: "atlassian-service-account-api-token", DisplayName: "Jira", ForwardWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) conn(id string, mut ...func(*domain.Connection)) *domain.Connection {
	c := &domain.Connection{EnvironmentID: f.env.ID, IntegrationID: f.integ.ID, ConnectionID: id, Provider: f.integ.Provider,
		ConnectionConfig: map[string]any{"cloudId": "c-" + id}, Status: domain.StatusOK}
	c.SealedCredentials, _ = f.ring.Encrypt([]byte(`{"type":"BASIC"}`), []byte(id))
	for _, m := range mut {
		m(c)
	}
	return c
}

func (f *fixture) upsert(c *domain.Connection, opts domain.UpsertOptions) (*domain.Connection, bool) {
	f.t.Helper()
	out, created, err := f.s.UpsertConnection(f.ctx, c, opts)
	if err != nil {
		f.t.Fatalf("upsert %s: %v", c.ConnectionID, err)
	}
	return out, created
}

// Run runs the whole contract.
func Run(t *testing.T, open Opener) {
	tests := map[string]func(*testing.T, *fixture){
		"Migrate":       testMigrate,
		"Environments":  testEnvironments,
		"Settings":      testSettings,
		"Integrations":  testIntegrations,
		"Sessions":      testSessions,
		"SessionBucket": testSessionAttempts,
		"Upsert":        testUpsert,
		"UpsertOutbox":  testUpsertOutbox,
		"List":          testList,
		"PatchDelete":   testPatchDelete,
		"Metadata":      testMetadata,
		"Events":        testEvents,
		"Webhooks":      testWebhooks,
		"WebhookQueue":  testWebhookQueue,
		"ClaimOnce":     testClaimOnce,
		"ClaimByTarget": testClaimByTarget,
		"Leases":        testLeases,
		"ConcurrentIDs": testConcurrentUpserts,
		"ConcurrentEnv": testConcurrentEnsureEnvironment,
		"SecretKeys":    testSecretKeys,
		"Console":       testConsoleSessions,
		"Audit":         testAudit,
		"Overview":      testOverview,
		"PurgeEvents":   testPurgeEvents,
		"PurgeWebhooks": testPurgeWebhooks,
		"PurgeRetried":  testPurgeWaitsOutARetry,
		"ClaimChecks":   testClaimChecks,
		"PurgeOthers":   testPurgeSessionsAndAudit,
		"Reclaim":       testReclaim,
	}
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) { tests[n](t, setup(t, open)) })
	}
}

func testMigrate(t *testing.T, f *fixture) {
	n, err := f.s.Migrate(f.ctx)
	if err != nil || n != 0 {
		t.Errorf("second Migrate applied %d, %v", n, err)
	}
	all, applied, err := f.s.MigrationStatus(f.ctx)
	if err != nil || len(all) < 3 || len(applied) != len(all) {
		t.Errorf("status: %d migrations, %d applied, %v", len(all), len(applied), err)
	}
}

func testEnvironments(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	if e, _ := s.EnvironmentBySecretKeyHash(ctx, "hash-dev"); e == nil || e.ID != f.env.ID || e.Name != "dev" {
		t.Errorf("by hash: %+v", e)
	}
	if _, err := s.EnvironmentBySecretKeyHash(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown hash: %v", err)
	}
	// A new key at start-up is added: both work until one is revoked.
	e, created, err := s.EnsureEnvironment(ctx, "dev", "hash-dev-2")
	if err != nil || created || e.ID != f.env.ID {
		t.Errorf("rekey: %+v %v %v", e, created, err)
	}
	for _, h := range []string{"hash-dev", "hash-dev-2"} {
		if e, _ := s.EnvironmentBySecretKeyHash(ctx, h); e == nil || e.ID != f.env.ID {
			t.Errorf("after adding a key, %s: %+v", h, e)
		}
	}
	if keys, _ := s.ListSecretKeys(ctx, f.env.ID); len(keys) != 2 || keys[0].Label != "first key" || keys[1].Label != "added at start-up" {
		t.Errorf("keys: %+v", keys)
	}
	called := false
	e2, created, err := s.EnsureEnvironmentIfMissing(ctx, "dev", func() (string, error) { called = true; return "x", nil })
	if err != nil || created || called || e2.ID != f.env.ID {
		t.Errorf("IfMissing on existing: %v %v %v", created, called, err)
	}
	prod, created, err := s.EnsureEnvironmentIfMissing(ctx, "prod", func() (string, error) { return "hash-prod", nil })
	if err != nil || !created {
		t.Errorf("IfMissing new: %+v %v", prod, err)
	}
	if e, _ := s.EnvironmentBySecretKeyHash(ctx, "hash-prod"); e == nil || e.ID != prod.ID {
		t.Errorf("generated key of prod: %+v", e)
	}
	if _, _, err := s.EnsureEnvironment(ctx, "stage", "hash-prod"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate key hash: %v", err)
	}
	if _, err := s.EnvironmentByName(ctx, "stage"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("stage was created with another environment's key: %v", err)
	}
	if err := s.SetEnvironmentWebhooks(ctx, f.env.ID, "https://a", "https://b"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWebhookSigningKey(ctx, f.env.ID, "v1:x:y"); err != nil {
		t.Fatal(err)
	}
	e, _ = s.EnvironmentByName(ctx, "dev")
	if e.WebhookURL != "https://a" || e.WebhookSecondaryURL != "https://b" || e.WebhookSigningKey != "v1:x:y" {
		t.Errorf("webhook settings: %+v", e)
	}
	if err := s.SetEnvironmentWebhooks(ctx, 999, "", ""); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown env: %v", err)
	}
}

func testSettings(t *testing.T, f *fixture) {
	if _, err := f.s.GetSetting(f.ctx, "k"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	f.s.SetSetting(f.ctx, "k", "1")
	f.s.SetSetting(f.ctx, "k", "2")
	if v, _ := f.s.GetSetting(f.ctx, "k"); v != "2" {
		t.Errorf("setting = %q", v)
	}
	f.upsert(f.conn("a"), domain.UpsertOptions{})
	ids, err := f.s.CredentialKeyIDs(f.ctx)
	if err != nil || len(ids) != 1 || ids[0] != f.ring.PrimaryKeyID() {
		t.Errorf("key ids %v %v", ids, err)
	}
}

func testIntegrations(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	if _, err := s.CreateIntegration(ctx, &domain.Integration{EnvironmentID: f.env.ID, UniqueKey: "jira", Provider: "p"}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate key: %v", err)
	}
	f.clock.add(time.Second)
	b, err := s.CreateIntegration(ctx, &domain.Integration{EnvironmentID: f.env.ID, UniqueKey: "b", Provider: "p", Config: map[string]any{"x": "y"}})
	if err != nil || b.Config["x"] != "y" {
		t.Fatalf("create: %+v %v", b, err)
	}
	list, _ := s.ListIntegrations(ctx, f.env.ID)
	if len(list) != 2 || list[0].UniqueKey != "jira" || list[1].UniqueKey != "b" {
		t.Errorf("list order: %+v", list)
	}
	b.UniqueKey, b.DisplayName = "c", "C"
	if _, err := s.UpdateIntegration(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Integration(ctx, f.env.ID, "c"); err != nil || got.DisplayName != "C" {
		t.Errorf("renamed: %+v %v", got, err)
	}
	b.UniqueKey = "jira"
	if _, err := s.UpdateIntegration(ctx, b); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("rename onto taken key: %v", err)
	}
	f.upsert(f.conn("x"), domain.UpsertOptions{})
	if err := s.DeleteIntegration(ctx, f.env.ID, "jira"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListConnections(ctx, f.env.ID, domain.ConnectionFilter{}); len(list) != 0 {
		t.Error("connections survive their integration")
	}
	if err := s.DeleteIntegration(ctx, f.env.ID, "jira"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func testSessions(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	in := &domain.ConnectSession{EnvironmentID: f.env.ID, TokenHash: "th", EndUser: &domain.EndUser{ID: "u", Tags: map[string]string{"a": "b"}},
		AllowedIntegrations: []string{"jira"}, ConfigDefaults: map[string]domain.IntegrationDefaults{"jira": {ConnectionConfig: map[string]any{"cloudId": "x"}}},
		Tags: map[string]string{"end_user_id": "u"}, ReconnectIntegration: "jira", ReconnectConnectionID: "c1", ExpiresAt: f.clock.now().Add(30 * time.Minute)}
	if _, err := s.CreateConnectSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConnectSessionByTokenHash(ctx, "th", f.clock.now())
	if err != nil || got.EndUser.Tags["a"] != "b" || got.AllowedIntegrations[0] != "jira" || got.ConfigDefaults["jira"].ConnectionConfig["cloudId"] != "x" ||
		!got.IsReconnect() || !got.ExpiresAt.Equal(in.ExpiresAt) {
		t.Errorf("session = %+v, %v", got, err)
	}
	if _, err := s.ConnectSessionByTokenHash(ctx, "th", f.clock.now().Add(30*time.Minute)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("expired session found: %v", err)
	}
	if _, err := s.CreateConnectSession(ctx, &domain.ConnectSession{EnvironmentID: f.env.ID, TokenHash: "th", ExpiresAt: f.clock.now()}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate token: %v", err)
	}
	n, err := s.PurgeSessions(ctx, f.clock.now().Add(time.Hour), 100)
	if err != nil || n != 1 {
		t.Errorf("purge: %d %v", n, err)
	}
	s.CreateConnectSession(ctx, &domain.ConnectSession{EnvironmentID: f.env.ID, TokenHash: "t2", ExpiresAt: f.clock.now().Add(time.Minute)})
	got, _ = s.ConnectSessionByTokenHash(ctx, "t2", f.clock.now())
	if got.EndUser != nil || len(got.AllowedIntegrations) != 0 {
		t.Errorf("empty session = %+v", got)
	}
	s.DeleteConnectSession(ctx, got.ID)
	if _, err := s.ConnectSessionByTokenHash(ctx, "t2", f.clock.now()); !errors.Is(err, domain.ErrNotFound) {
		t.Error("deleted session found")
	}
}

// A session's submission attempts come from a bucket on its row: a burst,
// then one per refill; concurrent submissions never take more than there is.
func testSessionAttempts(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	sess, err := s.CreateConnectSession(ctx, &domain.ConnectSession{EnvironmentID: f.env.ID, TokenHash: "bucket", ExpiresAt: f.clock.now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	const burst, refill = 5, 12 * time.Second
	now := f.clock.now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken, refused := 0, 0
	for range 20 {
		wg.Go(func() {
			ok, wait, err := s.TakeSessionAttempt(ctx, sess.ID, now, burst, refill)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				taken++
			case wait != refill:
				t.Errorf("an empty bucket says wait %v, want %v", wait, refill)
			default:
				refused++
			}
		})
	}
	wg.Wait()
	if taken != burst || refused != 20-burst {
		t.Fatalf("20 concurrent attempts: %d taken, %d refused; want %d and %d", taken, refused, burst, 20-burst)
	}
	// Half a refill later: still none, and half the wait.
	if ok, wait, err := s.TakeSessionAttempt(ctx, sess.ID, now.Add(refill/2), burst, refill); ok || err != nil || wait != refill/2 {
		t.Errorf("half a refill later: %v %v %v", ok, wait, err)
	}
	// One refill later: one attempt, then none.
	if ok, _, err := s.TakeSessionAttempt(ctx, sess.ID, now.Add(refill), burst, refill); !ok || err != nil {
		t.Errorf("a refill later: %v %v", ok, err)
	}
	if ok, wait, _ := s.TakeSessionAttempt(ctx, sess.ID, now.Add(refill), burst, refill); ok || wait != refill {
		t.Errorf("right after: %v %v", ok, wait)
	}
	// Long after: the bucket is full again, never fuller.
	later := now.Add(time.Hour)
	for i := range burst + 1 {
		ok, _, _ := s.TakeSessionAttempt(ctx, sess.ID, later, burst, refill)
		if ok != (i < burst) {
			t.Errorf("an hour later, attempt %d: %v", i+1, ok)
		}
	}
	if _, _, err := s.TakeSessionAttempt(ctx, sess.ID+1000, now, burst, refill); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
}

func testUpsert(t *testing.T, f *fixture) {
	exp := f.clock.now().Add(90 * 24 * time.Hour)
	c, created := f.upsert(f.conn("a", func(c *domain.Connection) {
		c.Metadata = map[string]any{"m": 1.0}
		c.EndUser = &domain.EndUser{ID: "u1", Email: "e@x", OrganizationID: "o1", Tags: map[string]string{"k": "v"}}
		c.Tags = map[string]string{"t": "1"}
		c.Warnings = []domain.Warning{{Code: "scope_missing", Product: "jira", Message: "m"}}
		c.Status = domain.StatusScopeMissing
		c.CredentialsExpiresAt = &exp
		c.WebhookURLOverride = "https://hook"
	}), domain.UpsertOptions{})
	if !created || c.ID == 0 || c.IntegrationKey != "jira" || c.Metadata["m"] != 1.0 || c.EndUser.OrganizationID != "o1" || c.EndUser.Tags["k"] != "v" ||
		c.Tags["t"] != "1" || c.Warnings[0].Product != "jira" || c.Status != "scope_missing" || !c.CredentialsExpiresAt.Equal(exp) || c.WebhookURLOverride != "https://hook" {
		t.Fatalf("created = %+v", c)
	}
	f.clock.add(time.Minute)
	// An update keeps id, creation time, metadata, end user, tags and override unless given.
	u, created := f.upsert(f.conn("a", func(c *domain.Connection) {
		c.ConnectionConfig = map[string]any{"cloudId": "new"}
		c.Metadata = map[string]any{"ignored": true}
	}), domain.UpsertOptions{})
	if created || u.ID != c.ID || !u.CreatedAt.Equal(c.CreatedAt) || !u.UpdatedAt.After(c.UpdatedAt) || u.Metadata["m"] != 1.0 || u.Metadata["ignored"] != nil ||
		u.EndUser == nil || u.EndUser.ID != "u1" || u.Tags["t"] != "1" || u.WebhookURLOverride != "https://hook" || u.ConnectionConfig["cloudId"] != "new" ||
		u.Status != domain.StatusOK || len(u.Warnings) != 0 || u.CredentialsExpiresAt != nil {
		t.Errorf("updated = %+v", u)
	}
	// ReplaceMetadata replaces.
	r, _ := f.upsert(f.conn("a", func(c *domain.Connection) { c.Metadata = map[string]any{"n": "x"} }), domain.UpsertOptions{ReplaceMetadata: true})
	if r.Metadata["m"] != nil || r.Metadata["n"] != "x" {
		t.Errorf("replaced metadata = %v", r.Metadata)
	}
	got, err := f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "a")
	if err != nil || got.SealedCredentials == "" || got.ID != c.ID {
		t.Errorf("Connection: %+v %v", got, err)
	}
	if _, err := f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, _, err := f.s.UpsertConnection(f.ctx, f.conn("b", func(c *domain.Connection) { c.SealedCredentials = "plain" }), domain.UpsertOptions{}); err == nil {
		t.Error("unsealed credentials accepted")
	}
	if err := f.s.MarkFetched(f.ctx, c.ID, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	got, _ = f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "a")
	if got.LastFetchedAt == nil || !got.LastFetchedAt.Equal(f.clock.now()) {
		t.Errorf("last fetched = %v", got.LastFetchedAt)
	}
}

// A change written through Write commits with its webhooks and event, or not at all.
func testUpsertOutbox(t *testing.T, f *fixture) {
	var createdSeen []bool
	write := func(c *domain.Connection) error {
		return f.s.Write(f.ctx, func(tx domain.Tx) error {
			saved, created, err := tx.UpsertConnection(f.ctx, c, domain.UpsertOptions{})
			if err != nil {
				return err
			}
			createdSeen = append(createdSeen, created)
			if err := tx.Enqueue(f.ctx, []domain.OutboxMessage{{EnvironmentID: f.env.ID, URL: "https://h", EventType: "auth.x", ConnectionID: saved.ConnectionID,
				Body: []byte(`{"id":"` + saved.ConnectionID + `"}`)}}); err != nil {
				return err
			}
			return tx.InsertEvent(f.ctx, &domain.Event{EnvironmentID: f.env.ID, IntegrationKey: "jira", ConnectionID: saved.ConnectionID, Kind: "auth.x", Outcome: "success", Message: "m"})
		})
	}
	if err := write(f.conn("a")); err != nil {
		t.Fatal(err)
	}
	if err := write(f.conn("a")); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(createdSeen) != "[true false]" {
		t.Errorf("created flags %v", createdSeen)
	}
	list, _ := f.s.ListWebhooks(f.ctx, f.env.ID, "", 0, 10)
	if len(list) != 2 || string(list[0].Body) != `{"id":"a"}` {
		t.Errorf("outbox = %+v", list)
	}
	events, _ := f.s.ListEvents(f.ctx, f.env.ID, "jira", "a", 0, 10)
	if len(events) != 2 {
		t.Errorf("events = %d, want 2", len(events))
	}
	// A failing change leaves no webhook and no event behind.
	if err := write(f.conn("b", func(c *domain.Connection) { c.IntegrationID = 9999 })); err == nil {
		t.Fatal("upsert into a missing integration succeeded")
	}
	if list, _ := f.s.ListWebhooks(f.ctx, f.env.ID, "", 0, 10); len(list) != 2 {
		t.Errorf("a failed change left %d webhooks", len(list))
	}
	// A step failing after the upsert undoes the upsert too.
	err := f.s.Write(f.ctx, func(tx domain.Tx) error {
		if _, _, err := tx.UpsertConnection(f.ctx, f.conn("c"), domain.UpsertOptions{}); err != nil {
			return err
		}
		return fmt.Errorf("later step failed")
	})
	if err == nil {
		t.Fatal("Write hid the step's error")
	}
	if _, err := f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "c"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("connection of a failed unit of work: %v", err)
	}
}

func testList(t *testing.T, f *fixture) {
	other, _ := f.s.CreateIntegration(f.ctx, &domain.Integration{EnvironmentID: f.env.ID, UniqueKey: "wiki", Provider: "p"})
	for i := 0; i < 6; i++ {
		i := i
		f.upsert(f.conn(fmt.Sprintf("conn_%d", i), func(c *domain.Connection) {
			c.EndUser = &domain.EndUser{ID: fmt.Sprintf("u%d", i%2), Email: fmt.Sprintf("P%d@Example.com", i), DisplayName: fmt.Sprintf("Person %d", i), OrganizationID: fmt.Sprintf("o%d", i%3)}
			c.Tags = map[string]string{"tier": []string{"gold", "silver"}[i%2], "n": fmt.Sprint(i)}
			if i == 5 {
				c.IntegrationID = other.ID
				c.Status = domain.StatusExpired
			}
		}), domain.UpsertOptions{})
		if i != 2 { // two rows share a creation time: ties break by id
			f.clock.add(time.Second)
		}
	}
	ids := func(fl domain.ConnectionFilter) string {
		list, err := f.s.ListConnections(f.ctx, f.env.ID, fl)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range list {
			out = append(out, strings.TrimPrefix(c.ConnectionID, "conn_"))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		f    domain.ConnectionFilter
		want string
	}{
		{domain.ConnectionFilter{}, "5,4,3,2,1,0"},
		{domain.ConnectionFilter{EndUserID: "u1"}, "5,3,1"},
		{domain.ConnectionFilter{EndUserOrgID: "o0"}, "3,0"},
		{domain.ConnectionFilter{IntegrationIDs: []string{"wiki"}}, "5"},
		{domain.ConnectionFilter{IntegrationIDs: []string{"jira", "wiki"}, Limit: 2}, "5,4"},
		{domain.ConnectionFilter{Tags: map[string]string{"tier": "gold", "n": "2"}}, "2"},
		{domain.ConnectionFilter{Tags: map[string]string{"tier": "gold", "n": "3"}}, ""},
		{domain.ConnectionFilter{ConnectionID: "conn_3"}, "3"},
		{domain.ConnectionFilter{Search: "p4@example"}, "4"},
		{domain.ConnectionFilter{Search: "PERSON 1"}, "1"},
		{domain.ConnectionFilter{Search: "conn_"}, "5,4,3,2,1,0"},
		{domain.ConnectionFilter{Search: "%"}, ""},
		{domain.ConnectionFilter{Search: "_"}, "5,4,3,2,1,0"},
		{domain.ConnectionFilter{Status: "expired"}, "5"},
		{domain.ConnectionFilter{Limit: 2, Offset: 2}, "3,2"},
		{domain.ConnectionFilter{Limit: 2, Offset: 6}, ""},
	}
	for _, c := range cases {
		if got := ids(c.f); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.f, got, c.want)
		}
	}
	// Another environment sees nothing.
	prod, _, _ := f.s.EnsureEnvironment(f.ctx, "prod", "hash-prod")
	if list, _ := f.s.ListConnections(f.ctx, prod.ID, domain.ConnectionFilter{}); len(list) != 0 {
		t.Error("environments leak")
	}
}

func testPatchDelete(t *testing.T, f *fixture) {
	f.upsert(f.conn("a", func(c *domain.Connection) {
		c.Tags = map[string]string{"old": "1"}
		c.EndUser = &domain.EndUser{ID: "u"}
	}), domain.UpsertOptions{})
	tags := map[string]string{"new": "2"}
	hook := "https://h"
	var noUser *domain.EndUser
	if err := f.s.PatchConnection(f.ctx, f.env.ID, f.integ.ID, "a", domain.ConnectionPatch{Tags: &tags, WebhookURLOverride: &hook, EndUser: &noUser}); err != nil {
		t.Fatal(err)
	}
	c, _ := f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "a")
	if c.Tags["new"] != "2" || c.Tags["old"] != "" || c.WebhookURLOverride != hook || c.EndUser != nil {
		t.Errorf("patched = %+v", c)
	}
	if list, _ := f.s.ListConnections(f.ctx, f.env.ID, domain.ConnectionFilter{Tags: map[string]string{"old": "1"}}); len(list) != 0 {
		t.Error("old tag still matches")
	}
	if err := f.s.PatchConnection(f.ctx, f.env.ID, f.integ.ID, "nope", domain.ConnectionPatch{Tags: &tags}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("patch missing: %v", err)
	}
	if err := f.s.DeleteConnection(f.ctx, f.env.ID, f.integ.ID, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteConnection(f.ctx, f.env.ID, f.integ.ID, "a"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func testMetadata(t *testing.T, f *fixture) {
	f.upsert(f.conn("a"), domain.UpsertOptions{})
	f.upsert(f.conn("b", func(c *domain.Connection) { c.Metadata = map[string]any{"keep": true} }), domain.UpsertOptions{})
	if err := f.s.SetMetadata(f.ctx, f.env.ID, f.integ.ID, []string{"a", "b"}, map[string]any{"x": 1.0}, true); err != nil {
		t.Fatal(err)
	}
	a, _ := f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "a")
	b, _ := f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "b")
	if fmt.Sprint(a.Metadata) != "map[x:1]" || fmt.Sprint(b.Metadata) != "map[keep:true x:1]" {
		t.Errorf("merged: %v %v", a.Metadata, b.Metadata)
	}
	err := f.s.SetMetadata(f.ctx, f.env.ID, f.integ.ID, []string{"a", "ghost", "spook"}, map[string]any{"y": 2.0}, false)
	var missing *domain.MissingConnectionError
	if !errors.As(err, &missing) || fmt.Sprint(missing.IDs) != "[ghost spook]" || !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing ids: %v", err)
	}
	if a, _ = f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "a"); a.Metadata["y"] != nil {
		t.Error("partial metadata update applied")
	}
	f.s.SetMetadata(f.ctx, f.env.ID, f.integ.ID, []string{"b"}, map[string]any{"z": "z"}, false)
	if b, _ = f.s.Connection(f.ctx, f.env.ID, f.integ.ID, "b"); fmt.Sprint(b.Metadata) != "map[z:z]" {
		t.Errorf("replaced: %v", b.Metadata)
	}
}

func testEvents(t *testing.T, f *fixture) {
	f.s.InsertEvent(f.ctx, &domain.Event{EnvironmentID: f.env.ID, IntegrationKey: "jira", ConnectionID: "a", Kind: "auth.creation", Outcome: "success", Message: "m"})
	var batch []*domain.Event
	for i := 0; i < 250; i++ {
		batch = append(batch, &domain.Event{EnvironmentID: f.env.ID, IntegrationKey: "jira", ConnectionID: "b", Kind: "proxy", Outcome: "success", Code: "200", Message: fmt.Sprint(i)})
	}
	if err := f.s.InsertEvents(f.ctx, batch); err != nil {
		t.Fatal(err)
	}
	page, _ := f.s.ListEvents(f.ctx, f.env.ID, "jira", "b", 0, 100)
	if len(page) != 100 || page[0].Message != "249" {
		t.Fatalf("page 1: %d, first %q", len(page), page[0].Message)
	}
	next, _ := f.s.ListEvents(f.ctx, f.env.ID, "jira", "b", page[99].ID, 1000)
	if len(next) != 150 || next[149].Message != "0" {
		t.Errorf("page 2: %d", len(next))
	}
	if all, _ := f.s.ListEvents(f.ctx, f.env.ID, "", "", 0, 1000); len(all) != 251 {
		t.Errorf("all: %d", len(all))
	}
}

func testWebhooks(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	msgs := []domain.OutboxMessage{{EnvironmentID: f.env.ID, URL: "https://a", EventType: "auth.creation", Body: []byte("1")},
		{EnvironmentID: f.env.ID, URL: "https://b", EventType: "auth.override", Body: []byte("2")}}
	if err := s.EnqueueWebhooks(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimWebhooks(ctx, f.clock.now(), time.Minute, 10)
	if err != nil || len(claimed) != 2 || claimed[0].Attempts != 1 {
		t.Fatalf("claim: %v %+v", err, claimed)
	}
	if again, _ := s.ClaimWebhooks(ctx, f.clock.now(), time.Minute, 10); len(again) != 0 {
		t.Error("claimed twice within the lease")
	}
	var a, b *domain.OutboxMessage
	for _, m := range claimed {
		if m.URL == "https://a" {
			a = m
		} else {
			b = m
		}
	}
	now := f.clock.now()
	next := now.Add(10 * time.Second)
	s.CompleteWebhook(ctx, a.ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 503, Error: "HTTP 503", Duration: 12 * time.Millisecond}, Next: &next})
	s.CompleteWebhook(ctx, b.ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 200}, Delivered: true})
	if due, _ := s.ClaimWebhooks(ctx, now.Add(5*time.Second), time.Minute, 10); len(due) != 0 {
		t.Error("claimed before its next attempt")
	}
	f.clock.add(11 * time.Second)
	due, _ := s.ClaimWebhooks(ctx, f.clock.now(), time.Minute, 10)
	if len(due) != 1 || due[0].ID != a.ID || due[0].Attempts != 2 {
		t.Fatalf("due: %+v", due)
	}
	s.CompleteWebhook(ctx, a.ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 2, At: f.clock.now(), Status: 404, Error: "HTTP 404"}})
	for status, want := range map[string]int{"": 2, "pending": 0, "delivered": 1, "failed": 1} {
		if l, _ := s.ListWebhooks(ctx, f.env.ID, status, 0, 10); len(l) != want {
			t.Errorf("status %q: %d, want %d", status, len(l), want)
		}
	}
	got, err := s.Webhook(ctx, f.env.ID, a.ID)
	if err != nil || got.FailedAt == nil || len(got.AttemptLog) != 2 || got.AttemptLog[0].Status != 503 || got.AttemptLog[0].Duration != 12*time.Millisecond || got.LastStatus != 404 {
		t.Errorf("webhook = %+v, %v", got, err)
	}
	if err := s.RetryWebhook(ctx, f.env.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.ClaimWebhooks(ctx, f.clock.now(), time.Minute, 10); len(due) != 1 {
		t.Error("retried webhook not due")
	}
	if err := s.RetryWebhook(ctx, f.env.ID, b.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("retry of a delivered webhook: %v", err)
	}
	if _, err := s.Webhook(ctx, f.env.ID, 99999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("missing webhook: %v", err)
	}
}

// Claims can be shared out by receiver: at most so many per target, some
// targets skipped, or only some taken; each row names its target.
func testClaimByTarget(t *testing.T, f *fixture) {
	var msgs []domain.OutboxMessage
	for i := 0; i < 5; i++ {
		for _, u := range []string{"https://Slow.example/a", "https://slow.example:443/b", "http://fast.example/x", "http://[2001:db8::1]:8080/y"} {
			msgs = append(msgs, domain.OutboxMessage{EnvironmentID: f.env.ID, URL: u, EventType: "x", Body: []byte(fmt.Sprint(i))})
		}
	}
	if err := f.s.EnqueueWebhooks(f.ctx, msgs); err != nil {
		t.Fatal(err)
	}
	const slow, fast, v6 = "https://slow.example:443", "http://fast.example:80", "http://[2001:db8::1]:8080"
	count := func(got []*domain.OutboxMessage) map[string]int {
		n := map[string]int{}
		for _, m := range got {
			if m.Target != domain.WebhookTarget(m.URL) {
				t.Errorf("row %d: target %q for %s", m.ID, m.Target, m.URL)
			}
			n[m.Target]++
		}
		return n
	}
	got, err := f.s.ClaimWebhooksFor(f.ctx, f.clock.now(), time.Minute, 10, 2, nil, nil)
	if n := count(got); err != nil || len(got) != 6 || n[slow] != 2 || n[fast] != 2 || n[v6] != 2 {
		t.Fatalf("two per target: %v %v", n, err)
	}
	got, _ = f.s.ClaimWebhooksFor(f.ctx, f.clock.now(), time.Minute, 10, 2, []string{slow}, nil)
	if n := count(got); len(got) != 4 || n[fast] != 2 || n[v6] != 2 {
		t.Errorf("skipping slow: %v", n)
	}
	got, _ = f.s.ClaimWebhooksFor(f.ctx, f.clock.now(), time.Minute, 10, 10, nil, []string{slow})
	if n := count(got); len(got) != 8 || n[slow] != 8 {
		t.Errorf("only slow: %v", n)
	}
	if got, _ := f.s.ClaimWebhooksFor(f.ctx, f.clock.now(), time.Minute, 10, 10, nil, []string{}); len(got) != 0 {
		t.Errorf("an empty only list took %d", len(got))
	}
	// The oldest first: of the last fast and v6 rows, fast was written first.
	got, _ = f.s.ClaimWebhooksFor(f.ctx, f.clock.now(), time.Minute, 1, 1, nil, nil)
	if len(got) != 1 || got[0].Target != fast || string(got[0].Body) != "4" {
		t.Errorf("oldest first: %+v", got)
	}
}

// The queue /metrics reports: pending deliveries and when the oldest was
// queued; delivered and abandoned ones leave it. And the pools it reports.
func testWebhookQueue(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	if n, oldest, err := s.WebhookQueue(ctx); err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("empty queue: %d %v %v", n, oldest, err)
	}
	first := f.clock.now()
	msg := func(url string) domain.OutboxMessage {
		return domain.OutboxMessage{EnvironmentID: f.env.ID, URL: url, EventType: "auth.creation", Body: []byte("{}")}
	}
	if err := s.EnqueueWebhooks(ctx, []domain.OutboxMessage{msg("https://a"), msg("https://b")}); err != nil {
		t.Fatal(err)
	}
	f.clock.add(time.Minute)
	second := f.clock.now()
	if err := s.EnqueueWebhooks(ctx, []domain.OutboxMessage{msg("https://c")}); err != nil {
		t.Fatal(err)
	}
	if n, oldest, err := s.WebhookQueue(ctx); err != nil || n != 3 || !oldest.Equal(first) {
		t.Fatalf("three pending: %d %v %v", n, oldest, err)
	}
	claimed, err := s.ClaimWebhooks(ctx, f.clock.now(), time.Minute, 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claim: %v %d", err, len(claimed))
	}
	now := f.clock.now()
	next := now.Add(time.Hour)
	for _, m := range claimed {
		o := domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 200}, Delivered: true}
		switch m.URL {
		case "https://b":
			o = domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 410}}
		case "https://c":
			o = domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 503}, Next: &next}
		}
		if err := s.CompleteWebhook(ctx, m.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	// a delivered, b abandoned, c waiting for its retry: still pending.
	if n, oldest, err := s.WebhookQueue(ctx); err != nil || n != 1 || !oldest.Equal(second) {
		t.Errorf("after delivery and refusal: %d %v %v", n, oldest, err)
	}
	pools := s.Pools()
	if len(pools) == 0 {
		t.Fatal("no pools")
	}
	for name, db := range pools {
		if err := db.PingContext(ctx); err != nil || !strings.HasPrefix(name, s.Dialect()) {
			t.Errorf("pool %s: %v", name, err)
		}
	}
}

// Concurrent claimers never get the same row.
func testClaimOnce(t *testing.T, f *fixture) {
	var msgs []domain.OutboxMessage
	for i := 0; i < 100; i++ {
		msgs = append(msgs, domain.OutboxMessage{EnvironmentID: f.env.ID, URL: "https://a", EventType: "x", Body: []byte(fmt.Sprint(i))})
	}
	f.s.EnqueueWebhooks(f.ctx, msgs)
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := f.s.ClaimWebhooks(f.ctx, f.clock.now(), time.Minute, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 100 {
		t.Errorf("claimed %d distinct, want 100", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d claimed %d times", id, n)
		}
	}
}

func testLeases(t *testing.T, f *fixture) {
	ok, err := f.s.TryLease(f.ctx, "job", "a", time.Minute)
	if !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	if ok, _ := f.s.TryLease(f.ctx, "job", "b", time.Minute); ok {
		t.Error("b took a held lease")
	}
	if ok, _ := f.s.TryLease(f.ctx, "job", "a", time.Minute); !ok {
		t.Error("a could not renew")
	}
	f.clock.add(2 * time.Minute)
	if ok, _ := f.s.TryLease(f.ctx, "job", "b", time.Minute); !ok {
		t.Error("b could not take an expired lease")
	}
	f.s.ReleaseLease(f.ctx, "job", "a") // not a's: no effect
	if ok, _ := f.s.TryLease(f.ctx, "job", "a", time.Minute); ok {
		t.Error("a released b's lease")
	}
	f.s.ReleaseLease(f.ctx, "job", "b")
	if ok, _ := f.s.TryLease(f.ctx, "job", "a", time.Minute); !ok {
		t.Error("released lease not free")
	}
}

// Concurrent upserts of the same connection leave one row.
func testConcurrentUpserts(t *testing.T, f *fixture) {
	var wg sync.WaitGroup
	var created sync.Map
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, c, err := f.s.UpsertConnection(f.ctx, f.conn("same"), domain.UpsertOptions{})
			if err != nil {
				errs <- err
				return
			}
			created.Store(c, true)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent upsert: %v", err)
	}
	if list, _ := f.s.ListConnections(f.ctx, f.env.ID, domain.ConnectionFilter{}); len(list) != 1 {
		t.Errorf("%d rows, want 1", len(list))
	}
}

// Instances starting together on one database create an environment once,
// and none of them fails.
func testConcurrentEnsureEnvironment(t *testing.T, f *fixture) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, envs := 0, map[int64]bool{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var env *domain.Environment
			var c bool
			var err error
			if i%2 == 0 {
				env, c, err = f.s.EnsureEnvironment(f.ctx, "shared", "hash-fixed")
			} else {
				env, c, err = f.s.EnsureEnvironmentIfMissing(f.ctx, "shared", func() (string, error) { return fmt.Sprint("hash-", i), nil })
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("ensure environment: %v", err)
				return
			}
			if c {
				created++
			}
			envs[env.ID] = true
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("created %d times, want once", created)
	}
	env, err := f.s.EnvironmentByName(f.ctx, "shared")
	if err != nil || len(envs) != 1 || !envs[env.ID] {
		t.Fatalf("environment: %v %v %v", env, envs, err)
	}
	// Every caller's key works: hash-fixed, and the generated one of the
	// instance that created it (if it was not an EnsureEnvironment).
	if e, _ := f.s.EnvironmentBySecretKeyHash(f.ctx, "hash-fixed"); e == nil || e.ID != env.ID {
		t.Errorf("hash-fixed: %+v", e)
	}
}
