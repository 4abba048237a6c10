package provider

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
)

// ErrUnsafeURL means a value would have changed where a request goes: another
// host or scheme, or a path outside the provider's base path.
var ErrUnsafeURL = errors.New("unsafe URL")

var urlValueRE = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// urlValue admits a connection-config value into a URL only if it is a plain
// token: no slash, dot-segment, @, colon or anything else that could move the
// request to another host or path.
func urlValue(v string) (string, error) {
	if !urlValueRE.MatchString(v) || v == "." || v == ".." {
		return "", fmt.Errorf("%w: value %q cannot be placed in a URL", ErrUnsafeURL, truncate(v, 40))
	}
	return v, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ResolveBaseURL interpolates the base URL (override first, else proxy.base_url)
// with the connection's values.
func (p *Provider) ResolveBaseURL(override string, vars Vars) (*url.URL, error) {
	tmpl := override
	if tmpl == "" && p.Proxy != nil {
		tmpl = p.Proxy.BaseURL
	}
	if tmpl == "" {
		return nil, fmt.Errorf("provider %s has no base URL", p.Name)
	}
	s, err := interpolateURL(tmpl, vars)
	if err != nil {
		return nil, err
	}
	u, ok := httpx.ParseHTTPURL(strings.TrimRight(s, "/"))
	if !ok || u.User != nil || u.Fragment != "" || !plainHost(u.Host) {
		return nil, fmt.Errorf("%w: base URL %q is not an absolute http(s) URL", ErrUnsafeURL, s)
	}
	return u, nil
}

// plainHost reports whether host (as url.Parse decoded it) is a name, an IPv4
// address or a bracketed IPv6 one, with an optional port: no escapes, no
// other bytes (a template's "%80" decodes to a byte no resolver takes).
func plainHost(host string) bool {
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:[]", c) >= 0) {
			return false
		}
	}
	return host != ""
}

// interpolateURL places the connection's values in a URL template, each
// checked by urlValue (the first unsafe value is the error).
func interpolateURL(tmpl string, vars Vars) (string, error) {
	var badValue error
	s, err := Interpolate(tmpl, vars, func(v string) string {
		safe, err := urlValue(v)
		if err != nil && badValue == nil {
			badValue = err
		}
		return safe
	})
	if err != nil {
		return "", err
	}
	return s, badValue
}

// JoinEndpoint appends endpoint (a path with an optional query) to base. It refuses
// an endpoint that names its own scheme or host, or whose path would climb out of
// base's path (.., encoded or not, backslashes).
func JoinEndpoint(base *url.URL, endpoint string) (*url.URL, error) {
	if strings.Contains(endpoint, "\\") || strings.HasPrefix(endpoint, "//") {
		return nil, fmt.Errorf("%w: endpoint %q", ErrUnsafeURL, truncate(endpoint, 60))
	}
	ep, err := url.Parse(endpoint)
	if err != nil || ep.Scheme != "" || ep.Host != "" || ep.User != nil || ep.Opaque != "" {
		return nil, fmt.Errorf("%w: endpoint %q must be a path", ErrUnsafeURL, truncate(endpoint, 60))
	}
	if err := checkEndpointPath(ep.Path, func() string { return endpoint }); err != nil {
		return nil, err
	}
	u, err := joinPath(base, ep.EscapedPath())
	if err != nil {
		return nil, err
	}
	u.RawQuery = ep.RawQuery
	return u, nil
}

// JoinRequestURL is JoinEndpoint for an endpoint already parsed (a request's
// escaped path and raw query, as net/http read them), without parsing it again.
func JoinRequestURL(base *url.URL, escapedPath, rawQuery string) (*url.URL, error) {
	if !strings.HasPrefix(escapedPath, "/") || strings.Contains(rawQuery, "#") {
		endpoint := escapedPath
		if rawQuery != "" {
			endpoint += "?" + rawQuery
		}
		return JoinEndpoint(base, endpoint)
	}
	endpoint := func() string { // for messages only
		if rawQuery == "" {
			return escapedPath
		}
		return escapedPath + "?" + rawQuery
	}
	if strings.Contains(escapedPath, "\\") || strings.Contains(rawQuery, "\\") || strings.HasPrefix(escapedPath, "//") {
		return nil, fmt.Errorf("%w: endpoint %q", ErrUnsafeURL, truncate(endpoint(), 60))
	}
	path, err := url.PathUnescape(escapedPath)
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %q must be a path", ErrUnsafeURL, truncate(endpoint(), 60))
	}
	if err := checkEndpointPath(path, endpoint); err != nil {
		return nil, err
	}
	u, err := joinPath(base, escapedPath)
	if err != nil {
		return nil, err
	}
	u.RawQuery = rawQuery
	return u, nil
}

// checkEndpointPath judges an endpoint's decoded path: %2e%2e, %2f and %5c
// must not sneak through.
func checkEndpointPath(path string, endpoint func() string) error {
	if strings.Contains(path, "\\") || strings.HasPrefix(path, "//") {
		return fmt.Errorf("%w: endpoint %q", ErrUnsafeURL, truncate(endpoint(), 60))
	}
	for rest := path; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == ".." || seg == "." {
			return fmt.Errorf("%w: endpoint %q contains a dot segment", ErrUnsafeURL, truncate(endpoint(), 60))
		}
	}
	return nil
}

// joinPath appends an escaped endpoint path to base's path.
func joinPath(base *url.URL, epPath string) (*url.URL, error) {
	// A backslash in the base's own path (a provider entry's base_url) is
	// refused like one in the endpoint: some servers read it as a slash.
	if strings.Contains(base.Path, `\`) {
		return nil, fmt.Errorf("%w: base URL path %q has a backslash", ErrUnsafeURL, truncate(base.EscapedPath(), 60))
	}
	basePath := strings.TrimRight(base.EscapedPath(), "/") // escaped, like epPath: joined is unescaped once
	// Nango accepts an endpoint that already starts with the base path.
	if basePath != "" && (epPath == basePath || strings.HasPrefix(epPath, basePath+"/")) {
		epPath = strings.TrimPrefix(epPath, basePath)
	}
	joined := basePath + "/" + strings.TrimLeft(epPath, "/")
	u := &url.URL{Scheme: base.Scheme, Host: base.Host}
	if err := setEscapedPath(u, joined); err != nil {
		return nil, err
	}
	return u, nil
}

func setEscapedPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return fmt.Errorf("%w: path %q", ErrUnsafeURL, truncate(escaped, 60))
	}
	u.Path = p
	if u.EscapedPath() != escaped {
		u.RawPath = escaped
	}
	return nil
}

// PathValue escapes a value for one path segment of a built-in request.
func PathValue(v string) (string, error) { return urlValue(v) }

// CredentialVars exposes credentials to templates (never logged).
func CredentialVars(c domain.Credentials) map[string]any {
	m := map[string]any{}
	for k, v := range map[string]string{"username": c.Username, "password": c.Password, "apiKey": c.APIKey, "token": c.Token, "accessToken": c.Token,
		"client_id": c.ClientID, "client_secret": c.ClientSecret} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// AuthHeaders returns the headers that authenticate a call with these credentials:
// BASIC → Authorization: Basic, OAUTH2_CC → Bearer, then the provider's interpolated
// proxy.headers (a header whose template cannot be resolved is left out when it
// mentions connectionConfig, and is an error otherwise).
func (p *Provider) AuthHeaders(c domain.Credentials, vars Vars) (http.Header, error) {
	h := http.Header{}
	switch c.Type {
	case domain.AuthModeBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)))
	case domain.AuthModeOAuth2CC:
		if c.Token != "" {
			h.Set("Authorization", "Bearer "+c.Token)
		}
	}
	if p.Proxy != nil {
		for name, tmpl := range p.Proxy.Headers {
			v, err := Interpolate(tmpl, vars, nil)
			if err != nil {
				if strings.Contains(tmpl, "connectionConfig") {
					continue
				}
				return nil, fmt.Errorf("header %s: %w", name, err)
			}
			h.Set(name, v)
		}
	}
	return h, nil
}
