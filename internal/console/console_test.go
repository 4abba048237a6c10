package console

import (
	"net/http/httptest"
	"testing"
	"time"
)

// After signing in, the console only ever sends the browser to one of its
// own pages, whatever next says.
func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/admin":                        "/admin",
		"/admin/connections?status=ok":  "/admin/connections?status=ok",
		"":                              "/admin",
		"https://evil.example/admin":    "/admin",
		"//evil.example/admin/x":        "/admin",
		"/admin\\..\\evil":              "/admin",
		"/adminx":                       "/admin",
		"/admin/sign-in?next=/admin":    "/admin",
		"/admin/x\r\nLocation: //evil":  "/admin",
		"/connections":                  "/admin",
		"/admin/connection?id=a%2F%2Fb": "/admin/connection?id=a%2F%2Fb",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

// The throttle: burst failures, then one per refill; waiting refills;
// other addresses are not affected; a success forgets the failures.
func TestLimiter(t *testing.T) {
	l := newLimiter(3, 10*time.Second)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if w := l.wait("a", now); w != 0 {
			t.Fatalf("failure %d: wait %v", i, w)
		}
		l.failed("a", now)
	}
	if w := l.wait("a", now); w != 10*time.Second {
		t.Errorf("after 3 failures: wait %v", w)
	}
	if w := l.wait("b", now); w != 0 {
		t.Errorf("another address waits %v", w)
	}
	if w := l.wait("a", now.Add(4*time.Second)); w != 6*time.Second {
		t.Errorf("4 s later: wait %v", w)
	}
	if w := l.wait("a", now.Add(10*time.Second)); w != 0 {
		t.Errorf("10 s later: wait %v", w)
	}
	l.failed("a", now.Add(10*time.Second))
	if w := l.wait("a", now.Add(10*time.Second)); w != 10*time.Second {
		t.Errorf("one more failure: wait %v", w)
	}
	l.succeeded("a")
	if w := l.wait("a", now.Add(10*time.Second)); w != 0 {
		t.Errorf("after a success: wait %v", w)
	}
}

func TestClientAddr(t *testing.T) {
	for remote, want := range map[string]string{
		"203.0.113.7:4242":              "203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:443":    "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:4:5:6]:443": "2001:db8:1:2::/64",
		"[::ffff:203.0.113.7]:1":        "203.0.113.7",
	} {
		r := httptest.NewRequest("GET", "/admin", nil)
		r.RemoteAddr = remote
		if got := clientAddr(r); got != want {
			t.Errorf("clientAddr(%s) = %q, want %q", remote, got, want)
		}
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0: "just now", -30 * time.Second: "just now", -5 * time.Minute: "5 minutes ago", time.Minute: "in 1 minute",
		-3 * time.Hour: "3 hours ago", 47 * time.Hour: "in 47 hours", 5 * 24 * time.Hour: "in 5 days", -24 * 40 * time.Hour: "40 days ago",
	} {
		if got := relative(now.Add(d), now); got != want {
			t.Errorf("relative(%v) = %q, want %q", d, got, want)
		}
	}
}
