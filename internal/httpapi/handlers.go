package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/auth"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }

// checkQuery refuses query parameters a route does not know (Nango's schemas are strict).
func checkQuery(r *http.Request, allowed []string, allowedPrefixes ...string) error {
	var errs []domain.FieldError
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		for _, p := range allowedPrefixes {
			ok = ok || strings.HasPrefix(k, p)
		}
		if !ok {
			errs = append(errs, domain.FieldError{Code: "unrecognized_keys", Message: fmt.Sprintf("Unrecognized query parameter %q.", k), Path: []string{k}})
		}
	}
	if len(errs) > 0 {
		return problem(http.StatusBadRequest, "invalid_query_params", errs[0].Message, errs...)
	}
	return nil
}

// ---- connect sessions ----

type sessionReply struct {
	Data sessionReplyData `json:"data"`
}

type sessionReplyData struct {
	Token       string `json:"token"`
	ConnectLink string `json:"connect_link"`
	ExpiresAt   string `json:"expires_at"`
}

func (a *API) replySession(w http.ResponseWriter, s *auth.NewSession) error {
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
	var req auth.SessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	s, err := a.auth.CreateSession(r.Context(), callerFrom(r).env, &req)
	if err != nil {
		return err
	}
	return a.replySession(w, s)
}

func (a *API) createReconnectSession(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	var req auth.ReconnectRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	s, err := a.auth.CreateReconnectSession(r.Context(), callerFrom(r).env, &req)
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
		prefill, err := a.auth.ReconnectPrefill(r.Context(), s)
		if err != nil {
			return err
		}
		data["isReconnecting"] = true
		data["reconnect"] = map[string]any{"connection_id": s.ReconnectConnectionID, "integration_id": s.ReconnectIntegration, "prefill": prefill}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.auth.DeleteSession(r.Context(), callerFrom(r).session); err != nil {
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

// ---- credential submission ----

type basicBody struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type apiKeyBody struct {
	APIKey *string `json:"apiKey"`
}

var paramRE = regexp.MustCompile(`^params\[([^\]]+)\]$`)

// sessionFromQuery authenticates a browser submission: the token travels in the
// query string (connect_session_token); the Authorization header is ignored.
func (a *API) submissionContext(r *http.Request) (*domain.ConnectSession, map[string]string, error) {
	q := r.URL.Query()
	if q.Has("public_key") {
		return nil, nil, problem(http.StatusUnauthorized, "deprecated_authentication", "Public keys are not supported; create a connect session and pass connect_session_token.")
	}
	token := q.Get("connect_session_token")
	if token == "" {
		return nil, nil, problem(http.StatusUnauthorized, "missing_connect_session_token", "The connect_session_token query parameter is required.")
	}
	sess, err := a.auth.SessionByToken(r.Context(), token)
	if err != nil {
		return nil, nil, err
	}
	if q.Has("connection_id") {
		return nil, nil, problem(http.StatusBadRequest, "invalid_query_params", "connection_id is forbidden when using session token",
			domain.FieldError{Code: "custom", Message: "connection_id is forbidden when using session token", Path: []string{"connection_id"}})
	}
	params := map[string]string{}
	for k, vs := range q {
		if m := paramRE.FindStringSubmatch(k); m != nil && len(vs) > 0 {
			params[m[1]] = vs[len(vs)-1]
		}
	}
	key := r.PathValue("providerConfigKey")
	if !auth.ValidIntegrationKey(key) {
		return nil, nil, problem(http.StatusBadRequest, "invalid_uri_params", "The integration key in the path is not valid.",
			domain.FieldError{Code: "invalid_string", Message: "Invalid integration key.", Path: []string{"providerConfigKey"}})
	}
	return sess, params, nil
}

type submitReply struct {
	ConnectionID      string           `json:"connectionId"`
	ProviderConfigKey string           `json:"providerConfigKey"`
	Warnings          []domain.Warning `json:"warnings,omitempty"`
	// Account is what the provider said about the linked account, for the
	// Connect UI's success screen.
	Account map[string]string `json:"account,omitempty"`
}

// accountSummary picks the display facts of a linked account from its config.
func accountSummary(cfg map[string]any) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"displayName", "accountId", "accountType", "emailAddress", "cloudId", "subdomain"} {
		if v, ok := cfg[k].(string); ok && v != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (a *API) submit(w http.ResponseWriter, r *http.Request, mode string, creds domain.Credentials, present map[string]bool, sess *domain.ConnectSession, params map[string]string) error {
	res, err := a.auth.Submit(r.Context(), &auth.Submission{
		Session: sess, IntegrationKey: r.PathValue("providerConfigKey"), Mode: mode, Params: params, Credentials: creds, Present: present,
		ExpiresAt: r.URL.Query().Get("credentials_expires_at"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, submitReply{ConnectionID: res.Connection.ConnectionID, ProviderConfigKey: res.Connection.IntegrationKey,
		Warnings: res.Verdict.Warnings, Account: accountSummary(res.Connection.ConnectionConfig)})
	return nil
}

func (a *API) submitBasic(w http.ResponseWriter, r *http.Request) error {
	sess, params, err := a.submissionContext(r)
	if err != nil {
		return err
	}
	var body basicBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	creds := domain.Credentials{Type: domain.AuthModeBasic}
	present := map[string]bool{}
	if body.Username != nil {
		creds.Username, present["username"] = *body.Username, true
	}
	if body.Password != nil {
		creds.Password, present["password"] = *body.Password, true
	}
	return a.submit(w, r, domain.AuthModeBasic, creds, present, sess, params)
}

func (a *API) submitAPIKey(w http.ResponseWriter, r *http.Request) error {
	sess, params, err := a.submissionContext(r)
	if err != nil {
		return err
	}
	var body apiKeyBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	creds := domain.Credentials{Type: domain.AuthModeAPIKey}
	present := map[string]bool{}
	if body.APIKey != nil {
		creds.APIKey, present["apiKey"] = *body.APIKey, true
	}
	return a.submit(w, r, domain.AuthModeAPIKey, creds, present, sess, params)
}

// ---- connections ----

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"connectionId", "search", "endUserId", "endUserOrganizationId", "integrationId", "limit", "page", "status"}, "tags["); err != nil {
		return err
	}
	q := r.URL.Query()
	f := domain.ConnectionFilter{ConnectionID: q.Get("connectionId"), Search: q.Get("search"), EndUserID: q.Get("endUserId"),
		EndUserOrgID: q.Get("endUserOrganizationId"), Status: q.Get("status")}
	var errs []domain.FieldError
	if v := q.Get("integrationId"); v != "" {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				f.IntegrationIDs = append(f.IntegrationIDs, k)
			}
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
		if err != nil || n < 0 {
			errs = append(errs, domain.FieldError{Code: "invalid_type", Message: "page must be a whole number from 0.", Path: []string{"page"}})
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
			f.Tags[strings.ToLower(k[5:len(k)-1])] = vs[len(vs)-1]
		}
	}
	if len(errs) > 0 {
		return problem(http.StatusBadRequest, "invalid_query_params", errs[0].Message, errs...)
	}
	if f.Limit > 0 {
		f.Offset = page * f.Limit
	}
	list, err := a.auth.ListConnections(r.Context(), callerFrom(r).env.ID, f)
	if err != nil {
		return err
	}
	items := make([]connectionListItem, len(list))
	for i, c := range list {
		items[i] = listItemJSON(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": items})
	return nil
}

func connectionIDFromPath(r *http.Request) (string, error) {
	id := r.PathValue("connectionId")
	if !auth.ValidConnectionID(id) {
		return "", problem(http.StatusBadRequest, "invalid_uri_params", "The connection id in the path is not valid.",
			domain.FieldError{Code: "invalid_string", Message: "Invalid connection id.", Path: []string{"connectionId"}})
	}
	return id, nil
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"provider_config_key", "force_refresh", "refresh_token", "refresh_github_app_jwt_token"}); err != nil {
		return err
	}
	id, err := connectionIDFromPath(r)
	if err != nil {
		return err
	}
	c, err := a.auth.GetConnection(r.Context(), callerFrom(r).env.ID, r.URL.Query().Get("provider_config_key"), id)
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
	if err := a.auth.DeleteConnection(r.Context(), callerFrom(r).env.ID, r.URL.Query().Get("provider_config_key"), id); err != nil {
		return err
	}
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
	var req auth.PatchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.auth.PatchConnection(r.Context(), callerFrom(r).env.ID, r.URL.Query().Get("provider_config_key"), id, &req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return nil
}

func (a *API) importConnection(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	var req auth.ImportRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := a.auth.Import(r.Context(), callerFrom(r).env.ID, &req)
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
	var req auth.MetadataRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.auth.SetMetadata(r.Context(), callerFrom(r).env.ID, &req, merge); err != nil {
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

// ---- integrations ----

func (a *API) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r)
	var allowed []string
	if c.session != nil {
		allowed = c.session.AllowedIntegrations
	}
	list, err := a.auth.ListIntegrations(r.Context(), c.env.ID, allowed)
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
	var req auth.IntegrationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in, err := a.auth.CreateIntegration(r.Context(), callerFrom(r).env.ID, &req)
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
	in, err := a.auth.GetIntegration(r.Context(), callerFrom(r).env.ID, r.PathValue("uniqueKey"))
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
			return problem(http.StatusBadRequest, "invalid_query_params", "include may be webhook or credentials.",
				domain.FieldError{Code: "invalid_enum_value", Message: "include may be webhook or credentials.", Path: []string{"include"}})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": view})
	return nil
}

func (a *API) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	var req auth.IntegrationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in, err := a.auth.UpdateIntegration(r.Context(), callerFrom(r).env.ID, r.PathValue("uniqueKey"), &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": a.integrationJSON(in)})
	return nil
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	if err := a.auth.DeleteIntegration(r.Context(), callerFrom(r).env.ID, r.PathValue("uniqueKey")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return nil
}

// ---- providers ----

func (a *API) listProviders(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"search"}); err != nil {
		return err
	}
	var re *regexp.Regexp
	if s := r.URL.Query().Get("search"); s != "" {
		var err error
		if re, err = regexp.Compile("(?i)" + s); err != nil {
			re = regexp.MustCompile("(?i)" + regexp.QuoteMeta(s))
		}
	}
	out := []provider.Ordered{}
	for _, p := range a.auth.Catalogue().All() {
		if re == nil || re.MatchString(p.Name) || re.MatchString(p.DisplayName) {
			out = append(out, a.providerJSON(p))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

func (a *API) getProvider(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	name := r.PathValue("provider")
	p, ok := a.auth.Catalogue().Get(name)
	if !ok {
		return problem(http.StatusNotFound, "not_found", "Unknown provider "+url.PathEscape(name))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": a.providerJSON(p)})
	return nil
}
