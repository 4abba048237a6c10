package throttle

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// Burst failures, then one per refill; waiting refills; other addresses are
// not affected; a success forgets the failures.
func TestThrottle(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := New(3, 10*time.Second, func() time.Time { return now }, nil)
	a, b := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("203.0.113.8")
	for i := 0; i < 3; i++ {
		if w, blocked := th.Wait(a); blocked {
			t.Fatalf("failure %d: wait %v", i, w)
		}
		th.Failed(a)
	}
	if w, blocked := th.Wait(a); !blocked || w != 10*time.Second {
		t.Errorf("after 3 failures: wait %v %v", w, blocked)
	}
	if w, blocked := th.Wait(b); blocked {
		t.Errorf("another address waits %v", w)
	}
	now = now.Add(4 * time.Second)
	if w, _ := th.Wait(a); w != 6*time.Second {
		t.Errorf("4 s later: wait %v", w)
	}
	now = now.Add(6 * time.Second)
	if w, blocked := th.Wait(a); blocked {
		t.Errorf("10 s later: wait %v", w)
	}
	th.Failed(a)
	if w, _ := th.Wait(a); w != 10*time.Second {
		t.Errorf("one more failure: wait %v", w)
	}
	th.Succeeded(a)
	if w, blocked := th.Wait(a); blocked {
		t.Errorf("after a success: wait %v", w)
	}
	// A whole refilled bucket is forgotten.
	th.Failed(a)
	now = now.Add(time.Minute)
	th.Wait(a)
	if n := th.size.Load(); n != 0 {
		t.Errorf("%d buckets kept after they refilled", n)
	}
}

// One host's IPv6 addresses share a bucket (their /64).
func TestIPv6CountsBySlash64(t *testing.T) {
	th := New(1, time.Hour, nil, nil)
	th.Failed(netip.MustParseAddr("2001:db8:1:2:3:4:5:6"))
	if _, blocked := th.Wait(netip.MustParseAddr("2001:db8:1:2:ffff:4:5:6")); !blocked {
		t.Error("another address of the same /64 is not throttled")
	}
	if _, blocked := th.Wait(netip.MustParseAddr("2001:db8:1:3::1")); blocked {
		t.Error("another /64 is throttled")
	}
}

// The client is the peer, unless the peer is a trusted proxy: then the
// nearest X-Forwarded-For hop that is not one.
func TestClient(t *testing.T) {
	th := New(1, time.Second, nil, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for _, c := range []struct{ remote, xff, want string }{
		{"203.0.113.7:4242", "", "203.0.113.7"},
		{"203.0.113.7:4242", "198.51.100.1", "203.0.113.7"}, // an untrusted peer's header is ignored
		{"[2001:db8:1:2:3:4:5:6]:443", "", "2001:db8:1:2:3:4:5:6"},
		{"[::ffff:203.0.113.7]:1", "", "203.0.113.7"},
		{"10.1.2.3:80", "198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"10.1.2.3:80", "198.51.100.2, 198.51.100.1", "198.51.100.1"}, // the nearest untrusted hop, not the first
		{"10.1.2.3:80", "garbage", "10.1.2.3"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := th.Client(r).String(); got != c.want {
			t.Errorf("Client(%s, %q) = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}
