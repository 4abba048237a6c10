// Package connections owns linked accounts: the linking step every new or
// renewed credential goes through (validate the fields, verify with the
// provider, seal, save with the webhooks and event that announce it, in one
// transaction), imports, reads, changes, metadata, the proxy's cache of
// decrypted targets, and re-verification for health checks.
package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/netguard"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/verify"
)

// Store is the storage connections need.
type Store interface {
	Integration(ctx context.Context, envID int64, uniqueKey string) (*domain.Integration, error)
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
	Connection(ctx context.Context, envID, integrationID int64, connectionID string) (*domain.Connection, error)
	ListConnections(ctx context.Context, envID int64, f domain.ConnectionFilter) ([]*domain.Connection, error)
	DeleteConnection(ctx context.Context, envID, integrationID int64, connectionID string) error
	PatchConnection(ctx context.Context, envID, integrationID int64, connectionID string, p domain.ConnectionPatch) error
	SetMetadata(ctx context.Context, envID, integrationID int64, connectionIDs []string, metadata map[string]any, merge bool) error
	MarkFetched(ctx context.Context, pk int64, t time.Time) error
	ListEvents(ctx context.Context, envID int64, integrationKey, connectionID string, beforeID int64, limit int) ([]*domain.Event, error)
	// UpdateCredentials saves a connection's re-sealed credentials (a new token).
	UpdateCredentials(ctx context.Context, pk int64, sealed string) error
	// TryLease and ReleaseLease make one instance fetch a token at a time.
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	// Write runs one write transaction.
	Write(ctx context.Context, fn func(domain.Tx) error) error
}

// Options configure a Service.
type Options struct {
	Store     Store
	Catalogue *provider.Catalogue
	Keys      *secret.KeyRing
	Verifiers *verify.Registry
	Clock     clock.Clock
	Logger    *slog.Logger
	// Events takes operation-log entries written off the request path (it must
	// not block); entries that belong to a change are written with it instead.
	Events func(*domain.Event)
	// Announced is called after a change that queued webhooks commits (it
	// wakes the dispatcher).
	Announced func()
	// Broadcast tells the other instances to drop what they cached
	// (PostgreSQL NOTIFY); nil with a single instance.
	Broadcast func(ctx context.Context, payload string) error
	// NoticeFailed is called for each change notice Broadcast could not send.
	NoticeFailed func()
	// Network decides where a connection's webhook URL override may point
	// (nil: public addresses only).
	Network *netguard.Policy
	// TokenFetched is told of every access-token fetch (OAuth 2.0 client
	// credentials) for an integration: "success" or "failure".
	TokenFetched func(integration, outcome string)
}

// Service manages connections.
type Service struct {
	store        Store
	catalogue    *provider.Catalogue
	keys         *secret.KeyRing
	verifiers    *verify.Registry
	clock        clock.Clock
	log          *slog.Logger
	events       func(*domain.Event)
	announced    func()
	broadcast    func(ctx context.Context, payload string) error
	noticeFailed func()
	network      *netguard.Policy
	tokenFetched func(integration, outcome string)
	targets      *targetCache
	// tokenFlights shares one token fetch among concurrent callers.
	tokenFlights flights
}

// New builds a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, catalogue: o.Catalogue, keys: o.Keys, verifiers: o.Verifiers, clock: clock.Or(o.Clock), log: o.Logger,
		events: o.Events, announced: o.Announced, broadcast: o.Broadcast, noticeFailed: o.NoticeFailed, network: o.Network, tokenFetched: o.TokenFetched, targets: newTargetCache()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.events == nil {
		s.events = func(*domain.Event) {}
	}
	if s.tokenFetched == nil {
		s.tokenFetched = func(string, string) {}
	}
	if s.network == nil {
		s.network = &netguard.Policy{}
	}
	if s.verifiers == nil {
		s.verifiers = verify.New(verify.Options{Clock: s.clock, Logger: s.log})
	}
	return s
}

// Catalogue is the provider catalogue.
func (s *Service) Catalogue() *provider.Catalogue { return s.catalogue }

// IntegrationProvider resolves an integration key and its provider entry.
func (s *Service) IntegrationProvider(ctx context.Context, envID int64, key string) (*domain.Integration, *provider.Provider, error) {
	integ, err := s.store.Integration(ctx, envID, key)
	if isNotFound(err) {
		return nil, nil, domain.NotFound(CodeUnknownIntegration, fmt.Sprintf("There is no integration %q.", key))
	}
	if err != nil {
		return nil, nil, err
	}
	p, ok := s.catalogue.Get(integ.Provider)
	if !ok {
		return nil, nil, domain.NotFound("unknown_provider_template", fmt.Sprintf("The provider %q of this integration is not in the catalogue.", integ.Provider))
	}
	return integ, p, nil
}

// CodeProviderNotSupported is the code of a request for an entry latchkey
// loaded but cannot serve (an auth mode or feature it does not implement yet).
const CodeProviderNotSupported = "provider_not_supported"

func unsupported(p *provider.Provider) *domain.Error {
	return domain.Invalid(CodeProviderNotSupported, fmt.Sprintf("latchkey cannot create or use connections for %s (%s): %s.", p.DisplayName, p.Name, p.Unsupported))
}

// CheckSupported refuses an entry latchkey cannot serve, with the reason.
func CheckSupported(p *provider.Provider) error {
	if !p.Supported() {
		return unsupported(p)
	}
	return nil
}

// CodeUnknownIntegration is the code of a provider_config_key that names no integration.
const CodeUnknownIntegration = "unknown_provider_config"

// record writes an operation-log entry off the request path.
func (s *Service) record(e *domain.Event) {
	if e.At.IsZero() {
		e.At = s.clock.Now()
	}
	s.events(e)
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }

// WebhookURL checks a webhook URL override ("" is allowed: no override, or
// clearing one): an http(s) URL whose host is, and resolves to, an address the
// network policy allows, so the outbox is not a door into the operator's
// network. Only a canceled ctx is an error.
func (s *Service) WebhookURL(ctx context.Context, v string, path ...string) ([]domain.FieldError, error) {
	if v == "" {
		return nil, nil
	}
	fe, err := s.network.FieldError(ctx, v, path...)
	if err != nil || fe == nil {
		return nil, err
	}
	return []domain.FieldError{*fe}, nil
}
