package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// cannedUpstream answers every request with one recorded answer of the
// simulated Atlassian, without a socket: what a proxied call costs in the
// server's own code is then all there is to measure.
type cannedUpstream struct {
	status int
	header http.Header
	body   []byte
}

func (c *cannedUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: c.header.Clone(), Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)),
		ProtoMajor: 1, ProtoMinor: 1, Request: r}, nil
}

// recordMyself is GET /myself of the simulated Atlassian, recorded once.
func recordMyself(tb testing.TB) *cannedUpstream {
	sim := atlassiansim.New()
	req := httptest.NewRequest("GET", "https://api.atlassian.com/ex/jira/"+atlassiansim.DemoCloudID+"/rest/api/3/myself", nil)
	req.SetBasicAuth(atlassiansim.DemoEmail, atlassiansim.DemoToken)
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	if rec.Code != 200 {
		tb.Fatalf("simulated /myself: %d %s", rec.Code, rec.Body)
	}
	return &cannedUpstream{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
}

// discardWriter is the cheapest ResponseWriter: the server's own writer is
// not what is measured.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discardWriter) reset() {
	for k := range w.h {
		delete(w.h, k)
	}
	w.status, w.n = 0, 0
}

// BenchmarkProxyCall is one proxied GET /myself through latchkey's whole
// handler (request id, access log, security headers, CORS, the key check, the
// proxy with its retries, metrics and the operation log) next to the floor (a
// bare httputil.ReverseProxy adding Basic auth), both over the same in-memory
// upstream and without sockets: the difference is what latchkey's own code
// costs per call. Run with -benchmem:
//
//	go test ./internal/app -run XXX -bench ProxyCall -benchmem
func BenchmarkProxyCall(b *testing.B) {
	up := recordMyself(b)
	path := "/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/myself"
	b.Run("floor", func(b *testing.B) {
		u, _ := url.Parse("https://api.atlassian.com")
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(atlassiansim.DemoEmail+":"+atlassiansim.DemoToken))
		rp := &httputil.ReverseProxy{Transport: up, FlushInterval: -1, Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Header.Set("Authorization", auth)
		}}
		runProxyCalls(b, rp, path, nil)
	})
	b.Run("latchkey", func(b *testing.B) {
		a, h := benchApp(b, up)
		runProxyCalls(b, h, "/proxy"+path, http.Header{"Authorization": {"Bearer " + testSecretKey}, "Provider-Config-Key": {"jira"}, "Connection-Id": {"bench"}})
		a.FlushEvents()
	})
}

// BenchmarkCredentialReadCall is GET /connections/{id} with its credentials
// through latchkey's whole handler, without sockets, on SQLite (and on
// PostgreSQL with LATCHKEY_TEST_DATABASE_URL: CredentialReadCall/postgres).
func BenchmarkCredentialReadCall(b *testing.B) {
	up := recordMyself(b)
	b.Run("sqlite", func(b *testing.B) {
		_, h := benchApp(b, up)
		runProxyCalls(b, h, "/connections/bench?provider_config_key=jira", http.Header{"Authorization": {"Bearer " + testSecretKey}})
	})
	b.Run("postgres", func(b *testing.B) {
		_, h := benchApp(b, up, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(b))
		runProxyCalls(b, h, "/connections/bench?provider_config_key=jira", http.Header{"Authorization": {"Bearer " + testSecretKey}})
	})
}

// benchApp is a latchkey configured as the bench harness runs it (log level
// error) over the in-memory upstream, with integration "jira" and its
// connection "bench".
func benchApp(b *testing.B, up http.RoundTripper, extraEnv ...string) (*app.App, http.Handler) {
	env := map[string]string{"LATCHKEY_DATA_DIR": b.TempDir(), "LATCHKEY_SECRET_KEY": testSecretKey, "LATCHKEY_LOG_LEVEL": "error", "LATCHKEY_LOG_FORMAT": "json"}
	for _, kv := range extraEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.NewLogger(cfg, io.Discard), app.Deps{Transport: up})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	h := a.Handler()
	call := func(method, target, body string) {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testSecretKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
	}
	call("POST", "/integrations", `{"provider":"`+atlassian+`","unique_key":"jira"}`)
	call("POST", "/connections", `{"provider_config_key":"jira","connection_id":"bench","credentials":{"type":"BASIC","username":"`+atlassiansim.DemoEmail+
		`","password":"`+atlassiansim.DemoToken+`"},"connection_config":{"cloudId":"`+atlassiansim.DemoCloudID+`"}}`)
	return a, h
}

func runProxyCalls(b *testing.B, h http.Handler, target string, header http.Header) {
	req := httptest.NewRequest("GET", "http://127.0.0.1:3003"+target, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(context.Background())
		for k, v := range header {
			r.Header[k] = v
		}
		w.reset()
		h.ServeHTTP(w, r)
		if w.status != 200 && w.status != 0 || w.n == 0 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}
