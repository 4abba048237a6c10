// Package app wires latchkey together: config → logger → store → services →
// HTTP server, and shuts it all down gracefully.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/connectui"
	"github.com/latchkeyhq/latchkey/internal/console"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/environment"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/integrations"
	"github.com/latchkeyhq/latchkey/internal/keyrotation"
	"github.com/latchkeyhq/latchkey/internal/lifecycle"
	"github.com/latchkeyhq/latchkey/internal/metrics"
	"github.com/latchkeyhq/latchkey/internal/netguard"
	"github.com/latchkeyhq/latchkey/internal/oplog"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/proxy"
	"github.com/latchkeyhq/latchkey/internal/retention"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/secretkeys"
	"github.com/latchkeyhq/latchkey/internal/store"
	"github.com/latchkeyhq/latchkey/internal/upstream"
	"github.com/latchkeyhq/latchkey/internal/verify"
	"github.com/latchkeyhq/latchkey/internal/webhook"
)

// Version is set at build time with -ldflags "-X github.com/latchkeyhq/latchkey/internal/app.Version=…".
var Version = "dev"

// Commit is the source revision, set at build time with -ldflags
// "-X github.com/latchkeyhq/latchkey/internal/app.Commit=…" (a build outside a
// git checkout, such as a container's, has no other way to know it).
var Commit = ""

// Revision is the commit this binary was built from: Commit when set, else
// the revision the go command stamped from the git checkout (with "-dirty"
// when the tree had changes), else "unknown".
func Revision() string {
	if Commit != "" {
		return Commit
	}
	rev, dirty := "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// DefaultEnvironment is the environment latchkey creates on first start.
const DefaultEnvironment = "dev"

// App is a running latchkey minus its listener: tests mount Handler on httptest.
type App struct {
	cfg         *config.Config
	oplog       *oplog.Writer
	dispatcher  *webhook.Dispatcher
	settings    *environment.Settings
	network     *netguard.Policy
	lifecycle   *lifecycle.Scheduler
	retention   *retention.Job
	metrics     *metrics.Metrics
	log         *slog.Logger
	store       *store.Store
	keys        *secret.KeyRing
	connections *connections.Service
	keyService  *secretkeys.Service
	audit       *audit.Service
	handler     http.Handler
	// SecretKey is set when this start generated dev's secret key (printed once).
	GeneratedSecretKey string
}

// Deps lets tests replace parts (clock, HTTP transport).
type Deps struct {
	// Clock tells the time and waits (retries, rate limits); the system clock when nil.
	Clock     clock.Clock
	Transport http.RoundTripper
	// VerifyTimeout overrides the verification time limit.
	VerifyTimeout time.Duration
	// WebhookTimeout overrides the 20 s webhook delivery timeout.
	WebhookTimeout time.Duration
	// CheckRate overrides the health checks' per-upstream rate (checks per second).
	CheckRate float64
	// Resolver, when set, answers the host-name lookups of webhook URLs
	// (checking them and connecting to them) instead of the system resolver.
	Resolver netguard.Resolver
	// DialControl, when set, runs on every address latchkey is about to
	// connect to (providers, webhooks), before it connects: tests refuse all
	// but loopback with it.
	DialControl upstream.DialControl
}

// NewLogger builds the logger the config asks for, writing to w.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// New opens the database, migrates it, checks the encryption keys against the
// data, loads the catalogue and builds the HTTP handler.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, deps Deps) (a *App, err error) {
	st, err := OpenStore(ctx, cfg) // creates the SQLite file's directory; nothing else needs the data dir but a generated key
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	clk := clock.Or(deps.Clock)
	if deps.Clock != nil {
		st.SetClock(clk.Now)
	}
	if n, err := st.Migrate(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("database migrated", "applied", n, "dialect", st.Dialect())
	}
	if err := convertForReclaim(ctx, st, log); err != nil {
		return nil, err
	}
	ring, err := loadKeys(ctx, cfg, st, log)
	if err != nil {
		return nil, err
	}
	if err := keyrotation.Check(ctx, st, ring); err != nil {
		return nil, err
	}
	var extra [][]byte
	if cfg.ProvidersFile != "" {
		b, err := os.ReadFile(cfg.ProvidersFile)
		if err != nil {
			return nil, fmt.Errorf("LATCHKEY_PROVIDERS_FILE: %w", err)
		}
		extra = append(extra, b)
	}
	cat, err := provider.Load(cfg.PublicURL, extra...)
	if err != nil {
		return nil, fmt.Errorf("provider catalogue: %w", err)
	}
	rt := deps.Transport
	if rt == nil {
		rt = upstream.NewTransport(deps.DialControl)
	}
	verifiers := verify.New(verify.Options{Client: upstream.NewClient(rt, cfg.UpstreamRewrites, 0), Clock: clk, Logger: log, Timeout: deps.VerifyTimeout})
	if err := verifiers.Check(cat); err != nil {
		return nil, fmt.Errorf("provider catalogue: %w", err)
	}
	logCatalogue(log, cat)
	a = &App{cfg: cfg, log: log, store: st, keys: ring}
	a.oplog = oplog.New(st, log)
	a.metrics = newMetrics(st, a.oplog, clk)
	st.OnNoticeFailed(a.metrics.ChangeNoticeFailed)
	a.keyService = secretkeys.New(secretkeys.Options{Store: st, Clock: clk, Logger: log, Broadcast: st.Announce, NoticeFailed: a.metrics.ChangeNoticeFailed})
	a.audit = audit.New(st, clk, log)
	whTimeout := deps.WebhookTimeout
	if whTimeout == 0 {
		whTimeout = 20 * time.Second
	}
	// Webhook URLs set through the API reach only what the network policy
	// allows; the one in LATCHKEY_WEBHOOK_URL is trusted (ensureDefaultEnvironment).
	a.network = &netguard.Policy{Allowed: cfg.WebhookAllowedNetworks, Resolve: deps.Resolver}
	webhookClient := func(t http.RoundTripper) *http.Client {
		return &http.Client{Timeout: whTimeout, Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	a.dispatcher = &webhook.Dispatcher{Store: st, Client: webhookClient(upstream.NewGuardedTransport(a.network, deps.DialControl)), TrustedClient: webhookClient(upstream.NewTransport(deps.DialControl)),
		Logger: log, Now: clk.Now, UserAgent: "latchkey/" + Version + " (+" + cfg.PublicURL + ")"}
	a.settings = &environment.Settings{Store: st, Keys: ring, Network: a.network, Trusted: a.dispatcher.Trusted}
	a.dispatcher.SigningKey = a.settings.SigningKey
	if err := a.ensureDefaultEnvironment(ctx); err != nil {
		return nil, err
	}
	for _, rw := range cfg.UpstreamRewrites {
		log.Warn("provider traffic is rewritten", "from", rw.From.String(), "to", rw.To.String())
	}
	a.connections = connections.New(connections.Options{Store: st, Catalogue: cat, Keys: ring, Verifiers: verifiers, Clock: clk, Logger: log,
		Events: a.oplog.Add, Announced: a.dispatcher.Wake, Broadcast: st.Announce,
		NoticeFailed: a.metrics.ChangeNoticeFailed, Network: a.network, TokenFetched: a.metrics.TokenFetch})
	sessions := connect.New(connect.Options{Store: st, Connections: a.connections, Clock: clk, SingleUse: cfg.ConnectSessionSingleUse})
	integs := integrations.New(st, cat, a.connections.ChangedAll)
	a.lifecycle = lifecycle.New(lifecycle.Options{Store: st, Checker: a.connections, Logger: log, Clock: clk,
		Interval: cfg.VerifyInterval, RatePerUpstream: deps.CheckRate, Wake: a.dispatcher.Wake, Checked: a.metrics.HealthCheck})
	a.retention = retention.New(retention.Options{Store: st, Clock: clk, Logger: log, Holder: newInstanceID(),
		EventRetention: cfg.EventRetention, WebhookRetention: cfg.WebhookRetention, ConsoleIdle: console.IdleTimeout,
		Purged: a.metrics.RetentionPurged, Reclaimed: a.metrics.RetentionReclaimed})
	proxyTransport := upstream.NewTransport(deps.DialControl)
	proxyTransport.ResponseHeaderTimeout = cfg.ProxyTimeout
	var prt http.RoundTripper = proxyTransport
	if deps.Transport != nil {
		prt = deps.Transport
	}
	px := proxy.New(proxy.Options{Resolver: a.connections, Refresher: a.connections, Transport: upstream.WithRewrites(prt, cfg.UpstreamRewrites), AllowedOrigins: cfg.ProxyAllowedOrigins,
		MaxRetryWait: cfg.ProxyMaxRetryWait, Metrics: a.metrics, Events: a.oplog.Add, Logger: log, Clock: clk})
	ui, err := connectui.New(connectui.Options{Catalogue: cat, FrameAncestors: cfg.ConnectFrameAncestors, PrimaryColor: cfg.ConnectPrimaryColor, Logger: log})
	if err != nil {
		return nil, err
	}
	deliveries := &webhook.Deliveries{Store: st, Wake: a.dispatcher.Wake}
	con, err := console.New(console.Options{Keys: a.keyService, Audit: a.audit, Connections: a.connections, Connect: sessions, Integrations: integs,
		Lifecycle: a.lifecycle, Settings: a.settings, Deliveries: deliveries, Store: st, Catalogue: cat, PublicURL: cfg.PublicURL, CheckInterval: cfg.VerifyInterval,
		Clock: clk, Logger: log, Version: Version, TrustedProxies: cfg.TrustedProxies})
	if err != nil {
		return nil, err
	}
	a.handler = httpapi.New(httpapi.Options{Connect: sessions, Connections: a.connections, Integrations: integs, Catalogue: cat, Environments: st, Keys: a.keyService, Audit: a.audit,
		Logger: log, PublicURL: cfg.PublicURL, Version: Version,
		PrimaryColor: cfg.ConnectPrimaryColor, TrustedProxies: cfg.TrustedProxies, Now: clk.Now, Extra: func(r httpapi.Router) { ui.Mount(r); con.Mount(r) }, CookiePrefix: console.Prefix, Proxy: px,
		Environment: a.settings, Deliveries: deliveries, Lifecycle: a.lifecycle,
		Metrics: a.metrics.Handler(), MetricsAccess: httpapi.MetricsAccess{Token: cfg.MetricsToken.Reveal(), Networks: cfg.MetricsAllowedNetworks}})
	return a, nil
}

// Handler is the HTTP handler of the whole server.
func (a *App) Handler() http.Handler { return a.handler }

// Store exposes the store (for CLI commands and tests).
func (a *App) Store() *store.Store { return a.store }

// Close flushes the operation log and releases the database.
func (a *App) Close() error {
	if a.oplog != nil {
		a.oplog.Close()
	}
	return a.store.Close()
}

// Metrics exposes the metrics (for tests, and for services wired later:
// TokenFetch counts OAuth 2.0 token fetches).
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// newMetrics builds the registry with what is read at scrape time: the
// database pools, the operation log's drops and the webhook queue.
func newMetrics(st *store.Store, ol *oplog.Writer, clk clock.Clock) *metrics.Metrics {
	m := metrics.New()
	m.BuildInfo(Version, Revision(), runtime.Version())
	for name, db := range st.Pools() {
		m.DBPool(name, db)
	}
	m.CounterFunc("latchkey_oplog_dropped_total", "Operation-log entries dropped because the write buffer was full (the database was too slow or away).",
		func() float64 { return float64(ol.Dropped()) })
	m.WebhookQueueGauges(st.WebhookQueue, 2*time.Second, clk.Now)
	return m
}

// OpenStore opens the database the config names (SQLite file or PostgreSQL).
func OpenStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	if path := cfg.SQLitePath(); path != "" {
		return store.OpenSQLite(ctx, path)
	}
	return store.OpenPostgres(ctx, cfg.DatabaseURL, store.PostgresOptions{MaxConns: cfg.DatabaseMaxConns,
		ConnectTimeout: cfg.DatabaseConnectTimeout, StatementTimeout: cfg.DatabaseStatementTimeout})
}

func loadKeys(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) (*secret.KeyRing, error) {
	ring, err := keyrotation.Ring(cfg.EncryptionKeys, cfg.KeyFile())
	if !errors.Is(err, os.ErrNotExist) {
		return ring, err
	}
	file := cfg.KeyFile()
	// No key anywhere. Generate one only for a database that holds nothing
	// sealed: otherwise the key was lost or misplaced, and a new file would
	// only be in the way.
	if id, err := keyrotation.SealedWith(ctx, st); err != nil {
		return nil, err
	} else if id != "" {
		return nil, fmt.Errorf("no encryption key: LATCHKEY_ENCRYPTION_KEY is not set and %s does not exist, but this database holds data encrypted with key id %s. "+
			"Start latchkey with that key (LATCHKEY_ENCRYPTION_KEY, or put the key file back)", file, id)
	}
	k, err := secret.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	if err := os.WriteFile(file, []byte(secret.EncodeKey(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write encryption key file: %w", err)
	}
	log.Info("generated an encryption key; back it up, the data cannot be read without it", "file", file, "key_id", secret.KeyID(k))
	return secret.NewKeyRing(k)
}

func (a *App) ensureDefaultEnvironment(ctx context.Context) error {
	var env *domain.Environment
	var err error
	if a.cfg.SecretKey != "" {
		// The operator chose the key: create dev with it, or move dev to it.
		env, _, err = a.store.EnsureEnvironment(ctx, DefaultEnvironment, secret.HashToken(a.cfg.SecretKey.Reveal()))
	} else {
		// Generate a key only when dev does not exist yet; it is shown once, by
		// the instance whose key was stored.
		var generated string
		var created bool
		env, created, err = a.store.EnsureEnvironmentIfMissing(ctx, DefaultEnvironment, func() (string, error) {
			k, err := secret.RandomToken("sk_" + DefaultEnvironment + "_")
			generated = k
			return secret.HashToken(k), err
		})
		if created {
			a.GeneratedSecretKey = generated
		}
	}
	if err != nil {
		return err
	}
	if a.cfg.SecretKey != "" {
		// The configured key was added, or was there already; a revoked one
		// stays revoked.
		if _, _, err := a.store.SecretKeyByDigest(ctx, secret.HashToken(a.cfg.SecretKey.Reveal())); err != nil {
			if !errors.Is(err, domain.ErrNotFound) {
				return err
			}
			a.log.Warn("LATCHKEY_SECRET_KEY was revoked: it authenticates nothing. Sign in with another key of the environment, or set a new LATCHKEY_SECRET_KEY", "environment", DefaultEnvironment)
		}
	}
	// LATCHKEY_WEBHOOK_URL, when set, is dev's primary URL; otherwise the URL set
	// through the CLI or the API stays.
	if u := a.cfg.WebhookURL; u != "" {
		a.dispatcher.Trust(env.ID, u)
		if u != env.WebhookURL {
			if err := a.store.SetEnvironmentWebhooks(ctx, env.ID, u, env.WebhookSecondaryURL); err != nil {
				return err
			}
		}
	}
	return a.settings.EnsureSigningKey(ctx, env, a.cfg.WebhookSigningKey.Reveal())
}

// Lifecycle is the health-check scheduler (tests run it step by step).
func (a *App) Lifecycle() *lifecycle.Scheduler { return a.lifecycle }

// Connections is the connections service (tests use it to seal credentials).
func (a *App) Connections() *connections.Service { return a.connections }

// FlushEvents writes the operation-log entries queued so far (tests read them).
func (a *App) FlushEvents() { a.oplog.Flush() }

// WebhookNetwork is the policy webhook URLs set through the API must pass
// (environment URLs and per-connection overrides).
func (a *App) WebhookNetwork() *netguard.Policy { return a.network }

// Webhooks is the outbox dispatcher (tests run it step by step).
func (a *App) Webhooks() *webhook.Dispatcher { return a.dispatcher }

// EnvironmentSettings manages environments' webhook URLs and signing keys.
func (a *App) EnvironmentSettings() *environment.Settings { return a.settings }

// Serve listens on cfg.Addr until ctx ends, then shuts down gracefully. ready,
// when not nil, is called with the bound address once connections are accepted.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("LATCHKEY_ADDR %s: %w", a.cfg.Addr, err)
	}
	return a.ServeListener(ctx, ln, ready)
}

// ServeListener is Serve on a listener the caller opened (before New, so that
// a busy port stops the start before anything is created); it closes ln.
func (a *App) ServeListener(ctx context.Context, ln net.Listener, ready func(addr string)) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // proxied uploads may be large
		WriteTimeout:      0,               // streamed downloads; handlers bound their own work
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	if addr := a.cfg.PprofAddr; addr != "" {
		stopProfiler, err := a.serveProfiler(addr)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopProfiler()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// Background work stops after the requests in flight, and Serve returns
	// only once it has: the caller may close the store right after.
	bg, stopBG := context.WithCancel(context.Background())
	var background sync.WaitGroup
	defer func() {
		stopBG()
		background.Wait()
	}()
	background.Go(func() { a.dispatcher.Run(bg, time.Second) })
	background.Go(func() { a.retention.Run(bg, retentionEvery) })
	background.Go(func() { a.lifecycle.Run(bg, time.Minute) })
	if st := a.store; st.Dialect() == "postgres" {
		background.Go(func() {
			st.Follow(bg, a.cfg.DatabaseURL, func(payload string) {
				if !st.Invalidate(payload) && !a.keyService.Invalidate(payload) {
					a.connections.Invalidate(payload)
				}
				a.metrics.ChangeNoticeReceived()
			}, func() {
				st.ResetCache()
				a.keyService.ResetCache()
				a.connections.ResetCache()
			}, a.log)
		})
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// serveProfiler serves Go's profiler (net/http/pprof) on a listener of its
// own (LATCHKEY_PPROF_ADDR), never on the public one; it returns what stops it.
func (a *App) serveProfiler(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("LATCHKEY_PPROF_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	go func() { _ = srv.Serve(ln) }()
	a.log.Info("profiler listening", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	return func() { _ = srv.Close() }, nil
}

// convertForReclaim converts a SQLite file made by a latchkey older than the
// retention job, once, so the job can give purged space back to the file
// system. It runs before anything is served: the VACUUM holds every writer.
func convertForReclaim(ctx context.Context, st *store.Store, log *slog.Logger) error {
	old, err := st.NeedsVacuumConversion(ctx)
	if err != nil || !old {
		return err
	}
	size, _ := st.Size(ctx)
	log.Info("converting the SQLite file for the retention job (once; it rewrites the file, needs as much free disk, and writes wait until it ends)",
		"size_bytes", size)
	start := time.Now()
	if err := st.ConvertForReclaim(ctx); err != nil {
		return err
	}
	after, _ := st.Size(ctx)
	log.Info("SQLite file converted", "took", time.Since(start).Round(time.Millisecond).String(), "size_bytes", after)
	return nil
}

// newInstanceID names an App in cluster-wide leases: host and a random part,
// so two instances in one process (tests) are two holders too.
func newInstanceID() string {
	k, _ := secret.RandomToken("")
	h, _ := os.Hostname()
	return h + "/" + k[:12]
}

// retentionEvery is how often the retention job runs.
const retentionEvery = 5 * time.Minute

// Retention is the retention job: it purges what is past its retention and
// gives the space back, once across all instances (tests run it step by step).
func (a *App) Retention() *retention.Job { return a.retention }

// logCatalogue says at start which entries latchkey cannot serve (one line
// with the count per reason, the names at debug level) and which it serves
// with notes.
func logCatalogue(log *slog.Logger, cat *provider.Catalogue) {
	reports := cat.Reports()
	if len(reports) == 0 {
		return
	}
	byReason := map[string][]string{}
	noted := 0
	for _, r := range reports {
		if r.Unsupported != "" {
			byReason[r.Unsupported] = append(byReason[r.Unsupported], r.Name)
		}
		if len(r.Notes) > 0 {
			noted++
			log.Debug("provider served with notes", "provider", r.Name, "notes", strings.Join(r.Notes, "; "))
		}
	}
	unsupported := 0
	for reason, names := range byReason {
		unsupported += len(names)
		log.Debug("providers not supported", "reason", reason, "providers", strings.Join(names, ","))
	}
	log.Info("provider catalogue loaded", "providers", len(cat.All()), "unsupported", unsupported, "with_notes", noted,
		"hint", "GET /providers marks each entry latchkey cannot serve, with the reason")
}
