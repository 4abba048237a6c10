package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// This file is the one place where errors become HTTP answers. Services
// return *domain.Error values (a kind, a stable code, a message, the fields at
// fault, when to retry); the tables below turn a kind into a status, and the
// Nango irregularities into their own.

// statusOf maps each kind of error to its status.
var statusOf = map[domain.Kind]int{
	domain.KindInvalid:             http.StatusBadRequest,
	domain.KindUnauthenticated:     http.StatusUnauthorized,
	domain.KindNotFound:            http.StatusNotFound,
	domain.KindConflict:            http.StatusConflict,
	domain.KindTooLarge:            http.StatusRequestEntityTooLarge,
	domain.KindUnsupportedMedia:    http.StatusUnsupportedMediaType,
	domain.KindRateLimited:         http.StatusTooManyRequests,
	domain.KindUpstreamUnavailable: http.StatusBadGateway,
	domain.KindUpstreamTimeout:     http.StatusGatewayTimeout,
	domain.KindUnavailable:         http.StatusServiceUnavailable,
	// The caller went away; nobody reads this answer (nginx's convention).
	domain.KindCanceled:  499,
	domain.KindForbidden: http.StatusForbidden,
}

// nangoQuirk is an answer of Nango's API that does not follow the table above,
// kept because clients written against Nango (and its SDKs) rely on it.
type nangoQuirk struct {
	pattern string // the route, as registered
	code    string // the error's code
}

// quirks are the deliberate irregularities, each listed in docs/compatibility.md.
var quirks = map[nangoQuirk]int{
	// Deleting an unknown connection is a 400 in Nango (reading one is a 404).
	{"DELETE /connections/{connectionId...}", "unknown_connection"}: http.StatusBadRequest,
	// An unknown provider_config_key on the connection routes is a 400
	// ("Provider does not exists"), where the proxy and submissions say 404.
	{"GET /connections/{connectionId...}", "unknown_provider_config"}:      http.StatusBadRequest,
	{"PATCH /connections/{connectionId...}", "unknown_provider_config"}:    http.StatusBadRequest,
	{"DELETE /connections/{connectionId...}", "unknown_provider_config"}:   http.StatusBadRequest,
	{"GET /connections/{connectionId}/events", "unknown_provider_config"}:  http.StatusBadRequest,
	{"POST /connections/{connectionId}/verify", "unknown_provider_config"}: http.StatusBadRequest,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string              `json:"code"`
	Message string              `json:"message,omitempty"`
	Errors  []domain.FieldError `json:"errors,omitempty"`
	Payload map[string]any      `json:"payload,omitempty"`
}

// statusFor is the status of e on the route r matched.
func statusFor(r *http.Request, e *domain.Error) int {
	if s, ok := quirks[nangoQuirk{r.Pattern, e.Code}]; ok {
		return s
	}
	if s, ok := statusOf[e.Kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// writeError answers err. A *domain.Error says what the caller did wrong (or
// what failed upstream); an unreachable database is a 503; anything else is
// logged with the request id and answered with a bare 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *domain.Error
	switch {
	case errors.As(err, &e) && e.Kind != domain.KindInternal:
	case errors.Is(err, domain.ErrUnavailable):
		e = &domain.Error{Kind: domain.KindUnavailable, Code: "database_unavailable", Message: "The database is unavailable; try again shortly.", RetryAfter: time.Second}
	default:
		a.log.ErrorContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", r.URL.Path, "request_id", requestID(r.Context()))
		writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: "internal_error", Message: "An unexpected error occurred. It has been logged with request id " + requestID(r.Context()) + "."}})
		return
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	status := statusFor(r, e)
	if e.Kind == domain.KindCanceled {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, errorBody{errorDetail{Code: e.Code, Message: e.Message, Errors: e.Fields, Payload: e.Payload}})
}
