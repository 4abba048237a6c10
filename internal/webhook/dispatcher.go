package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Store is the storage the dispatcher needs.
type Store interface {
	ClaimWebhooksFor(ctx context.Context, now time.Time, lease time.Duration, limit, perTarget int, skip, only []string) ([]*domain.OutboxMessage, error)
	CompleteWebhook(ctx context.Context, id int64, o domain.WebhookOutcome) error
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
}

// Schedule is the wait before each retry: about 16 hours in all.
var Schedule = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}

// Dispatcher delivers due outbox messages. It shares its deliveries out by
// receiver (a message's target: scheme://host:port), so a slow or hanging
// receiver holds back only its own messages:
//
//   - a receiver whose last answer came within SlowAfter is prompt and may
//     have PerTarget deliveries in flight;
//   - any other receiver (not heard from yet, slow, timing out, unreachable)
//     may have one, and all of those together at most half of Concurrency,
//     so prompt receivers always have the other half; prompt receivers
//     together take at most three quarters, so the others always have a
//     quarter;
//   - it claims continuously: whenever a delivery ends or a message becomes
//     due, it claims what its free slots allow, passing over receivers that
//     are busy. Nothing waits for a batch to finish.
//
// Claims lease each message in the database, so several dispatchers (in one
// process or several) deliver each attempt once.
type Dispatcher struct {
	Store Store
	// SigningKey opens an environment's sealed signing key.
	SigningKey func(env *domain.Environment) (string, error)
	// Client posts to URLs set through the API or the CLI; its transport
	// must refuse non-public addresses (upstream.NewGuardedTransport).
	Client *http.Client
	// TrustedClient posts to the URLs given to Trust (nil: Client).
	TrustedClient *http.Client
	Logger        *slog.Logger
	Now           func() time.Time
	// Lease is how long a claimed message is reserved for this dispatcher
	// (default 2 min, or twice the clients' timeout if that is longer): no
	// other dispatcher may take it while an attempt can still be running.
	Lease time.Duration
	// Concurrency bounds the deliveries in flight (default 64).
	Concurrency int
	// PerTarget bounds the deliveries in flight to one prompt receiver (default 8).
	PerTarget int
	// SlowAfter is how long a receiver may take to answer and still count as
	// prompt (default 5 s).
	SlowAfter time.Duration
	UserAgent string

	wakeOnce sync.Once
	wake     chan struct{}
	trustMu  sync.RWMutex
	trusted  map[trustKey]bool
	// loop is held by Run or RunOnce; it owns receivers.
	loop      sync.Mutex
	receivers map[string]*receiver
}

// receiver is what the dispatcher knows of one target.
type receiver struct {
	inFlight int
	// held were claimed under the prompt share and wait for one of its slots.
	held   []heldMessage
	prompt bool
	// used is when it was last sent to (wall clock), to forget idle ones.
	used time.Time
}

type heldMessage struct {
	m       *domain.OutboxMessage
	key     string
	claimed time.Time
}

// forgetAfter is how long an idle receiver is remembered (and its promptness).
const forgetAfter = 10 * time.Minute

type trustKey struct {
	env int64
	url string
}

// Trust marks url as configured by the operator for environment envID
// (LATCHKEY_WEBHOOK_URL): deliveries to it go through TrustedClient, which
// may reach any address. It is configuration, not API input.
func (d *Dispatcher) Trust(envID int64, url string) {
	d.trustMu.Lock()
	defer d.trustMu.Unlock()
	if d.trusted == nil {
		d.trusted = map[trustKey]bool{}
	}
	d.trusted[trustKey{envID, url}] = true
}

// Trusted reports whether url was given to Trust for envID.
func (d *Dispatcher) Trusted(envID int64, url string) bool {
	d.trustMu.RLock()
	defer d.trustMu.RUnlock()
	return d.trusted[trustKey{envID, url}]
}

func (d *Dispatcher) init() {
	d.wakeOnce.Do(func() {
		d.wake = make(chan struct{}, 1)
		if d.Now == nil {
			d.Now = time.Now
		}
		if d.Lease == 0 {
			d.Lease = max(2*time.Minute, 2*d.longestAttempt())
		}
		if d.Concurrency == 0 {
			d.Concurrency = 64
		}
		if d.PerTarget == 0 {
			d.PerTarget = 8
		}
		if d.SlowAfter == 0 {
			d.SlowAfter = 5 * time.Second
		}
		if d.Logger == nil {
			d.Logger = slog.New(slog.DiscardHandler)
		}
		d.receivers = map[string]*receiver{}
	})
}

// Wake asks the dispatcher to look for due messages now (after a commit).
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, claiming whenever a delivery ends, when woken,
// and every interval (for retries that came due and other instances'
// messages). On the way out it waits for the deliveries in flight.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	d.init()
	d.loop.Lock()
	defer d.loop.Unlock()
	r := d.newRun(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	look := true
	for {
		if look && ctx.Err() == nil {
			if err := r.fill(d.Now()); err != nil && ctx.Err() == nil {
				d.Logger.Warn("webhook dispatch failed", "err", err)
			}
			look = false
		}
		select {
		case <-ctx.Done():
			r.wait()
			return
		case <-t.C:
			r.lookOthers, look = true, true
			d.forget()
		case <-d.wake:
			r.lookOthers, look = true, true
		case res := <-r.done:
			r.finish(res)
			look = true
		}
	}
}

// RunOnce delivers what is due now, each message once, within the same limits
// as Run, and returns when every delivery it started has ended: how many it
// attempted.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.init()
	d.loop.Lock()
	defer d.loop.Unlock()
	d.forget()
	r := d.newRun(ctx)
	now := d.Now()
	err := r.fill(now)
	for r.inFlight > 0 {
		r.finish(<-r.done)
		if err == nil && ctx.Err() == nil {
			err = r.fill(now)
		}
	}
	if err == nil {
		err = r.keyErr
	}
	return r.attempted, err
}

// forget drops idle receivers: after a while a receiver starts over as one
// not heard from yet.
func (d *Dispatcher) forget() {
	for k, t := range d.receivers {
		if t.inFlight == 0 && len(t.held) == 0 && time.Since(t.used) > forgetAfter {
			delete(d.receivers, k)
		}
	}
}

// run is the state of one Run or RunOnce: the deliveries it has started.
type run struct {
	d    *Dispatcher
	ctx  context.Context
	done chan result
	// inFlight counts deliveries running, slow those in the share of
	// receivers that are not prompt (the rest are in the prompt share).
	inFlight, slow int
	attempted      int
	// lookOthers: messages may be due for receivers that are not prompt
	// (cleared when a claim for them finds none).
	lookOthers bool
	keyErr     error
}

type result struct {
	target string
	slow   bool // counted in the share of receivers that are not prompt
	prompt bool // it answered within SlowAfter
}

func (d *Dispatcher) newRun(ctx context.Context) *run {
	return &run{d: d, ctx: ctx, done: make(chan result, d.Concurrency), lookOthers: true}
}

func (r *run) wait() {
	for r.inFlight > 0 {
		r.finish(<-r.done)
	}
}

// fill claims until the free slots are taken or nothing more is due.
func (r *run) fill(now time.Time) error {
	for {
		n, err := r.claim(now)
		if err != nil || n == 0 {
			return err
		}
	}
}

// claim makes one round of claims: messages for prompt receivers with a free
// slot (up to PerTarget each), then one message each for other receivers with
// nothing in flight, within their share. It returns how many it claimed.
func (r *run) claim(now time.Time) (int, error) {
	d := r.d
	// Slots are deliveries in flight; a held message takes the slot its
	// receiver frees, so it needs none of its own.
	free := d.Concurrency - r.inFlight
	claimed := 0
	// A prompt receiver may have PerTarget in flight and as many claimed and
	// waiting, so a backlog is claimed a few at a time rather than one per
	// delivery; it is claimed for again once fewer than half are waiting.
	var open []string
	room := 0 // the most one of them may take
	for k, t := range d.receivers {
		if t.prompt && len(t.held) < d.PerTarget/2 {
			open = append(open, k)
			room = max(room, 2*d.PerTarget-t.inFlight-len(t.held))
		}
	}
	promptShare := d.Concurrency - d.Concurrency/4 - (r.inFlight - r.slow)
	if n := min(free, promptShare); n > 0 && len(open) > 0 {
		msgs, err := d.Store.ClaimWebhooksFor(r.ctx, now, d.Lease, n, room, nil, open)
		if err != nil {
			return 0, err
		}
		r.accept(msgs, true)
		free -= len(msgs)
		claimed += len(msgs)
	}
	share := max(1, d.Concurrency/2) - r.slow
	if free > 0 && share > 0 && r.lookOthers {
		var skip []string
		for k, t := range d.receivers {
			if t.prompt || t.inFlight+len(t.held) > 0 {
				skip = append(skip, k)
			}
		}
		msgs, err := d.Store.ClaimWebhooksFor(r.ctx, now, d.Lease, min(free, share), 1, skip, nil)
		if err != nil {
			return claimed, err
		}
		if len(msgs) == 0 {
			r.lookOthers = false
		}
		r.accept(msgs, false)
		claimed += len(msgs)
	}
	return claimed, nil
}

// accept starts claimed messages, or holds those of a prompt receiver whose
// slots are all taken until one frees. A held message starts within a few
// answers of a receiver known to answer within SlowAfter, well within its
// lease; finish checks anyway.
func (r *run) accept(msgs []*domain.OutboxMessage, prompt bool) {
	d := r.d
	keys := r.signingKeys(msgs)
	for _, m := range msgs {
		key, ok := keys[m.EnvironmentID]
		if !ok {
			continue // its lease runs out and it is tried again
		}
		if m.Target == "" {
			m.Target = domain.WebhookTarget(m.URL)
		}
		t := d.receivers[m.Target]
		if t == nil {
			t = &receiver{}
			d.receivers[m.Target] = t
		}
		if prompt && t.inFlight >= d.PerTarget {
			t.held = append(t.held, heldMessage{m: m, key: key, claimed: time.Now()})
			continue
		}
		r.start(t, m, key, !prompt)
	}
}

func (r *run) signingKeys(msgs []*domain.OutboxMessage) map[int64]string {
	keys := map[int64]string{}
	failed := map[int64]bool{}
	for _, m := range msgs {
		id := m.EnvironmentID
		if _, ok := keys[id]; ok || failed[id] {
			continue
		}
		env, err := r.d.Store.EnvironmentByID(r.ctx, id)
		if err == nil {
			keys[id], err = r.d.SigningKey(env)
		}
		if err != nil {
			delete(keys, id)
			failed[id] = true
			r.keyErr = err
			r.d.Logger.Warn("webhook signing key unavailable; its messages wait for their lease to run out", "environment_id", id, "err", err)
		}
	}
	return keys
}

func (r *run) start(t *receiver, m *domain.OutboxMessage, key string, slow bool) {
	t.inFlight++
	t.used = time.Now()
	r.inFlight++
	if slow {
		r.slow++
	}
	go func() {
		prompt := r.d.deliver(r.ctx, m, key)
		r.done <- result{target: m.Target, slow: slow, prompt: prompt}
	}()
}

// finish books a delivery that ended and starts its receiver's held
// messages, as far as its slots allow.
func (r *run) finish(res result) {
	d := r.d
	r.inFlight--
	r.attempted++
	if res.slow {
		r.slow--
	}
	t := d.receivers[res.target]
	t.inFlight--
	t.used = time.Now()
	t.prompt = res.prompt
	if !t.prompt {
		r.lookOthers = true // its next message is claimed among the others now
	}
	for len(t.held) > 0 && t.inFlight < d.PerTarget {
		h := t.held[0]
		t.held = t.held[1:]
		if r.ctx.Err() != nil || time.Since(h.claimed)+d.longestAttempt() >= d.Lease {
			// Too late to finish within the lease: leave it, it is claimed
			// again when the lease runs out.
			continue
		}
		r.start(t, h.m, h.key, false)
	}
}

// longestAttempt is how long one POST may take: the clients' timeout (a
// minute for a client without one, which only tests build).
func (d *Dispatcher) longestAttempt() time.Duration {
	var longest time.Duration
	for _, c := range []*http.Client{d.Client, d.TrustedClient} {
		switch {
		case c == nil:
		case c.Timeout == 0:
			longest = max(longest, time.Minute)
		default:
			longest = max(longest, c.Timeout)
		}
	}
	return longest
}

// deliver makes one attempt and records it; it reports whether the receiver
// answered within SlowAfter.
func (d *Dispatcher) deliver(ctx context.Context, m *domain.OutboxMessage, key string) (prompt bool) {
	start, wall := d.Now(), time.Now()
	status, err := d.post(ctx, m, key)
	a := domain.WebhookAttempt{Attempt: m.Attempts, At: start, Status: status, Duration: d.Now().Sub(start)}
	o := domain.WebhookOutcome{Attempt: a}
	switch {
	case err == nil && status >= 200 && status < 300:
		o.Delivered = true
	default:
		retry := retryable(status)
		if err != nil {
			o.Attempt.Error, retry = describe(err)
			d.Logger.Debug("webhook POST failed", "id", m.ID, "url_host", hostOf(m.URL), "err", trimErr(err))
		} else {
			o.Attempt.Error = "HTTP " + strconv.Itoa(status)
		}
		if retry && m.Attempts <= len(Schedule) {
			wait := Schedule[m.Attempts-1]
			wait += time.Duration(rand.Int64N(int64(wait) / 5)) // spread a burst of retries
			next := d.Now().Add(wait)
			o.Next = &next
		}
		d.Logger.Warn("webhook delivery failed", "id", m.ID, "attempt", m.Attempts, "url_host", hostOf(m.URL), "status", status, "err", o.Attempt.Error,
			"gave_up", o.Next == nil)
	}
	if err := d.Store.CompleteWebhook(context.WithoutCancel(ctx), m.ID, o); err != nil {
		d.Logger.Error("webhook state not saved; the lease will run out and it will be sent again", "id", m.ID, "err", err)
	}
	return err == nil && time.Since(wall) <= d.SlowAfter
}

// retryable: 408, 425, 429 and 5xx (and network errors and timeouts, see
// describe). Other answers (3xx, 4xx) say the receiver will not take this
// message; retrying will not help.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooEarly || status == http.StatusTooManyRequests
}

func (d *Dispatcher) post(ctx context.Context, m *domain.OutboxMessage, key string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return 0, errBadURL
	}
	sig, legacy := Sign(key, m.Body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Nango-Hmac-Sha256", sig)
	req.Header.Set("X-Nango-Signature", legacy)
	req.Header.Set("X-Latchkey-Delivery", strconv.FormatInt(m.ID, 10))
	req.Header.Set("X-Latchkey-Attempt", strconv.Itoa(m.Attempts))
	if d.UserAgent != "" {
		req.Header.Set("User-Agent", d.UserAgent)
	}
	client := d.Client
	if d.TrustedClient != nil && d.Trusted(m.EnvironmentID, m.URL) {
		client = d.TrustedClient
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, nil
}

// trimErr drops the URL Go puts in client errors (it may carry a token in its query).
func trimErr(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

func hostOf(raw string) string {
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	if err != nil {
		return ""
	}
	return req.URL.Host
}
