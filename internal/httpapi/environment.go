package httpapi

import (
	"net/http"

	"github.com/latchkeyhq/latchkey/internal/environment"
)

func (a *API) getEnvironment(w http.ResponseWriter, r *http.Request) error {
	s, err := a.settings.Get(r.Context(), callerFrom(r).env.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s})
	return nil
}

func (a *API) patchEnvironment(w http.ResponseWriter, r *http.Request) error {
	var p environment.Patch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	s, err := a.settings.Patch(r.Context(), callerFrom(r).env.ID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s})
	return nil
}

func (a *API) rotateSigningKey(w http.ResponseWriter, r *http.Request) error {
	s, err := a.settings.Rotate(r.Context(), callerFrom(r).env.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s})
	return nil
}
