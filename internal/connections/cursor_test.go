package connections

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

func TestCursorRoundTrip(t *testing.T) {
	c := &domain.Connection{ID: 4242, CreatedAt: time.Date(2026, 11, 30, 12, 0, 0, 123e6, time.UTC)}
	s := Cursor(c)
	pos, err := ParseCursor("cursor", s)
	if err != nil || pos.PK != 4242 || !pos.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("%q: %+v %v", s, pos, err)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			t.Errorf("cursor %q holds %q, which is not URL-safe", s, r)
		}
	}
}

// Whatever a caller sends as a cursor, it is a position latchkey made or an
// invalid_cursor error, never a panic.
func TestParseCursorRefusesWhatLatchkeyDidNotMake(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{"", "x", "%%%", enc("1.2"), enc("2.1.1"), enc("1.-5.1"), enc("1.5.0"), enc("1.5.-1"), enc("1.a.1"),
		enc("1.99999999999999999999.1"), enc("1.253402300800000.1"), enc("1.5.1.9"), enc("1.5.1") + "=", string(make([]byte, 100))} {
		_, err := ParseCursor("cursor", s)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != "invalid_cursor" || de.Kind != domain.KindInvalid || len(de.Fields) != 1 || de.Fields[0].Path[0] != "cursor" {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(Cursor(&domain.Connection{ID: 1, CreatedAt: time.UnixMilli(1)}))
	f.Add("MS4xLjE")
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := ParseCursor("cursor", s)
		if err == nil && (pos.PK < 1 || pos.CreatedAt.UnixMilli() < 0) {
			t.Errorf("%q read as %+v", s, pos)
		}
		if err == nil && Cursor(&domain.Connection{ID: pos.PK, CreatedAt: pos.CreatedAt}) == "" {
			t.Error("empty cursor")
		}
	})
}
