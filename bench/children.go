package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime/metrics"
	rpprof "runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// The bench runs every server in a process of its own: the same executable,
// started again with LATCHKEY_BENCH_ROLE naming what it should be. Its settings
// come in BENCH_* variables, never LATCHKEY_* ones, so a latchkey setting in
// the caller's environment cannot leak into a measured process.
const roleEnv = "LATCHKEY_BENCH_ROLE"

// secretKey is the dev environment's secret key in every latchkey the bench starts.
const secretKey = "sk_bench_0123456789abcdef0123456789abcdef"

// metricsToken opens every latchkey's /metrics to the bench (the checks
// scenario counts health checks there).
const metricsToken = "bench-metrics-0123456789abcdef"

// runRole is what a child process does; it returns when the process should exit.
func runRole(role string) {
	log.SetFlags(0)
	log.SetPrefix("bench " + role + ": ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch role {
	case "upstream":
		serveChild(ctx, newUpstream())
	case "floor":
		serveChild(ctx, floor(os.Getenv("BENCH_UPSTREAM")))
	case "latchkey":
		runLatchkey(ctx)
	case "seed":
		runSeed(ctx)
	default:
		log.Fatalf("unknown role %q", role)
	}
}

// newUpstream is the stand-in Atlassian. The simulator keeps every call it
// answers (tests look at them); over millions of calls that list would grow the
// upstream's memory and GC work as a run goes on, so it is replaced by a fresh
// one every 50,000 calls.
func newUpstream() http.Handler {
	var cur atomic.Pointer[atlassiansim.Sim]
	cur.Store(atlassiansim.New())
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%50_000 == 0 {
			cur.Store(atlassiansim.New())
		}
		cur.Load().ServeHTTP(w, r)
	})
}

// floor is what any proxy must cost: forward, add a Basic header, nothing else.
func floor(upstream string) http.Handler {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		log.Fatalf("BENCH_UPSTREAM %q is not a URL", upstream)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(atlassiansim.DemoEmail+":"+atlassiansim.DemoToken))
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}
	return &httputil.ReverseProxy{Transport: tr, FlushInterval: -1, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Header.Set("Authorization", auth)
	}}
}

// serveChild serves h on a loopback port until ctx ends.
func serveChild(ctx context.Context, h http.Handler) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	ready(ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// ready tells the parent where this child listens (its service and its control
// listener: pprof, runtime counters) and the CPU time it took to get there, in
// microseconds (getrusage: all threads, finer than /proc's ticks).
func ready(addr string) {
	control := serveControl()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("READY %s %s %d\n", addr, control, cpu.Microseconds())
}

// latchkeyConfig is the configuration of every latchkey the bench starts, from
// the BENCH_* variables the parent set.
func latchkeyConfig(databaseURL string) *config.Config {
	env := map[string]string{
		"LATCHKEY_ADDR": "127.0.0.1:0", "LATCHKEY_DATA_DIR": os.Getenv("BENCH_DATA_DIR"), "LATCHKEY_DATABASE_URL": databaseURL,
		"LATCHKEY_SECRET_KEY": secretKey, "LATCHKEY_ENCRYPTION_KEY": os.Getenv("BENCH_ENCRYPTION_KEY"),
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + os.Getenv("BENCH_UPSTREAM"),
		"LATCHKEY_LOG_LEVEL":        "error", "LATCHKEY_LOG_FORMAT": "json",
		"LATCHKEY_METRICS_TOKEN": metricsToken,
	}
	if v := os.Getenv("BENCH_LATCHKEY_LOG_LEVEL"); v != "" { // to see what latchkey logs during a run
		env["LATCHKEY_LOG_LEVEL"] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	return cfg
}

// runLatchkey is latchkey as `latchkey serve` runs it, plus the control listener.
func runLatchkey(ctx context.Context) {
	cfg := latchkeyConfig(os.Getenv("BENCH_DATABASE_URL"))
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, os.Stderr), app.Deps{})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.Serve(ctx, ready); err != nil {
		log.Fatal(err)
	}
}

// runSeed is the bench's bulk path for the listing and scale scenarios: it adds
// BENCH_SEED connections to integration "jira", as a verified Atlassian
// connection looks (end user, Cloud ID and account in its config, credentials
// sealed by latchkey's own Seal so latchkey can open them), written with
// multi-row INSERTs of 500 rows per transaction. Creation times are one
// millisecond apart, the newest now. It is not the import path (that one is
// measured on its own) and it knows the connections table's columns: when a
// migration changes them, change seedColumns and seedRow with it. run checks
// the result through the API (page sizes, a seeded connection's credentials).
// Each was last verified when it was created, and its next health check is a
// day later; with BENCH_SEED_DUE=1 each was last verified two days ago and
// never checked since, so all of them are due as soon as latchkey starts.
func runSeed(ctx context.Context) {
	n, err := strconv.Atoi(os.Getenv("BENCH_SEED"))
	if err != nil || n < 0 {
		log.Fatalf("BENCH_SEED %q is not a count", os.Getenv("BENCH_SEED"))
	}
	cfg := latchkeyConfig(os.Getenv("BENCH_DATABASE_URL"))
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, os.Stderr), app.Deps{})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	st := a.Store()
	env, err := st.EnvironmentByName(ctx, app.DefaultEnvironment)
	if err != nil {
		log.Fatal(err)
	}
	integ, err := st.Integration(ctx, env.ID, "jira")
	if err != nil {
		log.Fatal(err)
	}
	var verifiedAgo int64
	if os.Getenv("BENCH_SEED_DUE") == "1" {
		verifiedAgo = (48 * time.Hour).Milliseconds()
	}
	start := time.Now()
	base := start.UnixMilli() - int64(n)
	const batch = 500
	for from := 1; from <= n; from += batch {
		to := min(from+batch-1, n)
		var sb strings.Builder
		sb.WriteString("INSERT INTO connections (" + strings.Join(seedColumns, ", ") + ") VALUES ")
		args := make([]any, 0, (to-from+1)*len(seedColumns))
		for i := from; i <= to; i++ {
			if i > from {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j := range seedColumns {
				if j > 0 {
					sb.WriteString(", ")
				}
				if st.Dialect() == "postgres" {
					fmt.Fprintf(&sb, "$%d", len(args)+j+1)
				} else {
					sb.WriteByte('?')
				}
			}
			sb.WriteByte(')')
			row, err := seedRow(a, env.ID, integ.ID, integ.Provider, i, base+int64(i), verifiedAgo)
			if err != nil {
				log.Fatal(err)
			}
			args = append(args, row...)
		}
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			_ = tx.Rollback()
			log.Fatalf("seed connections %d to %d: %v", from, to, err)
		}
		if err := tx.Commit(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("SEEDED %d %d\n", n, time.Since(start).Milliseconds())
}

var seedColumns = []string{"environment_id", "integration_id", "connection_id", "provider", "connection_config", "credentials", "credentials_key_id",
	"has_end_user", "end_user_id", "end_user_email", "end_user_display_name", "status", "last_verified_at", "next_check_at", "created_at", "updated_at"}

// seedName is the connection id of the i-th seeded connection.
func seedName(i int) string { return fmt.Sprintf("seed-%07d", i) }

func seedRow(a *app.App, envID, integID int64, provider string, i int, at, verifiedAgo int64) ([]any, error) {
	// Checked when it was created, next a day later, as connections are once
	// they have been checked; a due one (verifiedAgo > 0) has never been.
	var next any = at + (24 * time.Hour).Milliseconds()
	if verifiedAgo > 0 {
		next = nil
	}
	c := &domain.Connection{EnvironmentID: envID, IntegrationID: integID, ConnectionID: seedName(i),
		Credentials: domain.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken}}
	if err := a.Connections().Seal(c); err != nil {
		return nil, err
	}
	keyID, err := secret.CiphertextKeyID(c.SealedCredentials)
	if err != nil {
		return nil, err
	}
	cfg, _ := json.Marshal(map[string]string{"cloudId": atlassiansim.DemoCloudID, "accountId": fmt.Sprintf("712020:seed-%d", i),
		"accountType": "app", "displayName": fmt.Sprintf("Seed bot %d", i)})
	return []any{envID, integID, c.ConnectionID, provider, string(cfg), c.SealedCredentials, keyID,
		1, fmt.Sprintf("user-%d", i), fmt.Sprintf("user-%d@example.com", i), fmt.Sprintf("User %d", i), domain.StatusOK, at - verifiedAgo, next, at, at}, nil
}

// serveControl starts the control listener on loopback: net/http/pprof, the
// runtime's allocation counters, and CPU profiles written to a file the parent
// names (the parent and its children share the machine).
func serveControl() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /bench/stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(readRuntimeStats())
	})
	var profile struct {
		sync.Mutex
		f *os.File
	}
	mux.HandleFunc("POST /bench/cpuprofile", func(w http.ResponseWriter, r *http.Request) {
		profile.Lock()
		defer profile.Unlock()
		if profile.f != nil {
			http.Error(w, "a CPU profile is already running", http.StatusConflict)
			return
		}
		f, err := os.Create(r.URL.Query().Get("file"))
		if err == nil {
			if err = rpprof.StartCPUProfile(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		profile.f = f
	})
	mux.HandleFunc("DELETE /bench/cpuprofile", func(w http.ResponseWriter, _ *http.Request) {
		profile.Lock()
		defer profile.Unlock()
		if profile.f == nil {
			http.Error(w, "no CPU profile is running", http.StatusConflict)
			return
		}
		rpprof.StopCPUProfile()
		err := profile.f.Close()
		profile.f = nil
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	go func() { _ = http.Serve(ln, mux) }()
	return ln.Addr().String()
}

// runtimeStats are a child's cumulative allocation counters (as -benchmem
// counts them: tiny allocations each count as one).
type runtimeStats struct {
	Allocs   uint64 `json:"allocs"`
	Bytes    uint64 `json:"bytes"`
	GCCycles uint64 `json:"gc_cycles"`
}

func readRuntimeStats() runtimeStats {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/tiny/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	u := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return runtimeStats{Allocs: u(0) + u(1), Bytes: u(2), GCCycles: u(3)}
}

// child is a process the bench started.
type child struct {
	name    string
	cmd     *exec.Cmd
	addr    string        // service, host:port
	control string        // control listener, host:port
	started time.Duration // exec to ready, wall clock
	cpuUp   time.Duration // CPU time the child spent to get ready
	out     *bufio.Reader
	hc      *http.Client
}

// spawn starts the bench executable in role with the given BENCH_* settings and
// waits for its READY line; started is the time from exec to ready.
func spawn(ctx context.Context, name, role string, env ...string) (*child, error) {
	t := time.Now()
	c, err := startChild(name, role, env...)
	if err != nil {
		return nil, err
	}
	line, err := c.readLine(ctx)
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s did not start: %w", name, err)
	}
	c.started = time.Since(t)
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "READY" {
		c.stop()
		return nil, fmt.Errorf("%s did not start: it said %q", name, line)
	}
	us, _ := strconv.ParseInt(f[3], 10, 64)
	c.addr, c.control, c.cpuUp = f[1], f[2], time.Duration(us)*time.Microsecond
	return c, nil
}

func startChild(name, role string, env ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	// If the bench dies without stopping its children, they go too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{name: name, cmd: cmd, out: bufio.NewReader(stdout), hc: &http.Client{Timeout: time.Minute}}, nil
}

// readLine reads the child's next line of standard output, giving up when ctx ends.
func (c *child) readLine(ctx context.Context) (string, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := c.out.ReadString('\n')
		ch <- res{strings.TrimSpace(l), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && r.line == "" {
			return "", r.err
		}
		return r.line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// seed runs the seed role to its end and returns how long the writes took.
func seed(ctx context.Context, n int, env ...string) (time.Duration, error) {
	c, err := startChild("seed", "seed", append(env, "BENCH_SEED="+strconv.Itoa(n))...)
	if err != nil {
		return 0, err
	}
	line, err := c.readLine(ctx)
	if err != nil {
		c.stop()
		return 0, fmt.Errorf("seeding %d connections: %w", n, err)
	}
	if err := c.cmd.Wait(); err != nil {
		return 0, fmt.Errorf("seeding %d connections: %w", n, err)
	}
	var got, ms int
	if _, err := fmt.Sscanf(line, "SEEDED %d %d", &got, &ms); err != nil || got != n {
		return 0, fmt.Errorf("seeding %d connections: the seeder said %q", n, line)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (c *child) url() string { return "http://" + c.addr }

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop ends the child: SIGTERM, then SIGKILL if it is still there after 20 s.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = c.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// stats reads the child's allocation counters.
func (c *child) stats() (runtimeStats, error) {
	var s runtimeStats
	res, err := c.hc.Get("http://" + c.control + "/bench/stats")
	if err != nil {
		return s, err
	}
	defer res.Body.Close()
	return s, json.NewDecoder(res.Body).Decode(&s)
}

// startProfile starts a CPU profile of the child into file; stopProfile ends it.
func (c *child) startProfile(file string) error {
	return c.controlCall(http.MethodPost, "/bench/cpuprofile?file="+url.QueryEscape(file))
}

func (c *child) stopProfile() error { return c.controlCall(http.MethodDelete, "/bench/cpuprofile") }

func (c *child) controlCall(method, path string) error {
	req, _ := http.NewRequest(method, "http://"+c.control+path, nil)
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("%s %s: %s", method, path, strings.TrimSpace(string(b)))
	}
	return nil
}

// procCPU is a process's user+system CPU time from /proc/<pid>/stat (all its
// threads, in clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 > len(b) {
		return 0
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// procMem returns a process's resident set size and its peak, in MiB.
func procMem(pid int) (rss, peak float64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return
}
