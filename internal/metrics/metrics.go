// Package metrics is a small Prometheus text-format registry: counters and
// histograms with labels, safe for concurrent use, no dependencies.
package metrics

import (
	"fmt"
	"io"

	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds metrics in registration order.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
}

type metric interface {
	write(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Write writes every metric in the Prometheus text format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	ms := append([]metric(nil), r.metrics...)
	r.mu.Unlock()
	for _, m := range ms {
		m.write(w)
	}
}

func (r *Registry) add(m metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics = append(r.metrics, m)
}

// CounterVec is a counter per label-value tuple.
type CounterVec struct {
	name, help string
	labels     []string
	values     sync.Map // key → *atomic.Uint64
}

// Counter registers a counter with label names.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{name: name, help: help, labels: labels}
	r.add(c)
	return c
}

// Add increments the counter of the label values by n.
func (c *CounterVec) Add(n uint64, values ...string) {
	k := key(values)
	v, ok := c.values.Load(k)
	if !ok {
		v, _ = c.values.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(n)
}

// Inc adds one.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

// Value reads a counter (for tests).
func (c *CounterVec) Value(values ...string) uint64 {
	if v, ok := c.values.Load(key(values)); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

func (c *CounterVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	for _, k := range sortedKeys(&c.values) {
		v, _ := c.values.Load(k)
		fmt.Fprintf(w, "%s%s %d\n", c.name, labelText(c.labels, k, "", ""), v.(*atomic.Uint64).Load())
	}
}

// HistogramVec is a histogram of durations per label-value tuple.
type HistogramVec struct {
	name, help string
	labels     []string
	buckets    []float64
	values     sync.Map // key → *histogram
}

type histogram struct {
	mu     sync.Mutex
	counts []uint64
	sum    float64
	count  uint64
}

// DefaultBuckets suit request durations in seconds.
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Histogram registers a histogram.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	h := &HistogramVec{name: name, help: help, labels: labels, buckets: buckets}
	r.add(h)
	return h
}

// Observe records one duration.
func (h *HistogramVec) Observe(d time.Duration, values ...string) {
	k := key(values)
	v, ok := h.values.Load(k)
	if !ok {
		v, _ = h.values.LoadOrStore(k, &histogram{counts: make([]uint64, len(h.buckets))})
	}
	hist := v.(*histogram)
	s := d.Seconds()
	hist.mu.Lock()
	for i, b := range h.buckets {
		if s <= b {
			hist.counts[i]++
		}
	}
	hist.sum += s
	hist.count++
	hist.mu.Unlock()
}

func (h *HistogramVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	for _, k := range sortedKeys(&h.values) {
		v, _ := h.values.Load(k)
		hist := v.(*histogram)
		hist.mu.Lock()
		for i, b := range h.buckets {
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelText(h.labels, k, "le", strconv.FormatFloat(b, 'g', -1, 64)), hist.counts[i])
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelText(h.labels, k, "le", "+Inf"), hist.count)
		fmt.Fprintf(w, "%s_sum%s %s\n", h.name, labelText(h.labels, k, "", ""), strconv.FormatFloat(hist.sum, 'g', -1, 64))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, labelText(h.labels, k, "", ""), hist.count)
		hist.mu.Unlock()
	}
}

const sep = "\xff"

func key(values []string) string { return strings.Join(values, sep) }

func sortedKeys(m *sync.Map) []string {
	var ks []string
	m.Range(func(k, _ any) bool { ks = append(ks, k.(string)); return true })
	sort.Strings(ks)
	return ks
}

func labelText(names []string, k, extraName, extraValue string) string {
	var parts []string
	if len(names) > 0 {
		vals := strings.Split(k, sep)
		for i, n := range names {
			v := ""
			if i < len(vals) {
				v = vals[i]
			}
			parts = append(parts, n+`="`+escape(v)+`"`)
		}
	}
	if extraName != "" {
		parts = append(parts, extraName+`="`+extraValue+`"`)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
