// Package audit keeps the audit trail: the operator actions (signing in to
// the console and out, deleting a connection, creating and revoking secret
// keys, retrying a webhook, creating connect sessions and reconnect links,
// creating and renaming integrations, checking a connection now, …), each
// with the secret key that did it, directly through the API or through a
// console session opened with it, and when. Entries are kept as long as the
// operation log (LATCHKEY_EVENT_RETENTION).
package audit

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// The actions recorded.
const (
	SignIn            = "console.sign_in"
	SignOut           = "console.sign_out"
	ConnectionDelete  = "connection.delete"
	ConnectionCheck   = "connection.check"
	SessionCreate     = "connect_session.create"
	ReconnectCreate   = "connect_session.reconnect"
	IntegrationCreate = "integration.create"
	IntegrationUpdate = "integration.update"
	IntegrationDelete = "integration.delete"
	WebhookRetry      = "webhook.retry"
	WebhookSettings   = "environment.webhooks"
	SigningKeyRotate  = "environment.signing_key_rotate"
	SecretKeyCreate   = "secret_key.create"
	SecretKeyRevoke   = "secret_key.revoke"
)

// Actions lists every action, in the order the console offers them as filters.
var Actions = []string{SignIn, SignOut, ConnectionCheck, ConnectionDelete, SessionCreate, ReconnectCreate,
	IntegrationCreate, IntegrationUpdate, IntegrationDelete, WebhookRetry, WebhookSettings, SigningKeyRotate, SecretKeyCreate, SecretKeyRevoke}

// Store is the storage the audit trail needs.
type Store interface {
	InsertAudit(ctx context.Context, e *domain.AuditEntry) error
	ListAudit(ctx context.Context, envID int64, f domain.AuditFilter) ([]*domain.AuditEntry, error)
}

// Service records and lists audit entries.
type Service struct {
	store Store
	clock clock.Clock
	log   *slog.Logger
}

// New builds a Service.
func New(store Store, clk clock.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, clock: clock.Or(clk), log: log}
}

// Record appends e, stamped now, after the action succeeded. The action is
// done by then: a failure to record is logged with everything the entry
// holds (no secrets), never returned.
func (s *Service) Record(ctx context.Context, e domain.AuditEntry) {
	e.At = s.clock.Now()
	if err := s.store.InsertAudit(context.WithoutCancel(ctx), &e); err != nil {
		s.log.Error("audit entry not recorded", "err", err, "environment_id", e.EnvironmentID, "secret_key_id", e.SecretKeyID, "via", e.Via,
			"action", e.Action, "target", e.Target, "detail", e.Detail, "client", e.Client)
	}
}

// MaxLimit bounds one page of the audit trail.
const MaxLimit = 500

// List pages through an environment's audit trail, newest first.
func (s *Service) List(ctx context.Context, envID int64, f domain.AuditFilter) ([]*domain.AuditEntry, error) {
	if f.Limit < 1 || f.Limit > MaxLimit {
		msg := fmt.Sprintf("limit must be from 1 to %d.", MaxLimit)
		return nil, domain.Invalid("invalid_query_params", msg, domain.Field("invalid_type", msg, "limit"))
	}
	if f.Action != "" && !known(f.Action) {
		msg := "action is not one of the recorded actions."
		return nil, domain.Invalid("invalid_query_params", msg, domain.Field("invalid_enum_value", msg, "action"))
	}
	return s.store.ListAudit(ctx, envID, f)
}

func known(action string) bool {
	for _, a := range Actions {
		if a == action {
			return true
		}
	}
	return false
}

// Who says who did what e records: "key 3", or "console session of key 3".
func Who(e *domain.AuditEntry) string {
	if e.Via == domain.ViaConsole {
		return fmt.Sprintf("console session of key %d", e.SecretKeyID)
	}
	return fmt.Sprintf("key %d", e.SecretKeyID)
}
