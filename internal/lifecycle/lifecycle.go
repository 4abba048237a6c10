// Package lifecycle keeps connections healthy: it re-verifies every connection
// once per interval (spread with jitter, under a global concurrency limit and a
// per-upstream rate limit, once across all instances), marks the ones that
// fail, tells the backend with a refresh-failure webhook, and warns ahead of a
// token's expiry date.
package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Store is the storage the scheduler needs.
type Store interface {
	ClaimChecks(ctx context.Context, now time.Time, interval, lease time.Duration, limit int) ([]*domain.Connection, error)
	CompleteCheck(ctx context.Context, c *domain.Connection, r domain.CheckResult, event *domain.Event, outbox []domain.OutboxMessage) error
	ExpiringConnections(ctx context.Context, now, horizon time.Time, limit int) ([]*domain.Connection, error)
	MarkExpiryNotified(ctx context.Context, pk int64, days int, outbox []domain.OutboxMessage) (bool, error)
	CheckNow(ctx context.Context, pk int64, now time.Time) error
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
}

// Outcome of one verification, as the checker reports it.
type Outcome struct {
	Status   string // ok, scope_missing, invalid_credentials; or "" when the provider could not be reached
	Warnings []domain.Warning
	Message  string
}

// Checker verifies a stored connection the way connect time does.
type Checker interface {
	Recheck(ctx context.Context, c *domain.Connection) (Outcome, error)
}

// Notices build the webhooks of lifecycle events.
type Notices interface {
	RefreshFailed(env *domain.Environment, c *domain.Connection, status, message string) []domain.OutboxMessage
	Expiring(env *domain.Environment, c *domain.Connection, daysLeft int) []domain.OutboxMessage
}

// Scheduler runs the checks.
type Scheduler struct {
	Store   Store
	Checker Checker
	Notices Notices
	Logger  *slog.Logger
	Now     func() time.Time
	// Sleep waits for the rate limiter; tests inject one that moves their clock.
	Sleep    func(context.Context, time.Duration) error
	Interval time.Duration
	// Concurrency bounds checks in flight; RatePerUpstream bounds checks per
	// second to one provider, so 100,000 connections never trip its limits.
	Concurrency     int
	RatePerUpstream float64
	// UnreachableAfter is how many failures in a row mark a connection unreachable.
	UnreachableAfter int
	// ExpiryLeads are the days before expiry at which a notice goes out.
	ExpiryLeads []int
	// Wake is called when webhooks were queued.
	Wake func()

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Failing statuses send a refresh-failure webhook when a connection enters them.
func failing(status string) bool {
	return status == domain.StatusInvalidCredentials || status == domain.StatusExpired || status == domain.StatusUnreachable
}

func (s *Scheduler) defaults() {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Sleep == nil {
		s.Sleep = domain.Sleep
	}
	if s.Concurrency == 0 {
		s.Concurrency = 8
	}
	if s.RatePerUpstream == 0 {
		s.RatePerUpstream = 10
	}
	if s.UnreachableAfter == 0 {
		s.UnreachableAfter = 3
	}
	if s.ExpiryLeads == nil {
		s.ExpiryLeads = []int{14, 3, 1}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	if s.buckets == nil {
		s.buckets = map[string]*bucket{}
	}
	s.mu.Unlock()
}

// Run checks due connections every tick until ctx ends.
func (s *Scheduler) Run(ctx context.Context, tick time.Duration) {
	s.defaults()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("health checks failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce sends expiry notices and checks every connection due now, in
// batches. It returns how many connections it checked.
func (s *Scheduler) RunOnce(ctx context.Context) (int, error) {
	s.defaults()
	if err := s.expiryNotices(ctx); err != nil {
		return 0, err
	}
	checked := 0
	for {
		batch, err := s.Store.ClaimChecks(ctx, s.Now(), s.Interval, 5*time.Minute, 200)
		if err != nil || len(batch) == 0 {
			return checked, err
		}
		sem := make(chan struct{}, s.Concurrency)
		var wg sync.WaitGroup
		for _, c := range batch {
			if err := s.wait(ctx, c.Provider); err != nil {
				wg.Wait()
				return checked, err
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := s.check(ctx, c); err != nil {
					s.Logger.Warn("health check not recorded", "connection_id", c.ConnectionID, "err", err)
				}
			}()
			checked++
		}
		wg.Wait()
	}
}

// wait takes a token from the upstream's bucket, sleeping until there is one.
func (s *Scheduler) wait(ctx context.Context, upstream string) error {
	for {
		s.mu.Lock()
		now := s.Now()
		b, ok := s.buckets[upstream]
		if !ok {
			b = &bucket{tokens: s.RatePerUpstream, at: now}
			s.buckets[upstream] = b
		}
		b.tokens = min(s.RatePerUpstream, b.tokens+now.Sub(b.at).Seconds()*s.RatePerUpstream)
		b.at = now
		if b.tokens >= 1 {
			b.tokens--
			s.mu.Unlock()
			return nil
		}
		need := time.Duration((1 - b.tokens) / s.RatePerUpstream * float64(time.Second))
		s.mu.Unlock()
		if err := s.Sleep(ctx, need); err != nil {
			return err
		}
	}
}

func (s *Scheduler) next(now time.Time) time.Time {
	j := time.Duration(rand.Int64N(int64(s.Interval)/5+1)) - s.Interval/10 // ±10 %
	return now.Add(s.Interval + j)
}

// Check verifies one connection now and records the result (POST /connections/{id}/verify).
func (s *Scheduler) Check(ctx context.Context, c *domain.Connection) (domain.CheckResult, error) {
	s.defaults()
	return s.checkResult(ctx, c)
}

func (s *Scheduler) check(ctx context.Context, c *domain.Connection) error {
	_, err := s.checkResult(ctx, c)
	return err
}

func (s *Scheduler) checkResult(ctx context.Context, c *domain.Connection) (domain.CheckResult, error) {
	now := s.Now()
	r := domain.CheckResult{Status: c.Status, Next: s.next(now), Failures: c.ConsecutiveFailures}
	if c.CredentialsExpiresAt != nil && !now.Before(*c.CredentialsExpiresAt) {
		r.Status, r.Failures = domain.StatusExpired, 0
		r.Message = fmt.Sprintf("The API token expired on %s. Ask the user to reconnect with a new token.", c.CredentialsExpiresAt.Format("2006-01-02"))
	} else {
		o, err := s.Checker.Recheck(ctx, c)
		if err != nil {
			return r, err
		}
		if o.Status == "" { // unreachable this time
			r.Failures++
			r.Message = o.Message
			if r.Failures >= s.UnreachableAfter {
				r.Status = domain.StatusUnreachable
			} else {
				// Try again soon, so several failures in a row fit within an interval.
				r.Next = now.Add(min(s.Interval/4, 15*time.Minute))
			}
		} else {
			r.Status, r.Warnings, r.Message, r.Failures, r.Verified = o.Status, o.Warnings, o.Message, 0, true
		}
	}
	var event *domain.Event
	var outbox []domain.OutboxMessage
	if r.Status != c.Status {
		event = &domain.Event{EnvironmentID: c.EnvironmentID, IntegrationKey: c.IntegrationKey, ConnectionID: c.ConnectionID, Kind: "health.check",
			Outcome: map[bool]string{true: "failure", false: "success"}[failing(r.Status)], Code: r.Status,
			Message: fmt.Sprintf("Status %s → %s. %s", c.Status, r.Status, r.Message)}
		if failing(r.Status) && !failing(c.Status) {
			env, err := s.Store.EnvironmentByID(ctx, c.EnvironmentID)
			if err != nil {
				return r, err
			}
			outbox = s.Notices.RefreshFailed(env, c, r.Status, r.Message)
		}
	}
	if err := s.Store.CompleteCheck(ctx, c, r, event, outbox); err != nil {
		return r, err
	}
	if len(outbox) > 0 && s.Wake != nil {
		s.Wake()
	}
	return r, nil
}

// expiryNotices sends, once per lead time, a notice for connections whose
// token expires within the largest lead.
func (s *Scheduler) expiryNotices(ctx context.Context) error {
	if len(s.ExpiryLeads) == 0 {
		return nil
	}
	now := s.Now()
	maxLead := 0
	for _, l := range s.ExpiryLeads {
		maxLead = max(maxLead, l)
	}
	list, err := s.Store.ExpiringConnections(ctx, now, now.Add(time.Duration(maxLead)*24*time.Hour), 1000)
	if err != nil {
		return err
	}
	envs := map[int64]*domain.Environment{}
	queued := false
	for _, c := range list {
		left := c.CredentialsExpiresAt.Sub(now)
		if left <= 0 {
			// Expired: due for a check now, which marks it (under the check lease).
			if c.Status != domain.StatusExpired {
				if err := s.Store.CheckNow(ctx, c.ID, now); err != nil {
					return err
				}
			}
			continue
		}
		lead := -1
		for _, l := range s.ExpiryLeads {
			if left <= time.Duration(l)*24*time.Hour && (lead == -1 || l < lead) {
				lead = l
			}
		}
		if lead == -1 {
			continue
		}
		env, ok := envs[c.EnvironmentID]
		if !ok {
			if env, err = s.Store.EnvironmentByID(ctx, c.EnvironmentID); err != nil {
				return err
			}
			envs[c.EnvironmentID] = env
		}
		days := int((left + 24*time.Hour - 1) / (24 * time.Hour))
		sent, err := s.Store.MarkExpiryNotified(ctx, c.ID, lead, s.Notices.Expiring(env, c, days))
		if err != nil {
			return err
		}
		queued = queued || sent
	}
	if queued && s.Wake != nil {
		s.Wake()
	}
	return nil
}
