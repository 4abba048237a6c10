package keyrotation_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/keyrotation"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

const secretKey = "sk_rotation_test_5f0c9a7e31d84b62a9e0c7f1d3b5a8e2"

// latchkey is a real latchkey (real router, SQLite in a temp dir, the generated
// key file) whose Atlassian traffic goes to the simulator.
type latchkey struct {
	t     *testing.T
	env   map[string]string
	cfg   *config.Config
	app   *app.App
	srv   *httptest.Server
	c     *client.Client
	hooks *atomic.Int32
}

func start(t *testing.T) *latchkey {
	t.Helper()
	sim := httptest.NewServer(atlassiansim.New())
	t.Cleanup(sim.Close)
	hooks := &atomic.Int32{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Nango-Hmac-Sha256") != "" {
			hooks.Add(1)
		}
	}))
	t.Cleanup(receiver.Close)
	l := &latchkey{t: t, hooks: hooks, env: map[string]string{
		"LATCHKEY_DATA_DIR":         t.TempDir(),
		"LATCHKEY_SECRET_KEY":       secretKey,
		"LATCHKEY_WEBHOOK_URL":      receiver.URL,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + sim.URL,
	}}
	cfg, err := config.Load(func(k string) string { return l.env[k] }, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l.cfg = cfg
	l.restart()
	return l
}

func (l *latchkey) restart() {
	l.t.Helper()
	l.stop()
	a, err := app.New(context.Background(), l.cfg, slog.New(slog.DiscardHandler), app.Deps{})
	if err != nil {
		l.t.Fatalf("start latchkey: %v", err)
	}
	l.app, l.srv = a, httptest.NewServer(a.Handler())
	l.c = client.New(l.srv.URL, secretKey)
	l.t.Cleanup(l.stop)
}

func (l *latchkey) stop() {
	if l.srv != nil {
		l.srv.Close()
		l.app.Close()
		l.srv, l.app = nil, nil
	}
}

func (l *latchkey) connect() string {
	l.t.Helper()
	s, err := l.c.CreateConnectSession(context.Background(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "user-1"}})
	if err != nil {
		l.t.Fatal(err)
	}
	res, err := l.c.SubmitBasic(context.Background(), s.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		l.t.Fatalf("submit: %v", err)
	}
	return res.ConnectionID
}

func (l *latchkey) readAll(ids []string) {
	l.t.Helper()
	for _, id := range ids {
		if c, err := l.c.GetConnection(context.Background(), "jira", id); err != nil || c.Credentials.Password != atlassiansim.DemoToken {
			l.t.Fatalf("read %s: %v", id, err)
		}
	}
}

// rotate runs a rotation on the stopped latchkey's database, as `latchkey keys rotate` does.
func (l *latchkey) rotate(ctx context.Context, batch int, progress func(done, total int)) (*keyrotation.Report, error) {
	l.t.Helper()
	st, err := app.OpenStore(ctx, l.cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	defer st.Close()
	return keyrotation.Rotate(ctx, st, keyrotation.Options{KeyFile: l.cfg.KeyFile(), Environments: []string{app.DefaultEnvironment}, Batch: batch, Progress: progress})
}

// Key rotation, interrupted and resumed: every credential ends up sealed with
// the new key, and the old key can then be removed.
func TestRotationInterruptedAndResumed(t *testing.T) {
	l := start(t)
	if _, err := l.c.CreateIntegration(context.Background(), client.CreateIntegrationRequest{Provider: "atlassian-service-account-api-token", UniqueKey: "jira"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 7 {
		ids = append(ids, l.connect())
	}
	l.stop()
	oldKeys, err := keyrotation.ReadKeyFile(l.cfg.KeyFile())
	if err != nil {
		t.Fatal(err)
	}

	// Interrupted after the first batch of 3.
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := l.rotate(ctx, 3, func(done, total int) {
		if total != 7 {
			t.Errorf("total %d", total)
		}
		cancel()
	})
	if !errors.Is(err, context.Canceled) || rep.Resealed != 3 || rep.KeyFile != l.cfg.KeyFile() {
		t.Fatalf("interrupted: %+v %v", rep, err)
	}
	// Both keys are in the file; latchkey starts and reads everything.
	l.restart()
	l.readAll(ids)
	l.stop()

	// Resumed: the same new key, the rest re-encrypted.
	rep2, err := l.rotate(context.Background(), 3, nil)
	if err != nil || rep2.NewKeyID != rep.NewKeyID || rep2.Resealed != 4 || rep2.SigningKeys != 1 || rep2.KeyFile != "" ||
		len(rep2.Unused) != 1 || rep2.Unused[0] != secret.KeyID(oldKeys[0]) {
		t.Fatalf("resumed: %+v %v", rep2, err)
	}
	// The old key removed: latchkey starts with the new one alone and reads everything.
	keys, _ := keyrotation.ReadKeyFile(l.cfg.KeyFile())
	if len(keys) != 2 || secret.KeyID(keys[0]) != rep.NewKeyID {
		t.Fatalf("key file after rotation: %d keys", len(keys))
	}
	os.WriteFile(l.cfg.KeyFile(), []byte(secret.EncodeKey(keys[0])+"\n"), 0o600)
	l.restart()
	l.readAll(ids)
	// Webhooks still sign (the signing key was re-encrypted too).
	l.connect()
	before := l.hooks.Load()
	if _, err := l.app.Webhooks().RunOnce(context.Background()); err != nil || l.hooks.Load() <= before {
		t.Errorf("no signed webhook after rotation: %v", err)
	}
	db, _ := os.ReadFile(filepath.Join(l.cfg.DataDir, "latchkey.db"))
	wal, _ := os.ReadFile(filepath.Join(l.cfg.DataDir, "latchkey.db-wal"))
	if strings.Contains(string(db)+string(wal), atlassiansim.DemoToken) {
		t.Error("a token is stored in clear")
	}
}

// With LATCHKEY_ENCRYPTION_KEY the operator lists the new key first; rotation
// re-encrypts to it and never writes a key file.
func TestRotationToAConfiguredKey(t *testing.T) {
	l := start(t)
	if _, err := l.c.CreateIntegration(context.Background(), client.CreateIntegrationRequest{Provider: "atlassian-service-account-api-token", UniqueKey: "jira"}); err != nil {
		t.Fatal(err)
	}
	ids := []string{l.connect(), l.connect()}
	l.stop()
	old, _ := keyrotation.ReadKeyFile(l.cfg.KeyFile())
	newKey, _ := secret.GenerateKey()
	os.Remove(l.cfg.KeyFile())
	l.cfg.EncryptionKeys = [][]byte{newKey, old[0]}

	st, err := app.OpenStore(context.Background(), l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := keyrotation.Rotate(context.Background(), st, keyrotation.Options{Keys: l.cfg.EncryptionKeys, KeyFile: l.cfg.KeyFile(), Environments: []string{app.DefaultEnvironment}})
	st.Close()
	if err != nil || rep.NewKeyID != secret.KeyID(newKey) || rep.Resealed != 2 || rep.KeyFile != "" || len(rep.Unused) != 1 {
		t.Fatalf("rotate: %+v %v", rep, err)
	}
	if _, err := os.Stat(l.cfg.KeyFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file was written: %v", err)
	}
	l.cfg.EncryptionKeys = [][]byte{newKey}
	l.restart()
	l.readAll(ids)
}

// A ring that cannot open the database is refused with the key id the data
// needs, and nothing is re-encrypted.
func TestCheckNamesTheKeyTheDataNeeds(t *testing.T) {
	l := start(t)
	l.stop()
	old, _ := keyrotation.ReadKeyFile(l.cfg.KeyFile())
	other, _ := secret.GenerateKey()
	ring, _ := secret.NewKeyRing(other)
	st, err := store.OpenSQLite(context.Background(), l.cfg.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = keyrotation.Check(context.Background(), st, ring)
	if err == nil || !strings.Contains(err.Error(), secret.KeyID(old[0])) || !strings.Contains(err.Error(), secret.KeyID(other)) {
		t.Errorf("check with the wrong key: %v", err)
	}
	if _, err := keyrotation.Rotate(context.Background(), st, keyrotation.Options{Keys: [][]byte{other}}); err == nil {
		t.Error("rotation with a key that cannot open the data went ahead")
	}
}
