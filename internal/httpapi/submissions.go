package httpapi

import (
	"net/http"
	"regexp"

	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/integrations"
)

type basicBody struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type apiKeyBody struct {
	APIKey *string `json:"apiKey"`
}

// oauth2CCBody is what @nangohq/frontend's auth() posts for OAUTH2_CC.
type oauth2CCBody struct {
	ClientID          *string `json:"client_id"`
	ClientSecret      *string `json:"client_secret"`
	ClientCertificate *string `json:"client_certificate"`
	ClientPrivateKey  *string `json:"client_private_key"`
}

var paramRE = regexp.MustCompile(`^params\[([^\]]+)\]$`)

// sessionFromQuery authenticates a browser submission: the token travels in the
// query string (connect_session_token); the Authorization header is ignored.
func (a *API) submissionContext(r *http.Request) (*domain.ConnectSession, map[string]string, error) {
	q := r.URL.Query()
	if q.Has("public_key") {
		return nil, nil, domain.Unauthenticated("deprecated_authentication", "Public keys are not supported; create a connect session and pass connect_session_token.")
	}
	token := q.Get("connect_session_token")
	if token == "" {
		return nil, nil, domain.Unauthenticated("missing_connect_session_token", "The connect_session_token query parameter is required.")
	}
	sess, err := a.sessionFromToken(r, token)
	if err != nil {
		return nil, nil, err
	}
	if q.Has("connection_id") {
		return nil, nil, domain.Invalid("invalid_query_params", "connection_id is forbidden when using session token",
			domain.FieldError{Code: "custom", Message: "connection_id is forbidden when using session token", Path: []string{"connection_id"}})
	}
	params := map[string]string{}
	for k, vs := range q {
		if m := paramRE.FindStringSubmatch(k); m != nil && len(vs) > 0 {
			params[m[1]] = vs[len(vs)-1]
		}
	}
	key := r.PathValue("providerConfigKey")
	if !integrations.ValidKey(key) {
		return nil, nil, domain.Invalid("invalid_uri_params", "The integration key in the path is not valid.",
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
	for _, k := range []string{"displayName", "accountId", "accountType", "emailAddress", "cloudId", "subdomain", "siteName", "siteUrl"} {
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
	res, err := a.connect.Submit(r.Context(), &connect.Submission{
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

func (a *API) submitOAuth2CC(w http.ResponseWriter, r *http.Request) error {
	sess, params, err := a.submissionContext(r)
	if err != nil {
		return err
	}
	var body oauth2CCBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.ClientCertificate != nil || body.ClientPrivateKey != nil {
		return domain.Invalid("invalid_body", "Client certificates and private-key client assertions are not supported yet; send client_id and client_secret.",
			domain.FieldError{Code: "unrecognized_keys", Message: "client_certificate and client_private_key are not supported yet.", Path: []string{"client_certificate"}})
	}
	creds := domain.Credentials{Type: domain.AuthModeOAuth2CC}
	present := map[string]bool{}
	if body.ClientID != nil {
		creds.ClientID, present["client_id"] = *body.ClientID, true
	}
	if body.ClientSecret != nil {
		creds.ClientSecret, present["client_secret"] = *body.ClientSecret, true
	}
	return a.submit(w, r, domain.AuthModeOAuth2CC, creds, present, sess, params)
}

// submitUnsupported answers the browser flows latchkey does not implement
// (OAuth redirects, two-step, JWT, …) with what to do instead.
func (a *API) submitUnsupported(w http.ResponseWriter, r *http.Request) error {
	sess, _, err := a.submissionContext(r)
	if err != nil {
		return err
	}
	return a.connect.Unsupported(r.Context(), sess, r.PathValue("providerConfigKey"), r.URL.Path)
}
