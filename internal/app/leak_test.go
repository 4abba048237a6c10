package app_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// leakRecord is one place a secret must not be: a log, an answer, a webhook, a file.
type leakRecord struct {
	where string
	text  []byte
	// allowed names the secrets this place is meant to carry (the answer of
	// POST /connect/sessions carries the session token it creates, …).
	allowed map[string]bool
}

type leakFlow struct {
	t       *testing.T
	p       *serveProc
	records []leakRecord
	secrets map[string]string
}

// call makes one API request and keeps its answer (status line, headers, body)
// for the search, with the secrets it is meant to carry.
func (l *leakFlow) call(method, path, bearer, body string, header map[string]string, allowed ...string) (int, string) {
	l.t.Helper()
	req, err := http.NewRequest(method, l.p.url+path, strings.NewReader(body))
	if err != nil {
		l.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var head strings.Builder
	res.Header.Write(&head)
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	route, _, _ := strings.Cut(path, "?")
	l.records = append(l.records, leakRecord{where: fmt.Sprintf("answer to %s %s (%d)", method, route, res.StatusCode),
		text: append([]byte(head.String()+"\n"), b...), allowed: ok})
	return res.StatusCode, string(b)
}

func (l *leakFlow) expect(status int, want int, what, body string) {
	l.t.Helper()
	if status != want {
		l.t.Fatalf("%s: %d, want %d: %s", what, status, want, trim(body))
	}
}

func jsonField(t *testing.T, body string, path ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("not JSON: %s", trim(body))
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %v in %s", path, trim(body))
		}
		v = m[p]
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("no string at %v in %s", path, trim(body))
	}
	return s
}

// forms are the shapes a secret could take where it leaks: as is, in base64
// (standard, URL-safe, raw), in hex, URL-encoded.
func forms(s string) []string {
	b := []byte(s)
	out := []string{s, base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(b), url.QueryEscape(s)}
	seen := map[string]bool{}
	var uniq []string
	for _, f := range out {
		if !seen[f] {
			seen[f] = true
			uniq = append(uniq, f)
		}
	}
	return uniq
}

// The whole flow (integration, session, wrong token, right token, reads,
// proxy, webhook, verify, reconnect, import, delete, key rotation) through a real
// `latchkey serve` at debug log level; then every log line, every answer body
// and header (but those meant to carry a credential), every webhook received
// and every file in the data dir (SQLite database, WAL, shared memory) is
// searched for every secret: API tokens, secret keys, session tokens, webhook
// signing keys, the encryption key.
func TestNoSecretLeaks(t *testing.T) {
	sim := atlassiansim.New()
	const (
		secondEmail = "second-bot@serviceaccount.atlassian.com"
		secondToken = "ATSTT3xSECONDsecondSECONDsecond0123456789abcdefABCDEF_-=9F8E7D6C"
		wrongToken  = "ATSTT3xWRONGwrongWRONGwrongWRONG0123456789abcdefABCDEF_-=0A1B2C3E"
		badToken    = "not-a-token-but-a-secret-all-the-same-42"
	)
	sim.AddToken(atlassiansim.Token{Email: secondEmail, Secret: secondToken, AccountID: "712020:second", DisplayName: "Second Bot",
		CloudID: atlassiansim.DemoCloudID, Jira: true, Confluence: true})
	simSrv := sim.NewServer()
	defer simSrv.Close()
	rcv := newReceiver(t)
	encKey, _ := secret.GenerateKey()
	dataDir := t.TempDir()
	p := startServe(t, map[string]string{
		"LATCHKEY_DATA_DIR": dataDir, "LATCHKEY_LOG_LEVEL": "debug",
		"LATCHKEY_SECRET_KEY": testSecretKey, "LATCHKEY_ENCRYPTION_KEY": secret.EncodeKey(encKey),
		"LATCHKEY_WEBHOOK_URL": rcv.URL + "/hooks", "LATCHKEY_WEBHOOK_SIGNING_KEY": signingKey,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + simSrv.URL,
	})
	l := &leakFlow{t: t, p: p, secrets: map[string]string{
		"API token": atlassiansim.DemoToken, "second API token": secondToken, "wrong API token": wrongToken, "malformed API token": badToken,
		"secret key": testSecretKey, "webhook signing key": signingKey, "encryption key": secret.EncodeKey(encKey),
		"Basic credentials": base64.StdEncoding.EncodeToString([]byte(atlassiansim.DemoEmail + ":" + atlassiansim.DemoToken)),
	}}
	sk := testSecretKey
	cloud := atlassiansim.DemoCloudID
	basic := func(user, pass string) string { return `{"username":"` + user + `","password":"` + pass + `"}` }

	// Integration and a connect session (its answer carries the token).
	st, b := l.call("POST", "/integrations", sk, `{"provider":"`+atlassian+`","unique_key":"jira"}`, nil)
	l.expect(st, 200, "create integration", b)
	st, b = l.call("POST", "/connect/sessions", sk, `{"end_user":{"id":"u1","email":"ada@example.com"}}`, nil, "session token")
	l.expect(st, 201, "create session", b)
	tok := jsonField(t, b, "data", "token")
	l.secrets["session token"] = tok
	l.call("GET", "/connect?session_token="+tok, "", "", nil)
	st, b = l.call("GET", "/connect/session", tok, "", nil)
	l.expect(st, 200, "get session", b)

	// Wrong token, malformed token, then the right one.
	submit := "/api-auth/basic/jira?connect_session_token=" + tok + "&params[cloudId]=" + cloud
	st, b = l.call("POST", submit, "", basic(atlassiansim.DemoEmail, wrongToken), nil)
	l.expect(st, 400, "wrong token", b)
	st, b = l.call("POST", submit, "", basic(atlassiansim.DemoEmail, badToken), nil)
	l.expect(st, 400, "malformed token", b)
	st, b = l.call("POST", submit, "", basic(atlassiansim.DemoEmail, atlassiansim.DemoToken), nil)
	l.expect(st, 200, "right token", b)
	id := jsonField(t, b, "connectionId")

	// Reads (GET /connections/{id} is meant to return the credentials).
	q := "?provider_config_key=jira"
	for _, path := range []string{"/connections", "/connections?search=u1", "/connections/" + id + "/events" + q, "/integrations", "/integrations/jira", "/providers"} {
		st, b = l.call("GET", path, sk, "", nil)
		l.expect(st, 200, path, b)
	}
	st, b = l.call("GET", "/connections/"+id+q, sk, "", nil, "API token")
	l.expect(st, 200, "get connection", b)

	// Proxy: a call, and one whose upstream resets.
	proxyHeaders := map[string]string{"Provider-Config-Key": "jira", "Connection-Id": id}
	st, b = l.call("GET", "/proxy"+jiraPath("/myself"), sk, "", proxyHeaders)
	l.expect(st, 200, "proxy", b)
	sim.Inject(atlassiansim.Fault{Reset: true, Count: 1})
	st, b = l.call("GET", "/proxy"+jiraPath("/myself"), sk, "", proxyHeaders)
	l.expect(st, 502, "proxy to a resetting upstream", b)

	// The creation webhook, and the deliveries API.
	deadline := time.Now().Add(20 * time.Second)
	for len(rcv.received()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no webhook delivered")
		}
		time.Sleep(20 * time.Millisecond) // the dispatcher delivers asynchronously; bounded by the deadline
	}
	st, b = l.call("GET", "/webhooks/deliveries", sk, "", nil)
	l.expect(st, 200, "deliveries", b)
	var list struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(b), &list)
	for _, d := range list.Data {
		l.call("GET", fmt.Sprint("/webhooks/deliveries/", d.ID), sk, "", nil)
	}

	// Verify now, with the token valid and then revoked.
	st, b = l.call("POST", "/connections/"+id+"/verify"+q, sk, "", nil)
	l.expect(st, 200, "verify", b)
	sim.Revoke(atlassiansim.DemoToken)
	st, b = l.call("POST", "/connections/"+id+"/verify"+q, sk, "", nil)
	l.expect(st, 200, "verify a revoked token", b)

	// Reconnect with a new token (the form's prefill must not carry the old one).
	st, b = l.call("POST", "/connect/sessions/reconnect", sk, `{"connection_id":"`+id+`","integration_id":"jira"}`, nil, "reconnect session token")
	l.expect(st, 201, "reconnect session", b)
	rtok := jsonField(t, b, "data", "token")
	l.secrets["reconnect session token"] = rtok
	st, b = l.call("GET", "/connect/session", rtok, "", nil)
	l.expect(st, 200, "reconnect session info", b)
	st, b = l.call("POST", "/api-auth/basic/jira?connect_session_token="+rtok+"&params[cloudId]="+cloud, "", basic(secondEmail, secondToken), nil)
	l.expect(st, 200, "reconnect", b)

	// Import (its answer repeats the credentials it was sent), metadata, patch, delete.
	imp := `{"provider_config_key":"jira","connection_id":"imported","credentials":{"type":"BASIC","username":"` + secondEmail + `","password":"` + secondToken + `"},"connection_config":{"cloudId":"` + cloud + `"}}`
	st, b = l.call("POST", "/connections", sk, imp, nil, "second API token")
	l.expect(st, 201, "import", b)
	st, b = l.call("POST", "/connections/metadata", sk, `{"connection_id":"imported","provider_config_key":"jira","metadata":{"plan":"pro"}}`, nil)
	l.expect(st, 201, "metadata", b)
	st, b = l.call("PATCH", "/connections/imported"+q, sk, `{"credentials_expires_at":"`+time.Now().AddDate(0, 3, 0).Format("2006-01-02")+`"}`, nil)
	l.expect(st, 200, "patch", b)
	st, b = l.call("DELETE", "/connections/imported"+q, sk, "", nil)
	l.expect(st, 200, "delete", b)

	// Session end, and a signing key rotation (its answers carry the key).
	st, b = l.call("POST", "/connect/sessions", sk, `{"end_user":{"id":"u2"}}`, nil, "ended session token")
	l.expect(st, 201, "session to end", b)
	etok := jsonField(t, b, "data", "token")
	l.secrets["ended session token"] = etok
	st, b = l.call("DELETE", "/connect/session", etok, "", nil)
	l.expect(st, 204, "end session", b)
	st, b = l.call("GET", "/environment", sk, "", nil, "webhook signing key")
	l.expect(st, 200, "environment", b)
	st, b = l.call("POST", "/environment/webhook-signing-key", sk, "", nil, "rotated signing key")
	l.expect(st, 200, "rotate signing key", b)
	l.secrets["rotated signing key"] = jsonField(t, b, "data", "webhook_signing_key")
	// Wrong credentials of every kind.
	l.call("GET", "/connections", "sk_test_ffffffffffffffffffffffffffffffff", "", nil)
	l.call("GET", "/connect/session", "nango_connect_session_"+strings.Repeat("ab", 32), "", nil)
	l.call("GET", "/connections", tok, "", nil)
	l.call("GET", "/metrics", "", "", nil)
	l.call("GET", "/health", "", "", nil) // logged at debug level
	l.call("GET", "/ready", "", "", nil)

	// The files while latchkey runs (WAL not yet checkpointed), then after a
	// graceful stop, which flushes the logs.
	running := readDataDir(t, dataDir, "while running")
	p.cmd.Process.Signal(os.Interrupt)
	<-p.done
	p.cmd.Wait()
	l.records = append(l.records, running...)
	l.records = append(l.records, readDataDir(t, dataDir, "after stop")...)
	for i, line := range strings.Split(p.logs.String(), "\n") {
		l.records = append(l.records, leakRecord{where: fmt.Sprintf("log line %d", i+1), text: []byte(line)})
	}
	for i, r := range rcv.received() {
		var head strings.Builder
		r.headers.Write(&head)
		l.records = append(l.records, leakRecord{where: fmt.Sprintf("webhook %d", i+1), text: append([]byte(head.String()), r.body...)})
	}

	names := make([]string, 0, len(l.secrets))
	for n := range l.secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	searched := 0
	for _, r := range l.records {
		for _, n := range names {
			if r.allowed[n] {
				continue
			}
			for _, f := range forms(l.secrets[n]) {
				if strings.Contains(string(r.text), f) {
					t.Errorf("the %s appears in the %s", n, r.where)
				}
			}
		}
		// The raw encryption key, byte for byte (the files are binary).
		if strings.Contains(string(r.text), string(encKey)) {
			t.Errorf("the raw encryption key appears in the %s", r.where)
		}
		searched += len(r.text)
	}
	// The search covered something: debug logs, answers, files, webhooks.
	logLines := strings.Count(p.logs.String(), "\n")
	if logLines < 40 || !strings.Contains(p.logs.String(), `"level":"DEBUG"`) || len(rcv.received()) == 0 || len(running) < 2 {
		t.Errorf("thin search: %d log lines (debug: %v), %d webhooks, %d data files", logLines, strings.Contains(p.logs.String(), `"level":"DEBUG"`), len(rcv.received()), len(running))
	}
	t.Logf("searched %d places (%d bytes, %d log lines) for %d secrets, each as is, base64, hex and URL-encoded", len(l.records), searched, logLines, len(names))
}

// readDataDir reads every file of the data dir (database, WAL, shared memory).
func readDataDir(t *testing.T, dir, when string) []leakRecord {
	t.Helper()
	var out []leakRecord
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, leakRecord{where: fmt.Sprintf("file %s (%s)", filepath.Base(path), when), text: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
