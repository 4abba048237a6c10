package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/audit"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/integrations"
)

func (a *API) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r)
	var allowed []string
	if c.session != nil {
		allowed = c.session.AllowedIntegrations
	}
	list, err := a.integrations.List(r.Context(), c.env.ID, allowed)
	if err != nil {
		return err
	}
	out := make([]integrationView, len(list))
	for i, in := range list {
		out[i] = a.integrationJSON(in)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

func (a *API) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var req integrations.Request
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in, err := a.integrations.Create(r.Context(), callerFrom(r).env.ID, &req)
	if err != nil {
		return err
	}
	a.record(r, audit.IntegrationCreate, in.UniqueKey, "provider "+in.Provider+", display name "+strconv.Quote(in.DisplayName))
	writeJSON(w, http.StatusOK, map[string]any{"data": a.integrationJSON(in)})
	return nil
}

func (a *API) getIntegration(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"include"}); err != nil {
		return err
	}
	in, err := a.integrations.Get(r.Context(), callerFrom(r).env.ID, r.PathValue("uniqueKey"))
	if err != nil {
		return err
	}
	view := map[string]any{}
	iv := a.integrationJSON(in)
	for k, v := range map[string]any{"unique_key": iv.UniqueKey, "provider": iv.Provider, "display_name": iv.DisplayName, "logo": iv.Logo,
		"forward_webhooks": iv.ForwardWebhooks, "created_at": iv.CreatedAt, "updated_at": iv.UpdatedAt} {
		view[k] = v
	}
	for _, inc := range r.URL.Query()["include"] {
		switch inc {
		case "webhook":
			view["webhook_url"] = nil
		case "credentials":
			view["credentials"] = nil
		default:
			return domain.Invalid("invalid_query_params", "include may be webhook or credentials.",
				domain.FieldError{Code: "invalid_enum_value", Message: "include may be webhook or credentials.", Path: []string{"include"}})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": view})
	return nil
}

func (a *API) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	var req integrations.Request
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in, err := a.integrations.Update(r.Context(), callerFrom(r).env.ID, r.PathValue("uniqueKey"), &req)
	if err != nil {
		return err
	}
	a.record(r, audit.IntegrationUpdate, r.PathValue("uniqueKey"), integrationChanges(&req))
	writeJSON(w, http.StatusOK, map[string]any{"data": a.integrationJSON(in)})
	return nil
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	if err := a.integrations.Delete(r.Context(), callerFrom(r).env.ID, r.PathValue("uniqueKey")); err != nil {
		return err
	}
	a.record(r, audit.IntegrationDelete, r.PathValue("uniqueKey"), "")
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return nil
}

// integrationChanges describes what an update request sets, for the audit trail.
func integrationChanges(req *integrations.Request) string {
	var parts []string
	if req.DisplayName != nil {
		parts = append(parts, "display name "+strconv.Quote(strings.TrimSpace(*req.DisplayName)))
	}
	if req.UniqueKey != nil {
		parts = append(parts, "unique key "+strconv.Quote(*req.UniqueKey))
	}
	if req.ForwardWebhooks != nil {
		parts = append(parts, "forward webhooks "+strconv.FormatBool(*req.ForwardWebhooks))
	}
	if req.IntegrationConfig != nil || req.Custom != nil {
		parts = append(parts, "configuration")
	}
	return strings.Join(parts, ", ")
}
