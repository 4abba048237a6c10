package provider_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/provider"
)

// FuzzInterpolate: a template reported as resolved has no placeholder left in
// it; values are inserted once, never interpolated themselves; the escape
// function sees every inserted value; an unresolved template names only
// placeholders it contains.
func FuzzInterpolate(f *testing.F) {
	for _, s := range [][3]string{
		{"https://api.example.com/ex/jira/${connectionConfig.cloudId}", "abc", "k"},
		{"${apiKey}:${credentials.username}:${connectionConfig.port}:${connectionConfig.nested.x}", "a", "b"},
		{"https://${connectionConfig.sub}.x || https://default.x", "", ""},
		{"https://${connectionConfig.cloudId}.x || https://${connectionConfig.sub}.y", "v", "w"},
		{"${ connectionConfig.cloudId }", "x", "y"},
		{"Bearer ${apiKey", "x", "y"},
		{"${connectionConfig.cloudId}${", "x", "y"},
		{"$${apiKey}}", "x", "y"},
		{"${connectionConfig.cloudId}", "${password}", "${credentials.password}"},
		{"${${apiKey}}", "x", "y"},
		{"||", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	const password = "PW-never-inserted-unless-named"
	f.Fuzz(func(t *testing.T, tmpl, cfgValue, apiKey string) {
		vars := provider.Vars{
			ConnectionConfig: map[string]any{"cloudId": cfgValue, "port": 8080.0, "nested": map[string]any{"x": "y"}},
			Credentials:      map[string]any{"apiKey": apiKey, "username": "u", "password": password},
		}
		var inserted []string
		out, err := provider.Interpolate(tmpl, vars, func(v string) string {
			inserted = append(inserted, v)
			return "[" + v + "]"
		})
		if err != nil {
			var ue *provider.UnresolvedError
			if !errors.As(err, &ue) || len(ue.Placeholders) == 0 || out != "" {
				t.Fatalf("Interpolate(%q) = %q, %v: want an UnresolvedError naming what is missing", tmpl, out, err)
			}
			for _, p := range ue.Placeholders {
				if !strings.Contains(tmpl, p) {
					t.Errorf("unresolved placeholder %q is not in the template %q", p, tmpl)
				}
			}
			return
		}
		// Take out what was inserted (each value came back bracketed by the
		// escape function), leaving a NUL in its place so that the template's
		// text on either side is not joined: what is left came from the
		// template, and must hold no placeholder, not even a half one. ("$" and
		// "{" on either side of a value are not one: the output is never
		// interpolated again.)
		rest := out
		for _, v := range inserted {
			rest = strings.Replace(rest, "["+v+"]", "\x00", 1)
		}
		if strings.Contains(rest, "${") {
			t.Errorf("Interpolate(%q) = %q: reported resolved, but a placeholder is left", tmpl, out)
		}
		if strings.Contains(out, password) && !strings.Contains(tmpl, "password") && !strings.Contains(tmpl, password) {
			t.Errorf("Interpolate(%q) = %q: a value was interpolated again (the password came in through a value)", tmpl, out)
		}
	})
}

// FuzzResolveBaseURL: whatever an end user puts in a connection value, the base
// URL stays on the scheme the template names, on a host that ends as the
// template's host ends, without user info or fragment; a value is placed only
// if it is a plain token.
func FuzzResolveBaseURL(f *testing.F) {
	for _, s := range [][2]string{
		{"https://${connectionConfig.host}.example.net/api", "acme"},
		{"https://${connectionConfig.host}.example.net/api", "evil.com/x"},
		{"https://${connectionConfig.host}.example.net/api", "a@evil"},
		{"https://${connectionConfig.host}.example.net/api", "evil.com#"},
		{"https://${connectionConfig.host}.example.net/api", "evil.com:443"},
		{"https://api.example.net/${connectionConfig.host}/v1", ".."},
		{"https://api.example.net/${connectionConfig.host}/v1", "a%2f.."},
		{"https://api.example.net/ex/jira/${connectionConfig.host}", "1a11d016-8984-4c3e-b9ab-142dd06acb1b"},
		{"https://${connectionConfig.host} || https://fallback.example.net", ""},
		{"http://${connectionConfig.host}", "127.0.0.1"},
		{"https://x.example.net${connectionConfig.host}", "x"},
	} {
		f.Add(s[0], s[1])
	}
	valueRE := regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		p := &provider.Provider{Name: "fuzz", Proxy: &provider.Proxy{BaseURL: tmpl}}
		u, err := p.ResolveBaseURL("", provider.Vars{ConnectionConfig: map[string]any{"host": value}})
		if err != nil {
			return
		}
		if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("ResolveBaseURL(%q, %q) = %q: not an absolute http(s) URL without user info or fragment", tmpl, value, u)
		}
		// The alternative that was used, and whether it placed the value.
		alt := chosenAlternative(tmpl, value)
		if alt == "" {
			t.Fatalf("ResolveBaseURL(%q, %q) = %q, but no alternative resolves", tmpl, value, u)
		}
		if strings.Contains(alt, "${") && (!valueRE.MatchString(value) || value == "." || value == "..") {
			t.Errorf("ResolveBaseURL(%q) placed the value %q, which is not a plain token", tmpl, value)
		}
		// The template's own scheme, and its literal host suffix (after the last
		// placeholder in the host), must survive any value.
		scheme, rest, ok := strings.Cut(alt, "://")
		if !ok || !strings.EqualFold(scheme, u.Scheme) {
			t.Errorf("ResolveBaseURL(%q, %q) = %q: scheme is not the template's", tmpl, value, u)
		}
		host := rest // up to the path, the query or the fragment, as a URL's host ends
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if i := strings.LastIndex(host, "}"); i >= 0 {
			host = host[i+1:]
		}
		host = strings.ToLower(host)
		if got := strings.ToLower(u.Host); host != "" && !strings.HasSuffix(got, host) {
			t.Errorf("ResolveBaseURL(%q, %q) = %q: host %q does not end with the template's %q", tmpl, value, u, got, host)
		}
	})
}

// chosenAlternative returns the first "||" alternative whose placeholders all
// name the one connection value and the value is not empty (or that has none).
func chosenAlternative(tmpl, value string) string {
	for _, alt := range strings.Split(tmpl, "||") {
		alt = strings.TrimSpace(alt)
		ok := true
		placeholder := regexp.MustCompile(`\$\{([^}]*)\}`)
		for _, m := range placeholder.FindAllStringSubmatch(alt, -1) {
			ok = ok && strings.TrimSpace(m[1]) == "connectionConfig.host" && value != ""
		}
		// A "${" that opens no complete placeholder never resolves.
		if ok && !strings.Contains(placeholder.ReplaceAllString(alt, ""), "${") {
			return alt
		}
	}
	return ""
}
