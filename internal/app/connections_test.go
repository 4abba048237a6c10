package app_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

func (h *harness) connect(token, integration string) string {
	h.t.Helper()
	res, err := h.c.SubmitBasic(h.ctx(), token, integration, map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return res.ConnectionID
}

func TestConnectSessions(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.integration("wiki", "confluence-basic")

	s, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{
		EndUser:                    &client.EndUser{ID: "u-42", Email: "grace@example.com", DisplayName: "Grace", Tags: map[string]string{"Plan": "pro"}},
		Organization:               &client.Organization{ID: "org-7", DisplayName: "Navy"},
		AllowedIntegrations:        []string{"jira"},
		IntegrationsConfigDefaults: map[string]client.IntegrationDefaults{"jira": {ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}}},
		Tags:                       map[string]string{"team": "blue"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Token, "nango_connect_session_") || len(s.Token) != len("nango_connect_session_")+64 {
		t.Errorf("token shape: %q", s.Token)
	}
	if s.ConnectLink != h.env["LATCHKEY_PUBLIC_URL"]+"http://127.0.0.1:3003/connect?session_token="+s.Token && !strings.HasSuffix(s.ConnectLink, "/connect?session_token="+s.Token) {
		t.Errorf("connect_link = %q", s.ConnectLink)
	}
	exp, _ := time.Parse(time.RFC3339, s.ExpiresAt)
	if d := exp.Sub(h.now()); d < 29*time.Minute || d > 30*time.Minute+time.Second {
		t.Errorf("expires in %v, want 30m", d)
	}
	info, err := h.c.GetConnectSession(h.ctx(), s.Token)
	if err != nil {
		t.Fatal(err)
	}
	if info.EndUser.ID != "u-42" || info.EndUser.Organization.ID != "org-7" || len(info.AllowedIntegrations) != 1 || info.IsReconnecting {
		t.Errorf("session info = %+v", info)
	}
	// The session sees only its allowed integrations.
	status, body, _ := h.raw("GET", "/integrations", s.Token, "", "")
	if status != 200 || !strings.Contains(body, `"unique_key":"jira"`) || strings.Contains(body, `"wiki"`) {
		t.Errorf("integrations for session: %d %s", status, body)
	}
	// Not allowed integration.
	_, err = h.c.SubmitBasic(h.ctx(), s.Token, "wiki", map[string]string{"subdomain": "acme"}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if e := apiErr(t, err); e.Code != "integration_not_allowed" {
		t.Errorf("not allowed: %+v", e)
	}
	// Session defaults fill the config; tags are inherited, keys lowercased.
	res, err := h.c.SubmitBasic(h.ctx(), s.Token, "jira", nil, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := h.c.GetConnection(h.ctx(), "jira", res.ConnectionID)
	wantTags := map[string]string{"end_user_id": "u-42", "end_user_email": "grace@example.com", "end_user_display_name": "Grace",
		"organization_id": "org-7", "organization_display_name": "Navy", "plan": "pro", "team": "blue"}
	if fmt.Sprint(conn.Tags) != fmt.Sprint(wantTags) {
		t.Errorf("tags = %v, want %v", conn.Tags, wantTags)
	}
	// The token is reusable within its life; then expires.
	if _, err := h.c.GetConnectSession(h.ctx(), s.Token); err != nil {
		t.Errorf("session after use: %v", err)
	}
	h.advance(31 * time.Minute)
	_, err = h.c.GetConnectSession(h.ctx(), s.Token)
	if e := apiErr(t, err); e.Status != 401 || e.Code != "unknown_connect_session_token" {
		t.Errorf("expired: %+v", e)
	}
	_, err = h.c.SubmitBasic(h.ctx(), s.Token, "jira", nil, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if e := apiErr(t, err); e.Code != "unknown_connect_session_token" {
		t.Errorf("submit on expired session: %+v", e)
	}
	// DELETE ends a session.
	s2 := h.session(client.ConnectSessionRequest{})
	if err := h.c.DeleteConnectSession(h.ctx(), s2); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.GetConnectSession(h.ctx(), s2); apiErr(t, err).Code != "unknown_connect_session_token" {
		t.Error("deleted session still works")
	}
	// Only hashes are stored.
	if dump := h.dumpDB(); strings.Contains(dump, s.Token) || strings.Contains(dump, atlassiansim.DemoToken) || strings.Contains(dump, testSecretKey) {
		t.Error("a token or secret is stored in clear")
	}
}

func TestReconnectReplacesCredentialsInPlace(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	if err := h.c.SetMetadata(h.ctx(), "jira", map[string]any{"project": "OPS"}, id); err != nil {
		t.Fatal(err)
	}
	before, _ := h.c.GetConnection(h.ctx(), "jira", id)

	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := h.c.GetConnectSession(h.ctx(), rs.Token)
	if !info.IsReconnecting {
		t.Error("isReconnecting not set")
	}
	res, err := h.c.SubmitBasic(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, "jira-bot@serviceaccount.atlassian.com", jiraOnlyToken)
	if err != nil {
		t.Fatal(err)
	}
	if res.ConnectionID != id {
		t.Fatalf("reconnect made a new connection %s, want %s", res.ConnectionID, id)
	}
	after, _ := h.c.GetConnection(h.ctx(), "jira", id)
	if after.ID != before.ID || after.CreatedAt != before.CreatedAt || after.Metadata["project"] != "OPS" || after.EndUser == nil || after.EndUser.ID != "user-1" {
		t.Errorf("reconnect lost identity or metadata: before %+v after %+v", before, after)
	}
	if after.Credentials.Password != jiraOnlyToken || after.ConnectionConfig["accountId"] != "acc-jira" {
		t.Errorf("credentials not replaced: %+v %v", after.Credentials, after.ConnectionConfig)
	}
	if list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(list) != 1 {
		t.Errorf("%d connections, want 1", len(list))
	}
	// A failed reconnect keeps the old credentials.
	_, err = h.c.SubmitBasic(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, "jira-bot@serviceaccount.atlassian.com", revokedToken)
	if apiErr(t, err).Code != "invalid_credentials" {
		t.Error("revoked token accepted")
	}
	if again, _ := h.c.GetConnection(h.ctx(), "jira", id); again.Credentials.Password != jiraOnlyToken {
		t.Error("failed reconnect changed the credentials")
	}
	// Once the connection is gone, the reconnect session says so.
	if err := h.c.DeleteConnection(h.ctx(), "jira", id); err != nil {
		t.Fatal(err)
	}
	_, err = h.c.SubmitBasic(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if apiErr(t, err).Code != "invalid_connection" {
		t.Errorf("reconnect of deleted connection: %v", err)
	}
}

func TestConnectionsAPI(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.integration("jira2", atlassian)
	var ids []string
	for i := 0; i < 5; i++ {
		tok := h.session(client.ConnectSessionRequest{
			EndUser:      &client.EndUser{ID: fmt.Sprintf("user-%d", i%2), Email: fmt.Sprintf("p%d@example.com", i), DisplayName: fmt.Sprintf("Person %d", i)},
			Organization: &client.Organization{ID: fmt.Sprintf("org-%d", i%3)},
			Tags:         map[string]string{"tier": []string{"gold", "silver"}[i%2]},
		})
		integ := "jira"
		if i == 4 {
			integ = "jira2"
		}
		ids = append(ids, h.connect(tok, integ))
		h.advance(time.Second)
	}
	names := func(list []client.ConnectionSummary) string {
		var out []string
		for _, c := range list {
			for i, id := range ids {
				if id == c.ConnectionID {
					out = append(out, fmt.Sprint(i))
				}
			}
		}
		return strings.Join(out, ",")
	}
	list := func(o client.ListConnectionsOptions) string {
		l, err := h.c.ListConnections(h.ctx(), o)
		if err != nil {
			t.Fatal(err)
		}
		return names(l)
	}
	checks := []struct {
		name string
		o    client.ListConnectionsOptions
		want string
	}{
		{"all, newest first", client.ListConnectionsOptions{}, "4,3,2,1,0"},
		{"by end user", client.ListConnectionsOptions{EndUserID: "user-1"}, "3,1"},
		{"by organization", client.ListConnectionsOptions{EndUserOrganizationID: "org-0"}, "3,0"},
		{"by integration", client.ListConnectionsOptions{IntegrationIDs: []string{"jira2"}}, "4"},
		{"by integrations", client.ListConnectionsOptions{IntegrationIDs: []string{"jira", "jira2"}, Limit: 2}, "4,3"},
		{"by tags", client.ListConnectionsOptions{Tags: map[string]string{"tier": "gold", "end_user_id": "user-0"}}, "4,2,0"},
		{"by connection id", client.ListConnectionsOptions{ConnectionID: ids[2]}, "2"},
		{"search email", client.ListConnectionsOptions{Search: "P3@EXAMPLE"}, "3"},
		{"search name", client.ListConnectionsOptions{Search: "person 1"}, "1"},
		{"search id prefix", client.ListConnectionsOptions{Search: ids[0][:13]}, "0"},
		{"search with like chars", client.ListConnectionsOptions{Search: "%"}, ""},
		{"page 0", client.ListConnectionsOptions{Limit: 2}, "4,3"},
		{"page 1", client.ListConnectionsOptions{Limit: 2, Page: 1}, "2,1"},
		{"page 2", client.ListConnectionsOptions{Limit: 2, Page: 2}, "0"},
		{"by status", client.ListConnectionsOptions{Status: "ok"}, "4,3,2,1,0"},
	}
	for _, c := range checks {
		if got := list(c.o); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// The listing never carries credentials.
	status, body, _ := h.raw("GET", "/connections", testSecretKey, "", "")
	if status != 200 || strings.Contains(body, atlassiansim.DemoToken) || strings.Contains(body, `"password"`) || strings.Contains(body, `"credentials":`) {
		t.Errorf("listing leaks credentials: %s", body)
	}

	// PATCH end user, tags, webhook override.
	tags := map[string]string{"stage": "prod"}
	hook := "https://hooks.example.com/latchkey"
	if err := h.c.PatchConnection(h.ctx(), "jira", ids[0], client.PatchConnectionRequest{EndUser: &client.EndUser{ID: "new-owner", Email: "o@example.com"}, Tags: &tags, WebhookURLOverride: &hook}); err != nil {
		t.Fatal(err)
	}
	c0, _ := h.c.GetConnection(h.ctx(), "jira", ids[0])
	if c0.EndUser.ID != "new-owner" || fmt.Sprint(c0.Tags) != "map[stage:prod]" || c0.WebhookURLOverride == nil || *c0.WebhookURLOverride != hook {
		t.Errorf("after patch: %+v", c0)
	}
	if got := list(client.ListConnectionsOptions{Tags: map[string]string{"stage": "prod"}}); got != "0" {
		t.Errorf("tag filter after patch: %q", got)
	}
	clear := ""
	if err := h.c.PatchConnection(h.ctx(), "jira", ids[0], client.PatchConnectionRequest{WebhookURLOverride: &clear}); err != nil {
		t.Fatal(err)
	}
	if c0, _ = h.c.GetConnection(h.ctx(), "jira", ids[0]); c0.WebhookURLOverride != nil {
		t.Error("webhook override not cleared")
	}

	// Metadata: POST replaces, PATCH merges, all or nothing.
	if err := h.c.SetMetadata(h.ctx(), "jira", map[string]any{"a": 1.0, "b": "x"}, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := h.c.UpdateMetadata(h.ctx(), "jira", map[string]any{"b": "y", "c": true}, ids[0]); err != nil {
		t.Fatal(err)
	}
	c0, _ = h.c.GetConnection(h.ctx(), "jira", ids[0])
	c1, _ := h.c.GetConnection(h.ctx(), "jira", ids[1])
	if fmt.Sprint(c0.Metadata) != "map[a:1 b:y c:true]" || fmt.Sprint(c1.Metadata) != "map[a:1 b:x]" {
		t.Errorf("metadata: %v / %v", c0.Metadata, c1.Metadata)
	}
	err := h.c.SetMetadata(h.ctx(), "jira", map[string]any{"z": 1.0}, ids[0], "ghost")
	if e := apiErr(t, err); e.Status != 404 || e.Code != "unknown_connection" || !strings.Contains(e.Message, "ghost") {
		t.Errorf("partial metadata: %+v", e)
	}
	if c0, _ = h.c.GetConnection(h.ctx(), "jira", ids[0]); c0.Metadata["z"] != nil {
		t.Error("metadata changed although one id was unknown")
	}
	status, body, _ = h.raw("POST", "/connections/metadata", testSecretKey, "application/json", `{"connection_id":"`+ids[2]+`","provider_config_key":"jira","metadata":{"k":"v"}}`)
	if status != http.StatusCreated || !strings.Contains(body, `"metadata":{"k":"v"}`) {
		t.Errorf("metadata echo: %d %s", status, body)
	}

	// DELETE, then it is gone; a second delete says unknown_connection.
	if err := h.c.DeleteConnection(h.ctx(), "jira", ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.GetConnection(h.ctx(), "jira", ids[1]); apiErr(t, err).Status != 404 {
		t.Error("deleted connection still readable")
	}
	if err := h.c.DeleteConnection(h.ctx(), "jira", ids[1]); apiErr(t, err).Code != "unknown_connection" {
		t.Errorf("second delete: %v", err)
	}
	// Wrong integration for an existing id is not found.
	if _, err := h.c.GetConnection(h.ctx(), "jira2", ids[0]); apiErr(t, err).Status != 404 {
		t.Error("connection found under another integration")
	}
}

func TestImportConnection(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	conn, err := h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{
		ProviderConfigKey: "jira", ConnectionID: "tenant-17",
		Credentials:      client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken},
		ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID, "region": "eu"},
		Metadata:         map[string]any{"plan": "pro"}, Tags: map[string]string{"src": "import"},
		EndUser: &client.EndUser{ID: "u9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if conn.ConnectionID != "tenant-17" || conn.Credentials.Password != atlassiansim.DemoToken || conn.ConnectionConfig["region"] != "eu" ||
		conn.ConnectionConfig["accountId"] != "712020:demo-bot" || conn.Metadata["plan"] != "pro" || conn.Tags["src"] != "import" || conn.EndUser.ID != "u9" {
		t.Errorf("imported = %+v", conn)
	}
	status, _, _ := h.raw("POST", "/connections", testSecretKey, "application/json",
		`{"provider_config_key":"jira","connection_id":"t2","credentials":{"type":"BASIC","username":"`+atlassiansim.DemoEmail+`","password":"`+atlassiansim.DemoToken+`"},"connection_config":{"cloudId":"`+atlassiansim.DemoCloudID+`"}}`)
	if status != http.StatusCreated {
		t.Errorf("import status = %d, want 201", status)
	}
	// Imports are verified too.
	_, err = h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "bad",
		Credentials: client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: strings.Replace(atlassiansim.DemoToken, "demo", "nope", 1)}, ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}})
	if apiErr(t, err).Code != "invalid_credentials" {
		t.Errorf("bad import: %v", err)
	}
	_, err = h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "bad",
		Credentials: client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken}})
	if e := apiErr(t, err); e.Code != "invalid_fields" || len(e.Errors) != 1 || strings.Join(e.Errors[0].Path, ".") != "connection_config.cloudId" {
		t.Errorf("import without cloudId: %+v", e)
	}
}

func TestIntegrationsAndProviders(t *testing.T) {
	h := newHarness(t)
	in, err := h.c.CreateIntegration(h.ctx(), client.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "atl"})
	if err != nil {
		t.Fatal(err)
	}
	if in.DisplayName != "Atlassian Service Account (API Token)" || !in.ForwardWebhooks || !strings.HasSuffix(in.Logo, "/images/template-logos/"+atlassian+".svg") {
		t.Errorf("integration = %+v", in)
	}
	name, key := "Our Jira", "atl-2"
	up, err := h.c.UpdateIntegration(h.ctx(), "atl", client.UpdateIntegrationRequest{DisplayName: &name, UniqueKey: &key})
	if err != nil || up.DisplayName != name || up.UniqueKey != key {
		t.Fatalf("update = %+v, %v", up, err)
	}
	got, err := h.c.GetIntegration(h.ctx(), key)
	if err != nil || got.DisplayName != name {
		t.Fatalf("get = %+v, %v", got, err)
	}
	// A connection survives the rename (credentials are bound to internal ids).
	id := h.connect(h.session(client.ConnectSessionRequest{}), key)
	newKey := "atl-3"
	if _, err := h.c.UpdateIntegration(h.ctx(), key, client.UpdateIntegrationRequest{UniqueKey: &newKey}); err != nil {
		t.Fatal(err)
	}
	if c, err := h.c.GetConnection(h.ctx(), newKey, id); err != nil || c.Credentials.Password != atlassiansim.DemoToken {
		t.Fatalf("connection after rename: %v", err)
	}
	if err := h.c.DeleteIntegration(h.ctx(), newKey); err != nil {
		t.Fatal(err)
	}
	if list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(list) != 0 {
		t.Error("deleting an integration left its connections")
	}

	provs, err := h.c.ListProviders(h.ctx(), "")
	if err != nil {
		t.Fatal(err)
	}
	var pnames []string
	for _, p := range provs {
		pnames = append(pnames, p["name"].(string))
	}
	sort.Strings(pnames)
	if strings.Join(pnames, ",") != "atlassian-service-account-api-token,atlassian-service-account-oauth2,confluence-basic,jira-basic" {
		t.Errorf("providers = %v", pnames)
	}
	if provs, _ := h.c.ListProviders(h.ctx(), "^jira"); len(provs) != 1 {
		t.Errorf("search ^jira = %d providers", len(provs))
	}
	p, err := h.c.GetProvider(h.ctx(), atlassian)
	if err != nil {
		t.Fatal(err)
	}
	cc := p["connection_config"].(map[string]any)["cloudId"].(map[string]any)
	creds := p["credentials"].(map[string]any)["password"].(map[string]any)
	if p["auth_mode"] != "BASIC" || cc["format"] != "uuid" || creds["pattern"] != `^[A-Za-z0-9_-]{40,}=[A-Fa-f0-9]{8}$` || creds["secret"] != true ||
		p["docs_connect"] != h.srv.URL[:0]+"http://127.0.0.1:3003/docs/connect/atlassian-service-account-api-token" {
		t.Errorf("provider = %v", p)
	}
}

// Fifty end users submitting at once, and fifty submissions to one connection,
// leave consistent rows.
func TestConcurrentSubmissions(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	ids := make(chan string, 50)
	for i := 0; i < 50; i++ {
		tok := h.session(client.ConnectSessionRequest{EndUser: &client.EndUser{ID: fmt.Sprintf("u%d", i)}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.c.SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
			if err != nil {
				errs <- err
				return
			}
			ids <- res.ConnectionID
		}()
	}
	wg.Wait()
	close(ids)
	if len(errs) > 0 {
		t.Fatalf("concurrent submissions failed: %v", <-errs)
	}
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(seen) != 50 || len(list) != 50 {
		t.Fatalf("distinct: %d ids, %d rows; want 50", len(seen), len(list))
	}

	// One connection, fifty reconnects at once (one session each): one row, readable credentials.
	id := list[0].ConnectionID
	for i := 0; i < 50; i++ {
		rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.c.SubmitBasic(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
			if err != nil {
				errs <- err
			} else if res.ConnectionID != id {
				errs <- fmt.Errorf("reconnect returned %s", res.ConnectionID)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, _ = h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(list) != 50 {
		t.Errorf("%d rows after reconnects, want 50", len(list))
	}
	c, err := h.c.GetConnection(h.ctx(), "jira", id)
	if err != nil || c.Credentials.Password != atlassiansim.DemoToken {
		t.Errorf("connection after concurrent reconnects: %v", err)
	}
	events := h.countEvents("auth.override", "success")
	if events != 50 {
		t.Errorf("%d override events, want 50", events)
	}
}
