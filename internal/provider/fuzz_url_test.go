package provider_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/provider"
)

// FuzzJoinEndpoint: whatever endpoint a backend sends through /proxy, the URL
// latchkey calls has the base's scheme and host, a path under the base's path
// with no dot segment, and parses back to the same (what goes on the wire is
// what was checked).
func FuzzJoinEndpoint(f *testing.F) {
	for _, s := range [][2]string{
		{"https://acme.atlassian.net", "/rest/api/3/myself"},
		{"https://acme.atlassian.net", "rest/api/3/search?jql=a%3Db"},
		{"https://acme.atlassian.net", "/rest/api/3/issue/A%2FB"},
		{"https://api.example.com/v2", "/v2/items"},
		{"https://api.example.com/v2", "/v2/../admin"},
		{"https://api.example.com/v2", "/%2e%2e/admin"},
		{"https://api.example.com/v2", "//evil.com/x"},
		{"https://api.example.com/v2", "/%2F%2Fevil.com/x"},
		{"https://api.example.com/v2", "/a%5C..%5Cb"},
		{"https://api.example.com/v2", "https://evil.com/x"},
		{"https://api.example.com/v2", "/x?y=1#frag"},
		{"https://api.example.com/a%2541", "/x"},
		{"https://api.example.com/a%2Fb", "/x"},
		{"https://api.example.com/a%20b", "/a%20b/x"},
		{"http://127.0.0.1:8080/base/", "/base/x/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rawBase, endpoint string) {
		base, err := url.Parse(rawBase)
		if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.User != nil || base.Fragment != "" || base.RawQuery != "" || base.Opaque != "" {
			return // ResolveBaseURL never yields such a base
		}
		u, err := provider.JoinEndpoint(base, endpoint)
		if err != nil {
			if !errors.Is(err, provider.ErrUnsafeURL) {
				t.Errorf("JoinEndpoint(%q, %q): error %v is not ErrUnsafeURL", rawBase, endpoint, err)
			}
			return
		}
		// What the transport sends: parse the string form again.
		wire, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("JoinEndpoint(%q, %q) = %q, which does not parse: %v", rawBase, endpoint, u, err)
		}
		for _, v := range []*url.URL{u, wire} {
			if v.Scheme != base.Scheme || v.Host != base.Host || v.User != nil || v.Opaque != "" || v.Fragment != "" {
				t.Fatalf("JoinEndpoint(%q, %q) = %q: leaves the base's origin", rawBase, endpoint, v)
			}
			prefix := strings.TrimRight(base.EscapedPath(), "/") + "/"
			if p := v.EscapedPath(); !strings.HasPrefix(p, prefix) {
				t.Fatalf("JoinEndpoint(%q, %q) = %q: path %q is not under the base path %q", rawBase, endpoint, v, p, prefix)
			}
			prefix = strings.TrimRight(base.Path, "/") + "/"
			if !strings.HasPrefix(v.Path, prefix) {
				t.Fatalf("JoinEndpoint(%q, %q) = %q: decoded path %q is not under the base path %q", rawBase, endpoint, v, v.Path, prefix)
			}
			for _, seg := range strings.Split(strings.TrimPrefix(v.Path, prefix), "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("JoinEndpoint(%q, %q) = %q: dot segment after the base path", rawBase, endpoint, v)
				}
			}
			if strings.Contains(v.Path, `\`) {
				t.Fatalf("JoinEndpoint(%q, %q) = %q: backslash in the path", rawBase, endpoint, v)
			}
		}
		if wire.String() != u.String() {
			t.Errorf("JoinEndpoint(%q, %q) = %q, which reads back as %q", rawBase, endpoint, u, wire)
		}
	})
}

// FuzzJoinRequestURL: the proxy's way of joining (the request's path and
// query as net/http parsed them, not parsed again) gives what JoinEndpoint
// gives for the same endpoint: the same URL, or an error for both.
func FuzzJoinRequestURL(f *testing.F) {
	for _, s := range [][2]string{
		{"https://acme.atlassian.net", "/rest/api/3/myself"},
		{"https://acme.atlassian.net", "/rest/api/3/search?jql=a%3Db"},
		{"https://acme.atlassian.net", "/rest/api/3/issue/A%2FB"},
		{"https://api.example.com/v2", "/v2/items?a=1&b=%2F"},
		{"https://api.example.com/v2", "/%2e%2e/admin"},
		{"https://api.example.com/v2", "/%2F%2Fevil.com/x"},
		{"https://api.example.com/v2", "/a%5C..%5Cb"},
		{"https://api.example.com/v2", "/x?y=1#frag"},
		{"https://api.example.com/v2", "/x?y=\\"},
		{"https://api.example.com/a%20b", "/a%20b/x"},
		{"http://127.0.0.1:8080/base/", "/base/x/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rawBase, endpoint string) {
		base, err := url.Parse(rawBase)
		if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.User != nil || base.Fragment != "" || base.RawQuery != "" || base.Opaque != "" {
			return
		}
		// What net/http hands the proxy for GET /proxy<endpoint>.
		req, err := url.ParseRequestURI("/proxy" + endpoint)
		if err != nil || !strings.HasPrefix(req.EscapedPath(), "/proxy/") {
			return
		}
		escaped := strings.TrimPrefix(req.EscapedPath(), "/proxy")
		whole := escaped
		if req.RawQuery != "" {
			whole += "?" + req.RawQuery
		}
		want, wantErr := provider.JoinEndpoint(base, whole)
		got, err := provider.JoinRequestURL(base, escaped, req.RawQuery)
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("JoinRequestURL(%q, %q, %q) = %v, %v; JoinEndpoint gives %v, %v", rawBase, escaped, req.RawQuery, got, err, want, wantErr)
		case err != nil:
			if !errors.Is(err, provider.ErrUnsafeURL) {
				t.Errorf("JoinRequestURL(%q, %q, %q): error %v is not ErrUnsafeURL", rawBase, escaped, req.RawQuery, err)
			}
		case got.String() != want.String() || got.Path != want.Path || got.RawQuery != want.RawQuery:
			t.Fatalf("JoinRequestURL(%q, %q, %q) = %q; JoinEndpoint gives %q", rawBase, escaped, req.RawQuery, got, want)
		}
	})
}
