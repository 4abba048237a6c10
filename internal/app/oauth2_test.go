package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

const oauth2Provider = "atlassian-service-account-oauth2"

// oauthSession creates an integration "jira" of the OAuth 2.0 provider and a session for it.
func (h *harness) oauthSetup() string {
	h.t.Helper()
	h.integration("jira", oauth2Provider)
	return h.session(client.ConnectSessionRequest{})
}

func (h *harness) linkOAuth(token string, params map[string]string) string {
	h.t.Helper()
	res, err := h.c.SubmitOAuth2CC(h.ctx(), token, "jira", params, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret)
	if err != nil {
		h.t.Fatalf("link: %v", err)
	}
	return res.ConnectionID
}

// proxyMyself calls Jira's /myself on a site through the proxy and returns the status.
func (h *harness) proxyMyself(srvURL, cloudID, id string) int {
	h.t.Helper()
	req, _ := http.NewRequest("GET", srvURL+"/proxy/ex/jira/"+cloudID+"/rest/api/3/myself", nil)
	req.Header.Set("Authorization", "Bearer "+testSecretKey)
	req.Header.Set("Provider-Config-Key", "jira")
	req.Header.Set("Connection-Id", id)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// Linking an OAuth 2.0 credential: a wrong secret is refused with what
// Atlassian said; a credential reaching two sites without a choice gets a 400
// listing them; a choice by Cloud ID or subdomain links, with the site saved
// and a token cached; the backend reads Nango's OAUTH2_CC shape.
func TestOAuth2LinkAndSiteChoice(t *testing.T) {
	h := newHarness(t)
	tok := h.oauthSetup()
	ctx := h.ctx()

	_, err := h.c.SubmitOAuth2CC(ctx, tok, "jira", nil, atlassiansim.DemoClientID, "wrong-secret-0123456789")
	if e := apiErr(t, err); e.Status != 400 || e.Code != "invalid_credentials" || !strings.Contains(e.Message, "access_denied: Unauthorized") ||
		!strings.Contains(e.Message, "Directory > Service accounts") {
		t.Errorf("wrong secret: %+v", e)
	}
	// What Atlassian said, apart, for the Connect UI to quote.
	if e := apiErr(t, err); e.Payload["provider_said"] != "access_denied: Unauthorized" || e.Payload["provider_status"] != float64(401) {
		t.Errorf("wrong secret, payload: %v", e.Payload)
	}
	_, err = h.c.SubmitOAuth2CC(ctx, tok, "jira", nil, atlassiansim.DemoClientID, "")
	if e := apiErr(t, err); e.Code != "invalid_fields" || len(e.Errors) != 1 || e.Errors[0].Path[0] != "client_secret" {
		t.Errorf("empty secret: %+v", e)
	}

	_, err = h.c.SubmitOAuth2CC(ctx, tok, "jira", nil, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret)
	e := apiErr(t, err)
	if e.Status != 400 || e.Code != "site_required" || !strings.Contains(e.Message, "https://acme.atlassian.net") || !strings.Contains(e.Message, atlassiansim.DemoCloudID2) {
		t.Fatalf("two sites, no choice: %+v", e)
	}
	sites, _ := e.Payload["sites"].([]any)
	if len(sites) != 2 {
		t.Fatalf("payload sites: %v", e.Payload)
	}
	first := sites[0].(map[string]any)
	if first["cloudId"] != atlassiansim.DemoCloudID || first["name"] != atlassiansim.DemoSite || first["url"] != "https://acme.atlassian.net" {
		t.Errorf("site %v", first)
	}
	if len(e.Errors) != 1 || strings.Join(e.Errors[0].Path, ".") != "params.cloudId" {
		t.Errorf("field error %+v", e.Errors)
	}
	_, err = h.c.SubmitOAuth2CC(ctx, tok, "jira", map[string]string{"cloudId": "00000000-0000-4000-8000-000000000000"}, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret)
	if e := apiErr(t, err); e.Code != "site_not_accessible" || len(e.Payload["sites"].([]any)) != 2 {
		t.Errorf("unknown site: %+v", e)
	}

	fetched := h.sim.TokenRequests()
	id := h.linkOAuth(tok, map[string]string{"cloudId": atlassiansim.DemoCloudID2})
	c, err := h.c.GetConnection(ctx, "jira", id)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.ConnectionConfig
	if cfg["cloudId"] != atlassiansim.DemoCloudID2 || cfg["siteName"] != atlassiansim.DemoSite2 || cfg["siteUrl"] != "https://acme-eu.atlassian.net" ||
		cfg["accountId"] != "712020:demo-oauth-bot" || c.Status != "ok" {
		t.Errorf("connection %+v", c)
	}
	cr := c.Credentials
	exp, perr := time.Parse(time.RFC3339, cr.ExpiresAt)
	if cr.Type != "OAUTH2_CC" || cr.ClientID != atlassiansim.DemoClientID || cr.ClientSecret != atlassiansim.DemoClientSecret || cr.Token == "" ||
		perr != nil || !exp.Equal(h.now().Add(time.Hour)) || cr.Raw["token_type"] != "Bearer" {
		t.Errorf("credentials %+v (%v)", cr, perr)
	}
	if n := h.sim.TokenRequests() - fetched; n != 1 {
		t.Errorf("%d token requests for one link", n)
	}

	// By subdomain, as Nango's entry names the site.
	id2 := h.linkOAuth(h.session(client.ConnectSessionRequest{}), map[string]string{"subdomain": "acme"})
	if c, _ := h.c.GetConnection(ctx, "jira", id2); c.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID {
		t.Errorf("by subdomain: %v", c.ConnectionConfig)
	}

	// A credential that reaches one site needs no choice; one that reaches none is told so.
	h.sim.AddClient(atlassiansim.Client{ID: "OneSiteClient00000000000000000000", Secret: "one-site-secret-000000000000", AccountID: "acc-one", DisplayName: "One",
		Sites: []string{atlassiansim.DemoCloudID}, Scopes: []string{"read:confluence-user"}})
	res, err := h.c.SubmitOAuth2CC(ctx, h.session(client.ConnectSessionRequest{}), "jira", nil, "OneSiteClient00000000000000000000", "one-site-secret-000000000000")
	if err != nil || len(res.Warnings) != 1 || res.Warnings[0].Product != "jira" {
		t.Fatalf("one site, Confluence scopes only: %+v %v", res, err)
	}
	h.sim.AddClient(atlassiansim.Client{ID: "NoSiteClient000000000000000000000", Secret: "no-site-secret-0000000000000", Scopes: atlassiansim.DemoScopes})
	_, err = h.c.SubmitOAuth2CC(ctx, h.session(client.ConnectSessionRequest{}), "jira", nil, "NoSiteClient000000000000000000000", "no-site-secret-0000000000000")
	if e := apiErr(t, err); e.Code != "no_accessible_sites" || !strings.Contains(e.Message, "reaches no Atlassian site") {
		t.Errorf("no site: %+v", e)
	}

	// Import through POST /connections takes the same path.
	imp, err := h.c.ImportConnection(ctx, client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "imported-1",
		Credentials:      client.Credentials{Type: "OAUTH2_CC", ClientID: atlassiansim.DemoClientID, ClientSecret: atlassiansim.DemoClientSecret},
		ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}})
	if err != nil || imp.Credentials.Token == "" || imp.ConnectionConfig["siteName"] != atlassiansim.DemoSite {
		t.Fatalf("import: %+v %v", imp, err)
	}
	_, err = h.c.ImportConnection(ctx, client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "imported-2",
		Credentials: client.Credentials{Type: "OAUTH2_CC", ClientID: atlassiansim.DemoClientID, ClientSecret: atlassiansim.DemoClientSecret}})
	if e := apiErr(t, err); e.Code != "site_required" {
		t.Errorf("import without a site: %+v", e)
	}

	// The secret and the tokens are sealed at rest and never logged.
	h.app.FlushEvents()
	for _, secret := range []string{atlassiansim.DemoClientSecret, cr.Token} {
		if strings.Contains(h.dumpDB(), secret) || strings.Contains(h.logs.String(), secret) {
			t.Errorf("a secret is readable in the database or the logs")
		}
	}
}

// The token is cached and re-fetched only within its buffer of expiry (5
// minutes for Atlassian), once when forced, and once when Atlassian refuses
// it early; the proxy sends it as Bearer.
func TestOAuth2TokenRefresh(t *testing.T) {
	h := newHarness(t)
	id := h.linkOAuth(h.oauthSetup(), map[string]string{"cloudId": atlassiansim.DemoCloudID})
	if st := h.proxyMyself(h.srv.URL, atlassiansim.DemoCloudID, id); st != 200 {
		t.Fatalf("proxy: %d", st)
	}
	if total, _ := h.sim.BearerCalls(); total != 2 { // the link's check and this call
		t.Errorf("%d Bearer calls", total)
	}
	h.advance(54 * time.Minute)
	h.proxyMyself(h.srv.URL, atlassiansim.DemoCloudID, id)
	if n := h.sim.TokenRequests(); n != 1 {
		t.Errorf("after 54 minutes: %d token requests, want the first still in use", n)
	}
	h.advance(2 * time.Minute) // 56 minutes: within 5 minutes of expiry
	if st := h.proxyMyself(h.srv.URL, atlassiansim.DemoCloudID, id); st != 200 || h.sim.TokenRequests() != 2 {
		t.Errorf("after 56 minutes: %d, %d token requests", st, h.sim.TokenRequests())
	}
	before, _ := h.c.GetConnection(h.ctx(), "jira", id)
	forced, err := h.c.GetConnectionFresh(h.ctx(), "jira", id)
	if err != nil || forced.Credentials.Token == before.Credentials.Token || h.sim.TokenRequests() != 3 {
		t.Fatalf("force_refresh: %v, %d token requests", err, h.sim.TokenRequests())
	}
	// Atlassian drops the token early: the proxy's call gets a 401, latchkey
	// fetches one token and sends the call again, and the caller sees a 200.
	h.sim.DropTokens()
	if st := h.proxyMyself(h.srv.URL, atlassiansim.DemoCloudID, id); st != 200 {
		t.Errorf("after a 401: %d", st)
	}
	if _, refused := h.sim.BearerCalls(); refused != 1 || h.sim.TokenRequests() != 4 {
		t.Errorf("%d refused calls, %d token requests", refused, h.sim.TokenRequests())
	}
	// Revoked: the refresh fails, the caller gets Atlassian's 401, and reading
	// the connection says invalid_credentials naming it.
	h.sim.RevokeClient(atlassiansim.DemoClientID)
	if st := h.proxyMyself(h.srv.URL, atlassiansim.DemoCloudID, id); st != 401 {
		t.Errorf("revoked: %d", st)
	}
	_, err = h.c.GetConnectionFresh(h.ctx(), "jira", id)
	if e := apiErr(t, err); e.Status != 400 || e.Code != "invalid_credentials" || e.Payload["connection"].(map[string]any)["connection_id"] != id {
		t.Errorf("revoked, read: %+v", e)
	}
}

// A revoked client secret is found by the scheduled check, reported once with
// the refresh-failure webhook, and fixed by reconnecting with a new secret.
func TestOAuth2RevokedFoundAndReconnected(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.tokens()
	id := h.linkOAuth(h.oauthSetup(), map[string]string{"cloudId": atlassiansim.DemoCloudID})
	h.dispatch()
	h.sim.RevokeClient(atlassiansim.DemoClientID)
	h.advance(25 * time.Hour)
	if n := h.check(); n != 1 {
		t.Fatalf("checked %d", n)
	}
	// Reading it answers as Nango does when a token cannot be fetched; the
	// listing shows the status.
	_, err := h.c.GetConnection(h.ctx(), "jira", id)
	if e := apiErr(t, err); e.Code != "invalid_credentials" {
		t.Errorf("read after revocation: %+v", e)
	}
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(list) != 1 || list[0].Status != "invalid_credentials" || len(list[0].Errors) != 1 {
		t.Fatalf("after revocation: %+v", list)
	}
	h.dispatch()
	bodies := hookBodies(rcv)
	if len(bodies) != 2 || bodies[1]["operation"] != "refresh" || bodies[1]["authMode"] != "OAUTH2_CC" ||
		!strings.Contains(bodies[1]["error"].(map[string]any)["description"].(string), "did not accept this client ID and secret") {
		t.Fatalf("webhooks: %v", bodies)
	}
	const newSecret = "ATOADemoSecret_rotated-0123456789abcdefghijklmnopqrstuvwxyz"
	h.sim.RotateClientSecret(atlassiansim.DemoClientID, newSecret)
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.SubmitOAuth2CC(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoClientID, newSecret); err != nil {
		t.Fatal(err)
	}
	c := h.status(id)
	if c.Status != "ok" || c.Credentials.ClientSecret != newSecret || len(c.Errors) != 0 {
		t.Errorf("after reconnect: %+v", c)
	}
	if st := h.proxyMyself(h.srv.URL, atlassiansim.DemoCloudID, id); st != 200 {
		t.Errorf("proxy after reconnect: %d", st)
	}
	h.dispatch()
	if last := hookBodies(rcv)[2]; last["operation"] != "override" || last["success"] != true {
		t.Errorf("override webhook: %v", last)
	}
	// The client secret's expiry date works as a token's does.
	when := h.now().Add(48 * time.Hour).Format("2006-01-02")
	if err := h.c.PatchConnection(h.ctx(), "jira", id, client.PatchConnectionRequest{CredentialsExpiresAt: &when}); err != nil {
		t.Fatal(err)
	}
	h.advance(73 * time.Hour)
	h.check()
	if c := h.status(id); c.Status != "expired" {
		t.Errorf("past the secret's expiry date: %s", c.Status)
	}
}

// Unsupported entries: listed and marked by GET /providers, refused on every
// submission route with the reason, never a 500.
func TestUnsupportedProviderEntries(t *testing.T) {
	file := t.TempDir() + "/providers.yaml"
	writeFile(t, file, "gh:\n  display_name: GitHub\n  auth_mode: OAUTH2\n  proxy:\n    base_url: https://api.github.com\n"+
		"okta:\n  display_name: Okta\n  auth_mode: OAUTH2_CC\n  token_url: https://x.okta.com/token\n  token_request_auth_method: private_key_jwt\n")
	h := newHarness(t, "LATCHKEY_PROVIDERS_FILE="+file)
	p, err := h.c.GetProvider(h.ctx(), "gh")
	if err != nil {
		t.Fatal(err)
	}
	mark, _ := p["latchkey"].(map[string]any)
	if mark["supported"] != false || !strings.Contains(mark["reason"].(string), "auth_mode OAUTH2 is not supported yet") {
		t.Errorf("mark %v", mark)
	}
	if p, _ := h.c.GetProvider(h.ctx(), oauth2Provider); p["latchkey"].(map[string]any)["supported"] != true {
		t.Errorf("built-in mark %v", p["latchkey"])
	}
	h.integration("gh", "gh")
	h.integration("okta", "okta")
	tok := h.session(client.ConnectSessionRequest{})
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api-auth/api-key/gh", `{"apiKey":"k"}`},
		{"GET", "/oauth/connect/gh", ``},
		{"POST", "/auth/two-step/gh", `{}`},
		{"POST", "/oauth2/auth/okta", `{"client_id":"a","client_secret":"b"}`},
	} {
		st, body, _ := h.raw(tc.method, tc.path+"?connect_session_token="+tok, "", "application/json", tc.body)
		if st != 400 || !strings.Contains(body, `"code":"provider_not_supported"`) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, st, body)
		}
	}
	st, body, _ := h.raw("POST", "/connections", testSecretKey, "application/json", `{"provider_config_key":"okta","credentials":{"type":"OAUTH2_CC","client_id":"a","client_secret":"b"}}`)
	if st != 400 || !strings.Contains(body, "private_key_jwt") {
		t.Errorf("import: %d %s", st, body)
	}
	// A flow of a mode latchkey serves, sent to the wrong route, says which route.
	h.integration("jira", oauth2Provider)
	st, body, _ = h.raw("GET", "/oauth/connect/jira?connect_session_token="+tok, "", "", "")
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal([]byte(body), &e)
	if st != 400 || e.Error.Code != "invalid_auth_mode" || !strings.Contains(e.Error.Message, "POST /oauth2/auth/jira") {
		t.Errorf("wrong route: %d %s", st, body)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Two instances on one PostgreSQL database, more than two hours of simulated
// time: every quarter of an hour 50 concurrent proxy calls, spread over both
// instances; the token is fetched once when it nears its expiry (5 minutes
// before, Atlassian's buffer), by one instance, whatever the concurrency:
// one token fetch per hour.
func TestOAuth2OneTokenFetchAcrossInstances(t *testing.T) {
	h := newHarness(t, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(t))
	h.sim.SetClock(h.now)
	id := h.linkOAuth(h.oauthSetup(), map[string]string{"cloudId": atlassiansim.DemoCloudID})
	// A slow token endpoint: without the lease, the other instance's calls
	// would fetch their own token while the first fetch is under way.
	h.sim.SlowTokens(300 * time.Millisecond)
	other, err := h.open()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherSrv := httptest.NewServer(other.Handler())
	defer otherSrv.Close()
	servers := []string{h.srv.URL, otherSrv.URL}

	start := h.now()
	fetches := h.sim.TokenRequests() // the link's
	for step := 1; step <= 10; step++ {
		h.advance(15 * time.Minute)
		var wg sync.WaitGroup
		statuses := make([]int, 50)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = h.proxyMyself(servers[i%2], atlassiansim.DemoCloudID, id)
			}()
		}
		wg.Wait()
		for i, st := range statuses {
			if st != 200 {
				t.Fatalf("step %d, call %d: %d", step, i, st)
			}
		}
		// The token of minute 0 is replaced at minute 60 (past 55), that one at 120.
		want := 0
		if step == 4 || step == 8 {
			want = 1
		}
		if got := h.sim.TokenRequests() - fetches; got != want {
			t.Errorf("minute %d: %d token requests for 50 calls on two instances, want %d", int(h.now().Sub(start).Minutes()), got, want)
		}
		fetches = h.sim.TokenRequests()
	}
	if total, refused := h.sim.BearerCalls(); refused != 0 || total < 500 {
		t.Errorf("%d Bearer calls, %d refused", total, refused)
	}
}
