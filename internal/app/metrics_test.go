package app_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// scrapeText reads /metrics over HTTP from the harness's server (a loopback caller).
func (h *harness) scrapeText() string {
	h.t.Helper()
	status, body, hdr := h.raw("GET", "/metrics", "", "", "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		h.t.Fatalf("GET /metrics: %d %s %q", status, hdr.Get("Content-Type"), body)
	}
	return body
}

// samples parses the Prometheus text format: sample name → the label sets seen.
type samples map[string][]map[string]string

var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseSamples(t testing.TB, text string) samples {
	t.Helper()
	out := samples{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		labels := map[string]string{}
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			j := strings.LastIndexByte(line, '}')
			name, rest = line[:i], line[j+1:]
			for _, m := range labelRE.FindAllStringSubmatch(line[i+1:j], -1) {
				labels[m[1]] = m[2]
			}
		}
		if _, err := strconv.ParseFloat(strings.Fields(rest)[0], 64); err != nil {
			t.Fatalf("not a sample line: %q", line)
		}
		out[name] = append(out[name], labels)
	}
	return out
}

// value is the value of the sample with exactly these labels (-1 when absent).
func sampleValue(text, name string, labels map[string]string) float64 {
	for _, line := range strings.Split(text, "\n") {
		n, rest, _ := strings.Cut(line, " ")
		lbl := map[string]string{}
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(n) {
			j := strings.LastIndexByte(line, '}')
			n, rest = line[:i], strings.TrimSpace(line[j+1:])
			for _, m := range labelRE.FindAllStringSubmatch(line[i+1:j], -1) {
				lbl[m[1]] = m[2]
			}
		}
		if n != name || len(lbl) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && lbl[k] == v
		}
		if match {
			f, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return f
		}
	}
	return -1
}

// workedHarness is a latchkey that has done one of each thing its metrics
// count: a proxied call with a retry, a health check, queued webhooks.
func workedHarness(t *testing.T) (*harness, *receiver) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL+"/hooks")
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.sim.Inject(h.sim.RateLimited(time.Second, 1))
	res := h.proxyCall("GET", jiraPath("/myself"), id, map[string]string{"Retries": "1"}, nil)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	h.advance(25 * time.Hour) // the new connection is due for its first check
	if _, err := h.app.Lifecycle().RunOnce(h.ctx()); err != nil {
		t.Fatal(err)
	}
	return h, rcv
}

// A real scrape has the Go runtime, the process, both SQLite pools, the
// webhook queue read from the database, the operation log, health checks by
// status and the proxy by integration and status.
func TestMetricsScrape(t *testing.T) {
	h, _ := workedHarness(t)
	h.advance(90 * time.Second)
	text := h.scrapeText()
	s := parseSamples(t, text)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_gc_duration_seconds_sum", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "process_open_fds", "latchkey_oplog_dropped_total", "latchkey_change_notices_failed_total",
		"latchkey_change_notices_received_total"} {
		if len(s[name]) == 0 {
			t.Errorf("no %s in the scrape", name)
		}
	}
	for _, pool := range []string{"sqlite_read", "sqlite_write"} {
		if v := sampleValue(text, "go_sql_max_open_connections", map[string]string{"db_name": pool}); v <= 0 {
			t.Errorf("pool %s: max_open_connections = %v", pool, v)
		}
	}
	if v := sampleValue(text, "go_sql_max_open_connections", map[string]string{"db_name": "sqlite_write"}); v != 1 {
		t.Errorf("the SQLite write pool has %v connections, want 1", v)
	}
	if bi := s["latchkey_build_info"]; len(bi) != 1 || bi[0]["revision"] == "" || bi[0]["version"] == "" || !strings.HasPrefix(bi[0]["go_version"], "go") {
		t.Errorf("build info: %v", bi)
	}
	// The connect queued the auth webhook(s); none is delivered yet (the
	// dispatcher runs only under Serve), and the clock moved 25 h 90 s since.
	depth := sampleValue(text, "latchkey_webhook_queue_depth", nil)
	if depth < 1 || sampleValue(text, "latchkey_webhook_queue_up", nil) != 1 {
		t.Errorf("webhook queue depth %v", depth)
	}
	if age := sampleValue(text, "latchkey_webhook_oldest_pending_age_seconds", nil); age != (25*time.Hour + 90*time.Second).Seconds() {
		t.Errorf("oldest pending age %v s", age)
	}
	if v := sampleValue(text, "latchkey_health_checks_total", map[string]string{"status": "ok"}); v != 1 {
		t.Errorf("ok health checks: %v, want 1", v)
	}
	if v := sampleValue(text, "latchkey_health_checks_total", map[string]string{"status": "invalid_credentials"}); v != 0 {
		t.Errorf("invalid_credentials health checks: %v, want 0", v)
	}
	for name, want := range map[string]float64{
		"latchkey_proxy_requests_total":                 1,
		"latchkey_proxy_request_duration_seconds_count": 1,
	} {
		if v := sampleValue(text, name, map[string]string{"integration": "jira", "status": "200"}); v != want {
			t.Errorf("%s{jira,200} = %v, want %v", name, v, want)
		}
	}
	if v := sampleValue(text, "latchkey_proxy_retries_total", map[string]string{"integration": "jira", "status": "429"}); v != 1 {
		t.Errorf("retries = %v", v)
	}

	// Delivered, the queue is empty and has no age.
	h.dispatch()
	text = h.scrapeText()
	if d, age := sampleValue(text, "latchkey_webhook_queue_depth", nil), sampleValue(text, "latchkey_webhook_oldest_pending_age_seconds", nil); d != 0 || age != 0 {
		t.Errorf("after delivery: depth %v, age %v", d, age)
	}
	// A health check that finds the token revoked is counted by what it found.
	h.sim.Revoke(atlassiansim.DemoToken)
	h.advance(27 * time.Hour) // past the next check: the interval (24 h) ± 10 % jitter
	if _, err := h.app.Lifecycle().RunOnce(h.ctx()); err != nil {
		t.Fatal(err)
	}
	if v := sampleValue(h.scrapeText(), "latchkey_health_checks_total", map[string]string{"status": "invalid_credentials"}); v != 1 {
		t.Errorf("invalid_credentials after a revoked token: %v", v)
	}
}

// Who may read /metrics: loopback only by default; a token opens it to any
// network that brings it; networks open it to those networks; both: both.
// Non-loopback callers are requests built in the test (RemoteAddr set), never
// packets to another address.
func TestMetricsAccess(t *testing.T) {
	const token = "mtok_0123456789abcdef"
	call := func(h *harness, remote, bearer string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = remote
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		h.app.Handler().ServeHTTP(rec, req)
		code := ""
		if rec.Code != 200 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("refusal is not JSON: %q", rec.Body.String())
			}
			code = e.Error.Code
			if strings.Contains(rec.Body.String(), token) {
				t.Errorf("the refusal shows the token: %s", rec.Body.String())
			}
		} else if !strings.Contains(rec.Body.String(), "go_goroutines") {
			t.Errorf("200 without metrics: %q", rec.Body.String())
		}
		return rec.Code, code
	}
	type want struct {
		remote, bearer string
		status         int
		code           string
	}
	for _, tc := range []struct {
		name string
		env  []string
		want []want
	}{
		{"default: loopback only", nil, []want{
			{"127.0.0.1:5000", "", 200, ""},
			{"[::1]:5000", "", 200, ""},
			{"[::ffff:127.0.0.1]:5000", "", 200, ""},
			{"192.0.2.10:5000", "", 403, "metrics_forbidden"},
			{"10.1.2.3:5000", "", 403, "metrics_forbidden"},
		}},
		{"token", []string{"LATCHKEY_METRICS_TOKEN=" + token}, []want{
			{"192.0.2.10:5000", token, 200, ""},
			{"127.0.0.1:5000", "", 401, "missing_auth_header"},
			{"127.0.0.1:5000", testSecretKey, 401, "invalid_metrics_token"},
			{"192.0.2.10:5000", token + "x", 401, "invalid_metrics_token"},
		}},
		{"networks", []string{"LATCHKEY_METRICS_ALLOWED_NETWORKS=10.0.0.0/8,2001:db8::/32"}, []want{
			{"10.1.2.3:5000", "", 200, ""},
			{"[2001:db8::7]:5000", "", 200, ""},
			{"127.0.0.1:5000", "", 403, "metrics_forbidden"},
			{"192.0.2.10:5000", "", 403, "metrics_forbidden"},
		}},
		{"token and networks", []string{"LATCHKEY_METRICS_TOKEN=" + token, "LATCHKEY_METRICS_ALLOWED_NETWORKS=10.0.0.0/8"}, []want{
			{"10.1.2.3:5000", token, 200, ""},
			{"10.1.2.3:5000", "", 401, "missing_auth_header"},
			{"192.0.2.10:5000", token, 403, "metrics_forbidden"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.env...)
			for _, w := range tc.want {
				if status, code := call(h, w.remote, w.bearer); status != w.status || code != w.code {
					t.Errorf("from %s with %q: %d %s, want %d %s", w.remote, w.bearer, status, code, w.status, w.code)
				}
			}
		})
	}
}

// Every metric the shipped Grafana dashboard queries, and every label it
// filters or groups by, is in a real scrape.
func TestDashboardQueriesExistInAScrape(t *testing.T) {
	h, _ := workedHarness(t)
	// Nothing fetches OAuth tokens yet (client credentials are on their way);
	// count one through the hook that work will call, so the series exists.
	h.app.Metrics().TokenFetch("jira", "success")
	s := parseSamples(t, h.scrapeText())
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Type  string
				Query any
			}
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok && v.Type == "query" {
			exprs = append(exprs, q["query"].(string))
		}
	}
	if len(exprs) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	metricsSeen := 0
	for _, e := range exprs {
		metricsSeen += checkQuery(t, e, s)
	}
	t.Logf("%d queries, %d metric references checked", len(exprs), metricsSeen)
}

var (
	promFunctions = []string{"sum", "max", "min", "avg", "count", "rate", "increase", "histogram_quantile", "label_values", "by", "without", "on", "ignoring"}
	rangeRE       = regexp.MustCompile(`\[[^\]]*\]`)
	byRE          = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	selectorRE    = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?`)
	matcherRE     = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	stringRE      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	labelValuesRE = regexp.MustCompile(`label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
)

// checkQuery checks the metric names and labels of one PromQL expression
// against a scrape; it returns how many metric references it checked.
func checkQuery(t *testing.T, expr string, s samples) int {
	t.Helper()
	// Labels Prometheus adds to every scraped series.
	known := func(name string) map[string]bool {
		l := map[string]bool{"job": true, "instance": true}
		for _, set := range s[name] {
			for k := range set {
				l[k] = true
			}
		}
		return l
	}
	var grouped []string
	if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
		expr, grouped = m[1], []string{m[2]}
	}
	e := rangeRE.ReplaceAllString(expr, "")
	for _, m := range byRE.FindAllStringSubmatch(e, -1) {
		for _, l := range strings.Split(m[1], ",") {
			grouped = append(grouped, strings.TrimSpace(l))
		}
	}
	e = byRE.ReplaceAllString(e, "")
	usable := map[string]bool{}
	n := 0
	for _, m := range selectorRE.FindAllStringSubmatch(e, -1) {
		name := m[1]
		if slices.Contains(promFunctions, name) {
			continue
		}
		n++
		if len(s[name]) == 0 {
			t.Errorf("%s: the dashboard queries %s, which a scrape does not have", expr, name)
			continue
		}
		labels := known(name)
		for k := range labels {
			usable[k] = true
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(stringRE.ReplaceAllString(m[2], `""`), -1) {
			if !labels[mm[1]] {
				t.Errorf("%s: %s has no label %s", expr, name, mm[1])
			}
		}
	}
	for _, l := range grouped {
		if !usable[l] {
			t.Errorf("%s: groups by %s, which none of its metrics has", expr, l)
		}
	}
	return n
}
