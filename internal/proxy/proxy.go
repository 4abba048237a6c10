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
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"weak"

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
	o      Options
	rp     *httputil.ReverseProxy
	routes routes
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
	p.routes.m = map[weak.Pointer[domain.Connection]]*route{}
	p.routes.forget = p.routes.drop
	p.rp = &httputil.ReverseProxy{
		Rewrite:   func(*httputil.ProxyRequest) {}, // the request is fully built before ServeHTTP
		Transport: &retryTransport{p: p},
		// 0: a response of unknown length (chunked, event streams) is flushed as
		// it arrives; a sized one goes out through the writer's buffer, which is
		// still streaming but spares a write per chunk.
		FlushInterval: 0,
		ErrorHandler:  p.upstreamError,
		ErrorLog:      slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
		// Without a pool every call allocates a 32 KB copy buffer.
		BufferPool: bufferPool{},
	}
	return p
}

// bufferPool lends the reverse proxy its copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (bufferPool) Get() []byte  { return buffers.Get().(*[32 << 10]byte)[:] }
func (bufferPool) Put(b []byte) { buffers.Put((*[32 << 10]byte)(b[:32<<10])) }

// call is the per-request state shared with the retry transport, allocated
// once per call (the status recorder included).
type call struct {
	rec          httpx.StatusRecorder
	integration  string
	connectionID string
	attempts     int
	maxAttempts  int
	replayable   bool
	// retryOn are the statuses Retry-On adds; retrySpec the provider's own
	// (proxy.retry.error_code), which replace Nango's default rule.
	retryOn    []int
	retrySpec  string
	retryAt    []string
	retryAfter []string
	lastStatus int
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
	c.rec.ResponseWriter = w
	p.rp.ServeHTTP(&c.rec, out)
	elapsed := time.Since(start)
	status, code := c.rec.Status, ""
	if c.err != nil {
		status, code = 0, c.err.Code
	}
	p.o.Metrics.Proxy(c.integration, status, code, elapsed)
	if p.o.Events != nil {
		result := code
		if c.err == nil {
			result = statusText(status)
		}
		outcome := "success"
		if c.err != nil || c.rec.Status >= 400 {
			outcome = "failure"
		}
		p.o.Events(&domain.Event{EnvironmentID: envID, IntegrationKey: c.integration, ConnectionID: c.connectionID, Kind: "proxy",
			Outcome: outcome, Code: result, Message: summary(r.Method, out.URL.Path, result, elapsed, c.attempts), At: p.o.Clock.Now()})
	}
	if c.err != nil {
		return c.err
	}
	return nil
}

// summary is an operation-log entry's message: "GET /rest/api/3/myself → 200
// in 12ms (1 attempt)", made in one allocation.
func summary(method, path, result string, elapsed time.Duration, attempts int) string {
	var arr [256]byte
	b := append(arr[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " → "...)
	b = append(b, result...)
	b = append(b, " in "...)
	b = appendMillis(b, elapsed)
	b = append(b, " ("...)
	b = strconv.AppendInt(b, int64(attempts), 10)
	b = append(b, " attempt"...)
	b = append(b, plural(attempts)...)
	b = append(b, ')')
	return string(b)
}

// appendMillis appends d rounded to the millisecond as Duration.String
// writes it ("0s", "12ms", "1.5s", "2m3.004s", "1h0m0s").
func appendMillis(b []byte, d time.Duration) []byte {
	d = d.Round(time.Millisecond)
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	switch {
	case d == 0:
		return append(b, "0s"...)
	case d < time.Second:
		return append(strconv.AppendInt(b, int64(d/time.Millisecond), 10), "ms"...)
	}
	if h := d / time.Hour; h > 0 {
		b = append(strconv.AppendInt(b, int64(h), 10), 'h')
	}
	if d >= time.Minute {
		b = append(strconv.AppendInt(b, int64(d%time.Hour/time.Minute), 10), 'm')
	}
	b = strconv.AppendInt(b, int64(d%time.Minute/time.Second), 10)
	if ms := int64(d % time.Second / time.Millisecond); ms > 0 {
		b = append(b, '.')
		digits := []byte{byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10)}
		for digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b = append(b, digits...)
	}
	return append(b, 's')
}

// statuses are the text of every status a provider may answer, made once.
var statuses = func() (s [600]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusText(status int) string {
	if status >= 100 && status < len(statuses) {
		return statuses[status]
	}
	return strconv.Itoa(status)
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
	if e := checkHeader("Connection-Id", connID); e != nil {
		return nil, nil, e
	}
	if e := checkHeader("Provider-Config-Key", key); e != nil {
		return nil, nil, e
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
	override := h.Get("Base-Url-Override")
	if override != "" && !p.originAllowed(override) {
		return nil, nil, domain.Invalid("base_url_override_not_allowed", "Base-Url-Override must name an origin listed in LATCHKEY_PROXY_ALLOWED_ORIGINS.")
	}
	var rt *route
	if override == "" {
		rt, err = p.routes.get(conn, prov)
	} else {
		rt, err = newRoute(conn, prov, override)
	}
	if err != nil {
		return nil, nil, err
	}
	target, err := provider.JoinRequestURL(rt.base, strings.TrimPrefix(r.URL.EscapedPath(), "/proxy"), r.URL.RawQuery)
	if err != nil {
		return nil, nil, urlProblem(err)
	}
	if rt.query != nil {
		q := target.Query()
		maps.Copy(q, rt.query)
		target.RawQuery = q.Encode()
	}
	if rt.authErr != nil {
		return nil, nil, rt.authErr
	}

	// The caller's headers stay behind but for a few; the route's are shared
	// (the reverse proxy sends a copy).
	header := make(http.Header, len(passThrough)+len(rt.auth)+2)
	for _, n := range passThrough {
		if v := h[n]; len(v) > 0 {
			header[n] = v
		}
	}
	maps.Copy(header, rt.auth)
	for name, vs := range h {
		if rest, ok := strings.CutPrefix(name, "Nango-Proxy-"); ok && rest != "" {
			header[http.CanonicalHeaderKey(rest)] = vs
		}
	}
	header["User-Agent"] = userAgent
	c := &call{integration: key, connectionID: connID, maxAttempts: retries + 1, replayable: true, retryOn: extra}
	if prov.Proxy != nil && prov.Proxy.Retry != nil {
		c.retrySpec = strings.Join(prov.Proxy.Retry.ErrorCode, ",")
		c.retryAt, c.retryAfter = prov.Proxy.Retry.At, prov.Proxy.Retry.After
	}
	// One shallow copy carries the call; the reverse proxy makes the deep one.
	out := r.WithContext(context.WithValue(r.Context(), callKey{}, c))
	out.URL = target
	out.Host = ""
	out.RequestURI = ""
	out.Header = header
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		out.Body, out.ContentLength = http.NoBody, 0
	}
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

var userAgent = []string{"latchkey"}

func checkHeader(name, v string) *domain.Error {
	if len(v) > 255 || !utf8.ValidString(v) {
		return bad("invalid_headers", name+" must be valid UTF-8 of at most 255 bytes.", strings.ToLower(name))
	}
	return nil
}

// route is what every call to one connection shares: the provider's base
// URL resolved with the connection's values, the provider's query
// parameters, and the headers that authenticate the call.
type route struct {
	prov  *provider.Provider
	base  *url.URL
	query url.Values // proxy.query, resolved; nil when there is none
	auth  http.Header
	// authErr is why the headers could not be made; it is the call's answer
	// once its endpoint is found valid.
	authErr *domain.Error
}

func newRoute(conn *domain.Connection, prov *provider.Provider, override string) (*route, error) {
	vars := provider.Vars{ConnectionConfig: conn.ConnectionConfig, Credentials: provider.CredentialVars(conn.Credentials)}
	if override == "" && (prov.Proxy == nil || prov.Proxy.BaseURL == "") {
		return nil, bad("unsupported_provider", fmt.Sprintf("Provider %s has no proxy base URL.", prov.Name))
	}
	base, err := prov.ResolveBaseURL(override, vars)
	if err != nil {
		return nil, urlProblem(err)
	}
	rt := &route{prov: prov, base: base}
	if prov.Proxy != nil && len(prov.Proxy.Query) > 0 {
		rt.query = url.Values{}
		for k, tmpl := range prov.Proxy.Query {
			if v, err := provider.Interpolate(tmpl, vars, nil); err == nil {
				rt.query.Set(k, v)
			}
		}
	}
	if rt.auth, err = prov.AuthHeaders(conn.Credentials, vars); err != nil {
		rt.authErr = urlProblem(err)
	}
	return rt, nil
}

// routes keeps each connection's route while the connection lives. The
// resolver hands out the same *domain.Connection for a connection until it
// changes (an edit, a renewed token: a new value), so the key is the value
// itself, held weakly: a route goes when its connection does.
type routes struct {
	mu     sync.RWMutex
	m      map[weak.Pointer[domain.Connection]]*route
	forget func(weak.Pointer[domain.Connection])
}

func (rs *routes) get(conn *domain.Connection, prov *provider.Provider) (*route, error) {
	k := weak.Make(conn)
	rs.mu.RLock()
	rt := rs.m[k]
	rs.mu.RUnlock()
	if rt != nil && rt.prov == prov {
		return rt, nil
	}
	rt, err := newRoute(conn, prov, "")
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	if _, known := rs.m[k]; !known {
		runtime.AddCleanup(conn, rs.forget, k)
	}
	rs.m[k] = rt
	rs.mu.Unlock()
	return rt, nil
}

func (rs *routes) drop(k weak.Pointer[domain.Connection]) {
	rs.mu.Lock()
	delete(rs.m, k)
	rs.mu.Unlock()
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

// retryable is Nango's rule: 5xx and 429, plus Retry-On. (Nango also
// retries 401, which a token refresh can cure: latchkey refreshes an OAUTH2_CC
// token once on a 401 whatever Retries says, see retryTransport; BASIC and
// API_KEY credentials cannot change between attempts.) A provider's own
// proxy.retry.error_code replaces the 5xx-and-429 part.
func (c *call) retryable(status int) bool {
	if slices.Contains(c.retryOn, status) {
		return true
	}
	if c.retrySpec != "" {
		return matchSpec(c.retrySpec, status)
	}
	return status >= 500 || status == http.StatusTooManyRequests
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
