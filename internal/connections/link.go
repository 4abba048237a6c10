package connections

import (
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/verify"
	"github.com/latchkeyhq/latchkey/internal/webhook"
)

// Candidate is a connection about to be linked: validated, not yet verified.
type Candidate struct {
	Integration *domain.Integration
	Provider    *provider.Provider
	// Connection carries the plaintext credentials, environment, connection
	// id, config, end user, tags and webhook override.
	Connection *domain.Connection
	Options    domain.UpsertOptions
	// FromSession says an end user linked it through a connect session: the
	// change sends auth webhooks (imports by the backend itself do not).
	FromSession bool
	// Event is the operation-log entry of the change; Link fills its outcome.
	Event *domain.Event
	// EndSession, when not zero, is a single-use connect session the change
	// ends in its transaction; the change fails if the session is already gone.
	EndSession int64
}

// Result is a saved connection and what verification found.
type Result struct {
	Connection *domain.Connection
	Created    bool
	Verdict    *verify.Verdict
}

// Link verifies a candidate with its provider, adds what the provider told
// about the account to its config, seals its credentials, and saves it in one
// transaction with the webhooks and the event that announce it. Nothing is
// written when verification fails, but the failure is logged.
func (s *Service) Link(ctx context.Context, cand Candidate) (*Result, error) {
	c := cand.Connection
	verdict, err := s.verifiers.Verify(ctx, verify.Request{Provider: cand.Provider, Config: c.ConnectionConfig, Credentials: c.Credentials})
	if cand.Provider.AuthMode == domain.AuthModeOAuth2CC {
		// Verifying client credentials starts with a token fetch: it failed
		// when the provider refused them or could not be asked.
		outcome := "success"
		if e, ok := domain.AsError(err); (ok && (e.Code == verify.CodeInvalidCredentials || e.Code == verify.CodeProviderUnavailable || e.Code == "client_credentials_fetch_error")) || (err != nil && !ok) {
			outcome = "failure"
		}
		s.tokenFetched(cand.Integration.UniqueKey, outcome)
	}
	if err != nil {
		s.Failed(cand.Event, err)
		return nil, err
	}
	if c.ConnectionConfig == nil {
		c.ConnectionConfig = map[string]any{}
	}
	maps.Copy(c.ConnectionConfig, verdict.Config)
	if verdict.Credentials != nil {
		// The check fetched a token on the way: it is saved with the credentials.
		c.Credentials = *verdict.Credentials
	}
	now := s.clock.Now().UTC()
	if verdict.Checked {
		c.LastVerifiedAt = &now
	}
	c.IntegrationID, c.Provider = cand.Integration.ID, cand.Provider.Name
	c.Status, c.Warnings = verdict.Status, verdict.Warnings
	if err := s.Seal(c); err != nil {
		return nil, err
	}
	var env *domain.Environment
	if cand.FromSession {
		if env, err = s.store.EnvironmentByID(ctx, c.EnvironmentID); err != nil {
			return nil, err
		}
	}
	ev := cand.Event
	succeeded(ev, verdict)
	var saved *domain.Connection
	var created, queued bool
	err = s.store.Write(ctx, func(tx domain.Tx) error {
		var err error
		saved, created, err = tx.UpsertConnection(ctx, c, cand.Options)
		if err != nil {
			return err
		}
		if env != nil {
			op := "override"
			if created {
				op = "creation"
			}
			saved.Credentials.Type = c.Credentials.Type
			msgs := webhook.AuthMessages(env, saved, op, true, s.log)
			if err := tx.Enqueue(ctx, msgs); err != nil {
				return err
			}
			queued = len(msgs) > 0
		}
		if cand.EndSession != 0 {
			if err := tx.EndConnectSession(ctx, cand.EndSession); errors.Is(err, domain.ErrNotFound) {
				return domain.Unauthenticated("unknown_connect_session_token", "This link was already used to connect an account. Ask for a new link.")
			} else if err != nil {
				return err
			}
		}
		ev.ConnectionID, ev.At = saved.ConnectionID, now
		if !created {
			ev.Kind = strings.Replace(ev.Kind, "creation", "override", 1)
		}
		return tx.InsertEvent(ctx, ev)
	})
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

// succeeded fills a saved change's event from the verdict.
func succeeded(ev *domain.Event, v *verify.Verdict) {
	switch {
	case len(v.Warnings) > 0:
		ev.Outcome, ev.Code = "warning", v.Warnings[0].Code
		msgs := make([]string, len(v.Warnings))
		for i, w := range v.Warnings {
			msgs[i] = w.Message
		}
		ev.Message = strings.Join(msgs, " ")
	case !v.Checked:
		ev.Outcome, ev.Message = "success", "Credentials saved (the provider offers no verification)."
	default:
		ev.Outcome, ev.Message = "success", "Credentials verified and saved."
	}
}

// Failed logs a failed link attempt (off the request path: a refused
// submission costs no synchronous write).
func (s *Service) Failed(ev *domain.Event, err error) {
	if ev == nil {
		return
	}
	ev.Outcome, ev.Code, ev.Message = "failure", "internal_error", "unexpected error"
	var e *domain.Error
	if errors.As(err, &e) {
		ev.Code, ev.Message = e.Code, e.Message
	}
	s.record(ev)
}
