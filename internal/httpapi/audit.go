package httpapi

import (
	"net/http"
	"net/netip"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// record adds an operator action done through the API to the audit trail,
// with the secret key that authenticated the request.
func (a *API) record(r *http.Request, action, target, detail string) {
	if a.audit == nil {
		return
	}
	c := callerFrom(r)
	a.audit.Record(r.Context(), domain.AuditEntry{EnvironmentID: c.env.ID, SecretKeyID: c.keyID, Via: domain.ViaAPI,
		Action: action, Target: target, Detail: detail, Client: clientString(a.throttle.Client(r))})
}

// auditing is record for a session creation: the entry, made from the
// stored session (action, target, detail), is written in the session's
// transaction. None without an audit trail.
func (a *API) auditing(r *http.Request, what func(*domain.ConnectSession) (action, target, detail string)) []connect.Audit {
	if a.audit == nil {
		return nil
	}
	c := callerFrom(r)
	client := clientString(a.throttle.Client(r))
	return []connect.Audit{func(s *domain.ConnectSession) *domain.AuditEntry {
		action, target, detail := what(s)
		return &domain.AuditEntry{EnvironmentID: c.env.ID, SecretKeyID: c.keyID, Via: domain.ViaAPI, Action: action, Target: target, Detail: detail, Client: client}
	}}
}

type auditView struct {
	ID     int64  `json:"id"`
	At     string `json:"at"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail,omitempty"`
	Actor  struct {
		SecretKeyID int64  `json:"secret_key_id"`
		Via         string `json:"via"`
		Description string `json:"description"`
	} `json:"actor"`
	Client string `json:"client,omitempty"`
}

// listAudit pages through the environment's audit trail, newest first.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"limit", "before", "action"}); err != nil {
		return err
	}
	limit, before, err := pageParams(r, "audit entry")
	if err != nil {
		return err
	}
	if a.audit == nil {
		writeJSON(w, http.StatusOK, map[string]any{"data": []auditView{}})
		return nil
	}
	list, err := a.audit.List(r.Context(), callerFrom(r).env.ID, domain.AuditFilter{Action: r.URL.Query().Get("action"), BeforeID: before, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]auditView, len(list))
	for i, e := range list {
		v := auditView{ID: e.ID, At: isoOffset(e.At), Action: e.Action, Target: e.Target, Detail: e.Detail, Client: e.Client}
		v.Actor.SecretKeyID, v.Actor.Via, v.Actor.Description = e.SecretKeyID, e.Via, audit.Who(e)
		out[i] = v
	}
	reply := map[string]any{"data": out}
	if len(list) == limit {
		reply["next_before"] = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// clientString is a client address for the audit trail ("" when unknown).
func clientString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
