package connections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/verify"
)

// OAUTH2_CC connections keep their access token with their sealed
// credentials. A token is fetched again when it is within its provider's
// buffer of expiry, or when the provider refused it; across every instance on
// one database, one fetch happens per connection at a time: the fetching
// instance holds a lease row ("token/<id>"), the others wait for it and read
// the token it saved. Within one instance, concurrent callers share one fetch.

// tokenLease bounds how long a fetching instance may hold a connection's lease
// (a crashed holder delays the others by at most this).
const tokenLease = 30 * time.Second

// tokenPoll is how often an instance waiting for another's fetch looks again.
const tokenPoll = 20 * time.Millisecond

// TokenFresh reports whether c's token may still be used at now.
func TokenFresh(p *provider.Provider, c domain.Credentials, now time.Time) bool {
	if c.Token == "" {
		return false
	}
	exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
	if err != nil {
		return false
	}
	lifetime := time.Duration(0)
	if got, err := time.Parse(time.RFC3339, c.ObtainedAt); err == nil {
		lifetime = exp.Sub(got)
	}
	return now.Before(exp.Add(-p.TokenBuffer(lifetime)))
}

// tokenUsable reports whether c's token has not expired at all.
func tokenUsable(c domain.Credentials, now time.Time) bool {
	exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
	return c.Token != "" && err == nil && now.Before(exp)
}

// flight is one fetch in progress in this instance, shared by its callers.
type flight struct {
	done chan struct{}
	conn *domain.Connection
	err  error
}

// flightKey names one kind of fetch: a forced one replaces a given token.
type flightKey struct {
	pk    int64
	force bool
	stale string
}

type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

// do runs fn once for key at a time; callers arriving meanwhile get its result.
func (f *flights) do(key flightKey, fn func() (*domain.Connection, error)) (*domain.Connection, error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[flightKey]*flight{}
	}
	if fl, ok := f.m[key]; ok {
		f.mu.Unlock()
		<-fl.done
		return fl.conn, fl.err
	}
	fl := &flight{done: make(chan struct{})}
	f.m[key] = fl
	f.mu.Unlock()
	fl.conn, fl.err = fn()
	f.mu.Lock()
	delete(f.m, key)
	f.mu.Unlock()
	close(fl.done)
	return fl.conn, fl.err
}

// WithToken returns c (credentials open) with an access token that is not
// within its buffer of expiry, fetching one if needed. With force, a token
// other than the one c carries is returned: a new one is fetched unless
// another caller already replaced it. The returned connection is a copy.
func (s *Service) WithToken(ctx context.Context, c *domain.Connection, p *provider.Provider, force bool) (*domain.Connection, error) {
	if c.Credentials.Type != domain.AuthModeOAuth2CC {
		return c, nil
	}
	if !force && TokenFresh(p, c.Credentials, s.clock.Now()) {
		return c, nil
	}
	stale := c.Credentials.Token
	key := flightKey{pk: c.ID, force: force}
	if force {
		key.stale = stale
	}
	return s.tokenFlights.do(key, func() (*domain.Connection, error) {
		return s.refreshToken(ctx, c, p, force, stale)
	})
}

func (s *Service) refreshToken(ctx context.Context, c *domain.Connection, p *provider.Provider, force bool, stale string) (*domain.Connection, error) {
	holder := leaseHolder()
	lease := fmt.Sprintf("token/%d", c.ID)
	// done says whether cur already carries what the caller needs.
	done := func(cur *domain.Connection) bool {
		now := s.clock.Now()
		if force {
			return cur.Credentials.Token != stale && tokenUsable(cur.Credentials, now)
		}
		return TokenFresh(p, cur.Credentials, now)
	}
	for {
		cur, err := s.reload(ctx, c)
		if err != nil {
			return nil, err
		}
		if done(cur) {
			return cur, nil
		}
		got, err := s.store.TryLease(ctx, lease, holder, tokenLease)
		if err != nil {
			return nil, err
		}
		if got {
			return s.fetchUnderLease(ctx, c, p, lease, holder, done)
		}
		// Another instance is fetching: wait for it to save the token.
		t := time.NewTimer(tokenPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, domain.NewError(domain.KindCanceled, "canceled", "The caller went away.")
		case <-t.C:
		}
	}
}

func (s *Service) fetchUnderLease(ctx context.Context, c *domain.Connection, p *provider.Provider, lease, holder string, done func(*domain.Connection) bool) (*domain.Connection, error) {
	defer func() {
		if err := s.store.ReleaseLease(context.WithoutCancel(ctx), lease, holder); err != nil {
			s.log.Warn("token lease not released", "connection_id", c.ConnectionID, "err", err)
		}
	}()
	// Read again under the lease: the previous holder may have just saved one.
	cur, err := s.reload(ctx, c)
	if err != nil || done(cur) {
		return cur, err
	}
	tok, err := s.verifiers.Token(ctx, p, cur.ConnectionConfig, cur.Credentials)
	if err != nil {
		s.tokenFetched(cur.IntegrationKey, "failure")
		return nil, err
	}
	s.tokenFetched(cur.IntegrationKey, "success")
	cur.Credentials = verify.WithToken(cur.Credentials, tok, s.clock.Now())
	if err := s.Seal(cur); err != nil {
		return nil, err
	}
	if err := s.store.UpdateCredentials(ctx, cur.ID, cur.SealedCredentials); err != nil {
		return nil, err
	}
	s.changed(ctx, cur.EnvironmentID, cur.IntegrationKey, cur.ConnectionID)
	return cur, nil
}

// reload reads c again from the database, credentials open.
func (s *Service) reload(ctx context.Context, c *domain.Connection) (*domain.Connection, error) {
	cur, err := s.store.Connection(ctx, c.EnvironmentID, c.IntegrationID, c.ConnectionID)
	if isNotFound(err) {
		return nil, domain.NotFound("unknown_connection", fmt.Sprintf("There is no connection %q.", c.ConnectionID))
	}
	if err != nil {
		return nil, err
	}
	if err := s.Open(cur); err != nil {
		return nil, err
	}
	return cur, nil
}

func leaseHolder() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RefreshToken replaces a token the provider refused (the proxy's 401): it
// returns the connection with a token other than stale.
func (s *Service) RefreshToken(ctx context.Context, envID int64, integrationKey, connectionID, stale string) (*domain.Connection, *provider.Provider, error) {
	c, p, err := s.ProxyTarget(ctx, envID, integrationKey, connectionID)
	if err != nil {
		return nil, nil, err
	}
	cc := *c
	cc.Credentials.Token = stale
	fresh, err := s.WithToken(ctx, &cc, p, true)
	if err != nil {
		return nil, nil, err
	}
	s.targets.put(targetKey(envID, integrationKey, connectionID), target{conn: fresh, prov: p, at: s.clock.Now()})
	return fresh, p, nil
}
