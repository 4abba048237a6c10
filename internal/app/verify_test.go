package app_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

const (
	jiraOnlyToken = "ATSTT3xFfGF0jiraOnlyTOKEN000000000000000000000000000000000=1234ABCD"
	confOnlyToken = "ATSTT3xFfGF0confluenceOnlyTOKEN000000000000000000000000000=5678ABCD"
	noScopeToken  = "ATSTT3xFfGF0noScopesTOKEN00000000000000000000000000000000000=9ABCDEF0"
	revokedToken  = "ATSTT3xFfGF0revokedTOKEN000000000000000000000000000000000000=0F0F0F0F"
	otherCloudID  = "5b4f1a7e-0000-4000-8000-000000000002"
)

func (h *harness) tokens() {
	h.sim.AddToken(atlassiansim.Token{Email: "jira-bot@serviceaccount.atlassian.com", Secret: jiraOnlyToken, AccountID: "acc-jira", DisplayName: "Jira Bot", CloudID: atlassiansim.DemoCloudID, Jira: true})
	h.sim.AddToken(atlassiansim.Token{Email: "wiki-bot@serviceaccount.atlassian.com", Secret: confOnlyToken, AccountID: "acc-wiki", DisplayName: "Wiki Bot", CloudID: atlassiansim.DemoCloudID, Confluence: true})
	h.sim.AddToken(atlassiansim.Token{Email: "idle-bot@serviceaccount.atlassian.com", Secret: noScopeToken, AccountID: "acc-idle", DisplayName: "Idle Bot", CloudID: atlassiansim.DemoCloudID})
	h.sim.AddToken(atlassiansim.Token{Email: "old-bot@serviceaccount.atlassian.com", Secret: revokedToken, AccountID: "acc-old", DisplayName: "Old Bot", CloudID: atlassiansim.DemoCloudID, Jira: true, Revoked: true})
}

// Each way Atlassian can answer maps to a distinct code and a message an end user
// can act on; failures save nothing.
func TestVerificationOutcomes(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)

	// A fresh session per attempt: each session may only try a few times a minute.
	submit := func(cloudID, email, token string) (*client.AuthResult, error) {
		return h.c.SubmitBasic(h.ctx(), h.session(client.ConnectSessionRequest{}), "jira", map[string]string{"cloudId": cloudID}, email, token)
	}
	failures := []struct {
		name       string
		cloudID    string
		email      string
		token      string
		fault      *atlassiansim.Fault
		wantStatus int
		wantCode   string
		wantIn     string
	}{
		{"wrong token", atlassiansim.DemoCloudID, atlassiansim.DemoEmail, strings.Replace(atlassiansim.DemoToken, "demo", "DEMO", 1), nil, 400, "invalid_credentials", "did not accept this email and API token"},
		{"token of another account", atlassiansim.DemoCloudID, "someone@serviceaccount.atlassian.com", atlassiansim.DemoToken, nil, 400, "invalid_credentials", "expired or been revoked"},
		{"revoked or expired token", atlassiansim.DemoCloudID, "old-bot@serviceaccount.atlassian.com", revokedToken, nil, 400, "invalid_credentials", "expired"},
		{"unknown cloud id", otherCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken, nil, 400, "unknown_cloud_id", otherCloudID},
		{"atlassian failing", atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken, &atlassiansim.Fault{Status: 500, Count: -1}, 502, "provider_unavailable", "HTTP 500"},
		{"atlassian overloaded", atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken, &atlassiansim.Fault{Status: 503, Count: -1}, 502, "provider_unavailable", "try again"},
		{"atlassian hanging", atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken, &atlassiansim.Fault{Hang: true, Count: -1}, 502, "provider_unavailable", "did not answer in time"},
		{"forbidden", atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken, &atlassiansim.Fault{Status: 403, Count: 1}, 400, "connection_test_failed", "403"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			h.sim.ClearFaults()
			if f.fault != nil {
				h.sim.Inject(*f.fault)
				defer h.sim.ClearFaults()
			}
			_, err := submit(f.cloudID, f.email, f.token)
			e := apiErr(t, err)
			if e.Status != f.wantStatus || e.Code != f.wantCode || !strings.Contains(e.Message, f.wantIn) {
				t.Errorf("got %d %s %q; want %d %s containing %q", e.Status, e.Code, e.Message, f.wantStatus, f.wantCode, f.wantIn)
			}
			if strings.Contains(e.Message, f.token) {
				t.Error("message contains the token")
			}
			// An unknown Cloud ID names its field, with the hint, for the form.
			if f.wantCode == "unknown_cloud_id" && (len(e.Errors) != 1 || strings.Join(e.Errors[0].Path, ".") != "params.cloudId" || !strings.Contains(e.Errors[0].Message, "Apps > Sites")) {
				t.Errorf("field errors = %+v", e.Errors)
			}
		})
	}
	if list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(list) != 0 {
		t.Fatalf("failed verifications saved connections: %+v", list)
	}

	t.Run("token without Jira scope is saved with a warning", func(t *testing.T) {
		res, err := submit(atlassiansim.DemoCloudID, "wiki-bot@serviceaccount.atlassian.com", confOnlyToken)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || res.Warnings[0].Code != "scope_missing" || res.Warnings[0].Product != "jira" {
			t.Fatalf("warnings = %+v", res.Warnings)
		}
		conn, _ := h.c.GetConnection(h.ctx(), "jira", res.ConnectionID)
		if conn.Status != "scope_missing" || len(conn.Warnings) != 1 || conn.Warnings[0].Product != "jira" || conn.ConnectionConfig["accountId"] != "acc-wiki" {
			t.Errorf("connection = %+v", conn)
		}
	})
	t.Run("token without any scope names both products", func(t *testing.T) {
		res, err := submit(atlassiansim.DemoCloudID, "idle-bot@serviceaccount.atlassian.com", noScopeToken)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 2 || res.Warnings[0].Product != "jira" || res.Warnings[1].Product != "confluence" {
			t.Fatalf("warnings = %+v", res.Warnings)
		}
	})
	t.Run("jira-only token has no warning", func(t *testing.T) {
		res, err := submit(atlassiansim.DemoCloudID, "jira-bot@serviceaccount.atlassian.com", jiraOnlyToken)
		if err != nil || len(res.Warnings) != 0 {
			t.Fatalf("res = %+v, %v", res, err)
		}
	})
}

// A rate-limited verification waits as Atlassian says, then succeeds.
func TestVerificationHonoursRateLimits(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	tok := h.session(client.ConnectSessionRequest{})
	h.sim.Inject(atlassiansim.Fault{Status: http.StatusTooManyRequests, Count: 1, Header: map[string]string{"Retry-After": "1"}})
	h.sim.Inject(atlassiansim.Fault{Status: http.StatusServiceUnavailable, Count: 1, Header: map[string]string{
		"X-RateLimit-Reset": h.now().Add(1500 * time.Millisecond).Format(time.RFC3339Nano)}})
	if _, err := h.c.SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken); err != nil {
		t.Fatalf("submit: %v", err)
	}
	if len(h.sleeps) != 2 || h.sleeps[0] != time.Second || h.sleeps[1] < time.Second || h.sleeps[1] > 1500*time.Millisecond {
		t.Errorf("waits = %v, want [1s, ~1.5s]", h.sleeps)
	}
	if n := len(h.sim.Calls()); n != 3 {
		t.Errorf("calls = %d, want 3", n)
	}

	// A wait longer than the verification budget is not attempted: the user hears to try later.
	h.sim.Inject(atlassiansim.Fault{Status: http.StatusTooManyRequests, Count: 1, Header: map[string]string{"Retry-After": "60"}})
	_, err := h.c.SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if e := apiErr(t, err); e.Code != "provider_unavailable" || !strings.Contains(e.Message, "rate limiting") {
		t.Errorf("err = %+v", e)
	}
}

// jira-basic and confluence-basic verify against the site URL through proxy.verification.
func TestSiteProvidersVerify(t *testing.T) {
	h := newHarness(t)
	h.integration("jira-site", "jira-basic")
	h.integration("wiki-site", "confluence-basic")
	tok := h.session(client.ConnectSessionRequest{})
	res, err := h.c.SubmitBasic(h.ctx(), tok, "jira-site", map[string]string{"subdomain": atlassiansim.DemoSite}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		t.Fatalf("jira-basic: %v", err)
	}
	if _, err := h.c.SubmitBasic(h.ctx(), tok, "wiki-site", map[string]string{"subdomain": atlassiansim.DemoSite}, atlassiansim.DemoEmail, atlassiansim.DemoToken); err != nil {
		t.Fatalf("confluence-basic: %v", err)
	}
	calls := h.sim.Calls()
	if calls[0].Host != "acme.atlassian.net" || calls[0].Path != "/rest/api/3/myself" || calls[1].Path != "/wiki/rest/api/user/current" {
		t.Errorf("calls = %+v", calls)
	}
	conn, _ := h.c.GetConnection(h.ctx(), "jira-site", res.ConnectionID)
	if conn.ConnectionConfig["subdomain"] != "acme" {
		t.Errorf("config = %v", conn.ConnectionConfig)
	}
	_, err = h.c.SubmitBasic(h.ctx(), tok, "jira-site", map[string]string{"subdomain": atlassiansim.DemoSite}, atlassiansim.DemoEmail, "wrong")
	if e := apiErr(t, err); e.Code != "invalid_credentials" {
		t.Errorf("wrong token: %+v", e)
	}
	// A subdomain that would move the request elsewhere never leaves latchkey.
	before := len(h.sim.Calls())
	_, err = h.c.SubmitBasic(h.ctx(), tok, "jira-site", map[string]string{"subdomain": "evil.com/x"}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if e := apiErr(t, err); e.Code != "invalid_fields" {
		t.Errorf("host injection: %+v", e)
	}
	if len(h.sim.Calls()) != before {
		t.Error("a request was sent for an invalid subdomain")
	}
}

// A provider added by configuration (API_KEY, generic proxy.verification with a
// header template) works through /api-auth/api-key without any code.
func TestProviderFromFileWithAPIKey(t *testing.T) {
	var gotKey, gotPath string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey, gotPath = r.Header.Get("X-Api-Key"), r.URL.Path
		if gotKey != "ak_12345678" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer upstream.Close()
	file := filepath.Join(t.TempDir(), "providers.yaml")
	os.WriteFile(file, []byte(`
acme:
    display_name: Acme
    auth_mode: API_KEY
    proxy:
        base_url: https://api.acme.test/${connectionConfig.tenant}
        headers:
            x-api-key: ${apiKey}
        verification:
            endpoints:
                - /v1/whoami
    connection_config:
        tenant:
            type: string
            title: Tenant
            pattern: ^[a-z]+$
    credentials:
        apiKey:
            type: string
            title: Acme API key
            pattern: ^ak_[0-9]{8}$
            secret: true
`), 0o600)
	h := newHarness(t, "LATCHKEY_PROVIDERS_FILE="+file, "LATCHKEY_UPSTREAM_REWRITE=https://api.acme.test="+upstream.URL)
	h.integration("acme", "acme")
	tok := h.session(client.ConnectSessionRequest{})
	res, err := h.c.SubmitAPIKey(h.ctx(), tok, "acme", map[string]string{"tenant": "north"}, "ak_12345678")
	if err != nil {
		t.Fatal(err)
	}
	if gotPath != "/north/v1/whoami" {
		t.Errorf("verification path %q", gotPath)
	}
	conn, _ := h.c.GetConnection(h.ctx(), "acme", res.ConnectionID)
	if conn.Credentials.Type != "API_KEY" || conn.Credentials.APIKey != "ak_12345678" || conn.ConnectionConfig["tenant"] != "north" {
		t.Errorf("connection = %+v", conn)
	}
	_, err = h.c.SubmitAPIKey(h.ctx(), tok, "acme", map[string]string{"tenant": "north"}, "ak_00000000")
	if e := apiErr(t, err); e.Code != "invalid_credentials" || !strings.Contains(e.Message, "Acme") {
		t.Errorf("wrong key: %+v", e)
	}
	_, err = h.c.SubmitAPIKey(h.ctx(), tok, "acme", map[string]string{"tenant": "North!"}, "nope")
	if e := apiErr(t, err); e.Code != "invalid_fields" || len(e.Errors) != 2 || e.Errors[0].Message != "Acme API key is not in the expected format. Copy the whole value again; it may have been cut short." {
		t.Errorf("bad fields: %+v", e)
	}
	// BASIC route on an API_KEY integration.
	_, err = h.c.SubmitBasic(h.ctx(), tok, "acme", nil, "a", "b")
	if apiErr(t, err).Code != "invalid_auth_mode" {
		t.Errorf("basic on api key: %v", err)
	}
}

// One link cannot be used to try tokens against Atlassian at speed.
func TestSubmissionsAreRateLimitedPerSession(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	tok := h.session(client.ConnectSessionRequest{})
	wrong := strings.Replace(atlassiansim.DemoToken, "demo", "nope", 1)
	try := func(token string) error {
		_, err := h.c.SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, token)
		return err
	}
	for i := 0; i < 5; i++ {
		if e := apiErr(t, try(wrong)); e.Code != "invalid_credentials" {
			t.Fatalf("attempt %d: %+v", i+1, e)
		}
	}
	e := apiErr(t, try(atlassiansim.DemoToken))
	if e.Status != http.StatusTooManyRequests || e.Code != "too_many_request" || !strings.Contains(e.Message, "12 seconds") {
		t.Fatalf("sixth attempt: %+v", e)
	}
	if n := len(h.sim.Calls()); n != 5 {
		t.Errorf("Atlassian saw %d attempts, want 5", n)
	}
	// Another instance on the same database draws from the same bucket.
	other, err := h.open()
	if err != nil {
		t.Fatal(err)
	}
	otherSrv := httptest.NewServer(other.Handler())
	defer func() { otherSrv.Close(); other.Close() }()
	_, err = client.New(otherSrv.URL, testSecretKey).SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if e := apiErr(t, err); e.Code != "too_many_request" {
		t.Errorf("through another instance: %+v", e)
	}
	// Field mistakes do not use up attempts; another session is not affected.
	if e := apiErr(t, try("short")); e.Code != "invalid_fields" {
		t.Errorf("invalid field while limited: %+v", e)
	}
	if _, err := h.c.SubmitBasic(h.ctx(), h.session(client.ConnectSessionRequest{}), "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken); err != nil {
		t.Errorf("other session: %v", err)
	}
	h.advance(12 * time.Second)
	if err := try(atlassiansim.DemoToken); err != nil {
		t.Errorf("after waiting: %v", err)
	}
}
