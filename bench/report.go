package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report collects the cells and prints Markdown tables as scenarios finish.
type report struct {
	out    io.Writer
	cells  []*cell
	scales []*scaleResult
}

func (r *report) add(c *cell) { r.cells = append(r.cells, c) }

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.out, format, args...) }

// select returns the cells of scenario matching keep, by round.
func (r *report) pick(scenario string, keep func(*cell) bool) []*cell {
	var out []*cell
	for _, c := range r.cells {
		if c.scenario == scenario && keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// header describes the run and the machine.
func (r *report) header(ctx context.Context, b *bench) {
	r.printf("# latchkey benchmarks\n\n")
	r.printf("`go run ./bench %s` at %s, commit %s.\n\n", strings.Join(b.o.args, " "), time.Now().UTC().Format("2006-01-02 15:04 MST"), commit())
	r.printf("- Machine: %d CPUs (%s), %s RAM, Linux %s, %s %s/%s.\n", runtime.NumCPU(), cpuModel(), memTotal(), osRelease(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	r.printf("- Load average when the run started: %s (other work on the machine shares its CPUs with every process measured).\n", loadAvg())
	dbs := []string{}
	for _, db := range b.o.dbs {
		if db == "sqlite" {
			dbs = append(dbs, "SQLite (a file in a temporary directory)")
		} else {
			dbs = append(dbs, b.pg.version(ctx)+" on this machine, a database per latchkey")
		}
	}
	r.printf("- Backends: %s.\n", strings.Join(dbs, "; "))
	r.printf("- Every figure: %d interleaved rounds, each a %s warm-up and a %s window; median and (min–max) over the rounds. "+
		"CPU per operation is from /proc/<pid>/stat of each process (PostgreSQL: the backends connected to latchkey's database), "+
		"allocations from the server's runtime counters. Load generator, stand-in Atlassian, floor, latchkey and PostgreSQL all share the machine.\n\n",
		b.o.rounds, b.o.warm, b.o.dur)
}

// stat is the median and range of one figure over rounds.
type stat struct {
	med, min, max float64
	n             int
}

func statOf(vals []float64) stat {
	if len(vals) == 0 {
		return stat{}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med: med, min: s[0], max: s[len(s)-1], n: len(s)}
}

func (s stat) format(f func(float64) string) string {
	switch {
	case s.n == 0:
		return "–"
	case s.n == 1 || f(s.min) == f(s.max):
		return f(s.med)
	}
	lo, hi := f(s.min), f(s.max)
	if i, j := strings.LastIndexByte(lo, ' '), strings.LastIndexByte(hi, ' '); i > 0 && j > 0 && lo[i:] == hi[j:] {
		lo = lo[:i] // same unit: name it once
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.med), lo, hi)
}

// of gathers fn over cells, skipping cells for which it has no value.
func of(cells []*cell, fn func(*cell) (float64, bool)) stat {
	var vals []float64
	for _, c := range cells {
		if v, ok := fn(c); ok {
			vals = append(vals, v)
		}
	}
	return statOf(vals)
}

func rps(c *cell) (float64, bool) { return c.rps(), c.n > 0 }

func cpuOf(name string) func(*cell) (float64, bool) {
	return func(c *cell) (float64, bool) {
		d, ok := c.cpuPer(name)
		return float64(d), ok
	}
}

func allocsPer(c *cell) (float64, bool) {
	if !c.hasAlloc || c.n == 0 {
		return 0, false
	}
	return float64(c.allocs) / float64(c.n), true
}

func bytesPer(c *cell) (float64, bool) {
	if !c.hasAlloc || c.n == 0 {
		return 0, false
	}
	return float64(c.bytes) / float64(c.n), true
}

func p50(c *cell) (float64, bool) { return float64(c.p50), c.n > 0 }
func p99(c *cell) (float64, bool) { return float64(c.p99), c.n > 0 }

func errCount(cells []*cell) int {
	n := 0
	for _, c := range cells {
		n += c.errs
	}
	return n
}

// Number formats.
func fmtRate(v float64) string { return grouped(int64(math.Round(v))) }
func fmtCount(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return grouped(int64(math.Round(v)))
}
func fmtBytes(v float64) string { return grouped(int64(math.Round(v))) + " B" }
func fmtRatio(v float64) string { return fmt.Sprintf("%.2f×", v) }

func fmtDur(v float64) string {
	d := time.Duration(v)
	switch {
	case d < 100*time.Microsecond:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", v/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", v/1e6)
	}
	return fmt.Sprintf("%.2f s", v/1e9)
}

func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// mark says whether a median meets a target.
func mark(ok bool) string {
	if ok {
		return " ✓"
	}
	return " ✗"
}

func backends(b *bench) []string {
	var out []string
	for _, db := range b.o.dbs {
		if db == "sqlite" {
			out = append(out, "sqlite")
		} else {
			out = append(out, "postgres")
		}
	}
	return out
}

// proxyTables: latchkey against the floor, per backend and level; the ratios are
// taken round by round (floor and latchkey ran back to back) and then summarised.
func (r *report) proxyTables(b *bench) {
	r.printf("## Proxy: latchkey against the floor\n\n")
	r.printf("GET /myself of the stand-in Atlassian (about 350 bytes of JSON) through the floor (a bare `httputil.ReverseProxy` adding Basic auth) and through latchkey. " +
		"Targets: latchkey's CPU per call at most 1.3× the floor's at every level, throughput at least 0.85× the floor's at concurrency 16.\n\n")
	r.printf("| latchkey on | c | floor req/s | latchkey req/s | throughput ratio | floor CPU/call | latchkey CPU/call | CPU ratio | errors |\n|---|---|---|---|---|---|---|---|---|\n")
	type row struct {
		backend string
		c       int
		fl, lk  []*cell
	}
	var rows []row
	for _, be := range backends(b) {
		for _, c := range b.o.levels {
			rows = append(rows, row{be, c,
				r.pick("proxy", func(x *cell) bool { return x.variant == "floor" && x.c == c }),
				r.pick("proxy", func(x *cell) bool { return x.variant == "latchkey" && x.backend == be && x.c == c })})
		}
	}
	for _, w := range rows {
		var tput, cpu []float64
		for _, l := range w.lk {
			for _, f := range w.fl {
				if f.round != l.round || f.n == 0 || l.n == 0 {
					continue
				}
				tput = append(tput, l.rps()/f.rps())
				fc, _ := f.cpuPer("server")
				lc, _ := l.cpuPer("server")
				if fc > 0 {
					cpu = append(cpu, float64(lc)/float64(fc))
				}
			}
		}
		ts, cs := statOf(tput), statOf(cpu)
		tm := ""
		if w.c == 16 && ts.n > 0 {
			tm = mark(ts.med >= 0.85)
		}
		cm := ""
		if cs.n > 0 {
			cm = mark(cs.med <= 1.3)
		}
		r.printf("| %s | %d | %s | %s | %s%s | %s | %s | %s%s | %d |\n", w.backend, w.c, of(w.fl, rps).format(fmtRate), of(w.lk, rps).format(fmtRate),
			ts.format(fmtRatio), tm, of(w.fl, cpuOf("server")).format(fmtDur), of(w.lk, cpuOf("server")).format(fmtDur), cs.format(fmtRatio), cm,
			errCount(w.fl)+errCount(w.lk))
	}
	r.printf("\nLatency, allocations per call (the server process's runtime counters, background work included), and the CPU the other processes spent per latchkey call:\n\n")
	r.printf("| latchkey on | c | floor p50 | latchkey p50 | floor p99 | latchkey p99 | floor allocs/call | latchkey allocs/call | floor B/call | latchkey B/call | PostgreSQL CPU/call | upstream CPU/call | load generator CPU/call |\n")
	r.printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range rows {
		r.printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w.backend, w.c,
			of(w.fl, p50).format(fmtDur), of(w.lk, p50).format(fmtDur), of(w.fl, p99).format(fmtDur), of(w.lk, p99).format(fmtDur),
			of(w.fl, allocsPer).format(fmtCount), of(w.lk, allocsPer).format(fmtCount), of(w.fl, bytesPer).format(fmtBytes), of(w.lk, bytesPer).format(fmtBytes),
			of(w.lk, cpuOf("postgres")).format(fmtDur), of(w.lk, cpuOf("upstream")).format(fmtDur), of(w.lk, cpuOf("client")).format(fmtDur))
	}
	r.printf("\n")
}

// targets are the aims per scenario and backend, in operations per second.
var targets = map[string]map[string]float64{
	"reads":   {"sqlite": 10_000, "postgres": 5_000},
	"imports": {"sqlite": 1_500},
	"connect": {"sqlite": 800, "postgres": 500},
}

var apiTitles = map[string]string{
	"reads":   "## Credential reads: `GET /connections/{id}` with credentials\n\n",
	"imports": "## Imports: `POST /connections`\n\nEach a new connection (Basic credentials and Cloud ID, no verification), encrypted and saved.\n\n",
	"connect": "## Connect flows: `POST /connect/sessions`, then `POST /api-auth/basic/{integration}`\n\n" +
		"One operation is both requests: a session for a new end user, then the submission, which latchkey verifies against the stand-in Atlassian (one GET /myself) before it saves the connection.\n\n",
}

func (r *report) apiTable(b *bench, scenario string) {
	r.printf("%s", apiTitles[scenario])
	r.printf("| backend | c | ops/s | target | latchkey CPU/op | PostgreSQL CPU/op | upstream CPU/op | load generator CPU/op | allocs/op | B/op | p50 | p99 | errors |\n")
	r.printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, be := range backends(b) {
		cells := r.pick(scenario, func(x *cell) bool { return x.backend == be })
		if len(cells) == 0 {
			continue
		}
		s := of(cells, rps)
		target := "–"
		if t, ok := targets[scenario][be]; ok {
			target = "≥ " + fmtRate(t) + mark(s.med >= t)
		}
		r.printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", be, cells[0].c, s.format(fmtRate), target,
			of(cells, cpuOf("server")).format(fmtDur), of(cells, cpuOf("postgres")).format(fmtDur), of(cells, cpuOf("upstream")).format(fmtDur),
			of(cells, cpuOf("client")).format(fmtDur), of(cells, allocsPer).format(fmtCount), of(cells, bytesPer).format(fmtBytes),
			of(cells, p50).format(fmtDur), of(cells, p99).format(fmtDur), errCount(cells))
	}
	r.printf("\n")
}

func (r *report) listTable(b *bench) {
	r.printf("## Listing: `GET /connections?limit=%d&page=…` of %s connections\n\n", b.o.listLimit, grouped(int64(b.o.conns)))
	r.printf("One request at a time. Target: p50 at most 3 ms for any page on both backends.\n\n")
	r.printf("| backend | paging | page | p50 | p99 | req/s | latchkey CPU/req | PostgreSQL CPU/req | allocs/req | errors |\n|---|---|---|---|---|---|---|---|---|---|\n")
	seen := map[string]bool{}
	for _, c := range r.cells {
		key := c.backend + "/" + c.variant
		if c.scenario != "list" || seen[key] {
			continue
		}
		seen[key] = true
		cells := r.pick("list", func(x *cell) bool { return x.backend == c.backend && x.variant == c.variant })
		p := of(cells, p50)
		paging, name, _ := strings.Cut(c.variant, " ")
		r.printf("| %s | %s | %s | %s%s | %s | %s | %s | %s | %s | %d |\n", c.backend, paging, name, p.format(fmtDur), mark(p.n > 0 && p.med <= 3e6),
			of(cells, p99).format(fmtDur), of(cells, rps).format(fmtRate), of(cells, cpuOf("server")).format(fmtDur), of(cells, cpuOf("postgres")).format(fmtDur),
			of(cells, allocsPer).format(fmtCount), errCount(cells))
	}
	r.printf("\n")
}

func (r *report) scaleTable(b *bench) {
	r.printf("## Scale: start-up and memory with %s connections\n\n", grouped(int64(b.o.conns)))
	r.printf("Connections seeded through the bench's bulk path (multi-row INSERTs of rows with credentials sealed by latchkey). "+
		"Start-up is from exec to accepting connections (%d starts), in wall-clock time and in CPU time of the process (getrusage at ready: "+
		"on a busy machine the wall clock mostly measures the wait for a CPU); idle RSS is read %s after the last one.\n\n", b.o.starts, b.o.idleWait)
	n := grouped(int64(b.o.conns))
	r.printf("| backend | seeded in | first start, empty database (wall / CPU) | start-up with %s connections, wall | start-up with %s connections, CPU | RSS idle | RSS after the listing |\n", n, n)
	r.printf("|---|---|---|---|---|---|---|\n")
	durs := func(ds []time.Duration) stat {
		var v []float64
		for _, d := range ds {
			v = append(v, float64(d))
		}
		return statOf(v)
	}
	for _, s := range r.scales {
		after := "–"
		if s.rssAfterList > 0 {
			after = fmt.Sprintf("%.1f MiB", s.rssAfterList)
		}
		r.printf("| %s | %s | %s / %s | %s | %s | %.1f MiB | %s |\n", s.backend, fmtDur(float64(s.seeded)), fmtDur(float64(s.emptyStart)), fmtDur(float64(s.emptyCPU)),
			durs(s.starts).format(fmtDur), durs(s.startCPU).format(fmtDur), s.rssIdle, after)
	}
	r.printf("\n")
}

func (r *report) streamTable(s streamResult) {
	r.printf("## Streaming %d MB through each\n\nOne transfer each way; latchkey on %s.\n\n", s.mb, s.backend)
	r.printf("| case | floor | latchkey | latchkey peak RSS |\n|---|---|---|---|\n")
	r.printf("| download | %.0f MB/s | %.0f MB/s | %.1f MiB (%.1f before) |\n", s.floorDown, s.lkDown, s.peakDown, s.peakBefore)
	r.printf("| upload | %.0f MB/s | %.0f MB/s | %.1f MiB |\n\n", s.floorUp, s.lkUp, s.peakUp)
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += " (with uncommitted changes)"
	}
	return rev
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return fmt.Sprintf("%.0f GiB", kb/(1<<20))
		}
	}
	return "unknown"
}

func osRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// checksTable: the proxy beside a backlog of health checks against the same
// proxy on a latchkey with none due; ratios round by round, then summarised.
func (r *report) checksTable(b *bench) {
	r.printf("## Health checks of %s connections beside the proxy\n\n", grouped(int64(b.o.conns)))
	r.printf("The proxy (GET /myself through latchkey) on two latchkeys with %s connections each, back to back in every round: "+
		"one with no check due (*idle*), one whose connections are all due, so its scheduler checks them at its rate limit "+
		"(10 a second to Atlassian, against the same stand-in) through every window (*checking*): the most checks latchkey ever runs; "+
		"%s connections checked once a day is %.2g a second. Target: p99 with the checks at most 1.10× the p99 without.\n\n",
		grouped(int64(b.o.conns)), grouped(int64(b.o.conns)), float64(b.o.conns)/86400)
	r.printf("| backend | c | checks/s in the window | p99 idle | p99 checking | p99 ratio | p50 idle | p50 checking | req/s idle | req/s checking | CPU/call idle | CPU/call checking | errors |\n")
	r.printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, be := range backends(b) {
		for _, c := range b.o.levels {
			idle := r.pick("checks", func(x *cell) bool { return x.backend == be && x.c == c && x.variant == "idle" })
			chk := r.pick("checks", func(x *cell) bool { return x.backend == be && x.c == c && x.variant == "checking" })
			if len(idle) == 0 || len(chk) == 0 {
				continue
			}
			var ratio []float64
			for _, k := range chk {
				for _, i := range idle {
					if i.round == k.round && i.n > 0 && k.n > 0 && i.p99 > 0 {
						ratio = append(ratio, float64(k.p99)/float64(i.p99))
					}
				}
			}
			rs := statOf(ratio)
			checksPerSec := of(chk, func(x *cell) (float64, bool) {
				return float64(x.counted) / x.elapsed.Seconds(), x.hasCount && x.elapsed > 0
			})
			r.printf("| %s | %d | %s | %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %d |\n", be, c, checksPerSec.format(fmtCount),
				of(idle, p99).format(fmtDur), of(chk, p99).format(fmtDur), rs.format(fmtRatio), mark(rs.n > 0 && rs.med <= 1.10),
				of(idle, p50).format(fmtDur), of(chk, p50).format(fmtDur), of(idle, rps).format(fmtRate), of(chk, rps).format(fmtRate),
				of(idle, cpuOf("server")).format(fmtDur), of(chk, cpuOf("server")).format(fmtDur), errCount(idle)+errCount(chk))
		}
	}
	r.printf("\n")
}
