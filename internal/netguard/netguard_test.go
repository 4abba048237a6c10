package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestKind(t *testing.T) {
	for addr, want := range map[string]string{
		"8.8.8.8":                  "",
		"203.0.113.7":              "", // documentation, but not a network of ours
		"2606:4700::1111":          "",
		"0.0.0.0":                  "unspecified",
		"0.1.2.3":                  "unspecified",
		"::":                       "unspecified",
		"127.0.0.1":                "loopback",
		"127.255.1.2":              "loopback",
		"::1":                      "loopback",
		"10.1.2.3":                 "private",
		"172.16.0.1":               "private",
		"172.31.255.255":           "private",
		"172.32.0.1":               "",
		"192.168.1.1":              "private",
		"100.64.0.1":               "private",
		"100.100.100.200":          "private", // a cloud metadata address
		"fd00:ec2::254":            "private", // another
		"fc00::1":                  "private",
		"169.254.169.254":          "link-local",
		"fe80::1":                  "link-local",
		"fe80::1%eth0":             "link-local",
		"224.0.0.1":                "multicast",
		"239.255.255.250":          "multicast",
		"ff02::1":                  "multicast",
		"255.255.255.255":          "reserved",
		"::ffff:127.0.0.1":         "loopback", // IPv4-mapped IPv6
		"::ffff:10.0.0.1":          "private",
		"::ffff:169.254.169.254":   "link-local",
		"::ffff:8.8.8.8":           "",
		"64:ff9b::a00:1":           "private",  // NAT64 of 10.0.0.1
		"64:ff9b::808:808":         "",         // NAT64 of 8.8.8.8
		"2002:7f00:1::1":           "loopback", // 6to4 of 127.0.0.1
		"2002:808:808::1":          "",
		"::7f00:1":                 "reserved", // IPv4-compatible
		"2001:db8::1":              "",
		"2a00:1450:4001:80e::200e": "",
	} {
		if got := Kind(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Kind(%s) = %q, want %q", addr, got, want)
		}
	}
}

// fakeDNS answers from a table; any other name does not exist. No query
// leaves the process.
type fakeDNS map[string][]string

func (f fakeDNS) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	list, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range list {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	dns := fakeDNS{
		"hooks.example.com": {"203.0.113.7", "2001:db8::7"},
		"intranet.corp":     {"10.20.0.5"},
		"mixed.example.com": {"203.0.113.8", "192.168.0.9"},
		"mapped.example":    {"::ffff:127.0.0.1"},
		"metadata.internal": {"169.254.169.254"},
		"allowed.corp":      {"10.99.0.1"},
	}
	p := &Policy{Resolve: dns.resolve, Allowed: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16"), netip.MustParsePrefix("fd12::/16")}}
	for _, c := range []struct {
		url, code, kind string
	}{
		{"https://hooks.example.com/latchkey?x=1", "", ""},
		{"http://203.0.113.7:8080/", "", ""},
		{"https://[2001:db8::1]/h", "", ""},
		{"https://allowed.corp/h", "", ""},
		{"http://10.99.3.4/h", "", ""},
		{"http://[fd12::1]/h", "", ""},
		{"http://[::ffff:10.99.0.7]/h", "", ""}, // allowed network, written as mapped IPv6
		{"ftp://hooks.example.com/", CodeInvalidURL, ""},
		{"/relative", CodeInvalidURL, ""},
		{"https://", CodeInvalidURL, ""},
		{"http://:80/", CodeInvalidURL, ""},
		{"not a url", CodeInvalidURL, ""},
		{"http://127.0.0.1:3003/hook", CodeAddressNotAllowed, "loopback"},
		{"http://[::1]/", CodeAddressNotAllowed, "loopback"},
		{"http://0.0.0.0/", CodeAddressNotAllowed, "unspecified"},
		{"http://[::]/", CodeAddressNotAllowed, "unspecified"},
		{"http://10.0.0.1/", CodeAddressNotAllowed, "private"},
		{"http://[fd00::1]/", CodeAddressNotAllowed, "private"},
		{"http://169.254.169.254/latest/meta-data/", CodeAddressNotAllowed, "link-local"},
		{"http://[fe80::1%25eth0]/", CodeAddressNotAllowed, "link-local"},
		{"http://224.0.0.251/", CodeAddressNotAllowed, "multicast"},
		{"http://[::ffff:192.168.1.1]/", CodeAddressNotAllowed, "private"},
		{"http://localhost:8080/", CodeAddressNotAllowed, "loopback"},
		{"http://api.LOCALHOST./", CodeAddressNotAllowed, "loopback"},
		{"https://intranet.corp/hooks", CodeAddressNotAllowed, "private"},
		{"https://mixed.example.com/", CodeAddressNotAllowed, "private"},
		{"https://mapped.example/", CodeAddressNotAllowed, "loopback"},
		{"https://metadata.internal/", CodeAddressNotAllowed, "link-local"},
		{"https://nope.example/", CodeHostNotFound, ""},
	} {
		err := p.CheckURL(context.Background(), c.url)
		var ue *URLError
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: refused: %v", c.url, err)
		case c.code != "" && !errors.As(err, &ue):
			t.Errorf("%s: got %v, want a %s refusal", c.url, err, c.code)
		case c.code != "" && (ue.Code != c.code || ue.Kind != c.kind):
			t.Errorf("%s: got %s/%s, want %s/%s", c.url, ue.Code, ue.Kind, c.code, c.kind)
		}
	}
}

// What an API caller reads names the field and the kind of address, and
// never the address a name resolved to.
func TestMessages(t *testing.T) {
	p := &Policy{Resolve: fakeDNS{"intranet.corp": {"10.20.0.5"}}.resolve}
	fe, err := p.FieldError(context.Background(), "https://intranet.corp/h", "webhook_url_override")
	if err != nil || fe == nil {
		t.Fatalf("FieldError = %v, %v", fe, err)
	}
	if fe.Code != "address_not_allowed" || fe.Path[0] != "webhook_url_override" || !strings.HasPrefix(fe.Message, "webhook_url_override must point at a public address") ||
		!strings.Contains(fe.Message, "a private address") || !strings.Contains(fe.Message, "LATCHKEY_WEBHOOK_ALLOWED_NETWORKS") || strings.Contains(fe.Message, "10.20.0.5") {
		t.Errorf("name: %+v", fe)
	}
	fe, _ = p.FieldError(context.Background(), "http://127.0.0.1:9/x", "webhook_url")
	if fe == nil || !strings.Contains(fe.Message, "127.0.0.1 is a loopback address") {
		t.Errorf("literal: %+v", fe)
	}
	fe, _ = p.FieldError(context.Background(), "ftp://x", "webhook_url")
	if fe == nil || fe.Code != "invalid_string" || fe.Message != "webhook_url must be an absolute http(s) URL." {
		t.Errorf("scheme: %+v", fe)
	}
	if fe, err := p.FieldError(context.Background(), "http://203.0.113.9/", "webhook_url"); fe != nil || err != nil {
		t.Errorf("public: %+v %v", fe, err)
	}
	// A resolver that fails (not "no such host") lets the URL pass: the
	// dial-time check still guards every delivery.
	down := &Policy{Resolve: func(context.Context, string) ([]netip.Addr, error) {
		return nil, &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}
	}}
	if err := down.CheckURL(context.Background(), "https://hooks.example.com/"); err != nil {
		t.Errorf("DNS outage: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := down.FieldError(ctx, "https://hooks.example.com/", "webhook_url"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// loopbackListener accepts on 127.0.0.1 and reports the first byte of each
// connection, in the order they were accepted.
func loopbackListener(t *testing.T) (port string, first <-chan byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan byte, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 1)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, b); err != nil {
				b[0] = 0
			}
			c.Close()
			ch <- b[0]
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, ch
}

// The Control hook refuses before connecting: the refused dial never reaches
// the listener, so the first connection it accepts is the allowed one made
// after.
func TestControlRefusesBeforeConnecting(t *testing.T) {
	port, accepted := loopbackListener(t)
	strict := &Policy{}
	_, err := (&net.Dialer{Control: strict.Control}).DialContext(context.Background(), "tcp", "127.0.0.1:"+port)
	var ue *URLError
	if !errors.As(err, &ue) || ue.Kind != "loopback" {
		t.Fatalf("dial through the Control hook: %v", err)
	}
	open := &Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	c, err := (&net.Dialer{Control: open.Control}).DialContext(context.Background(), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte{'A'})
	c.Close()
	if b := <-accepted; b != 'A' {
		t.Errorf("the listener's first connection sent %q: the refused dial connected", b)
	}
}

// DialContext resolves through the policy's resolver and connects only to
// allowed addresses: a name that now resolves to loopback (rebinding) is
// refused without a connection; with the network allowed it connects.
func TestDialContext(t *testing.T) {
	port, accepted := loopbackListener(t)
	dns := fakeDNS{"rebind.example": {"127.0.0.1"}, "both.example": {"127.0.0.2", "127.0.0.1"}}
	strict := &Policy{Resolve: dns.resolve}
	dial := strict.DialContext(&net.Dialer{Timeout: 5 * time.Second})
	for _, addr := range []string{"rebind.example:" + port, "127.0.0.1:" + port, "[::ffff:127.0.0.1]:" + port, "localhost:" + port} {
		_, err := dial(context.Background(), "tcp", addr)
		var ue *URLError
		if !errors.As(err, &ue) || ue.Code != CodeAddressNotAllowed || ue.Kind != "loopback" {
			t.Errorf("dial %s: %v", addr, err)
		}
	}
	if _, err := dial(context.Background(), "tcp", "gone.example:"+port); err == nil {
		t.Error("dialed a name that does not resolve")
	}
	// Only 127.0.0.1 allowed: of both.example's two addresses, 127.0.0.2 is
	// skipped and 127.0.0.1 connects.
	open := &Policy{Resolve: dns.resolve, Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	c, err := open.DialContext(&net.Dialer{})(context.Background(), "tcp", "both.example:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte{'B'})
	c.Close()
	if b := <-accepted; b != 'B' {
		t.Errorf("first connection sent %q, want the allowed one", b)
	}
}
