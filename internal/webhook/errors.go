package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/latchkeyhq/latchkey/internal/netguard"
)

// errBadURL: the stored URL cannot be requested at all.
var errBadURL = errors.New("bad webhook URL")

// describe turns a failed POST into the text shown through the API (a
// delivery's last_error and its attempts). It says what went wrong in fixed
// words and never repeats Go's error text, which names the address and port a
// host resolved to: that would map the operator's network for whoever reads
// deliveries. The full error goes to the log. retry says whether trying again
// later may help.
func describe(err error) (text string, retry bool) {
	var refused *netguard.URLError
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var badCert x509.CertificateInvalidError
	var notTLS tls.RecordHeaderError
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, errBadURL):
		return "not delivered: the URL is not valid", false
	case errors.As(err, &refused) && refused.Code == netguard.CodeAddressNotAllowed:
		return "refused: the host is or resolves to " + refused.KindPhrase() + ", which webhooks may not reach (LATCHKEY_WEBHOOK_ALLOWED_NETWORKS)", false
	case errors.As(err, &refused) && refused.Code == netguard.CodeHostNotFound,
		errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "not delivered: the host does not resolve", true
	case errors.As(err, &dnsErr):
		return "not delivered: the host name could not be looked up", true
	case errors.As(err, &timeout) && timeout.Timeout():
		return "timed out", true
	case errors.Is(err, context.Canceled):
		return "not delivered: interrupted (latchkey was stopping)", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "not delivered: connection refused", true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return "not delivered: the connection was closed before an answer", true
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "not delivered: no route to the host", true
	case errors.As(err, &unknownCA):
		return "not delivered: TLS certificate signed by an unknown authority", true
	case errors.As(err, &badHost):
		return "not delivered: TLS certificate not valid for the host", true
	case errors.As(err, &badCert):
		return "not delivered: TLS certificate invalid or expired", true
	case errors.As(err, &notTLS):
		return "not delivered: the host does not speak TLS", true
	}
	return "not delivered: network error", true
}
