package storetest

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// Operation-log entries older than the cutoff go, oldest first and at most
// limit per call; the cutoff's own instant and everything after stay.
func testPurgeEvents(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	start := f.clock.now()
	var batch []*domain.Event
	for i := range 10 {
		batch = append(batch, &domain.Event{EnvironmentID: f.env.ID, IntegrationKey: "jira", ConnectionID: "a", Kind: "proxy", Outcome: "success",
			Message: fmt.Sprint(i), At: start.Add(time.Duration(i) * time.Minute)})
	}
	if err := s.InsertEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	cutoff := start.Add(5 * time.Minute) // entries 0-4 are older
	var calls []int64
	for {
		n, err := s.PurgeEvents(ctx, cutoff, 3)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, n)
		if n < 3 {
			break
		}
	}
	if fmt.Sprint(calls) != "[3 2]" {
		t.Errorf("rows deleted per call: %v, want [3 2] (at most the limit each time)", calls)
	}
	left, _ := s.ListEvents(ctx, f.env.ID, "", "", 0, 100)
	if len(left) != 5 || left[4].Message != "5" || left[0].Message != "9" {
		t.Errorf("left: %d entries, oldest %q", len(left), left[len(left)-1].Message)
	}
	if n, err := s.PurgeEvents(ctx, cutoff, 3); err != nil || n != 0 {
		t.Errorf("purging again: %d %v", n, err)
	}
}

// Webhook deliveries that finished (delivered or given up on) before the
// cutoff go with their attempts; one still pending never does, however old,
// nor one that finished after the cutoff.
func testPurgeWebhooks(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	t0 := f.clock.now()
	var msgs []domain.OutboxMessage
	for _, name := range []string{"delivered", "failed", "retrying", "retried", "never-tried"} {
		msgs = append(msgs, domain.OutboxMessage{EnvironmentID: f.env.ID, URL: "https://hooks.example.com/" + name, EventType: "auth", ConnectionID: name, Body: []byte("{}")})
	}
	if err := s.EnqueueWebhooks(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	list, _ := s.ListWebhooks(ctx, f.env.ID, "", 0, 10)
	for _, m := range list {
		ids[m.ConnectionID] = m.ID
	}
	attempt := func(n int) domain.WebhookAttempt {
		return domain.WebhookAttempt{Attempt: n, At: t0, Status: 500, Error: "HTTP 500", Duration: time.Millisecond}
	}
	later := t0.Add(time.Hour * 24 * 365)
	steps := []struct {
		name string
		o    domain.WebhookOutcome
	}{
		{"delivered", domain.WebhookOutcome{Attempt: attempt(1), Next: &t0}},
		{"delivered", domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 2, At: t0, Status: 200}, Delivered: true}},
		{"failed", domain.WebhookOutcome{Attempt: attempt(1)}},
		{"retrying", domain.WebhookOutcome{Attempt: attempt(1), Next: &later}},
		{"retried", domain.WebhookOutcome{Attempt: attempt(1)}},
	}
	for _, st := range steps {
		if err := s.CompleteWebhook(ctx, ids[st.name], st.o); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RetryWebhook(ctx, f.env.ID, ids["retried"]); err != nil { // given up on, then retried by hand: pending again
		t.Fatal(err)
	}
	f.clock.add(48 * time.Hour)
	recent := domain.OutboxMessage{EnvironmentID: f.env.ID, URL: "https://hooks.example.com/recent", EventType: "auth", ConnectionID: "recent", Body: []byte("{}")}
	s.EnqueueWebhooks(ctx, []domain.OutboxMessage{recent})
	list, _ = s.ListWebhooks(ctx, f.env.ID, "", 0, 1)
	ids["recent"] = list[0].ID
	s.CompleteWebhook(ctx, ids["recent"], domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: f.clock.now(), Status: 204}, Delivered: true})

	cutoff := f.clock.now().Add(-24 * time.Hour) // between the old ones (t0) and the recent one
	if n, err := s.PurgeWebhooks(ctx, cutoff, 1); err != nil || n != 1 {
		t.Errorf("first batch of 1: %d %v", n, err)
	}
	if n, err := s.PurgeWebhooks(ctx, cutoff, 100); err != nil || n != 1 {
		t.Errorf("second batch: %d %v, want the one left of delivered and failed", n, err)
	}
	if n, _ := s.PurgeWebhooks(ctx, cutoff, 100); n != 0 {
		t.Errorf("third batch: %d", n)
	}
	var left []string
	list, _ = s.ListWebhooks(ctx, f.env.ID, "", 0, 100)
	for _, m := range list {
		left = append(left, m.ConnectionID)
	}
	if got := strings.Join(left, ","); got != "recent,never-tried,retried,retrying" {
		t.Errorf("deliveries left: %s", got)
	}
	// The purged deliveries' attempts went with them.
	var attempts int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_attempts`).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 { // retrying, retried, recent
		t.Errorf("%d attempts left, want 3", attempts)
	}
}

// Expired connect sessions, old audit entries and ended console sessions go
// in bounded batches too.
func testPurgeSessionsAndAudit(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	now := f.clock.now()
	for i := range 5 {
		if _, err := s.CreateConnectSession(ctx, &domain.ConnectSession{EnvironmentID: f.env.ID, TokenHash: fmt.Sprint("expired-", i), ExpiresAt: now.Add(-2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		s.InsertAudit(ctx, &domain.AuditEntry{EnvironmentID: f.env.ID, SecretKeyID: 1, Via: domain.ViaAPI, Action: "a", At: now.Add(-time.Duration(10+i) * time.Hour)})
	}
	s.CreateConnectSession(ctx, &domain.ConnectSession{EnvironmentID: f.env.ID, TokenHash: "live", ExpiresAt: now.Add(30 * time.Minute)})
	s.InsertAudit(ctx, &domain.AuditEntry{EnvironmentID: f.env.ID, SecretKeyID: 1, Via: domain.ViaAPI, Action: "recent"})
	keys, _ := s.ListSecretKeys(ctx, f.env.ID)
	for i := range 3 {
		f.consoleSession(fmt.Sprint("console-", i), keys[0].ID)
	}
	drain := func(name string, purge func(limit int) (int64, error), want int64) {
		t.Helper()
		var total int64
		for {
			n, err := purge(2)
			if err != nil || n > 2 {
				t.Fatalf("%s: %d rows in a batch of 2, %v", name, n, err)
			}
			total += n
			if n < 2 {
				break
			}
		}
		if total != want {
			t.Errorf("%s: purged %d, want %d", name, total, want)
		}
	}
	drain("connect sessions", func(l int) (int64, error) { return s.PurgeSessions(ctx, now.Add(-time.Hour), l) }, 5)
	drain("audit", func(l int) (int64, error) { return s.PurgeAudit(ctx, now.Add(-time.Hour), l) }, 5)
	drain("console sessions", func(l int) (int64, error) { return s.PurgeConsoleSessions(ctx, now.Add(13*time.Hour), now, l) }, 3)
	if _, err := s.ConnectSessionByTokenHash(ctx, "live", now); err != nil {
		t.Errorf("live session: %v", err)
	}
	if left, _ := s.ListAudit(ctx, f.env.ID, domain.AuditFilter{}); len(left) != 1 || left[0].Action != "recent" {
		t.Errorf("audit left: %+v", left)
	}
}

// After a purge, Reclaim gives the space back: on SQLite the file shrinks
// (free pages cut off, the log checkpointed and emptied); on PostgreSQL it
// does nothing and says so.
func testReclaim(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	long := strings.Repeat("x", 2000)
	for range 5 {
		var batch []*domain.Event
		for range 200 {
			batch = append(batch, &domain.Event{EnvironmentID: f.env.ID, Kind: "proxy", Outcome: "success", Message: long})
		}
		if err := s.InsertEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	full, err := s.Size(ctx)
	if err != nil || full <= 0 {
		t.Fatalf("size: %d %v", full, err)
	}
	for {
		n, err := s.PurgeEvents(ctx, f.clock.now().Add(time.Second), 300)
		if err != nil {
			t.Fatal(err)
		}
		if n < 300 {
			break
		}
	}
	r, err := s.Reclaim(ctx, 64)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dialect() != "sqlite" {
		if r != (store.Reclaimed{}) {
			t.Errorf("reclaim on %s: %+v", s.Dialect(), r)
		}
		return
	}
	after, _ := s.Size(ctx)
	if r.Pages < 400 || r.SizeAfter != after || after > full/2 {
		t.Errorf("reclaimed %+v; %d bytes before the purge, %d after the reclaim", r, full, after)
	}
	var free int64
	s.DB().QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free)
	if free != 0 {
		t.Errorf("%d free pages left", free)
	}
}

// A delivery retried by hand while a purge waits for its row stays: on
// PostgreSQL the purge picks a finished delivery, waits for the row the
// retry holds, and must then see that the delivery is pending again rather
// than delete it. The test holds the row itself first so that the retry, then
// the purge, queue behind it in that order (PostgreSQL grants a row's waiters
// in turn), and lets them go only once both wait. SQLite has one writer at a
// time: no interleaving to test.
func testPurgeWaitsOutARetry(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	if s.Dialect() != "postgres" {
		t.Skip("SQLite runs one write at a time")
	}
	if err := s.EnqueueWebhooks(ctx, []domain.OutboxMessage{{EnvironmentID: f.env.ID, URL: "https://hooks.example.com/a", EventType: "auth", ConnectionID: "a", Body: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListWebhooks(ctx, f.env.ID, "", 0, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("deliveries: %v %v", list, err)
	}
	id := list[0].ID
	if err := s.CompleteWebhook(ctx, id, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: f.clock.now(), Status: 500, Error: "HTTP 500"}}); err != nil {
		t.Fatal(err) // given up on: finished, and old enough to purge below
	}
	f.clock.add(48 * time.Hour)

	holder, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `SELECT id FROM webhook_outbox WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	var holderPID int
	if err := holder.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	// waitingBehind returns a backend other than not that waits for a lock one
	// of pids holds, as soon as there is one (other tests share the server),
	// polling every few milliseconds; the test fails if what should wait ends
	// first (done) or nothing waits within 30 s.
	deadline := time.After(30 * time.Second)
	waitingBehind := func(what string, done <-chan struct{}, pids []int, not int) int {
		t.Helper()
		for {
			var pid int
			err := s.DB().QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity
				WHERE pid <> $1 AND pg_blocking_pids(pid) && $2::int[] LIMIT 1`, not, pids).Scan(&pid)
			if err == nil {
				return pid
			}
			if !errors.Is(err, sql.ErrNoRows) {
				t.Fatal(err)
			}
			select {
			case <-done:
				t.Fatalf("the %s ended without waiting for the row", what)
			case <-deadline:
				t.Fatalf("the %s did not wait for the row within 30 s", what)
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	var retryErr error
	retried := make(chan struct{})
	go func() { retryErr = s.RetryWebhook(ctx, f.env.ID, id); close(retried) }()
	retryPID := waitingBehind("retry", retried, []int{holderPID}, 0)
	var purgedN int64
	var purgeErr error
	purged := make(chan struct{})
	go func() {
		purgedN, purgeErr = s.PurgeWebhooks(ctx, f.clock.now().Add(-24*time.Hour), 100)
		close(purged)
	}()
	waitingBehind("purge", purged, []int{holderPID, retryPID}, retryPID)
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	<-retried
	if retryErr != nil {
		t.Fatalf("retry: %v", retryErr)
	}
	<-purged
	if purgeErr != nil || purgedN != 0 {
		t.Errorf("the purge deleted %d (%v), want 0: the delivery was retried while the purge waited for it", purgedN, purgeErr)
	}
	m, err := s.Webhook(ctx, f.env.ID, id)
	if err != nil {
		t.Fatalf("the retried delivery is gone: %v", err)
	}
	if m.FailedAt != nil {
		t.Errorf("the retried delivery is still marked failed at %v", m.FailedAt)
	}
}
