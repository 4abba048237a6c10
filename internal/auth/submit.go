package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// Submission is credentials typed by an end user in a connect session.
type Submission struct {
	Session        *domain.ConnectSession
	IntegrationKey string
	// Mode is the auth mode the route implies (BASIC for /api-auth/basic).
	Mode        string
	Params      map[string]string
	Credentials domain.Credentials
	// Present says which credential fields the body carried.
	Present map[string]bool
	// ExpiresAt is the token's expiry date, when the end user gave it.
	ExpiresAt string
}

// Result is a saved connection and what verification found.
type Result struct {
	Connection *domain.Connection
	Created    bool
	Verdict    *Verdict
}

const maxParams = 50

// Submit validates, verifies and saves credentials submitted through a connect session.
func (s *Service) Submit(ctx context.Context, sub *Submission) (*Result, error) {
	sess := sub.Session
	ev := &domain.Event{EnvironmentID: sess.EnvironmentID, IntegrationKey: sub.IntegrationKey, Kind: "auth.creation"}
	if sess.IsReconnect() {
		ev.Kind, ev.ConnectionID = "auth.override", sess.ReconnectConnectionID
	}
	res, err := s.submit(ctx, sub)
	s.recordOutcome(ctx, ev, res, err)
	return res, err
}

func (s *Service) recordOutcome(ctx context.Context, ev *domain.Event, res *Result, err error) {
	switch {
	case err != nil:
		ev.Outcome, ev.Code, ev.Message = "failure", "internal_error", "unexpected error"
		if p, ok := err.(*domain.Problem); ok {
			ev.Code, ev.Message = p.Code, p.Message
		}
	case res.Verdict != nil && len(res.Verdict.Warnings) > 0:
		ev.Outcome, ev.Code = "warning", res.Verdict.Warnings[0].Code
		msgs := make([]string, len(res.Verdict.Warnings))
		for i, w := range res.Verdict.Warnings {
			msgs[i] = w.Message
		}
		ev.Message = strings.Join(msgs, " ")
	default:
		ev.Outcome, ev.Message = "success", "Credentials verified and saved."
		if res.Verdict != nil && !res.Verdict.Checked {
			ev.Message = "Credentials saved (the provider offers no verification)."
		}
	}
	if res != nil {
		ev.ConnectionID = res.Connection.ConnectionID
		if !res.Created {
			ev.Kind = strings.Replace(ev.Kind, "creation", "override", 1)
		}
	}
	s.logEvent(ctx, ev)
}

func (s *Service) submit(ctx context.Context, sub *Submission) (*Result, error) {
	sess := sub.Session
	integ, err := s.store.Integration(ctx, sess.EnvironmentID, sub.IntegrationKey)
	if isNotFound(err) {
		return nil, &domain.Problem{Status: http.StatusNotFound, Code: "unknown_provider_config",
			Message: fmt.Sprintf("There is no integration %q.", sub.IntegrationKey)}
	}
	if err != nil {
		return nil, err
	}
	p, ok := s.catalogue.Get(integ.Provider)
	if !ok {
		return nil, &domain.Problem{Status: http.StatusNotFound, Code: "unknown_provider_template",
			Message: fmt.Sprintf("The provider %q of this integration is not in the catalogue.", integ.Provider)}
	}
	if p.AuthMode != sub.Mode {
		return nil, badRequest("invalid_auth_mode", fmt.Sprintf("Integration %s uses %s authentication, not %s.", integ.UniqueKey, p.AuthMode, sub.Mode))
	}
	if len(sess.AllowedIntegrations) > 0 && !contains(sess.AllowedIntegrations, integ.UniqueKey) {
		return nil, badRequest("integration_not_allowed", fmt.Sprintf("This connect session does not allow the integration %s.", integ.UniqueKey))
	}
	connectionID := ""
	if sess.IsReconnect() {
		if sess.ReconnectIntegration != integ.UniqueKey {
			return nil, badRequest("integration_not_allowed", fmt.Sprintf("This reconnect session is for the integration %s.", sess.ReconnectIntegration))
		}
		if _, err := s.store.Connection(ctx, sess.EnvironmentID, integ.ID, sess.ReconnectConnectionID); isNotFound(err) {
			return nil, badRequest("invalid_connection", "The connection this session was created to reconnect no longer exists.")
		} else if err != nil {
			return nil, err
		}
		connectionID = sess.ReconnectConnectionID
	}

	// Connection config: params, overwritten by the session's defaults.
	if len(sub.Params) > maxParams {
		return nil, badRequest("invalid_query_params", fmt.Sprintf("At most %d params are accepted.", maxParams))
	}
	params := make(map[string]string, len(sub.Params))
	for k, v := range sub.Params {
		if k == "webhook_url" {
			continue
		}
		params[k] = v
	}
	for k, v := range sess.ConfigDefaults[integ.UniqueKey].ConnectionConfig {
		params[k] = stringify(v)
	}
	cfg, creds, errs := checkFields(p, sub.Mode, params, sub.Credentials, sub.Present, []string{"params"}, nil)
	expires, ferr := ParseExpiry(sub.ExpiresAt, s.now(), "credentials_expires_at")
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	if len(errs) > 0 {
		return nil, fieldProblem(errs)
	}
	ok, wait, err := s.store.TakeSessionAttempt(ctx, sess.ID, s.now(), submitBurst, submitRefill)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, tooManyAttempts(wait)
	}
	if connectionID == "" {
		connectionID = uuid.NewString()
	}
	return s.verifyAndSave(ctx, integ, p, &domain.Connection{
		EnvironmentID: sess.EnvironmentID, ConnectionID: connectionID, ConnectionConfig: cfg, Credentials: creds,
		EndUser: sess.EndUser, Tags: sess.Tags, WebhookURLOverride: sess.WebhookURLOverride, CredentialsExpiresAt: expires,
	}, domain.UpsertOptions{}, true)
}

func fieldProblem(errs []domain.FieldError) *domain.Problem {
	return badRequest("invalid_fields", summarize(errs), errs...)
}

// checkFields validates connection config and base credentials together, so every
// problem is reported at once. It returns the normalized config and credentials.
func checkFields(p *provider.Provider, mode string, params map[string]string, c domain.Credentials, present map[string]bool, cfgPath, credPath []string) (map[string]any, domain.Credentials, []domain.FieldError) {
	norm, errs := p.CheckConnectionConfig(params, cfgPath...)
	for k, v := range norm {
		if len(k) > 255 || len(v) > 1024 {
			errs = append(errs, fe("too_big", fmt.Sprintf("%s is too long.", k), append(append([]string{}, cfgPath...), truncateKey(k))...))
		}
	}
	check := func(name string, v *string, allowEmpty bool) {
		nv, ferr := p.CheckCredential(name, *v, present[name], allowEmpty, append(append([]string{}, credPath...), name)...)
		*v = nv
		if ferr != nil {
			errs = append(errs, *ferr)
		}
	}
	c.Type = mode
	switch mode {
	case domain.AuthModeBasic:
		check("username", &c.Username, false)
		check("password", &c.Password, true)
	case domain.AuthModeAPIKey:
		check("apiKey", &c.APIKey, false)
	}
	cfg := make(map[string]any, len(norm))
	for k, v := range norm {
		cfg[k] = v
	}
	sort.Slice(errs, func(i, j int) bool { return fieldOrder(p, errs[i]) < fieldOrder(p, errs[j]) })
	return cfg, c, errs
}

func truncateKey(k string) string {
	if len(k) > 40 {
		return k[:40]
	}
	return k
}

// fieldOrder sorts errors as the form shows fields: config fields with an order
// first, then credentials, then the rest.
func fieldOrder(p *provider.Provider, e domain.FieldError) int {
	name := e.Path[len(e.Path)-1]
	if f, ok := p.ConnectionConfig.Get(name); ok && f.Order > 0 {
		return f.Order
	}
	for i, c := range []string{"username", "password", "apiKey"} {
		if c == name {
			return 100 + i
		}
	}
	return 1000
}

func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// verifyAndSave verifies candidate credentials, enriches the config, seals and
// upserts. Nothing is written when verification fails.
//
// announce says whether the change sends auth webhooks (connect-session
// submissions do; imports by the backend itself do not).
func (s *Service) verifyAndSave(ctx context.Context, integ *domain.Integration, p *provider.Provider, c *domain.Connection, opts domain.UpsertOptions, announce bool) (*Result, error) {
	verdict, err := s.Verify(ctx, p, c.ConnectionConfig, c.Credentials)
	if err != nil {
		return nil, err
	}
	for k, v := range verdict.Config {
		c.ConnectionConfig[k] = v
	}
	now := s.now().UTC()
	if verdict.Checked {
		c.LastVerifiedAt = &now
	}
	c.IntegrationID, c.Provider = integ.ID, p.Name
	c.Status, c.Warnings = verdict.Status, verdict.Warnings
	if err := s.seal(c); err != nil {
		return nil, err
	}
	var outbox domain.OutboxFunc
	queued := false
	if announce && s.announce != nil {
		env, err := s.store.EnvironmentByID(ctx, c.EnvironmentID)
		if err != nil {
			return nil, err
		}
		outbox = func(saved *domain.Connection, created bool) []domain.OutboxMessage {
			op := "override"
			if created {
				op = "creation"
			}
			saved.Credentials.Type = c.Credentials.Type
			msgs := s.announce(env, saved, op, true)
			queued = len(msgs) > 0
			return msgs
		}
	}
	saved, created, err := s.store.UpsertConnection(ctx, c, opts, outbox)
	if err != nil {
		return nil, err
	}
	if queued && s.announced != nil {
		s.announced()
	}
	if !created {
		// Only an existing connection can be in a cache; a new one needs no notice.
		s.changed(ctx, saved.EnvironmentID, saved.IntegrationKey, saved.ConnectionID)
	}
	saved.Credentials = c.Credentials
	return &Result{Connection: saved, Created: created, Verdict: verdict}, nil
}
