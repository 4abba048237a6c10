// Package retention keeps the database from growing forever: a background job
// that deletes what latchkey no longer needs (operation-log entries and the
// audit trail older than LATCHKEY_EVENT_RETENTION, webhook deliveries
// finished longer than LATCHKEY_WEBHOOK_RETENTION ago, expired connect and
// console sessions) and gives the space back to the file system.
//
// One instance runs it at a time, holding a lease in the database. It deletes
// in small batches, each a statement and a transaction of its own, so that
// other writers (SQLite has one writer at a time) wait for one batch at most,
// never for the whole purge; after a full batch it rests as long as the batch
// took, so a large purge (the first after an upgrade, or after the retention
// was shortened) takes at most half of the writer's time.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// Store is what the job needs of the database; *store.Store has it.
type Store interface {
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	PurgeEvents(ctx context.Context, before time.Time, limit int) (int64, error)
	PurgeWebhooks(ctx context.Context, before time.Time, limit int) (int64, error)
	PurgeSessions(ctx context.Context, before time.Time, limit int) (int64, error)
	PurgeAudit(ctx context.Context, before time.Time, limit int) (int64, error)
	PurgeConsoleSessions(ctx context.Context, now, idleBefore time.Time, limit int) (int64, error)
	Reclaim(ctx context.Context, step int) (store.Reclaimed, error)
}

// Defaults of Options.
const (
	DefaultBatch       = 1000
	DefaultMinBatch    = 50
	DefaultBatchTime   = 25 * time.Millisecond
	DefaultReclaimStep = 1024 // pages: 4 MiB with SQLite's 4 KiB pages
	DefaultSessionKeep = time.Hour
	DefaultRest        = 1.0
	// LeaseName is the lease the job holds while it runs.
	LeaseName = "retention"
	// LeaseTTL is how long the lease lasts unless renewed; the job renews it
	// while it works, so a crashed holder's lease runs out soon.
	LeaseTTL = 4 * time.Minute
)

// Options configure the job.
type Options struct {
	Store  Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Holder names this instance in the lease.
	Holder string
	// EventRetention is how long operation-log entries and audit entries are
	// kept (LATCHKEY_EVENT_RETENTION).
	EventRetention time.Duration
	// WebhookRetention is how long a finished webhook delivery is kept
	// (LATCHKEY_WEBHOOK_RETENTION). Pending deliveries are kept until they finish.
	WebhookRetention time.Duration
	// SessionKeep is how long an expired connect session is kept (default
	// 1 h: a late submission still gets "expired" rather than "unknown").
	SessionKeep time.Duration
	// ConsoleIdle ends console sessions idle this long (the console's own limit).
	ConsoleIdle time.Duration
	// Batch is the most rows one statement deletes (default 1,000).
	Batch int
	// BatchTime is how long one statement should hold the database's writer
	// (default 25 ms): when a batch takes longer, the next ones are smaller,
	// down to MinBatch rows; when they are quick again, they grow back to
	// Batch. Deleting a row costs more on a busy machine or a large table.
	BatchTime time.Duration
	// MinBatch is the fewest rows a statement deletes (default 50).
	MinBatch int
	// ReclaimStep is the most free pages one incremental vacuum cuts off (SQLite).
	ReclaimStep int
	// Rest is how long the job waits after a full batch, as a multiple of
	// the time the batch took (default 1: while a large purge goes on, the
	// database's writer is left to requests at least half the time; a
	// negative value does not wait).
	Rest float64
	// Purged, when set, is told how many rows of what were deleted (metrics).
	Purged func(what string, n int64)
	// Reclaimed, when set, is told how many bytes the file shrank by (metrics).
	Reclaimed func(bytes int64)
}

// Job is the retention job.
type Job struct{ o Options }

// New makes the job; zero options take their defaults.
func New(o Options) *Job {
	o.Clock = clock.Or(o.Clock)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.MinBatch <= 0 {
		o.MinBatch = min(DefaultMinBatch, o.Batch)
	}
	if o.BatchTime <= 0 {
		o.BatchTime = DefaultBatchTime
	}
	if o.ReclaimStep <= 0 {
		o.ReclaimStep = DefaultReclaimStep
	}
	if o.Rest == 0 {
		o.Rest = DefaultRest
	}
	if o.SessionKeep <= 0 {
		o.SessionKeep = DefaultSessionKeep
	}
	return &Job{o: o}
}

// Result is what one run did.
type Result struct {
	// Rows deleted, by what they were.
	Events, Webhooks, Sessions, Audit, ConsoleSessions int64
	// Batches is how many delete statements ran.
	Batches   int
	Reclaimed store.Reclaimed
	Took      time.Duration
}

// Purged is the number of rows deleted.
func (r Result) Purged() int64 {
	return r.Events + r.Webhooks + r.Sessions + r.Audit + r.ConsoleSessions
}

// Run runs the job now and then every interval (wall-clock time) until ctx ends.
func (j *Job) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		j.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// nextBatch sizes the next batch after one of limit rows took took: in
// proportion to BatchTime when it took longer (never below MinBatch), twice
// as large when it took less than half (never above Batch).
func nextBatch(limit int, took time.Duration, o Options) int {
	switch {
	case took > o.BatchTime:
		limit = int(float64(limit) * float64(o.BatchTime) / float64(took))
	case took < o.BatchTime/2:
		limit *= 2
	}
	return max(o.MinBatch, min(o.Batch, limit))
}

// errLeaseLost stops a run whose lease another instance took.
var errLeaseLost = errors.New("retention: the lease was lost")

// RunOnce purges and reclaims, if this instance gets the lease. ran is false
// when another instance holds it. Errors are logged too; a purge that fails
// does not stop the others.
func (j *Job) RunOnce(ctx context.Context) (res Result, ran bool, err error) {
	o := j.o
	ok, err := o.Store.TryLease(ctx, LeaseName, o.Holder, LeaseTTL)
	if err != nil {
		if ctx.Err() == nil { // shutting down is not a failure to report
			o.Logger.Warn("retention: could not take the lease", "err", err)
		}
		return res, false, err
	}
	if !ok {
		o.Logger.Debug("retention: another instance holds the lease")
		return res, false, nil
	}
	start := time.Now()
	renewed := start
	now := o.Clock.Now()
	// drain deletes batches until one comes back short. Each batch's size
	// follows the time the previous one took, aiming at BatchTime.
	drain := func(what string, n *int64, purge func(limit int) (int64, error)) error {
		limit := o.Batch
		for {
			if time.Since(renewed) > LeaseTTL/4 {
				held, err := o.Store.TryLease(ctx, LeaseName, o.Holder, LeaseTTL)
				if err != nil {
					return err
				}
				if !held {
					return errLeaseLost
				}
				renewed = time.Now()
			}
			t := time.Now()
			k, err := purge(limit)
			if err != nil {
				return err
			}
			took := time.Since(t)
			res.Batches++
			*n += k
			if k > 0 && o.Purged != nil {
				o.Purged(what, k)
			}
			if k < int64(limit) {
				return nil
			}
			// More to come: leave the writer to others for a while, and size
			// the next batch to the time this one took.
			// The rest is wall-clock time (clock.System, not o.Clock): the
			// database is shared with requests, whatever a test's clock says.
			if o.Rest > 0 {
				if err := clock.System.Sleep(ctx, time.Duration(float64(took)*o.Rest)); err != nil {
					return err
				}
			}
			limit = nextBatch(limit, took, o)
		}
	}
	var errs []error
	steps := []struct {
		what  string
		n     *int64
		purge func(limit int) (int64, error)
	}{
		{"events", &res.Events, func(l int) (int64, error) { return o.Store.PurgeEvents(ctx, now.Add(-o.EventRetention), l) }},
		{"webhooks", &res.Webhooks, func(l int) (int64, error) { return o.Store.PurgeWebhooks(ctx, now.Add(-o.WebhookRetention), l) }},
		{"connect_sessions", &res.Sessions, func(l int) (int64, error) { return o.Store.PurgeSessions(ctx, now.Add(-o.SessionKeep), l) }},
		{"audit", &res.Audit, func(l int) (int64, error) { return o.Store.PurgeAudit(ctx, now.Add(-o.EventRetention), l) }},
		{"console_sessions", &res.ConsoleSessions, func(l int) (int64, error) {
			return o.Store.PurgeConsoleSessions(ctx, now, now.Add(-o.ConsoleIdle), l)
		}},
	}
	for _, s := range steps {
		if err := drain(s.what, s.n, s.purge); err != nil {
			errs = append(errs, fmt.Errorf("purge %s: %w", s.what, err))
			if errors.Is(err, errLeaseLost) || ctx.Err() != nil {
				break
			}
		}
	}
	if len(errs) == 0 {
		r, err := o.Store.Reclaim(ctx, o.ReclaimStep)
		res.Reclaimed = r
		if err != nil {
			errs = append(errs, err)
		} else if shrunk := r.SizeBefore - r.SizeAfter; shrunk > 0 && o.Reclaimed != nil {
			o.Reclaimed(shrunk)
		}
	}
	res.Took = time.Since(start)
	err = errors.Join(errs...)
	attrs := []any{"events", res.Events, "webhooks", res.Webhooks, "connect_sessions", res.Sessions, "audit", res.Audit,
		"console_sessions", res.ConsoleSessions, "batches", res.Batches, "took", res.Took.Round(time.Millisecond).String()}
	if r := res.Reclaimed; r.SizeBefore > 0 {
		attrs = append(attrs, "reclaimed_pages", r.Pages, "size_before", r.SizeBefore, "size_after", r.SizeAfter)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		o.Logger.Info("retention run stopped: shutting down", attrs...)
	case err != nil:
		o.Logger.Warn("retention run failed", append(attrs, "err", err)...)
	default:
		o.Logger.Info("retention run", attrs...)
	}
	return res, true, err
}
