package app_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// Key rotation, interrupted and resumed: every credential ends up sealed with
// the new key, and the old key can then be removed.
func TestKeyRotationInterruptedAndResumed(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	delete(h.env, "LATCHKEY_ENCRYPTION_KEY") // the generated key file
	h.integration("jira", atlassian)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, h.connect(h.session(client.ConnectSessionRequest{}), "jira"))
	}
	h.stop()
	cfg, err := config.Load(func(k string) string { return h.env[k] }, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	oldFile, _ := os.ReadFile(filepath.Join(h.dir, "encryption.key"))
	oldKeys, _ := secret.ParseKeys(strings.TrimSpace(string(oldFile)))

	// Interrupted after the first batch of 3.
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := app.RotateKeys(ctx, cfg, 3, func(done, total int) {
		if total != 7 {
			t.Errorf("total %d", total)
		}
		cancel()
	})
	if !errors.Is(err, context.Canceled) || rep.Resealed != 3 {
		t.Fatalf("interrupted: %+v %v", rep, err)
	}
	// Both keys are in the file; latchkey starts and reads everything.
	h.start()
	for _, id := range ids {
		if c, err := h.c.GetConnection(h.ctx(), "jira", id); err != nil || c.Credentials.Password != atlassiansim.DemoToken {
			t.Fatalf("mid-rotation read: %v", err)
		}
	}
	h.stop()
	// Resumed: the same new key, the rest re-encrypted.
	rep2, err := app.RotateKeys(context.Background(), cfg, 3, nil)
	if err != nil || rep2.NewKeyID != rep.NewKeyID || rep2.Resealed != 4 || rep2.SigningKeys != 1 || len(rep2.Unused) != 1 || rep2.Unused[0] != secret.KeyID(oldKeys[0]) {
		t.Fatalf("resumed: %+v %v", rep2, err)
	}
	// The old key removed: latchkey starts with the new one alone and reads everything.
	newFile, _ := os.ReadFile(filepath.Join(h.dir, "encryption.key"))
	newKey := strings.Split(strings.TrimSpace(string(newFile)), ",")[0]
	os.WriteFile(filepath.Join(h.dir, "encryption.key"), []byte(newKey+"\n"), 0o600)
	h.start()
	for _, id := range ids {
		if c, err := h.c.GetConnection(h.ctx(), "jira", id); err != nil || c.Credentials.Password != atlassiansim.DemoToken {
			t.Fatalf("read with the new key only: %v", err)
		}
	}
	// Webhooks still sign (the signing key was re-encrypted too).
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	if n := h.dispatch(); n < 1 {
		t.Error("no webhook after rotation")
	}
	if dump := h.dumpDB(); strings.Contains(dump, atlassiansim.DemoToken) {
		t.Error("a token is stored in clear")
	}
}
