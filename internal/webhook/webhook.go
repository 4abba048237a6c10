// Package webhook tells the customer's backend about connections: it builds
// Nango-shaped auth webhooks, signs them the way the official SDK verifies
// (X-Nango-Hmac-Sha256 and the legacy X-Nango-Signature), and delivers them from
// a database outbox with retries over hours, surviving restarts.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// Sign returns the two signature headers' values for body: HMAC-SHA256(key,
// body) and the legacy SHA256(key + body), both hex.
func Sign(key string, body []byte) (hmacHex, legacyHex string) {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	l := sha256.New()
	l.Write([]byte(key))
	l.Write(body)
	return hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(l.Sum(nil))
}

// Encode writes v as compact JSON with keys sorted at every level and no HTML
// escaping: byte for byte what JSON.stringify(JSON.parse(body)) gives, so the
// SDK's deprecated verifyWebhookSignature accepts it too.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// AuthEvent is what an auth webhook reports.
type AuthEvent struct {
	Environment string
	Operation   string // creation, override, refresh
	Success     bool
	Connection  *domain.Connection
	AuthMode    string
	// FromSession: endUser is included only for connections made through a connect session.
	FromSession bool
	ErrorType   string
	ErrorDesc   string
}

// AuthBody builds the body of an auth webhook (maps, so keys come out sorted).
func AuthBody(e AuthEvent) ([]byte, error) {
	c := e.Connection
	tags := c.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	body := map[string]any{
		"type": "auth", "from": "nango", "operation": e.Operation, "success": e.Success,
		"connectionId": c.ConnectionID, "providerConfigKey": c.IntegrationKey, "provider": c.Provider,
		"authMode": e.AuthMode, "environment": e.Environment, "tags": tags,
	}
	if e.FromSession && c.EndUser != nil {
		eu := map[string]any{"endUserId": c.EndUser.ID, "tags": nonNil(c.EndUser.Tags)}
		if c.EndUser.Email != "" {
			eu["endUserEmail"] = c.EndUser.Email
		}
		if c.EndUser.OrganizationID != "" {
			eu["organizationId"] = c.EndUser.OrganizationID
		}
		body["endUser"] = eu
	}
	if !e.Success {
		body["error"] = map[string]any{"type": e.ErrorType, "description": e.ErrorDesc}
	}
	return Encode(body)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Targets are where an environment's webhooks go: the connection's override
// alone when it has one, else the environment's primary and secondary URLs.
func Targets(env *domain.Environment, override string) []string {
	if override != "" {
		return []string{override}
	}
	var out []string
	for _, u := range []string{env.WebhookURL, env.WebhookSecondaryURL} {
		if u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Store is the storage the dispatcher needs.
type Store interface {
	ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*domain.OutboxMessage, error)
	CompleteWebhook(ctx context.Context, id int64, o domain.WebhookOutcome) error
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
}

// Schedule is the wait before each retry: about 16 hours in all.
var Schedule = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}

// Dispatcher delivers due outbox messages.
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
	// Lease is how long a claimed message is reserved for this dispatcher.
	Lease       time.Duration
	Concurrency int
	UserAgent   string

	wakeOnce sync.Once
	wake     chan struct{}
	trustMu  sync.RWMutex
	trusted  map[trustKey]bool
}

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
			d.Lease = 2 * time.Minute
		}
		if d.Concurrency == 0 {
			d.Concurrency = 8
		}
		if d.Logger == nil {
			d.Logger = slog.New(slog.DiscardHandler)
		}
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

// Run delivers until ctx ends, looking for due messages every interval and
// whenever woken.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	d.init()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := d.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				d.Logger.Warn("webhook dispatch failed", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// RunOnce claims the due messages (up to a batch) and attempts each once. It
// returns how many it attempted.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.init()
	msgs, err := d.Store.ClaimWebhooks(ctx, d.Now(), d.Lease, 32)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	keys := map[int64]string{}
	var keyErr error
	for _, m := range msgs {
		if _, ok := keys[m.EnvironmentID]; ok {
			continue
		}
		env, err := d.Store.EnvironmentByID(ctx, m.EnvironmentID)
		if err == nil {
			keys[m.EnvironmentID], err = d.SigningKey(env)
		}
		if err != nil {
			keyErr = err
		}
	}
	sem := make(chan struct{}, d.Concurrency)
	var wg sync.WaitGroup
	for _, m := range msgs {
		key, ok := keys[m.EnvironmentID]
		if !ok {
			continue // its lease runs out and it is tried again
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d.deliver(ctx, m, key)
		}()
	}
	wg.Wait()
	return len(msgs), keyErr
}

func (d *Dispatcher) deliver(ctx context.Context, m *domain.OutboxMessage, key string) {
	start := d.Now()
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

// AuthMessages builds the outbox messages of a successful auth event for every target.
func AuthMessages(env *domain.Environment, c *domain.Connection, operation string, fromSession bool, log *slog.Logger) []domain.OutboxMessage {
	return messages(env, c, "auth."+operation, func() ([]byte, error) {
		return AuthBody(AuthEvent{Environment: env.Name, Operation: operation, Success: true, Connection: c, AuthMode: c.Credentials.Type, FromSession: fromSession})
	}, log)
}

// RefreshFailed builds the auth webhook Nango sends when a connection's
// credentials stop working (operation "refresh", success false).
func RefreshFailed(env *domain.Environment, c *domain.Connection, status, message string, log *slog.Logger) []domain.OutboxMessage {
	return messages(env, c, "auth.refresh", func() ([]byte, error) {
		return AuthBody(AuthEvent{Environment: env.Name, Operation: "refresh", Success: false, Connection: c, AuthMode: authMode(c),
			FromSession: c.EndUser != nil, ErrorType: status, ErrorDesc: message})
	}, log)
}

// Expiring builds latchkey's own notice that a connection's token expires soon:
// {"type":"credentials_expiring","from":"latchkey",…}.
func Expiring(env *domain.Environment, c *domain.Connection, daysLeft int, log *slog.Logger) []domain.OutboxMessage {
	return messages(env, c, "credentials.expiring", func() ([]byte, error) {
		return Encode(map[string]any{"type": "credentials_expiring", "from": "latchkey", "environment": env.Name, "connectionId": c.ConnectionID,
			"providerConfigKey": c.IntegrationKey, "provider": c.Provider, "expiresAt": c.CredentialsExpiresAt.UTC().Format(time.RFC3339), "daysLeft": daysLeft,
			"tags": nonNil(c.Tags)})
	}, log)
}

func authMode(c *domain.Connection) string {
	if c.Credentials.Type != "" {
		return c.Credentials.Type
	}
	return domain.AuthModeBasic
}

func messages(env *domain.Environment, c *domain.Connection, eventType string, body func() ([]byte, error), log *slog.Logger) []domain.OutboxMessage {
	targets := Targets(env, c.WebhookURLOverride)
	if len(targets) == 0 {
		return nil
	}
	b, err := body()
	if err != nil {
		log.Error("webhook body", "err", err)
		return nil
	}
	out := make([]domain.OutboxMessage, len(targets))
	for i, u := range targets {
		out[i] = domain.OutboxMessage{EnvironmentID: env.ID, URL: u, EventType: eventType, ConnectionID: c.ConnectionID, Body: b}
	}
	return out
}
