package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
)

type ctxKey int

const requestIDKey ctxKey = iota

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID gives every request an id, echoed in X-Request-Id.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// accessLog logs one line per request. It logs the path only, never the query:
// connect-session tokens travel in the query string.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &httpx.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		level := slog.LevelInfo
		if r.URL.Path == "/health" || r.URL.Path == "/ready" {
			level = slog.LevelDebug
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.Status),
			slog.Int64("bytes", rec.Bytes), slog.Duration("duration", time.Since(start)), slog.String("request_id", requestID(r.Context())))
	})
}

// recoverPanics turns a panic into a logged 500 instead of a dropped connection.
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic", "value", v, "stack", string(debug.Stack()), "request_id", requestID(r.Context()))
				writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: "internal_error", Message: "An unexpected error occurred."}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// cors allows any origin, as Nango does: the browser SDK calls latchkey from the
// customer's pages, and every API route is protected by a bearer credential,
// not cookies. Paths under cookiePrefix (the console) get no CORS headers.
func cors(cookiePrefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cookiePrefix != "" && strings.HasPrefix(r.URL.Path, cookiePrefix) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Connection-Id, Provider-Config-Key, Retries, Retry-On, Base-Url-Override, Decompress, "+
				"Forward-Headers-On-Redirect, Nango-Is-Sync, Nango-Is-Script, Nango-Is-Dry-Run, Nango-Activity-Log-Id, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders are safe defaults for a JSON API.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// refuseDotSegments answers 400 invalid_endpoint for a proxy path with "." or
// ".." segments or empty ones, literal or percent-encoded, where Go's router
// would answer a redirect to the cleaned path: a caller asking to leave the
// provider's path is refused, not sent elsewhere.
func (a *API) refuseDotSegments(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/proxy/"); ok {
			segs := strings.Split(rest, "/")
			for i, seg := range segs {
				if seg == "." || seg == ".." || (seg == "" && i < len(segs)-1) {
					a.writeError(w, r, domain.Invalid("invalid_endpoint", "The endpoint must not contain ., .. or empty path segments."))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
