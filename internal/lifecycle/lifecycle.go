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

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/webhook"
)

// Store is the storage the scheduler needs.
type Store interface {
	ClaimChecks(ctx context.Context, now time.Time, interval, lease time.Duration, limit int) ([]*domain.Connection, error)
	CompleteCheck(ctx context.Context, c *domain.Connection, r domain.CheckResult, event *domain.Event, outbox []domain.OutboxMessage) (applied bool, err error)
	ExpiringConnections(ctx context.Context, now, horizon time.Time, limit int) ([]*domain.Connection, error)
	MarkExpiryNotified(ctx context.Context, pk int64, days int, outbox []domain.OutboxMessage) (bool, error)
	CheckNow(ctx context.Context, pk int64, now time.Time) error
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
}

// Checker verifies a stored connection the way connect time does.
type Checker interface {
	Recheck(ctx context.Context, c *domain.Connection) (domain.Outcome, error)
	// AuthMode is the auth mode of a connection's provider (for webhooks).
	AuthMode(c *domain.Connection) string
}

// Options configure a Scheduler; zero values take the defaults named.
type Options struct {
	Store   Store
	Checker Checker
	Logger  *slog.Logger
	// Clock tells the time and waits for the rate limiter; tests inject one.
	Clock clock.Clock
	// Interval is how often every connection is checked.
	Interval time.Duration
	// Concurrency bounds checks in flight (8); RatePerUpstream bounds checks
	// per second to one provider (10), so 100,000 connections never trip its limits.
	Concurrency     int
	RatePerUpstream float64
	// UnreachableAfter is how many failures in a row mark a connection unreachable (3).
	UnreachableAfter int
	// ExpiryLeads are the days before expiry at which a notice goes out (14, 3, 1).
	ExpiryLeads []int
	// Wake is called when webhooks were queued.
	Wake func()
	// Checked is told what each check found: a status (ok, scope_missing,
	// invalid_credentials, expired), unreachable for a check that got no
	// answer, or error for one that could not run or be recorded.
	Checked func(status string)
}

// Scheduler runs the checks.
type Scheduler struct {
	o Options

	mu      sync.Mutex
	buckets map[string]*bucket
}

// New builds a Scheduler.
func New(o Options) *Scheduler {
	o.Clock = clock.Or(o.Clock)
	if o.Interval == 0 {
		o.Interval = 24 * time.Hour
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.RatePerUpstream == 0 {
		o.RatePerUpstream = 10
	}
	if o.UnreachableAfter == 0 {
		o.UnreachableAfter = 3
	}
	if o.ExpiryLeads == nil {
		o.ExpiryLeads = []int{14, 3, 1}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	if o.Checked == nil {
		o.Checked = func(string) {}
	}
	return &Scheduler{o: o, buckets: map[string]*bucket{}}
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Failing statuses send a refresh-failure webhook when a connection enters them.
func failing(status string) bool {
	return status == domain.StatusInvalidCredentials || status == domain.StatusExpired || status == domain.StatusUnreachable
}

// Run checks due connections every tick until ctx ends.
func (s *Scheduler) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("health checks failed", "err", err)
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
	if err := s.expiryNotices(ctx); err != nil {
		return 0, err
	}
	checked := 0
	for {
		batch, err := s.o.Store.ClaimChecks(ctx, s.o.Clock.Now(), s.o.Interval, 5*time.Minute, 200)
		if err != nil || len(batch) == 0 {
			return checked, err
		}
		sem := make(chan struct{}, s.o.Concurrency)
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
					s.o.Logger.Warn("health check not recorded", "connection_id", c.ConnectionID, "err", err)
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
		now := s.o.Clock.Now()
		b, ok := s.buckets[upstream]
		if !ok {
			b = &bucket{tokens: s.o.RatePerUpstream, at: now}
			s.buckets[upstream] = b
		}
		b.tokens = min(s.o.RatePerUpstream, b.tokens+now.Sub(b.at).Seconds()*s.o.RatePerUpstream)
		b.at = now
		if b.tokens >= 1 {
			b.tokens--
			s.mu.Unlock()
			return nil
		}
		need := time.Duration((1 - b.tokens) / s.o.RatePerUpstream * float64(time.Second))
		s.mu.Unlock()
		if err := s.o.Clock.Sleep(ctx, need); err != nil {
			return err
		}
	}
}

func (s *Scheduler) next(now time.Time) time.Time {
	j := time.Duration(rand.Int64N(int64(s.o.Interval)/5+1)) - s.o.Interval/10 // ±10 %
	return now.Add(s.o.Interval + j)
}

// Check verifies one connection now and records the result (POST /connections/{id}/verify).
func (s *Scheduler) Check(ctx context.Context, c *domain.Connection) (domain.CheckResult, error) {
	return s.checkResult(ctx, c)
}

func (s *Scheduler) check(ctx context.Context, c *domain.Connection) error {
	_, err := s.checkResult(ctx, c)
	return err
}

func (s *Scheduler) checkResult(ctx context.Context, c *domain.Connection) (r domain.CheckResult, err error) {
	found := ""
	defer func() {
		if err != nil {
			found = "error"
		}
		s.o.Checked(found)
	}()
	now := s.o.Clock.Now()
	r = domain.CheckResult{Status: c.Status, Next: s.next(now), Failures: c.ConsecutiveFailures}
	if c.CredentialsExpiresAt != nil && !now.Before(*c.CredentialsExpiresAt) {
		found = domain.StatusExpired
		r.Status, r.Failures = domain.StatusExpired, 0
		r.Message = fmt.Sprintf("The API token expired on %s. Ask the user to reconnect with a new token.", c.CredentialsExpiresAt.Format("2006-01-02"))
	} else {
		o, err := s.o.Checker.Recheck(ctx, c)
		if err != nil {
			return r, err
		}
		if o.Status == "" { // unreachable this time
			found = domain.StatusUnreachable
			r.Failures++
			r.Message = o.Message
			if r.Failures >= s.o.UnreachableAfter {
				r.Status = domain.StatusUnreachable
			} else {
				// Try again soon, so several failures in a row fit within an interval.
				r.Next = now.Add(min(s.o.Interval/4, 15*time.Minute))
			}
		} else {
			found = o.Status
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
			env, err := s.o.Store.EnvironmentByID(ctx, c.EnvironmentID)
			if err != nil {
				return r, err
			}
			outbox = webhook.RefreshFailed(env, c, s.o.Checker.AuthMode(c), r.Status, r.Message, s.o.Logger)
		}
	}
	applied, err := s.o.Store.CompleteCheck(ctx, c, r, event, outbox)
	if err != nil {
		return r, err
	}
	if !applied {
		// The credentials were replaced while they were checked: this result
		// is about credentials the connection no longer has.
		s.o.Logger.Debug("health check result dropped: the credentials changed while they were checked", "connection_id", c.ConnectionID)
		return domain.CheckResult{Status: c.Status, Superseded: true, Message: "The credentials changed while they were being checked; this result was dropped."}, nil
	}
	if len(outbox) > 0 {
		s.o.Wake()
	}
	return r, nil
}

// expiryNotices sends, once per lead time, a notice for connections whose
// token expires within the largest lead.
func (s *Scheduler) expiryNotices(ctx context.Context) error {
	if len(s.o.ExpiryLeads) == 0 {
		return nil
	}
	now := s.o.Clock.Now()
	maxLead := 0
	for _, l := range s.o.ExpiryLeads {
		maxLead = max(maxLead, l)
	}
	list, err := s.o.Store.ExpiringConnections(ctx, now, now.Add(time.Duration(maxLead)*24*time.Hour), 1000)
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
				if err := s.o.Store.CheckNow(ctx, c.ID, now); err != nil {
					return err
				}
			}
			continue
		}
		lead := -1
		for _, l := range s.o.ExpiryLeads {
			if left <= time.Duration(l)*24*time.Hour && (lead == -1 || l < lead) {
				lead = l
			}
		}
		if lead == -1 {
			continue
		}
		env, ok := envs[c.EnvironmentID]
		if !ok {
			if env, err = s.o.Store.EnvironmentByID(ctx, c.EnvironmentID); err != nil {
				return err
			}
			envs[c.EnvironmentID] = env
		}
		days := int((left + 24*time.Hour - 1) / (24 * time.Hour))
		sent, err := s.o.Store.MarkExpiryNotified(ctx, c.ID, lead, webhook.Expiring(env, c, days, s.o.Logger))
		if err != nil {
			return err
		}
		queued = queued || sent
	}
	if queued {
		s.o.Wake()
	}
	return nil
}
