package connections

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// The proxy resolves a connection on every call; a short cache keeps the
// database and the decryption off its hot path. Every change made through this
// service drops the affected entries at once, here and (through Broadcast) on
// the other instances; the TTL bounds what a missed notice can cost.
const targetTTL = 5 * time.Second

type target struct {
	conn *domain.Connection
	prov *provider.Provider
	at   time.Time
}

type targetCache struct {
	mu sync.RWMutex
	m  map[targetID]target
}

func newTargetCache() *targetCache { return &targetCache{m: map[targetID]target{}} }

// targetID names a cached target; a struct, so a lookup builds no string.
type targetID struct {
	env                       int64
	integration, connectionID string
}

func targetKey(envID int64, integrationKey, connectionID string) targetID {
	return targetID{envID, integrationKey, connectionID}
}

// notice is what one instance tells the others when a connection changed; an
// empty one means every connection (an integration changed). It travels as
// JSON: PostgreSQL refuses NUL bytes in a notification.
type notice struct {
	Env          int64  `json:"env,omitempty"`
	Integration  string `json:"integration,omitempty"`
	ConnectionID string `json:"connection_id,omitempty"`
}

func (c *targetCache) get(k targetID, now time.Time) (target, bool) {
	c.mu.RLock()
	t, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || now.Sub(t.at) > targetTTL || now.Before(t.at) {
		return target{}, false
	}
	return t, true
}

func (c *targetCache) put(k targetID, t target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 50_000 {
		c.m = map[targetID]target{}
	}
	c.m[k] = t
}

func (c *targetCache) drop(k targetID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

func (c *targetCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[targetID]target{}
}

// ProxyTarget returns a connection with its decrypted credentials and its
// provider, for the proxy. Unknown integration or connection are not-found
// errors with distinct codes.
func (s *Service) ProxyTarget(ctx context.Context, envID int64, integrationKey, connectionID string) (*domain.Connection, *provider.Provider, error) {
	k := targetKey(envID, integrationKey, connectionID)
	now := s.clock.Now()
	if t, ok := s.targets.get(k, now); ok {
		return s.withFreshToken(ctx, k, t.conn, t.prov)
	}
	integ, p, err := s.IntegrationProvider(ctx, envID, integrationKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.store.Connection(ctx, envID, integ.ID, connectionID)
	if isNotFound(err) {
		return nil, nil, domain.NotFound("unknown_connection", fmt.Sprintf("There is no connection %q for integration %q.", connectionID, integrationKey))
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.Open(c); err != nil {
		return nil, nil, err
	}
	if !p.Supported() {
		return nil, nil, unsupported(p)
	}
	s.targets.put(k, target{conn: c, prov: p, at: now})
	return s.withFreshToken(ctx, k, c, p)
}

// withFreshToken gives an OAUTH2_CC target a token that is not about to
// expire, caching the connection that carries it.
func (s *Service) withFreshToken(ctx context.Context, k targetID, c *domain.Connection, p *provider.Provider) (*domain.Connection, *provider.Provider, error) {
	if c.Credentials.Type != domain.AuthModeOAuth2CC || TokenFresh(p, c.Credentials, s.clock.Now()) {
		return c, p, nil
	}
	fresh, err := s.WithToken(ctx, c, p, false)
	if err != nil {
		return nil, nil, err
	}
	s.targets.put(k, target{conn: fresh, prov: p, at: s.clock.Now()})
	return fresh, p, nil
}

// Invalidate applies a change announced by any instance: a notice naming a
// connection drops it; anything else drops every cached target.
func (s *Service) Invalidate(payload string) {
	var n notice
	if json.Unmarshal([]byte(payload), &n) == nil && n.ConnectionID != "" {
		s.targets.drop(targetKey(n.Env, n.Integration, n.ConnectionID))
		return
	}
	s.targets.clear()
}

// ResetCache drops every cached target (after missing announcements).
func (s *Service) ResetCache() { s.targets.clear() }

// changed drops a connection here and tells the other instances.
func (s *Service) changed(ctx context.Context, envID int64, integrationKey, connectionID string) {
	s.targets.drop(targetKey(envID, integrationKey, connectionID))
	s.tell(ctx, notice{Env: envID, Integration: integrationKey, ConnectionID: connectionID})
}

// ChangedAll drops every target here and everywhere (an integration changed).
func (s *Service) ChangedAll(ctx context.Context) {
	s.targets.clear()
	s.tell(ctx, notice{})
}

// tell sends a notice to the other instances. One that cannot be sent is
// logged and counted: the others keep their copy until it expires (targetTTL).
func (s *Service) tell(ctx context.Context, n notice) {
	if s.broadcast == nil {
		return
	}
	b, _ := json.Marshal(n)
	if err := s.broadcast(context.WithoutCancel(ctx), string(b)); err != nil {
		s.log.Warn("change notice to other instances not sent; they keep their cached copy until it expires", "err", err, "expires_in", targetTTL.String())
		if s.noticeFailed != nil {
			s.noticeFailed()
		}
	}
}
