// Package proxy forwards a backend's calls to a provider's API on behalf of a
// connection: it resolves the connection, builds the URL (never leaving the
// provider's origin and base path), injects the credentials, streams both
// bodies, and retries rate limits as the provider's headers say.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// Resolver finds a connection (with decrypted credentials) and its provider.
type Resolver interface {
	ProxyTarget(ctx context.Context, envID int64, integrationKey, connectionID string) (*domain.Connection, *provider.Provider, error)
}

// Refresher replaces an OAUTH2_CC connection's access token that the
// provider refused, returning the connection with another token.
type Refresher interface {
	RefreshToken(ctx context.Context, envID int64, integrationKey, connectionID, stale string) (*domain.Connection, *provider.Provider, error)
}

// EventSink receives one operation-log entry per proxied call. It must not block.
type EventSink func(*domain.Event)

// Options configure the proxy.
type Options struct {
	Resolver Resolver
	// Refresher, when set, is asked for a new token once when the provider
	// answers 401 to a call made with an OAUTH2_CC token.
	Refresher Refresher
	// Transport reaches providers (rewrites applied); a tuned shared transport.
	Transport http.RoundTripper
	// AllowedOrigins may be named by Base-Url-Override.
	AllowedOrigins []string
	// MaxRetryWait is the longest single wait accepted before a retry.
	MaxRetryWait time.Duration
	// Metrics records each call and retry (internal/metrics); nil records nothing.
	Metrics Recorder
	Events  EventSink
	Logger  *slog.Logger
	// Clock tells the time and waits between attempts; tests inject one.
	Clock clock.Clock
}

// Recorder counts proxied calls. It is called once per call (and once per
// retry) on the request path, so it must be cheap.
type Recorder interface {
	// Proxy records a finished call: the provider's final status, or 0 and
	// the code of why there was no answer; d includes retries.
	Proxy(integration string, status int, code string, d time.Duration)
	// ProxyRetry records a retry caused by status (0: a network error).
	ProxyRetry(integration string, status int)
}

type noRecorder struct{}

func (noRecorder) Proxy(string, int, string, time.Duration) {}
func (noRecorder) ProxyRetry(string, int)                   {}

// Proxy is the /proxy handler.
type Proxy struct {
	o  Options
	rp *httputil.ReverseProxy
}

// maxReplayBody is the largest request body kept in memory so it can be sent
// again on a retry; larger bodies stream through and are never retried.
const maxReplayBody = 1 << 20

// New builds the proxy.
func New(o Options) *Proxy {
	o.Clock = clock.Or(o.Clock)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = noRecorder{}
	}
	p := &Proxy{o: o}
	p.rp = &httputil.ReverseProxy{
		Rewrite:   func(*httputil.ProxyRequest) {}, // the request is fully built before ServeHTTP
		Transport: &retryTransport{p: p},
		// 0: a response of unknown length (chunked, event streams) is flushed as
		// it arrives; a sized one goes out through the writer's buffer, which is
		// still streaming but spares a write per chunk.
		FlushInterval: 0,
		ErrorHandler:  p.upstreamError,
		ErrorLog:      slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	return p
}

// call is the per-request state shared with the retry transport.
type call struct {
	integration string
	attempts    int
	maxAttempts int
	replayable  bool
	statuses    func(int) bool
	retryAt     []string
	retryAfter  []string
	lastStatus  int
	// err is why no answer came from the provider (set by the reverse
	// proxy's error handler, before anything is written).
	err *domain.Error
	// refresh, for an OAUTH2_CC connection, gets the headers of a new token
	// after a 401 (once per call); nil otherwise.
	refresh   func(ctx context.Context) (http.Header, error)
	refreshed bool
}

type callKey struct{}

var retryOnRE = regexp.MustCompile(`^\d{3}(,\d{3})*$`)

// hop-by-hop and latchkey's own headers are never forwarded; the caller's
// headers reach the provider only as Nango-Proxy-<Name>, plus a few end-to-end
// entity and conditional headers a caller must be able to send.
var passThrough = []string{"Content-Type", "Content-Encoding", "Accept", "Accept-Encoding", "Accept-Language", "If-Match", "If-None-Match",
	"If-Modified-Since", "If-Unmodified-Since"}

// Serve handles /proxy/{endpoint...} for the environment envID. It streams
// the provider's answer; when there is none to stream (a refused call, an
// unreachable or silent provider) it writes nothing and returns the error.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, envID int64) error {
	start := time.Now()
	c, out, err := p.prepare(r, envID)
	if err != nil {
		return err
	}
	rec := &httpx.StatusRecorder{ResponseWriter: w}
	p.rp.ServeHTTP(rec, out.WithContext(context.WithValue(out.Context(), callKey{}, c)))
	elapsed := time.Since(start)
	status, code := rec.Status, ""
	if c.err != nil {
		status, code = 0, c.err.Code
	}
	p.o.Metrics.Proxy(c.integration, status, code, elapsed)
	if p.o.Events != nil {
		result := code
		if c.err == nil {
			result = strconv.Itoa(status)
		}
		outcome := "success"
		if c.err != nil || rec.Status >= 400 {
			outcome = "failure"
		}
		p.o.Events(&domain.Event{EnvironmentID: envID, IntegrationKey: c.integration, ConnectionID: r.Header.Get("Connection-Id"), Kind: "proxy",
			Outcome: outcome, Code: result,
			Message: fmt.Sprintf("%s %s → %s in %s (%d attempt%s)", r.Method, out.URL.Path, result, elapsed.Round(time.Millisecond), c.attempts, plural(c.attempts)),
			At:      p.o.Clock.Now()})
	}
	if c.err != nil {
		return c.err
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func bad(code, msg string, path ...string) *domain.Error {
	e := domain.Invalid(code, msg)
	if len(path) > 0 {
		e.Fields = []domain.FieldError{{Code: "invalid", Message: msg, Path: path}}
	}
	return e
}

// prepare validates the call and builds the outgoing request.
func (p *Proxy) prepare(r *http.Request, envID int64) (*call, *http.Request, error) {
	h := r.Header
	connID, key := h.Get("Connection-Id"), h.Get("Provider-Config-Key")
	if connID == "" || key == "" {
		var errs []domain.FieldError
		for _, n := range []string{"Connection-Id", "Provider-Config-Key"} {
			if h.Get(n) == "" {
				errs = append(errs, domain.FieldError{Code: "invalid_type", Message: n + " is required.", Path: []string{strings.ToLower(n)}})
			}
		}
		return nil, nil, domain.Invalid("invalid_headers", "The Connection-Id and Provider-Config-Key headers are required.", errs...)
	}
	for name, v := range map[string]string{"Connection-Id": connID, "Provider-Config-Key": key} {
		if len(v) > 255 || !utf8.ValidString(v) {
			return nil, nil, bad("invalid_headers", name+" must be valid UTF-8 of at most 255 bytes.", strings.ToLower(name))
		}
	}
	retries := 0
	if v := h.Get("Retries"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			return nil, nil, bad("invalid_headers", "Retries must be a whole number from 0 to 10.", "retries")
		}
		retries = n
	}
	var extra []int
	if v := h.Get("Retry-On"); v != "" {
		if !retryOnRE.MatchString(v) {
			return nil, nil, bad("invalid_headers", "Retry-On must be a comma-separated list of status codes, e.g. 429,503.", "retry-on")
		}
		for _, s := range strings.Split(v, ",") {
			n, _ := strconv.Atoi(s)
			extra = append(extra, n)
		}
	}
	conn, prov, err := p.o.Resolver.ProxyTarget(r.Context(), envID, key, connID)
	if err != nil {
		return nil, nil, err
	}
	vars := provider.Vars{ConnectionConfig: conn.ConnectionConfig, Credentials: provider.CredentialVars(conn.Credentials)}
	override := h.Get("Base-Url-Override")
	if override != "" && !p.originAllowed(override) {
		return nil, nil, domain.Invalid("base_url_override_not_allowed", "Base-Url-Override must name an origin listed in LATCHKEY_PROXY_ALLOWED_ORIGINS.")
	}
	if override == "" && (prov.Proxy == nil || prov.Proxy.BaseURL == "") {
		return nil, nil, bad("unsupported_provider", fmt.Sprintf("Provider %s has no proxy base URL.", prov.Name))
	}
	base, err := prov.ResolveBaseURL(override, vars)
	if err != nil {
		return nil, nil, urlProblem(err)
	}
	endpoint := strings.TrimPrefix(r.URL.EscapedPath(), "/proxy")
	if r.URL.RawQuery != "" {
		endpoint += "?" + r.URL.RawQuery
	}
	target, err := provider.JoinEndpoint(base, endpoint)
	if err != nil {
		return nil, nil, urlProblem(err)
	}
	if prov.Proxy != nil && len(prov.Proxy.Query) > 0 {
		q := target.Query()
		for k, tmpl := range prov.Proxy.Query {
			if v, err := provider.Interpolate(tmpl, vars, nil); err == nil {
				q.Set(k, v)
			}
		}
		target.RawQuery = q.Encode()
	}
	auth, err := prov.AuthHeaders(conn.Credentials, vars)
	if err != nil {
		return nil, nil, urlProblem(err)
	}

	out := r.Clone(r.Context())
	out.URL = target
	out.Host = ""
	out.RequestURI = ""
	out.Header = http.Header{}
	for _, n := range passThrough {
		if v := h.Values(n); len(v) > 0 {
			out.Header[n] = v
		}
	}
	for k, v := range auth {
		out.Header[k] = v
	}
	for name, vs := range h {
		if rest, ok := strings.CutPrefix(name, "Nango-Proxy-"); ok && rest != "" {
			out.Header[http.CanonicalHeaderKey(rest)] = vs
		}
	}
	out.Header.Set("User-Agent", "latchkey")
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		out.Body, out.ContentLength = http.NoBody, 0
	}
	c := &call{integration: key, maxAttempts: retries + 1, replayable: true, statuses: defaultRetryable(prov, extra)}
	if conn.Credentials.Type == domain.AuthModeOAuth2CC && p.o.Refresher != nil {
		stale := conn.Credentials.Token
		c.refresh = func(ctx context.Context) (http.Header, error) {
			fresh, fp, err := p.o.Refresher.RefreshToken(ctx, envID, key, connID, stale)
			if err != nil {
				return nil, err
			}
			return fp.AuthHeaders(fresh.Credentials, provider.Vars{ConnectionConfig: fresh.ConnectionConfig, Credentials: provider.CredentialVars(fresh.Credentials)})
		}
	}
	if prov.Proxy != nil && prov.Proxy.Retry != nil {
		c.retryAt, c.retryAfter = prov.Proxy.Retry.At, prov.Proxy.Retry.After
	}
	if (retries > 0 || c.refresh != nil) && out.Body != nil && out.Body != http.NoBody {
		buf, err := io.ReadAll(io.LimitReader(out.Body, maxReplayBody+1))
		if err != nil {
			return nil, nil, bad("invalid_body", "The request body could not be read.")
		}
		if len(buf) <= maxReplayBody {
			out.Body = io.NopCloser(bytes.NewReader(buf))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
			out.ContentLength = int64(len(buf))
		} else {
			out.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(buf), out.Body), out.Body}
			c.replayable = false
		}
	}
	return c, out, nil
}

func urlProblem(err error) *domain.Error {
	var ue *provider.UnresolvedError
	switch {
	case errors.As(err, &ue):
		return bad("missing_connection_config", "The provider's URL needs "+strings.Join(ue.Placeholders, ", ")+", which this connection does not have.")
	case errors.Is(err, provider.ErrUnsafeURL):
		return bad("invalid_endpoint", "The endpoint or a connection value would take the request outside the provider's API: "+err.Error()+".")
	}
	return bad("invalid_endpoint", err.Error())
}

func (p *Proxy) originAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	origin := u.Scheme + "://" + u.Host
	for _, o := range p.o.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// defaultRetryable is Nango's rule: 5xx and 429, plus Retry-On. (Nango also
// retries 401, which a token refresh can cure: latchkey refreshes an OAUTH2_CC
// token once on a 401 whatever Retries says, see retryTransport; BASIC and
// API_KEY credentials cannot change between attempts.)
func defaultRetryable(prov *provider.Provider, extra []int) func(int) bool {
	var spec string
	if prov.Proxy != nil && prov.Proxy.Retry != nil {
		spec = strings.Join(prov.Proxy.Retry.ErrorCode, ",")
	}
	return func(status int) bool {
		for _, e := range extra {
			if e == status {
				return true
			}
		}
		if spec != "" {
			return matchSpec(spec, status)
		}
		return status >= 500 || status == http.StatusTooManyRequests
	}
}

// matchSpec reads "5xx", "500-502", "403" (comma-separated).
func matchSpec(spec string, status int) bool {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case strings.HasSuffix(part, "xx") && len(part) == 3:
			if strconv.Itoa(status)[0] == part[0] {
				return true
			}
		case strings.Contains(part, "-"):
			lo, hi, _ := strings.Cut(part, "-")
			l, _ := strconv.Atoi(lo)
			h, _ := strconv.Atoi(hi)
			if status >= l && status <= h {
				return true
			}
		default:
			if n, _ := strconv.Atoi(part); n == status {
				return true
			}
		}
	}
	return false
}

// upstreamError keeps why the provider gave no answer; Serve returns it.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	c, _ := r.Context().Value(callKey{}).(*call)
	var e *domain.Error
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		e = domain.NewError(domain.KindCanceled, "canceled", "The caller went away.")
	case isTimeout(err):
		e = domain.NewError(domain.KindUpstreamTimeout, "upstream_timeout", "The provider did not answer in time.")
	default:
		e = domain.NewError(domain.KindUpstreamUnavailable, "upstream_unreachable", "The provider could not be reached: "+describe(err)+".")
	}
	if c == nil {
		// Not a call of ours (cannot happen: every request goes through Serve).
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	e.Payload = map[string]any{"attempts": c.attempts}
	c.err = e
	// Never the query string: a provider's proxy.query may put a credential there.
	p.o.Logger.Warn("proxy upstream error", "err", describe(err), "host", r.URL.Host, "path", r.URL.Path)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func describe(err error) string {
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return "its address could not be resolved"
	case errors.As(err, &op) && op.Op == "dial":
		return "the connection was refused"
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset") || errors.Is(err, io.EOF):
		return "the connection was closed before an answer"
	}
	return "the connection failed"
}
