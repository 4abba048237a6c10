package httpapi

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Guessing is slow: each client address may fail to authenticate a few times
// in a row (a burst), then one more time every refill period. An address that
// has used up its failures is refused before its credential is even looked
// at, so a guess costs nothing and teaches nothing; callers that authenticate
// never use up anything, however many requests they make. Limits are per
// instance.
const (
	failureBurst  = 10
	failureRefill = 6 * time.Second // ten a minute after the burst
	// throttleEntries bounds the memory the throttle may take.
	throttleEntries = 100_000
)

type failureBucket struct {
	tokens float64
	at     time.Time
}

type throttle struct {
	mu      sync.Mutex
	buckets map[netip.Addr]*failureBucket
	// size mirrors len(buckets): while nobody has failed, requests skip the lock.
	size    atomic.Int64
	now     func() time.Time
	trusted []netip.Prefix
}

func newThrottle(now func() time.Time, trusted []netip.Prefix) *throttle {
	return &throttle{buckets: map[netip.Addr]*failureBucket{}, now: now, trusted: trusted}
}

// client is the address a request comes from: the peer, or, when the peer is
// a trusted proxy, the nearest address in X-Forwarded-For that is not one. An
// IPv6 address stands for its /64, which one host usually holds whole.
func (t *throttle) client(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	addr = addr.Unmap()
	if t.isTrusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = hop.Unmap()
			if !t.isTrusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		addr = p.Addr()
	}
	return addr
}

func (t *throttle) isTrusted(a netip.Addr) bool {
	for _, p := range t.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refill brings b up to now; the lock is held.
func (t *throttle) refill(b *failureBucket, now time.Time) {
	b.tokens = math.Min(failureBurst, b.tokens+now.Sub(b.at).Seconds()/failureRefill.Seconds())
	b.at = now
}

// blocked says how long an address must wait before it may authenticate again.
func (t *throttle) blocked(addr netip.Addr) (time.Duration, bool) {
	if t.size.Load() == 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[addr]
	if !ok {
		return 0, false
	}
	now := t.now()
	t.refill(b, now)
	if b.tokens >= failureBurst {
		delete(t.buckets, addr) // forgiven: nothing left to remember
		t.size.Store(int64(len(t.buckets)))
		return 0, false
	}
	if b.tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(failureRefill)), true
}

// failed takes one failure from an address's bucket.
func (t *throttle) failed(addr netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b, ok := t.buckets[addr]
	if !ok {
		if len(t.buckets) >= throttleEntries {
			t.buckets = map[netip.Addr]*failureBucket{} // a flood of addresses: start over rather than grow
		}
		b = &failureBucket{tokens: failureBurst, at: now}
		t.buckets[addr] = b
	}
	t.refill(b, now)
	b.tokens = math.Max(b.tokens-1, 0)
	t.size.Store(int64(len(t.buckets)))
}

// tooManyFailures is the answer to an address that has used up its failures.
func tooManyFailures(wait time.Duration) *domain.Error {
	e := domain.NewError(domain.KindRateLimited, "too_many_failed_authentications",
		"Too many failed authentications from this address. Wait, then try again with a valid credential.")
	e.RetryAfter = max(wait, time.Second)
	return e
}

// guessing reports whether err is a failed authentication worth counting
// (a wrong credential; not a missing one).
func guessing(err error) bool {
	e, ok := domain.AsError(err)
	return ok && e.Kind == domain.KindUnauthenticated && e.Code != "missing_auth_header" && e.Code != "missing_connect_session_token"
}
