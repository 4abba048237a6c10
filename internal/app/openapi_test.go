package app_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/latchkeyhq/latchkey/internal/httpapi"
)

// proxyMethods are the methods the document lists for the proxy, whose route
// takes any method.
var proxyMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// Every route registered on the router is in the OpenAPI document (or in the
// commented list of browser routes it leaves out), and every operation of the
// document is served: adding a route without documenting it, or documenting
// one that does not exist, fails here.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	h := newHarness(t)
	api, ok := h.app.Handler().(*httpapi.API)
	if !ok {
		t.Fatalf("the app's handler is %T, not *httpapi.API", h.app.Handler())
	}
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}

	served := map[string]bool{}
	for _, rt := range api.Routes() {
		if _, skip := notInDocument[rt.Pattern]; skip {
			continue
		}
		if _, p, _ := strings.Cut(rt.Pattern, " "); consoleRoute(p) || consoleRoute(rt.Pattern) {
			continue // the operator's console: HTML, not the JSON API
		}
		method, path, hasMethod := strings.Cut(rt.Pattern, " ")
		if !hasMethod {
			method, path = "", rt.Pattern
		}
		path = strings.ReplaceAll(path, "...}", "}")
		var ops []string
		switch {
		case path == "/proxy/" && method == "":
			for _, m := range proxyMethods {
				ops = append(ops, m+" /proxy/{endpoint}")
			}
		case method == "":
			t.Errorf("route %q takes any method: list its methods here and in the document", rt.Pattern)
			continue
		default:
			ops = []string{method + " " + path}
		}
		for _, op := range ops {
			served[op] = true
			if !documented[op] {
				t.Errorf("route %s (%s) is served but not in the OpenAPI document", op, rt.Access)
			}
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("the OpenAPI document lists %s, which latchkey does not serve", op)
		}
	}
	for pattern := range notInDocument {
		if !slices.ContainsFunc(api.Routes(), func(r httpapi.Route) bool { return r.Pattern == pattern }) {
			t.Errorf("notInDocument lists %q, which is no longer a route", pattern)
		}
	}
	if len(served) < 40 {
		ops := make([]string, 0, len(served))
		for op := range served {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		t.Errorf("only %d operations served: %v", len(served), ops)
	}
}

// The security of each operation matches the access level its route is
// registered with.
func TestOpenAPISecurityMatchesRoutes(t *testing.T) {
	h := newHarness(t)
	api := h.app.Handler().(*httpapi.API)
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	want := map[httpapi.Access][]string{
		httpapi.Public:              nil,
		httpapi.SecretKey:           {"secretKey"},
		httpapi.SessionToken:        {"connectSessionToken"},
		httpapi.SecretKeyOrSession:  {"secretKey", "connectSessionToken"},
		httpapi.SessionTokenInQuery: {"connectSessionTokenQuery"},
	}
	for _, rt := range api.Routes() {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			method, path = http.MethodGet, "/proxy/{endpoint}"
			if rt.Pattern != "/proxy/" {
				continue
			}
		}
		item := doc.Paths.Find(strings.ReplaceAll(path, "...}", "}"))
		if item == nil || item.GetOperation(method) == nil {
			continue // TestOpenAPIListsEveryRoute reports it
		}
		var got []string
		for _, req := range *item.GetOperation(method).Security {
			for name := range req {
				got = append(got, name)
			}
		}
		expected := want[rt.Access]
		if rt.Pattern == "GET /metrics" {
			expected = []string{"metricsToken"} // a public route with a credential of its own (LATCHKEY_METRICS_TOKEN), optional
		}
		if !slices.Equal(got, expected) {
			t.Errorf("%s is registered %s; the document's security is %v, want %v", rt.Pattern, rt.Access, got, expected)
		}
	}
}

// /openapi.json is the same document as /openapi.yaml.
func TestOpenAPIServedAsYAMLAndJSON(t *testing.T) {
	h := newHarness(t)
	status, yml, hdr := h.raw("GET", "/openapi.yaml", "", "", "")
	if status != 200 || hdr.Get("Content-Type") != "application/yaml" {
		t.Fatalf("openapi.yaml: %d %s", status, hdr.Get("Content-Type"))
	}
	status, js, hdr := h.raw("GET", "/openapi.json", "", "", "")
	if status != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", status, hdr.Get("Content-Type"))
	}
	fromYAML, err := openapi3.NewLoader().LoadFromData([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := openapi3.NewLoader().LoadFromData([]byte(js))
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	a, _ := fromYAML.MarshalJSON()
	b, _ := fromJSON.MarshalJSON()
	if string(a) != string(b) {
		t.Error("openapi.json and openapi.yaml differ")
	}
	if fromJSON.Paths.Len() != fromYAML.Paths.Len() || fromJSON.OpenAPI != "3.1.0" {
		t.Errorf("openapi.json: %s, %d paths", fromJSON.OpenAPI, fromJSON.Paths.Len())
	}
}

// /docs/api renders every operation and schema on the server: no script,
// nothing loaded from another origin, and a CSP whose only allowance is the
// hash of the page's own stylesheet.
func TestAPIReferencePage(t *testing.T) {
	h := newHarness(t)
	status, page, hdr := h.raw("GET", "/docs/api", "", "", "")
	if status != 200 || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("/docs/api: %d %s", status, hdr.Get("Content-Type"))
	}
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "<link", " src=", "<iframe", "@import", "url("} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	csp := hdr.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q", csp)
	}
	start, end := strings.Index(page, "<style>"), strings.Index(page, "</style>")
	if start < 0 || end < start {
		t.Fatal("no stylesheet")
	}
	sum := sha256.Sum256([]byte(page[start+len("<style>") : end]))
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q does not allow the page's stylesheet (%s)", csp, want)
	}
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.Contains(page, `id="op-`+op.OperationID+`"`) || !strings.Contains(page, html.EscapeString(path)) {
				t.Errorf("%s %s (%s) is not on the page", method, path, op.OperationID)
			}
		}
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("schema %s is not on the page", name)
		}
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	frontBytes, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if front := string(frontBytes); res.StatusCode != 200 || !strings.Contains(front, `href="/docs/api"`) {
		t.Errorf("the front door (GET /): %d %q", res.StatusCode, front)
	}
	if status, body, _ := h.raw("GET", "/nothing-here", "", "", ""); status != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("GET /nothing-here: %d %s", status, body)
	}
	for _, want := range []string{"invalid_credentials", "Differs from Nango", `href="/openapi.yaml"`, "712020:demo-bot", "<details><summary>example</summary>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not mention %s", want)
		}
	}
}
