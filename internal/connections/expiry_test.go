package connections

import (
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want string // RFC 3339 in UTC, or "" for refused
	}{
		{"2026-03-10", "2026-03-10T23:59:59Z"},                // today: the end of today, UTC
		{"2026-03-09", ""},                                    // yesterday
		{"2001-01-01", ""},                                    // long ago
		{"2026-03-10T15:04:05Z", ""},                          // this very second has passed
		{"2026-03-10T15:04:06Z", "2026-03-10T15:04:06Z"},      // one second ahead
		{"2026-03-10T23:59:59+14:00", ""},                     // the end of 10 March in Kiritimati was 09:59:59 UTC
		{"2026-03-10T23:59:59-10:00", "2026-03-11T09:59:59Z"}, // the end of 10 March in Honolulu
		{"2026-03-09T23:59:59-12:00", ""},                     // the end of 9 March at -12:00 was 11:59:59 UTC today
		{"2027-03-11", "2027-03-11T23:59:59Z"},                // a year and a day ahead
		{"2027-03-13", ""},                                    // more than a year and two days
		{"soon", ""},
	} {
		got, ferr := ParseExpiry(c.in, now, "credentials_expires_at")
		switch {
		case c.want == "" && ferr == nil:
			t.Errorf("%s: accepted as %v, want refused", c.in, got)
		case c.want == "" && (ferr.Code != "invalid_date" || ferr.Path[0] != "credentials_expires_at" || ferr.Message == ""):
			t.Errorf("%s: error %+v", c.in, ferr)
		case c.want != "" && ferr != nil:
			t.Errorf("%s: refused (%s), want %s", c.in, ferr.Message, c.want)
		case c.want != "" && got.Format(time.RFC3339) != c.want:
			t.Errorf("%s: %s, want %s", c.in, got.Format(time.RFC3339), c.want)
		}
	}
	if got, ferr := ParseExpiry("", now); got != nil || ferr != nil {
		t.Errorf("empty: %v %v", got, ferr)
	}
}
