package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// startDemo runs latchkey demo with args until its banner is printed, and
// returns the banner and a stop function giving the exit code.
func startDemo(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, append([]string{"demo"}, args...), func(string) string { return "" }, pw, &errb)
		pw.Close()
	}()
	var banner strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Ctrl-C stops") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if !strings.Contains(banner.String(), "Ctrl-C stops") {
		cancel()
		t.Fatalf("demo exited with %d before it was ready: %q %q", <-done, banner.String(), errb.String())
	}
	return banner.String(), func() int { cancel(); return <-done }
}

func match(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in %q", re, s)
	}
	return m[1]
}

// The README's curl walkthrough against latchkey demo: the printed secret key
// works, a wrong token is refused by the simulated Atlassian, the right one
// links a connection whose credentials read back. The data dir goes on exit.
func TestDemoRunsTheWalkthrough(t *testing.T) {
	banner, stop := startDemo(t, "--addr", "127.0.0.1:0", "--sim-addr", "127.0.0.1:0")
	base := match(t, `running at (http://127\.0\.0\.1:\d+),`, banner)
	sk := match(t, `\s(sk_demo_\S+)\n`, banner)
	dir := match(t, `Data lives in (\S+) and`, banner)
	match(t, `simulated Atlassian at (http://127\.0\.0\.1:\d+)\.`, banner)
	match(t, `(`+regexp.QuoteMeta(base)+`/connect\S*session_token=\S+)`, banner)

	call := func(method, path, bearer, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	if code, v := call("POST", "/integrations", sk, `{"provider":"atlassian-service-account-api-token","unique_key":"jira"}`); code != 200 {
		t.Fatalf("create integration: %d %v", code, v)
	}
	code, v := call("POST", "/connect/sessions", sk, `{"end_user":{"id":"user-42","email":"ada@example.com"},"allowed_integrations":["jira"]}`)
	data, _ := v["data"].(map[string]any)
	token, _ := data["token"].(string)
	if code != 201 || token == "" {
		t.Fatalf("create session: %d %v", code, v)
	}
	submit := "/api-auth/basic/jira?connect_session_token=" + token + "&params[cloudId]=" + atlassiansim.DemoCloudID
	wrong := strings.TrimSuffix(atlassiansim.DemoToken, "0A1B2C3D") + "00000000"
	if code, v := call("POST", submit, "", `{"username":"`+atlassiansim.DemoEmail+`","password":"`+wrong+`"}`); code != 400 || !strings.Contains(toJSON(v), `"code":"invalid_credentials"`) {
		t.Errorf("wrong token: %d %v", code, v)
	}
	code, v = call("POST", submit, "", `{"username":"`+atlassiansim.DemoEmail+`","password":"`+atlassiansim.DemoToken+`"}`)
	id, _ := v["connectionId"].(string)
	if code != 200 || id == "" {
		t.Fatalf("right token: %d %v", code, v)
	}
	if code, v := call("GET", "/connections/"+id+"?provider_config_key=jira", sk, ""); code != 200 || !strings.Contains(toJSON(v), atlassiansim.DemoToken) {
		t.Errorf("read back: %d %v", code, v)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the demo left %s behind (%v)", dir, err)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A busy port is named by the demo's own flag: the demo reads no LATCHKEY_ADDR.
func TestDemoBusyPortNamesItsFlag(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct{ flag, other string }{{"--addr", "--sim-addr"}, {"--sim-addr", "--addr"}} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{"demo", c.flag, busy.Addr().String(), c.other, "127.0.0.1:0"}, func(string) string { return "" }, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "("+c.flag+")") || strings.Contains(errb.String(), "LATCHKEY_ADDR") {
			t.Errorf("%s busy: %d %q", c.flag, code, errb.String())
		}
	}
}

// demo --sim-only runs the simulated Atlassian alone, until stopped, on the
// address it was given; it answers like Atlassian.
func TestDemoSimOnly(t *testing.T) {
	banner, stop := startDemo(t, "--sim-only", "--sim-addr", "127.0.0.1:0")
	sim := match(t, `running at (http://127\.0\.0\.1:\d+)\.`, banner)
	if !strings.Contains(banner, "LATCHKEY_UPSTREAM_REWRITE=https://api.atlassian.com="+sim) {
		t.Errorf("banner: %q", banner)
	}
	res, err := http.Get(sim + "/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/myself")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("unauthenticated call to the simulator: %d", res.StatusCode)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
