package app_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// The retention job, as the app wires it: with the settings taken from the
// environment and the app's clock, it purges delivered webhooks after
// LATCHKEY_WEBHOOK_RETENTION, operation-log entries after
// LATCHKEY_EVENT_RETENTION, expired connect sessions, and counts what it did
// in the metrics.
func TestRetentionJobInTheApp(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL, "LATCHKEY_EVENT_RETENTION=48h", "LATCHKEY_WEBHOOK_RETENTION=24h")
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.session(client.ConnectSessionRequest{}) // never used; both expire in 30 minutes
	if n := h.dispatch(); n != 1 {
		t.Fatalf("dispatched %d", n)
	}
	h.app.FlushEvents()
	events := func() []string {
		t.Helper()
		page, err := h.c.ConnectionEvents(h.ctx(), "jira", id, client.PageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range page.Data {
			kinds = append(kinds, e.Kind)
		}
		return kinds
	}
	deliveries := func() int {
		t.Helper()
		page, err := h.c.ListWebhookDeliveries(h.ctx(), "", client.PageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Data)
	}
	sessions := func() int {
		var n int
		h.app.Store().DB().QueryRow(`SELECT COUNT(*) FROM connect_sessions`).Scan(&n)
		return n
	}
	if len(events()) != 1 || deliveries() != 1 || sessions() != 2 {
		t.Fatalf("before: events %v, %d deliveries, %d sessions", events(), deliveries(), sessions())
	}
	run := func() {
		t.Helper()
		res, ran, err := h.app.Retention().RunOnce(h.ctx())
		if err != nil || !ran {
			t.Fatalf("retention: %+v %v %v", res, ran, err)
		}
	}
	// Day 1 and a bit: the delivered webhook and the expired sessions go; the
	// operation log keeps two days.
	h.advance(30 * time.Hour)
	run()
	if len(events()) != 1 || deliveries() != 0 || sessions() != 0 {
		t.Errorf("after 30 h: events %v, %d deliveries, %d sessions", events(), deliveries(), sessions())
	}
	// A proxied call now writes a new entry; 20 hours later the first is
	// past 48 hours and goes, the new one stays.
	if res := h.proxyCall("GET", jiraPath("/myself"), id, nil, nil); res.StatusCode != 200 {
		t.Fatalf("proxy: %d", res.StatusCode)
	}
	h.app.FlushEvents()
	h.advance(20 * time.Hour)
	run()
	if got := events(); len(got) != 1 || got[0] != "proxy" {
		t.Errorf("after 50 h: events %v, want the recent one only", got)
	}
	for series, want := range map[string]float64{
		`latchkey_retention_purged_total{table="events"}`:           1,
		`latchkey_retention_purged_total{table="webhooks"}`:         1,
		`latchkey_retention_purged_total{table="connect_sessions"}`: 2,
	} {
		if got := h.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if n := strings.Count(h.logs.String(), `"msg":"retention run"`); n != 2 {
		t.Errorf("%d retention log lines, want 2", n)
	}
}

// Serving runs the job in the background from the start, and waits for it
// on shutdown.
func TestServeRunsRetention(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.app.ServeListener(ctx, ln, nil) }()
	select {
	case <-h.logs.waitFor(`"msg":"retention run"`):
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no retention run within 30 s of serving")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A connection broken for longer than the event retention still shows why:
// the operation-log entry its errors[].log_id names outlives the retention
// while the connection points at it, and goes with the next run once the
// connection is ok again.
func TestRetentionKeepsWhyAConnectionFails(t *testing.T) {
	h := newHarness(t, "LATCHKEY_EVENT_RETENTION=720h")
	h.tokens()
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.sim.Revoke(atlassiansim.DemoToken)
	h.advance(25 * time.Hour)
	h.check()
	c := h.status(id)
	if c.Status != "invalid_credentials" || len(c.Errors) != 1 {
		t.Fatalf("after the revocation: %+v", c)
	}
	logID := c.Errors[0].LogID
	for range 31 { // 31 days of failing checks: the first failure is past the retention
		h.advance(25 * time.Hour)
		h.check()
	}
	h.app.FlushEvents()
	purge := func() {
		t.Helper()
		if _, ran, err := h.app.Retention().RunOnce(h.ctx()); !ran || err != nil {
			t.Fatal(ran, err)
		}
	}
	events := func() map[string]bool {
		t.Helper()
		page, err := h.c.ConnectionEvents(h.ctx(), "jira", id, client.PageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, e := range page.Data {
			ids[strconv.FormatInt(e.ID, 10)] = true
		}
		return ids
	}
	purge()
	c = h.status(id)
	if len(c.Errors) != 1 || c.Errors[0].LogID != logID || !events()[logID] {
		t.Fatalf("errors %+v: the event %s they name is gone (events left %v)", c.Errors, logID, events())
	}
	// Reconnected, nothing points at it any more: the next run purges it.
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.SubmitBasic(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, "jira-bot@serviceaccount.atlassian.com", jiraOnlyToken); err != nil {
		t.Fatal(err)
	}
	if c := h.status(id); c.Status != "ok" || len(c.Errors) != 0 {
		t.Fatalf("reconnected: %+v", c)
	}
	h.app.FlushEvents()
	purge()
	if events()[logID] {
		t.Errorf("event %s outlived the retention after the connection recovered", logID)
	}
}
