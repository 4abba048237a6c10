package app_test

// Fuzz targets for what callers send latchkey's API: every JSON request body
// the routes decode, and the browser's credential submissions (the params[...]
// query and the basic / api-key bodies). They run the real handler in-process
// on a real SQLite file, with verification going to the simulated Atlassian:
// the built-in providers only reach api.atlassian.com and *.atlassian.net, both
// rewritten to the simulator, so nothing leaves the loopback. Seeds: f.Add
// below and testdata/fuzz/<Target>/; CI fuzzes each a few seconds (.ci/run).

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
)

// bodyRoute is a route that decodes a JSON body, and how to reach it.
type bodyRoute struct {
	pattern string // as API.Routes lists it
	method  string
	path    string
	// inQuery: the credential is a connect session token in the query string.
	inQuery bool
}

// bodyRoutes are every route that decodes a JSON body; TestFuzzedBodiesCoverEveryRoute
// keeps the list complete.
var bodyRoutes = []bodyRoute{
	{"POST /connect/sessions", "POST", "/connect/sessions", false},
	{"POST /connect/sessions/reconnect", "POST", "/connect/sessions/reconnect", false},
	{"POST /api-auth/basic/{providerConfigKey}", "POST", "/api-auth/basic/jira?params[cloudId]=" + atlassiansim.DemoCloudID, true},
	{"POST /api-auth/api-key/{providerConfigKey}", "POST", "/api-auth/api-key/jira", true},
	{"POST /oauth2/auth/{providerConfigKey}", "POST", "/oauth2/auth/jira", true},
	{"POST /connections", "POST", "/connections", false},
	{"POST /connections/metadata", "POST", "/connections/metadata", false},
	{"PATCH /connections/metadata", "PATCH", "/connections/metadata", false},
	{"PATCH /connections/{connectionId...}", "PATCH", "/connections/fuzzed?provider_config_key=jira", false},
	{"POST /integrations", "POST", "/integrations", false},
	{"PATCH /integrations/{uniqueKey}", "PATCH", "/integrations/fuzzed", false},
	{"PATCH /environment", "PATCH", "/environment", false},
	{"POST /environment/secret-keys", "POST", "/environment/secret-keys", false},
}

// noBodyRoutes take a POST, PATCH or PUT without decoding a body.
var noBodyRoutes = map[string]bool{
	"POST /connect/telemetry":                   true, // read and dropped, never decoded
	"POST /auth/{flow}/{providerConfigKey}":     true, // always refused, never decoded
	"POST /connections/{connectionId}/verify":   true,
	"POST /connections/{connectionId...}":       true, // the unescaped-slash form of verify
	"POST /environment/webhook-signing-key":     true,
	"POST /environment/secret-keys/{id}/revoke": true,
	"POST /webhooks/deliveries/{id}/retry":      true,
	"/proxy/":                                   true, // streamed to the provider as is
	"/":                                         true,
}

// Every route that can take a body is fuzzed or known to decode none.
func TestFuzzedBodiesCoverEveryRoute(t *testing.T) {
	h := newHarness(t)
	api := h.app.Handler().(*httpapi.API)
	fuzzed := map[string]bool{}
	for _, r := range bodyRoutes {
		fuzzed[r.pattern] = true
	}
	for _, r := range api.Routes() {
		method, _, hasMethod := strings.Cut(r.Pattern, " ")
		if hasMethod && method != "POST" && method != "PATCH" && method != "PUT" {
			continue
		}
		// The console's forms are URL-encoded, read under its own size bound
		// after the session and origin checks (TestConsoleRefusesBadForms).
		if strings.HasPrefix(strings.TrimPrefix(r.Pattern, method+" "), "/admin/") {
			continue
		}
		if !fuzzed[r.Pattern] && !noBodyRoutes[r.Pattern] {
			t.Errorf("route %q may take a body: add it to bodyRoutes (fuzzed) or noBodyRoutes", r.Pattern)
		}
		delete(fuzzed, r.Pattern)
	}
	for p := range fuzzed {
		t.Errorf("bodyRoutes lists %q, which the router does not register", p)
	}
}

// fuzzHarness is a harness with what the fuzzed requests refer to: integrations
// "jira" (Atlassian gateway), "site" (Jira on a site URL), "wiki" (Confluence)
// and "fuzzed", and a connection "fuzzed".
func fuzzHarness(f *testing.F) *harness {
	h := newHarness(f)
	h.integration("jira", atlassian)
	h.integration("site", "jira-basic")
	h.integration("wiki", "confluence-basic")
	h.integration("fuzzed", atlassian)
	status, body, _ := h.raw("POST", "/connections", testSecretKey, "application/json",
		`{"provider_config_key":"jira","connection_id":"fuzzed","credentials":{"type":"BASIC","username":"`+atlassiansim.DemoEmail+`","password":"`+atlassiansim.DemoToken+`"},"connection_config":{"cloudId":"`+atlassiansim.DemoCloudID+`"}}`)
	if status != 201 {
		f.Fatalf("import: %d %s", status, body)
	}
	return h
}

// serveInProcess sends one request to the handler; rawQuery is set as is (the
// handler must cope with whatever a client puts there).
func serveInProcess(h *harness, method, path, rawQuery, bearer, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	p, q, _ := strings.Cut(path, "?")
	req.URL.Path = p
	req.URL.RawQuery = q
	if rawQuery != "" {
		if req.URL.RawQuery != "" {
			req.URL.RawQuery += "&"
		}
		req.URL.RawQuery += rawQuery
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.app.Handler().ServeHTTP(rec, req)
	return rec
}

// freshSession creates a connect session in-process (a fuzz iteration must not
// use the harness's t).
func freshSession(t *testing.T, h *harness) string {
	rec := serveInProcess(h, "POST", "/connect/sessions", "", testSecretKey, "application/json", []byte(`{"end_user":{"id":"fuzz"}}`))
	var s struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &s) != nil || s.Data.Token == "" {
		t.Fatalf("create session: %d %s", rec.Code, rec.Body)
	}
	return s.Data.Token
}

// checkAnswer asserts the API's contract for any input: no server error, a
// JSON body, and for a refusal a stable code with a human message.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent {
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q: %s", what, rec.Code, ct, rec.Body)
	}
	var v struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s: %d, body is not JSON: %s", what, rec.Code, rec.Body)
	}
	if rec.Code >= 400 && (v.Error == nil || v.Error.Code == "" || v.Error.Message == "") {
		t.Fatalf("%s: %d without an error code and message: %s", what, rec.Code, rec.Body)
	}
}

// FuzzJSONBodies: whatever body (and Content-Type) a route that decodes JSON
// receives, it answers with JSON, never a server error, and refuses with a code
// and a message.
func FuzzJSONBodies(f *testing.F) {
	for _, ct := range []string{"", "application/json; charset=utf-8", "text/plain", `application/json; charset="`, "application/JSON", "multipart/form-data; boundary=x"} {
		f.Add(uint8(0), ct, []byte(`{"end_user":{"id":"u"}}`))
	}
	for i := range bodyRoutes {
		for _, b := range []string{``, `{}`, `[]`, `null`, `"x"`, `{"a":1}`, `{} {}`, `{"end_user":{"id":"u"}}`, `{"end_user":{"id":1}}`,
			`{"provider":"` + atlassian + `","unique_key":"k"}`, `{"connection_id":"fuzzed","integration_id":"jira"}`,
			`{"connection_id":"fuzzed","provider_config_key":"jira","metadata":{"a":{"b":[1,2]}}}`,
			`{"username":"` + atlassiansim.DemoEmail + `","password":"` + atlassiansim.DemoToken + `"}`, `{"apiKey":"k"}`,
			`{"webhook_url":"http://127.0.0.1:1/x"}`, `{"credentials_expires_at":"2000-01-01"}`, "{\"end_user\":{\"id\":\"\\ud800\"}}"} {
			f.Add(uint8(i), "application/json", []byte(b))
		}
	}
	h := fuzzHarness(f)
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		r := bodyRoutes[int(route)%len(bodyRoutes)]
		bearer, query := testSecretKey, ""
		if r.inQuery {
			bearer, query = "", "connect_session_token="+freshSession(t, h)
		}
		rec := serveInProcess(h, r.method, r.path, query, bearer, contentType, body)
		checkAnswer(t, r.pattern, rec)
	})
}

var (
	gatewayCallRE = regexp.MustCompile(`^/ex/(jira/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/rest/api/3/myself|` +
		`confluence/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/wiki/rest/api/user/current)$`)
	siteHostRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}\.atlassian\.net$`)
)

// FuzzSubmission: whatever query (params[...], connect_session_token, anything)
// and body the browser's submission carries, the answer keeps the API's
// contract, and verification calls only the provider's own check endpoints:
// a Cloud ID or a site name from the params never steers it elsewhere.
func FuzzSubmission(f *testing.F) {
	cloud := atlassiansim.DemoCloudID
	good := `{"username":"` + atlassiansim.DemoEmail + `","password":"` + atlassiansim.DemoToken + `"}`
	for _, s := range []struct {
		route uint8
		query string
		body  string
	}{
		{0, "params[cloudId]=" + cloud, good},
		{0, "params[cloudId]=" + cloud + "&params[cloudId]=../../admin", good},
		{0, "params[cloudId]=" + cloud + "%2F..%2F..%2Fadmin", good},
		{0, "params[cloudId]=" + strings.ToUpper(cloud) + "&credentials_expires_at=2030-01-01", good},
		{0, "params[cloudId]=x&params[other]=y&params[]=z&params[a][b]=c&params=d", good},
		{0, "params%5BcloudId%5D=" + cloud, good},
		{0, "connection_id=c1&params[cloudId]=" + cloud, good},
		{0, "public_key=pk", good},
		{0, "params[cloudId]=" + cloud, `{"username":null,"password":["x"]}`},
		{0, "params[cloudId]=" + cloud, `{"username":"a","password":"b","extra":1}`},
		{1, "params[subdomain]=acme", good},
		{1, "params[subdomain]=evil.com%2F", good},
		{1, "params[subdomain]=acme.evil.com", good},
		{1, "params[subdomain]=-acme", good},
		{2, "params[subdomain]=acme", good},
		{3, "params[cloudId]=" + cloud, `{"apiKey":"k"}`},
		{3, "", `{"apiKey":null}`},
		{4, "params[subdomain]=acme", `{"apiKey":"` + atlassiansim.DemoToken + `"}`},
		{0, "params[cloudId]=" + cloud + ";x=1&%zz", good},
	} {
		f.Add(s.route, s.query, []byte(s.body))
	}
	h := fuzzHarness(f)
	paths := []string{"/api-auth/basic/jira", "/api-auth/basic/site", "/api-auth/basic/wiki", "/api-auth/api-key/jira", "/api-auth/api-key/site"}
	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		path := paths[int(route)%len(paths)]
		token := freshSession(t, h)
		before := len(h.sim.Calls())
		rec := serveInProcess(h, "POST", path, "connect_session_token="+token+"&"+query, "", "application/json", body)
		checkAnswer(t, path+"?"+query, rec)
		for _, c := range h.sim.Calls()[before:] {
			switch {
			case c.Method != "GET":
				t.Fatalf("%s?%s: verification sent %s %s", path, query, c.Method, c.Path)
			case c.Host == "api.atlassian.com" && !gatewayCallRE.MatchString(c.Path):
				t.Fatalf("%s?%s: verification called the gateway at %q", path, query, c.Path)
			case c.Host != "api.atlassian.com" && (!siteHostRE.MatchString(c.Host) || (c.Path != "/rest/api/3/myself" && c.Path != "/wiki/rest/api/user/current")):
				t.Fatalf("%s?%s: verification called %s%s", path, query, c.Host, c.Path)
			}
		}
	})
}
