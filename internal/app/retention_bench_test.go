package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// BenchmarkRetention fills the operation log with 2 million entries past
// their retention (BENCH_RETENTION_EVENTS changes the count), beside 10,000
// connections, then purges them with the retention job while imports
// (POST /connections) run at concurrency 8, and reports:
//
//   - the database's size: the floor (the connections alone), full, and after
//     the purge (SQLite: file and log; PostgreSQL: latchkey's tables);
//   - p50 and p99 of the imports without a purge (a 10 s window before it
//     and one after it) and while the purge runs, and their rates;
//   - how long the purge took.
//
// Run it once: go test ./internal/app -run XXX -bench Retention -benchtime 1x -timeout 60m
func BenchmarkRetention(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchRetention(b, newHarness(b)) })
	if os.Getenv("LATCHKEY_TEST_DATABASE_URL") != "" {
		b.Run("postgres", func(b *testing.B) { benchRetention(b, newHarness(b, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(b))) })
	}
}

func benchRetention(b *testing.B, h *harness) {
	total := 2_000_000
	if v := os.Getenv("BENCH_RETENTION_EVENTS"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	st := h.app.Store()
	h.integration("jira", atlassian)
	h.seedBulk("jira", 10_000)
	size := func() float64 {
		b.Helper()
		if _, err := st.Reclaim(ctx, 1024); err != nil { // nothing to cut yet: checkpoints the log
			b.Fatal(err)
		}
		n, err := st.Size(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return float64(n) / (1 << 20)
	}
	floor := size()
	env, _ := st.EnvironmentByName(ctx, "dev")
	old := h.now().Add(-60 * 24 * time.Hour)
	fillStart := time.Now()
	const perTx = 20_000
	batch := make([]*domain.Event, 0, perTx)
	for i := range total {
		batch = append(batch, &domain.Event{EnvironmentID: env.ID, IntegrationKey: "jira", ConnectionID: fmt.Sprintf("bulk-%07d", i%10_000),
			Kind: "proxy", Outcome: "success", Code: "200", Message: "GET /ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/myself", At: old.Add(time.Duration(i) * time.Millisecond)})
		if len(batch) == perTx || i == total-1 {
			if err := st.InsertEvents(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if st.Dialect() == "postgres" {
		st.DB().ExecContext(ctx, `VACUUM ANALYZE events`)
	}
	filled := time.Since(fillStart)
	full := size()

	srv := httptest.NewServer(h.app.Handler())
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var seq atomic.Int64
	// imports runs POST /connections at concurrency 8 until stop closes and
	// returns each one's latency.
	imports := func(stop <-chan struct{}) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Appendf(nil, `{"provider_config_key":"jira","connection_id":"import-%d","credentials":{"type":"BASIC","username":%q,"password":%q},"connection_config":{"cloudId":%q}}`,
						seq.Add(1), atlassiansim.DemoEmail, atlassiansim.DemoToken, atlassiansim.DemoCloudID)
					req, _ := http.NewRequest(http.MethodPost, srv.URL+"/connections", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+testSecretKey)
					req.Header.Set("Content-Type", "application/json")
					t := time.Now()
					res, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					d := time.Since(t)
					if res.StatusCode != http.StatusCreated {
						b.Errorf("import: %d", res.StatusCode)
						return
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return lat
	}
	window := 10 * time.Second
	stop := make(chan struct{})
	time.AfterFunc(window, func() { close(stop) })
	base := imports(stop)

	stop = make(chan struct{})
	purgeStart := time.Now()
	var purged int64
	go func() {
		defer close(stop)
		res, ran, err := h.app.Retention().RunOnce(ctx)
		if err != nil || !ran {
			b.Errorf("retention: %v %v", ran, err)
		}
		purged = res.Events
	}()
	during := imports(stop)
	purgeTook := time.Since(purgeStart)
	if purged != int64(total) {
		b.Fatalf("purged %d events, want %d", purged, total)
	}
	// Another window without the purge, after it: the machine's load changes
	// over minutes, so the figure to compare with is a range.
	stop = make(chan struct{})
	time.AfterFunc(window, func() { close(stop) })
	baseAfter := imports(stop)
	after := size()
	compact := 0.0
	if st.Dialect() == "sqlite" {
		// The same rows packed as tight as SQLite packs them: a copy made by VACUUM INTO.
		p := filepath.Join(b.TempDir(), "compact.db")
		if err := st.Backup(ctx, p); err != nil {
			b.Fatal(err)
		}
		fi, _ := os.Stat(p)
		compact = float64(fi.Size()) / (1 << 20)
	}
	pct := func(l []time.Duration, q float64) float64 {
		if len(l) == 0 {
			return 0
		}
		s := slices.Clone(l)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(floor, "floor-MiB")
	b.ReportMetric(full, "full-MiB")
	b.ReportMetric(after, "after-MiB")
	b.ReportMetric(pct(base, 0.99), "p99-before-ms")
	b.ReportMetric(pct(baseAfter, 0.99), "p99-after-ms")
	b.ReportMetric(pct(during, 0.99), "p99-during-ms")
	b.Logf("%s: %d events written in %s; purged in %s (%d imports meanwhile)", st.Dialect(), total, filled.Round(time.Second), purgeTook.Round(100*time.Millisecond), len(during))
	b.Logf("size: floor (10,000 connections) %.1f MiB, with the events %.1f MiB, after the purge %.1f MiB (the same rows compacted by VACUUM INTO: %.1f MiB)", floor, full, after, compact)
	b.Logf("imports before the purge: %d in %s, %.0f/s, p50 %.2f ms, p99 %.2f ms", len(base), window, float64(len(base))/window.Seconds(), pct(base, 0.5), pct(base, 0.99))
	b.Logf("imports during the purge: %d in %s, %.0f/s, p50 %.2f ms, p99 %.2f ms", len(during), purgeTook.Round(100*time.Millisecond), float64(len(during))/purgeTook.Seconds(), pct(during, 0.5), pct(during, 0.99))
	b.Logf("imports after the purge:  %d in %s, %.0f/s, p50 %.2f ms, p99 %.2f ms", len(baseAfter), window, float64(len(baseAfter))/window.Seconds(), pct(baseAfter, 0.5), pct(baseAfter, 0.99))
}
