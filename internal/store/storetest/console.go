package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// Several keys per environment: lookups by digest find active keys only,
// revocation is immediate and ends the key's console sessions, and the last
// active key cannot be revoked, even by two revocations at once.
func testSecretKeys(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	keys, err := s.ListSecretKeys(ctx, f.env.ID)
	if err != nil || len(keys) != 1 || keys[0].Digest != "hash-dev" || !keys[0].Active() || keys[0].LastUsedAt != nil {
		t.Fatalf("first key: %+v %v", keys, err)
	}
	first := keys[0]
	second, err := s.CreateSecretKey(ctx, f.env.ID, "hash-second", "billing", 3)
	if err != nil || second.Label != "billing" || second.EnvironmentID != f.env.ID || !second.CreatedAt.Equal(f.clock.now()) {
		t.Fatalf("create: %+v %v", second, err)
	}
	if _, err := s.CreateSecretKey(ctx, f.env.ID, "hash-second", "again", 3); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate digest: %v", err)
	}
	if _, err := s.CreateSecretKey(ctx, f.env.ID, "hash-third", "", 2); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("over the limit of active keys: %v", err)
	}
	k, env, err := s.SecretKeyByDigest(ctx, "hash-second")
	if err != nil || k.ID != second.ID || env.ID != f.env.ID || env.Name != "dev" {
		t.Fatalf("by digest: %+v %+v %v", k, env, err)
	}
	// Last use is recorded at most once a minute.
	if err := s.TouchSecretKey(ctx, second.ID, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSecretKey(ctx, second.ID, f.clock.now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if k, _, _ := s.SecretKeyByDigest(ctx, "hash-second"); k.LastUsedAt == nil || !k.LastUsedAt.Equal(f.clock.now()) {
		t.Errorf("last used: %v", k.LastUsedAt)
	}
	// A console session of the first key ends with its revocation.
	sess := f.consoleSession("sess-first", first.ID)
	revoked, err := s.RevokeSecretKey(ctx, f.env.ID, first.ID)
	if err != nil || revoked.RevokedAt == nil || revoked.ID != first.ID {
		t.Fatalf("revoke: %+v %v", revoked, err)
	}
	if _, _, err := s.SecretKeyByDigest(ctx, "hash-dev"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a revoked key is still found: %v", err)
	}
	if _, _, err := s.ConsoleSession(ctx, sess.Digest); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a session of a revoked key is still found: %v", err)
	}
	if again, err := s.RevokeSecretKey(ctx, f.env.ID, first.ID); err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Errorf("revoking again: %+v %v", again, err)
	}
	// The environment re-adding a revoked key at start-up does not revive it.
	if _, _, err := s.EnsureEnvironment(ctx, "dev", "hash-dev"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SecretKeyByDigest(ctx, "hash-dev"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a revoked key came back at start-up: %v", err)
	}
	if _, err := s.RevokeSecretKey(ctx, f.env.ID, second.ID); !errors.Is(err, store.ErrLastSecretKey) || !errors.Is(err, domain.ErrConflict) {
		t.Errorf("revoking the last active key: %v", err)
	}
	if _, err := s.RevokeSecretKey(ctx, f.env.ID, 9999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	prod, _, _ := s.EnsureEnvironment(ctx, "prod", "hash-prod")
	if _, err := s.RevokeSecretKey(ctx, prod.ID, second.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("another environment's key: %v", err)
	}
	// Two revocations at once of the only two active keys: one wins.
	third, err := s.CreateSecretKey(ctx, f.env.ID, "hash-third", "", 5)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []int64{second.ID, third.ID} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.RevokeSecretKey(ctx, f.env.ID, id) }()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("concurrent revocations of the last two keys: %v, %v", errs[0], errs[1])
	}
	active := 0
	keys, _ = s.ListSecretKeys(ctx, f.env.ID)
	for _, k := range keys {
		if k.Active() {
			active++
		}
	}
	if len(keys) != 3 || active != 1 {
		t.Errorf("%d keys, %d active, want 3 and 1", len(keys), active)
	}
}

func (f *fixture) consoleSession(digest string, keyID int64) *domain.ConsoleSession {
	f.t.Helper()
	now := f.clock.now()
	c, err := f.s.CreateConsoleSession(f.ctx, &domain.ConsoleSession{Digest: digest, EnvironmentID: f.env.ID, SecretKeyID: keyID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)})
	if err != nil {
		f.t.Fatalf("create console session: %v", err)
	}
	return c
}

func testConsoleSessions(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	keys, _ := s.ListSecretKeys(ctx, f.env.ID)
	a := f.consoleSession("digest-a", keys[0].ID)
	f.consoleSession("digest-b", keys[0].ID)
	got, env, err := s.ConsoleSession(ctx, "digest-a")
	if err != nil || got.ID != a.ID || got.SecretKeyID != keys[0].ID || env.ID != f.env.ID || env.Name != "dev" ||
		!got.ExpiresAt.Equal(f.clock.now().Add(12*time.Hour)) || !got.LastSeenAt.Equal(f.clock.now()) {
		t.Fatalf("session: %+v %+v %v", got, env, err)
	}
	if _, err := s.CreateConsoleSession(ctx, &domain.ConsoleSession{Digest: "digest-a", EnvironmentID: f.env.ID, SecretKeyID: keys[0].ID}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("duplicate digest: %v", err)
	}
	f.clock.add(20 * time.Minute)
	if err := s.TouchConsoleSession(ctx, a.ID, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.ConsoleSession(ctx, "digest-a"); !got.LastSeenAt.Equal(f.clock.now()) {
		t.Errorf("touched at %v", got.LastSeenAt)
	}
	// b has been idle for 20 minutes, a for none: purging sessions idle for
	// 10 minutes removes b only.
	n, err := s.PurgeConsoleSessions(ctx, f.clock.now(), f.clock.now().Add(-10*time.Minute), 100)
	if err != nil || n != 1 {
		t.Errorf("purge idle: %d %v", n, err)
	}
	if _, _, err := s.ConsoleSession(ctx, "digest-b"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("idle session kept: %v", err)
	}
	f.clock.add(12 * time.Hour)
	if n, _ := s.PurgeConsoleSessions(ctx, f.clock.now(), f.clock.now().Add(-24*time.Hour), 100); n != 1 {
		t.Errorf("purge expired: %d", n)
	}
	f.consoleSession("digest-c", keys[0].ID)
	if err := s.DeleteConsoleSession(ctx, "digest-c"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ConsoleSession(ctx, "digest-c"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("signed-out session found: %v", err)
	}
	if err := s.DeleteConsoleSession(ctx, "digest-c"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}

// The audit trail lists newest first, per environment, filters by action,
// pages by id, and the retention purge removes entries older than its cutoff
// in every environment, and nothing newer.
func testAudit(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	prod, _, _ := s.EnsureEnvironment(ctx, "prod", "hash-prod")
	start := f.clock.now()
	for i := 0; i < 5; i++ {
		e := &domain.AuditEntry{EnvironmentID: f.env.ID, SecretKeyID: 1, Via: domain.ViaConsole, Action: []string{"console.sign_in", "connection.delete"}[i%2],
			Target: fmt.Sprint("jira/c", i), Detail: "d", Client: "127.0.0.1"}
		if err := s.InsertAudit(ctx, e); err != nil || e.ID == 0 || !e.At.Equal(f.clock.now()) {
			t.Fatalf("insert: %+v %v", e, err)
		}
		f.clock.add(time.Hour)
	}
	if err := s.InsertAudit(ctx, &domain.AuditEntry{EnvironmentID: prod.ID, SecretKeyID: 2, Via: domain.ViaAPI, Action: "secret_key.create"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAudit(ctx, f.env.ID, domain.AuditFilter{Limit: 10})
	if err != nil || len(all) != 5 || all[0].Target != "jira/c4" || all[4].Target != "jira/c0" || all[0].Via != domain.ViaConsole || all[0].Client != "127.0.0.1" {
		t.Fatalf("list: %d %v", len(all), err)
	}
	page, _ := s.ListAudit(ctx, f.env.ID, domain.AuditFilter{Limit: 2, BeforeID: all[1].ID})
	if len(page) != 2 || page[0].ID != all[2].ID {
		t.Errorf("page before %d: %+v", all[1].ID, page)
	}
	deletes, _ := s.ListAudit(ctx, f.env.ID, domain.AuditFilter{Action: "connection.delete"})
	if len(deletes) != 2 {
		t.Errorf("filtered by action: %d", len(deletes))
	}
	// Cutoff between the 2nd and 3rd entries: the first two go, in dev only
	// (prod's entry is newer).
	n, err := s.PurgeAudit(ctx, start.Add(90*time.Minute), 100)
	if err != nil || n != 2 {
		t.Errorf("purge: %d %v", n, err)
	}
	left, _ := s.ListAudit(ctx, f.env.ID, domain.AuditFilter{})
	if len(left) != 3 || left[2].Target != "jira/c2" {
		t.Errorf("after purge: %d entries", len(left))
	}
	if p, _ := s.ListAudit(ctx, prod.ID, domain.AuditFilter{}); len(p) != 1 {
		t.Errorf("prod's entries: %d", len(p))
	}
}

// The console's overview: counts by status, expiring, failing, and webhook
// delivery counts; a connection's deliveries.
func testOverview(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	now := f.clock.now()
	soon, later := now.Add(3*24*time.Hour), now.Add(40*24*time.Hour)
	f.upsert(f.conn("ok-1"), domain.UpsertOptions{})
	f.upsert(f.conn("ok-soon", func(c *domain.Connection) { c.CredentialsExpiresAt = &soon }), domain.UpsertOptions{})
	f.upsert(f.conn("ok-later", func(c *domain.Connection) { c.CredentialsExpiresAt = &later }), domain.UpsertOptions{})
	f.upsert(f.conn("bad", func(c *domain.Connection) { c.Status = domain.StatusInvalidCredentials }), domain.UpsertOptions{})
	counts, err := s.ConnectionCounts(ctx, f.env.ID, now, now.Add(14*24*time.Hour))
	if err != nil || counts.Total != 4 || counts.ByStatus["ok"] != 3 || counts.ByStatus["invalid_credentials"] != 1 || counts.Expiring != 1 || counts.Failing != 1 {
		t.Fatalf("counts: %+v %v", counts, err)
	}
	exp, _ := s.ExpiringSoon(ctx, f.env.ID, now, now.Add(14*24*time.Hour), 10)
	if len(exp) != 1 || exp[0].ConnectionID != "ok-soon" {
		t.Errorf("expiring: %+v", exp)
	}
	failing, _ := s.FailingConnections(ctx, f.env.ID, 10)
	if len(failing) != 1 || failing[0].ConnectionID != "bad" {
		t.Errorf("failing: %+v", failing)
	}
	if next, err := s.ConnectionSchedule(ctx, failing[0].ID); err != nil || next != nil {
		t.Errorf("schedule of a never-checked connection: %v %v", next, err)
	}
	msg := func(id string) domain.OutboxMessage {
		return domain.OutboxMessage{EnvironmentID: f.env.ID, URL: "https://h", EventType: "auth", ConnectionID: id, Body: []byte(`{}`)}
	}
	if err := s.EnqueueWebhooks(ctx, []domain.OutboxMessage{msg("bad"), msg("bad")}); err != nil {
		t.Fatal(err)
	}
	claimed, _ := s.ClaimWebhooks(ctx, now, time.Minute, 10)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d", len(claimed))
	}
	if err := s.EnqueueWebhooks(ctx, []domain.OutboxMessage{msg("ok-1")}); err != nil {
		t.Fatal(err)
	}
	retry := now.Add(time.Minute)
	s.CompleteWebhook(ctx, claimed[0].ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 500}})
	s.CompleteWebhook(ctx, claimed[1].ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: now, Status: 500}, Next: &retry})
	wc, err := s.WebhookCounts(ctx, f.env.ID)
	if err != nil || wc.Failed != 1 || wc.Retrying != 1 || wc.Pending != 2 || wc.OldestPending == nil || !wc.OldestPending.Equal(now) {
		t.Errorf("webhook counts: %+v %v", wc, err)
	}
	d, _ := s.ConnectionDeliveries(ctx, f.env.ID, "bad", 10)
	if len(d) != 2 || d[0].ID < d[1].ID {
		t.Errorf("deliveries of bad: %+v", d)
	}
}
