package upstream

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryWait(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		name   string
		h      http.Header
		at     []string
		after  []string
		want   time.Duration
		wantOK bool
	}{
		{"nothing", h(), nil, nil, 0, false},
		{"retry-after seconds", h("Retry-After", "7"), nil, nil, 7 * time.Second, true},
		{"retry-after fractional", h("Retry-After", "1.5"), nil, nil, 1500 * time.Millisecond, true},
		{"retry-after http date", h("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat)), nil, nil, 30 * time.Second, true},
		{"retry-after garbage", h("Retry-After", "soon"), nil, nil, 0, false},
		{"reset iso-8601", h("X-RateLimit-Reset", now.Add(12*time.Second).Format(time.RFC3339)), nil, nil, 12 * time.Second, true},
		{"reset epoch seconds", h("X-RateLimit-Reset", "1796040020"), nil, nil, time.Unix(1796040020, 0).Sub(now), true},
		{"reset epoch ms", h("X-RateLimit-Reset", "1796040020000"), nil, nil, time.UnixMilli(1796040020000).Sub(now), true},
		{"reset in the past is now", h("X-RateLimit-Reset", now.Add(-time.Minute).Format(time.RFC3339)), nil, nil, 0, true},
		{"reset relative seconds", h("X-RateLimit-Reset", "3"), nil, nil, 3 * time.Second, true},
		// Both present: the later wins, whichever header names it.
		{"both, retry-after later", h("X-RateLimit-Reset", now.Add(2*time.Second).Format(time.RFC3339), "Retry-After", "20"), nil, nil, 20 * time.Second, true},
		{"both, reset later", h("X-RateLimit-Reset", now.Add(40*time.Second).Format(time.RFC3339), "Retry-After", "5"), nil, nil, 40 * time.Second, true},
		{"provider's own at header", h("X-Rate-Reset-At", now.Add(9*time.Second).Format(time.RFC3339)), []string{"X-Rate-Reset-At"}, nil, 9 * time.Second, true},
		{"provider's own after header", h("X-Wait", "4"), nil, []string{"X-Wait"}, 4 * time.Second, true},
	}
	for _, c := range cases {
		got, ok := RetryWait(c.h, now, c.at, c.after)
		if got != c.want || ok != c.wantOK {
			t.Errorf("%s: got %v %v, want %v %v", c.name, got, ok, c.want, c.wantOK)
		}
	}
}
