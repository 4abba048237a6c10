package connect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
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

const maxParams = 50

// Submissions that reach the provider are limited per connect session, so a
// leaked link cannot be used to test stolen tokens against Atlassian at speed.
// A person who mistypes a few times is never slowed: the bucket holds a burst.
// The bucket lives on the session row (Store.TakeSessionAttempt), so the limit
// holds across instances. Field mistakes are caught before and do not count.
const (
	submitBurst  = 5
	submitRefill = 12 * time.Second // one more attempt every 12 s (5 a minute)
)

// Submit validates, verifies and saves credentials submitted through a
// connect session.
func (s *Service) Submit(ctx context.Context, sub *Submission) (*connections.Result, error) {
	sess := sub.Session
	ev := &domain.Event{EnvironmentID: sess.EnvironmentID, IntegrationKey: sub.IntegrationKey, Kind: "auth.creation"}
	if sess.IsReconnect() {
		ev.Kind, ev.ConnectionID = "auth.override", sess.ReconnectConnectionID
	}
	cand, err := s.candidate(ctx, sub)
	if err != nil {
		var e *domain.Error
		// Field mistakes are the form's business; only what reached the
		// provider, or was refused for the session's sake, is logged.
		if !errors.As(err, &e) || e.Code != "invalid_fields" {
			s.connections.Failed(ev, err)
		}
		return nil, err
	}
	cand.Event = ev
	if s.singleUse {
		cand.EndSession = sess.ID
	}
	return s.connections.Link(ctx, cand)
}

func (s *Service) candidate(ctx context.Context, sub *Submission) (connections.Candidate, error) {
	sess := sub.Session
	integ, p, err := s.connections.IntegrationProvider(ctx, sess.EnvironmentID, sub.IntegrationKey)
	if err != nil {
		return connections.Candidate{}, err
	}
	if err := connections.CheckSupported(p); err != nil {
		return connections.Candidate{}, err
	}
	if p.AuthMode != sub.Mode {
		return connections.Candidate{}, domain.Invalid("invalid_auth_mode", fmt.Sprintf("Integration %s uses %s authentication, not %s.", integ.UniqueKey, p.AuthMode, sub.Mode))
	}
	if len(sess.AllowedIntegrations) > 0 && !slices.Contains(sess.AllowedIntegrations, integ.UniqueKey) {
		return connections.Candidate{}, domain.Invalid("integration_not_allowed", fmt.Sprintf("This connect session does not allow the integration %s.", integ.UniqueKey))
	}
	connectionID := ""
	if sess.IsReconnect() {
		if sess.ReconnectIntegration != integ.UniqueKey {
			return connections.Candidate{}, domain.Invalid("integration_not_allowed", fmt.Sprintf("This reconnect session is for the integration %s.", sess.ReconnectIntegration))
		}
		if _, err := s.store.Connection(ctx, sess.EnvironmentID, integ.ID, sess.ReconnectConnectionID); isNotFound(err) {
			return connections.Candidate{}, domain.Invalid("invalid_connection", "The connection this session was created to reconnect no longer exists.")
		} else if err != nil {
			return connections.Candidate{}, err
		}
		connectionID = sess.ReconnectConnectionID
	}

	// Connection config: params, overwritten by the session's defaults.
	if len(sub.Params) > maxParams {
		return connections.Candidate{}, domain.Invalid("invalid_query_params", fmt.Sprintf("At most %d params are accepted.", maxParams))
	}
	params := make(map[string]string, len(sub.Params))
	for k, v := range sub.Params {
		if k != "webhook_url" {
			params[k] = v
		}
	}
	for k, v := range sess.ConfigDefaults[integ.UniqueKey].ConnectionConfig {
		params[k] = connections.Stringify(v)
	}
	cfg, creds, errs := connections.CheckFields(p, sub.Mode, params, sub.Credentials, sub.Present, []string{"params"}, nil)
	expires, ferr := connections.ParseExpiry(sub.ExpiresAt, s.clock.Now(), "credentials_expires_at")
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	if len(errs) > 0 {
		return connections.Candidate{}, domain.InvalidFields("invalid_fields", errs)
	}
	ok, wait, err := s.store.TakeSessionAttempt(ctx, sess.ID, s.clock.Now(), submitBurst, submitRefill)
	if err != nil {
		return connections.Candidate{}, err
	}
	if !ok {
		return connections.Candidate{}, tooManyAttempts(wait)
	}
	if connectionID == "" {
		connectionID = uuid.NewString()
	}
	return connections.Candidate{Integration: integ, Provider: p, FromSession: true, Connection: &domain.Connection{
		EnvironmentID: sess.EnvironmentID, ConnectionID: connectionID, ConnectionConfig: cfg, Credentials: creds,
		EndUser: sess.EndUser, Tags: sess.Tags, WebhookURLOverride: sess.WebhookURLOverride, CredentialsExpiresAt: expires,
	}}, nil
}

func tooManyAttempts(wait time.Duration) *domain.Error {
	secs := int(math.Ceil(wait.Seconds()))
	e := domain.NewError(domain.KindRateLimited, "too_many_request", fmt.Sprintf("Too many attempts with this link. Wait %d seconds, then try again.", secs))
	e.RetryAfter = time.Duration(secs) * time.Second
	e.Payload = map[string]any{"retry_after": secs}
	return e
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }

// routeOf names the submission route of each auth mode latchkey serves.
var routeOf = map[string]string{domain.AuthModeBasic: "/api-auth/basic/", domain.AuthModeAPIKey: "/api-auth/api-key/", domain.AuthModeOAuth2CC: "/oauth2/auth/"}

// Unsupported answers a browser flow latchkey does not implement (an OAuth
// redirect, two-step, JWT…): the integration's entry is not served yet, or it
// is and takes another route.
func (s *Service) Unsupported(ctx context.Context, sess *domain.ConnectSession, integrationKey, path string) error {
	integ, p, err := s.connections.IntegrationProvider(ctx, sess.EnvironmentID, integrationKey)
	if err != nil {
		return err
	}
	if err := connections.CheckSupported(p); err != nil {
		return err
	}
	return domain.Invalid("invalid_auth_mode", fmt.Sprintf("Integration %s uses %s authentication: submit its credentials to POST %s%s, not %s.",
		integ.UniqueKey, p.AuthMode, routeOf[p.AuthMode], integ.UniqueKey, path))
}
