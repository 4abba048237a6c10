package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/config"
)

// harness is a real latchkey (real router, real SQLite file in a temp dir)
// whose Atlassian traffic goes to the simulator.
type harness struct {
	t       testing.TB
	dir     string
	env     map[string]string
	sim     *atlassiansim.Sim
	simSrv  *httptest.Server
	app     *app.App
	srv     *httptest.Server
	c       *client.Client
	logs    *syncBuffer
	sleeps  []time.Duration
	sleepMu sync.Mutex
	clockMu sync.Mutex
	clock   time.Time
	// webhookTimeout, when set, replaces the 20 s delivery timeout.
	webhookTimeout time.Duration
	// sleepMovesClock makes every wait advance the clock (rate-limit tests).
	sleepMovesClock bool
	checkRate       float64
	// dns answers latchkey's lookups of webhook hosts (setDNS); no query
	// leaves the process.
	dnsMu sync.Mutex
	dns   map[string][]netip.Addr
	// refusedDials are the addresses loopbackOnly kept latchkey from
	// connecting to (under dnsMu).
	refusedDials []string
}

// setDNS makes host resolve to addrs for latchkey (none: it does not exist).
func (h *harness) setDNS(host string, addrs ...string) {
	h.dnsMu.Lock()
	defer h.dnsMu.Unlock()
	var list []netip.Addr
	for _, a := range addrs {
		list = append(list, netip.MustParseAddr(a))
	}
	h.dns[host] = list
}

func (h *harness) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	h.dnsMu.Lock()
	defer h.dnsMu.Unlock()
	if list := h.dns[host]; len(list) > 0 {
		return list, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// now is the clock latchkey sees; advance moves it.
func (h *harness) now() time.Time {
	h.clockMu.Lock()
	defer h.clockMu.Unlock()
	return h.clock
}

func (h *harness) advance(d time.Duration) {
	h.clockMu.Lock()
	defer h.clockMu.Unlock()
	h.clock = h.clock.Add(d)
}

type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	waiters map[string]chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	for text, ch := range s.waiters {
		if strings.Contains(s.b.String(), text) {
			close(ch)
			delete(s.waiters, text)
		}
	}
	return n, err
}

// waitFor returns a channel closed once the logs contain text.
func (s *syncBuffer) waitFor(text string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(s.b.String(), text) {
		close(ch)
		return ch
	}
	if s.waiters == nil {
		s.waiters = map[string]chan struct{}{}
	}
	if prev, ok := s.waiters[text]; ok {
		return prev
	}
	s.waiters[text] = ch
	return ch
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const testSecretKey = "sk_test_0123456789abcdef0123456789abcdef"

func newHarness(t testing.TB, extraEnv ...string) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), sim: atlassiansim.New(), logs: &syncBuffer{}, clock: time.Now().UTC().Truncate(time.Second), dns: map[string][]netip.Addr{}}
	h.setDNS("hooks.example.com", "203.0.113.80") // public (documentation range); never dialed
	h.simSrv = h.sim.NewServer()
	t.Cleanup(h.simSrv.Close)
	h.env = map[string]string{
		"LATCHKEY_DATA_DIR":         h.dir,
		"LATCHKEY_SECRET_KEY":       testSecretKey,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + h.simSrv.URL + ",https://auth.atlassian.com=" + h.simSrv.URL + ",https://*.atlassian.net=" + h.simSrv.URL,
		"LATCHKEY_LOG_FORMAT":       "json",
		"LATCHKEY_LOG_LEVEL":        "debug",
		// The receivers the tests run are loopback httptest servers.
		"LATCHKEY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
	}
	for _, kv := range extraEnv {
		k, v, _ := strings.Cut(kv, "=")
		h.env[k] = v
	}
	h.start()
	return h
}

func (h *harness) start() {
	h.t.Helper()
	a, err := h.open()
	if err != nil {
		h.t.Fatalf("start latchkey: %v", err)
	}
	h.app = a
	h.srv = httptest.NewServer(checkContract(h.t, a.Handler())) // every request and answer checked against the OpenAPI document
	h.c = client.New(h.srv.URL, testSecretKey)
	h.t.Cleanup(func() { h.stop() })
}

func (h *harness) open() (*app.App, error) {
	cfg, err := config.Load(func(k string) string { return h.env[k] }, nil, io.Discard)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return app.New(context.Background(), cfg, log, app.Deps{
		VerifyTimeout:  2 * time.Second,
		WebhookTimeout: h.webhookTimeout,
		Clock:          harnessClock{h},
		CheckRate:      h.checkRate,
		Resolver:       h.resolve,
		DialControl:    h.loopbackOnly,
	})
}

// loopbackOnly is latchkey's dial hook in tests: it runs on each address
// before a connection is attempted and refuses every one but loopback, so no
// test sends a packet to a public, private or metadata address, whatever it
// configures (a webhook to hooks.example.com, an unrewritten provider host).
// What it refused is kept for the tests that check it.
func (h *harness) loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err == nil && ap.Addr().Unmap().IsLoopback() {
		return nil
	}
	h.dnsMu.Lock()
	h.refusedDials = append(h.refusedDials, address)
	h.dnsMu.Unlock()
	return fmt.Errorf("test harness: not connecting to %s: tests reach loopback only", address)
}

// refused returns the addresses loopbackOnly refused to connect to.
func (h *harness) refused() []string {
	h.dnsMu.Lock()
	defer h.dnsMu.Unlock()
	return slices.Clone(h.refusedDials)
}

// harnessClock is the clock latchkey sees in tests: time moves only when a
// test says so (or, with sleepMovesClock, when latchkey waits); every wait is
// recorded and returns at once.
type harnessClock struct{ h *harness }

func (c harnessClock) Now() time.Time { return c.h.now() }

func (c harnessClock) Sleep(ctx context.Context, d time.Duration) error {
	h := c.h
	h.sleepMu.Lock()
	h.sleeps = append(h.sleeps, d)
	h.sleepMu.Unlock()
	if h.sleepMovesClock {
		h.advance(d)
	}
	return ctx.Err()
}

func (h *harness) stop() {
	if h.srv != nil {
		h.srv.Close()
		h.srv = nil
	}
	if h.app != nil {
		h.app.Close()
		h.app = nil
	}
}

func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// integration creates an integration of provider with key.
func (h *harness) integration(key, provider string) {
	h.t.Helper()
	if _, err := h.c.CreateIntegration(h.ctx(), client.CreateIntegrationRequest{Provider: provider, UniqueKey: key}); err != nil {
		h.t.Fatalf("create integration %s: %v", key, err)
	}
}

func (h *harness) session(req client.ConnectSessionRequest) string {
	h.t.Helper()
	if req.EndUser == nil {
		req.EndUser = &client.EndUser{ID: "user-1", Email: "ada@example.com", DisplayName: "Ada"}
	}
	s, err := h.c.CreateConnectSession(h.ctx(), req)
	if err != nil {
		h.t.Fatalf("create session: %v", err)
	}
	return s.Token
}

// raw sends a request with a body and returns status and body.
func (h *harness) raw(method, path, bearer, contentType, body string) (int, string, http.Header) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func apiErr(t testing.TB, err error) *client.Error {
	t.Helper()
	e, ok := err.(*client.Error)
	if !ok {
		t.Fatalf("want *client.Error, got %T %v", err, err)
	}
	return e
}

// dumpDB returns every text value in the database, to look for secrets.
func (h *harness) dumpDB() string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, "latchkey.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(h.dir, "latchkey.db-wal"))
	return string(b) + string(wal)
}

func (h *harness) countEvents(kind, outcome string) int {
	h.t.Helper()
	h.app.FlushEvents()
	var n int
	if err := h.app.Store().DB().QueryRow(`SELECT COUNT(*) FROM events WHERE kind = ? AND outcome = ?`, kind, outcome).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}
