package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// The authorization matrix: every route the router has registered, taken from
// the router itself (API.Routes), times every kind of credential a caller can
// present. A route without a row here fails the test, and so does a row whose
// access level differs from the router's or whose route is gone.

// cell is one kind of credential a caller can present.
type cell int

const (
	noCredential cell = iota
	malformedHeader
	wrongKey     // well-formed, unknown
	otherEnvKey  // a secret key of another environment
	sessionToken // a live connect session token of the right environment
	rightKey     // the environment's secret key
	numCells
)

func (c cell) String() string {
	return [...]string{"no credential", "malformed header", "wrong key", "other environment's key", "session token", "right key"}[c]
}

// want is an expected answer: a status and, for an error, its code.
type want struct {
	status int
	code   string
}

func (w want) String() string {
	if w.code == "" {
		return fmt.Sprint(w.status)
	}
	return fmt.Sprintf("%d %s", w.status, w.code)
}

// authzFixture holds what the requests refer to: resources of the right
// environment, and the other environment's key.
type authzFixture struct {
	h            *harness
	connectionID string // a connection of the right environment, kept
	doomedID     string // a connection DELETE may remove
	deliveryID   int64  // a pending delivery of the right environment
	keyID        int64  // a secret key of the right environment that may be revoked
	assetPath    string // a Connect UI asset (its name carries a hash)
	consoleAsset string // a console asset
	otherKey     string
	sent         int // requests sent, for their source addresses
}

type authzRequest struct {
	method, path, body string
	header             map[string]string
}

// authzRow is what a route is sent and answers. Cells not given take the
// access level's defaults (authzDefaults).
type authzRow struct {
	access httpapi.Access
	req    func(f *authzFixture) authzRequest
	// public: every cell answers this (Public routes).
	public want
	// other, session, right: the answers of those cells where the access level
	// lets them through.
	other, session, right want
}

func get(path string) func(*authzFixture) authzRequest {
	return func(*authzFixture) authzRequest { return authzRequest{method: "GET", path: path} }
}

var (
	ok200       = want{200, ""}
	created201  = want{201, ""}
	noContent   = want{204, ""}
	noConn      = want{404, "unknown_connection"}
	noConnGet   = want{404, "not_found"} // GET-style lookups answer not_found
	noIntegr    = want{404, "not_found"}
	badBody     = want{400, "invalid_body"}
	notFound    = want{404, "not_found"}
	sessionOnly = want{401, "invalid_connect_session_token_format"}
)

func authzRows() map[string]authzRow {
	var rows map[string]authzRow
	conn := func(suffix string) func(f *authzFixture) string {
		return func(f *authzFixture) string {
			return "/connections/" + f.connectionID + suffix + "?provider_config_key=jira"
		}
	}
	send := func(method string, path func(*authzFixture) string, body string) func(*authzFixture) authzRequest {
		return func(f *authzFixture) authzRequest { return authzRequest{method: method, path: path(f), body: body} }
	}
	fixed := func(p string) func(*authzFixture) string { return func(*authzFixture) string { return p } }
	rows = map[string]authzRow{
		"GET /health": {access: httpapi.Public, req: get("/health"), public: ok200},
		"GET /ready":  {access: httpapi.Public, req: get("/ready"), public: ok200},

		"POST /connect/sessions": {access: httpapi.SecretKey, req: send("POST", fixed("/connect/sessions"), `{"end_user":{"id":"u-authz"}}`),
			other: created201, right: created201},
		"POST /connect/sessions/reconnect": {access: httpapi.SecretKey,
			req: func(f *authzFixture) authzRequest {
				return authzRequest{method: "POST", path: "/connect/sessions/reconnect", body: `{"connection_id":"` + f.connectionID + `","integration_id":"jira"}`}
			},
			other: want{400, "invalid_body"}, right: created201}, // Nango's answer for an unknown connection
		"GET /connect/session":    {access: httpapi.SessionToken, req: get("/connect/session"), session: ok200},
		"DELETE /connect/session": {access: httpapi.SessionToken, req: send("DELETE", fixed("/connect/session"), ""), session: noContent},
		"POST /connect/telemetry": {access: httpapi.Public, req: send("POST", fixed("/connect/telemetry"), `{"type":"view"}`), public: noContent},

		"POST /api-auth/basic/{providerConfigKey}": {access: httpapi.SessionTokenInQuery,
			req:     send("POST", fixed("/api-auth/basic/jira?params[cloudId]="+atlassiansim.DemoCloudID), `{"username":"`+atlassiansim.DemoEmail+`","password":"`+atlassiansim.DemoToken+`"}`),
			session: ok200},
		"POST /api-auth/api-key/{providerConfigKey}": {access: httpapi.SessionTokenInQuery,
			req:     send("POST", fixed("/api-auth/api-key/jira"), `{"apiKey":"k"}`),
			session: want{400, "invalid_auth_mode"}},
		"POST /oauth2/auth/{providerConfigKey}": {access: httpapi.SessionTokenInQuery,
			req:     send("POST", fixed("/oauth2/auth/jira"), `{"client_id":"c","client_secret":"s"}`),
			session: want{400, "invalid_auth_mode"}},
		"GET /oauth/connect/{providerConfigKey}": {access: httpapi.SessionTokenInQuery,
			req:     send("GET", fixed("/oauth/connect/jira"), ""),
			session: want{400, "invalid_auth_mode"}},
		"POST /auth/{flow}/{providerConfigKey}": {access: httpapi.SessionTokenInQuery,
			req:     send("POST", fixed("/auth/two-step/jira"), ""),
			session: want{400, "invalid_auth_mode"}},

		"GET /connections":            {access: httpapi.SecretKey, req: get("/connections"), other: ok200, right: ok200},
		"POST /connections":           {access: httpapi.SecretKey, req: send("POST", fixed("/connections"), `{}`), other: badBody, right: badBody},
		"POST /connections/metadata":  {access: httpapi.SecretKey, req: send("POST", fixed("/connections/metadata"), `{}`), other: badBody, right: badBody},
		"PATCH /connections/metadata": {access: httpapi.SecretKey, req: send("PATCH", fixed("/connections/metadata"), `{}`), other: badBody, right: badBody},
		// The other environment has an integration "jira" too: these find no
		// connection of that id in it.
		"GET /connections/{connectionId...}": {access: httpapi.SecretKey, req: send("GET", conn(""), ""),
			other: noConnGet, right: ok200},
		"GET /connections/{connectionId}/events": {access: httpapi.SecretKey, req: send("GET", conn("/events"), ""),
			other: noConnGet, right: ok200},
		"POST /connections/{connectionId}/verify": {access: httpapi.SecretKey, req: send("POST", conn("/verify"), ""),
			other: noConnGet, right: ok200},
		"PATCH /connections/{connectionId...}": {access: httpapi.SecretKey, req: send("PATCH", conn(""), `{}`),
			other: noConn, right: ok200},
		"DELETE /connections/{connectionId...}": {access: httpapi.SecretKey,
			req: func(f *authzFixture) authzRequest {
				return authzRequest{method: "DELETE", path: "/connections/" + f.doomedID + "?provider_config_key=jira"}
			},
			other: want{400, "unknown_connection"}, right: ok200}, // Nango answers 400 here

		"GET /integrations": {access: httpapi.SecretKeyOrSession, req: get("/integrations"), other: ok200, session: ok200, right: ok200},
		"POST /integrations": {access: httpapi.SecretKey, req: send("POST", fixed("/integrations"), `{}`),
			other: badBody, right: badBody},
		// "only-here" and "doomed" are integrations of the right environment only.
		"GET /integrations/{uniqueKey}":   {access: httpapi.SecretKey, req: get("/integrations/only-here"), other: noIntegr, right: ok200},
		"PATCH /integrations/{uniqueKey}": {access: httpapi.SecretKey, req: send("PATCH", fixed("/integrations/only-here"), `{}`), other: noIntegr, right: ok200},
		"DELETE /integrations/{uniqueKey}": {access: httpapi.SecretKey, req: send("DELETE", fixed("/integrations/doomed"), ""),
			other: noIntegr, right: ok200},

		"GET /providers":            {access: httpapi.SecretKeyOrSession, req: get("/providers"), other: ok200, session: ok200, right: ok200},
		"GET /providers/{provider}": {access: httpapi.SecretKeyOrSession, req: get("/providers/" + atlassian), other: ok200, session: ok200, right: ok200},

		"/proxy/": {access: httpapi.SecretKey,
			req: func(f *authzFixture) authzRequest {
				return authzRequest{method: "GET", path: "/proxy" + jiraPath("/myself"), header: map[string]string{"Provider-Config-Key": "jira", "Connection-Id": f.connectionID}}
			},
			other: noConn, right: ok200},
		"GET /metrics": {access: httpapi.Public, req: get("/metrics"), public: ok200},

		"GET /environment":                      {access: httpapi.SecretKey, req: get("/environment"), other: ok200, right: ok200},
		"PATCH /environment":                    {access: httpapi.SecretKey, req: send("PATCH", fixed("/environment"), `{}`), other: ok200, right: ok200},
		"POST /environment/webhook-signing-key": {access: httpapi.SecretKey, req: send("POST", fixed("/environment/webhook-signing-key"), ""), other: ok200, right: ok200},
		"GET /environment/secret-keys":          {access: httpapi.SecretKey, req: get("/environment/secret-keys"), other: ok200, right: ok200},
		"POST /environment/secret-keys":         {access: httpapi.SecretKey, req: send("POST", fixed("/environment/secret-keys"), `{"label":"matrix"}`), other: created201, right: created201},
		"POST /environment/secret-keys/{id}/revoke": {access: httpapi.SecretKey, req: send("POST", func(f *authzFixture) string { return fmt.Sprint("/environment/secret-keys/", f.keyID, "/revoke") }, ""),
			other: want{404, "unknown_secret_key"}, right: ok200},
		"GET /audit":                           {access: httpapi.SecretKey, req: get("/audit"), other: ok200, right: ok200},
		"GET /webhooks/deliveries":             {access: httpapi.SecretKey, req: get("/webhooks/deliveries"), other: ok200, right: ok200},
		"GET /webhooks/deliveries/{id}":        {access: httpapi.SecretKey, req: send("GET", func(f *authzFixture) string { return fmt.Sprint("/webhooks/deliveries/", f.deliveryID) }, ""), other: notFound, right: ok200},
		"POST /webhooks/deliveries/{id}/retry": {access: httpapi.SecretKey, req: send("POST", func(f *authzFixture) string { return fmt.Sprint("/webhooks/deliveries/", f.deliveryID, "/retry") }, ""), other: notFound, right: want{202, ""}},
		"GET /images/template-logos/{file}":    {access: httpapi.Public, req: get("/images/template-logos/" + atlassian + ".svg"), public: ok200},
		"GET /openapi.yaml":                    {access: httpapi.Public, req: get("/openapi.yaml"), public: ok200},
		"GET /openapi.json":                    {access: httpapi.Public, req: get("/openapi.json"), public: ok200},
		"GET /docs/api":                        {access: httpapi.Public, req: get("/docs/api"), public: ok200},
		"GET /{$}":                             {access: httpapi.Public, req: get("/"), public: ok200},
		// The unescaped-slash form of verify: a connection id holding a / (none here).
		"POST /connections/{connectionId...}": {access: httpapi.SecretKey,
			req:   send("POST", func(*authzFixture) string { return "/connections/team/nobody/verify?provider_config_key=jira" }, ""),
			other: noConnGet, right: noConnGet},
		"/":                            {access: httpapi.Public, req: get("/no-such-route"), public: notFound},
		"GET /connect":                 {access: httpapi.Public, req: get("/connect"), public: ok200},
		"GET /connect/{$}":             {access: httpapi.Public, req: get("/connect/"), public: ok200},
		"GET /connect/assets/{file}":   {access: httpapi.Public, req: func(f *authzFixture) authzRequest { return authzRequest{method: "GET", path: f.assetPath} }, public: ok200},
		"GET /docs/connect/{provider}": {access: httpapi.Public, req: get("/docs/connect/" + atlassian), public: ok200},
	}
	// The operator's console takes no API credential: without a console
	// session every page and every action sends the browser to sign in,
	// whatever Authorization header comes with it.
	toSignIn := want{303, ""}
	for _, pattern := range []string{"GET /admin", "GET /admin/{$}", "/admin/", "GET /admin/connections", "GET /admin/connection", "GET /admin/connection/delete",
		"GET /admin/integrations", "GET /admin/integration", "GET /admin/connect-links", "GET /admin/webhooks", "GET /admin/webhooks/{id}",
		"GET /admin/environment", "GET /admin/environment/keys/revoke", "GET /admin/environment/signing-key", "GET /admin/audit"} {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "GET", "/admin/nowhere"
		}
		path = strings.NewReplacer("{$}", "", "{id}", "1").Replace(path)
		rows[pattern] = authzRow{access: httpapi.Public, req: send(method, fixed(path), ""), public: toSignIn}
	}
	for _, pattern := range []string{"POST /admin/sign-out", "POST /admin/connection/check", "POST /admin/connection/reconnect-link", "POST /admin/connection/delete",
		"POST /admin/integrations", "POST /admin/integration", "POST /admin/connect-links", "POST /admin/webhooks/{id}/retry", "POST /admin/environment/keys",
		"POST /admin/environment/keys/revoke", "POST /admin/environment/signing-key"} {
		_, path, _ := strings.Cut(pattern, " ")
		rows[pattern] = authzRow{access: httpapi.Public, req: send("POST", fixed(strings.ReplaceAll(path, "{id}", "1")), ""), public: toSignIn}
	}
	rows["GET /admin/sign-in"] = authzRow{access: httpapi.Public, req: get("/admin/sign-in"), public: ok200}
	rows["POST /admin/sign-in"] = authzRow{access: httpapi.Public, req: send("POST", fixed("/admin/sign-in"), ""), public: want{403, ""}}
	rows["GET /admin/assets/{file}"] = authzRow{access: httpapi.Public, req: func(f *authzFixture) authzRequest { return authzRequest{method: "GET", path: f.consoleAsset} }, public: ok200}
	return rows
}

// authzDefaults is what a cell answers when the access level refuses it.
func authzDefaults(access httpapi.Access, c cell) (want, bool) {
	switch access {
	case httpapi.SecretKey:
		switch c {
		case noCredential:
			return want{401, "missing_auth_header"}, true
		case malformedHeader:
			return want{401, "malformed_auth_header"}, true
		case wrongKey, sessionToken:
			return want{401, "unknown_account"}, true
		}
	case httpapi.SecretKeyOrSession:
		switch c {
		case noCredential:
			return want{401, "missing_auth_header"}, true
		case malformedHeader:
			return want{401, "malformed_auth_header"}, true
		case wrongKey:
			return want{401, "unknown_account"}, true
		}
	case httpapi.SessionToken:
		switch c {
		case noCredential:
			return want{401, "missing_auth_header"}, true
		case malformedHeader:
			return want{401, "malformed_auth_header"}, true
		case wrongKey, otherEnvKey, rightKey:
			return sessionOnly, true
		}
	case httpapi.SessionTokenInQuery:
		// The token travels in connect_session_token; the Authorization header,
		// which carries the right secret key in every cell, counts for nothing.
		switch c {
		case noCredential:
			return want{401, "missing_connect_session_token"}, true
		case malformedHeader, wrongKey, otherEnvKey, rightKey:
			return want{401, "invalid_connect_session_token_format"}, true
		}
	}
	return want{}, false
}

func TestAuthorizationMatrix(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL+"/hooks")
	f := &authzFixture{h: h}
	h.integration("jira", atlassian)
	h.integration("doomed", atlassian)
	h.integration("only-here", atlassian)
	f.connectionID = h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	f.doomedID = h.connect(h.session(client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "doomed"}}), "jira")
	rcv.answer(500, false) // the creation webhooks stay pending: one can be retried
	if h.dispatch() == 0 {
		t.Fatal("no webhook delivery to refer to")
	}
	_, body, _ := h.raw("GET", "/webhooks/deliveries?limit=1", testSecretKey, "", "")
	var deliveries struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &deliveries); err != nil || len(deliveries.Data) == 0 {
		t.Fatalf("deliveries: %s", body)
	}
	f.deliveryID = deliveries.Data[0].ID
	_, body, _ = h.raw("POST", "/environment/secret-keys", testSecretKey, "application/json", `{"label":"doomed"}`)
	var key struct {
		Data struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &key); err != nil || key.Data.ID == 0 {
		t.Fatalf("secret key: %s", body)
	}
	f.keyID = key.Data.ID
	_, page, _ := h.raw("GET", "/connect", "", "", "")
	f.assetPath = regexp.MustCompile(`/connect/assets/[A-Za-z0-9._-]+\.css`).FindString(page)
	_, signIn, _ := h.raw("GET", "/admin/sign-in", "", "", "")
	f.consoleAsset = regexp.MustCompile(`/admin/assets/[A-Za-z0-9._-]+\.css`).FindString(signIn)
	if f.assetPath == "" {
		t.Fatalf("no stylesheet in the Connect UI page: %s", trim(page))
	}
	// The other environment, made the way latchkey makes dev: through the
	// store, with a signing key; it has an integration of the same name.
	ctx := context.Background()
	f.otherKey, _ = secret.RandomToken("sk_other_")
	other, _, err := h.app.Store().EnsureEnvironment(ctx, "other", secret.HashToken(f.otherKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.app.EnvironmentSettings().EnsureSigningKey(ctx, other, ""); err != nil {
		t.Fatal(err)
	}
	otherClient := client.New(h.srv.URL, f.otherKey)
	if _, err := otherClient.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "jira"}); err != nil {
		t.Fatal(err)
	}
	// What the other environment must never see of the right one.
	var settings struct {
		Data struct {
			SigningKey string `json:"webhook_signing_key"`
		} `json:"data"`
	}
	_, body, _ = h.raw("GET", "/environment", testSecretKey, "", "")
	if err := json.Unmarshal([]byte(body), &settings); err != nil || settings.Data.SigningKey == "" {
		t.Fatalf("environment: %s", body)
	}
	mustNotSee := []string{f.connectionID, f.doomedID, rcv.URL, settings.Data.SigningKey, `"doomed"`, `"only-here"`}

	api, ok := h.app.Handler().(*httpapi.API)
	if !ok {
		t.Fatalf("the app's handler is a %T, not the API", h.app.Handler())
	}
	rows := authzRows()
	registered := map[string]bool{}
	var matrix []string
	for _, r := range api.Routes() {
		registered[r.Pattern] = true
		row, ok := rows[r.Pattern]
		if !ok {
			t.Errorf("route %q (%s) has no row in the authorization matrix: add one", r.Pattern, r.Access)
			continue
		}
		if row.access != r.Access {
			t.Errorf("route %q takes %s, the matrix says %s", r.Pattern, r.Access, row.access)
			continue
		}
		line := fmt.Sprintf("%-45s %-28s", r.Pattern, r.Access)
		for c := range numCells {
			exp := expected(row, c)
			// A fresh session per request: DELETE /connect/session ends its own.
			token := h.session(client.ConnectSessionRequest{})
			req := row.req(f)
			got, body, hdr := f.send(req, r.Access, c, token)
			if got != exp {
				t.Errorf("%s with %s: %s, want %s (%s)", r.Pattern, c, got, exp, trim(body))
			}
			if got.status >= 500 {
				t.Errorf("%s with %s: a server error", r.Pattern, c)
			}
			if got.status == 401 && hdr.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("%s with %s: 401 without a JSON body", r.Pattern, c)
			}
			if c == otherEnvKey && r.Access != httpapi.Public { // public routes show the same to anyone
				asked := fmt.Sprint(req) // an answer may repeat what the caller sent
				for _, s := range mustNotSee {
					if strings.Contains(body, s) && !strings.Contains(asked, strings.Trim(s, `"`)) {
						t.Errorf("%s with the other environment's key shows %q of the right environment: %s", r.Pattern, s, trim(body))
					}
				}
			}
			line += fmt.Sprintf(" | %-40s", got)
		}
		matrix = append(matrix, line)
	}
	var stale []string
	for p := range rows {
		if !registered[p] {
			stale = append(stale, p)
		}
	}
	sort.Strings(stale)
	for _, p := range stale {
		t.Errorf("the matrix has a row for %q, which the router does not register", p)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("route x {%s, %s, %s, %s, %s, %s}:\n%s", noCredential, malformedHeader, wrongKey, otherEnvKey, sessionToken, rightKey, strings.Join(matrix, "\n"))
	}
}

func expected(row authzRow, c cell) want {
	if row.access == httpapi.Public {
		return row.public
	}
	if w, ok := authzDefaults(row.access, c); ok {
		return w
	}
	switch c {
	case otherEnvKey:
		return row.other
	case sessionToken:
		return row.session
	}
	return row.right
}

// send makes one request with the credential of cell c, placed where the
// route's access level reads it.
func (f *authzFixture) send(req authzRequest, access httpapi.Access, c cell, session string) (want, string, http.Header) {
	f.h.t.Helper()
	cred := map[cell]string{
		malformedHeader: "Token abc def",
		wrongKey:        "sk_test_ffffffffffffffffffffffffffffffff",
		otherEnvKey:     f.otherKey,
		sessionToken:    session,
		rightKey:        testSecretKey,
	}[c]
	path, header := req.path, http.Header{}
	if access == httpapi.SessionTokenInQuery {
		header.Set("Authorization", "Bearer "+testSecretKey)
		if c != noCredential {
			if c == malformedHeader {
				cred = "abc def"
			}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "connect_session_token=" + strings.ReplaceAll(cred, " ", "+")
		}
	} else if c == malformedHeader {
		header.Set("Authorization", cred)
	} else if c != noCredential {
		header.Set("Authorization", "Bearer "+cred)
	}
	r, err := http.NewRequest(req.method, f.h.srv.URL+path, strings.NewReader(req.body))
	if err != nil {
		f.h.t.Fatal(err)
	}
	r.Header = header
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	// Each request comes from a loopback address of its own: the matrix sends
	// hundreds of failing credentials, which from one address would be
	// throttled (429 too_many_failed_authentications; TestGuessingIsSlow).
	f.sent++
	local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(f.sent/250), byte(1+f.sent%250))}
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}
	defer tr.CloseIdleConnections()
	// Redirects are answers too (the console's pages send a browser to sign in).
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := (&http.Client{Transport: tr, CheckRedirect: noFollow}).Do(r)
	if err != nil {
		f.h.t.Fatalf("%s %s: %v", req.method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	got := want{status: res.StatusCode}
	if res.StatusCode >= 400 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil {
			got.code = e.Error.Code
		}
	}
	return got, string(b), res.Header
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
