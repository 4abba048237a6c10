package httpapi

import (
	"net/http"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// verifyConnection re-verifies a connection now and records the result like a
// scheduled check would (a failing transition sends the refresh webhook).
func (a *API) verifyConnection(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"provider_config_key"}); err != nil {
		return err
	}
	id, err := connectionIDFromPath(r)
	if err != nil {
		return err
	}
	c, err := a.connections.Stored(r.Context(), callerFrom(r).env.ID, r.URL.Query().Get("provider_config_key"), id)
	if err != nil {
		return err
	}
	prev := c.Status
	res, err := a.lifecycle.Check(r.Context(), c)
	if err != nil {
		return err
	}
	a.record(r, audit.ConnectionCheck, c.IntegrationKey+"/"+c.ConnectionID, "status "+prev+" → "+res.Status)
	warnings := res.Warnings
	if warnings == nil {
		warnings = []domain.Warning{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"connection_id": c.ConnectionID, "provider_config_key": c.IntegrationKey,
		"status": res.Status, "previous_status": prev, "warnings": warnings, "message": res.Message,
		"verified": res.Verified, "consecutive_failures": res.Failures, "next_check_at": isoOffsetPtr(nonZero(res.Next)),
		"superseded": res.Superseded,
	})
	return nil
}

type eventView struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
	At      string `json:"at"`
}

// connectionEvents pages through a connection's operation log, newest first.
func (a *API) connectionEvents(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"provider_config_key", "limit", "before"}); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, before, err := pageParams(r, "event")
	if err != nil {
		return err
	}
	id, err := connectionIDFromPath(r)
	if err != nil {
		return err
	}
	events, err := a.connections.Events(r.Context(), callerFrom(r).env.ID, q.Get("provider_config_key"), id, before, limit)
	if err != nil {
		return err
	}
	out := make([]eventView, len(events))
	for i, e := range events {
		out[i] = eventView{ID: e.ID, Kind: e.Kind, Outcome: e.Outcome, Code: e.Code, Message: e.Message, At: isoOffset(e.At)}
	}
	reply := map[string]any{"data": out}
	if len(events) == limit {
		reply["next_before"] = events[len(events)-1].ID
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
