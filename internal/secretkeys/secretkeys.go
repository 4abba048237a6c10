// Package secretkeys owns an environment's secret keys: authenticating a
// caller by key (through a short cache that a revocation empties at once,
// here and on the other instances), creating a key (shown once), revoking
// one, and noting when each was last used. An environment has one or more
// keys, so a key is replaced without downtime: create a second key, move the
// clients to it, revoke the first.
package secretkeys

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// Store is the storage secret keys need.
type Store interface {
	SecretKeyByDigest(ctx context.Context, digest string) (*domain.SecretKey, *domain.Environment, error)
	ListSecretKeys(ctx context.Context, envID int64) ([]*domain.SecretKey, error)
	CreateSecretKey(ctx context.Context, envID int64, digest, label string, maxActive int) (*domain.SecretKey, error)
	RevokeSecretKey(ctx context.Context, envID, id int64) (*domain.SecretKey, error)
	TouchSecretKey(ctx context.Context, id int64, at time.Time) error
}

// Options configure a Service.
type Options struct {
	Store  Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Broadcast tells the other instances that a key was revoked (PostgreSQL
	// NOTIFY); nil with a single instance.
	Broadcast func(ctx context.Context, payload string) error
	// NoticeFailed is called for each notice Broadcast could not send.
	NoticeFailed func()
}

// MaxActive bounds an environment's active keys.
const MaxActive = 20

// MaxLabel bounds a key's label, in characters.
const MaxLabel = 100

// CacheTTL is how long a key found by digest is trusted without asking the
// database again. Every API call authenticates; a revocation empties the
// caches at once through notices, and this bounds what a lost notice costs.
const CacheTTL = time.Second

// touchEvery is how often a key's last use is written.
const touchEvery = time.Minute

// Service manages secret keys.
type Service struct {
	store        Store
	clock        clock.Clock
	log          *slog.Logger
	broadcast    func(ctx context.Context, payload string) error
	noticeFailed func()

	mu      sync.RWMutex
	cache   map[string]entry // by digest
	touched map[int64]time.Time
}

type entry struct {
	key *domain.SecretKey
	env *domain.Environment
	at  time.Time // wall clock (monotonic), for the TTL
}

// New builds a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, clock: clock.Or(o.Clock), log: o.Logger, broadcast: o.Broadcast, noticeFailed: o.NoticeFailed,
		cache: map[string]entry{}, touched: map[int64]time.Time{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// CodeUnknownKey is the code of a secret key that matches no active key.
const CodeUnknownKey = "unknown_account"

func unknownKey() *domain.Error {
	return domain.Unauthenticated(CodeUnknownKey, "The secret key is not valid.")
}

// Authenticate finds the active key a secret key is, and its environment.
// Keys are 256-bit random values (or chosen ones of at least 100 bits) stored
// as SHA-256 digests, so the indexed lookup by digest tells an attacker nothing
// through timing; the final comparison is constant-time anyway.
func (s *Service) Authenticate(ctx context.Context, key string) (*domain.Environment, *domain.SecretKey, error) {
	var d secret.TokenDigest
	secret.HashTokenTo(&d, key)
	s.mu.RLock()
	e, ok := s.cache[string(d[:])] // no string made for the lookup
	s.mu.RUnlock()
	if !ok || time.Since(e.at) > CacheTTL {
		digest := string(d[:])
		k, env, err := s.store.SecretKeyByDigest(ctx, digest)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, nil, unknownKey()
		}
		if err != nil {
			return nil, nil, err
		}
		e = entry{key: k, env: env, at: time.Now()}
		s.mu.Lock()
		if len(s.cache) > 10_000 {
			s.cache = map[string]entry{}
		}
		s.cache[digest] = e
		s.mu.Unlock()
	}
	if subtle.ConstantTimeCompare([]byte(e.key.Digest), d[:]) != 1 {
		return nil, nil, unknownKey()
	}
	s.touch(ctx, e.key.ID)
	return e.env, e.key, nil
}

// touch records a key's use, at most once a minute per key and instance. A
// failure is logged: it never fails the request.
func (s *Service) touch(ctx context.Context, id int64) {
	now := s.clock.Now()
	s.mu.Lock()
	last, ok := s.touched[id]
	if ok && now.Sub(last) < touchEvery && !now.Before(last) {
		s.mu.Unlock()
		return
	}
	s.touched[id] = now
	s.mu.Unlock()
	if err := s.store.TouchSecretKey(context.WithoutCancel(ctx), id, now); err != nil {
		s.log.Warn("could not record a secret key's use", "key_id", id, "err", err)
	}
}

// List lists an environment's keys, revoked ones included, oldest first.
func (s *Service) List(ctx context.Context, envID int64) ([]*domain.SecretKey, error) {
	return s.store.ListSecretKeys(ctx, envID)
}

// CheckLabel validates a key's label (trimmed; may be empty).
func CheckLabel(label string) (string, *domain.Error) {
	label = strings.TrimSpace(label)
	if utf8.RuneCountInString(label) > MaxLabel || strings.ContainsFunc(label, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		msg := fmt.Sprintf("The label must be at most %d characters, on one line.", MaxLabel)
		return "", domain.Invalid("invalid_body", msg, domain.Field("invalid_string", msg, "label"))
	}
	return label, nil
}

// Create makes a new key for env and returns it (the only time it is seen)
// with its record.
func (s *Service) Create(ctx context.Context, env *domain.Environment, label string) (string, *domain.SecretKey, error) {
	label, derr := CheckLabel(label)
	if derr != nil {
		return "", nil, derr
	}
	key, err := secret.RandomToken("sk_" + env.Name + "_")
	if err != nil {
		return "", nil, err
	}
	k, err := s.store.CreateSecretKey(ctx, env.ID, secret.HashToken(key), label, MaxActive)
	if errors.Is(err, domain.ErrConflict) {
		return "", nil, domain.NewError(domain.KindConflict, "too_many_secret_keys",
			fmt.Sprintf("This environment has %d active secret keys, the most it may have. Revoke one it no longer needs first.", MaxActive))
	}
	if err != nil {
		return "", nil, err
	}
	return key, k, nil
}

// Revoke revokes a key of envID: it stops working at once on every instance,
// and the console sessions opened with it end. The last active key cannot be
// revoked. Revoking a revoked key returns it unchanged.
func (s *Service) Revoke(ctx context.Context, envID, id int64) (*domain.SecretKey, error) {
	k, err := s.store.RevokeSecretKey(ctx, envID, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return nil, domain.NotFound("unknown_secret_key", fmt.Sprintf("There is no secret key %d in this environment.", id))
	case errors.Is(err, domain.ErrConflict):
		return nil, domain.NewError(domain.KindConflict, "last_secret_key",
			"This is the environment's last active secret key: create another one and move your clients to it before revoking this one.")
	case err != nil:
		return nil, err
	}
	s.drop(id)
	s.tell(ctx, id)
	return k, nil
}

// notice is what an instance tells the others when a key is revoked.
type notice struct {
	SecretKey int64 `json:"secret_key_revoked"`
}

// Invalidate applies a notice from any instance; it reports whether the
// notice was about a secret key (the others are not this service's).
func (s *Service) Invalidate(payload string) bool {
	var n notice
	if json.Unmarshal([]byte(payload), &n) != nil || n.SecretKey == 0 {
		return false
	}
	s.drop(n.SecretKey)
	return true
}

// ResetCache forgets every cached key (after missed notices).
func (s *Service) ResetCache() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache = map[string]entry{}
}

func (s *Service) drop(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d, e := range s.cache {
		if e.key.ID == id {
			delete(s.cache, d)
		}
	}
}

func (s *Service) tell(ctx context.Context, id int64) {
	if s.broadcast == nil {
		return
	}
	b, _ := json.Marshal(notice{SecretKey: id})
	if err := s.broadcast(context.WithoutCancel(ctx), string(b)); err != nil {
		s.log.Warn("revocation notice to other instances not sent; they trust their cached copy until it expires", "err", err, "expires_in", CacheTTL.String())
		if s.noticeFailed != nil {
			s.noticeFailed()
		}
	}
}
