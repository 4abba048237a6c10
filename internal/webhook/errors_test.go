package webhook

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/netguard"
)

// Errors as http.Client returns them: a *url.Error around the transport's,
// which names the address it dialed. What describe makes of them names none.
func TestDescribe(t *testing.T) {
	addr := &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 8443}
	dial := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://hooks.example.com/x?token=s3cret", Err: &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: err}}
	}
	for _, c := range []struct {
		err   error
		text  string
		retry bool
	}{
		{dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "not delivered: connection refused", true},
		{dial(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "not delivered: no route to the host", true},
		{dial(&netguard.URLError{Code: netguard.CodeAddressNotAllowed, Host: "rebind.example", Addr: netip.MustParseAddr("10.0.0.5"), Kind: "private"}),
			"refused: the host is or resolves to a private address, which webhooks may not reach (LATCHKEY_WEBHOOK_ALLOWED_NETWORKS)", false},
		{dial(&net.DNSError{Err: "no such host", Name: "gone.example", Server: "10.0.0.53:53", IsNotFound: true}), "not delivered: the host does not resolve", true},
		{dial(&net.DNSError{Err: "server misbehaving", Name: "x.example", Server: "10.0.0.53:53", IsTemporary: true}), "not delivered: the host name could not be looked up", true},
		{&url.Error{Op: "Post", URL: "https://x", Err: context.DeadlineExceeded}, "timed out", true},
		{&url.Error{Op: "Post", URL: "https://x", Err: context.Canceled}, "not delivered: interrupted (latchkey was stopping)", true},
		{&url.Error{Op: "Post", URL: "https://x", Err: io.EOF}, "not delivered: the connection was closed before an answer", true},
		{&url.Error{Op: "Post", URL: "https://x", Err: x509.UnknownAuthorityError{}}, "not delivered: TLS certificate signed by an unknown authority", true},
		{&url.Error{Op: "Post", URL: "https://x", Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "10.0.0.5"}}, "not delivered: TLS certificate not valid for the host", true},
		{errBadURL, "not delivered: the URL is not valid", false},
		{&url.Error{Op: "Post", URL: "https://x", Err: errors.New("dial tcp 10.0.0.5:8443: something new")}, "not delivered: network error", true},
	} {
		text, retry := describe(c.err)
		if text != c.text || retry != c.retry {
			t.Errorf("describe(%v) = %q, %v; want %q, %v", c.err, text, retry, c.text, c.retry)
		}
		if strings.Contains(text, "10.0.0") || strings.Contains(text, "8443") || strings.Contains(text, "s3cret") {
			t.Errorf("describe(%v) = %q names an address", c.err, text)
		}
	}
}
