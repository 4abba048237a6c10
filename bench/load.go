package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// op is one unit of work (a request, or a whole flow); worker and seq make
// names unique. It returns an error for anything but the expected answer.
type op func(ctx context.Context, hc *http.Client, worker int) error

// probe reads one process's (or group of processes') cumulative CPU time.
type probe struct {
	name string
	cpu  func() time.Duration
}

// cell is one measurement: one target, one concurrency, one round.
type cell struct {
	scenario string
	backend  string // sqlite, postgres, or "" for the floor
	variant  string // floor or latchkey for the proxy; the page for listing
	c        int
	round    int

	n, errs  int
	firstErr string
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      map[string]time.Duration // per probe name, over the window
	allocs   uint64                   // the target's heap allocations over the window
	bytes    uint64
	hasAlloc bool
	counted  int64 // what measurement.count counted over the window
	hasCount bool
}

func (c *cell) rps() float64 {
	if c.elapsed <= 0 {
		return 0
	}
	return float64(c.n) / c.elapsed.Seconds()
}

// cpuPer is a probe's CPU time per operation.
func (c *cell) cpuPer(name string) (time.Duration, bool) {
	d, ok := c.cpu[name]
	if !ok || c.n == 0 {
		return 0, false
	}
	return d / time.Duration(c.n), true
}

// measurement is what measure needs besides the operation.
type measurement struct {
	c          int
	warm, dur  time.Duration
	probes     []probe
	allocsFrom *child // whose allocation counters to read, if any
	// count reads a cumulative counter of the server's other work (the checks
	// scenario: health checks done), if any.
	count func() (int64, error)
}

// measure runs do from m.c workers: first for m.warm (connections open, caches
// fill), then for m.dur, the measured window. Workers never pause between the
// two, so the window sees the steady state. Counters are read just before and
// just after the window; operations count when they complete inside it. The
// window lasts until at least one operation has completed in it, however slow
// (a listing page, a loaded machine), so no cell is empty.
func measure(ctx context.Context, cl *cell, m measurement, do op) {
	tr := &http.Transport{MaxIdleConns: 2 * m.c, MaxIdleConnsPerHost: 2 * m.c, IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	const (
		warming = iota
		measuring
		done
	)
	var phase atomic.Int32
	first := make(chan struct{}) // closed when an operation completes in the window
	var firstOnce sync.Once
	type worker struct {
		lat      []time.Duration
		errs     int
		firstErr error
	}
	workers := make([]worker, m.c)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &workers[i]
			w.lat = make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				if phase.Load() == done {
					return
				}
				t := time.Now()
				err := do(ctx, hc, i)
				el := time.Since(t)
				if phase.Load() != measuring {
					continue
				}
				firstOnce.Do(func() { close(first) })
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					continue
				}
				w.lat = append(w.lat, el)
			}
		}()
	}
	pause(ctx, m.warm)
	before := snapshot(m)
	t0 := time.Now()
	phase.Store(measuring)
	pause(ctx, m.dur)
	select {
	case <-first:
	case <-ctx.Done():
	}
	after := snapshot(m)
	phase.Store(done)
	cl.elapsed = time.Since(t0)
	wg.Wait()

	var lat []time.Duration
	for _, w := range workers {
		lat = append(lat, w.lat...)
		cl.errs += w.errs
		if w.firstErr != nil && cl.firstErr == "" {
			cl.firstErr = w.firstErr.Error()
		}
	}
	slices.Sort(lat)
	cl.n = len(lat)
	if len(lat) > 0 {
		cl.p50, cl.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	cl.cpu = map[string]time.Duration{}
	for name, v := range after.cpu {
		cl.cpu[name] = v - before.cpu[name]
	}
	if before.countOK && after.countOK {
		cl.hasCount, cl.counted = true, after.count-before.count
	}
	if before.statsOK && after.statsOK {
		cl.hasAlloc = true
		cl.allocs, cl.bytes = after.stats.Allocs-before.stats.Allocs, after.stats.Bytes-before.stats.Bytes
	}
	if cl.errs > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s %s %s c=%d: %d errors, the first: %s\n", cl.scenario, cl.backend, cl.variant, cl.c, cl.errs, cl.firstErr)
	}
}

type snap struct {
	cpu     map[string]time.Duration
	stats   runtimeStats
	statsOK bool
	count   int64
	countOK bool
}

func snapshot(m measurement) snap {
	s := snap{cpu: map[string]time.Duration{}}
	for _, p := range m.probes {
		s.cpu[p.name] = p.cpu()
	}
	if m.allocsFrom != nil {
		st, err := m.allocsFrom.stats()
		s.stats, s.statsOK = st, err == nil
	}
	if m.count != nil {
		n, err := m.count()
		s.count, s.countOK = n, err == nil
	}
	return s
}

// pause waits d (the bench's own clock, not synchronisation), or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// get is an op that GETs url with header and expects status want.
func get(url string, header http.Header, want int) op {
	return func(ctx context.Context, hc *http.Client, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header = header
		return send(hc, req, want)
	}
}

// send does req and reads the whole answer; a status other than want is an error.
func send(hc *http.Client, req *http.Request, want int) error {
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, res.StatusCode, want, b)
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

// selfCPU is the bench's own CPU time (the load generator).
func selfCPU() time.Duration { return procCPU(os.Getpid()) }
