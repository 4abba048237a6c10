// Package metrics is every metric latchkey exports, on one Prometheus registry
// (github.com/prometheus/client_golang): the Go runtime and the process, the
// database pools, the webhook queue, the operation log, health checks, token
// fetches, the proxy and change notices between instances.
//
// Services never see the registry: the wiring (internal/app) hands them the
// small recording functions below (Proxy, HealthCheck, TokenFetch, …), so the
// metric names and labels are written once, here. docs/metrics.md lists them.
package metrics

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Metrics holds the registry and latchkey's own metrics.
type Metrics struct {
	reg *prometheus.Registry

	proxyRequests *prometheus.CounterVec
	proxyRetries  *prometheus.CounterVec
	proxyDuration *prometheus.HistogramVec
	healthChecks  *prometheus.CounterVec
	tokenFetches  *prometheus.CounterVec
	noticesFailed prometheus.Counter
	noticesRecvd  prometheus.Counter
	purged        *prometheus.CounterVec
	reclaimed     prometheus.Counter

	// proxy holds the children of each (integration, status) the proxy has
	// seen, so that a call finds its counter and histogram with one map read
	// and no lock: the map is replaced, never changed, when a new pair comes.
	proxy   atomic.Pointer[map[proxyKey]*proxySeries]
	retry   atomic.Pointer[map[proxyKey]prometheus.Counter]
	proxyMu sync.Mutex
}

// DurationBuckets are the proxy latency histogram's upper bounds in seconds:
// from a cached loopback answer (1 ms) to a provider at the 60 s timeout.
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// New builds the registry with the Go runtime and process collectors and
// latchkey's counters and histograms.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.proxyRequests = m.counterVec("latchkey_proxy_requests_total", "Proxied calls by integration and final status: the provider's HTTP status, or why there was no answer (upstream_unreachable, upstream_timeout, canceled).", "integration", "status")
	m.proxyRetries = m.counterVec("latchkey_proxy_retries_total", "Retries by integration and the status that caused them (0: network error).", "integration", "status")
	m.proxyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latchkey_proxy_request_duration_seconds",
		Help: "Proxied call durations, retries and their waits included, by integration and final status.", Buckets: DurationBuckets}, []string{"integration", "status"})
	m.reg.MustRegister(m.proxyDuration)
	m.healthChecks = m.counterVec("latchkey_health_checks_total", "Connection re-verifications (scheduled and on demand) by what they found: ok, scope_missing, invalid_credentials, expired, unreachable (no answer this time), error (not recorded).", "status")
	for _, s := range HealthCheckStatuses {
		m.healthChecks.WithLabelValues(s) // exported at 0 from the start, so rates see the first check
	}
	m.tokenFetches = m.counterVec("latchkey_token_fetches_total", "Access tokens fetched from providers (OAuth 2.0 client credentials) by integration and outcome (success, failure).", "integration", "outcome")
	m.noticesFailed = prometheus.NewCounter(prometheus.CounterOpts{Name: "latchkey_change_notices_failed_total",
		Help: "Change notices to other instances that could not be sent (they keep cached copies until those expire)."})
	m.noticesRecvd = prometheus.NewCounter(prometheus.CounterOpts{Name: "latchkey_change_notices_received_total",
		Help: "Change notices applied, from any instance (this one included)."})
	m.reg.MustRegister(m.noticesFailed, m.noticesRecvd)
	m.purged = m.counterVec("latchkey_retention_purged_total", "Rows deleted by the retention job because they were past their retention, by table: events, webhooks, connect_sessions, audit, console_sessions.", "table")
	for _, t := range RetentionTables {
		m.purged.WithLabelValues(t)
	}
	m.reclaimed = prometheus.NewCounter(prometheus.CounterOpts{Name: "latchkey_retention_reclaimed_bytes_total",
		Help: "Bytes the SQLite file (with its log) shrank by when the retention job gave purged space back."})
	m.reg.MustRegister(m.reclaimed)
	empty := map[proxyKey]*proxySeries{}
	m.proxy.Store(&empty)
	emptyRetry := map[proxyKey]prometheus.Counter{}
	m.retry.Store(&emptyRetry)
	return m
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(c)
	return c
}

// Registry is the registry, for collectors of other packages.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (gzipped when
// the scraper asks). It does not check who asks: httpapi does.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second})
}

// WriteText writes every metric in the Prometheus text format (tests, diagnostics).
func (m *Metrics) WriteText(w io.Writer) error {
	families, err := m.reg.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return err
}

// BuildInfo adds latchkey_build_info{version,revision,go_version} = 1.
func (m *Metrics) BuildInfo(version, revision, goVersion string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "latchkey_build_info", Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "go_version": goVersion}})
	g.Set(1)
	m.reg.MustRegister(g)
}

// DBPool adds database/sql's pool statistics (go_sql_*{db_name=name}).
func (m *Metrics) DBPool(name string, db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// CounterFunc adds a counter whose value f reads at scrape time (f must be
// cheap and safe for concurrent use), such as the operation log's drops.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// RetentionTables are the values of latchkey_retention_purged_total's table label.
var RetentionTables = []string{"events", "webhooks", "connect_sessions", "audit", "console_sessions"}

// RetentionPurged counts n rows of table deleted by the retention job.
func (m *Metrics) RetentionPurged(table string, n int64) {
	m.purged.WithLabelValues(table).Add(float64(n))
}

// RetentionReclaimed counts bytes given back to the file system.
func (m *Metrics) RetentionReclaimed(bytes int64) { m.reclaimed.Add(float64(bytes)) }

// ChangeNoticeFailed counts a change notice that could not be sent.
func (m *Metrics) ChangeNoticeFailed() { m.noticesFailed.Inc() }

// ChangeNoticeReceived counts a change notice applied.
func (m *Metrics) ChangeNoticeReceived() { m.noticesRecvd.Inc() }

// HealthCheckStatuses are the values of latchkey_health_checks_total's status label.
var HealthCheckStatuses = []string{"ok", "scope_missing", "invalid_credentials", "expired", "unreachable", "error"}

// HealthCheck counts one re-verification by what it found (see the help text).
func (m *Metrics) HealthCheck(status string) { m.healthChecks.WithLabelValues(status).Inc() }

// Token fetch outcomes.
const (
	TokenFetchSuccess = "success"
	TokenFetchFailure = "failure"
)

// TokenFetch counts one access-token fetch from a provider (OAuth 2.0 client
// credentials) for an integration; outcome is TokenFetchSuccess or TokenFetchFailure.
func (m *Metrics) TokenFetch(integration, outcome string) {
	m.tokenFetches.WithLabelValues(integration, outcome).Inc()
}

type proxyKey struct {
	integration string
	status      int    // the provider's HTTP status; 0 when there was none
	code        string // why there was none
}

type proxySeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// statusText holds "100" … "599" so that a first call with a status does not
// format it either.
var statusText = func() (s [600]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return
}()

func statusLabel(status int, code string) string {
	if status == 0 && code != "" {
		return code
	}
	if status > 0 && status < len(statusText) && statusText[status] != "" {
		return statusText[status]
	}
	return strconv.Itoa(status)
}

// Proxy records one proxied call: status is the provider's HTTP status, or 0
// with code saying why there was no answer; d is the whole call, retries
// included. One lock-free map read per call, no allocation once the
// (integration, status) pair has been seen.
func (m *Metrics) Proxy(integration string, status int, code string, d time.Duration) {
	k := proxyKey{integration, status, code}
	s := (*m.proxy.Load())[k]
	if s == nil {
		s = m.newProxySeries(k)
	}
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

func (m *Metrics) newProxySeries(k proxyKey) *proxySeries {
	m.proxyMu.Lock()
	defer m.proxyMu.Unlock()
	old := *m.proxy.Load()
	if s := old[k]; s != nil {
		return s
	}
	label := statusLabel(k.status, k.code)
	s := &proxySeries{requests: m.proxyRequests.WithLabelValues(k.integration, label), duration: m.proxyDuration.WithLabelValues(k.integration, label)}
	next := make(map[proxyKey]*proxySeries, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = s
	m.proxy.Store(&next)
	return s
}

// ProxyRetry counts one retry of a proxied call, caused by status (0: a network error).
func (m *Metrics) ProxyRetry(integration string, status int) {
	k := proxyKey{integration: integration, status: status}
	c := (*m.retry.Load())[k]
	if c == nil {
		m.proxyMu.Lock()
		old := *m.retry.Load()
		if c = old[k]; c == nil {
			label := "0"
			if status != 0 {
				label = statusLabel(status, "")
			}
			c = m.proxyRetries.WithLabelValues(integration, label)
			next := make(map[proxyKey]prometheus.Counter, len(old)+1)
			for kk, v := range old {
				next[kk] = v
			}
			next[k] = c
			m.retry.Store(&next)
		}
		m.proxyMu.Unlock()
	}
	c.Inc()
}

// WebhookQueue reads the outbox at scrape time: how many deliveries are
// pending (neither delivered nor abandoned) and when the oldest of them was
// queued (zero when none is).
type WebhookQueue func(ctx context.Context) (pending int64, oldest time.Time, err error)

// WebhookQueueGauges adds latchkey_webhook_queue_depth and
// latchkey_webhook_oldest_pending_age_seconds, read through q at each scrape
// with the given time limit, and latchkey_webhook_queue_up, 0 when the read
// failed or timed out (the other two are then left out of that scrape).
func (m *Metrics) WebhookQueueGauges(q WebhookQueue, timeout time.Duration, now func() time.Time) {
	m.reg.MustRegister(&queueCollector{q: q, timeout: timeout, now: now})
}

var (
	queueDepthDesc = prometheus.NewDesc("latchkey_webhook_queue_depth", "Webhook deliveries pending (queued or waiting for a retry), all environments.", nil, nil)
	queueAgeDesc   = prometheus.NewDesc("latchkey_webhook_oldest_pending_age_seconds", "Age of the oldest pending webhook delivery (0 when none is pending).", nil, nil)
	queueUpDesc    = prometheus.NewDesc("latchkey_webhook_queue_up", "1 when the webhook queue could be read for this scrape, else 0.", nil, nil)
)

type queueCollector struct {
	q       WebhookQueue
	timeout time.Duration
	now     func() time.Time
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
	ch <- queueUpDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	n, oldest, err := c.q(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, 0)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, c.now().Sub(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age)
}
