package provider

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

func ccEntry(t *testing.T, yaml string) *Provider {
	t.Helper()
	c, err := Load("http://x", []byte("x:\n  display_name: X\n  auth_mode: OAUTH2_CC\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Get("x")
	if !p.Supported() {
		t.Fatalf("unsupported: %s", p.Unsupported)
	}
	return p
}

var ccCreds = domain.Credentials{Type: domain.AuthModeOAuth2CC, ClientID: "cid", ClientSecret: "s3cr:et"}

func TestTokenRequestShapes(t *testing.T) {
	cfg := map[string]any{"tenant": "acme"}
	// Defaults: form body with client_id and client_secret, token_params interpolated.
	p := ccEntry(t, "  token_url: https://${connectionConfig.tenant}.auth.test/oauth/token\n  token_params:\n    grant_type: client_credentials\n    audience: https://api.${connectionConfig.tenant}.test\n")
	r, err := p.BuildTokenRequest(ccCreds, cfg, TokenRequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	form, _ := url.ParseQuery(string(r.Body))
	if r.URL.String() != "https://acme.auth.test/oauth/token" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		form.Get("grant_type") != "client_credentials" || form.Get("audience") != "https://api.acme.test" || form.Get("client_id") != "cid" || form.Get("client_secret") != "s3cr:et" {
		t.Errorf("form request: %s %v %s", r.URL, r.Header, r.Body)
	}
	if r.Header.Get("Authorization") != "" {
		t.Error("no auth method: credentials go in the body, not a header")
	}

	// basic + json + scopes with a separator + token_headers.
	p = ccEntry(t, "  token_url: https://auth.test/token\n  token_request_auth_method: basic\n  body_format: json\n  default_scopes:\n    - a.read\n    - b.write\n  scope_separator: ','\n  token_headers:\n    x-tenant: ${connectionConfig.tenant}\n")
	r, err = p.BuildTokenRequest(ccCreds, cfg, TokenRequestOptions{Params: map[string]string{"resource": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.Unmarshal(r.Body, &body)
	if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("cid:s3cr:et")) || r.Header.Get("Content-Type") != "application/json" ||
		body["scope"] != "a.read,b.write" || body["resource"] != "r1" || body["client_secret"] != "" || r.Header.Get("X-Tenant") != "acme" {
		t.Errorf("basic json request: %v %s", r.Header, r.Body)
	}

	// custom: username/password; query: everything in the URL.
	p = ccEntry(t, "  token_url: https://auth.test/token?v=2\n  token_request_auth_method: custom\n  body_format: query\n")
	r, err = p.BuildTokenRequest(ccCreds, cfg, TokenRequestOptions{Scopes: []string{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	q := r.URL.Query()
	if len(r.Body) != 0 || q.Get("v") != "2" || q.Get("username") != "cid" || q.Get("password") != "s3cr:et" || q.Get("scope") != "x y" {
		t.Errorf("custom query request: %s body %q", r.URL, r.Body)
	}

	// A connection value cannot move the token request to another host.
	p = ccEntry(t, "  token_url: https://${connectionConfig.tenant}.auth.test/token\n")
	if _, err := p.BuildTokenRequest(ccCreds, map[string]any{"tenant": "evil.com/x"}, TokenRequestOptions{}); err == nil {
		t.Error("a tenant with a slash was placed in the token URL")
	}
	if _, err := p.BuildTokenRequest(ccCreds, nil, TokenRequestOptions{}); err == nil || !strings.Contains(err.Error(), "connectionConfig.tenant") {
		t.Errorf("missing tenant: %v", err)
	}
	// A || fallback takes the first alternative that resolves.
	p = ccEntry(t, "  token_url: https://${connectionConfig.region}.auth.test/token || https://auth.test/token\n")
	if r, err := p.BuildTokenRequest(ccCreds, nil, TokenRequestOptions{}); err != nil || r.URL.Host != "auth.test" {
		t.Errorf("fallback: %v %v", r, err)
	}
}

func TestTokenResponses(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := ccEntry(t, "  token_url: https://auth.test/token\n")
	ms := ccEntry(t, "  token_url: https://auth.test/token\n  expires_in_unit: milliseconds\n")
	cases := []struct {
		p       *Provider
		body    string
		token   string
		expires time.Time
	}{
		{p, `{"access_token":"a1","expires_in":3600,"token_type":"Bearer"}`, "a1", now.Add(time.Hour)},
		{p, `{"data":{"token":"d1"},"expires_in":"120"}`, "d1", now.Add(2 * time.Minute)},
		{p, `{"jwt":"j1"}`, "j1", now.Add(DefaultTokenLifetime)},
		{p, `{"access_token":"a2","expires_at":"2026-03-01T13:30:00Z"}`, "a2", now.Add(90 * time.Minute)},
		{p, `{"access_token":"a3","expires_at":1772373600}`, "a3", time.Unix(1772373600, 0).UTC()},
		{ms, `{"access_token":"m1","expires_in":600000}`, "m1", now.Add(10 * time.Minute)},
	}
	for _, tc := range cases {
		tok, err := tc.p.ParseTokenResponse([]byte(tc.body), now)
		if err != nil || tok.AccessToken != tc.token || !tok.ExpiresAt.Equal(tc.expires) || tok.Raw == nil {
			t.Errorf("%s: %+v %v, want %s until %s", tc.body, tok, err, tc.token, tc.expires)
		}
	}
	for _, bad := range []string{`{"token_type":"Bearer"}`, `[]`, `nope`} {
		if _, err := p.ParseTokenResponse([]byte(bad), now); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestTokenBuffer(t *testing.T) {
	p := ccEntry(t, "  token_url: https://auth.test/token\n")
	if b := p.TokenBuffer(time.Hour); b != DefaultTokenBuffer {
		t.Errorf("default buffer %v", b)
	}
	if b := p.TokenBuffer(10 * time.Minute); b != 5*time.Minute {
		t.Errorf("a 10-minute token is replaced after half its life, not every call: %v", b)
	}
	p = ccEntry(t, "  token_url: https://auth.test/token\n  token_expiration_buffer: 300\n")
	if b := p.TokenBuffer(time.Hour); b != 5*time.Minute {
		t.Errorf("entry buffer %v", b)
	}
}
