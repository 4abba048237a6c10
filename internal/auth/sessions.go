package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// SessionTokenPrefix starts every connect-session token.
const SessionTokenPrefix = "nango_connect_session_"

var sessionTokenRE = regexp.MustCompile(`^nango_connect_session_[0-9a-f]{64}$`)

// EndUserInput is the end_user object of a session request.
type EndUserInput struct {
	ID          string            `json:"id"`
	Email       *string           `json:"email,omitempty"`
	DisplayName *string           `json:"display_name,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// OrganizationInput is the deprecated organization object.
type OrganizationInput struct {
	ID          string  `json:"id"`
	DisplayName *string `json:"display_name,omitempty"`
}

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
	EndUser                    *EndUserInput                       `json:"end_user,omitempty"`
	Organization               *OrganizationInput                  `json:"organization,omitempty"`
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

var (
	tagKeyRE         = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_\-./]*$`)
	integrationKeyRE = regexp.MustCompile(`^[a-zA-Z0-9~:.@ _-]+$`)
	connectionIDRE   = regexp.MustCompile(`^[a-zA-Z0-9,.;:=+~\[\]|@${}"'\\/_ -]+$`)
)

// ValidIntegrationKey reports whether s may be an integration unique key.
func ValidIntegrationKey(s string) bool { return len(s) <= 255 && integrationKeyRE.MatchString(s) }

// ValidConnectionID reports whether s may be a connection id.
func ValidConnectionID(s string) bool { return len(s) <= 255 && connectionIDRE.MatchString(s) }

func fe(code, message string, path ...string) domain.FieldError {
	return domain.FieldError{Code: code, Message: message, Path: path}
}

// CreateSession validates a session request and stores the session.
func (s *Service) CreateSession(ctx context.Context, env *domain.Environment, req *SessionRequest) (*NewSession, error) {
	sess, errs, err := s.buildSession(ctx, env, req)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, badRequest("invalid_body", summarize(errs), errs...)
	}
	return s.storeSession(ctx, sess)
}

// CreateReconnectSession creates a session pinned to an existing connection.
func (s *Service) CreateReconnectSession(ctx context.Context, env *domain.Environment, req *ReconnectRequest) (*NewSession, error) {
	var errs []domain.FieldError
	if req.ConnectionID == "" {
		errs = append(errs, fe("invalid_type", "connection_id is required.", "connection_id"))
	}
	if req.IntegrationID == "" {
		errs = append(errs, fe("invalid_type", "integration_id is required.", "integration_id"))
	}
	// Reconnect does not need an end user: the connection already has one.
	if req.EndUser == nil && req.Tags == nil {
		req.Tags = map[string]string{}
	}
	sess, more, err := s.buildSession(ctx, env, &req.SessionRequest)
	if err != nil {
		return nil, err
	}
	errs = append(errs, more...)
	if len(errs) > 0 {
		return nil, badRequest("invalid_body", summarize(errs), errs...)
	}
	integ, err := s.store.Integration(ctx, env.ID, req.IntegrationID)
	if err == nil {
		_, err = s.store.Connection(ctx, env.ID, integ.ID, req.ConnectionID)
	}
	if isNotFound(err) {
		return nil, badRequest("invalid_body", "ConnectionID or IntegrationId does not exists",
			fe("invalid_body", "ConnectionID or IntegrationId does not exists", "connection_id"))
	}
	if err != nil {
		return nil, err
	}
	sess.ReconnectIntegration, sess.ReconnectConnectionID = req.IntegrationID, req.ConnectionID
	sess.AllowedIntegrations = []string{req.IntegrationID}
	return s.storeSession(ctx, sess)
}

func (s *Service) storeSession(ctx context.Context, sess *domain.ConnectSession) (*NewSession, error) {
	token, err := secret.RandomToken(SessionTokenPrefix)
	if err != nil {
		return nil, err
	}
	sess.TokenHash = secret.HashToken(token)
	sess.ExpiresAt = s.now().Add(s.sessionTTL)
	stored, err := s.store.CreateConnectSession(ctx, sess)
	if err != nil {
		return nil, err
	}
	return &NewSession{Token: token, Session: stored}, nil
}

func summarize(errs []domain.FieldError) string {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	return strings.Join(msgs, " ")
}

func (s *Service) buildSession(ctx context.Context, env *domain.Environment, req *SessionRequest) (*domain.ConnectSession, []domain.FieldError, error) {
	var errs []domain.FieldError
	sess := &domain.ConnectSession{EnvironmentID: env.ID}
	if req.EndUser == nil && req.Tags == nil {
		errs = append(errs, fe("invalid_type", "end_user is required (or tags).", "end_user"))
	}
	tags := map[string]string{}
	if eu := req.EndUser; eu != nil {
		u := &domain.EndUser{ID: eu.ID}
		if eu.ID == "" || len(eu.ID) > 255 {
			errs = append(errs, fe("invalid_string", "end_user.id must be 1 to 255 characters.", "end_user", "id"))
		}
		if eu.Email != nil && *eu.Email != "" {
			if a, err := mail.ParseAddress(*eu.Email); err != nil || a.Address != *eu.Email {
				errs = append(errs, fe("invalid_string", "end_user.email must be an email address.", "end_user", "email"))
			}
			u.Email = *eu.Email
		}
		if eu.DisplayName != nil {
			if len(*eu.DisplayName) > 255 {
				errs = append(errs, fe("too_big", "end_user.display_name must be at most 255 characters.", "end_user", "display_name"))
			}
			u.DisplayName = *eu.DisplayName
		}
		et, terrs := validTags(eu.Tags, "end_user", "tags")
		errs = append(errs, terrs...)
		u.Tags = et
		if o := req.Organization; o != nil {
			if o.ID == "" || len(o.ID) > 255 {
				errs = append(errs, fe("invalid_string", "organization.id must be 1 to 255 characters.", "organization", "id"))
			}
			u.OrganizationID = o.ID
			if o.DisplayName != nil {
				u.OrganizationDisplayName = *o.DisplayName
			}
		}
		sess.EndUser = u
		addAuto := func(k, v string) {
			if v != "" {
				tags[k] = v
			}
		}
		addAuto("end_user_id", u.ID)
		addAuto("end_user_email", u.Email)
		addAuto("end_user_display_name", u.DisplayName)
		addAuto("organization_id", u.OrganizationID)
		addAuto("organization_display_name", u.OrganizationDisplayName)
		for k, v := range et {
			tags[k] = v
		}
	}
	userTags, terrs := validTags(req.Tags, "tags")
	errs = append(errs, terrs...)
	for k, v := range userTags {
		tags[k] = v
	}
	sess.Tags = tags

	known, err := s.integrationKeys(ctx, env.ID)
	if err != nil {
		return nil, nil, err
	}
	for i, key := range req.AllowedIntegrations {
		if !known[key] {
			errs = append(errs, fe("invalid_body", "Integration does not exist", "allowed_integrations", strconv.Itoa(i)))
		}
	}
	sess.AllowedIntegrations = req.AllowedIntegrations
	if len(req.IntegrationsConfigDefaults) > 0 {
		sess.ConfigDefaults = map[string]domain.IntegrationDefaults{}
	}
	for _, key := range sortedMapKeys(req.IntegrationsConfigDefaults) {
		d := req.IntegrationsConfigDefaults[key]
		if !known[key] {
			errs = append(errs, fe("invalid_body", "Integration does not exist", "integrations_config_defaults", key))
			continue
		}
		for _, k := range sortedMapKeys(d.ConnectionConfig) {
			switch d.ConnectionConfig[k].(type) {
			case string, float64, bool:
			default:
				errs = append(errs, fe("invalid_type", "Connection config values must be strings, numbers or booleans.", "integrations_config_defaults", key, "connection_config", k))
			}
		}
		sess.ConfigDefaults[key] = domain.IntegrationDefaults{ConnectionConfig: d.ConnectionConfig, UserScopes: d.UserScopes, AuthorizationParams: d.AuthorizationParams}
	}
	if len(req.Overrides) > 0 {
		sess.Overrides = map[string]map[string]string{}
	}
	for _, key := range sortedMapKeys(req.Overrides) {
		o := req.Overrides[key]
		if !known[key] {
			errs = append(errs, fe("invalid_body", "Integration does not exist", "overrides", key))
			continue
		}
		if o.DocsConnect != "" {
			if !isHTTPURL(o.DocsConnect) {
				errs = append(errs, fe("invalid_string", "docs_connect must be an http(s) URL.", "overrides", key, "docs_connect"))
			}
			sess.Overrides[key] = map[string]string{"docs_connect": o.DocsConnect}
		}
	}
	if w := req.WebhookURLOverride; w != nil && *w != "" {
		if !isHTTPURL(*w) {
			errs = append(errs, fe("invalid_string", "webhook_url_override must be an http(s) URL.", "webhook_url_override"))
		}
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

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validTags checks tag keys and values; keys are lowercased.
func validTags(in map[string]string, path ...string) (map[string]string, []domain.FieldError) {
	if in == nil {
		return nil, nil
	}
	var errs []domain.FieldError
	if len(in) > 10 {
		errs = append(errs, fe("too_big", "At most 10 tags are allowed.", path...))
	}
	out := make(map[string]string, len(in))
	for _, k := range sortedMapKeys(in) {
		v := in[k]
		p := append(append([]string{}, path...), k)
		if len(k) > 64 || !tagKeyRE.MatchString(k) {
			errs = append(errs, fe("invalid_string", fmt.Sprintf("Tag key %q must start with a letter and contain only letters, digits, _ - . / (at most 64).", k), p...))
		}
		if v == "" || len(v) > 255 {
			errs = append(errs, fe("invalid_string", fmt.Sprintf("Tag %q must have a value of 1 to 255 characters.", k), p...))
		}
		out[strings.ToLower(k)] = v
	}
	return out, errs
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SessionByToken resolves a connect-session token, with the reference's 401 codes.
// An expired session keeps Nango's code, unknown_connect_session_token, and says
// when it expired in payload.expired_at, so the Connect UI can tell the user which
// happened.
func (s *Service) SessionByToken(ctx context.Context, token string) (*domain.ConnectSession, error) {
	if !sessionTokenRE.MatchString(token) {
		return nil, &domain.Problem{Status: http.StatusUnauthorized, Code: "invalid_connect_session_token_format",
			Message: "The connect session token is malformed."}
	}
	// Looked up whatever its expiry (the zero time is before any): expired
	// sessions stay about an hour before they are purged.
	sess, err := s.store.ConnectSessionByTokenHash(ctx, secret.HashToken(token), time.Time{})
	if isNotFound(err) {
		return nil, &domain.Problem{Status: http.StatusUnauthorized, Code: "unknown_connect_session_token",
			Message: "This connect session is unknown: it was deleted, or expired a while ago. Ask for a new link."}
	}
	if err == nil && !sess.ExpiresAt.After(s.now()) {
		at := sess.ExpiresAt.UTC().Format(time.RFC3339)
		return nil, &domain.Problem{Status: http.StatusUnauthorized, Code: "unknown_connect_session_token",
			Message: "This connect session expired at " + at + ". Ask for a new link.", Payload: map[string]any{"expired_at": at}}
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
	integ, err := s.store.Integration(ctx, sess.EnvironmentID, sess.ReconnectIntegration)
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
	p, ok := s.catalogue.Get(integ.Provider)
	if !ok {
		return nil, nil
	}
	out := &Prefill{ConnectionConfig: map[string]string{}, Credentials: map[string]string{}}
	for _, f := range p.ConnectionConfig {
		if v, ok := c.ConnectionConfig[f.Name].(string); ok && !f.Secret {
			out.ConnectionConfig[f.Name] = v
		}
	}
	if err := s.Open(c); err != nil {
		return nil, err
	}
	if f, ok := p.Credentials.Get("username"); c.Credentials.Username != "" && (!ok || !f.Secret) {
		out.Credentials["username"] = c.Credentials.Username
	}
	return out, nil
}
