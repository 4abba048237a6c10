package store

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// CacheTTL bounds how long an integration or an environment read from the
// database is served from memory. Nearly every API call needs one or both
// (credential reads, proxy misses, connect sessions, webhook deliveries), and
// they seldom change: a change made through this store drops the copies here
// at once and, on PostgreSQL, on every other instance (Announce, Follow:
// Invalidate); the TTL bounds what a lost notice, or a change made by another
// process on a SQLite file (latchkey keys rotate), can cost.
const CacheTTL = 5 * time.Second

type integrationID struct {
	env int64
	key string
}

type cachedIntegration struct {
	in *domain.Integration
	at time.Time // monotonic
}

type cachedEnvironment struct {
	env *domain.Environment
	at  time.Time
}

// readCache holds integrations and environments. gen counts the drops: a
// read that began before a drop does not store what it read, which may be
// the value the drop was for.
type readCache struct {
	mu    sync.RWMutex
	gen   uint64
	integ map[integrationID]cachedIntegration
	envs  map[int64]cachedEnvironment
}

func newReadCache() *readCache {
	return &readCache{integ: map[integrationID]cachedIntegration{}, envs: map[int64]cachedEnvironment{}}
}

// maxCached bounds each map; past it, the map starts over.
const maxCached = 10_000

func (c *readCache) integration(k integrationID) (*domain.Integration, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.integ[k]
	if !ok || time.Since(e.at) > CacheTTL {
		return nil, c.gen, false
	}
	cp := *e.in // callers may change the fields of what they get
	return &cp, c.gen, true
}

func (c *readCache) putIntegration(k integrationID, gen uint64, in *domain.Integration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.integ) >= maxCached {
		c.integ = map[integrationID]cachedIntegration{}
	}
	cp := *in
	c.integ[k] = cachedIntegration{in: &cp, at: time.Now()}
}

func (c *readCache) environment(id int64) (*domain.Environment, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.envs[id]
	if !ok || time.Since(e.at) > CacheTTL {
		return nil, c.gen, false
	}
	cp := *e.env
	return &cp, c.gen, true
}

func (c *readCache) putEnvironment(id int64, gen uint64, env *domain.Environment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.envs) >= maxCached {
		c.envs = map[int64]cachedEnvironment{}
	}
	cp := *env
	c.envs[id] = cachedEnvironment{env: &cp, at: time.Now()}
}

// drop forgets the integrations (integrations true) or the environments of
// env (0: of every environment).
func (c *readCache) drop(integrations bool, env int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if integrations {
		for k := range c.integ {
			if env == 0 || k.env == env {
				delete(c.integ, k)
			}
		}
		return
	}
	if env == 0 {
		clear(c.envs)
		return
	}
	delete(c.envs, env)
}

// cacheNotice is what an instance tells the others when an integration or
// an environment changed. Its "store" key sets it apart from the services'
// notices.
type cacheNotice struct {
	Store string `json:"store"` // "integrations" or "environment"
	Env   int64  `json:"env,omitempty"`
}

const noticePrefix = `{"store":`

// changed drops what a change made stale here, then tells the other
// instances. A notice that cannot be sent is only logged by the caller's
// means: the others keep their copy until it expires (CacheTTL).
func (s *Store) changed(ctx context.Context, integrations bool, env int64) {
	s.cache.drop(integrations, env)
	n := cacheNotice{Store: "environment", Env: env}
	if integrations {
		n.Store = "integrations"
	}
	b, _ := json.Marshal(n)
	if err := s.Announce(context.WithoutCancel(ctx), string(b)); err != nil && s.noticeFailed != nil {
		s.noticeFailed()
	}
}

// Invalidate applies a change notice of any instance, if it is one of the
// store's own (an integration or an environment changed), and reports
// whether it was; the services' notices are theirs to apply.
func (s *Store) Invalidate(payload string) bool {
	if !strings.HasPrefix(payload, noticePrefix) {
		return false
	}
	var n cacheNotice
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		s.cache.drop(true, 0)
		s.cache.drop(false, 0)
		return true
	}
	s.cache.drop(n.Store == "integrations", n.Env)
	return true
}

// ResetCache forgets every cached integration and environment (after
// missing notices).
func (s *Store) ResetCache() {
	s.cache.drop(true, 0)
	s.cache.drop(false, 0)
}

// OnNoticeFailed sets what is called for each change notice the store could
// not send to the other instances (a metric).
func (s *Store) OnNoticeFailed(fn func()) { s.noticeFailed = fn }
