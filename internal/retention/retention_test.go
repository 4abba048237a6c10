package retention_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/retention"
	"github.com/latchkeyhq/latchkey/internal/store"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func open(t *testing.T, clk *fakeClock) (*store.Store, *domain.Environment) {
	t.Helper()
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetClock(clk.Now)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	env, _, err := s.EnsureEnvironment(ctx, "dev", "hash")
	if err != nil {
		t.Fatal(err)
	}
	return s, env
}

// A run deletes what is past its retention, in batches of at most Batch
// rows, keeps the rest, logs a line with the counts, reports them to the
// metrics, and gives the space back; another instance meanwhile does nothing.
func TestRunOnce(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	s, env := open(t, clk)
	start := clk.Now()
	var events []*domain.Event
	for i := range 50 {
		events = append(events, &domain.Event{EnvironmentID: env.ID, Kind: "proxy", Outcome: "success", Message: fmt.Sprint(i), At: start})
	}
	if err := s.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	s.EnqueueWebhooks(ctx, []domain.OutboxMessage{{EnvironmentID: env.ID, URL: "https://hooks.example.com/done", EventType: "auth", Body: []byte("{}")},
		{EnvironmentID: env.ID, URL: "https://hooks.example.com/pending", EventType: "auth", Body: []byte("{}")}})
	hooks, _ := s.ListWebhooks(ctx, env.ID, "", 0, 10)
	for _, h := range hooks {
		if strings.HasSuffix(h.URL, "/done") {
			s.CompleteWebhook(ctx, h.ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: start, Status: 200}, Delivered: true})
		}
	}
	s.CreateConnectSession(ctx, &domain.ConnectSession{EnvironmentID: env.ID, TokenHash: "old", ExpiresAt: start.Add(30 * time.Minute)})
	s.InsertAudit(ctx, &domain.AuditEntry{EnvironmentID: env.ID, SecretKeyID: 1, Via: domain.ViaAPI, Action: "a"})

	// 10 days on: past the webhook retention (a week here), not the events' (30 days).
	clk.Sleep(ctx, 10*24*time.Hour)
	s.InsertEvents(ctx, []*domain.Event{{EnvironmentID: env.ID, Kind: "proxy", Outcome: "success", Message: "new"}})
	logs := &logBuffer{}
	purged := map[string]int64{}
	var mu sync.Mutex
	job := func(holder string) *retention.Job {
		return retention.New(retention.Options{Store: s, Clock: clk, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Holder: holder,
			EventRetention: 30 * 24 * time.Hour, WebhookRetention: 7 * 24 * time.Hour, ConsoleIdle: time.Hour, Batch: 7,
			Purged: func(what string, n int64) { mu.Lock(); purged[what] += n; mu.Unlock() }})
	}
	a, b := job("instance-a"), job("instance-b")
	res, ran, err := a.RunOnce(ctx)
	if err != nil || !ran {
		t.Fatalf("run: %v %v", ran, err)
	}
	if res.Events != 0 || res.Webhooks != 1 || res.Sessions != 1 || res.Audit != 0 {
		t.Errorf("after 10 days: %+v", res)
	}
	if _, ran, _ := b.RunOnce(ctx); ran {
		t.Error("a second instance ran while the first held the lease")
	}
	// 31 days after the start: the first 50 events and the audit entry go, in
	// batches of 7 (7 full ones and a short one), the new event stays.
	clk.Sleep(ctx, 21*24*time.Hour)
	res, ran, err = a.RunOnce(ctx)
	if err != nil || !ran || res.Events != 50 || res.Audit != 1 || res.Webhooks != 0 {
		t.Fatalf("after 31 days: %+v %v %v", res, ran, err)
	}
	// 8 batches of events, and one each for the other four.
	if res.Batches != 8+4 {
		t.Errorf("%d batches, want 12", res.Batches)
	}
	left, _ := s.ListEvents(ctx, env.ID, "", "", 0, 100)
	if len(left) != 1 || left[0].Message != "new" {
		t.Errorf("events left: %d", len(left))
	}
	if p, _ := s.ListWebhooks(ctx, env.ID, "pending", 0, 10); len(p) != 1 {
		t.Errorf("the pending delivery was purged: %d left", len(p))
	}
	if purged["events"] != 50 || purged["webhooks"] != 1 || purged["connect_sessions"] != 1 || purged["audit"] != 1 {
		t.Errorf("reported: %v", purged)
	}
	if n := strings.Count(logs.String(), `"msg":"retention run"`); n != 2 {
		t.Errorf("%d log lines for 2 runs:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), `"events":50`) || !strings.Contains(logs.String(), `"size_after"`) {
		t.Errorf("the log line lacks counts or sizes:\n%s", logs)
	}
}

// Shutting down in the middle of a run (or before the lease) is no failure:
// the job says it stopped, and warns of nothing.
func TestRunStoppedByShutdownWarnsOfNothing(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	s, env := open(t, clk)
	logs := &logBuffer{}
	job := retention.New(retention.Options{Store: s, Clock: clk, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Holder: "a",
		EventRetention: time.Hour, WebhookRetention: time.Hour, ConsoleIdle: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := job.RunOnce(ctx); err == nil {
		t.Fatal("a run with its context ended reported success")
	}
	// Mid-run: the context ends after the first batch.
	var events []*domain.Event
	for i := range 20 {
		events = append(events, &domain.Event{EnvironmentID: env.ID, Kind: "proxy", Outcome: "success", Message: fmt.Sprint(i), At: clk.Now()})
	}
	if err := s.InsertEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	clk.Sleep(context.Background(), 2*time.Hour)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	job = retention.New(retention.Options{Store: s, Clock: clk, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Holder: "b",
		EventRetention: time.Hour, WebhookRetention: time.Hour, ConsoleIdle: time.Hour, Batch: 5,
		Purged: func(string, int64) { cancel() }})
	res, ran, err := job.RunOnce(ctx)
	if !ran || err == nil || res.Events == 0 || res.Events == 20 {
		t.Fatalf("run stopped after its first batch: %+v %v %v, want some events purged and an error", res, ran, err)
	}
	if strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "retention run stopped: shutting down") {
		t.Errorf("a shutdown was logged as a failure, or not said:\n%s", logs)
	}
}
