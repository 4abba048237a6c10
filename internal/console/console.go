// Package console serves the operator's console at /admin: server-rendered
// pages (html/template, embedded assets with content-hashed names, a strict
// CSP with a nonce per page, light and dark, usable at phone width and with
// the keyboard alone) where an operator signs in with one of an
// environment's secret keys and sees and acts on its connections,
// integrations, connect links, webhooks, secret keys and audit trail.
//
// It calls the services for everything they do; its own storage is the
// sessions and the overview's counts (Store). It never imports the JSON API.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/environment"
	"github.com/latchkeyhq/latchkey/internal/httpx"
	"github.com/latchkeyhq/latchkey/internal/integrations"
	"github.com/latchkeyhq/latchkey/internal/lifecycle"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/secretkeys"
	"github.com/latchkeyhq/latchkey/internal/throttle"
	"github.com/latchkeyhq/latchkey/internal/webhook"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// Store is the console's own storage: its sessions and the overview's reads,
// which no service does.
type Store interface {
	CreateConsoleSession(ctx context.Context, c *domain.ConsoleSession) (*domain.ConsoleSession, error)
	ConsoleSession(ctx context.Context, digest string) (*domain.ConsoleSession, *domain.Environment, error)
	TouchConsoleSession(ctx context.Context, id int64, at time.Time) error
	DeleteConsoleSession(ctx context.Context, digest string) error
	ConnectionCounts(ctx context.Context, envID int64, now, horizon time.Time) (*domain.ConnectionCounts, error)
	ExpiringSoon(ctx context.Context, envID int64, now, horizon time.Time, limit int) ([]*domain.Connection, error)
	FailingConnections(ctx context.Context, envID int64, limit int) ([]*domain.Connection, error)
	ConnectionSchedule(ctx context.Context, pk int64) (*time.Time, error)
	WebhookCounts(ctx context.Context, envID int64) (*domain.WebhookCounts, error)
	ConnectionDeliveries(ctx context.Context, envID int64, connectionID string, limit int) ([]*domain.OutboxMessage, error)
}

// Options configure the console.
type Options struct {
	Keys         *secretkeys.Service
	Audit        *audit.Service
	Connections  *connections.Service
	Connect      *connect.Service
	Integrations *integrations.Service
	Lifecycle    *lifecycle.Scheduler
	Settings     *environment.Settings
	Deliveries   *webhook.Deliveries
	Store        Store
	Catalogue    *provider.Catalogue
	// PublicURL is latchkey's public base URL: connect links start with it,
	// a https one makes the session cookie Secure, and its origin is one a
	// form may be posted from.
	PublicURL string
	// CheckInterval is the health checks' interval (for "next check").
	CheckInterval time.Duration
	Clock         clock.Clock
	Logger        *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (for throttling failed sign-ins and the audit trail's addresses).
	TrustedProxies []netip.Prefix
	Version        string
}

// Console is the prepared console.
type Console struct {
	o       Options
	clock   clock.Clock
	log     *slog.Logger
	pages   map[string]*template.Template
	assets  *httpx.Assets
	limiter *throttle.Throttle
	origin  string // of PublicURL
	secure  bool   // PublicURL is https
}

// Prefix is where the console lives.
const Prefix = "/admin"

// New prepares the console: a broken template fails the start, not a request.
func New(o Options) (*Console, error) {
	c := &Console{o: o, clock: clock.Or(o.Clock), log: o.Logger, pages: map[string]*template.Template{}}
	c.limiter = throttle.New(signInBurst, signInRefill, c.clock.Now, o.TrustedProxies)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	c.o.PublicURL = o.PublicURL
	if u, err := url.Parse(o.PublicURL); err == nil && u.Host != "" {
		c.origin = u.Scheme + "://" + u.Host
		c.secure = u.Scheme == "https"
	}
	var err error
	if c.assets, err = httpx.LoadAssets(staticFS, "static", Prefix+"/assets"); err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(c.funcs()).ParseFS(templateFS, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	if err := c.selfCheck(); err != nil {
		return nil, err
	}
	return c, nil
}

// Router is where the console's routes are registered.
type Router interface {
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// Mount adds the console's routes.
func (c *Console) Mount(mux Router) {
	mux.HandleFunc("GET "+Prefix+"/assets/{file}", c.assets.ServeHTTP)
	mux.HandleFunc("GET "+Prefix+"/sign-in", c.signInPage)
	mux.HandleFunc("POST "+Prefix+"/sign-in", c.signIn)
	mux.HandleFunc("POST "+Prefix+"/sign-out", c.action(c.signOut))

	mux.HandleFunc("GET "+Prefix, c.page(c.overview))
	mux.HandleFunc("GET "+Prefix+"/{$}", c.page(c.overview))
	mux.HandleFunc("GET "+Prefix+"/connections", c.page(c.connectionsPage))
	mux.HandleFunc("GET "+Prefix+"/connection", c.page(c.connectionPage))
	mux.HandleFunc("POST "+Prefix+"/connection/check", c.action(c.checkConnection))
	mux.HandleFunc("POST "+Prefix+"/connection/reconnect-link", c.action(c.reconnectLink))
	mux.HandleFunc("GET "+Prefix+"/connection/delete", c.page(c.confirmDelete))
	mux.HandleFunc("POST "+Prefix+"/connection/delete", c.action(c.deleteConnection))
	mux.HandleFunc("GET "+Prefix+"/integrations", c.page(c.integrationsPage))
	mux.HandleFunc("POST "+Prefix+"/integrations", c.action(c.createIntegration))
	mux.HandleFunc("GET "+Prefix+"/integration", c.page(c.integrationPage))
	mux.HandleFunc("POST "+Prefix+"/integration", c.action(c.renameIntegration))
	mux.HandleFunc("GET "+Prefix+"/connect-links", c.page(c.linksPage))
	mux.HandleFunc("POST "+Prefix+"/connect-links", c.action(c.createLink))
	mux.HandleFunc("GET "+Prefix+"/webhooks", c.page(c.webhooksPage))
	mux.HandleFunc("GET "+Prefix+"/webhooks/{id}", c.page(c.deliveryPage))
	mux.HandleFunc("POST "+Prefix+"/webhooks/{id}/retry", c.action(c.retryDelivery))
	mux.HandleFunc("GET "+Prefix+"/environment", c.page(c.environmentPage))
	mux.HandleFunc("POST "+Prefix+"/environment/keys", c.action(c.createKey))
	mux.HandleFunc("GET "+Prefix+"/environment/keys/revoke", c.page(c.confirmRevoke))
	mux.HandleFunc("POST "+Prefix+"/environment/keys/revoke", c.action(c.revokeKey))
	mux.HandleFunc("GET "+Prefix+"/environment/signing-key", c.page(c.confirmRotate))
	mux.HandleFunc("POST "+Prefix+"/environment/signing-key", c.action(c.rotateSigningKey))
	mux.HandleFunc("GET "+Prefix+"/audit", c.page(c.auditPage))
	mux.HandleFunc(Prefix+"/", c.page(func(q *request) error {
		return domain.NotFound("not_found", "There is no such page in the console.")
	}))
}

// request is one request to a page or an action of a signed-in operator.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	sess  *domain.ConsoleSession
	env   *domain.Environment
	token string // the session's token, from its cookie (the CSRF token derives from it)
}

type handler func(q *request) error

// view is what every page's template gets.
type view struct {
	Title   string
	Nav     string
	Nonce   string
	CSRF    string
	Signed  bool
	Env     string
	KeyID   int64
	Flash   string
	Error   string
	Fields  []domain.FieldError
	Version string
	Idle    string
	Data    any
}

// render writes page with the status; q may have no session (sign-in and
// error pages before signing in).
func (c *Console) render(w http.ResponseWriter, q *request, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.log.Error("console: no template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v.Nonce = newNonce()
	v.Version = c.o.Version
	v.Idle = durationText(IdleTimeout)
	if q != nil && q.sess != nil {
		v.Signed, v.Env, v.KeyID, v.CSRF = true, q.env.Name, q.sess.SecretKeyID, csrfToken(q.token)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+v.Nonce+"'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// same-origin, not no-referrer: browsers send Origin: null on a POST
	// under no-referrer, and the console checks Origin.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// statusOf is the HTTP status of an error shown on a console page.
var statusOf = map[domain.Kind]int{
	domain.KindInvalid:             http.StatusBadRequest,
	domain.KindUnauthenticated:     http.StatusUnauthorized,
	domain.KindNotFound:            http.StatusNotFound,
	domain.KindConflict:            http.StatusConflict,
	domain.KindTooLarge:            http.StatusRequestEntityTooLarge,
	domain.KindRateLimited:         http.StatusTooManyRequests,
	domain.KindUpstreamUnavailable: http.StatusBadGateway,
	domain.KindUpstreamTimeout:     http.StatusGatewayTimeout,
	domain.KindUnavailable:         http.StatusServiceUnavailable,
}

// fail shows err on an error page: a *domain.Error's message as it is,
// anything else as a bare internal error (the details go to the log).
func (c *Console) fail(q *request, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong in latchkey; the details are in its log."
	if e, ok := domain.AsError(err); ok {
		if s, ok := statusOf[e.Kind]; ok {
			status, msg = s, e.Message
			if e.RetryAfter > 0 {
				q.w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds()+0.999)))
			}
		}
	} else if errors.Is(err, domain.ErrUnavailable) {
		status, msg = http.StatusServiceUnavailable, "latchkey's database does not answer. Try again in a moment."
	}
	if status == http.StatusInternalServerError || status == http.StatusServiceUnavailable {
		c.log.Error("console: request failed", "path", q.r.URL.Path, "err", err)
	}
	c.render(q.w, q, status, "error", view{Title: http.StatusText(status), Error: msg, Data: status})
}

// selfCheck renders every page once with empty data, so that a template
// error fails the start.
func (c *Console) selfCheck() error {
	for name, t := range c.pages {
		if err := t.ExecuteTemplate(&bytes.Buffer{}, "layout", view{Data: sample(name)}); err != nil {
			return fmt.Errorf("console template %s: %w", name, err)
		}
	}
	return nil
}

func durationText(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int(d/time.Minute), "minute")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
