package httpapi

import (
	"net/http"
	"strconv"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/domain"

	"github.com/latchkeyhq/latchkey/internal/connect"
)

type sessionReply struct {
	Data sessionReplyData `json:"data"`
}

type sessionReplyData struct {
	Token       string `json:"token"`
	ConnectLink string `json:"connect_link"`
	ExpiresAt   string `json:"expires_at"`
}

func (a *API) replySession(w http.ResponseWriter, s *connect.NewSession) error {
	writeJSON(w, http.StatusCreated, sessionReply{sessionReplyData{
		Token:       s.Token,
		ConnectLink: a.publicURL + "/connect?session_token=" + s.Token,
		ExpiresAt:   isoZ(s.Session.ExpiresAt),
	}})
	return nil
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	var req connect.SessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	s, err := a.connect.CreateSession(r.Context(), callerFrom(r).env, &req, a.auditing(r, func(s *domain.ConnectSession) (string, string, string) {
		return audit.SessionCreate, sessionTarget(s), ""
	})...)
	if err != nil {
		return err
	}
	return a.replySession(w, s)
}

func (a *API) createReconnectSession(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	var req connect.ReconnectRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	s, err := a.connect.CreateReconnectSession(r.Context(), callerFrom(r).env, &req, a.auditing(r, func(s *domain.ConnectSession) (string, string, string) {
		return audit.ReconnectCreate, req.IntegrationID + "/" + req.ConnectionID, "session " + strconv.FormatInt(s.ID, 10)
	})...)
	if err != nil {
		return err
	}
	return a.replySession(w, s)
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	s := callerFrom(r).session
	data := map[string]any{
		"endUser": endUserJSON(s.EndUser),
		"connectUISettings": map[string]any{
			"theme":         map[string]any{"light": map[string]any{"primary": a.primaryColor}, "dark": map[string]any{"primary": a.primaryColor}},
			"defaultTheme":  "system",
			"showWatermark": false,
		},
		"expires_at": isoZ(s.ExpiresAt),
	}
	if len(s.AllowedIntegrations) > 0 {
		data["allowed_integrations"] = s.AllowedIntegrations
	}
	if len(s.ConfigDefaults) > 0 {
		defaults := map[string]any{}
		for k, d := range s.ConfigDefaults {
			defaults[k] = map[string]any{"connection_config": nonNilMap(d.ConnectionConfig), "authorization_params": nonNilMap(d.AuthorizationParams)}
		}
		data["integrations_config_defaults"] = defaults
	}
	if len(s.Overrides) > 0 {
		data["overrides"] = s.Overrides
	}
	if s.IsReconnect() {
		prefill, err := a.connect.ReconnectPrefill(r.Context(), s)
		if err != nil {
			return err
		}
		data["isReconnecting"] = true
		data["reconnect"] = map[string]any{"connection_id": s.ReconnectConnectionID, "integration_id": s.ReconnectIntegration, "prefill": prefill}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

// sessionTarget names what a connect session is for in the audit trail.
func sessionTarget(s *domain.ConnectSession) string {
	t := "session " + strconv.FormatInt(s.ID, 10)
	if s.EndUser != nil {
		t += " for end user " + s.EndUser.ID
	}
	return t
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.connect.DeleteSession(r.Context(), callerFrom(r).session); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) telemetry(w http.ResponseWriter, r *http.Request) error {
	// The Connect UI reports usage here; latchkey keeps none of it.
	_, _ = http.MaxBytesReader(w, r.Body, maxBody).Read(make([]byte, 512))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
