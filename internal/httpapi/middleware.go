package httpapi

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
)

// reqState is what the API keeps about one request, allocated once and put in
// its context once: its id, the recorder the access log reads, and who called
// (set by guard). Every request pays for the middleware, the proxied calls
// most of all, so the chain is one function (front) over this one allocation.
type reqState struct {
	rec    httpx.StatusRecorder
	id     string
	idv    [1]string // X-Request-Id's value, without a slice of its own
	caller caller
}

type stateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

func requestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// newRequestID is 16 hex digits of randomness: ids tell requests apart in
// logs and answers; they protect nothing, so the runtime's fast generator will
// do (crypto/rand cost a system call per request).
func newRequestID() string {
	var b [8]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	var out [16]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// Header values set on every answer: shared, never modified (net/http only
// reads them; Header.Add on a full slice copies it).
var (
	valNosniff     = []string{"nosniff"}
	valNoReferrer  = []string{"no-referrer"}
	valNoStore     = []string{"no-store"}
	valAnyOrigin   = []string{"*"}
	valCORSMethods = []string{"GET, POST, PUT, PATCH, DELETE, OPTIONS"}
	valCORSHeaders = []string{"Authorization, Content-Type, Connection-Id, Provider-Config-Key, Retries, Retry-On, Base-Url-Override, Decompress, " +
		"Forward-Headers-On-Redirect, Nango-Is-Sync, Nango-Is-Script, Nango-Is-Dry-Run, Nango-Activity-Log-Id, X-Request-Id"}
	valCORSMaxAge = []string{"600"}
)

// front is every request's way in, in this order: an id (echoed in
// X-Request-Id), the security headers, CORS, the refusal of dot segments in
// proxy paths, then the route (the proxy's directly: it is the hot path, and
// its pattern is a prefix the router would only find after trying the
// others), with panics turned into a logged 500 and one access-log line.
func (a *API) front(w http.ResponseWriter, r *http.Request) {
	st := &reqState{id: newRequestID()}
	st.idv[0] = st.id
	st.rec.ResponseWriter = w
	h := w.Header()
	h["X-Request-Id"] = st.idv[:]
	// Safe defaults for a JSON API.
	h["X-Content-Type-Options"] = valNosniff
	h["Referrer-Policy"] = valNoReferrer
	h["Cache-Control"] = valNoStore
	// The path only, never the query: connect-session tokens travel in the
	// query string.
	level := slog.LevelInfo
	if r.URL.Path == "/health" || r.URL.Path == "/ready" {
		level = slog.LevelDebug
	}
	logged := a.log.Enabled(r.Context(), level)
	var start time.Time
	if logged {
		start = time.Now()
	}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	a.serve(&st.rec, r)
	if !logged {
		return
	}
	if st.rec.Status == 0 {
		st.rec.Status = http.StatusOK
	}
	a.log.LogAttrs(r.Context(), level, "request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", st.rec.Status),
		slog.Int64("bytes", st.rec.Bytes), slog.Duration("duration", time.Since(start)), slog.String("request_id", st.id))
}

// serve is front after the headers every answer carries.
func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	defer a.recoverPanic(w, r)
	if !a.cors(w, r) {
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/proxy/"); ok {
		if dotSegments(rest) {
			a.writeError(w, r, domain.Invalid("invalid_endpoint", "The endpoint must not contain ., .. or empty path segments."))
			return
		}
		// The router matches the escaped path: "/proxy%2F…" is not the proxy's.
		if a.proxyRoute != nil && r.Method != http.MethodConnect && (r.URL.RawPath == "" || strings.HasPrefix(r.URL.RawPath, "/proxy/")) {
			r.Pattern = proxyPattern
			a.proxyRoute.ServeHTTP(w, r)
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

// recoverPanic turns a panic into a logged 500 instead of a dropped connection.
func (a *API) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	a.log.ErrorContext(r.Context(), "panic", "value", v, "stack", string(debug.Stack()), "request_id", requestID(r.Context()))
	writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: "internal_error", Message: "An unexpected error occurred."}})
}

// cors allows any origin, as Nango does: the browser SDK calls latchkey from
// the customer's pages, and every API route is protected by a bearer
// credential, not cookies. Paths under CookiePrefix (the console) get no CORS
// headers. It answers preflight requests itself, and reports whether the
// request goes on.
func (a *API) cors(w http.ResponseWriter, r *http.Request) bool {
	if a.cookiePrefix != "" && strings.HasPrefix(r.URL.Path, a.cookiePrefix) {
		return true
	}
	h := w.Header()
	h["Access-Control-Allow-Origin"] = valAnyOrigin
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h["Access-Control-Allow-Methods"] = valCORSMethods
		h["Access-Control-Allow-Headers"] = valCORSHeaders
		h["Access-Control-Max-Age"] = valCORSMaxAge
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

// dotSegments reports whether a proxy path (after /proxy/) has "." or ".."
// segments or empty ones (but a trailing slash), literal (the percent-encoded
// ones are decoded in r.URL.Path). Go's router would answer such a path with
// a redirect to the cleaned one: a caller asking to leave the provider's path
// is refused (invalid_endpoint), not sent elsewhere.
func dotSegments(rest string) bool {
	for rest != "" {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." || (seg == "" && more) {
			return true
		}
		rest = tail
	}
	return false
}
