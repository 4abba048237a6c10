package console

import (
	"sync"
	"time"
)

// limiter throttles failed sign-ins per client address with a token bucket:
// burst failures in a row, then one per refill. Only failures take tokens,
// so it never slows a valid sign-in from an address that is not throttled.
// It is per instance: behind a load balancer over n instances a guesser gets
// n times the rate, still nothing against 256-bit keys.
type limiter struct {
	mu     sync.Mutex
	burst  float64
	refill time.Duration
	m      map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, refill time.Duration) *limiter {
	return &limiter{burst: float64(burst), refill: refill, m: map[string]*bucket{}}
}

// level refills b up to now and returns its tokens.
func (l *limiter) level(b *bucket, now time.Time) float64 {
	if now.After(b.at) {
		b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.refill))
		b.at = now
	}
	return b.tokens
}

// wait is how long addr must wait before its next sign-in (0: go ahead).
func (l *limiter) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[addr]
	if !ok {
		return 0
	}
	if t := l.level(b, now); t < 1 {
		return time.Duration((1 - t) * float64(l.refill))
	}
	return 0
}

// failed takes a token from addr's bucket.
func (l *limiter) failed(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[addr]
	if !ok {
		if len(l.m) >= 10_000 {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.m[addr] = b
	}
	l.level(b, now)
	b.tokens = max(0, b.tokens-1)
}

// succeeded forgets addr's failures.
func (l *limiter) succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, addr)
}

// prune drops the buckets that have refilled, and all of them if that is not
// enough (an attacker with many addresses then only resets the throttle).
func (l *limiter) prune(now time.Time) {
	for a, b := range l.m {
		if l.level(b, now) >= l.burst {
			delete(l.m, a)
		}
	}
	if len(l.m) >= 10_000 {
		l.m = map[string]*bucket{}
	}
}
