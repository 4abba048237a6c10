// Package throttle makes guessing slow: each client address may fail a few
// times in a row (a burst), then once more every refill period. Only failures
// take anything, so a caller whose credentials are valid is never slowed.
// The API (secret keys, session tokens, the metrics token) and the console's
// sign-in each keep one. Limits are per instance.
package throttle

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxEntries bounds the memory a throttle may take: past it, the addresses
// whose buckets have refilled are forgotten, and if that is not enough all of
// them (a flood of addresses then only resets the throttle).
const maxEntries = 100_000

type bucket struct {
	tokens float64
	at     time.Time
}

// Throttle counts failures per client address.
type Throttle struct {
	burst   float64
	refill  time.Duration
	now     func() time.Time
	trusted []netip.Prefix

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
	// size mirrors len(buckets): while nobody has failed, Wait skips the lock.
	size atomic.Int64
}

// New makes a throttle allowing burst failures in a row, then one per refill.
// trusted are the reverse proxies whose X-Forwarded-For names the client; now
// is time.Now when nil.
func New(burst int, refill time.Duration, now func() time.Time, trusted []netip.Prefix) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{burst: float64(burst), refill: refill, now: now, trusted: trusted, buckets: map[netip.Addr]*bucket{}}
}

// Client is the address r comes from: the peer, or, when the peer is a
// trusted proxy, the nearest address in X-Forwarded-For that is not one.
// The zero Addr when the peer's address cannot be read.
func (t *Throttle) Client(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	addr = addr.Unmap()
	if !t.isTrusted(addr) {
		return addr
	}
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
	return addr
}

func (t *Throttle) isTrusted(a netip.Addr) bool {
	for _, p := range t.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// key is what failures are counted under: an IPv6 address stands for its
// /64, which one host usually holds whole.
func key(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// fill brings b up to now and returns its tokens; the lock is held.
func (t *Throttle) fill(b *bucket, now time.Time) float64 {
	if now.After(b.at) {
		b.tokens = min(t.burst, b.tokens+float64(now.Sub(b.at))/float64(t.refill))
		b.at = now
	}
	return b.tokens
}

// Wait says how long addr must wait before it may try again, and whether it
// must.
func (t *Throttle) Wait(addr netip.Addr) (time.Duration, bool) {
	if t.size.Load() == 0 {
		return 0, false
	}
	addr = key(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[addr]
	if !ok {
		return 0, false
	}
	tokens := t.fill(b, t.now())
	if tokens >= t.burst {
		t.forget(addr) // forgiven: nothing left to remember
		return 0, false
	}
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) * float64(t.refill)), true
}

// Failed takes one failure from addr's bucket.
func (t *Throttle) Failed(addr netip.Addr) {
	addr = key(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b, ok := t.buckets[addr]
	if !ok {
		if len(t.buckets) >= maxEntries {
			t.prune(now)
		}
		b = &bucket{tokens: t.burst, at: now}
		t.buckets[addr] = b
	}
	t.fill(b, now)
	b.tokens = max(0, b.tokens-1)
	t.size.Store(int64(len(t.buckets)))
}

// Succeeded forgets addr's failures.
func (t *Throttle) Succeeded(addr netip.Addr) {
	if t.size.Load() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(key(addr))
}

// forget drops one bucket; the lock is held.
func (t *Throttle) forget(addr netip.Addr) {
	delete(t.buckets, addr)
	t.size.Store(int64(len(t.buckets)))
}

// prune drops the buckets that have refilled, and all of them if that is not
// enough; the lock is held.
func (t *Throttle) prune(now time.Time) {
	for a, b := range t.buckets {
		if t.fill(b, now) >= t.burst {
			delete(t.buckets, a)
		}
	}
	if len(t.buckets) >= maxEntries {
		t.buckets = map[netip.Addr]*bucket{}
	}
	t.size.Store(int64(len(t.buckets)))
}
