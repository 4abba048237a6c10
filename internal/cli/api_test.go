package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

const cliSecretKey = "sk_cli_test_0123456789abcdef0123456789abcdef"

// apiServer is a real latchkey serve (SQLite in a temp dir) whose Atlassian
// is the simulator, and a CLI environment pointed at it.
type apiServer struct {
	sim *atlassiansim.Sim
	url string
	c   *client.Client
	env map[string]string // the CLI's environment: the secret key, no URL
	run func(args ...string) (int, string, string)
}

func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	sim := atlassiansim.New()
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	s := startServe(t, map[string]string{"LATCHKEY_DATA_DIR": t.TempDir(), "LATCHKEY_SECRET_KEY": cliSecretKey,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + simSrv.URL})
	t.Cleanup(func() { s.stop() })
	a := &apiServer{sim: sim, url: "http://" + s.addr, env: map[string]string{"LATCHKEY_SECRET_KEY": cliSecretKey}}
	a.c = client.New(a.url, cliSecretKey)
	a.run = func(args ...string) (int, string, string) { return cliRun(a.env)(append(args, "--url", a.url)...) }
	return a
}

// link submits the simulator's service account through the session in a
// connect link, as the Connect UI does for the end user.
func (a *apiServer) link(t *testing.T, connectLink, integration string) string {
	t.Helper()
	u, err := url.Parse(connectLink)
	// (its host is LATCHKEY_PUBLIC_URL's, here the default from LATCHKEY_ADDR 127.0.0.1:0)
	if err != nil || u.Path != "/connect" || u.Query().Get("session_token") == "" {
		t.Fatalf("connect link %q", connectLink)
	}
	res, err := a.c.SubmitBasic(context.Background(), u.Query().Get("session_token"), integration,
		map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		t.Fatalf("submit through the link: %v", err)
	}
	return res.ConnectionID
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// The whole support workflow from the command line: an integration, a connect
// link for a customer, their connection listed and shown, a check that finds
// the token revoked, a reconnect link, and deletion.
func TestAPICommandsAgainstARealServer(t *testing.T) {
	a := startAPIServer(t)
	if code, out, errs := a.run("integrations", "list"); code != 0 || !strings.Contains(out, "No integrations") {
		t.Fatalf("integrations list: %d %q %q", code, out, errs)
	}
	code, out, errs := a.run("integrations", "create", "jira", "--provider", "atlassian-service-account-api-token", "--display-name", "Jira")
	if code != 0 || !strings.Contains(out, "Created integration jira") {
		t.Fatalf("integrations create: %d %q %q", code, out, errs)
	}
	if code, _, errs := a.run("integrations", "create", "jira", "--provider", "atlassian-service-account-api-token"); code != exitAPIError || !strings.Contains(errs, "invalid_body (HTTP 400)") {
		t.Errorf("a second jira: %d %q", code, errs)
	}
	_, out, _ = a.run("integrations", "list", "--json")
	if list := decodeJSON[[]client.Integration](t, out); len(list) != 1 || list[0].UniqueKey != "jira" || list[0].DisplayName != "Jira" {
		t.Errorf("integrations list --json: %s", out)
	}
	if _, out, _ := a.run("integrations", "list"); !strings.Contains(out, "KEY") || !strings.Contains(out, "atlassian-service-account-api-token") {
		t.Errorf("integrations list: %q", out)
	}

	code, out, errs = a.run("sessions", "create", "--end-user", "cust-42", "--email", "ada@example.com", "--display-name", "Ada", "--integration", "jira", "--tag", "plan=pro")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "expires ") {
		t.Fatalf("sessions create: %d %q %q", code, out, errs)
	}
	id := a.link(t, lines[0], "jira")

	code, out, _ = a.run("connections", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "cust-42 <ada@example.com> Ada") || !strings.Contains(out, " ok ") {
		t.Errorf("connections list: %d %q", code, out)
	}
	_, out, _ = a.run("connections", "list", "--json", "--end-user", "cust-42", "--status", "ok", "--tag", "plan=pro")
	if l := decodeJSON[[]client.ConnectionSummary](t, out); len(l) != 1 || l[0].ConnectionID != id || l[0].Status != "ok" {
		t.Errorf("connections list --json with filters: %s", out)
	}
	if _, out, _ := a.run("connections", "list", "--end-user", "someone-else"); !strings.Contains(out, "No connections") {
		t.Errorf("another end user's list: %q", out)
	}

	// show: status, account details, events; credentials only when asked.
	code, out, errs = a.run("connections", "show", id)
	for _, want := range []string{"status         ok", "integration    jira (atlassian-service-account-api-token)", "accountId=712020:demo-bot",
		"last verified", "auth.creation", "success"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("connections show lacks %q: %d %q %q", want, code, out, errs)
		}
	}
	if strings.Contains(out, atlassiansim.DemoToken) {
		t.Error("connections show printed the API token without --credentials")
	}
	if _, out, _ := a.run("connections", "show", id, "--json"); strings.Contains(out, atlassiansim.DemoToken) {
		t.Error("connections show --json printed the API token without --credentials")
	} else if v := decodeJSON[struct {
		Connection client.Connection
		Events     []client.Event
	}](t, out); v.Connection.ConnectionID != id || v.Connection.Credentials.Type != "BASIC" || len(v.Events) == 0 {
		t.Errorf("connections show --json: %s", out)
	}
	if _, out, _ := a.run("connections", "show", "--credentials", "--integration", "jira", id); !strings.Contains(out, atlassiansim.DemoToken) {
		t.Errorf("connections show --credentials: %q", out)
	}

	// check: ok, then the token is revoked at Atlassian: exit 4.
	if code, out, errs := a.run("connections", "check", id); code != 0 || !strings.Contains(out, "jira/"+id+": ok\n") {
		t.Errorf("check: %d %q %q", code, out, errs)
	}
	a.sim.Revoke(atlassiansim.DemoToken)
	code, out, _ = a.run("connections", "check", id)
	if code != exitCheckFailed || !strings.Contains(out, "invalid_credentials (was ok)") {
		t.Errorf("check after revocation: %d %q", code, out)
	}
	_, out, _ = a.run("connections", "check", id, "--json")
	if r := decodeJSON[client.CheckResult](t, out); r.Status != "invalid_credentials" || r.PreviousStatus != "invalid_credentials" {
		t.Errorf("check --json: %s", out)
	}
	if _, out, _ := a.run("connections", "list", "--status", "invalid_credentials"); !strings.Contains(out, id) {
		t.Errorf("the broken connection is not listed by status: %q", out)
	}

	// The link to send its owner: a reconnect session for this connection.
	code, out, errs = a.run("sessions", "create", "--reconnect", id)
	if code != 0 {
		t.Fatalf("reconnect: %d %q %q", code, out, errs)
	}
	u, _ := url.Parse(strings.SplitN(out, "\n", 2)[0])
	if info, err := a.c.GetConnectSession(context.Background(), u.Query().Get("session_token")); err != nil || !info.IsReconnecting {
		t.Errorf("the reconnect link's session: %+v %v", info, err)
	}

	// delete: only with --yes; then it is gone.
	if code, _, errs := a.run("connections", "delete", id); code != exitUsage || !strings.Contains(errs, "--yes") {
		t.Errorf("delete without --yes: %d %q", code, errs)
	}
	if _, err := a.c.GetConnection(context.Background(), "jira", id); err != nil {
		t.Fatalf("delete without --yes deleted: %v", err)
	}
	if code, out, errs := a.run("connections", "delete", id, "--yes"); code != 0 || !strings.Contains(out, "Deleted connection "+id) {
		t.Errorf("delete: %d %q %q", code, out, errs)
	}
	if code, _, errs := a.run("connections", "show", id); code != exitAPIError || !strings.Contains(errs, "unknown_connection (HTTP 404)") {
		t.Errorf("show after delete: %d %q", code, errs)
	}
}

// Mistakes and failures: each says what happened, with its exit code.
func TestAPICommandErrors(t *testing.T) {
	a := startAPIServer(t)
	// Nothing listens on a port that was just closed (on loopback).
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(cliSecretKey+"\n"), 0o600)
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		inStderr string
	}{
		{"no secret key", map[string]string{}, []string{"integrations", "list", "--url", a.url}, exitUsage, "no secret key: set LATCHKEY_SECRET_KEY"},
		{"both key and key file", map[string]string{"LATCHKEY_SECRET_KEY": cliSecretKey, "LATCHKEY_SECRET_KEY_FILE": keyFile}, []string{"integrations", "list", "--url", a.url}, exitUsage, "both set"},
		{"a wrong key", map[string]string{"LATCHKEY_SECRET_KEY": "sk_wrong_0123456789abcdef0123456789abcdef"}, []string{"integrations", "list", "--url", a.url}, exitAPIError, "unknown_account (HTTP 401): The secret key is not valid."},
		{"nobody listening", a.env, []string{"connections", "list", "--url", closed}, exitUnreachable, "cannot reach latchkey at " + closed},
		{"a bad --url", a.env, []string{"connections", "list", "--url", "ftp://x"}, exitUsage, `--url "ftp://x"`},
		{"a bad status", a.env, []string{"connections", "list", "--status", "broken", "--url", a.url}, exitAPIError, "invalid_query_params (HTTP 400): status must be one of"},
		{"an unknown subcommand", a.env, []string{"connections", "frob"}, exitUsage, `unknown subcommand "frob"`},
		{"an unknown flag", a.env, []string{"connections", "list", "--colour"}, exitUsage, "-colour"},
		{"a missing id", a.env, []string{"connections", "show", "--url", a.url}, exitUsage, "missing CONNECTION_ID"},
		{"an extra argument", a.env, []string{"integrations", "list", "x", "--url", a.url}, exitUsage, `unexpected argument "x"`},
		{"a session without an end user", a.env, []string{"sessions", "create", "--url", a.url}, exitUsage, "--end-user is required"},
		{"an unknown integration", a.env, []string{"sessions", "create", "--end-user", "u", "--integration", "nope", "--url", a.url}, exitAPIError, `Integration "nope" does not exist`},
		{"an unknown connection", a.env, []string{"connections", "check", "c-404", "--url", a.url}, exitAPIError, "unknown_connection"},
		{"integrations create without a provider", a.env, []string{"integrations", "create", "jira", "--url", a.url}, exitUsage, "--provider is required"},
	}
	for _, tc := range cases {
		code, out, errs := cliRun(tc.env)(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.inStderr) || out != "" {
			t.Errorf("%s: %d %q %q, want %d and %q", tc.name, code, out, errs, tc.code, tc.inStderr)
		}
		if strings.Contains(errs, cliSecretKey) {
			t.Errorf("%s: the secret key is in the error", tc.name)
		}
	}
	// With --json, an API error is JSON on stderr, with the API's code.
	code, _, errs := cliRun(a.env)("connections", "show", "c-404", "--json", "--url", a.url)
	if e := decodeJSON[struct{ Error client.Error }](t, errs); code != exitAPIError || e.Error.Code != "unknown_connection" {
		t.Errorf("--json error: %d %q", code, errs)
	}
	// The key from a file; the URL from LATCHKEY_PUBLIC_URL, as serve computes it.
	env := map[string]string{"LATCHKEY_SECRET_KEY_FILE": keyFile, "LATCHKEY_PUBLIC_URL": a.url}
	if code, out, errs := cliRun(env)("integrations", "list"); code != 0 || !strings.Contains(out, "No integrations") {
		t.Errorf("key file and public URL: %d %q %q", code, out, errs)
	}
	env = map[string]string{"LATCHKEY_SECRET_KEY": cliSecretKey, "LATCHKEY_ADDR": strings.TrimPrefix(a.url, "http://")}
	if code, out, errs := cliRun(env)("integrations", "list"); code != 0 || !strings.Contains(out, "No integrations") {
		t.Errorf("URL from LATCHKEY_ADDR: %d %q %q", code, out, errs)
	}
	// Two integrations with the same connection id: the CLI asks which.
	for _, k := range []string{"a", "b"} {
		if _, err := a.c.CreateIntegration(context.Background(), client.CreateIntegrationRequest{Provider: "atlassian-service-account-api-token", UniqueKey: k}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.c.ImportConnection(context.Background(), client.ImportConnectionRequest{ProviderConfigKey: k, ConnectionID: "same",
			Credentials:      client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken},
			ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}}); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errs := a.run("connections", "show", "same"); code != exitUsage || !strings.Contains(errs, "several integrations (a, b)") {
		t.Errorf("an ambiguous id: %d %q", code, errs)
	}
	if code, out, _ := a.run("connections", "show", "same", "--integration", "b"); code != 0 || !strings.Contains(out, "b (atlassian-service-account-api-token)") {
		t.Errorf("--integration b: %d %q", code, out)
	}
}
