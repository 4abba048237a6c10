// Package auth is the heart of latchkey: connect sessions, credential submission
// and import, verification with the provider before anything is saved, post-
// connection enrichment, and the connection and integration records around them.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// Store is the storage auth needs.
type Store interface {
	Integration(ctx context.Context, envID int64, uniqueKey string) (*domain.Integration, error)
	ListIntegrations(ctx context.Context, envID int64) ([]*domain.Integration, error)
	CreateIntegration(ctx context.Context, in *domain.Integration) (*domain.Integration, error)
	UpdateIntegration(ctx context.Context, in *domain.Integration) (*domain.Integration, error)
	DeleteIntegration(ctx context.Context, envID int64, uniqueKey string) error

	CreateConnectSession(ctx context.Context, c *domain.ConnectSession) (*domain.ConnectSession, error)
	ConnectSessionByTokenHash(ctx context.Context, hash string, now time.Time) (*domain.ConnectSession, error)
	DeleteConnectSession(ctx context.Context, id int64) error
	TakeSessionAttempt(ctx context.Context, sessionID int64, now time.Time, burst float64, refill time.Duration) (bool, time.Duration, error)

	UpsertConnection(ctx context.Context, in *domain.Connection, opts domain.UpsertOptions, outbox domain.OutboxFunc) (*domain.Connection, bool, error)
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
	Connection(ctx context.Context, envID, integrationID int64, connectionID string) (*domain.Connection, error)
	ListConnections(ctx context.Context, envID int64, f domain.ConnectionFilter) ([]*domain.Connection, error)
	DeleteConnection(ctx context.Context, envID, integrationID int64, connectionID string) error
	PatchConnection(ctx context.Context, envID, integrationID int64, connectionID string, p domain.ConnectionPatch) error
	SetMetadata(ctx context.Context, envID, integrationID int64, connectionIDs []string, metadata map[string]any, merge bool) error
	MarkFetched(ctx context.Context, pk int64, t time.Time) error

	InsertEvent(ctx context.Context, e *domain.Event) error
}

// Options configure a Service.
type Options struct {
	Store     Store
	Catalogue *provider.Catalogue
	Keys      *secret.KeyRing
	// Client reaches providers (with LATCHKEY_UPSTREAM_REWRITE applied).
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// VerifyTimeout bounds one verification (all attempts); 15s when zero.
	VerifyTimeout time.Duration
	// SessionTTL is how long a connect session lives; 30 minutes when zero.
	SessionTTL time.Duration
	// Sleep waits between verification retries; a timer when nil. Tests inject it.
	Sleep func(context.Context, time.Duration) error
	// Announce builds the auth webhooks of a connection change (operation
	// "creation" or "override"); they are stored with the change itself.
	Announce func(env *domain.Environment, c *domain.Connection, operation string, fromSession bool) []domain.OutboxMessage
	// Announced is called after a change with webhooks commits (wakes the dispatcher).
	Announced func()
	// AnnounceChange tells other instances to drop what they cached (PostgreSQL NOTIFY).
	AnnounceChange func(ctx context.Context, payload string)
}

// Service implements the connect flow and connection management.
type Service struct {
	store          Store
	catalogue      *provider.Catalogue
	keys           *secret.KeyRing
	client         *http.Client
	log            *slog.Logger
	now            func() time.Time
	verifyTimeout  time.Duration
	sessionTTL     time.Duration
	sleepFn        func(context.Context, time.Duration) error
	targets        *targetCache
	announce       func(env *domain.Environment, c *domain.Connection, operation string, fromSession bool) []domain.OutboxMessage
	announced      func()
	announceChange func(ctx context.Context, payload string)
}

// New builds a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, catalogue: o.Catalogue, keys: o.Keys, client: o.Client, log: o.Logger, now: o.Now,
		verifyTimeout: o.VerifyTimeout, sessionTTL: o.SessionTTL, sleepFn: o.Sleep, targets: &targetCache{m: map[string]target{}}, announce: o.Announce, announced: o.Announced, announceChange: o.AnnounceChange}
	if s.now == nil {
		s.now = time.Now
	}
	if s.verifyTimeout == 0 {
		s.verifyTimeout = 15 * time.Second
	}
	if s.sessionTTL == 0 {
		s.sessionTTL = 30 * time.Minute
	}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Catalogue exposes the provider catalogue.
func (s *Service) Catalogue() *provider.Catalogue { return s.catalogue }

// associatedData binds sealed credentials to the row they belong to. Integration
// and environment are internal ids, so renaming an integration keeps it valid.
// ConnectionAAD is the associated data that binds a connection's sealed credentials to its row.
func ConnectionAAD(envID, integrationID int64, connectionID string) []byte {
	return associatedData(envID, integrationID, connectionID)
}

func associatedData(envID, integrationID int64, connectionID string) []byte {
	return fmt.Appendf(nil, "connection/%d/%d/%s", envID, integrationID, connectionID)
}

// Seal encrypts c.Credentials into c.SealedCredentials, bound to its row.
func (s *Service) Seal(c *domain.Connection) error { return s.seal(c) }

func (s *Service) seal(c *domain.Connection) error {
	plain, err := json.Marshal(c.Credentials)
	if err != nil {
		return fmt.Errorf("auth: encode credentials: %w", err)
	}
	sealed, err := s.keys.Encrypt(plain, associatedData(c.EnvironmentID, c.IntegrationID, c.ConnectionID))
	if err != nil {
		return fmt.Errorf("auth: seal credentials: %w", err)
	}
	c.SealedCredentials = sealed
	return nil
}

// Open decrypts a connection's credentials in place.
func (s *Service) Open(c *domain.Connection) error {
	plain, err := s.keys.Decrypt(c.SealedCredentials, associatedData(c.EnvironmentID, c.IntegrationID, c.ConnectionID))
	if err != nil {
		return fmt.Errorf("auth: open credentials of connection %d: %w", c.ID, err)
	}
	if err := json.Unmarshal(plain, &c.Credentials); err != nil {
		return fmt.Errorf("auth: decode credentials of connection %d: %w", c.ID, err)
	}
	return nil
}

// logEvent records to the operation log; a failure to log never fails the request.
func (s *Service) logEvent(ctx context.Context, e *domain.Event) {
	e.At = s.now()
	if err := s.store.InsertEvent(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("operation log write failed", "err", err, "kind", e.Kind, "connection_id", e.ConnectionID)
	}
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }

func badRequest(code, message string, errs ...domain.FieldError) *domain.Problem {
	return &domain.Problem{Status: http.StatusBadRequest, Code: code, Message: message, Errors: errs}
}
