package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

func (h *harness) check() int {
	h.t.Helper()
	n, err := h.app.Lifecycle().RunOnce(context.Background())
	if err != nil {
		h.t.Fatalf("health checks: %v", err)
	}
	return n
}

func (h *harness) status(id string) *client.Connection {
	h.t.Helper()
	c, err := h.c.GetConnection(h.ctx(), "jira", id)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func hookBodies(r *receiver) []map[string]any {
	var out []map[string]any
	for _, g := range r.received() {
		var b map[string]any
		json.Unmarshal(g.body, &b)
		out = append(out, b)
	}
	return out
}

// The headline: a token revoked at Atlassian is found within one interval, the
// backend gets one signed refresh-failure webhook, the user reconnects, and the
// connection is ok again under the same id.
func TestRevokedTokenIsFoundAndReconnected(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.tokens()
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch() // creation webhook

	if n := h.check(); n != 0 {
		t.Errorf("checked %d connections before they were due", n)
	}
	h.sim.Revoke(atlassiansim.DemoToken)
	h.advance(25 * time.Hour) // one interval (24 h ± 10 %) later
	if n := h.check(); n != 1 {
		t.Fatalf("checked %d, want 1", n)
	}
	c := h.status(id)
	if c.Status != "invalid_credentials" || len(c.Errors) != 1 || c.Errors[0].Type != "auth" || c.Errors[0].LogID == "" {
		t.Fatalf("after revocation: %+v", c)
	}
	h.dispatch()
	bodies := hookBodies(rcv)
	if len(bodies) != 2 {
		t.Fatalf("%d webhooks, want creation + refresh", len(bodies))
	}
	refresh := bodies[1]
	errObj, _ := refresh["error"].(map[string]any)
	if refresh["operation"] != "refresh" || refresh["success"] != false || errObj["type"] != "invalid_credentials" ||
		!strings.Contains(errObj["description"].(string), "did not accept") || refresh["connectionId"] != id {
		t.Errorf("refresh webhook: %v", refresh)
	}
	// Still broken a day later: no second webhook.
	h.advance(27 * time.Hour)
	h.check()
	h.dispatch()
	if len(rcv.received()) != 2 {
		t.Errorf("a second refresh webhook for the same failure")
	}
	// The operation log tells the story.
	_, body, _ := h.raw("GET", "/connections/"+id+"/events?provider_config_key=jira", testSecretKey, "", "")
	if !strings.Contains(body, `"kind":"health.check"`) || !strings.Contains(body, "ok → invalid_credentials") || !strings.Contains(body, `"kind":"auth.creation"`) {
		t.Errorf("events: %s", body)
	}
	// The user reconnects with a new token: same id, ok again, override webhook.
	rs, _ := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if _, err := h.c.SubmitBasic(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, "jira-bot@serviceaccount.atlassian.com", jiraOnlyToken); err != nil {
		t.Fatal(err)
	}
	c = h.status(id)
	if c.Status != "ok" || len(c.Errors) != 0 || c.ID == 0 {
		t.Errorf("after reconnect: %+v", c)
	}
	h.dispatch()
	if last := hookBodies(rcv)[2]; last["operation"] != "override" || last["success"] != true {
		t.Errorf("override webhook: %v", last)
	}
}

func TestScopeRemovedAndFlapping(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()

	// Jira scope removed: scope_missing, a warning, no failure webhook.
	h.sim.SetScopes(atlassiansim.DemoToken, false, true)
	h.advance(25 * time.Hour)
	h.check()
	if c := h.status(id); c.Status != "scope_missing" || len(c.Warnings) != 1 || c.Warnings[0].Product != "jira" {
		t.Errorf("scope removed: %+v", c)
	}
	h.sim.SetScopes(atlassiansim.DemoToken, true, true)

	// Atlassian failing twice is not enough to call the connection unreachable.
	h.sim.Inject(atlassiansim.Fault{Status: 503, Count: -1})
	h.advance(27 * time.Hour) // past the next check, whatever its jitter (±10 %)
	h.check()
	if c := h.status(id); c.Status != "scope_missing" {
		t.Errorf("after one failure: %s", c.Status)
	}
	h.advance(7 * time.Hour) // failures are retried within the interval
	h.check()
	h.advance(7 * time.Hour)
	h.check()
	if c := h.status(id); c.Status != "unreachable" {
		t.Fatalf("after three failures: %s", c.Status)
	}
	h.dispatch()
	if b := hookBodies(rcv); len(b) != 2 || b[1]["operation"] != "refresh" || b[1]["error"].(map[string]any)["type"] != "unreachable" {
		t.Errorf("webhooks: %v", b)
	}
	// Atlassian recovers: ok again at the next check, on demand here.
	h.sim.ClearFaults()
	status, body, _ := h.raw("POST", "/connections/"+id+"/verify?provider_config_key=jira", testSecretKey, "", "")
	if status != 200 || !strings.Contains(body, `"status":"ok"`) || !strings.Contains(body, `"previous_status":"unreachable"`) {
		t.Errorf("verify: %d %s", status, body)
	}
	if c := h.status(id); c.Status != "ok" || len(c.Errors) != 0 {
		t.Errorf("recovered: %+v", c)
	}
	if status, _, _ := h.raw("POST", "/connections/ghost/verify?provider_config_key=jira", testSecretKey, "", ""); status != 404 {
		t.Errorf("verify unknown: %d", status)
	}
}

func TestExpiryNoticesAndExpiry(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	expires := h.now().Add(20 * 24 * time.Hour).Format("2006-01-02")
	s := h.session(client.ConnectSessionRequest{})
	res, err := h.c.SubmitBasicWithExpiry(h.ctx(), s, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken, expires)
	if err != nil {
		t.Fatal(err)
	}
	id := res.ConnectionID
	if c := h.status(id); c.CredentialsExpiresAt == nil || !strings.HasPrefix(*c.CredentialsExpiresAt, expires+"T23:59:59") {
		t.Fatalf("expiry not stored: %v", c.CredentialsExpiresAt)
	}
	h.dispatch()
	expiring := func() []float64 {
		var days []float64
		for _, b := range hookBodies(rcv) {
			if b["type"] == "credentials_expiring" {
				days = append(days, b["daysLeft"].(float64))
			}
		}
		return days
	}
	c := h.status(id)
	exp, _ := time.Parse(time.RFC3339, strings.Replace(*c.CredentialsExpiresAt, "+00:00", "Z", 1))
	at := func(d time.Duration) { // move the clock to exp+d, then run the checks and deliver
		h.advance(exp.Add(d).Sub(h.now()))
		h.check()
		h.dispatch()
	}
	at(-15 * 24 * time.Hour) // 15 days left: nothing yet
	if got := expiring(); len(got) != 0 {
		t.Errorf("too early: %v", got)
	}
	at(-14*24*time.Hour + time.Hour) // 14 days left
	at(-14*24*time.Hour + 2*time.Hour)
	at(-3*24*time.Hour + time.Hour)
	at(-24*time.Hour + time.Hour)
	if got := fmt.Sprint(expiring()); got != "[14 3 1]" {
		t.Errorf("expiry notices: %s, want [14 3 1]", got)
	}
	at(time.Hour) // past the date
	if c := h.status(id); c.Status != "expired" {
		t.Errorf("after the date: %s", c.Status)
	}
	last := hookBodies(rcv)[len(hookBodies(rcv))-1]
	if last["operation"] != "refresh" || last["error"].(map[string]any)["type"] != "expired" {
		t.Errorf("expiry webhook: %v", last)
	}
	// Dates are checked: past, or too far for an Atlassian token.
	for _, bad := range []string{"2001-01-01", h.now().AddDate(2, 0, 0).Format("2006-01-02"), "soon"} {
		_, err := h.c.SubmitBasicWithExpiry(h.ctx(), h.session(client.ConnectSessionRequest{}), "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken, bad)
		if e := apiErr(t, err); e.Code != "invalid_fields" || e.Errors[0].Path[0] != "credentials_expires_at" {
			t.Errorf("expiry %q: %+v", bad, e)
		}
	}
	// PATCH sets or clears it.
	newDate := h.now().Add(100 * 24 * time.Hour).Format("2006-01-02")
	if err := h.c.PatchConnection(h.ctx(), "jira", id, client.PatchConnectionRequest{CredentialsExpiresAt: &newDate}); err != nil {
		t.Fatal(err)
	}
	if c := h.status(id); c.CredentialsExpiresAt == nil || !strings.HasPrefix(*c.CredentialsExpiresAt, newDate) {
		t.Errorf("patched expiry: %v", c.CredentialsExpiresAt)
	}
	// Listing filters by status.
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{Status: "expired"})
	if len(list) != 1 {
		t.Errorf("status filter: %d", len(list))
	}
}

// 10,000 connections are all checked, never faster than the per-upstream rate.
func TestTenThousandConnectionsWithinTheRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	h := newHarness(t)
	h.stop()
	h.sleepMovesClock = true
	h.checkRate = 50
	h.start()
	h.sim.Now = h.now
	h.integration("jira", atlassian)
	n := 10000
	if raceDetector {
		// The same rate limit over 40 s of latchkey's time instead of 200 s:
		// 10,000 checks under the race detector take two minutes of CI.
		n = 2000
	}
	h.seedBulk("jira", n) // in a few multi-row inserts: seeding is not what this test is about
	h.advance(25 * time.Hour)
	start := h.now()
	if got := h.check(); got != n {
		t.Fatalf("checked %d, want %d", got, n)
	}
	calls := h.sim.Calls()
	if len(calls) != n {
		t.Fatalf("Atlassian saw %d calls, want %d", len(calls), n)
	}
	// No one-second window (on latchkey's clock) holds more than rate + burst calls.
	var times []time.Time
	for _, c := range calls {
		times = append(times, c.At)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	j, worst := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		worst = max(worst, i-j+1)
	}
	if worst > 100 {
		t.Errorf("%d calls within one second, rate 50/s", worst)
	}
	if took, want := h.now().Sub(start), time.Duration(n/50)*time.Second; took < want*95/100 {
		t.Errorf("%d checks at 50/s took %s of latchkey's time, want about %s", n, took, want)
	}
	if h.check() != 0 {
		t.Error("connections checked twice in one interval")
	}
}

// Two instances checking at once check each connection once, on SQLite and
// on PostgreSQL (where claims use FOR UPDATE SKIP LOCKED).
func TestTwoSchedulersCheckOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { twoSchedulers(t, newHarness(t)) })
	t.Run("postgres", func(t *testing.T) { twoSchedulers(t, newHarness(t, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(t))) })
}

func twoSchedulers(t *testing.T, h *harness) {
	h.stop()
	h.sleepMovesClock = true // the rate limiter waits on latchkey's clock
	h.start()
	h.integration("jira", atlassian)
	for i := 0; i < 60; i++ {
		h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	}
	other, err := h.open()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	before := len(h.sim.Calls())
	h.advance(25 * time.Hour)
	var wg sync.WaitGroup
	for _, a := range []interface {
		RunOnce(context.Context) (int, error)
	}{h.app.Lifecycle(), other.Lifecycle()} {
		wg.Add(1)
		go func() { defer wg.Done(); a.RunOnce(context.Background()) }()
	}
	wg.Wait()
	if got := len(h.sim.Calls()) - before; got != 60 {
		t.Errorf("%d checks for 60 connections", got)
	}
}

// A check that was under way when the user re-linked the connection reports
// on credentials the connection no longer has: its result is dropped, so the
// fresh connection keeps its ok status and the backend gets no false
// refresh-failure webhook.
func TestCheckOvertakenByARelinkIsDropped(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()

	// The check's request to Atlassian arrives, and is held; Atlassian will
	// answer it 401 (as for a revoked token).
	arrived, gate := make(chan struct{}, 1), make(chan struct{})
	h.sim.Inject(atlassiansim.Fault{Status: 401, Count: 1, Arrived: arrived, Gate: gate})
	stored, err := h.app.Connections().Stored(context.Background(), 1, "jira", id)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan domain.CheckResult, 1)
	go func() {
		r, err := h.app.Lifecycle().Check(context.Background(), stored)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	<-arrived
	// Meanwhile the user links again (new credentials, same connection).
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	h.connect(rs.Token, "jira")
	close(gate)
	r := <-done
	if !r.Superseded {
		t.Errorf("the overtaken result was applied: %+v", r)
	}
	if c := h.status(id); c.Status != "ok" || len(c.Errors) != 0 {
		t.Errorf("after the overtaken check: status %s, errors %v", c.Status, c.Errors)
	}
	h.dispatch()
	for _, b := range hookBodies(rcv) {
		if b["operation"] == "refresh" {
			t.Errorf("a refresh-failure webhook for a connection just re-linked: %v", b)
		}
	}
}

// The refresh-failure webhook names the connection's real auth mode, also when
// the check never opened its credentials (an expired token).
func TestRefreshWebhookNamesTheAuthMode(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer upstream.Close()
	file := filepath.Join(t.TempDir(), "providers.yaml")
	os.WriteFile(file, []byte("acme:\n    display_name: Acme\n    auth_mode: API_KEY\n    proxy:\n        base_url: https://api.acme.test\n        verification:\n            endpoints:\n                - /me\n"), 0o600)
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_PROVIDERS_FILE="+file, "LATCHKEY_UPSTREAM_REWRITE=https://api.acme.test="+upstream.URL, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("acme", "acme")
	res, err := h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "acme", Credentials: client.Credentials{Type: "API_KEY", APIKey: "k-123"},
		CredentialsExpiresAt: h.now().Add(48 * time.Hour).Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	h.advance(72 * time.Hour)
	h.check()
	h.dispatch()
	var refresh map[string]any
	for _, b := range hookBodies(rcv) {
		if b["operation"] == "refresh" {
			refresh = b
		}
	}
	if refresh == nil || refresh["connectionId"] != res.ConnectionID || refresh["authMode"] != "API_KEY" {
		t.Fatalf("refresh webhook: %v", refresh)
	}
}
