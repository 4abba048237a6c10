package httpapi

import (
	"net/http"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/audit"

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
	a.record(r, audit.WebhookSettings, "environment "+s.Name, webhookChanges(p))
	writeJSON(w, http.StatusOK, map[string]any{"data": s})
	return nil
}

func (a *API) rotateSigningKey(w http.ResponseWriter, r *http.Request) error {
	s, err := a.settings.Rotate(r.Context(), callerFrom(r).env.ID)
	if err != nil {
		return err
	}
	a.record(r, audit.SigningKeyRotate, "environment "+s.Name, "")
	writeJSON(w, http.StatusOK, map[string]any{"data": s})
	return nil
}

// webhookChanges says which webhook URLs a patch set (URLs are not secrets).
func webhookChanges(p environment.Patch) string {
	var parts []string
	if p.WebhookURL != nil {
		parts = append(parts, "webhook_url = "+orNone(*p.WebhookURL))
	}
	if p.WebhookSecondaryURL != nil {
		parts = append(parts, "webhook_secondary_url = "+orNone(*p.WebhookSecondaryURL))
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
