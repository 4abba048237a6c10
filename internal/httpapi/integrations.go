package httpapi

import (
	"net/http"

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
	writeJSON(w, http.StatusOK, map[string]any{"data": a.integrationJSON(in)})
	return nil
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	if err := a.integrations.Delete(r.Context(), callerFrom(r).env.ID, r.PathValue("uniqueKey")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return nil
}
