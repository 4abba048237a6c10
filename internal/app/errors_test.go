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

// jsonHas checks that body, decoded, contains every key/value of want at the top
// level of its "error" object (or of the body when want has no "error" key).
func errorCode(t *testing.T, body string) (code, message string, fields [][]string) {
	t.Helper()
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Errors  []struct {
				Path []string `json:"path"`
			} `json:"errors"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body is not JSON: %q", body)
	}
	for _, e := range v.Error.Errors {
		fields = append(fields, e.Path)
	}
	return v.Error.Code, v.Error.Message, fields
}

// Every route validates its input and answers a stable code with a message.
func TestAPIErrors(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	tok := h.session(client.ConnectSessionRequest{})
	q := "?connect_session_token=" + tok + "&params[cloudId]=" + atlassiansim.DemoCloudID
	goodBasic := `{"username":"` + atlassiansim.DemoEmail + `","password":"` + atlassiansim.DemoToken + `"}`

	cases := []struct {
		name       string
		method     string
		path       string
		bearer     string
		ctype      string
		body       string
		wantStatus int
		wantCode   string
		wantPaths  []string // joined with "."
	}{
		{"no auth header", "GET", "/connections", "", "", "", 401, "missing_auth_header", nil},
		{"empty bearer", "GET", "/connections", " ", "", "", 401, "malformed_auth_header", nil},
		{"unknown secret key", "GET", "/connections", "sk_dev_nope_0000000000000000000000000000000", "", "", 401, "unknown_account", nil},
		{"session token on backend route", "GET", "/connections", tok, "", "", 401, "unknown_account", nil},
		{"malformed session token", "GET", "/connect/session", "nango_connect_session_xyz", "", "", 401, "invalid_connect_session_token_format", nil},
		{"unknown session token", "GET", "/connect/session", "nango_connect_session_" + strings.Repeat("ab", 32), "", "", 401, "unknown_connect_session_token", nil},
		{"non-JSON content type", "POST", "/connect/sessions", testSecretKey, "text/plain", `{}`, 415, "invalid_content_type", nil},
		{"broken JSON", "POST", "/connect/sessions", testSecretKey, "application/json", `{"end_user":`, 400, "invalid_body", nil},
		{"unknown key", "POST", "/connect/sessions", testSecretKey, "application/json", `{"end_user":{"id":"u"},"surprise":1}`, 400, "invalid_body", []string{"surprise"}},
		{"wrong type", "POST", "/connect/sessions", testSecretKey, "application/json", `{"end_user":{"id":5}}`, 400, "invalid_body", []string{"end_user.id"}},
		{"no end user", "POST", "/connect/sessions", testSecretKey, "application/json", `{}`, 400, "invalid_body", []string{"end_user"}},
		{"several problems at once", "POST", "/connect/sessions", testSecretKey, "application/json",
			`{"end_user":{"id":"","email":"nope"},"allowed_integrations":["jira","ghost"],"tags":{"9bad":"x"}}`, 400, "invalid_body",
			[]string{"end_user.id", "end_user.email", "tags.9bad", "allowed_integrations.1"}},
		{"unknown query param", "POST", "/connect/sessions?x=1", testSecretKey, "application/json", `{"end_user":{"id":"u"}}`, 400, "invalid_query_params", []string{"x"}},
		{"body too large", "POST", "/connect/sessions", testSecretKey, "application/json", `{"end_user":{"id":"` + strings.Repeat("a", 2<<20) + `"}}`, 413, "payload_too_large", nil},
		{"submit without session", "POST", "/api-auth/basic/jira", "", "application/json", goodBasic, 401, "missing_connect_session_token", nil},
		{"submit with public key", "POST", "/api-auth/basic/jira?public_key=x", "", "application/json", goodBasic, 401, "deprecated_authentication", nil},
		{"submit with connection_id", "POST", "/api-auth/basic/jira" + q + "&connection_id=abc", "", "application/json", goodBasic, 400, "invalid_query_params", []string{"connection_id"}},
		{"submit to unknown integration", "POST", "/api-auth/basic/ghost" + q, "", "application/json", goodBasic, 404, "unknown_provider_config", nil},
		{"submit with wrong auth mode", "POST", "/api-auth/api-key/jira" + q, "", "application/json", `{"apiKey":"k"}`, 400, "invalid_auth_mode", nil},
		{"submit with unknown body key", "POST", "/api-auth/basic/jira" + q, "", "application/json", `{"username":"a","password":"b","otp":"1"}`, 400, "invalid_body", []string{"otp"}},
		{"submit with every field wrong", "POST", "/api-auth/basic/jira?connect_session_token=" + tok + "&params[cloudId]=not-a-uuid", "", "application/json",
			`{"username":"bot","password":"short"}`, 400, "invalid_fields", []string{"params.cloudId", "username", "password"}},
		{"submit with nothing", "POST", "/api-auth/basic/jira?connect_session_token=" + tok, "", "application/json", `{}`, 400, "invalid_fields",
			[]string{"params.cloudId", "username", "password"}},
		{"get connection without key", "GET", "/connections/abc", testSecretKey, "", "", 400, "invalid_query_params", []string{"provider_config_key"}},
		{"get connection unknown integration", "GET", "/connections/abc?provider_config_key=ghost", testSecretKey, "", "", 400, "unknown_provider_config", nil},
		{"get unknown connection", "GET", "/connections/abc?provider_config_key=jira", testSecretKey, "", "", 404, "not_found", nil},
		{"delete unknown connection", "DELETE", "/connections/abc?provider_config_key=jira", testSecretKey, "", "", 400, "unknown_connection", nil},
		{"patch unknown connection", "PATCH", "/connections/abc?provider_config_key=jira", testSecretKey, "application/json", `{"tags":{"a":"b"}}`, 404, "unknown_connection", nil},
		{"list with bad limit", "GET", "/connections?limit=0", testSecretKey, "", "", 400, "invalid_query_params", []string{"limit"}},
		{"list with bad status", "GET", "/connections?status=sad", testSecretKey, "", "", 400, "invalid_query_params", []string{"status"}},
		{"metadata for unknown connection", "POST", "/connections/metadata", testSecretKey, "application/json",
			`{"connection_id":"ghost","provider_config_key":"jira","metadata":{"a":1}}`, 404, "unknown_connection", nil},
		{"metadata without metadata", "POST", "/connections/metadata", testSecretKey, "application/json", `{"connection_id":"x","provider_config_key":"jira"}`, 400, "invalid_body", []string{"metadata"}},
		{"import unknown integration", "POST", "/connections", testSecretKey, "application/json",
			`{"provider_config_key":"ghost","credentials":{"type":"BASIC","username":"a@b.co","password":"p"}}`, 404, "not_found", nil},
		{"import wrong credential type", "POST", "/connections", testSecretKey, "application/json",
			`{"provider_config_key":"jira","credentials":{"type":"API_KEY","apiKey":"k"}}`, 400, "invalid_body", []string{"credentials.type"}},
		{"import unknown credential field", "POST", "/connections", testSecretKey, "application/json",
			`{"provider_config_key":"jira","credentials":{"type":"BASIC","username":"a@b.co","password":"p","extra":"x"}}`, 400, "invalid_body", []string{"credentials.extra"}},
		{"integration with unknown provider", "POST", "/integrations", testSecretKey, "application/json", `{"provider":"nope","unique_key":"k"}`, 400, "invalid_body", []string{"provider"}},
		{"integration with taken key", "POST", "/integrations", testSecretKey, "application/json", `{"provider":"` + atlassian + `","unique_key":"jira"}`, 400, "invalid_body", []string{"uniqueKey"}},
		{"integration with bad key", "POST", "/integrations", testSecretKey, "application/json", `{"provider":"` + atlassian + `","unique_key":"a/b"}`, 400, "invalid_body", []string{"unique_key"}},
		{"integration with OAuth credentials", "POST", "/integrations", testSecretKey, "application/json",
			`{"provider":"` + atlassian + `","unique_key":"k2","credentials":{"type":"OAUTH2","client_id":"a","client_secret":"b"}}`, 400, "invalid_body", []string{"credentials"}},
		{"unknown integration", "GET", "/integrations/ghost", testSecretKey, "", "", 404, "not_found", nil},
		{"unknown provider", "GET", "/providers/ghost", testSecretKey, "", "", 404, "not_found", nil},
		{"reconnect unknown connection", "POST", "/connect/sessions/reconnect", testSecretKey, "application/json", `{"connection_id":"x","integration_id":"jira"}`, 400, "invalid_body", []string{"connection_id"}},
		{"unknown route", "GET", "/nope", "", "", "", 404, "not_found", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := h.raw(tc.method, tc.path, tc.bearer, tc.ctype, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
			code, msg, paths := errorCode(t, body)
			if code != tc.wantCode {
				t.Errorf("code = %q, want %q; body %s", code, tc.wantCode, body)
			}
			if msg == "" {
				t.Errorf("no message: %s", body)
			}
			got := map[string]bool{}
			for _, p := range paths {
				got[strings.Join(p, ".")] = true
			}
			for _, p := range tc.wantPaths {
				if !got[p] {
					t.Errorf("no error for path %q; body %s", p, body)
				}
			}
			if strings.Contains(body, atlassiansim.DemoToken) {
				t.Error("the token was echoed back")
			}
		})
	}
	// None of these reached Atlassian.
	if calls := h.sim.Calls(); len(calls) != 0 {
		t.Errorf("invalid requests reached Atlassian: %+v", calls)
	}
}

// The field errors of a submission are in form order and speak the field titles.
func TestFieldErrorsAreReadable(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	tok := h.session(client.ConnectSessionRequest{})
	_, err := h.c.SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": "12345"}, "bot@", "ATSTT3xFfGF0-too-short")
	e := apiErr(t, err)
	if e.Status != http.StatusBadRequest || e.Code != "invalid_fields" || len(e.Errors) != 3 {
		t.Fatalf("err = %+v", e)
	}
	want := []string{"Cloud ID must be a UUID", "Service Account Email must be an email address", "API Token is not in the expected format"}
	for i, w := range want {
		if !strings.HasPrefix(e.Errors[i].Message, w) {
			t.Errorf("error %d = %q, want prefix %q", i, e.Errors[i].Message, w)
		}
	}
	// Whitespace pasted around structured values is forgiven.
	res, err := h.c.SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": " " + atlassiansim.DemoCloudID + "\n"}, atlassiansim.DemoEmail+" ", " "+atlassiansim.DemoToken+"\n")
	if err != nil {
		t.Fatalf("submit with pasted whitespace: %v", err)
	}
	conn, _ := h.c.GetConnection(h.ctx(), "jira", res.ConnectionID)
	if conn.Credentials.Password != atlassiansim.DemoToken || conn.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID {
		t.Errorf("values were not trimmed: %+v %v", conn.Credentials, conn.ConnectionConfig)
	}
}

// The Authorization header takes the Bearer scheme (any case) and nothing else:
// a bare key or another scheme is malformed, as docs/api.md says.
func TestAuthorizationHeaderForms(t *testing.T) {
	h := newHarness(t)
	for header, want := range map[string]int{
		"Bearer " + testSecretKey:        200,
		"bearer " + testSecretKey:        200,
		"BEARER  " + testSecretKey:       200,
		testSecretKey:                    401,
		"Basic " + testSecretKey:         401,
		"Bearer":                         401,
		"Bearer " + testSecretKey + " x": 401,
	} {
		req, _ := http.NewRequest("GET", h.srv.URL+"/integrations", nil)
		req.Header.Set("Authorization", header)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Authorization %.12q…: %d, want %d", header, res.StatusCode, want)
		}
		if want == 401 {
			if code, _, _ := errorCode(t, string(b)); code != "malformed_auth_header" {
				t.Errorf("Authorization %.12q…: code %q, want malformed_auth_header", header, code)
			}
		}
	}
}
