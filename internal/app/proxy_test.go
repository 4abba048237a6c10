package app_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

type echo struct {
	Product    string            `json:"product"`
	Path       string            `json:"path"`
	Query      string            `json:"query"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	BodyBytes  int64             `json:"bodyBytes"`
	BodySHA256 string            `json:"bodySHA256"`
}

// proxyCall sends a request through /proxy with the connection headers set.
func (h *harness) proxyCall(method, endpoint, connectionID string, headers map[string]string, body io.Reader) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+"/proxy"+endpoint, body)
	req.Header.Set("Authorization", "Bearer "+testSecretKey)
	req.Header.Set("Provider-Config-Key", "jira")
	req.Header.Set("Connection-Id", connectionID)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("proxy %s %s: %v", method, endpoint, err)
	}
	h.t.Cleanup(func() { res.Body.Close() })
	return res
}

func decode[T any](t testing.TB, res *http.Response) T {
	t.Helper()
	var v T
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, b, err)
	}
	return v
}

// metric reads one sample of latchkey's metrics (0 when absent).
func (h *harness) metric(series string) float64 {
	h.t.Helper()
	var buf strings.Builder
	if err := h.app.Metrics().WriteText(&buf); err != nil {
		h.t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				h.t.Fatalf("metric %s: %q", series, line)
			}
			return f
		}
	}
	return 0
}

func jiraPath(p string) string { return "/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3" + p }

func TestProxyForwardsWithCredentials(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	res := h.proxyCall("GET", jiraPath("/search?jql=project%3DOPS&maxResults=5"), id, map[string]string{
		"Nango-Proxy-X-Atlassian-Token": "no-check",
		"Nango-Proxy-Accept":            "application/json",
		"X-Not-Forwarded":               "secret-of-the-caller",
		"Connection":                    "X-Hop",
		"X-Hop":                         "1",
		"Cookie":                        "session=abc",
		"Nango-Is-Sync":                 "false",
		"Base-Url-Override":             "",
	}, nil)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	e := decode[echo](t, res)
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(atlassiansim.DemoEmail+":"+atlassiansim.DemoToken))
	if e.Path != "/rest/api/3/search" || e.Query != "jql=project%3DOPS&maxResults=5" || e.Headers["Authorization"] != wantAuth {
		t.Errorf("upstream saw %+v", e)
	}
	if e.Headers["X-Atlassian-Token"] != "no-check" || e.Headers["Accept"] != "application/json" {
		t.Errorf("Nango-Proxy-* headers not forwarded: %v", e.Headers)
	}
	for _, h := range []string{"X-Not-Forwarded", "X-Hop", "Cookie", "Nango-Is-Sync", "Provider-Config-Key", "Connection-Id"} {
		if _, ok := e.Headers[h]; ok {
			t.Errorf("header %s was forwarded", h)
		}
	}
	if strings.Contains(fmt.Sprint(e.Headers), testSecretKey) {
		t.Error("latchkey's secret key was forwarded")
	}
	if res.Header.Get("Link") == "" || res.Header.Get("X-RateLimit-Remaining") != "99" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("response headers lost: %v", res.Header)
	}
	// POST with a body; DELETE; a path that already names the base.
	body := `{"fields":{"summary":"Hello"}}`
	res = h.proxyCall("POST", jiraPath("/issue"), id, map[string]string{"Content-Type": "application/json"}, strings.NewReader(body))
	e = decode[echo](t, res)
	sum := sha256.Sum256([]byte(body))
	if e.Method != "POST" || e.BodyBytes != int64(len(body)) || e.BodySHA256 != hex.EncodeToString(sum[:]) || e.Headers["Content-Type"] != "application/json" {
		t.Errorf("POST upstream saw %+v", e)
	}
	// The operation log and metrics record each call, without the query string.
	h.stop() // waits for the handlers, then flushes the operation log
	a, err := h.open()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var n int
	var msg string
	a.Store().DB().QueryRow(`SELECT COUNT(*), MAX(message) FROM events WHERE kind = 'proxy'`).Scan(&n, &msg)
	if n != 2 || strings.Contains(msg, "jql") {
		t.Errorf("proxy events = %d, %q", n, msg)
	}
}

func TestProxyMetrics(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.sim.Inject(h.sim.RateLimited(time.Second, 1))
	res := h.proxyCall("GET", jiraPath("/myself"), id, map[string]string{"Retries": "1"}, nil)
	io.Copy(io.Discard, res.Body)
	status, _, _ := h.raw("GET", "/metrics", "", "", "")
	h.srv.Close() // waits for the proxied call's handler to finish recording
	var buf strings.Builder
	if err := h.app.Metrics().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	body := buf.String()
	for _, want := range []string{`latchkey_proxy_requests_total{integration="jira",status="200"} 1`, `latchkey_proxy_retries_total{integration="jira",status="429"} 1`,
		`latchkey_proxy_request_duration_seconds_count{integration="jira",status="200"} 1`} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestProxyRetries(t *testing.T) {
	h := newHarness(t, "LATCHKEY_PROXY_MAX_RETRY_WAIT=10s")
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	now := h.now()
	cases := []struct {
		name      string
		fault     atlassiansim.Fault
		retries   string
		retryOn   string
		wantCalls int
		wantWaits []time.Duration
		wantFinal int
		// wantOwnRetries counts the retries after a network error that latchkey
		// itself made (its metric), not those Go's transport makes on its own.
		wantOwnRetries int
	}{
		{"429 with Retry-After", atlassiansim.Fault{Status: 429, Count: 1, Header: map[string]string{"Retry-After": "2"}}, "2", "", 2, []time.Duration{2 * time.Second}, 200, 0},
		{"429 with X-RateLimit-Reset ISO-8601", atlassiansim.Fault{Status: 429, Count: 1, Header: map[string]string{"X-RateLimit-Reset": now.Add(3 * time.Second).Format(time.RFC3339)}}, "1", "", 2, []time.Duration{3 * time.Second}, 200, 0},
		{"429 with X-RateLimit-Reset epoch seconds", atlassiansim.Fault{Status: 429, Count: 1, Header: map[string]string{"X-RateLimit-Reset": fmt.Sprint(now.Add(4 * time.Second).Unix())}}, "1", "", 2, []time.Duration{4 * time.Second}, 200, 0},
		{"429 with X-RateLimit-Reset epoch milliseconds", atlassiansim.Fault{Status: 429, Count: 1, Header: map[string]string{"X-RateLimit-Reset": fmt.Sprint(now.Add(5 * time.Second).UnixMilli())}}, "1", "", 2, []time.Duration{5 * time.Second}, 200, 0},
		{"503 twice, backoff without headers", atlassiansim.Fault{Status: 503, Count: 2}, "3", "", 3, nil, 200, 0},
		{"retries exhausted", atlassiansim.Fault{Status: 500, Count: -1}, "2", "", 3, nil, 500, 0},
		{"no Retries header: no retry", atlassiansim.Fault{Status: 429, Count: 1, Header: map[string]string{"Retry-After": "1"}}, "", "", 1, []time.Duration{}, 429, 0},
		{"wait longer than the cap is handed back", atlassiansim.Fault{Status: 429, Count: 1, Header: map[string]string{"Retry-After": "60"}}, "3", "", 1, []time.Duration{}, 429, 0},
		{"404 not retried", atlassiansim.Fault{Status: 404, Count: 1}, "2", "", 1, []time.Duration{}, 404, 0},
		{"Retry-On adds 404", atlassiansim.Fault{Status: 404, Count: 1}, "2", "404", 2, nil, 200, 0},
		{"401 not retried for BASIC", atlassiansim.Fault{Status: 401, Count: 1}, "2", "", 1, []time.Duration{}, 401, 0},
		// The simulator resets a fresh connection (Go's transport would retry a
		// reused one's reset by itself): only latchkey's own retry can answer 200.
		{"reset connection retried", atlassiansim.Fault{Reset: true, Count: 1}, "1", "", 2, nil, 200, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.sim.ClearFaults()
			h.sim.Inject(c.fault)
			h.sleeps = nil
			before, ownBefore := len(h.sim.Calls()), h.metric(`latchkey_proxy_retries_total{integration="jira",status="0"}`)
			res := h.proxyCall("GET", jiraPath("/myself"), id, map[string]string{"Retries": c.retries, "Retry-On": c.retryOn}, nil)
			io.Copy(io.Discard, res.Body)
			if got := h.metric(`latchkey_proxy_retries_total{integration="jira",status="0"}`) - ownBefore; got != float64(c.wantOwnRetries) {
				t.Errorf("latchkey retried %v times after a network error, want %d", got, c.wantOwnRetries)
			}
			if res.StatusCode != c.wantFinal {
				t.Errorf("final status %d, want %d", res.StatusCode, c.wantFinal)
			}
			if got := len(h.sim.Calls()) - before; got != c.wantCalls {
				t.Errorf("%d calls, want %d", got, c.wantCalls)
			}
			if c.wantWaits != nil && fmt.Sprint(h.sleeps) != fmt.Sprint(c.wantWaits) && !(len(c.wantWaits) == 0 && len(h.sleeps) == 0) {
				t.Errorf("waits %v, want %v", h.sleeps, c.wantWaits)
			}
			if c.wantWaits == nil {
				for _, w := range h.sleeps {
					if w <= 0 || w > 10*time.Second {
						t.Errorf("backoff wait %v out of bounds", w)
					}
				}
			}
			if c.wantFinal == 429 && res.Header.Get("Retry-After") == "" {
				t.Error("the provider's Retry-After was not passed back")
			}
		})
	}
	// A POST body is sent again on each attempt.
	h.sim.ClearFaults()
	h.sim.Inject(atlassiansim.Fault{Status: 503, Count: 1})
	body := strings.Repeat("x", 5000)
	res := h.proxyCall("POST", jiraPath("/issue"), id, map[string]string{"Retries": "1"}, strings.NewReader(body))
	if e := decode[echo](t, res); e.BodyBytes != 5000 {
		t.Errorf("replayed body = %d bytes", e.BodyBytes)
	}
}

func TestProxyErrors(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	h := newHarness(t, "LATCHKEY_PROXY_TIMEOUT=300ms", "LATCHKEY_PROXY_ALLOWED_ORIGINS=https://eu.api.atlassian.com")
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")

	check := func(name string, res *http.Response, status int, code string) {
		t.Helper()
		body, _ := io.ReadAll(res.Body)
		c, msg, _ := errorCode(t, string(body))
		if res.StatusCode != status || c != code || msg == "" {
			t.Errorf("%s: %d %s, want %d %s (%s)", name, res.StatusCode, c, status, code, body)
		}
	}
	check("missing headers", h.proxyCall("GET", jiraPath("/myself"), "", map[string]string{"Provider-Config-Key": ""}, nil), 400, "invalid_headers")
	check("unknown connection", h.proxyCall("GET", jiraPath("/myself"), "ghost", nil, nil), 404, "unknown_connection")
	check("unknown integration", h.proxyCall("GET", jiraPath("/myself"), id, map[string]string{"Provider-Config-Key": "ghost"}, nil), 404, "unknown_provider_config")
	check("bad Retries", h.proxyCall("GET", jiraPath("/myself"), id, map[string]string{"Retries": "many"}, nil), 400, "invalid_headers")
	check("bad Retry-On", h.proxyCall("GET", jiraPath("/myself"), id, map[string]string{"Retry-On": "5xx"}, nil), 400, "invalid_headers")
	check("override not allowed", h.proxyCall("GET", "/x", id, map[string]string{"Base-Url-Override": "https://evil.example.com"}, nil), 400, "base_url_override_not_allowed")
	// Traversal attempts, literal or encoded, are refused with 400 (not
	// redirected to a cleaned path); nothing with a dot segment or another host
	// ever reaches the provider.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	seen := len(h.sim.Calls())
	for _, ep := range []string{"/ex/jira/../../admin", "/%2e%2e/%2e%2e/etc/passwd", "/ex/jira/%2E%2E/x", "//evil.example.com/x", "/%2F%2Fevil.example.com/x", "/a\\..\\b"} {
		req, _ := http.NewRequest("GET", h.srv.URL+"/proxy", nil)
		req.URL.Opaque = "/proxy" + ep
		req.Header.Set("Authorization", "Bearer "+testSecretKey)
		req.Header.Set("Provider-Config-Key", "jira")
		req.Header.Set("Connection-Id", id)
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(res.Body); res.StatusCode != 400 || !strings.Contains(string(b), `"invalid_endpoint"`) {
			t.Errorf("traversal %s: %d %s, want 400 invalid_endpoint", ep, res.StatusCode, b)
		}
		res.Body.Close()
	}
	for _, c := range h.sim.Calls()[seen:] {
		t.Errorf("a traversal attempt reached the provider: %+v", c)
	}
	h.sim.Inject(atlassiansim.Fault{Hang: true, Count: 1})
	check("slow upstream", h.proxyCall("GET", jiraPath("/myself"), id, nil, nil), 504, "upstream_timeout")
	h.sim.Inject(atlassiansim.Fault{Reset: true, Count: 1})
	check("reset connection", h.proxyCall("GET", jiraPath("/myself"), id, nil, nil), 502, "upstream_unreachable")

	// An unreachable upstream.
	h2 := newHarness(t, "LATCHKEY_UPSTREAM_REWRITE=https://api.atlassian.com="+deadURL)
	h2.integration("jira", atlassian)
	imp, err := h2.c.ImportConnection(h2.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "c1",
		Credentials: client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken}, ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}})
	if err == nil || apiErr(t, err).Code != "provider_unavailable" {
		t.Fatalf("import against a dead upstream: %v %v", imp, err)
	}
}

// A connection-config value that would move the request elsewhere is refused
// before anything is sent.
func TestProxyRefusesUnsafeConnectionConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(file, []byte(`
loose:
    display_name: Loose
    auth_mode: API_KEY
    proxy:
        base_url: https://${connectionConfig.host}.example.net/api
        headers:
            authorization: Bearer ${apiKey}
    connection_config:
        host:
            type: string
`), 0o600)
	h := newHarness(t, "LATCHKEY_PROVIDERS_FILE="+file)
	h.integration("jira", "loose")
	for _, host := range []string{"evil.com/x", "a@evil", "evil.com#"} {
		_, err := h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "c-" + fmt.Sprint(len(host)),
			Credentials: client.Credentials{Type: "API_KEY", APIKey: "k"}, ConnectionConfig: map[string]any{"host": host}})
		if err != nil {
			t.Fatal(err)
		}
		res := h.proxyCall("GET", "/items", "c-"+fmt.Sprint(len(host)), nil, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 400 || !strings.Contains(string(body), "invalid_endpoint") {
			t.Errorf("host %q: %d %s", host, res.StatusCode, body)
		}
	}
}

// Large bodies stream both ways.
func TestProxyStreamsLargeBodies(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	const size = 48 << 20
	res := h.proxyCall("GET", jiraPath("/download?bytes="+fmt.Sprint(size)), id, nil, nil)
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil || n != size || res.Header.Get("Content-Length") != fmt.Sprint(size) {
		t.Errorf("download: %d bytes, %v, %s", n, err, res.Header.Get("Content-Length"))
	}
	hash := sha256.New()
	body := io.TeeReader(io.LimitReader(atlassiansim.Pattern(), size), hash)
	res = h.proxyCall("PUT", jiraPath("/upload"), id, map[string]string{"Content-Type": "application/octet-stream"}, body)
	e := decode[echo](t, res)
	if e.BodyBytes != size || e.BodySHA256 != hex.EncodeToString(hash.Sum(nil)) {
		t.Errorf("upload: %d bytes", e.BodyBytes)
	}
}

// A provider that puts its API key in the query string: the key reaches the
// provider, and never the logs, even when the call fails.
func TestProxyKeyInQueryNeverLogged(t *testing.T) {
	var gotKey string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.URL.Query().Get("api_key")
		w.Write([]byte(`{}`))
	}))
	defer up.Close()
	file := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(file, []byte(`
querykey:
    display_name: Query Key
    auth_mode: API_KEY
    proxy:
        base_url: https://api.querykey.test
        query:
            api_key: ${apiKey}
`), 0o600)
	h := newHarness(t, "LATCHKEY_PROVIDERS_FILE="+file, "LATCHKEY_UPSTREAM_REWRITE=https://api.querykey.test="+up.URL)
	h.integration("jira", "querykey")
	const key = "qk_live_0123456789abcdef"
	if _, err := h.c.ImportConnection(h.ctx(), client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "q1", Credentials: client.Credentials{Type: "API_KEY", APIKey: key}}); err != nil {
		t.Fatal(err)
	}
	res := h.proxyCall("GET", "/items?x=1", "q1", nil, nil)
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 || gotKey != key {
		t.Fatalf("status %d, upstream saw key %q", res.StatusCode, gotKey)
	}
	up.Close() // now the provider is unreachable
	res = h.proxyCall("GET", "/items", "q1", nil, nil)
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != 502 {
		t.Errorf("status %d, want 502", res.StatusCode)
	}
	h.stop()
	if strings.Contains(h.logs.String(), key) {
		t.Error("the API key appears in the logs")
	}
}
