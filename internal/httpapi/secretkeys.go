package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// secretKeyView is a key as the API shows it: never the key, never its digest.
type secretKeyView struct {
	ID         int64   `json:"id"`
	Label      string  `json:"label"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	RevokedAt  *string `json:"revoked_at"`
	// Current is true for the key that made this request.
	Current bool `json:"current"`
	// SecretKey is set once, in the answer to its creation.
	SecretKey string `json:"secret_key,omitempty"`
}

func secretKeyJSON(k *domain.SecretKey, current int64) secretKeyView {
	return secretKeyView{ID: k.ID, Label: k.Label, CreatedAt: isoOffset(k.CreatedAt), LastUsedAt: isoOffsetPtr(k.LastUsedAt),
		RevokedAt: isoOffsetPtr(k.RevokedAt), Current: k.ID == current}
}

func (a *API) listSecretKeys(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	c := callerFrom(r)
	keys, err := a.keys.List(r.Context(), c.env.ID)
	if err != nil {
		return err
	}
	out := make([]secretKeyView, len(keys))
	for i, k := range keys {
		out[i] = secretKeyJSON(k, c.keyID)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

func (a *API) createSecretKey(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	var req struct {
		Label string `json:"label"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c := callerFrom(r)
	key, k, err := a.keys.Create(r.Context(), c.env, req.Label)
	if err != nil {
		return err
	}
	a.record(r, audit.SecretKeyCreate, fmt.Sprintf("key %d", k.ID), labelDetail(k.Label))
	v := secretKeyJSON(k, c.keyID)
	v.SecretKey = key
	writeJSON(w, http.StatusCreated, map[string]any{"data": v})
	return nil
}

func (a *API) revokeSecretKey(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return domain.Invalid("invalid_uri_params", "The secret key id must be a number (GET /environment/secret-keys lists them).")
	}
	c := callerFrom(r)
	k, err := a.keys.Revoke(r.Context(), c.env.ID, id)
	if err != nil {
		return err
	}
	a.record(r, audit.SecretKeyRevoke, fmt.Sprintf("key %d", k.ID), labelDetail(k.Label))
	writeJSON(w, http.StatusOK, map[string]any{"data": secretKeyJSON(k, c.keyID)})
	return nil
}

func labelDetail(label string) string {
	if label == "" {
		return ""
	}
	return "label: " + label
}
