package provider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// TokenURL is providers.yaml's token_url: a URL template, or a mapping of auth
// modes to URL templates (the entry's OAUTH2_CC one is used).
type TokenURL struct {
	URL string
	// ByMode is set when the YAML gave a mapping.
	ByMode map[string]string
}

// UnmarshalYAML accepts a scalar or a mapping of auth modes to URLs.
func (t *TokenURL) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.URL = n.Value
		return nil
	}
	return n.Decode(&t.ByMode)
}

// For returns the token URL template of an auth mode.
func (t TokenURL) For(mode string) string {
	if t.ByMode != nil {
		return t.ByMode[mode]
	}
	return t.URL
}

// Strings is a mapping whose values are scalars of any type (numbers and
// booleans are kept as YAML wrote them).
type Strings map[string]string

// UnmarshalYAML decodes a mapping of scalars.
func (s *Strings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping", n.Line)
	}
	out := Strings{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s must be a single value", v.Line, n.Content[i].Value)
		}
		out[n.Content[i].Value] = v.Value
	}
	*s = out
	return nil
}

// Token request options latchkey implements.
const (
	AuthMethodBasic         = "basic"
	AuthMethodCustom        = "custom"
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// oauth2ccProblem says why an OAUTH2_CC entry cannot be served, or "".
func (p *Provider) oauth2ccProblem() string {
	tmpl := p.TokenURL.For(domain.AuthModeOAuth2CC)
	switch {
	case p.TokenURL.ByMode != nil && tmpl == "":
		return "token_url has no OAUTH2_CC entry"
	case tmpl == "":
		return "token_url is required for OAUTH2_CC"
	case p.TokenRequestAuthMethod == AuthMethodPrivateKeyJWT:
		return "token_request_auth_method private_key_jwt (a signed client assertion) is not supported yet"
	case p.TokenRequestAuthMethod != "" && p.TokenRequestAuthMethod != AuthMethodBasic && p.TokenRequestAuthMethod != AuthMethodCustom:
		return fmt.Sprintf("token_request_auth_method %q is not one of basic, custom", p.TokenRequestAuthMethod)
	case p.RequireClientCertificate:
		return "require_client_certificate (mutual TLS with a client certificate) is not supported yet"
	case p.BodyFormat != "" && p.BodyFormat != "form" && p.BodyFormat != "json" && p.BodyFormat != "query":
		return fmt.Sprintf("body_format %q is not supported (latchkey sends form, json or query)", p.BodyFormat)
	case p.ExpiresInUnit != "" && p.ExpiresInUnit != "seconds" && p.ExpiresInUnit != "milliseconds":
		return fmt.Sprintf("expires_in_unit %q is not seconds or milliseconds", p.ExpiresInUnit)
	}
	for _, alt := range alternatives(tmpl) {
		if !templateIsURL(alt) {
			return fmt.Sprintf("token_url %q is not an absolute http(s) URL with a fixed origin", alt)
		}
	}
	return ""
}

// TokenRequest is a client-credentials token request, ready to send. It
// carries the client secret: never log it.
type TokenRequest struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// TokenRequestOptions add to what the entry itself says.
type TokenRequestOptions struct {
	// Scopes replace the entry's default_scopes when not nil.
	Scopes []string
	// Params are extra body parameters (a connect session's authorization_params).
	Params map[string]string
}

// BuildTokenRequest builds the request that exchanges client credentials for
// an access token, as the entry describes it: token_url (with ${…} from the
// connection config and credentials), token_params, the scopes joined by
// scope_separator, the client's authentication (token_request_auth_method:
// basic → an Authorization header; custom → username/password parameters;
// unset → client_id/client_secret parameters), in the body_format (form, json,
// or query: parameters in the URL), with token_headers.
func (p *Provider) BuildTokenRequest(c domain.Credentials, cfg map[string]any, o TokenRequestOptions) (*TokenRequest, error) {
	if reason := p.oauth2ccProblem(); reason != "" {
		return nil, errors.New(reason)
	}
	vars := Vars{ConnectionConfig: cfg, Credentials: CredentialVars(c)}
	raw, err := interpolateURL(p.TokenURL.For(domain.AuthModeOAuth2CC), vars)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: token URL %q is not an absolute http(s) URL", ErrUnsafeURL, raw)
	}
	params := map[string]string{}
	for k, tmpl := range p.TokenParams {
		v, err := Interpolate(tmpl, vars, nil)
		if err != nil {
			return nil, fmt.Errorf("token_params.%s: %w", k, err)
		}
		params[k] = v
	}
	scopes := []string(p.DefaultScopes)
	if o.Scopes != nil {
		scopes = o.Scopes
	}
	if len(scopes) > 0 {
		sep := p.ScopeSeparator
		if sep == "" {
			sep = " "
		}
		params["scope"] = strings.Join(scopes, sep)
	}
	for k, v := range o.Params {
		params[k] = v
	}
	h := http.Header{}
	switch p.TokenRequestAuthMethod {
	case AuthMethodBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.ClientID+":"+c.ClientSecret)))
	case AuthMethodCustom:
		params["username"], params["password"] = c.ClientID, c.ClientSecret
	default:
		params["client_id"] = c.ClientID
		if c.ClientSecret != "" {
			params["client_secret"] = c.ClientSecret
		}
	}
	req := &TokenRequest{Method: http.MethodPost, URL: u, Header: h}
	switch p.BodyFormat {
	case "json":
		req.Body, _ = json.Marshal(params)
		h.Set("Content-Type", "application/json")
	case "query":
		q := u.Query()
		for _, k := range sortedKeys(params) {
			q.Set(k, params[k])
		}
		u.RawQuery = q.Encode()
	default:
		form := url.Values{}
		for k, v := range params {
			form.Set(k, v)
		}
		req.Body = []byte(form.Encode())
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	h.Set("Accept", "application/json")
	for name, tmpl := range p.TokenHeaders {
		v, err := Interpolate(tmpl, vars, nil)
		if err != nil {
			return nil, fmt.Errorf("token_headers.%s: %w", name, err)
		}
		h.Set(name, v)
	}
	return req, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NewHTTPRequest turns a TokenRequest into an *http.Request.
func (t *TokenRequest) NewHTTPRequest() (*http.Request, error) {
	req, err := http.NewRequest(t.Method, t.URL.String(), bytes.NewReader(t.Body))
	if err != nil {
		return nil, err
	}
	req.Header = t.Header.Clone()
	return req, nil
}

// Token is an access token obtained with client credentials.
type Token struct {
	AccessToken string
	ExpiresAt   time.Time
	// Raw is the token endpoint's JSON answer.
	Raw map[string]any
}

// DefaultTokenLifetime is assumed when a token response names no expiry.
const DefaultTokenLifetime = 55 * time.Minute

// ErrNoToken means a token response carried no access token.
var ErrNoToken = errors.New("the token response has no access_token, data.token or jwt")

// ParseTokenResponse reads a token endpoint's 2xx JSON answer: the token from
// access_token, data.token or jwt; the expiry from expires_at, else
// expires_in (seconds, or milliseconds with expires_in_unit: milliseconds),
// else DefaultTokenLifetime from now.
func (p *Provider) ParseTokenResponse(body []byte, now time.Time) (*Token, error) {
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil || raw == nil {
		return nil, fmt.Errorf("the token response is not a JSON object")
	}
	t := &Token{Raw: raw}
	for _, path := range []string{"access_token", "data.token", "jwt"} {
		if s, ok := lookupPath(raw, path).(string); ok && s != "" {
			t.AccessToken = s
			break
		}
	}
	if t.AccessToken == "" {
		return nil, ErrNoToken
	}
	t.ExpiresAt = now.Add(DefaultTokenLifetime)
	if at, ok := timeValue(raw["expires_at"]); ok {
		t.ExpiresAt = at
	} else if n, ok := numberValue(raw["expires_in"]); ok && n > 0 {
		unit := time.Second
		if p.ExpiresInUnit == "milliseconds" {
			unit = time.Millisecond
		}
		t.ExpiresAt = now.Add(time.Duration(n * float64(unit)))
	}
	t.ExpiresAt = t.ExpiresAt.UTC()
	return t, nil
}

func lookupPath(m map[string]any, path string) any {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[part]
	}
	return cur
}

func numberValue(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

func timeValue(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339, x); err == nil {
			return t, true
		}
		if n, err := strconv.ParseFloat(x, 64); err == nil {
			return epoch(n), true
		}
	case json.Number:
		if n, err := x.Float64(); err == nil {
			return epoch(n), true
		}
	}
	return time.Time{}, false
}

// epoch reads seconds, or milliseconds when the number is too large to be seconds.
func epoch(n float64) time.Time {
	if n > 1e11 {
		return time.UnixMilli(int64(n))
	}
	return time.Unix(int64(n), 0)
}

// DefaultTokenBuffer is how long before expiry a token is fetched again when
// the entry does not say (token_expiration_buffer).
const DefaultTokenBuffer = 15 * time.Minute

// TokenBuffer is how long before its expiry a token of this provider is
// replaced. It is at most half of the token's lifetime, so a short-lived token
// is not fetched again on every use.
func (p *Provider) TokenBuffer(lifetime time.Duration) time.Duration {
	b := DefaultTokenBuffer
	if p.TokenExpirationBuffer > 0 {
		b = time.Duration(p.TokenExpirationBuffer) * time.Second
	}
	if lifetime > 0 && b > lifetime/2 {
		b = lifetime / 2
	}
	return b
}
