package proxy

import (
	"testing"
	"time"
)

// The operation log's message keeps the words Duration.String wrote before
// it was built by hand.
func TestSummaryDurations(t *testing.T) {
	for _, d := range []time.Duration{0, 400 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 12*time.Millisecond + 600*time.Microsecond,
		999 * time.Millisecond, 999*time.Millisecond + 500*time.Microsecond, time.Second, 1500 * time.Millisecond, 1010 * time.Millisecond, 1001 * time.Millisecond,
		59*time.Second + 999*time.Millisecond, time.Minute, 2*time.Minute + 3004*time.Millisecond, time.Hour, 25*time.Hour + 61*time.Second + 7*time.Millisecond,
		-3 * time.Millisecond, -1500 * time.Millisecond} {
		if got, want := string(appendMillis(nil, d)), d.Round(time.Millisecond).String(); got != want {
			t.Errorf("appendMillis(%v) = %q, want %q", d, got, want)
		}
	}
	if got, want := summary("GET", "/rest/api/3/myself", "200", 12*time.Millisecond, 1), "GET /rest/api/3/myself → 200 in 12ms (1 attempt)"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if got, want := summary("POST", "/x", "upstream_timeout", 2*time.Second, 3), "POST /x → upstream_timeout in 2s (3 attempts)"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if statusText(200) != "200" || statusText(599) != "599" || statusText(600) != "600" || statusText(0) != "0" {
		t.Error("statusText")
	}
}
