// Package httpapi serves latchkey's JSON API: the Nango-compatible routes and
// latchkey's own additions. Handlers return errors; writeError maps them to JSON.
package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/environment"
	"github.com/latchkeyhq/latchkey/internal/integrations"
	"github.com/latchkeyhq/latchkey/internal/lifecycle"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/proxy"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/secretkeys"
	"github.com/latchkeyhq/latchkey/internal/throttle"
	"github.com/latchkeyhq/latchkey/internal/webhook"
)

// Environments is the storage the API needs to authenticate callers.
type Environments interface {
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
	Ping(ctx context.Context) error
}

// Options configure the API.
type Options struct {
	Connect      *connect.Service
	Connections  *connections.Service
	Integrations *integrations.Service
	Catalogue    *provider.Catalogue
	Environments Environments
	// Keys authenticates secret keys, and creates and revokes them.
	Keys *secretkeys.Service
	// Audit records operator actions; nil records nothing.
	Audit     *audit.Service
	Logger    *slog.Logger
	PublicURL string
	Version   string
	// PrimaryColor is the Connect UI's accent colour (#rrggbb).
	PrimaryColor string
	// Proxy serves /proxy/…; nil leaves the route out.
	Proxy *proxy.Proxy
	// Metrics serves GET /metrics (the Prometheus text format) to the callers
	// MetricsAccess lets in; nil answers 404.
	Metrics       http.Handler
	MetricsAccess MetricsAccess
	// Environment reads and changes the caller's environment settings.
	Environment *environment.Settings
	// Deliveries shows and retries webhook deliveries.
	Deliveries *webhook.Deliveries
	// Lifecycle runs on-demand health checks.
	Lifecycle *lifecycle.Scheduler
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (for throttling failed authentications per client address).
	TrustedProxies []netip.Prefix
	// Now is the clock of the throttle; time.Now when nil.
	Now func() time.Time
	// Extra mounts more handlers (Connect UI, …) on the same router; they are
	// listed by Routes with access Public.
	Extra func(r Router)
	// CookiePrefix is where Extra serves pages that sign in with a cookie
	// (the console): no CORS headers there, so no other site's script may
	// read them.
	CookiePrefix string
}

// API is the HTTP handler.
type API struct {
	connect      *connect.Service
	connections  *connections.Service
	integrations *integrations.Service
	catalogue    *provider.Catalogue
	envs         Environments
	log          *slog.Logger
	publicURL    string
	version      string
	primaryColor string
	mux          *recordingMux
	proxyRoute   http.Handler // the /proxy/ route, which front serves without the router
	cookiePrefix string
	routeList    []Route
	proxy        *proxy.Proxy
	metrics      http.Handler
	metricsAuth  MetricsAccess
	settings     *environment.Settings
	deliveries   *webhook.Deliveries
	lifecycle    *lifecycle.Scheduler
	throttle     *throttle.Throttle
	keys         *secretkeys.Service
	audit        *audit.Service
}

// New builds the API and its middleware chain.
func New(o Options) *API {
	a := &API{connect: o.Connect, connections: o.Connections, integrations: o.Integrations, catalogue: o.Catalogue, envs: o.Environments, log: o.Logger, publicURL: strings.TrimRight(o.PublicURL, "/"), version: o.Version, primaryColor: o.PrimaryColor,
		proxy: o.Proxy, metrics: o.Metrics, metricsAuth: o.MetricsAccess, settings: o.Environment, deliveries: o.Deliveries, lifecycle: o.Lifecycle, keys: o.Keys, audit: o.Audit}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	a.throttle = throttle.New(failureBurst, failureRefill, now, o.TrustedProxies)
	if a.primaryColor == "" {
		a.primaryColor = "#0052CC"
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	mux := &recordingMux{ServeMux: http.NewServeMux()}
	a.routes(mux)
	if o.Extra != nil {
		o.Extra(mux)
	}
	a.routeList = mux.routes
	a.mux = mux
	a.cookiePrefix = o.CookiePrefix
	return a
}

// ServeHTTP implements http.Handler (middleware.go).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.front(w, r) }

// routes lists every route, top to bottom.
func (a *API) routes(mux *recordingMux) {
	a.route(mux, "GET /health", Public, a.health)
	a.route(mux, "GET /ready", Public, a.ready)

	a.route(mux, "POST /connect/sessions", SecretKey, a.createSession)
	a.route(mux, "POST /connect/sessions/reconnect", SecretKey, a.createReconnectSession)
	a.route(mux, "GET /connect/session", SessionToken, a.getSession)
	a.route(mux, "DELETE /connect/session", SessionToken, a.deleteSession)
	a.route(mux, "POST /connect/telemetry", Public, a.telemetry)

	a.route(mux, "POST /api-auth/basic/{providerConfigKey}", SessionTokenInQuery, a.submitBasic)
	a.route(mux, "POST /api-auth/api-key/{providerConfigKey}", SessionTokenInQuery, a.submitAPIKey)
	a.route(mux, "POST /oauth2/auth/{providerConfigKey}", SessionTokenInQuery, a.submitOAuth2CC)
	// Flows of auth modes latchkey does not serve yet: a clear error, never a 404.
	a.route(mux, "GET /oauth/connect/{providerConfigKey}", SessionTokenInQuery, a.submitUnsupported)
	a.route(mux, "POST /auth/{flow}/{providerConfigKey}", SessionTokenInQuery, a.submitUnsupported)

	a.route(mux, "GET /connections", SecretKey, a.listConnections)
	a.route(mux, "POST /connections", SecretKey, a.importConnection)
	a.route(mux, "POST /connections/metadata", SecretKey, a.setMetadata)
	a.route(mux, "PATCH /connections/metadata", SecretKey, a.updateMetadata)
	a.route(mux, "GET /connections/{connectionId...}", SecretKey, a.getConnection)
	a.route(mux, "GET /connections/{connectionId}/events", SecretKey, a.connectionEvents)
	if a.lifecycle != nil {
		a.route(mux, "POST /connections/{connectionId}/verify", SecretKey, a.verifyConnection)
	}
	a.route(mux, "POST /connections/{connectionId...}", SecretKey, a.postConnectionSubresource)
	a.route(mux, "PATCH /connections/{connectionId...}", SecretKey, a.patchConnection)
	a.route(mux, "DELETE /connections/{connectionId...}", SecretKey, a.deleteConnection)

	a.route(mux, "GET /integrations", SecretKeyOrSession, a.listIntegrations)
	a.route(mux, "POST /integrations", SecretKey, a.createIntegration)
	a.route(mux, "GET /integrations/{uniqueKey}", SecretKey, a.getIntegration)
	a.route(mux, "PATCH /integrations/{uniqueKey}", SecretKey, a.updateIntegration)
	a.route(mux, "DELETE /integrations/{uniqueKey}", SecretKey, a.deleteIntegration)

	a.route(mux, "GET /providers", SecretKeyOrSession, a.listProviders)
	a.route(mux, "GET /providers/{provider}", SecretKeyOrSession, a.getProvider)

	if a.proxy != nil {
		a.proxyRoute = a.route(mux, proxyPattern, SecretKey, func(w http.ResponseWriter, r *http.Request) error {
			return a.proxy.Serve(w, r, callerFrom(r).env.ID)
		})
	}
	a.route(mux, "GET /metrics", Public, a.serveMetrics)

	if a.settings != nil {
		a.route(mux, "GET /environment", SecretKey, a.getEnvironment)
		a.route(mux, "PATCH /environment", SecretKey, a.patchEnvironment)
		a.route(mux, "POST /environment/webhook-signing-key", SecretKey, a.rotateSigningKey)
	}
	if a.deliveries != nil {
		a.route(mux, "GET /webhooks/deliveries", SecretKey, a.listDeliveries)
		a.route(mux, "GET /webhooks/deliveries/{id}", SecretKey, a.getDelivery)
		a.route(mux, "POST /webhooks/deliveries/{id}/retry", SecretKey, a.retryDelivery)
	}
	a.route(mux, "GET /environment/secret-keys", SecretKey, a.listSecretKeys)
	a.route(mux, "POST /environment/secret-keys", SecretKey, a.createSecretKey)
	a.route(mux, "POST /environment/secret-keys/{id}/revoke", SecretKey, a.revokeSecretKey)
	a.route(mux, "GET /audit", SecretKey, a.listAudit)

	a.route(mux, "GET /images/template-logos/{file}", Public, a.logo)
	a.route(mux, "GET /openapi.yaml", Public, a.openAPI)
	a.route(mux, "GET /openapi.json", Public, a.openAPIJSON)
	a.route(mux, "GET /docs/api", Public, a.apiDocs)

	a.route(mux, "GET /{$}", Public, a.frontDoor)
	a.route(mux, "/", Public, func(w http.ResponseWriter, r *http.Request) error {
		return domain.NotFound("not_found", "There is no route "+r.Method+" "+r.URL.Path+".")
	})
}

func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": a.version})
	return nil
}

func (a *API) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.envs.Ping(ctx); err != nil {
		a.log.Warn("readiness check failed", "err", err)
		return &domain.Error{Kind: domain.KindUnavailable, Code: "database_unavailable", Message: "The database does not answer."}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	return nil
}

// MetricsAccess says who may read /metrics. With a token, the caller sends
// it as a bearer token; with networks, the caller's address (the TCP peer:
// a reverse proxy in front is the peer) is in one of them; with both, both
// hold. With neither, only loopback callers are answered.
type MetricsAccess struct {
	Token    string
	Networks []netip.Prefix
}

// loopbackOnly is who may read /metrics when nothing is configured.
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if a.metrics == nil {
		return domain.NotFound("not_found", "There is no route GET /metrics.")
	}
	nets := a.metricsAuth.Networks
	if len(nets) == 0 && a.metricsAuth.Token == "" {
		nets = loopbackOnly
	}
	if len(nets) > 0 && !fromNetworks(r, nets) {
		hint := "LATCHKEY_METRICS_ALLOWED_NETWORKS"
		if len(a.metricsAuth.Networks) == 0 {
			hint = "loopback only, as neither LATCHKEY_METRICS_TOKEN nor LATCHKEY_METRICS_ALLOWED_NETWORKS is set"
		}
		return domain.NewError(domain.KindForbidden, "metrics_forbidden", "/metrics does not answer this network ("+hint+").")
	}
	if want := a.metricsAuth.Token; want != "" {
		addr := a.throttle.Client(r)
		if wait, blocked := a.throttle.Wait(addr); blocked {
			return tooManyFailures(wait)
		}
		token, p := bearer(r)
		if p != nil {
			p.Message = "/metrics needs the metrics token: send Authorization: Bearer <LATCHKEY_METRICS_TOKEN>."
			return p
		}
		if subtle.ConstantTimeCompare([]byte(secret.HashToken(token)), []byte(secret.HashToken(want))) != 1 {
			a.throttle.Failed(addr)
			return domain.Unauthenticated("invalid_metrics_token", "The metrics token is not valid.")
		}
	}
	a.metrics.ServeHTTP(w, r)
	return nil
}

// fromNetworks reports whether the request's TCP peer is in one of nets.
func fromNetworks(r *http.Request, nets []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, n := range nets {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}
