package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/audit"

	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Bounds of a listing's filters; page times limit never overflows.
const (
	maxListIntegrations = 50
	maxListPage         = 1_000_000
	// maxListAll is the page size without limit: Nango answers every
	// connection then; latchkey at most this many, with a next_cursor.
	maxListAll = 10_000
)

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"connectionId", "search", "endUserId", "endUserOrganizationId", "integrationId", "limit", "page", "cursor", "status"}, "tags["); err != nil {
		return err
	}
	q := r.URL.Query()
	f := domain.ConnectionFilter{ConnectionID: q.Get("connectionId"), Search: q.Get("search"), EndUserID: q.Get("endUserId"),
		EndUserOrgID: q.Get("endUserOrganizationId"), Status: q.Get("status")}
	var errs []domain.FieldError
	for name, v := range map[string]string{"connectionId": f.ConnectionID, "search": f.Search, "endUserId": f.EndUserID, "endUserOrganizationId": f.EndUserOrgID} {
		if len(v) > 255 {
			errs = append(errs, domain.FieldError{Code: "too_big", Message: name + " must be at most 255 characters.", Path: []string{name}})
		}
	}
	if v := q.Get("integrationId"); v != "" {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				f.IntegrationIDs = append(f.IntegrationIDs, k)
			}
		}
		if len(f.IntegrationIDs) > maxListIntegrations {
			errs = append(errs, domain.FieldError{Code: "too_big", Message: fmt.Sprintf("integrationId may name at most %d integrations.", maxListIntegrations), Path: []string{"integrationId"}})
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 2000 {
			errs = append(errs, domain.FieldError{Code: "invalid_type", Message: "limit must be a whole number from 1 to 2000.", Path: []string{"limit"}})
		}
		f.Limit = n
	}
	page := 0
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxListPage {
			errs = append(errs, domain.FieldError{Code: "invalid_type", Message: fmt.Sprintf("page must be a whole number from 0 to %d.", maxListPage), Path: []string{"page"}})
		}
		page = n
	}
	switch f.Status {
	case "", domain.StatusOK, domain.StatusScopeMissing, domain.StatusInvalidCredentials, domain.StatusExpired, domain.StatusUnreachable:
	default:
		errs = append(errs, domain.FieldError{Code: "invalid_enum_value", Message: "status must be one of ok, scope_missing, invalid_credentials, expired, unreachable.", Path: []string{"status"}})
	}
	for k, vs := range q {
		if strings.HasPrefix(k, "tags[") && strings.HasSuffix(k, "]") {
			if f.Tags == nil {
				f.Tags = map[string]string{}
			}
			key, v := strings.ToLower(k[5:len(k)-1]), vs[len(vs)-1]
			if len(key) > 64 || len(v) > 255 {
				errs = append(errs, domain.FieldError{Code: "too_big", Message: "A tag filter's key must be at most 64 characters and its value at most 255.", Path: []string{k}})
			}
			f.Tags[key] = v
		}
	}
	if len(f.Tags) > 10 {
		errs = append(errs, domain.FieldError{Code: "too_big", Message: "At most 10 tag filters are allowed.", Path: []string{"tags"}})
	}
	if q.Has("cursor") && q.Has("page") {
		errs = append(errs, domain.FieldError{Code: "invalid_type", Message: "cursor and page cannot be combined: page by one or the other.", Path: []string{"cursor"}})
	}
	if len(errs) > 0 {
		return domain.Invalid("invalid_query_params", errs[0].Message, errs...)
	}
	if q.Has("cursor") {
		after, err := connections.ParseCursor("cursor", q.Get("cursor"))
		if err != nil {
			return err
		}
		f.After = after
	}
	// One row more than the page, to know whether another page follows.
	size := f.Limit
	if size == 0 {
		size = maxListAll
	}
	if f.Limit > 0 {
		f.Offset = page * f.Limit
	}
	f.Limit = size + 1
	list, err := a.connections.List(r.Context(), callerFrom(r).env.ID, f)
	if err != nil {
		return err
	}
	more := len(list) > size
	if more {
		list = list[:size]
	}
	items := make([]connectionListItem, len(list))
	for i, c := range list {
		items[i] = listItemJSON(c)
	}
	body := map[string]any{"connections": items}
	if more {
		body["next_cursor"] = connections.Cursor(list[len(list)-1])
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// postConnectionSubresource serves POST /connections/{id...}: a verify of a
// connection whose id holds an unescaped slash.
func (a *API) postConnectionSubresource(w http.ResponseWriter, r *http.Request) error {
	if a.lifecycle != nil && a.subresource(r, "/verify") {
		return a.verifyConnection(w, r)
	}
	return domain.NotFound("not_found", "There is no route "+r.Method+" "+r.URL.Path+".")
}

func connectionIDFromPath(r *http.Request) (string, error) {
	id := r.PathValue("connectionId")
	if !connections.ValidConnectionID(id) {
		return "", domain.Invalid("invalid_uri_params", "The connection id in the path is not valid.",
			domain.FieldError{Code: "invalid_string", Message: "Invalid connection id.", Path: []string{"connectionId"}})
	}
	return id, nil
}

// subresource reports whether GET or POST /connections/{id...} names a
// sub-resource (events, verify) of a connection whose id holds a slash the
// caller did not escape (/connections/team/a/events), rather than a connection
// whose id itself ends that way. Escaped ids match the one-segment routes.
func (a *API) subresource(r *http.Request, suffix string) bool {
	full := r.PathValue("connectionId")
	prefix, ok := strings.CutSuffix(full, suffix)
	if !ok || prefix == "" || !connections.ValidConnectionID(prefix) {
		return false
	}
	_, err := a.connections.Stored(r.Context(), callerFrom(r).env.ID, r.URL.Query().Get("provider_config_key"), full)
	if e, isErr := domain.AsError(err); !isErr || e.Code != "not_found" {
		return false
	}
	r.SetPathValue("connectionId", prefix)
	return true
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) error {
	if a.subresource(r, "/events") {
		return a.connectionEvents(w, r)
	}
	if err := checkQuery(r, []string{"provider_config_key", "force_refresh", "refresh_token", "refresh_github_app_jwt_token"}); err != nil {
		return err
	}
	id, err := connectionIDFromPath(r)
	if err != nil {
		return err
	}
	force := r.URL.Query().Get("force_refresh")
	if force != "" && force != "true" && force != "false" {
		return domain.Invalid("invalid_query_params", "force_refresh must be true or false.",
			domain.FieldError{Code: "invalid_enum_value", Message: "force_refresh must be true or false.", Path: []string{"force_refresh"}})
	}
	c, err := a.connections.Get(r.Context(), callerFrom(r).env.ID, r.URL.Query().Get("provider_config_key"), id, force == "true")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, connectionJSON(c))
	return nil
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"provider_config_key"}); err != nil {
		return err
	}
	id, err := connectionIDFromPath(r)
	if err != nil {
		return err
	}
	key := r.URL.Query().Get("provider_config_key")
	if err := a.connections.Delete(r.Context(), callerFrom(r).env.ID, key, id); err != nil {
		return err
	}
	a.record(r, audit.ConnectionDelete, key+"/"+id, "")
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return nil
}

func (a *API) patchConnection(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"provider_config_key"}); err != nil {
		return err
	}
	id, err := connectionIDFromPath(r)
	if err != nil {
		return err
	}
	var req connections.PatchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.connections.Patch(r.Context(), callerFrom(r).env.ID, r.URL.Query().Get("provider_config_key"), id, &req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return nil
}

func (a *API) importConnection(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	var req connections.ImportRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := a.connections.Import(r.Context(), callerFrom(r).env.ID, &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, connectionJSON(res.Connection))
	return nil
}

func (a *API) metadata(w http.ResponseWriter, r *http.Request, merge bool, status int) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	var req connections.MetadataRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.connections.SetMetadata(r.Context(), callerFrom(r).env.ID, &req, merge); err != nil {
		return err
	}
	writeJSON(w, status, req)
	return nil
}

func (a *API) setMetadata(w http.ResponseWriter, r *http.Request) error {
	return a.metadata(w, r, false, http.StatusCreated)
}

func (a *API) updateMetadata(w http.ResponseWriter, r *http.Request) error {
	return a.metadata(w, r, true, http.StatusOK)
}
