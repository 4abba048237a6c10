package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

func TestRestartKeepsEverything(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	tok := h.session(client.ConnectSessionRequest{})
	id := h.connect(tok, "jira")
	if err := h.c.SetMetadata(h.ctx(), "jira", map[string]any{"k": "v"}, id); err != nil {
		t.Fatal(err)
	}
	h.restart()
	c, err := h.c.GetConnection(h.ctx(), "jira", id)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if c.Credentials.Password != atlassiansim.DemoToken || c.Metadata["k"] != "v" || c.ConnectionConfig["accountId"] == nil {
		t.Errorf("after restart: %+v", c)
	}
	if _, err := h.c.GetConnectSession(h.ctx(), tok); err != nil {
		t.Errorf("session lost on restart: %v", err)
	}
}

func TestWrongEncryptionKeyFailsAtStart(t *testing.T) {
	k1, _ := secret.GenerateKey()
	k2, _ := secret.GenerateKey()
	h := newHarness(t, "LATCHKEY_ENCRYPTION_KEY="+secret.EncodeKey(k1))
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.stop()

	h.env["LATCHKEY_ENCRYPTION_KEY"] = secret.EncodeKey(k2)
	_, err := h.open()
	if err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), secret.KeyID(k1)) || !strings.Contains(err.Error(), secret.KeyID(k2)) {
		t.Fatalf("start with another key: %v", err)
	}
	if strings.Contains(err.Error(), secret.EncodeKey(k1)) || strings.Contains(err.Error(), secret.EncodeKey(k2)) {
		t.Fatal("the error reveals a key")
	}

	// A ring with the new key first and the old one after it starts and reads old data.
	h.env["LATCHKEY_ENCRYPTION_KEY"] = secret.EncodeKey(k2) + "," + secret.EncodeKey(k1)
	h.start()
	c, err := h.c.GetConnection(h.ctx(), "jira", id)
	if err != nil || c.Credentials.Password != atlassiansim.DemoToken {
		t.Fatalf("read with ring: %v", err)
	}
	// New data is sealed with the first key.
	id2 := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	var sealed string
	if err := h.app.Store().DB().QueryRow(`SELECT credentials FROM connections WHERE connection_id = ?`, id2).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if kid, _ := secret.CiphertextKeyID(sealed); kid != secret.KeyID(k2) {
		t.Errorf("new row sealed with %s, want %s", kid, secret.KeyID(k2))
	}
}

func TestGeneratedKeyFileIsCheckedToo(t *testing.T) {
	// An empty database written with the generated key file refuses another key.
	h := newHarness(t)
	h.stop()
	k, _ := secret.GenerateKey()
	h.env["LATCHKEY_ENCRYPTION_KEY"] = secret.EncodeKey(k)
	if _, err := h.open(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("start with another key on an empty database: %v", err)
	}
}

// Credentials sealed for one row cannot be moved to another.
func TestCiphertextIsBoundToItsRow(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	a := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	b := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	db := h.app.Store().DB()
	if _, err := db.Exec(`UPDATE connections SET credentials = (SELECT credentials FROM connections WHERE connection_id = ?) WHERE connection_id = ?`, a, b); err != nil {
		t.Fatal(err)
	}
	_, err := h.c.GetConnection(h.ctx(), "jira", b)
	if e := apiErr(t, err); e.Status != 500 || e.Code != "internal_error" || strings.Contains(e.Message, "decrypt") {
		t.Errorf("swapped ciphertext: %+v", e)
	}
	if !strings.Contains(h.logs.String(), "cannot decrypt") {
		t.Error("the failure was not logged")
	}
}

// Shutdown stops the background work (here a webhook delivery to a receiver
// that never answers) before Serve returns, so the store can be closed right
// after without the work failing against a closed database.
func TestShutdownWaitsForBackgroundWork(t *testing.T) {
	arrived := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // so that the server notices when the client gives up
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer hang.Close()
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+hang.URL)
	h.integration("jira", atlassian)
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- h.app.ServeListener(ctx, ln, nil) }()
	<-arrived // the dispatcher is delivering, and the receiver holds it
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	h.stop() // closes the store at once
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, "database is closed") || strings.Contains(line, "not saved") {
			t.Errorf("background work ran on after shutdown: %s", line)
		}
	}
}
