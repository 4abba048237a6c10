package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// Every connection id the API accepts is reachable on every route that takes
// one, escaped as a client escapes a path segment.
func TestEveryAcceptedConnectionIDIsReachable(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	for _, id := range []string{"team/a", "a b", `we"ird'{$}|[x]`, "trailing/", "x\\y", "...", ".hidden", "a..b"} {
		t.Run(id, func(t *testing.T) {
			_, err := h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: id,
				Credentials:      client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken},
				ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}})
			if err != nil {
				t.Fatalf("import %q: %v", id, err)
			}
			p := "/connections/" + url.PathEscape(id)
			routes := []struct{ method, path, body string }{}
			if !strings.HasSuffix(id, "/") {
				// The same id as a client that does not escape its slashes sends
				// it (an empty segment cannot travel unescaped: it is cleaned away).
				raw := "/connections/" + strings.ReplaceAll(url.PathEscape(id), "%2F", "/")
				routes = append(routes, []struct{ method, path, body string }{
					{"GET", raw + "?provider_config_key=jira", ""},
					{"GET", raw + "/events?provider_config_key=jira", ""},
					{"POST", raw + "/verify?provider_config_key=jira", ""},
				}...)
			}
			for _, r := range append(routes, []struct{ method, path, body string }{
				{"GET", p + "?provider_config_key=jira", ""},
				{"GET", p + "/events?provider_config_key=jira", ""},
				{"POST", p + "/verify?provider_config_key=jira", ""},
				{"PATCH", p + "?provider_config_key=jira", `{"tags":{"k":"v"}}`},
				{"DELETE", p + "?provider_config_key=jira", ""},
			}...) {
				ct := ""
				if r.body != "" {
					ct = "application/json"
				}
				status, body, _ := h.raw(r.method, r.path, testSecretKey, ct, r.body)
				if status != 200 {
					t.Errorf("%s %s: %d %s", r.method, r.path, status, body)
				}
			}
		})
	}
}

// "." and ".." would be cleaned out of a URL path: they are refused as
// connection ids and integration keys at creation, so no record is unreachable.
func TestDotIDsAreRefused(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	for _, id := range []string{".", ".."} {
		_, err := h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: id,
			Credentials: client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken}, ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}})
		if e := apiErr(t, err); e.Status != 400 || !strings.Contains(fmt.Sprint(e.Errors), "connection_id") {
			t.Errorf("connection id %q: %v", id, err)
		}
		status, body, _ := h.raw("POST", "/integrations", testSecretKey, "application/json", `{"provider":"`+atlassian+`","unique_key":"`+id+`"}`)
		if status != http.StatusBadRequest || !strings.Contains(body, "unique_key") {
			t.Errorf("integration key %q: %d %s", id, status, body)
		}
	}
}

// Hostile text is refused at the edge with 400 and the field's path, alike on
// SQLite and PostgreSQL, before anything reaches the database or Atlassian.
func TestHostileTextIsRefusedAtTheEdge(t *testing.T) {
	backends := map[string][]string{"sqlite": nil}
	if os.Getenv("LATCHKEY_TEST_DATABASE_URL") != "" {
		backends["postgres"] = []string{"LATCHKEY_DATABASE_URL=" + testdb.PostgresURL(t)}
	}
	for name, env := range backends {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, env...)
			h.integration("jira", atlassian)
			tok := h.session(client.ConnectSessionRequest{})
			cred := `{"username":"` + atlassiansim.DemoEmail + `","password":"` + atlassiansim.DemoToken + `"}`
			cases := []struct {
				name, method, path, bearer, body string
				wantCode, wantPath               string
			}{
				{"NUL in the end user id", "POST", "/connect/sessions", testSecretKey, `{"end_user":{"id":"u\u0000x"}}`, "invalid_body", "end_user.id"},
				{"NUL in a tag key", "POST", "/connect/sessions", testSecretKey, `{"tags":{"a\u0000":"v"}}`, "invalid_body", "tags.a\x00"},
				{"NUL in metadata", "POST", "/connections/metadata", testSecretKey, `{"connection_id":"x","provider_config_key":"jira","metadata":{"k":["ok","b\u0000d"]}}`, "invalid_body", "metadata.k.1"},
				{"invalid UTF-8 in a body", "POST", "/connect/sessions", testSecretKey, "{\"end_user\":{\"id\":\"\xff\xfe\"}}", "invalid_body", ""},
				{"NUL in a query value", "GET", "/connections?endUserId=a%00b", testSecretKey, "", "invalid_query_params", "endUserId"},
				{"invalid UTF-8 in a query value", "GET", "/connections?search=%FF", testSecretKey, "", "invalid_query_params", "search"},
				{"NUL in a submitted param", "POST", "/api-auth/basic/jira?connect_session_token=" + tok + "&params[cloudId]=" + atlassiansim.DemoCloudID + "%00", "", cred, "invalid_query_params", "params[cloudId]"},
				{"NUL in the path", "GET", "/connections/a%00b?provider_config_key=jira", testSecretKey, "", "invalid_uri_params", ""},
				{"search too long", "GET", "/connections?search=" + strings.Repeat("x", 256), testSecretKey, "", "invalid_query_params", "search"},
				{"too many tag filters", "GET", "/connections?" + tagFilters(11), testSecretKey, "", "invalid_query_params", "tags"},
				{"page that would overflow", "GET", "/connections?limit=2000&page=9223372036854775807", testSecretKey, "", "invalid_query_params", "page"},
				{"metadata too large", "POST", "/connections/metadata", testSecretKey, `{"connection_id":"x","provider_config_key":"jira","metadata":{"k":"` + strings.Repeat("x", 70<<10) + `"}}`, "invalid_body", "metadata"},
				{"query value too long", "GET", "/connections?endUserId=" + strings.Repeat("x", 9<<10), testSecretKey, "", "invalid_query_params", "endUserId"},
			}
			for _, c := range cases {
				ct := ""
				if c.body != "" {
					ct = "application/json"
				}
				status, body, _ := h.raw(c.method, c.path, c.bearer, ct, c.body)
				code, _, paths := errorCode(t, body)
				if status != 400 || code != c.wantCode {
					t.Errorf("%s: %d %s, want 400 %s", c.name, status, body, c.wantCode)
					continue
				}
				if c.wantPath == "" {
					continue
				}
				found := false
				for _, p := range paths {
					found = found || strings.Join(p, ".") == c.wantPath
				}
				if !found {
					t.Errorf("%s: no error at %q: %s", c.name, c.wantPath, body)
				}
			}
			if calls := h.sim.Calls(); len(calls) != 0 {
				t.Errorf("hostile requests reached Atlassian: %+v", calls)
			}
			// The proxy's headers too.
			res := h.proxyCall("GET", "/ex/jira/x", "a\xffb", nil, nil)
			b, _ := io.ReadAll(res.Body)
			if code, _, _ := errorCode(t, string(b)); res.StatusCode != 400 || code != "invalid_headers" {
				t.Errorf("invalid UTF-8 in Connection-Id: %d %s", res.StatusCode, b)
			}
		})
	}
}

func tagFilters(n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf("tags[k%d]=v", i))
	}
	return strings.Join(parts, "&")
}

// A connection's webhook URL override is held to the same network policy as
// the environment's URLs: session creation, import and PATCH refuse one that
// points into a private network, by literal address or by a name that
// resolves there (answered by the test's resolver: no packet is sent).
func TestWebhookOverridesStayOutOfPrivateNetworks(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.setDNS("intranet.example.com", "10.1.2.3")
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	for _, u := range []string{"http://10.0.0.5/hook", "http://[fd00::1]/hook", "http://169.254.169.254/latest", "https://intranet.example.com/hook"} {
		_, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u"}, WebhookURLOverride: u})
		if e := apiErr(t, err); e.Status != 400 || !strings.Contains(fmt.Sprint(e.Errors), "webhook_url_override") {
			t.Errorf("session with override %s: %v", u, err)
		}
		_, err = h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", WebhookURLOverride: u,
			Credentials: client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken}, ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}})
		if e := apiErr(t, err); e.Status != 400 || !strings.Contains(fmt.Sprint(e.Errors), "webhook_url_override") {
			t.Errorf("import with override %s: %v", u, err)
		}
		status, body, _ := h.raw("PATCH", "/connections/"+id+"?provider_config_key=jira", testSecretKey, "application/json", `{"webhook_url_override":"`+u+`"}`)
		if status != 400 || !strings.Contains(body, "webhook_url_override") || strings.Contains(body, "10.1.2.3") {
			t.Errorf("patch with override %s: %d %s", u, status, body)
		}
	}
	// A public address passes (it is never dialled here).
	if _, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u"}, WebhookURLOverride: "https://203.0.113.9/hook"}); err != nil {
		t.Errorf("public override refused: %v", err)
	}
}
