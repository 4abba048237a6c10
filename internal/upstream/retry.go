package upstream

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryWait reads how long a provider asks callers to wait before trying again,
// from the headers that name an instant (X-RateLimit-Reset, plus a provider's
// own in atHeaders: ISO-8601, an HTTP date, epoch seconds or milliseconds, or a
// small relative number of seconds) and those that name a delay (Retry-After,
// plus afterHeaders: seconds or an HTTP date). When several are present it
// waits for the latest of them, so no header's request is cut short. found is
// false when no header could be read.
func RetryWait(h http.Header, now time.Time, atHeaders, afterHeaders []string) (wait time.Duration, found bool) {
	consider := func(d time.Duration, ok bool) {
		if ok && (!found || d > wait) {
			wait, found = d, true
		}
	}
	for _, name := range append([]string{"X-RateLimit-Reset"}, atHeaders...) {
		consider(untilInstant(h.Get(name), now))
	}
	for _, name := range append([]string{"Retry-After"}, afterHeaders...) {
		consider(afterDelay(h.Get(name), now))
	}
	return wait, found
}

// untilInstant reads an instant: ISO-8601, HTTP date, or epoch seconds or
// milliseconds; a number too small to be an epoch is a delay in seconds.
func untilInstant(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return max(t.Sub(now), 0), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	n, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil || n < 0:
		return 0, false
	case n > 1e12: // milliseconds since the epoch
		return max(time.UnixMilli(int64(n)).Sub(now), 0), true
	case n > 1e9: // seconds since the epoch
		return max(time.Unix(int64(n), 0).Sub(now), 0), true
	}
	return time.Duration(n * float64(time.Second)), true
}

// afterDelay reads Retry-After: seconds or an HTTP date.
func afterDelay(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
