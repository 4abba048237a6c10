package connections

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// A list cursor names a place in the connection list's order (newest first:
// creation time, then row id), so the next page is read from an index where
// the last one ended, however deep. It is opaque to callers: URL-safe base64
// of "1.<created at, Unix ms>.<row id>" (1: the format's version).

// maxCursor bounds what ParseCursor reads (a cursor latchkey makes has ~30 characters).
const maxCursor = 64

// Cursor is the cursor of the place just after c in the list: the page
// that follows a page ending with c starts there.
func Cursor(c *domain.Connection) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1." + strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + "." + strconv.FormatInt(c.ID, 10)))
}

// ParseCursor reads a cursor made by Cursor; anything else is an
// invalid_cursor error (400) naming the parameter.
func ParseCursor(param, s string) (*domain.ListPosition, error) {
	bad := domain.Invalid("invalid_cursor", "The "+param+" is not one latchkey gave: pass next_cursor as it came, or start again from the first page without one.",
		domain.FieldError{Code: "invalid_cursor", Message: "Invalid cursor.", Path: []string{param}})
	if s == "" || len(s) > maxCursor {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != 3 || parts[0] != "1" {
		return nil, bad
	}
	at, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || at < 0 || at > maxCursorTime || id < 1 {
		return nil, bad
	}
	return &domain.ListPosition{CreatedAt: time.UnixMilli(at).UTC(), PK: id}, nil
}

// maxCursorTime is the year 9999 in Unix milliseconds: later is no creation time.
const maxCursorTime = 253402300799999
