// Package httpx holds the small HTTP and JSON helpers every layer shares, each
// written once: JSON encoding without HTML escaping, a status-recording
// ResponseWriter, the http(s) URL check, and whether a client wants HTML.
package httpx

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Marshal encodes v as compact JSON without HTML escaping ("<", ">" and "&"
// stay as they are; map keys sorted, as encoding/json does) and without a
// trailing newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// IsHTTPURL reports whether s is an absolute http or https URL with a host.
func IsHTTPURL(s string) bool {
	_, ok := ParseHTTPURL(s)
	return ok
}

// ParseHTTPURL parses s and reports whether it is an absolute http or https
// URL with a host; callers add their own further conditions (no path, no query…).
func ParseHTTPURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return u, true
}

// StatusRecorder remembers the status and size of a response as it passes
// through; it flushes and unwraps to the writer it wraps.
type StatusRecorder struct {
	http.ResponseWriter
	// Status is the first status written; 0 until the handler writes.
	Status int
	// Bytes counts the body bytes written.
	Bytes int64
	// OnStatus, when set, is told the status before it is written.
	OnStatus func(status int)
}

// WriteHeader records the first status.
func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
		if s.OnStatus != nil {
			s.OnStatus(code)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and counts the bytes.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(b)
	s.Bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the recorder.
func (s *StatusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the wrapped writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// WantsHTML reports whether the client prefers HTML to JSON (a browser): the
// first of text/html or application/json its Accept header names wins, and
// neither means JSON.
func WantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		switch {
		case err != nil:
		case mt == "application/json":
			return false
		case mt == "text/html":
			return true
		}
	}
	return false
}
