package app_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// Issue 13's "done when", end to end: with the official @nangohq/frontend in
// Chromium an end user links an Atlassian OAuth 2.0 service-account credential,
// picking one of the two sites it reaches; two latchkey instances sharing one
// PostgreSQL database proxy calls for more than two hours of simulated time
// with one token fetch per hour between them (counted at the simulated
// Atlassian); then the credential is revoked, the scheduled check finds it
// failing (status and refresh-failure webhook), the end user opens a reconnect
// link in Chromium and types a new secret, and the connection is ok and
// proxies again on both instances.
func TestOAuth2DoneWhenJourney(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(t), "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.sim.SetClock(h.now) // tokens expire on the test's clock
	h.integration("jira", oauth2Provider)
	other, err := h.open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	otherSrv := httptest.NewServer(other.Handler())
	t.Cleanup(otherSrv.Close)
	servers := []string{h.srv.URL, otherSrv.URL}

	// 1. Link in the Connect UI opened by @nangohq/frontend, picking the second site.
	s, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "journey-user"}, AllowedIntegrations: []string{"jira"}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1200, 900)
	in := b.connectUIFrame(nangoFrontendHost(t, h.srv.URL, s.Token))
	b.do(chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`), in),
		chromedp.SendKeys(chromedp.CSS(`#f-client_id`), atlassiansim.DemoClientID, in),
		chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), atlassiansim.DemoClientSecret, in),
		chromedp.Click(chromedp.CSS(`button[type=submit]`), in),
		chromedp.WaitVisible(chromedp.CSS(`fieldset.sites`), in),
		chromedp.Click(chromedp.CSS(`label[for=site-1]`), in),
		chromedp.Click(chromedp.CSS(`button[type=submit]`), in),
		chromedp.WaitVisible(chromedp.CSS(`.check`), in))
	events := evalJS[string](b, `JSON.stringify(window.events.filter(e => e.type !== 'ready').map(e => e.type === 'connect' ? [e.type, e.payload.providerConfigKey, e.payload.connectionId] : [e.type, e.payload.errorType]))`)
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(list) != 1 {
		t.Fatalf("connections = %+v", list)
	}
	id := list[0].ConnectionID
	if want := `[["connect","jira","` + id + `"]]`; events != want { // being asked for a site is no error to the host
		t.Errorf("frontend events = %s, want %s", events, want)
	}
	if c := h.status(id); c.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID2 || c.Credentials.Type != "OAUTH2_CC" {
		t.Fatalf("linked %+v", c)
	}

	// 2. Two hours and a quarter on two instances, calls on both every quarter of
	// an hour: the link's token serves until 5 minutes before it expires, then
	// one instance fetches the next, at minutes 60 and 120.
	start, fetches := h.now(), h.sim.TokenRequests()
	for step := 1; step <= 9; step++ {
		h.advance(15 * time.Minute)
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = h.proxyMyself(servers[i%2], atlassiansim.DemoCloudID2, id)
			}()
		}
		wg.Wait()
		for i, st := range statuses {
			if st != 200 {
				t.Fatalf("minute %d, call %d: %d", step*15, i, st)
			}
		}
		want := 0
		if step == 4 || step == 8 {
			want = 1
		}
		if got := h.sim.TokenRequests() - fetches; got != want {
			t.Errorf("minute %d: %d token fetches for 8 calls on two instances, want %d", int(h.now().Sub(start).Minutes()), got, want)
		}
		fetches = h.sim.TokenRequests()
	}
	if _, refused := h.sim.BearerCalls(); refused != 0 {
		t.Errorf("%d calls refused by Atlassian", refused)
	}

	// 3. Revoked at Atlassian: the scheduled check finds it, the backend is told once.
	h.dispatch() // the creation webhook
	h.sim.RevokeClient(atlassiansim.DemoClientID)
	h.advance(25 * time.Hour)
	if n := h.check(); n != 1 {
		t.Fatalf("checked %d connections", n)
	}
	if list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(list) != 1 || list[0].Status != "invalid_credentials" {
		t.Fatalf("after revocation: %+v", list)
	}
	h.dispatch()
	var failures []map[string]any
	for _, body := range hookBodies(rcv) {
		if body["operation"] == "refresh" && body["success"] == false {
			failures = append(failures, body)
		}
	}
	if len(failures) != 1 || failures[0]["connectionId"] != id || failures[0]["authMode"] != "OAUTH2_CC" {
		t.Fatalf("refresh-failure webhooks: %v", failures)
	}

	// 4. Reconnected in Chromium with a new secret, from a reconnect link.
	const newSecret = "ATOADemoSecret_rotated-0123456789abcdefghijklmnopqrstuvwxyz"
	h.sim.RotateClientSecret(atlassiansim.DemoClientID, newSecret)
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(h.srv.URL+"/connect?session_token="+rs.Token), chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)),
		chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), newSecret), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(`.check`)))
	if got := b.text("h1"); got != "Credentials updated" {
		t.Errorf("reconnect: %q", got)
	}
	c := h.status(id)
	if c.Status != "ok" || len(c.Errors) != 0 || c.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID2 {
		t.Fatalf("after reconnecting: %+v", c)
	}
	for _, srv := range servers {
		if st := h.proxyMyself(srv, atlassiansim.DemoCloudID2, id); st != 200 {
			t.Errorf("proxy on %s after reconnecting: %d", srv, st)
		}
	}
	h.dispatch()
	if last := hookBodies(rcv); len(last) == 0 || last[len(last)-1]["operation"] != "override" || last[len(last)-1]["success"] != true {
		t.Errorf("last webhook: %v", last[len(last)-1])
	}
	if strings.Contains(h.logs.String(), newSecret) {
		t.Error("the new secret is in the log")
	}
}
