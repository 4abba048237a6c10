// Package upstream owns the HTTP client latchkey uses to reach providers: one
// tuned, shared transport, and LATCHKEY_UPSTREAM_REWRITE, which sends traffic for
// a provider origin to another origin (tests, demos, egress gateways).
package upstream

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/httpx"
	"github.com/latchkeyhq/latchkey/internal/netguard"
)

// Rewrite maps one origin to another. From's host may start with "*." to match
// every subdomain (https://*.atlassian.net), or be "*" to match every host of
// its scheme (a stand-in for a whole catalogue in tests).
type Rewrite struct {
	From *url.URL
	To   *url.URL
}

func (r Rewrite) String() string { return r.From.String() + " → " + r.To.String() }

func (r Rewrite) matches(u *url.URL) bool {
	if u.Scheme != r.From.Scheme {
		return false
	}
	if r.From.Host == "*" {
		return true
	}
	if suffix, ok := strings.CutPrefix(r.From.Host, "*."); ok {
		return strings.HasSuffix(u.Host, "."+suffix)
	}
	return u.Host == r.From.Host
}

// ParseRewrites parses "https://a=http://b,https://c=http://d".
func ParseRewrites(s string) ([]Rewrite, error) {
	var out []Rewrite
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want FROM=TO, e.g. https://api.atlassian.com=http://127.0.0.1:9999", pair)
		}
		fu, err := parseOrigin(from)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", from, err)
		}
		tu, err := parseOrigin(to)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", to, err)
		}
		if strings.HasPrefix(tu.Host, "*") {
			return nil, fmt.Errorf("%q: the target cannot be a wildcard", to)
		}
		out = append(out, Rewrite{From: fu, To: tu})
	}
	return out, nil
}

func parseOrigin(s string) (*url.URL, error) {
	u, ok := httpx.ParseHTTPURL(strings.TrimRight(strings.TrimSpace(s), "/"))
	if !ok || u.Path != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("not an origin (scheme://host[:port])")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Apply returns the URL a request for u really goes to, and whether a rewrite applied.
func Apply(rewrites []Rewrite, u *url.URL) (*url.URL, bool) {
	for _, r := range rewrites {
		if r.matches(u) {
			c := *u
			c.Scheme, c.Host = r.To.Scheme, r.To.Host
			return &c, true
		}
	}
	return u, false
}

// rewriteTransport applies rewrites at the last moment, so everything above it
// (URL building, SSRF checks, logs) sees the provider's real origin.
type rewriteTransport struct {
	rewrites []Rewrite
	next     http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if to, ok := Apply(t.rewrites, req.URL); ok {
		r2 := req.Clone(req.Context())
		r2.URL = to
		r2.Host = to.Host
		r2.Header.Set("X-Forwarded-Host", req.URL.Host)
		return t.next.RoundTrip(r2)
	}
	return t.next.RoundTrip(req)
}

// DialControl is a net.Dialer Control hook: it runs on each resolved address
// just before the connection is attempted, and an error stops it. Tests use one
// to refuse every address but loopback; nil means none.
type DialControl func(network, address string, c syscall.RawConn) error

// NewDialer returns the dialer of NewTransport.
func NewDialer(control DialControl) *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: control}
}

// NewTransport returns the shared transport: keep-alive, a pool sized for many
// concurrent calls to few origins, and explicit timeouts on every phase.
func NewTransport(control DialControl) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           NewDialer(control).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// NewGuardedTransport returns a transport for targets API callers choose
// (webhook URLs): NewTransport's tuning, but it connects only to addresses the
// policy allows, checked on the resolved address just before connecting, and
// it connects directly: an HTTP(S)_PROXY from the environment would hide the
// real target from that check.
func NewGuardedTransport(p *netguard.Policy, control DialControl) *http.Transport {
	t := NewTransport(control)
	t.Proxy = nil
	t.DialContext = p.DialContext(NewDialer(control))
	return t
}

// NewClient returns a client over rt that applies rewrites and never follows a
// redirect to another origin (a redirect must not carry credentials elsewhere).
func NewClient(rt http.RoundTripper, rewrites []Rewrite, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: WithRewrites(rt, rewrites),
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return http.ErrUseLastResponse
			}
			if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// WithRewrites wraps rt so requests follow the rewrites (a no-op without any).
func WithRewrites(rt http.RoundTripper, rewrites []Rewrite) http.RoundTripper {
	if len(rewrites) == 0 {
		return rt
	}
	return &rewriteTransport{rewrites: rewrites, next: rt}
}
