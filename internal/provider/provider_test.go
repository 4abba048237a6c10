package provider

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func builtin(t *testing.T) *Catalogue {
	t.Helper()
	c, err := Load("https://auth.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuiltinCatalogue(t *testing.T) {
	c := builtin(t)
	var names []string
	for _, p := range c.All() {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "atlassian-service-account-api-token,atlassian-service-account-oauth2,confluence-basic,jira-basic" {
		t.Fatalf("names = %v", names)
	}
	p, _ := c.Get("atlassian-service-account-api-token")
	if p.AuthMode != "BASIC" || p.Proxy.BaseURL != "https://api.atlassian.com" || p.Proxy.Retry.At[0] != "x-ratelimit-reset" {
		t.Errorf("atlassian = %+v", p)
	}
	if p.DocsConnect != "https://auth.example.com/docs/connect/atlassian-service-account-api-token" {
		t.Errorf("docs_connect = %q", p.DocsConnect)
	}
	cloud, _ := p.ConnectionConfig.Get("cloudId")
	if p.DocURL(cloud) != p.DocsConnect+"#step-1-finding-your-cloud-id" || cloud.Format != "uuid" || cloud.Order != 1 {
		t.Errorf("cloudId = %+v", cloud)
	}
	// Field order is the YAML order.
	if p.Credentials[0].Name != "username" || p.Credentials[1].Name != "password" || !p.Credentials[1].Secret {
		t.Errorf("credentials order = %v, %v", p.Credentials[0].Name, p.Credentials[1].Name)
	}
	raw, _ := json.Marshal(p.Raw)
	if !strings.Contains(string(raw), `"credentials":{"username":{`) || !strings.Contains(string(raw), `"secret":true`) || !strings.Contains(string(raw), `"order":1`) {
		t.Errorf("raw JSON keeps neither order nor types: %s", raw)
	}
	if v, _ := p.Raw.Get("docs"); v != p.DocsConnect {
		t.Errorf("raw docs = %v", v)
	}
}

func TestExtraProvidersReplaceAndAlias(t *testing.T) {
	extra := []byte(`
jira-basic:
    display_name: Our Jira
    auth_mode: BASIC
    proxy:
        base_url: https://${connectionConfig.subdomain}.example.net
acme-api:
    display_name: Acme
    auth_mode: API_KEY
    proxy:
        base_url: https://api.acme.test
        headers:
            x-api-key: ${apiKey}
    credentials:
        apiKey:
            type: string
            title: Acme key
            pattern: ^ak_[a-z0-9]{8}$
acme-eu:
    alias: acme-api
    display_name: Acme (EU)
    proxy:
        base_url: https://eu.acme.test
`)
	c, err := Load("http://x", extra)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := c.Get("jira-basic")
	if j.DisplayName != "Our Jira" || len(j.ConnectionConfig) != 0 {
		t.Errorf("replaced jira-basic = %+v", j)
	}
	eu, _ := c.Get("acme-eu")
	if eu.AuthMode != "API_KEY" || eu.Proxy.BaseURL != "https://eu.acme.test" || eu.DisplayName != "Acme (EU)" || len(eu.Credentials) != 1 {
		t.Errorf("alias = %+v", eu)
	}
	if _, ok := c.Get("atlassian-service-account-api-token"); !ok {
		t.Error("built-ins lost")
	}
}

// Mistakes that can only be mistakes stop the load; the rest is loaded and
// reported: unsupported (with the reason) or served with notes.
func TestLoadRefusesOnlyMistakes(t *testing.T) {
	fatal := map[string]string{
		"alias":      "x:\n  alias: ghost\n",
		"alias loop": "a:\n  alias: c\nb:\n  alias: a\nc:\n  alias: b\n",
		"name":       "bad name:\n  display_name: X\n  auth_mode: BASIC\n",
		"YAML":       "x: [",
		"mapping":    "x: 3\n",
		"top level":  "- a\n- b\n",
	}
	// Aliases may chain (Nango's catalogue does): c gets a's auth mode through b.
	chain, err := Load("http://x", []byte("a:\n  display_name: A\n  auth_mode: API_KEY\nb:\n  alias: a\n  display_name: B\nc:\n  alias: b\n  display_name: C\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := chain.Get("c"); c.AuthMode != "API_KEY" || c.DisplayName != "C" || !c.Supported() {
		t.Errorf("alias chain: %+v", c)
	}
	for what, src := range fatal {
		if _, err := Load("http://x", []byte(src)); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	unsupported := map[string]string{
		"auth_mode OAUTH2 is not supported yet": "x:\n  display_name: X\n  auth_mode: OAUTH2\n",
		"auth_mode is missing":                  "x:\n  display_name: X\n",
		"display_name is missing":               "x:\n  auth_mode: BASIC\n",
		"proxy.base_url":                        "x:\n  display_name: X\n  auth_mode: BASIC\n  proxy:\n    base_url: ftp://x\n",
		"token_url is required":                 "x:\n  display_name: X\n  auth_mode: OAUTH2_CC\n",
		"private_key_jwt":                       "x:\n  display_name: X\n  auth_mode: OAUTH2_CC\n  token_url: https://t\n  token_request_auth_method: private_key_jwt\n",
		"require_client_certificate":            "x:\n  display_name: X\n  auth_mode: OAUTH2_CC\n  token_url: https://t\n  require_client_certificate: true\n",
		"body_format \"xml\"":                   "x:\n  display_name: X\n  auth_mode: OAUTH2_CC\n  token_url: https://t\n  body_format: xml\n",
		"token_url has no OAUTH2_CC entry":      "x:\n  display_name: X\n  auth_mode: OAUTH2_CC\n  token_url:\n    OAUTH2: https://t\n",
		"does not decode":                       "x:\n  display_name: X\n  auth_mode: BASIC\n  credentials:\n    password: [1, 2]\n",
	}
	for want, src := range unsupported {
		c, err := Load("http://x", []byte(src))
		if err != nil {
			t.Errorf("%s: refused: %v", want, err)
			continue
		}
		p, ok := c.Get("x")
		if !ok || p.Supported() || !strings.Contains(p.Unsupported, want) {
			t.Errorf("%s: entry %+v", want, p)
		}
		if r := c.Reports(); len(r) != 1 || r[0].Name != "x" {
			t.Errorf("%s: reports %+v", want, r)
		}
	}
	noted := map[string]string{
		"pattern is not checked": "x:\n  display_name: X\n  auth_mode: BASIC\n  credentials:\n    password:\n      pattern: '^(?!a)b$'\n",
		"format \"phone\"":       "x:\n  display_name: X\n  auth_mode: BASIC\n  credentials:\n    password:\n      format: phone\n",
	}
	for want, src := range noted {
		c, err := Load("http://x", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		p, _ := c.Get("x")
		if !p.Supported() || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], want) {
			t.Errorf("%s: supported=%v notes=%v", want, p.Supported(), p.Notes)
		}
		// The field is still checked for what latchkey can check.
		f, _ := p.Credentials.Get("password")
		if code, _ := f.Check("", true); code != "required" {
			t.Errorf("%s: empty value gives %q", want, code)
		}
	}
}

// The built-in catalogue is held to everything: a note would be a bug.
func TestBuiltinCatalogueHasNoReports(t *testing.T) {
	if r := builtin(t).Reports(); len(r) != 0 {
		t.Errorf("built-in reports: %+v", r)
	}
}

func TestFieldCheck(t *testing.T) {
	c := builtin(t)
	p, _ := c.Get("atlassian-service-account-api-token")
	cloud, _ := p.ConnectionConfig.Get("cloudId")
	user, _ := p.Credentials.Get("username")
	pass, _ := p.Credentials.Get("password")
	cases := []struct {
		f       *Field
		v       string
		present bool
		want    string
	}{
		{cloud, "1a11d016-8984-4c3e-b9ab-142dd06acb1b", true, ""},
		{cloud, "1A11D016-8984-4C3E-B9AB-142DD06ACB1B", true, ""},
		{cloud, "1a11d016898443e0b9ab142dd06acb1b", true, "invalid_format"},
		{cloud, "", true, "required"},
		{cloud, "", false, "required"},
		{user, "bot@serviceaccount.atlassian.com", true, ""},
		{user, "bot", true, "invalid_format"},
		{user, "Bot <bot@x.com>", true, "invalid_format"},
		{user, "bot@localhost", true, "invalid_format"},
		{pass, "ATSTT3xFfGF0demoTOKENforLATCHKEYdemo0123456789abcdefABCDEF_-=0A1B2C3D", true, ""},
		{pass, "ATSTT3xFfGF0demoTOKENforLATCHKEYdemo0123456789abcdefABCDEF_-=0A1B2C3", true, "invalid_format"},
		{pass, "short=0A1B2C3D", true, "invalid_format"},
		{pass, strings.Repeat("a", 1100), true, "too_long"},
		{&Field{Name: "region", Enum: []string{"eu", "us"}}, "ap", true, "invalid_value"},
		{&Field{Name: "host", Format: "hostname"}, "https://x.com", true, "invalid_format"},
		{&Field{Name: "u", Format: "uri"}, "example.com", true, "invalid_format"},
		{&Field{Name: "o", Optional: true}, "", false, ""},
		{&Field{Name: "d", DefaultValue: "x"}, "", false, ""},
	}
	for _, tc := range cases {
		code, msg := tc.f.Check(tc.v, tc.present)
		if code != tc.want {
			t.Errorf("%s=%q: code %q, want %q (%s)", tc.f.Name, tc.v, code, tc.want, msg)
		}
		if code != "" && (msg == "" || (tc.f.Secret && strings.Contains(msg, tc.v))) {
			t.Errorf("%s: message %q", tc.f.Name, msg)
		}
	}
}

func TestInterpolate(t *testing.T) {
	v := Vars{ConnectionConfig: map[string]any{"cloudId": "abc", "port": 8080.0, "nested": map[string]any{"x": "y"}},
		Credentials: map[string]any{"apiKey": "k1", "username": "u"}}
	cases := []struct{ tmpl, want, missing string }{
		{"https://api/ex/jira/${connectionConfig.cloudId}", "https://api/ex/jira/abc", ""},
		{"${apiKey}:${credentials.username}:${connectionConfig.port}:${connectionConfig.nested.x}", "k1:u:8080:y", ""},
		{"https://${connectionConfig.sub}.x || https://default.x", "https://default.x", ""},
		{"https://${connectionConfig.cloudId}.x || https://default.x", "https://abc.x", ""},
		{"https://${connectionConfig.sub}.x", "", "${connectionConfig.sub}"},
		{"${ connectionConfig.cloudId }", "abc", ""},
	}
	for _, tc := range cases {
		got, err := Interpolate(tc.tmpl, v, nil)
		if tc.missing != "" {
			var ue *UnresolvedError
			if !errors.As(err, &ue) || ue.Placeholders[0] != tc.missing {
				t.Errorf("%q: err %v, want unresolved %s", tc.tmpl, err, tc.missing)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func TestURLBuildingRefusesEscapes(t *testing.T) {
	c := builtin(t)
	jira, _ := c.Get("jira-basic")
	for _, bad := range []string{"evil.com/x", "a@evil.com", "..", "a:80", "a b", "a%2fb", ""} {
		if _, err := jira.ResolveBaseURL("", Vars{ConnectionConfig: map[string]any{"subdomain": bad}}); err == nil {
			t.Errorf("subdomain %q accepted", bad)
		}
	}
	base, err := jira.ResolveBaseURL("", Vars{ConnectionConfig: map[string]any{"subdomain": "acme"}})
	if err != nil || base.String() != "https://acme.atlassian.net" {
		t.Fatalf("base = %v, %v", base, err)
	}
	good := map[string]string{
		"/rest/api/3/myself":          "https://acme.atlassian.net/rest/api/3/myself",
		"rest/api/3/search?jql=a%3Db": "https://acme.atlassian.net/rest/api/3/search?jql=a%3Db",
		"/rest/api/3/issue/A%2FB":     "https://acme.atlassian.net/rest/api/3/issue/A%2FB",
	}
	for ep, want := range good {
		u, err := JoinEndpoint(base, ep)
		if err != nil || u.String() != want {
			t.Errorf("JoinEndpoint(%q) = %v, %v; want %s", ep, u, err, want)
		}
	}
	for _, bad := range []string{"//evil.com/x", "https://evil.com/x", "/a/../../etc", "/a/./b", `\\evil.com`, "/a/%2e%2e/b", "..", "javascript:alert(1)", "/%2F%2Fevil.com/x", "/a%5C..%5Cb", "/a\\b"} {
		if u, err := JoinEndpoint(base, bad); err == nil {
			t.Errorf("JoinEndpoint(%q) = %v, accepted", bad, u)
		}
	}
	// A base with a path: endpoints stay under it, and may repeat it.
	gw, _ := c.Get("atlassian-service-account-api-token")
	b2, _ := gw.ResolveBaseURL("https://api.example.com/v2", Vars{})
	if u, _ := JoinEndpoint(b2, "/v2/items"); u.String() != "https://api.example.com/v2/items" {
		t.Errorf("repeat base path: %v", u)
	}
}
