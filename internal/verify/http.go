package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/upstream"
)

// caller makes the verifiers' requests: a few attempts for rate limits and
// gateway errors, waiting as the provider's headers say, within the context.
type caller struct {
	client *http.Client
	clock  clock.Clock
	log    *slog.Logger
}

// response is what one upstream call produced.
type response struct {
	url    *url.URL
	status int
	header http.Header
	body   []byte
	err    error // network failure or timeout; status is 0
}

func (r response) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// is reports whether the provider answered with status.
func (r response) is(status int) bool { return r.err == nil && r.status == status }

const maxBody = 1 << 20

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// call performs one request, retrying 429 and 502-504 a few times, waiting as
// Retry-After or X-RateLimit-Reset say (the later of the two), else backing
// off exponentially with jitter; never past ctx's deadline.
func (c *caller) call(ctx context.Context, method string, u *url.URL, h http.Header) response {
	return c.send(ctx, method, u, h, nil)
}

// send is call with a request body (sent again on each attempt).
func (c *caller) send(ctx context.Context, method string, u *url.URL, h http.Header, body []byte) response {
	const attempts = 3
	var last response
	for i := 0; i < attempts; i++ {
		last = c.once(ctx, method, u, h, body)
		if last.err != nil || !retryable(last.status) || i == attempts-1 {
			break
		}
		wait, found := upstream.RetryWait(last.header, c.clock.Now(), nil, nil)
		if !found {
			base := 200 * time.Millisecond << i
			wait = base/2 + time.Duration(rand.Int64N(int64(base)))
		}
		if deadline, ok := ctx.Deadline(); ok && wait >= deadline.Sub(c.clock.Now()) {
			break
		}
		if err := c.clock.Sleep(ctx, wait); err != nil {
			break
		}
	}
	if last.err != nil {
		// Never the query string: a provider's verification may carry a key there.
		c.log.Warn("provider not reached during verification", "host", u.Host, "path", u.Path, "err", describeErr(last.err))
	}
	return last
}

func (c *caller) once(ctx context.Context, method string, u *url.URL, h http.Header, body []byte) response {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return response{url: u, err: err}
	}
	req.Header = h.Clone()
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", "latchkey")
	res, err := c.client.Do(req)
	if err != nil {
		return response{url: u, err: err}
	}
	defer res.Body.Close()
	got, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return response{url: u, err: err}
	}
	return response{url: u, status: res.StatusCode, header: res.Header, body: got}
}

// describeErr names a network failure without the URL Go puts in client
// errors (it may carry a credential in its query string).
func describeErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// describeFailure turns a failed call into words for an end user.
func describeFailure(r response) string {
	var dnsErr *net.DNSError
	switch {
	case r.err == nil && r.status == http.StatusTooManyRequests:
		return "it is rate limiting requests right now"
	case r.err == nil:
		return fmt.Sprintf("it answered with an error (HTTP %d)", r.status)
	case errors.Is(r.err, context.DeadlineExceeded) || isTimeout(r.err):
		return "it did not answer in time"
	case errors.As(r.err, &dnsErr):
		return "its address could not be resolved"
	}
	return "the connection to it failed"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unavailable is the error of a provider that could not be asked: it names the
// provider and the host latchkey tried, and passes on when to try again.
func (c *caller) unavailable(name string, r response) *domain.Error {
	where := name
	if r.url != nil && r.url.Host != "" {
		where = fmt.Sprintf("%s (%s)", name, r.url.Host)
	}
	e := domain.NewError(domain.KindUpstreamUnavailable, CodeProviderUnavailable,
		fmt.Sprintf("%s could not check these credentials because %s. Nothing was saved; please try again in a few minutes.", where, describeFailure(r)))
	if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
		if wait, ok := upstream.RetryWait(r.header, c.clock.Now(), nil, nil); ok {
			e.RetryAfter = max(wait, time.Second)
		}
	}
	return e
}
