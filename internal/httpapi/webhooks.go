package httpapi

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

type attemptView struct {
	Attempt    int    `json:"attempt"`
	At         string `json:"at"`
	Status     *int   `json:"status"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

type deliveryView struct {
	ID            int64         `json:"id"`
	URL           string        `json:"url"`
	Type          string        `json:"type"`
	ConnectionID  string        `json:"connection_id"`
	Status        string        `json:"status"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt *string       `json:"next_attempt_at"`
	DeliveredAt   *string       `json:"delivered_at"`
	FailedAt      *string       `json:"failed_at"`
	LastStatus    *int          `json:"last_status"`
	LastError     string        `json:"last_error,omitempty"`
	CreatedAt     string        `json:"created_at"`
	Body          any           `json:"body,omitempty"`
	AttemptLog    []attemptView `json:"attempt_log,omitempty"`
}

func intPtr(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func deliveryJSON(m *domain.OutboxMessage, full bool) deliveryView {
	v := deliveryView{ID: m.ID, URL: m.URL, Type: m.EventType, ConnectionID: m.ConnectionID, Attempts: m.Attempts,
		DeliveredAt: isoOffsetPtr(m.DeliveredAt), FailedAt: isoOffsetPtr(m.FailedAt), LastStatus: intPtr(m.LastStatus), LastError: hideAddresses(m.LastError),
		CreatedAt: isoOffset(m.CreatedAt)}
	switch {
	case m.DeliveredAt != nil:
		v.Status = "delivered"
	case m.FailedAt != nil:
		v.Status = "failed"
	default:
		v.Status = "pending"
		v.NextAttemptAt = isoOffsetPtr(&m.NextAttemptAt)
	}
	if full {
		v.Body = rawJSON(m.Body)
		for _, a := range m.AttemptLog {
			v.AttemptLog = append(v.AttemptLog, attemptView{Attempt: a.Attempt, At: isoOffset(a.At), Status: intPtr(a.Status), Error: hideAddresses(a.Error), DurationMS: a.Duration.Milliseconds()})
		}
	}
	return v
}

// hideAddresses blanks the IP addresses (and ports) in a delivery error.
// Errors are written in fixed words that name no address; rows recorded
// before that may hold Go's own text ("dial tcp 10.0.0.5:443: connect:
// connection refused"), which would map the operator's network.
func hideAddresses(s string) string {
	if s == "" {
		return s
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		ends := strings.Split(w, "->") // "read tcp 10.0.0.1:5123->10.0.0.5:443:"
		for j, e := range ends {
			core := strings.TrimRight(e, ":,;)")
			if isAddress(strings.TrimLeft(core, "(")) {
				ends[j] = "[address]" + e[len(core):]
			}
		}
		words[i] = strings.Join(ends, "->")
	}
	return strings.Join(words, " ")
}

func isAddress(s string) bool {
	if _, err := netip.ParseAddrPort(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"status", "limit", "before"}); err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && status != "pending" && status != "delivered" && status != "failed" {
		return domain.Invalid("invalid_query_params", "status must be pending, delivered or failed.",
			domain.FieldError{Code: "invalid_enum_value", Message: "status must be pending, delivered or failed.", Path: []string{"status"}})
	}
	limit, before, err := pageParams(r, "delivery")
	if err != nil {
		return err
	}
	list, err := a.deliveries.List(r.Context(), callerFrom(r).env.ID, status, before, limit)
	if err != nil {
		return err
	}
	out := make([]deliveryView, len(list))
	for i, m := range list {
		out[i] = deliveryJSON(m, false)
	}
	reply := map[string]any{"data": out}
	if len(list) == limit {
		reply["next_before"] = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

func deliveryID(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n < 1 {
		return 0, domain.Invalid("invalid_uri_params", "The delivery id must be a number.")
	}
	return n, nil
}

func (a *API) getDelivery(w http.ResponseWriter, r *http.Request) error {
	id, err := deliveryID(r)
	if err != nil {
		return err
	}
	m, err := a.deliveries.Get(r.Context(), callerFrom(r).env.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": deliveryJSON(m, true)})
	return nil
}

func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	id, err := deliveryID(r)
	if err != nil {
		return err
	}
	if err := a.deliveries.Retry(r.Context(), callerFrom(r).env.ID, id); err != nil {
		return err
	}
	a.record(r, audit.WebhookRetry, "delivery "+strconv.FormatInt(id, 10), "")
	writeJSON(w, http.StatusAccepted, map[string]any{"success": true, "at": isoOffset(time.Now())})
	return nil
}

// pageParams reads limit (1–500, default 50) and before (an id) for listings
// paged newest first.
func pageParams(r *http.Request, what string) (limit int, before int64, err error) {
	q := r.URL.Query()
	limit = 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, 0, domain.Invalid("invalid_query_params", "limit must be from 1 to 500.",
				domain.FieldError{Code: "invalid_type", Message: "limit must be from 1 to 500.", Path: []string{"limit"}})
		}
		limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			msg := "before must be a " + what + " id."
			return 0, 0, domain.Invalid("invalid_query_params", msg, domain.FieldError{Code: "invalid_type", Message: msg, Path: []string{"before"}})
		}
		before = n
	}
	return limit, before, nil
}
