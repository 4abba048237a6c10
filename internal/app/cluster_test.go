package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// latchkeyBinary builds cmd/latchkey once per test run.
func latchkeyBinary() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "latchkey-test-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "latchkey")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "../../cmd/latchkey").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("build latchkey: %v: %s", err, out)
		}
	})
	return buildOnce.path, buildOnce.err
}

type serveProc struct {
	url  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// startServe runs `latchkey serve` as a real process and waits until it says
// it is ready. env adds to (and may override) the defaults: a fresh data dir,
// JSON logs, a free loopback address. Call it from the test's goroutine; other
// goroutines use launchServe.
func startServe(t *testing.T, env map[string]string) *serveProc {
	t.Helper()
	p, err := launchServe(t, env)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launchServe is startServe for any goroutine: it returns what went wrong
// instead of calling t.Fatal (which, off the test's goroutine, would leave the
// caller with a nil process and the test with a panic instead of a failure).
func launchServe(t *testing.T, env map[string]string) (*serveProc, error) {
	bin, err := latchkeyBinary()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dataDir, err := os.MkdirTemp("", "latchkey-serve-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LATCHKEY_ADDR=" + addr, "LATCHKEY_LOG_FORMAT=json", "LATCHKEY_DATA_DIR=" + dataDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v) // the last of duplicate keys wins
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serveProc{url: "http://" + addr, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), `"msg":"latchkey ready"`) {
				select {
				case ready <- true:
				default:
				}
			}
		}
		close(p.done)
		select {
		case ready <- false:
		default:
		}
	}()
	if !<-ready {
		cmd.Wait()
		return nil, fmt.Errorf("latchkey serve did not start:\n%s", p.logs.String())
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		<-p.done
		cmd.Wait()
		if t.Failed() {
			t.Logf("logs of %s:\n%s", p.url, p.logs.String())
		}
	})
	return p, nil
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *serveProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
	p.cmd.Wait()
}

// Two real `latchkey serve` processes on one PostgreSQL behave as one service.
func TestTwoInstancesShareOnePostgres(t *testing.T) {
	dbURL := testdb.PostgresURL(t)
	sim := atlassiansim.New()
	simSrv := httptest.NewServer(sim)
	defer simSrv.Close()
	hooks := make(chan map[string]any, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		hooks <- b
	}))
	defer rcv.Close()
	key, _ := secret.GenerateKey()
	env := map[string]string{
		"LATCHKEY_DATABASE_URL": dbURL, "LATCHKEY_ENCRYPTION_KEY": secret.EncodeKey(key), "LATCHKEY_SECRET_KEY": testSecretKey,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + simSrv.URL, "LATCHKEY_WEBHOOK_URL": rcv.URL,
		"LATCHKEY_WEBHOOK_SIGNING_KEY": signingKey,
	}
	// Both start at once: the migration lock serialises them.
	var a, b *serveProc
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a, errA = launchServe(t, env) }()
	go func() { defer wg.Done(); b, errB = launchServe(t, env) }()
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("starting two instances at once: %v; %v", errA, errB)
	}
	ctx := context.Background()
	ca, cb := client.New(a.url, testSecretKey), client.New(b.url, testSecretKey)

	if _, err := ca.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "jira"}); err != nil {
		t.Fatal(err)
	}
	s, err := ca.CreateConnectSession(ctx, client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	// A session made on A is completed on B.
	res, err := cb.SubmitBasic(ctx, s.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		t.Fatalf("submit on B: %v", err)
	}
	// Read on A, proxied on B.
	conn, err := ca.GetConnection(ctx, "jira", res.ConnectionID)
	if err != nil || conn.Credentials.Password != atlassiansim.DemoToken {
		t.Fatalf("read on A: %v", err)
	}
	proxy := func(p *serveProc) int {
		req, _ := http.NewRequest("GET", p.url+"/proxy/ex/jira/"+atlassiansim.DemoCloudID+"/rest/api/3/myself", nil)
		req.Header.Set("Authorization", "Bearer "+testSecretKey)
		req.Header.Set("Provider-Config-Key", "jira")
		req.Header.Set("Connection-Id", res.ConnectionID)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode
	}
	if st := proxy(b); st != 200 {
		t.Fatalf("proxy on B: %d", st)
	}
	// The creation webhook is delivered once, though both dispatchers run.
	select {
	case h := <-hooks:
		if h["connectionId"] != res.ConnectionID || h["operation"] != "creation" {
			t.Errorf("webhook %v", h)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook")
	}
	// Deleted on A: gone on B, from the database at once and from B's proxy
	// cache as soon as A's change notice arrives (not when B's cached copy
	// expires): wait for B to apply A's notice, then B must refuse at once.
	before := metricValue(t, b, "latchkey_change_notices_received_total")
	if err := ca.DeleteConnection(ctx, "jira", res.ConnectionID); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.GetConnection(ctx, "jira", res.ConnectionID); err == nil {
		t.Error("B still reads a connection deleted on A")
	}
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, b, "latchkey_change_notices_received_total") <= before {
		if time.Now().After(deadline) {
			t.Fatalf("B never received A's change notice; A's failed notices: %v", metricValue(t, a, "latchkey_change_notices_failed_total"))
		}
		time.Sleep(10 * time.Millisecond) // waits for an asynchronous notice; bounded by the deadline
	}
	if st := proxy(b); st != 404 {
		t.Errorf("B proxied a connection deleted on A after applying A's notice: %d", st)
	}
	if n := metricValue(t, a, "latchkey_change_notices_failed_total"); n != 0 {
		t.Errorf("A failed to send %v change notices", n)
	}

	// Twenty connections through both instances: each webhook exactly once.
	want := map[string]bool{}
	for i := 0; i < 20; i++ {
		c := []*client.Client{ca, cb}[i%2]
		s, _ := c.CreateConnectSession(ctx, client.ConnectSessionRequest{EndUser: &client.EndUser{ID: fmt.Sprint("u", i)}})
		r, err := []*client.Client{cb, ca}[i%2].SubmitBasic(ctx, s.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
		if err != nil {
			t.Fatal(err)
		}
		want[r.ConnectionID] = true
	}
	got := map[string]int{}
	for len(got) < 20 {
		select {
		case h := <-hooks:
			got[h["connectionId"].(string)]++
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 20 webhooks arrived", len(got))
		}
	}
	// The dispatcher records a delivery after the receiver answers: wait (bounded)
	// until all 21 are recorded, then check each took exactly one attempt.
	type delivery struct {
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
	}
	var list struct{ Data []delivery }
	deadline = time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", a.url+"/webhooks/deliveries?status=delivered&limit=100", nil)
		req.Header.Set("Authorization", "Bearer "+testSecretKey)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(r.Body).Decode(&list)
		r.Body.Close()
		if len(list.Data) >= 21 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(list.Data) != 21 {
		t.Errorf("%d deliveries recorded as delivered, want 21", len(list.Data))
	}
	for _, d := range list.Data {
		if d.Attempts != 1 {
			t.Errorf("delivery %+v: each should be delivered on its one attempt", d)
		}
	}
	for id, n := range got {
		if !want[id] || n != 1 {
			t.Errorf("%s: %d webhooks", id, n)
		}
	}
}

// A whole connect flow on PostgreSQL through the in-process harness.
func TestLinkOnPostgres(t *testing.T) {
	h := newHarness(t, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(t))
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	c, err := h.c.GetConnection(h.ctx(), "jira", id)
	if err != nil || c.Credentials.Password != atlassiansim.DemoToken || c.ConnectionConfig["accountId"] != "712020:demo-bot" {
		t.Fatalf("on PostgreSQL: %+v %v", c, err)
	}
	h.restart()
	if c, err := h.c.GetConnection(h.ctx(), "jira", id); err != nil || c.Credentials.Password != atlassiansim.DemoToken {
		t.Fatalf("after restart: %v", err)
	}
}

// latchkey copy moves everything from SQLite to PostgreSQL; the copied
// instance serves the same credentials. Running it again copies nothing new.
func TestCopySQLiteToPostgres(t *testing.T) {
	pg := testdb.PostgresURL(t)
	k, _ := secret.GenerateKey()
	h := newHarness(t, "LATCHKEY_ENCRYPTION_KEY="+secret.EncodeKey(k))
	h.integration("jira", atlassian)
	id1 := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	id2 := h.connect(h.session(client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u2"}}), "jira")
	h.c.SetMetadata(h.ctx(), "jira", map[string]any{"k": "v"}, id2)
	open := h.session(client.ConnectSessionRequest{})
	h.stop()

	ctx := context.Background()
	src, err := store.OpenSQLite(ctx, filepath.Join(h.dir, "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	u, _ := url.Parse(pg)
	dst, err := store.OpenPostgres(ctx, pg, store.PostgresOptions{SearchPath: u.Query().Get("search_path")})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	dst.Migrate(ctx)
	stats, err := store.Copy(ctx, src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	byTable := map[string]store.CopyStats{}
	for _, s := range stats {
		byTable[s.Table] = s
	}
	if byTable["connections"].Copied != 2 || byTable["integrations"].Copied != 1 || byTable["connect_sessions"].Copied != 3 {
		t.Errorf("stats %+v", stats)
	}
	again, _ := store.Copy(ctx, src, dst, nil)
	for _, s := range again {
		if s.Copied != 0 {
			t.Errorf("second copy wrote %d rows of %s", s.Copied, s.Table)
		}
	}
	h.env["LATCHKEY_DATABASE_URL"] = pg
	h.start()
	for _, id := range []string{id1, id2} {
		c, err := h.c.GetConnection(h.ctx(), "jira", id)
		if err != nil || c.Credentials.Password != atlassiansim.DemoToken {
			t.Fatalf("%s on PostgreSQL: %v", id, err)
		}
	}
	if c, _ := h.c.GetConnection(h.ctx(), "jira", id2); c.Metadata["k"] != "v" {
		t.Error("metadata not copied")
	}
	if _, err := h.c.GetConnectSession(h.ctx(), open); err != nil {
		t.Errorf("session not copied: %v", err)
	}
	// New rows get new ids after the copied ones.
	if _, err := h.c.CreateIntegration(h.ctx(), client.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "jira2"}); err != nil {
		t.Errorf("insert after copy: %v", err)
	}
}

// metricValue reads one unlabelled counter from an instance's /metrics (0 when absent).
func metricValue(t *testing.T, p *serveProc, name string) float64 {
	t.Helper()
	r, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}
