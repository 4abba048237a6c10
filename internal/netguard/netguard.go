// Package netguard keeps webhook traffic out of the operator's own network.
// A Policy refuses URLs whose host is, or resolves to, a loopback, private,
// link-local, multicast, unspecified or otherwise non-public address, unless
// the operator allows that network. It checks when a URL is set (CheckURL, for
// a clear 400) and again when connecting (DialContext, whose net.Dialer Control
// hook sees the very address about to be connected to), so a name that
// resolves to a public address when it is set and to a private one later (DNS
// rebinding) still cannot reach inside.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Resolver returns the addresses of a host name.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// Policy says which addresses webhooks may reach: public ones, and those in
// Allowed. The zero Policy refuses every non-public address and resolves names
// with the system resolver.
type Policy struct {
	// Allowed are non-public networks the operator lets webhooks reach.
	Allowed []netip.Prefix
	// Resolve looks names up; nil means the system resolver. Tests point it
	// at fixed answers, so they never send a DNS query.
	Resolve Resolver
	// LookupTimeout bounds a lookup made to check a URL (default 3 s).
	LookupTimeout time.Duration
}

// Codes of a URLError.
const (
	// CodeInvalidURL: not an absolute http(s) URL.
	CodeInvalidURL = "invalid_string"
	// CodeAddressNotAllowed: the host is or resolves to a non-public address.
	CodeAddressNotAllowed = "address_not_allowed"
	// CodeHostNotFound: the host name does not resolve.
	CodeHostNotFound = "host_not_found"
)

// URLError says why a URL or an address is refused. Error() is for logs (it
// may name the address a host resolved to); Message is for API callers and
// never names an address the caller did not write itself.
type URLError struct {
	Code string
	// Host is the URL's host ("" when only an address was checked).
	Host string
	// Addr is the refused address and Kind its kind (loopback, private, …).
	Addr netip.Addr
	Kind string
	// Literal: Host is Addr written out, so naming it reveals nothing.
	Literal bool
}

func (e *URLError) Error() string {
	switch e.Code {
	case CodeInvalidURL:
		return "not an absolute http(s) URL"
	case CodeHostNotFound:
		return fmt.Sprintf("host %s does not resolve", e.Host)
	}
	if e.Host == "" || e.Literal {
		return fmt.Sprintf("%s is %s, which webhooks may not reach", e.Addr, e.KindPhrase())
	}
	return fmt.Sprintf("%s resolves to %s, %s, which webhooks may not reach", e.Host, e.Addr, e.KindPhrase())
}

// Message explains the refusal to an API caller, naming field.
func (e *URLError) Message(field string) string {
	switch e.Code {
	case CodeInvalidURL:
		return field + " must be an absolute http(s) URL."
	case CodeHostNotFound:
		return fmt.Sprintf("%s: the host %s does not resolve.", field, e.Host)
	}
	what := "its host resolves to " + e.KindPhrase()
	if e.Literal {
		what = fmt.Sprintf("%s is %s", e.Addr, e.KindPhrase())
	}
	return fmt.Sprintf("%s must point at a public address: %s. latchkey does not send webhooks into private networks unless the operator allows the network with LATCHKEY_WEBHOOK_ALLOWED_NETWORKS.", field, what)
}

// KindPhrase names the kind of the refused address: "a loopback address",
// "an unspecified address".
func (e *URLError) KindPhrase() string {
	if e.Kind != "" && strings.ContainsRune("aeiou", rune(e.Kind[0])) {
		return "an " + e.Kind + " address"
	}
	return "a " + e.Kind + " address"
}

// FieldError checks raw with CheckURL and, when it is refused, returns the
// field error to put in a 400 (path names the field, e.g.
// "webhook_url_override"); nil means raw is fine. Other failures (a canceled
// request) come back as err.
func (p *Policy) FieldError(ctx context.Context, raw string, path ...string) (*domain.FieldError, error) {
	err := p.CheckURL(ctx, raw)
	var ue *URLError
	if errors.As(err, &ue) {
		return &domain.FieldError{Code: ue.Code, Message: ue.Message(strings.Join(path, ".")), Path: path}, nil
	}
	return nil, err
}

// CheckURL returns nil when raw is an absolute http(s) URL whose host may be
// reached, or a *URLError saying why not. A name is resolved: it is refused
// when it does not exist or when any of its addresses is not allowed. When
// the lookup fails for another reason (a DNS outage) the URL passes: the
// dial-time check still applies to every delivery. Only a canceled ctx
// yields another error.
func (p *Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return &URLError{Code: CodeInvalidURL}
	}
	host := u.Hostname()
	if a, ok := literal(host); ok {
		return p.check(host, a, true)
	}
	if isLocalhost(host) {
		return p.check(host, localhost, false)
	}
	timeout := p.LookupTimeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addrs, err := p.lookup(lctx, host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return &URLError{Code: CodeHostNotFound, Host: host}
		}
		return nil
	}
	if len(addrs) == 0 {
		return &URLError{Code: CodeHostNotFound, Host: host}
	}
	for _, a := range addrs {
		if err := p.check(host, a, false); err != nil {
			return err
		}
	}
	return nil
}

// Allows reports whether a may be reached.
func (p *Policy) Allows(a netip.Addr) bool { return p.check("", a, false) == nil }

func (p *Policy) check(host string, a netip.Addr, lit bool) error {
	a = a.WithZone("")
	kind := Kind(a)
	if kind == "" {
		return nil
	}
	for _, n := range p.Allowed {
		if n.Contains(a) || n.Contains(a.Unmap()) {
			return nil
		}
		if v4, ok := embeddedIPv4(a); ok && n.Contains(v4) {
			return nil
		}
	}
	return &URLError{Code: CodeAddressNotAllowed, Host: host, Addr: a, Kind: kind, Literal: lit}
}

func (p *Policy) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if p.Resolve != nil {
		return p.Resolve(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// literal parses an IP written as a URL host ("10.0.0.1", "::1", "fe80::1%eth0").
func literal(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(host)
	return a, err == nil
}

// localhost is what "localhost" and its subdomains are, by definition (RFC
// 6761), whatever a resolver says.
var localhost = netip.AddrFrom4([4]byte{127, 0, 0, 1})

func isLocalhost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// Control is a net.Dialer Control hook: it runs after the address is resolved
// and before the connection is attempted, and refuses an address the policy
// does not allow.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: cannot check address %q: %w", address, err)
	}
	return p.check("", ap.Addr(), false)
}

// DialContext connects like base.DialContext, but only to allowed addresses:
// it resolves the host itself (through Resolve), skips the addresses the
// policy refuses, and dials the others with a Control hook that checks each
// again just before connecting. When every address is refused it returns the
// *URLError of the first.
func (p *Policy) DialContext(base *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := *base
	prev := base.Control
	d.Control = func(network, address string, c syscall.RawConn) error {
		if err := p.Control(network, address, c); err != nil {
			return err
		}
		if prev != nil {
			return prev(network, address, c)
		}
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		switch a, ok := literal(host); {
		case ok:
			addrs = []netip.Addr{a}
		case isLocalhost(host):
			addrs = []netip.Addr{localhost}
		default:
			if addrs, err = p.lookup(ctx, host); err != nil {
				return nil, err
			}
		}
		var refused, last error
		for _, a := range addrs {
			if err := p.check(host, a, false); err != nil {
				if refused == nil {
					refused = err
				}
				continue
			}
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			last = err
			if ctx.Err() != nil {
				break
			}
		}
		if last != nil {
			return nil, last
		}
		if refused != nil {
			return nil, refused
		}
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
}
