package auth

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Submissions that reach the provider are limited per connect session, so a
// leaked link cannot be used to test stolen tokens against Atlassian at speed.
// A person who mistypes a few times is never slowed: the bucket holds a burst.
const (
	submitBurst  = 5
	submitRefill = 12 * time.Second // one more attempt every 12 s (5 a minute)
)

type bucket struct {
	tokens float64
	at     time.Time
}

type limiter struct {
	mu      sync.Mutex
	buckets map[int64]*bucket
}

func newLimiter() *limiter { return &limiter{buckets: map[int64]*bucket{}} }

// take spends one attempt of key, or says how long until one is available.
func (l *limiter) take(key int64, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 100_000 {
			l.sweep(now)
		}
		b = &bucket{tokens: submitBurst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(submitBurst, b.tokens+float64(now.Sub(b.at))/float64(submitRefill))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(submitRefill))
}

// sweep forgets buckets that have refilled completely.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.at) > submitBurst*submitRefill {
			delete(l.buckets, k)
		}
	}
}

func tooManyAttempts(wait time.Duration) *domain.Problem {
	secs := int(math.Ceil(wait.Seconds()))
	return &domain.Problem{Status: http.StatusTooManyRequests, Code: "too_many_request",
		Message: fmt.Sprintf("Too many attempts with this link. Wait %d seconds, then try again.", secs),
		Header:  map[string]string{"Retry-After": strconv.Itoa(secs)}, Payload: map[string]any{"retry_after": secs}}
}
