package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestProxySeriesByIntegrationAndStatus(t *testing.T) {
	m := New()
	m.Proxy("jira", 200, "", 3*time.Millisecond)
	m.Proxy("jira", 200, "", 40*time.Millisecond)
	m.Proxy("jira", 0, "upstream_timeout", 2*time.Second)
	m.Proxy("confluence", 503, "", time.Millisecond)
	m.ProxyRetry("jira", 429)
	m.ProxyRetry("jira", 0)
	out := scrape(t, m)
	for _, want := range []string{
		`latchkey_proxy_requests_total{integration="jira",status="200"} 2`,
		`latchkey_proxy_requests_total{integration="jira",status="upstream_timeout"} 1`,
		`latchkey_proxy_requests_total{integration="confluence",status="503"} 1`,
		`latchkey_proxy_request_duration_seconds_bucket{integration="jira",status="200",le="0.005"} 1`,
		`latchkey_proxy_request_duration_seconds_bucket{integration="jira",status="200",le="0.05"} 2`,
		`latchkey_proxy_request_duration_seconds_count{integration="jira",status="upstream_timeout"} 1`,
		`latchkey_proxy_retries_total{integration="jira",status="429"} 1`,
		`latchkey_proxy_retries_total{integration="jira",status="0"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// Once an (integration, status) pair has been seen, recording a call
// allocates nothing: the proxy is a hot path.
func TestProxyRecordingDoesNotAllocate(t *testing.T) {
	m := New()
	integration := strings.Repeat("j", 4) // not a constant: a real key comes from a request
	m.Proxy(integration, 200, "", time.Millisecond)
	m.ProxyRetry(integration, 429)
	if n := testing.AllocsPerRun(1000, func() {
		m.Proxy(integration, 200, "", time.Millisecond)
		m.ProxyRetry(integration, 429)
	}); n != 0 {
		t.Errorf("%.1f allocations per recorded call", n)
	}
}

func TestHealthChecksStartAtZero(t *testing.T) {
	m := New()
	m.HealthCheck("invalid_credentials")
	out := scrape(t, m)
	for _, s := range HealthCheckStatuses {
		want := `latchkey_health_checks_total{status="` + s + `"} 0`
		if s == "invalid_credentials" {
			want = `latchkey_health_checks_total{status="invalid_credentials"} 1`
		}
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

func TestWebhookQueueGauges(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var answer func(ctx context.Context) (int64, time.Time, error)
	m := New()
	m.WebhookQueueGauges(func(ctx context.Context) (int64, time.Time, error) { return answer(ctx) }, 50*time.Millisecond, func() time.Time { return now })

	answer = func(context.Context) (int64, time.Time, error) { return 7, now.Add(-90 * time.Second), nil }
	out := scrape(t, m)
	for _, want := range []string{"latchkey_webhook_queue_up 1", "latchkey_webhook_queue_depth 7", "latchkey_webhook_oldest_pending_age_seconds 90"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s:\n%s", want, out)
		}
	}
	answer = func(context.Context) (int64, time.Time, error) { return 0, time.Time{}, nil }
	if out := scrape(t, m); !strings.Contains(out, "latchkey_webhook_oldest_pending_age_seconds 0\n") {
		t.Errorf("an empty queue has an age: %s", out)
	}
	// A read that outlives its time limit: the scrape goes on without the
	// gauges and says the queue could not be read.
	answer = func(ctx context.Context) (int64, time.Time, error) {
		<-ctx.Done()
		return 0, time.Time{}, ctx.Err()
	}
	out = scrape(t, m)
	if !strings.Contains(out, "latchkey_webhook_queue_up 0\n") || strings.Contains(out, "latchkey_webhook_queue_depth") {
		t.Errorf("a timed-out read: %s", out)
	}
	answer = func(context.Context) (int64, time.Time, error) { return 0, time.Time{}, errors.New("database away") }
	if out := scrape(t, m); !strings.Contains(out, "latchkey_webhook_queue_up 0\n") || !strings.Contains(out, "go_goroutines") {
		t.Errorf("a failed read: %s", out)
	}
}

func TestRuntimeProcessAndBuildInfo(t *testing.T) {
	m := New()
	m.BuildInfo("1.2.3", "abc123", "go1.26")
	m.CounterFunc("latchkey_oplog_dropped_total", "drops", func() float64 { return 3 })
	out := scrape(t, m)
	for _, want := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "process_cpu_seconds_total ", "process_resident_memory_bytes ",
		`latchkey_build_info{go_version="go1.26",revision="abc123",version="1.2.3"} 1`, "latchkey_oplog_dropped_total 3",
		"latchkey_change_notices_failed_total 0", "latchkey_change_notices_received_total 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

// BenchmarkProxyRecord is the cost one proxied call pays for its metrics:
// one counter and one histogram, found with one map read, from many goroutines.
func BenchmarkProxyRecord(b *testing.B) {
	m := New()
	integrations := []string{"jira", "confluence", "bitbucket", "trello"}
	for _, in := range integrations {
		m.Proxy(in, 200, "", time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Proxy(integrations[i&3], 200, "", 12*time.Millisecond)
			i++
		}
	})
}
