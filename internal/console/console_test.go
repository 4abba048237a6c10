package console

import (
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
