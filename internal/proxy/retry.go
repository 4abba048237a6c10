package proxy

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/upstream"
)

// retryTransport sends a call up to its allowed number of attempts, waiting
// between them as the provider's headers say (Retry-After, X-RateLimit-Reset in
// ISO-8601 or epoch seconds/milliseconds), else with capped exponential backoff
// and jitter. It never waits past the caller's cancellation, never waits longer
// than MaxRetryWait (it hands the provider's answer back instead), and retries
// only requests whose body can be sent again.
type retryTransport struct{ p *Proxy }

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	if c == nil {
		return t.p.o.Transport.RoundTrip(req)
	}
	ctx := req.Context()
	sent := 0
	for attempt := 1; ; attempt++ {
		c.attempts = attempt
		r := req
		sent++
		if sent > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		res, err := t.p.o.Transport.RoundTrip(r)
		last := attempt >= c.maxAttempts || !c.replayable
		if err != nil {
			if last || ctx.Err() != nil || !retryableError(err) {
				return nil, err
			}
			t.p.o.Metrics.ProxyRetry(c.integration, 0)
			if t.p.o.Clock.Sleep(ctx, backoff(attempt, t.p.o.MaxRetryWait)) != nil {
				return nil, ctx.Err()
			}
			continue
		}
		c.lastStatus = res.StatusCode
		if res.StatusCode == http.StatusUnauthorized && c.refresh != nil && !c.refreshed && c.replayable {
			// The token was refused: fetch another (once) and send the call again.
			c.refreshed = true
			h, err := c.refresh(ctx)
			if err != nil {
				t.p.o.Logger.Warn("token refresh after a 401 failed", "integration", c.integration, "err", err)
				return res, nil // the provider's 401 is the answer
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			for k, v := range h {
				req.Header[k] = v
			}
			t.p.o.Metrics.ProxyRetry(c.integration, http.StatusUnauthorized)
			attempt-- // the refresh's attempt does not count against Retries
			continue
		}
		if last || !c.retryable(res.StatusCode) {
			return res, nil
		}
		wait, ok := t.waitFor(c, res.Header, attempt)
		if !ok {
			return res, nil // the provider asks for longer than we accept: the caller decides
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		t.p.o.Metrics.ProxyRetry(c.integration, res.StatusCode)
		if err := t.p.o.Clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// waitFor computes the wait before the next attempt, and whether it is
// acceptable: as the provider's headers say (the later of what they name),
// else backoff.
func (t *retryTransport) waitFor(c *call, h http.Header, attempt int) (time.Duration, bool) {
	wait, found := upstream.RetryWait(h, t.p.o.Clock.Now(), c.retryAt, c.retryAfter)
	if !found {
		return backoff(attempt, t.p.o.MaxRetryWait), true
	}
	return wait, wait <= t.p.o.MaxRetryWait
}

// backoff is 1 s, 2 s, 4 s… with ±50 % jitter, capped.
func backoff(attempt int, cap time.Duration) time.Duration {
	base := time.Second << min(attempt-1, 10)
	d := base/2 + time.Duration(rand.Int64N(int64(base)))
	if cap > 0 && d > cap {
		d = cap
	}
	return d
}

func retryableError(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isTimeout(err)
}
