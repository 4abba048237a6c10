package connect

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// IntegrationDefaultsInput is one entry of integrations_config_defaults.
type IntegrationDefaultsInput struct {
	ConnectionConfig    map[string]any `json:"connection_config,omitempty"`
	UserScopes          string         `json:"user_scopes,omitempty"`
	AuthorizationParams map[string]any `json:"authorization_params,omitempty"`
}

// OverrideInput is one entry of overrides.
type OverrideInput struct {
	DocsConnect string `json:"docs_connect,omitempty"`
}

// SessionRequest is the body of POST /connect/sessions.
type SessionRequest struct {
	EndUser                    *connections.EndUserInput           `json:"end_user,omitempty"`
	Organization               *connections.OrganizationInput      `json:"organization,omitempty"`
	AllowedIntegrations        []string                            `json:"allowed_integrations,omitempty"`
	IntegrationsConfigDefaults map[string]IntegrationDefaultsInput `json:"integrations_config_defaults,omitempty"`
	Overrides                  map[string]OverrideInput            `json:"overrides,omitempty"`
	WebhookURLOverride         *string                             `json:"webhook_url_override,omitempty"`
	Tags                       map[string]string                   `json:"tags,omitempty"`
}

// ReconnectRequest is the body of POST /connect/sessions/reconnect.
type ReconnectRequest struct {
	ConnectionID  string `json:"connection_id"`
	IntegrationID string `json:"integration_id"`
	SessionRequest
}

// NewSession is what creating a session returns.
type NewSession struct {
	Token   string
	Session *domain.ConnectSession
}

// Audit makes the audit-trail entry of a stored session; it is written in
// the session's transaction.
type Audit = func(*domain.ConnectSession) *domain.AuditEntry

// CreateSession validates a session request and stores the session (with its
// audit-trail entry, when audit is given).
func (s *Service) CreateSession(ctx context.Context, env *domain.Environment, req *SessionRequest, audit ...Audit) (*NewSession, error) {
	var errs []domain.FieldError
	if req.EndUser == nil && req.Tags == nil {
		errs = append(errs, domain.Field("invalid_type", "end_user is required (or tags).", "end_user"))
	}
	sess, more, err := s.buildSession(ctx, env, req)
	if err != nil {
		return nil, err
	}
	if errs = append(errs, more...); len(errs) > 0 {
		return nil, domain.InvalidFields("invalid_body", errs)
	}
	return s.storeSession(ctx, sess, audit)
}

// CreateReconnectSession creates a session pinned to an existing connection.
// It needs no end user: the connection already has one.
func (s *Service) CreateReconnectSession(ctx context.Context, env *domain.Environment, req *ReconnectRequest, audit ...Audit) (*NewSession, error) {
	var errs []domain.FieldError
	if req.ConnectionID == "" {
		errs = append(errs, domain.Field("invalid_type", "connection_id is required.", "connection_id"))
	}
	if req.IntegrationID == "" {
		errs = append(errs, domain.Field("invalid_type", "integration_id is required.", "integration_id"))
	}
	sess, more, err := s.buildSession(ctx, env, &req.SessionRequest)
	if err != nil {
		return nil, err
	}
	if errs = append(errs, more...); len(errs) > 0 {
		return nil, domain.InvalidFields("invalid_body", errs)
	}
	integ, err := s.store.Integration(ctx, env.ID, req.IntegrationID)
	if err == nil {
		_, err = s.store.Connection(ctx, env.ID, integ.ID, req.ConnectionID)
	}
	if isNotFound(err) {
		return nil, domain.Invalid("invalid_body", "ConnectionID or IntegrationId does not exists",
			domain.Field("invalid_body", "ConnectionID or IntegrationId does not exists", "connection_id"))
	}
	if err != nil {
		return nil, err
	}
	sess.ReconnectIntegration, sess.ReconnectConnectionID = req.IntegrationID, req.ConnectionID
	sess.AllowedIntegrations = []string{req.IntegrationID}
	return s.storeSession(ctx, sess, audit)
}

func (s *Service) storeSession(ctx context.Context, sess *domain.ConnectSession, audit []Audit) (*NewSession, error) {
	token, err := secret.RandomToken(SessionTokenPrefix)
	if err != nil {
		return nil, err
	}
	sess.TokenHash = secret.HashToken(token)
	sess.ExpiresAt = s.clock.Now().Add(s.sessionTTL)
	stored, err := s.store.CreateConnectSession(ctx, sess, audit...)
	if err != nil {
		return nil, err
	}
	return &NewSession{Token: token, Session: stored}, nil
}

// buildSession validates everything a session request carries but the
// presence of an end user, which only new-connection sessions need.
func (s *Service) buildSession(ctx context.Context, env *domain.Environment, req *SessionRequest) (*domain.ConnectSession, []domain.FieldError, error) {
	var errs []domain.FieldError
	sess := &domain.ConnectSession{EnvironmentID: env.ID}
	if req.EndUser != nil {
		u, eerrs := connections.EndUser(req.EndUser, req.Organization)
		errs = append(errs, eerrs...)
		sess.EndUser = u
	}
	userTags, terrs := connections.Tags(req.Tags, "tags")
	errs = append(errs, terrs...)
	sess.Tags = connections.ConnectionTags(sess.EndUser, userTags)

	known, err := s.integrationKeys(ctx, env.ID)
	if err != nil {
		return nil, nil, err
	}
	unknown := func(key string, path ...string) domain.FieldError {
		return domain.Field("invalid_body", fmt.Sprintf("Integration %q does not exist (GET /integrations lists them).", key), path...)
	}
	for i, key := range req.AllowedIntegrations {
		if !known[key] {
			errs = append(errs, unknown(key, "allowed_integrations", strconv.Itoa(i)))
		}
	}
	sess.AllowedIntegrations = req.AllowedIntegrations
	if len(req.IntegrationsConfigDefaults) > 0 {
		sess.ConfigDefaults = map[string]domain.IntegrationDefaults{}
	}
	for _, key := range slices.Sorted(maps.Keys(req.IntegrationsConfigDefaults)) {
		d := req.IntegrationsConfigDefaults[key]
		if !known[key] {
			errs = append(errs, unknown(key, "integrations_config_defaults", key))
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(d.ConnectionConfig)) {
			switch d.ConnectionConfig[k].(type) {
			case string, float64, bool:
			default:
				errs = append(errs, domain.Field("invalid_type", "Connection config values must be strings, numbers or booleans.", "integrations_config_defaults", key, "connection_config", k))
			}
		}
		sess.ConfigDefaults[key] = domain.IntegrationDefaults{ConnectionConfig: d.ConnectionConfig, UserScopes: d.UserScopes, AuthorizationParams: d.AuthorizationParams}
	}
	if len(req.Overrides) > 0 {
		sess.Overrides = map[string]map[string]string{}
	}
	for _, key := range slices.Sorted(maps.Keys(req.Overrides)) {
		o := req.Overrides[key]
		if !known[key] {
			errs = append(errs, unknown(key, "overrides", key))
			continue
		}
		if o.DocsConnect != "" {
			if !httpx.IsHTTPURL(o.DocsConnect) {
				errs = append(errs, domain.Field("invalid_string", "docs_connect must be an http(s) URL.", "overrides", key, "docs_connect"))
			}
			sess.Overrides[key] = map[string]string{"docs_connect": o.DocsConnect}
		}
	}
	if w := req.WebhookURLOverride; w != nil {
		werrs, err := s.connections.WebhookURL(ctx, *w, "webhook_url_override")
		if err != nil {
			return nil, nil, err
		}
		errs = append(errs, werrs...)
		sess.WebhookURLOverride = *w
	}
	return sess, errs, nil
}

func (s *Service) integrationKeys(ctx context.Context, envID int64) (map[string]bool, error) {
	list, err := s.store.ListIntegrations(ctx, envID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(list))
	for _, i := range list {
		out[i.UniqueKey] = true
	}
	return out, nil
}

// SessionByToken resolves a connect-session token, with the reference's 401
// codes.
func (s *Service) SessionByToken(ctx context.Context, token string) (*domain.ConnectSession, error) {
	if !sessionTokenRE.MatchString(token) {
		return nil, domain.Unauthenticated("invalid_connect_session_token_format", "The connect session token is malformed.")
	}
	// Looked up whatever its expiry (the zero time is before any): expired
	// sessions stay about an hour before they are purged, and an expired
	// session says so, keeping Nango's code, with payload.expired_at so the
	// Connect UI can tell the user which happened.
	sess, err := s.store.ConnectSessionByTokenHash(ctx, secret.HashToken(token), time.Time{})
	if isNotFound(err) {
		return nil, domain.Unauthenticated("unknown_connect_session_token", "This connect session is unknown: it was deleted, or expired a while ago. Ask for a new link.")
	}
	if err == nil && !sess.ExpiresAt.After(s.clock.Now()) {
		at := sess.ExpiresAt.UTC().Format(time.RFC3339)
		e := domain.Unauthenticated("unknown_connect_session_token", "This connect session expired at "+at+". Ask for a new link.")
		e.Payload = map[string]any{"expired_at": at}
		return nil, e
	}
	return sess, err
}

// DeleteSession ends a session.
func (s *Service) DeleteSession(ctx context.Context, sess *domain.ConnectSession) error {
	return s.store.DeleteConnectSession(ctx, sess.ID)
}

// Prefill is what a reconnect form may show before the end user types: the
// connection's declared, non-secret connection-config values and credential fields.
type Prefill struct {
	ConnectionConfig map[string]string `json:"connection_config"`
	Credentials      map[string]string `json:"credentials"`
}

// ReconnectPrefill returns the non-secret values of the connection a reconnect
// session is pinned to, or nil for other sessions or when it is gone.
func (s *Service) ReconnectPrefill(ctx context.Context, sess *domain.ConnectSession) (*Prefill, error) {
	if !sess.IsReconnect() {
		return nil, nil
	}
	integ, p, err := s.connections.IntegrationProvider(ctx, sess.EnvironmentID, sess.ReconnectIntegration)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := s.store.Connection(ctx, sess.EnvironmentID, integ.ID, sess.ReconnectConnectionID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &Prefill{ConnectionConfig: map[string]string{}, Credentials: map[string]string{}}
	for _, f := range p.ConnectionConfig {
		if v, ok := c.ConnectionConfig[f.Name].(string); ok && !f.Secret {
			out.ConnectionConfig[f.Name] = v
		}
	}
	if err := s.connections.Open(c); err != nil {
		return nil, err
	}
	if f, ok := p.Credentials.Get("username"); c.Credentials.Username != "" && (!ok || !f.Secret) {
		out.Credentials["username"] = c.Credentials.Username
	}
	if c.Credentials.ClientID != "" {
		// The client ID identifies the credential; its secret is never shown.
		out.Credentials["client_id"] = c.Credentials.ClientID
	}
	return out, nil
}
