package app_test

import (
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// tcpGate forwards connections to a backend and can cut them all and refuse
// new ones, like a database that went away, then let them through again.
type tcpGate struct {
	addr, backend string
	mu            sync.Mutex
	ln            net.Listener
	conns         map[net.Conn]bool
}

func newGate(t *testing.T, backend string) *tcpGate {
	g := &tcpGate{backend: backend, conns: map[net.Conn]bool{}}
	g.open(t, "127.0.0.1:0")
	t.Cleanup(g.cut)
	return g
}

func (g *tcpGate) open(t *testing.T, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.ln, g.addr = ln, ln.Addr().String()
	g.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", g.backend)
			if err != nil {
				c.Close()
				continue
			}
			g.mu.Lock()
			g.conns[c], g.conns[b] = true, true
			g.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection: the database is gone.
func (g *tcpGate) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		g.ln.Close()
		g.ln = nil
	}
	for c := range g.conns {
		c.Close()
	}
	g.conns = map[net.Conn]bool{}
}

// PostgreSQL going away: requests fail fast with 503 database_unavailable, the
// service recovers by itself when it is back, and nothing acknowledged is lost.
func TestDatabaseOutage(t *testing.T) {
	dbURL := testdb.PostgresURL(t)
	u, _ := url.Parse(dbURL)
	gate := newGate(t, u.Host)
	u.Host = gate.addr
	h := newHarness(t, "LATCHKEY_DATABASE_URL="+u.String(), "LATCHKEY_DATABASE_CONNECT_TIMEOUT=500ms")
	h.integration("jira", atlassian)

	var acked []string
	connect := func() error {
		s, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u"}})
		if err != nil {
			return err
		}
		r, err := h.c.SubmitBasic(h.ctx(), s.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
		if err != nil {
			return err
		}
		acked = append(acked, r.ConnectionID)
		return nil
	}
	for i := 0; i < 5; i++ {
		if err := connect(); err != nil {
			t.Fatal(err)
		}
	}
	gate.cut()
	for i := 0; i < 5; i++ {
		err := connect()
		e := apiErr(t, err)
		if e.Status != 503 || e.Code != "database_unavailable" {
			t.Fatalf("while down: %+v", e)
		}
	}
	status, body, hdr := h.raw("GET", "/ready", "", "", "")
	if status != 503 || !strings.Contains(body, "database_unavailable") {
		t.Errorf("/ready while down: %d %s", status, body)
	}
	_ = hdr
	if status, _, _ := h.raw("GET", "/health", "", "", ""); status != 200 {
		t.Errorf("/health (liveness) while the database is down: %d", status)
	}
	gate.open(t, gate.addr) // back, on the same address
	for i := 0; i < 5; i++ {
		if err := connect(); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	if status, _, _ := h.raw("GET", "/ready", "", "", ""); status != 200 {
		t.Errorf("/ready after recovery: %d", status)
	}
	for _, id := range acked {
		if _, err := h.c.GetConnection(h.ctx(), "jira", id); err != nil {
			t.Errorf("acknowledged connection %s lost: %v", id, err)
		}
	}
	if len(acked) != 10 {
		t.Errorf("%d acknowledged, want 10", len(acked))
	}
}
