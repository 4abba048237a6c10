package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// bench is one run: its processes, databases and results.
type bench struct {
	o        options
	progress io.Writer
	rep      *report
	dir      string // temporary data directories
	key      string // encryption key of every latchkey
	pg       *pgServer
	upstream *child
	floor    *child
	main     []*instance // one latchkey per backend for proxy, stream, reads, imports, connect
	scaled   []*instance // one latchkey per backend with o.conns connections
	checking []*instance // one latchkey per backend with o.conns connections all due for a health check
	seq      atomic.Int64
}

// instance is one latchkey and its database.
type instance struct {
	backend string // sqlite or postgres
	dbName  string // PostgreSQL database, for the backends' CPU
	env     []string
	proc    *child
}

// run runs the scenarios o selects, writing each table to out as soon as it is
// complete and progress notes to progress.
func run(ctx context.Context, o options, out, progress io.Writer) (rep *report, err error) {
	b := &bench{o: o, progress: progress, rep: &report{out: out}}
	defer func() {
		if cerr := b.close(); err == nil {
			err = cerr
		}
	}()
	if b.dir, err = os.MkdirTemp("", "latchkey-bench-"); err != nil {
		return nil, err
	}
	k, err := secret.GenerateKey()
	if err != nil {
		return nil, err
	}
	b.key = secret.EncodeKey(k)
	for _, db := range o.dbs {
		if db != "sqlite" {
			if b.pg, err = openPostgres(ctx, db); err != nil {
				return nil, err
			}
		}
	}
	b.rep.header(ctx, b)
	began := time.Now()
	defer func() {
		if err == nil {
			b.rep.printf("The run took %s; load average at its end: %s.\n", time.Since(began).Round(time.Second), loadAvg())
		}
	}()

	if b.upstream, err = b.spawn(ctx, "upstream", "upstream"); err != nil {
		return nil, err
	}
	if o.only["proxy"] || o.only["stream"] {
		if b.floor, err = b.spawn(ctx, "floor", "floor", "BENCH_UPSTREAM="+b.upstream.url()); err != nil {
			return nil, err
		}
	}
	if o.only["proxy"] || o.only["stream"] || o.only["reads"] || o.only["imports"] || o.only["connect"] {
		for _, db := range o.dbs {
			in, err := b.newInstance(ctx, db)
			if err != nil {
				return nil, err
			}
			b.main = append(b.main, in)
			if err := b.startInstance(ctx, in); err != nil {
				return nil, err
			}
			if err := setupMain(ctx, in); err != nil {
				return nil, err
			}
		}
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"proxy", b.proxy}, {"stream", b.stream}, {"reads", b.reads}, {"imports", b.imports}, {"connect", b.connect},
	}
	for _, s := range steps {
		if !o.only[s.name] {
			continue
		}
		b.note("%s…", s.name)
		if err := s.run(ctx); err != nil {
			return b.rep, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if o.only["list"] || o.only["scale"] || o.only["checks"] {
		b.note("scale: seeding %d connections per backend…", o.conns)
		if err := b.scale(ctx); err != nil {
			return b.rep, fmt.Errorf("scale: %w", err)
		}
		if o.only["list"] {
			b.note("list…")
			if err := b.list(ctx); err != nil {
				return b.rep, fmt.Errorf("list: %w", err)
			}
		}
		b.rep.scaleTable(b)
	}
	if o.only["checks"] {
		b.note("checks: seeding %d connections due for a check per backend…", o.conns)
		if err := b.checks(ctx); err != nil {
			return b.rep, fmt.Errorf("checks: %w", err)
		}
	}
	return b.rep, ctx.Err()
}

func (b *bench) note(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

// close stops every process, then drops the PostgreSQL databases and removes
// the data directories.
func (b *bench) close() error {
	for _, in := range slices.Concat(b.main, b.scaled, b.checking) {
		in.proc.stop()
	}
	b.floor.stop()
	b.upstream.stop()
	var err error
	if b.pg != nil {
		err = b.pg.close()
	}
	if b.dir != "" {
		if rerr := os.RemoveAll(b.dir); err == nil {
			err = rerr
		}
	}
	return err
}

// newInstance prepares a latchkey on db: a data directory, and on PostgreSQL
// a database of its own.
func (b *bench) newInstance(ctx context.Context, db string) (*instance, error) {
	dir, err := os.MkdirTemp(b.dir, "data-")
	if err != nil {
		return nil, err
	}
	in := &instance{backend: "sqlite", env: []string{"BENCH_DATA_DIR=" + dir, "BENCH_UPSTREAM=" + b.upstream.url(), "BENCH_ENCRYPTION_KEY=" + b.key}}
	if db != "sqlite" {
		name, dsn, err := b.pg.createDatabase(ctx)
		if err != nil {
			return nil, err
		}
		in.backend, in.dbName = "postgres", name
		in.env = append(in.env, "BENCH_DATABASE_URL="+dsn)
	}
	return in, nil
}

func (b *bench) startInstance(ctx context.Context, in *instance) error {
	p, err := b.spawn(ctx, "latchkey ("+in.backend+")", "latchkey", in.env...)
	if err != nil {
		return err
	}
	in.proc = p
	return nil
}

// spawn starts a child and says where it listens, and where its pprof is (for
// profiles taken by hand during a run, e.g. go tool pprof http://…/debug/pprof/heap).
func (b *bench) spawn(ctx context.Context, name, role string, env ...string) (*child, error) {
	c, err := spawn(ctx, name, role, env...)
	if err == nil {
		b.note("%s on %s, pid %d, pprof at http://%s/debug/pprof/", name, c.addr, c.pid(), c.control)
	}
	return c, err
}

func (in *instance) client() *client.Client { return client.New(in.proc.url(), secretKey) }

// setupIntegration creates integration "jira" for Atlassian service accounts.
func setupIntegration(ctx context.Context, in *instance) error {
	_, err := in.client().CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: "atlassian-service-account-api-token", UniqueKey: "jira"})
	return err
}

// setupMain creates the integration and connection "bench" that the proxy and
// the reads use, and checks a read returns its credentials.
func setupMain(ctx context.Context, in *instance) error {
	if err := setupIntegration(ctx, in); err != nil {
		return err
	}
	c := in.client()
	if _, err := c.ImportConnection(ctx, client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "bench",
		Credentials:      client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken},
		ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}}); err != nil {
		return err
	}
	got, err := c.GetConnection(ctx, "jira", "bench")
	if err != nil {
		return err
	}
	if got.Credentials.Password != atlassiansim.DemoToken {
		return errors.New("GET /connections/bench did not return the imported credentials")
	}
	return nil
}

// probes are the processes whose CPU a cell on in counts: the server itself,
// its PostgreSQL backends, the upstream and the bench (the load generator).
func (b *bench) probes(server *child, in *instance) []probe {
	ps := []probe{{"server", func() time.Duration { return procCPU(server.pid()) }}}
	if in != nil && in.dbName != "" {
		name := in.dbName
		ps = append(ps, probe{"postgres", func() time.Duration { return b.pg.backendCPU(name) }})
	}
	return append(ps, probe{"upstream", func() time.Duration { return procCPU(b.upstream.pid()) }}, probe{"client", selfCPU})
}

// interleave runs the rounds: in each, every level on every target back to
// back, the targets in the round's order (ordered); one measures a target at
// a level and its cell goes into the report.
func interleave[T any](ctx context.Context, b *bench, levels []int, targets []T, one func(t T, round, c int) *cell) error {
	for r := range b.o.rounds {
		for _, c := range levels {
			for _, t := range ordered(targets, r) {
				b.rep.add(one(t, r, c))
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	return nil
}

// ordered returns the instances in round r's order: as given in even rounds,
// reversed in odd ones, so neither backend always goes first.
func ordered[T any](xs []T, r int) []T {
	out := slices.Clone(xs)
	if r%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// profile runs fn with CPU profiles of the given processes, written to
// <profile dir>/<scenario>-<name>.pprof, when -profile is set.
func (b *bench) profile(scenario string, procs map[string]*child, fn func() error) error {
	if b.o.profileDir == "" {
		return fn()
	}
	var started []*child
	for name, p := range procs {
		if err := p.startProfile(filepath.Join(b.o.profileDir, scenario+"-"+name+".pprof")); err != nil {
			return err
		}
		started = append(started, p)
	}
	err := fn()
	for _, p := range started {
		if serr := p.stopProfile(); err == nil {
			err = serr
		}
	}
	return err
}

func (b *bench) mainProcs(withFloor bool) map[string]*child {
	m := map[string]*child{}
	for _, in := range b.main {
		m[in.backend] = in.proc
	}
	if withFloor {
		m["floor"] = b.floor
	}
	return m
}

func (b *bench) measurement(c int, server *child, in *instance) measurement {
	return measurement{c: c, warm: b.o.warm, dur: b.o.dur, probes: b.probes(server, in), allocsFrom: server}
}

var proxyPath = "/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/myself"

func proxyHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + secretKey}, "Provider-Config-Key": {"jira"}, "Connection-Id": {"bench"}}
}

func secretHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + secretKey}}
}

// proxy: GET /myself through the floor and through latchkey on each backend,
// at each concurrency level; in every round each level runs on every target
// back to back.
func (b *bench) proxy(ctx context.Context) error {
	type target struct {
		backend, variant, url string
		header                http.Header
		proc                  *child
		in                    *instance
	}
	targets := []target{{"", "floor", b.floor.url() + proxyPath, http.Header{}, b.floor, nil}}
	for _, in := range b.main {
		targets = append(targets, target{in.backend, "latchkey", in.proc.url() + "/proxy" + proxyPath, proxyHeader(), in.proc, in})
	}
	err := b.profile("proxy", b.mainProcs(true), func() error {
		return interleave(ctx, b, b.o.levels, targets, func(t target, r, c int) *cell {
			cl := &cell{scenario: "proxy", backend: t.backend, variant: t.variant, c: c, round: r}
			measure(ctx, cl, b.measurement(c, t.proc, t.in), get(t.url, t.header, http.StatusOK))
			return cl
		})
	})
	if err != nil {
		return err
	}
	b.rep.proxyTables(b)
	return nil
}

// reads: GET /connections/{id} with credentials, at concurrency 16.
func (b *bench) reads(ctx context.Context) error {
	return b.apiScenario(ctx, "reads", 16, func(in *instance) op {
		return get(in.proc.url()+"/connections/bench?provider_config_key=jira", secretHeader(), http.StatusOK)
	})
}

// imports: POST /connections of a new connection, at concurrency 8.
func (b *bench) imports(ctx context.Context) error {
	return b.apiScenario(ctx, "imports", 8, func(in *instance) op {
		target := in.proc.url() + "/connections"
		return func(ctx context.Context, hc *http.Client, _ int) error {
			body := fmt.Appendf(nil, `{"provider_config_key":"jira","connection_id":"import-%d","credentials":{"type":"BASIC","username":%q,"password":%q},"connection_config":{"cloudId":%q}}`,
				b.seq.Add(1), atlassiansim.DemoEmail, atlassiansim.DemoToken, atlassiansim.DemoCloudID)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header = http.Header{"Authorization": {"Bearer " + secretKey}, "Content-Type": {"application/json"}}
			return send(hc, req, http.StatusCreated)
		}
	})
}

// connect: a whole connection as the Connect UI makes it: create a connect
// session (the backend), then submit Cloud ID, email and token (the end user),
// which latchkey verifies with the stand-in Atlassian before saving. One
// operation is both requests.
func (b *bench) connect(ctx context.Context) error {
	return b.apiScenario(ctx, "connect", 8, func(in *instance) op {
		sessions, submit := in.proc.url()+"/connect/sessions", in.proc.url()+"/api-auth/basic/jira"
		creds := fmt.Appendf(nil, `{"username":%q,"password":%q}`, atlassiansim.DemoEmail, atlassiansim.DemoToken)
		return func(ctx context.Context, hc *http.Client, _ int) error {
			n := b.seq.Add(1)
			body := fmt.Appendf(nil, `{"end_user":{"id":"user-%d","email":"user-%d@example.com"},"allowed_integrations":["jira"]}`, n, n)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, sessions, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header = http.Header{"Authorization": {"Bearer " + secretKey}, "Content-Type": {"application/json"}}
			var sess struct {
				Data struct {
					Token string `json:"token"`
				} `json:"data"`
			}
			if err := sendJSON(hc, req, http.StatusCreated, &sess); err != nil {
				return err
			}
			q := url.Values{"connect_session_token": {sess.Data.Token}, "params[cloudId]": {atlassiansim.DemoCloudID}}
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, submit+"?"+q.Encode(), bytes.NewReader(creds))
			if err != nil {
				return err
			}
			req.Header = http.Header{"Content-Type": {"application/json"}}
			return send(hc, req, http.StatusOK)
		}
	})
}

// sendJSON is send that decodes the answer into out.
func sendJSON(hc *http.Client, req *http.Request, want int, out any) error {
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.512s", req.Method, req.URL.Path, res.StatusCode, want, b)
	}
	return json.Unmarshal(b, out)
}

// apiScenario measures one operation at concurrency c on each backend's
// latchkey, the backends interleaved round by round.
func (b *bench) apiScenario(ctx context.Context, name string, c int, mk func(*instance) op) error {
	ops := map[*instance]op{}
	for _, in := range b.main {
		ops[in] = mk(in)
	}
	err := b.profile(name, b.mainProcs(false), func() error {
		return interleave(ctx, b, []int{c}, b.main, func(in *instance, r, c int) *cell {
			cl := &cell{scenario: name, backend: in.backend, variant: "latchkey", c: c, round: r}
			measure(ctx, cl, b.measurement(c, in.proc, in), ops[in])
			return cl
		})
	})
	if err != nil {
		return err
	}
	b.rep.apiTable(b, name)
	return nil
}

// stream moves o.streamMB each way through the floor and the first backend's
// latchkey, once each, and reports throughput and latchkey's peak memory.
func (b *bench) stream(ctx context.Context) error {
	in := b.main[0]
	size := int64(b.o.streamMB) << 20
	down := "/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/download?bytes=" + strconv.FormatInt(size, 10)
	up := "/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/upload"
	pid := in.proc.pid()
	_, before := procMem(pid)
	var res streamResult
	res.backend, res.mb, res.peakBefore = in.backend, b.o.streamMB, before
	var err error
	if res.floorDown, err = streamOnce(ctx, http.MethodGet, b.floor.url()+down, nil, 0); err != nil {
		return err
	}
	if res.lkDown, err = streamOnce(ctx, http.MethodGet, in.proc.url()+"/proxy"+down, proxyHeader(), 0); err != nil {
		return err
	}
	_, res.peakDown = procMem(pid)
	if res.floorUp, err = streamOnce(ctx, http.MethodPut, b.floor.url()+up, nil, size); err != nil {
		return err
	}
	if res.lkUp, err = streamOnce(ctx, http.MethodPut, in.proc.url()+"/proxy"+up, proxyHeader(), size); err != nil {
		return err
	}
	_, res.peakUp = procMem(pid)
	b.rep.streamTable(res)
	return nil
}

type streamResult struct {
	backend                          string
	mb                               int
	floorDown, lkDown, floorUp, lkUp float64 // MB/s
	peakBefore, peakDown, peakUp     float64 // MiB
}

// streamOnce moves size bytes up (PUT) or reads the whole answer (GET) and
// returns MB/s.
func streamOnce(ctx context.Context, method, target string, header http.Header, size int64) (float64, error) {
	var body io.Reader
	if size > 0 {
		body = io.LimitReader(atlassiansim.Pattern(), size)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, err
	}
	if header != nil {
		req.Header = header.Clone()
	}
	if size > 0 {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	t := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s %s: status %d", method, req.URL.Path, res.StatusCode)
	}
	if size > 0 {
		n = size
	}
	return float64(n) / (1 << 20) / time.Since(t).Seconds(), nil
}

// scaleResult is one backend's start-up and memory with o.conns connections.
type scaleResult struct {
	backend      string
	emptyStart   time.Duration   // first start, empty database (creates and migrates it)
	emptyCPU     time.Duration   // its CPU time
	seeded       time.Duration   // the bulk path's writes
	starts       []time.Duration // exec to ready, with o.conns connections
	startCPU     []time.Duration // CPU time of each of those start-ups
	rssIdle      float64         // MiB, o.idleWait after the last start
	rssAfterList float64
}

// scale builds one latchkey per backend with o.conns connections: start it on
// an empty database, create the integration, stop it, seed through the bulk
// path, then start it o.starts times, timing each start-up (the last one keeps
// running for the listing).
func (b *bench) scale(ctx context.Context) error {
	for _, db := range b.o.dbs {
		in, err := b.newInstance(ctx, db)
		if err != nil {
			return err
		}
		b.scaled = append(b.scaled, in)
		if err := b.startInstance(ctx, in); err != nil {
			return err
		}
		res := &scaleResult{backend: in.backend, emptyStart: in.proc.started, emptyCPU: in.proc.cpuUp}
		if err := setupIntegration(ctx, in); err != nil {
			return err
		}
		in.proc.stop()
		if res.seeded, err = seed(ctx, b.o.conns, in.env...); err != nil {
			return err
		}
		b.note("scale: %d connections on %s in %s", b.o.conns, in.backend, res.seeded.Round(time.Millisecond))
		for i := range b.o.starts {
			if i > 0 {
				in.proc.stop()
			}
			if err := b.startInstance(ctx, in); err != nil {
				return err
			}
			res.starts = append(res.starts, in.proc.started)
			res.startCPU = append(res.startCPU, in.proc.cpuUp)
		}
		// The bulk path wrote the rows itself: latchkey must read them as its own.
		got, err := in.client().GetConnection(ctx, "jira", seedName(b.o.conns))
		if err != nil {
			return fmt.Errorf("reading a seeded connection: %w", err)
		}
		if got.Credentials.Password != atlassiansim.DemoToken || got.EndUser == nil {
			return errors.New("a seeded connection does not read back with its credentials and end user")
		}
		pause(ctx, b.o.idleWait)
		res.rssIdle, _ = procMem(in.proc.pid())
		b.rep.scales = append(b.rep.scales, res)
	}
	return ctx.Err()
}

// A paging is a way to page through the listing: pages returns the URLs of the
// first, middle and last page of o.conns connections, by offset (page=N) and
// by cursor (following next_cursor).
type paging struct {
	name  string
	pages func(ctx context.Context, b *bench, in *instance) ([]page, error)
}

var pagings = []paging{{"offset", offsetPages}, {"cursor", cursorPages}}

type page struct {
	name string // first, middle, last
	url  string
	want int // connections on the page
}

func (b *bench) pageCount() int { return (b.o.conns + b.o.listLimit - 1) / b.o.listLimit }

func (b *bench) pageSize(i int) int { return min(b.o.listLimit, b.o.conns-i*b.o.listLimit) }

// offsetPages are limit+page URLs.
func offsetPages(_ context.Context, b *bench, in *instance) ([]page, error) {
	n := b.pageCount()
	var out []page
	for _, p := range []struct {
		name string
		i    int
	}{{"first", 0}, {"middle", n / 2}, {"last", n - 1}} {
		out = append(out, page{p.name, fmt.Sprintf("%s/connections?limit=%d&page=%d", in.proc.url(), b.o.listLimit, p.i), b.pageSize(p.i)})
	}
	return out, nil
}

// cursorPages walks the listing with limit and cursor, following the
// next_cursor of each answer, and returns the URLs that fetch the first,
// middle and last page.
func cursorPages(ctx context.Context, b *bench, in *instance) ([]page, error) {
	n := b.pageCount()
	base := fmt.Sprintf("%s/connections?limit=%d", in.proc.url(), b.o.listLimit)
	var out []page
	u := base
	for i := range n {
		if i == 0 || i == n/2 || i == n-1 {
			name := map[int]string{0: "first", n / 2: "middle", n - 1: "last"}[i]
			out = append(out, page{name, u, b.pageSize(i)})
		}
		if i == n-1 {
			break
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header = secretHeader()
		var body struct {
			NextCursor string `json:"next_cursor"`
		}
		if err := sendJSON(http.DefaultClient, req, http.StatusOK, &body); err != nil {
			return nil, err
		}
		if body.NextCursor == "" {
			return nil, fmt.Errorf("page %d of the listing has no next_cursor", i)
		}
		u = base + "&cursor=" + url.QueryEscape(body.NextCursor)
	}
	return out, nil
}

// list: the first, middle and last page of o.conns connections, one request at
// a time (latency is the figure), backends and pages interleaved.
func (b *bench) list(ctx context.Context) error {
	type target struct {
		in     *instance
		paging string
		page   page
	}
	var targets []target
	for _, in := range b.scaled {
		for _, pg := range pagings {
			pages, err := pg.pages(ctx, b, in)
			if err != nil {
				return fmt.Errorf("%s paging on %s: %w", pg.name, in.backend, err)
			}
			for _, p := range pages {
				if err := checkPage(ctx, p); err != nil {
					return fmt.Errorf("%s paging on %s: %w", pg.name, in.backend, err)
				}
				targets = append(targets, target{in, pg.name, p})
			}
		}
	}
	procs := map[string]*child{}
	for _, in := range b.scaled {
		procs[in.backend] = in.proc
	}
	err := b.profile("list", procs, func() error {
		return interleave(ctx, b, []int{1}, targets, func(t target, r, c int) *cell {
			cl := &cell{scenario: "list", backend: t.in.backend, variant: t.paging + " " + t.page.name, c: c, round: r}
			measure(ctx, cl, b.measurement(c, t.in.proc, t.in), get(t.page.url, secretHeader(), http.StatusOK))
			return cl
		})
	})
	if err != nil {
		return err
	}
	for i, in := range b.scaled {
		b.rep.scales[i].rssAfterList, _ = procMem(in.proc.pid())
	}
	b.rep.listTable(b)
	return nil
}

// checkPage fetches a page once and checks it holds as many connections as it should.
func checkPage(ctx context.Context, p page) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	req.Header = secretHeader()
	var body struct {
		Connections []json.RawMessage `json:"connections"`
	}
	if err := sendJSON(http.DefaultClient, req, http.StatusOK, &body); err != nil {
		return err
	}
	if len(body.Connections) != p.want {
		return fmt.Errorf("the %s page has %d connections, want %d", p.name, len(body.Connections), p.want)
	}
	return nil
}

// checks: the proxy, at each -c level, through two latchkeys with o.conns
// connections each, measured back to back in every round: the scale
// scenario's, whose connections were all checked when they were created (the
// next check of each is a day away: its scheduler has nothing to do), and one
// whose connections were all last verified two days ago, so its scheduler
// works through a backlog of o.conns checks at its rate limit (10 a second to
// Atlassian, against the same stand-in the proxied calls go to) for the whole
// run. That is the most checks latchkey ever runs: the steady state of
// 100,000 connections checked once a day is about 1.2 a second. The checking
// latchkey goes on checking while the idle one is measured (pausing it with
// SIGSTOP would break its requests in flight, whose deadlines pass while it is
// stopped), so what differs between the two windows is the checks' work
// inside the latchkey measured; their share of the stand-in's and
// PostgreSQL's CPU falls in both. Each window counts the checks done in it
// (latchkey_health_checks_total), and the run fails unless the checking
// latchkeys checked connections and found every one ok.
func (b *bench) checks(ctx context.Context) error {
	for i, db := range b.o.dbs {
		in, err := b.newInstance(ctx, db)
		if err != nil {
			return err
		}
		b.checking = append(b.checking, in)
		if err := b.startInstance(ctx, in); err != nil {
			return err
		}
		if err := setupIntegration(ctx, in); err != nil {
			return err
		}
		in.proc.stop()
		took, err := seed(ctx, b.o.conns, append(in.env, "BENCH_SEED_DUE=1")...)
		if err != nil {
			return err
		}
		b.note("checks: %d connections due on %s in %s", b.o.conns, in.backend, took.Round(time.Millisecond))
		if err := b.startInstance(ctx, in); err != nil {
			return err
		}
		if b.scaled[i].backend != in.backend {
			return errors.New("checks: the scaled instances are not in -db's order")
		}
	}
	type target struct {
		variant string
		in      *instance
	}
	var targets []target
	for i := range b.checking {
		targets = append(targets, target{"idle", b.scaled[i]}, target{"checking", b.checking[i]})
	}
	procs := map[string]*child{}
	for _, t := range targets {
		procs[t.in.backend+"-"+t.variant] = t.in.proc
	}
	path := "/proxy" + proxyPath
	h := proxyHeader()
	h.Set("Connection-Id", seedName(b.o.conns))
	err := b.profile("checks", procs, func() error {
		return interleave(ctx, b, b.o.levels, targets, func(t target, r, c int) *cell {
			cl := &cell{scenario: "checks", backend: t.in.backend, variant: t.variant, c: c, round: r}
			m := b.measurement(c, t.in.proc, t.in)
			count := healthChecks(t.in)
			m.count = func() (int64, error) {
				by, err := count()
				var n int64
				for _, v := range by {
					n += v
				}
				return n, err
			}
			measure(ctx, cl, m, get(t.in.proc.url()+path, h, http.StatusOK))
			b.note("checks: %s %s c=%d round %d: %d checks in %s, p99 %s", t.in.backend, t.variant, c, r, cl.counted, cl.elapsed.Round(time.Millisecond), cl.p99)
			return cl
		})
	})
	if err != nil {
		return err
	}
	// The comparison means something only if the checks ran and passed: each
	// checking latchkey must have found connections ok (a short window may see
	// none), and nothing else.
	for _, in := range b.checking {
		deadline := time.Now().Add(30 * time.Second)
		for {
			by, err := healthChecks(in)()
			if err != nil {
				return err
			}
			for status, n := range by {
				if status != "ok" && n > 0 {
					return fmt.Errorf("%s: %d health checks found %s: the comparison would measure failing checks", in.backend, n, status)
				}
			}
			if by["ok"] > 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s: latchkey with %d connections due ran no health check in the run: the comparison measured nothing", in.backend, b.o.conns)
			}
			pause(ctx, 100*time.Millisecond)
		}
	}
	b.rep.checksTable(b)
	return nil
}

// healthChecks reads latchkey_health_checks_total from in's /metrics, by status.
func healthChecks(in *instance) func() (map[string]int64, error) {
	return func() (map[string]int64, error) {
		req, err := http.NewRequest(http.MethodGet, in.proc.url()+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+metricsToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /metrics: status %d", res.StatusCode)
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
		if err != nil {
			return nil, err
		}
		by := map[string]int64{}
		for _, l := range strings.Split(string(body), "\n") {
			rest, ok := strings.CutPrefix(l, `latchkey_health_checks_total{status="`)
			if !ok {
				continue
			}
			status, v, ok := strings.Cut(rest, `"} `)
			if !ok {
				return nil, fmt.Errorf("GET /metrics: %q", l)
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("GET /metrics: %q", l)
			}
			by[status] += int64(f)
		}
		return by, nil
	}
}
