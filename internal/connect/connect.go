// Package connect is what an end user's browser goes through: connect
// sessions (created by the backend, resolved from their token), the
// submission of credentials in a session (its per-session limit, reconnect
// pinning), and the values a reconnect form may show. Every submission ends in
// the connections package's linking step.
package connect

import (
	"context"
	"regexp"
	"time"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// SessionTokenPrefix starts every connect-session token.
const SessionTokenPrefix = "nango_connect_session_"

var sessionTokenRE = regexp.MustCompile(`^nango_connect_session_[0-9a-f]{64}$`)

// Store is the storage connect needs.
type Store interface {
	Integration(ctx context.Context, envID int64, uniqueKey string) (*domain.Integration, error)
	ListIntegrations(ctx context.Context, envID int64) ([]*domain.Integration, error)
	Connection(ctx context.Context, envID, integrationID int64, connectionID string) (*domain.Connection, error)
	// CreateConnectSession stores a session and, in the same transaction, the
	// audit-trail entries audit makes of it.
	CreateConnectSession(ctx context.Context, c *domain.ConnectSession, audit ...func(*domain.ConnectSession) *domain.AuditEntry) (*domain.ConnectSession, error)
	ConnectSessionByTokenHash(ctx context.Context, hash string, now time.Time) (*domain.ConnectSession, error)
	DeleteConnectSession(ctx context.Context, id int64) error
	TakeSessionAttempt(ctx context.Context, sessionID int64, now time.Time, burst float64, refill time.Duration) (bool, time.Duration, error)
}

// Options configure a Service.
type Options struct {
	Store       Store
	Connections *connections.Service
	Clock       clock.Clock
	// SessionTTL is how long a connect session lives; 30 minutes when zero.
	SessionTTL time.Duration
	// SingleUse ends a session at its first successful submission; otherwise
	// it stays usable for its whole life, as in Nango.
	SingleUse bool
}

// Service runs connect sessions and submissions.
type Service struct {
	store       Store
	connections *connections.Service
	clock       clock.Clock
	sessionTTL  time.Duration
	singleUse   bool
}

// New builds a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, connections: o.Connections, clock: clock.Or(o.Clock), sessionTTL: o.SessionTTL, singleUse: o.SingleUse}
	if s.sessionTTL == 0 {
		s.sessionTTL = 30 * time.Minute
	}
	return s
}
