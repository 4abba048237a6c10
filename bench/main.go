// Command bench measures latchkey, each server in a process of its own, with
// its own Go load generator, and prints Markdown tables (docs/benchmarks.md
// keeps the latest ones).
//
//	go run ./bench                                   # everything, SQLite
//	go run ./bench -db sqlite,postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	go run ./bench -only proxy,reads -rounds 5 -d 5s
//	go run ./bench -quick                            # a smoke run of every scenario
//	go run ./bench -only proxy,reads -profile prof/  # CPU profiles of latchkey per scenario
//
// Scenarios (-only): proxy (latchkey against the floor, a bare
// httputil.ReverseProxy adding Basic auth, at each -c level), stream (200 MB
// each way through both), reads (GET /connections/{id} with credentials),
// imports (POST /connections), connect (a connect session and a verified
// submission through the stand-in Atlassian), list (first, middle and last
// page of -n connections), scale (start-up and memory with -n connections) and
// checks (the proxy beside health checks of -n connections, all due).
//
// Every figure is measured in -rounds interleaved rounds (floor, latchkey on
// each backend, then the next round in the other order), each a warm-up and a
// measured window of -d, and reported as the median with the min–max over
// rounds. CPU per operation comes from /proc/<pid>/stat of each process (for
// PostgreSQL, the backends connected to the run's database); allocations per
// operation from the runtime counters of the server process.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// scenarios, in the order they run.
var scenarios = []string{"proxy", "stream", "reads", "imports", "connect", "list", "scale", "checks"}

type options struct {
	args       []string // as given, for the report
	only       map[string]bool
	dbs        []string // "sqlite" or a postgres:// URL (the server; the bench creates its own databases)
	rounds     int
	warm, dur  time.Duration
	levels     []int // proxy concurrency levels
	conns      int   // connections for list and scale
	listLimit  int
	starts     int           // start-ups measured with conns connections
	idleWait   time.Duration // from the last start-up to reading idle memory
	streamMB   int
	profileDir string
}

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		runRole(role)
		return
	}
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return
		}
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		log.Fatal(err)
	}
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", strings.Join(scenarios, ","), "scenarios to run, comma-separated: "+strings.Join(scenarios, ", "))
	db := fs.String("db", "sqlite", "backends, comma-separated: sqlite and/or a PostgreSQL server URL (the bench creates and drops its own databases there)")
	rounds := fs.Int("rounds", 3, "interleaved rounds per figure")
	dur := fs.Duration("d", 3*time.Second, "measured window of each cell")
	warm := fs.Duration("warm", 500*time.Millisecond, "warm-up before each window (same load, not counted)")
	levels := fs.String("c", "1,16,64", "proxy concurrency levels")
	conns := fs.Int("n", 100_000, "connections seeded for the list and scale scenarios")
	listLimit := fs.Int("list-limit", 100, "page size of the listing")
	starts := fs.Int("starts", 3, "start-ups measured with -n connections")
	streamMB := fs.Int("stream-mb", 200, "size of each streaming transfer in MB")
	profile := fs.String("profile", "", "directory for CPU profiles of each latchkey (and the floor) per scenario")
	quick := fs.Bool("quick", false, "smoke run: 2 rounds of 100 ms windows, -c 1,4, -n 1000, small streams (explicit flags still win)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quickly := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		quickly("rounds", func() { *rounds = 2 })
		quickly("d", func() { *dur = 100 * time.Millisecond })
		quickly("warm", func() { *warm = 30 * time.Millisecond })
		quickly("c", func() { *levels = "1,4" })
		quickly("n", func() { *conns = 1000 })
		quickly("starts", func() { *starts = 1 })
		quickly("stream-mb", func() { *streamMB = 2 })
	}
	o := options{args: args, only: map[string]bool{}, rounds: *rounds, dur: *dur, warm: *warm, conns: *conns, listLimit: *listLimit,
		starts: *starts, streamMB: *streamMB, idleWait: time.Second}
	if *quick {
		o.idleWait = 0
	}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(scenarios, s) {
			return o, fmt.Errorf("-only: unknown scenario %q (have %s)", s, strings.Join(scenarios, ", "))
		}
		o.only[s] = true
	}
	for _, s := range splitDBs(*db) {
		if s != "sqlite" && !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
			return o, fmt.Errorf("-db: %q is neither sqlite nor a postgres:// URL", s)
		}
		if slices.Contains(o.dbs, s) || (s != "sqlite" && slices.ContainsFunc(o.dbs, func(d string) bool { return d != "sqlite" })) {
			return o, fmt.Errorf("-db: each backend once")
		}
		o.dbs = append(o.dbs, s)
	}
	if len(o.dbs) == 0 {
		return o, fmt.Errorf("-db: name at least one backend")
	}
	for _, s := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-c: %q is not a concurrency", s)
		}
		o.levels = append(o.levels, n)
	}
	switch {
	case o.rounds < 1:
		return o, fmt.Errorf("-rounds must be at least 1")
	case o.dur <= 0 || o.warm < 0:
		return o, fmt.Errorf("-d must be positive and -warm not negative")
	case o.conns < 1 || o.listLimit < 1 || o.listLimit > 2000:
		return o, fmt.Errorf("-n must be at least 1 and -list-limit from 1 to 2000")
	case o.starts < 1:
		return o, fmt.Errorf("-starts must be at least 1")
	case o.streamMB < 1:
		return o, fmt.Errorf("-stream-mb must be at least 1")
	}
	if *profile != "" {
		dir, err := filepath.Abs(*profile)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return o, fmt.Errorf("-profile: %w", err)
		}
		o.profileDir = dir
	}
	return o, nil
}

// splitDBs splits the -db list at commas that start a new backend (a URL may
// hold commas of its own).
func splitDBs(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		if len(out) > 0 && p != "sqlite" && !strings.HasPrefix(p, "postgres") {
			out[len(out)-1] += "," + part
			continue
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
