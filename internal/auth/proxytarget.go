package auth

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// The proxy resolves a connection on every call; a short cache keeps the
// database and the decryption off its hot path. Every change made through this
// service drops the affected entries at once; other instances see a change
// within the TTL.
const targetTTL = 5 * time.Second

type target struct {
	conn *domain.Connection
	prov *provider.Provider
	at   time.Time
}

type targetCache struct {
	mu sync.RWMutex
	m  map[string]target
}

func targetKey(envID int64, integrationKey, connectionID string) string {
	return fmt.Sprintf("%d\x00%s\x00%s", envID, integrationKey, connectionID)
}

func (c *targetCache) get(k string, now time.Time) (target, bool) {
	c.mu.RLock()
	t, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || now.Sub(t.at) > targetTTL || now.Before(t.at) {
		return target{}, false
	}
	return t, true
}

func (c *targetCache) put(k string, t target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 50_000 {
		c.m = map[string]target{}
	}
	c.m[k] = t
}

func (c *targetCache) drop(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

func (c *targetCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[string]target{}
}

// ProxyTarget returns a connection with its decrypted credentials and its
// provider, for the proxy. Unknown integration or connection are 404s with
// distinct codes.
func (s *Service) ProxyTarget(ctx context.Context, envID int64, integrationKey, connectionID string) (*domain.Connection, *provider.Provider, error) {
	k := targetKey(envID, integrationKey, connectionID)
	now := s.now()
	if t, ok := s.targets.get(k, now); ok {
		return t.conn, t.prov, nil
	}
	integ, err := s.store.Integration(ctx, envID, integrationKey)
	if isNotFound(err) {
		return nil, nil, &domain.Problem{Status: http.StatusNotFound, Code: "unknown_provider_config", Message: fmt.Sprintf("There is no integration %q.", integrationKey)}
	}
	if err != nil {
		return nil, nil, err
	}
	p, ok := s.catalogue.Get(integ.Provider)
	if !ok {
		return nil, nil, &domain.Problem{Status: http.StatusNotFound, Code: "unknown_provider_template", Message: fmt.Sprintf("The provider %q is not in the catalogue.", integ.Provider)}
	}
	c, err := s.store.Connection(ctx, envID, integ.ID, connectionID)
	if isNotFound(err) {
		return nil, nil, &domain.Problem{Status: http.StatusNotFound, Code: "unknown_connection",
			Message: fmt.Sprintf("There is no connection %q for integration %q.", connectionID, integrationKey)}
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.Open(c); err != nil {
		return nil, nil, err
	}
	s.targets.put(k, target{conn: c, prov: p, at: now})
	return c, p, nil
}

// Invalidate applies a change announced by any instance: "conn\x00<env>\x00<integration>\x00<id>"
// drops one connection, anything else drops every cached target.
func (s *Service) Invalidate(payload string) {
	if k, ok := strings.CutPrefix(payload, "conn\x00"); ok {
		s.targets.drop(k)
		return
	}
	s.targets.clear()
}

// ResetCache drops every cached target (after missing announcements).
func (s *Service) ResetCache() { s.targets.clear() }

// changed drops a connection here and tells the other instances.
func (s *Service) changed(ctx context.Context, envID int64, integrationKey, connectionID string) {
	k := targetKey(envID, integrationKey, connectionID)
	s.targets.drop(k)
	if s.announceChange != nil {
		s.announceChange(context.WithoutCancel(ctx), "conn\x00"+k)
	}
}

// changedAll drops every target here and everywhere.
func (s *Service) changedAll(ctx context.Context) {
	s.targets.clear()
	if s.announceChange != nil {
		s.announceChange(context.WithoutCancel(ctx), "all")
	}
}
