package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

const atlassian = "atlassian-service-account-api-token"

// The whole flow a SaaS backend and its end user go through.
func TestLinkAtlassianServiceAccount(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	token := h.session(client.ConnectSessionRequest{AllowedIntegrations: []string{"jira"}})

	res, err := h.c.SubmitBasic(h.ctx(), token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if res.ProviderConfigKey != "jira" || res.ConnectionID == "" || len(res.Warnings) != 0 {
		t.Fatalf("submit result = %+v", res)
	}

	conn, err := h.c.GetConnection(h.ctx(), "jira", res.ConnectionID)
	if err != nil {
		t.Fatalf("get connection: %v", err)
	}
	if conn.Credentials.Type != "BASIC" || conn.Credentials.Username != atlassiansim.DemoEmail || conn.Credentials.Password != atlassiansim.DemoToken {
		t.Errorf("credentials = %+v", conn.Credentials)
	}
	if conn.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID || conn.ConnectionConfig["accountId"] != "712020:demo-bot" ||
		conn.ConnectionConfig["accountType"] != "app" || conn.ConnectionConfig["displayName"] != "Integration Bot" {
		t.Errorf("connection_config = %v", conn.ConnectionConfig)
	}
	if conn.Status != "ok" || conn.Provider != atlassian || conn.EndUser == nil || conn.EndUser.ID != "user-1" || conn.Tags["end_user_id"] != "user-1" {
		t.Errorf("connection = %+v", conn)
	}
	if conn.LastVerifiedAt == nil {
		t.Error("last_verified_at not set")
	}

	// Verification went through the gateway with Basic auth.
	calls := h.sim.Calls()
	if len(calls) != 1 || calls[0].Path != "/ex/jira/"+atlassiansim.DemoCloudID+"/rest/api/3/myself" || calls[0].Email != atlassiansim.DemoEmail || calls[0].Status != 200 {
		t.Errorf("simulator calls = %+v", calls)
	}

	list, err := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if err != nil || len(list) != 1 || list[0].ConnectionID != res.ConnectionID {
		t.Fatalf("list = %+v, %v", list, err)
	}

	// The token never appears in logs.
	if logs := h.logs.String(); strings.Contains(logs, atlassiansim.DemoToken) || strings.Contains(logs, token) {
		t.Error("a secret appeared in the logs")
	}
}

func TestStaticRoutes(t *testing.T) {
	h := newHarness(t)
	status, body, hdr := h.raw("GET", "/images/template-logos/"+atlassian+".svg", "", "", "")
	if status != 200 || hdr.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<svg") {
		t.Errorf("logo: %d %s %q", status, hdr.Get("Content-Type"), body)
	}
	if status, body, _ = h.raw("GET", "/images/template-logos/unknown-thing.svg", "", "", ""); status != 200 || !strings.Contains(body, "<svg") {
		t.Errorf("fallback logo: %d", status)
	}
	if status, body, _ = h.raw("GET", "/openapi.yaml", "", "", ""); status != 200 || !strings.HasPrefix(body, "openapi: 3.1.0") {
		t.Errorf("openapi: %d", status)
	}
	if status, _, _ = h.raw("GET", "/ready", "", "", ""); status != 200 {
		t.Errorf("ready: %d", status)
	}
	status, _, hdr = h.raw("OPTIONS", "/connections", "", "", "")
	if hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("CORS: %d %v", status, hdr)
	}
}

// GET / is a small page for a person with a browser, and JSON for programs.
func TestFrontDoor(t *testing.T) {
	h := newHarness(t)
	get := func(accept string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", h.srv.URL+"/", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	// What Chromium sends for a page.
	status, body, hdr := get("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("browser: %d %s", status, hdr.Get("Content-Type"))
	}
	for _, want := range []string{"latchkey", `href="/openapi.yaml"`, `href="/health"`, `href="/admin"`, `href="/docs/connect/atlassian-service-account-api-token"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	for _, accept := range []string{"", "application/json", "*/*"} {
		status, body, hdr = get(accept)
		var v struct {
			Name  string            `json:"name"`
			Links map[string]string `json:"links"`
		}
		if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &v) != nil || v.Name != "latchkey" || v.Links["openapi"] == "" || !strings.HasSuffix(v.Links["console"], "/admin") {
			t.Errorf("Accept %q: %d %s %s", accept, status, hdr.Get("Content-Type"), body)
		}
	}
	// Other unknown paths stay JSON 404s.
	if status, _, _ = get("text/html"); status != 200 {
		t.Errorf("front door: %d", status)
	}
	if status, _, _ := h.raw("GET", "/nope", "", "", ""); status != 404 {
		t.Errorf("unknown path: %d", status)
	}
}

// A guide that does not exist is a 404 like any unknown path: a page listing
// the guides for a browser, a JSON error naming them for anything else.
func TestUnknownGuide(t *testing.T) {
	h := newHarness(t)
	get := func(accept string) (int, string, string) {
		req, _ := http.NewRequest("GET", h.srv.URL+"/docs/connect/unknown", nil)
		req.Header.Set("Accept", accept)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}
	status, ct, body := get("text/html,application/xhtml+xml,*/*;q=0.8")
	if status != 404 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, `href="atlassian-service-account-api-token"`) || !strings.Contains(body, "unknown") {
		t.Errorf("browser: %d %s %s", status, ct, trim(body))
	}
	for _, accept := range []string{"", "application/json"} {
		status, ct, body = get(accept)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if status != 404 || !strings.HasPrefix(ct, "application/json") || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "not_found" ||
			!strings.Contains(e.Error.Message, "atlassian-service-account-api-token") {
			t.Errorf("Accept %q: %d %s %s", accept, status, ct, body)
		}
	}
}
