package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// A real `latchkey serve` killed with SIGKILL while 50 clients create
// connections (connect session + submission verified with the simulated
// Atlassian, and imports) loses none it acknowledged: after a restart on the same
// database, every connection answered 200/201 is there and its credentials
// decrypt; every connection that is there at all decrypts.
func TestKillDuringConcurrentCreationsSQLite(t *testing.T) {
	k, _ := secret.GenerateKey()
	dir := t.TempDir()
	killDuringCreations(t, map[string]string{"LATCHKEY_DATA_DIR": dir, "LATCHKEY_ENCRYPTION_KEY": secret.EncodeKey(k)})
}

func TestKillDuringConcurrentCreationsPostgres(t *testing.T) {
	k, _ := secret.GenerateKey()
	killDuringCreations(t, map[string]string{"LATCHKEY_DATABASE_URL": testdb.PostgresURL(t), "LATCHKEY_ENCRYPTION_KEY": secret.EncodeKey(k)})
}

const (
	crashWorkers = 50
	// crashAfter is how many acknowledged creations the kill waits for: the 50
	// workers create one after another, so many are in flight when it lands.
	crashAfter = 40
)

func killDuringCreations(t *testing.T, env map[string]string) {
	sim := atlassiansim.New()
	simSrv := sim.NewServer()
	defer simSrv.Close()
	env["LATCHKEY_SECRET_KEY"] = testSecretKey
	env["LATCHKEY_UPSTREAM_REWRITE"] = "https://api.atlassian.com=" + simSrv.URL
	p := startServe(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := client.New(p.url, testSecretKey)
	if _, err := c.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "jira"}); err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		acked   []string // connection ids answered 200/201
		refused []error  // answers that were not a success, before the kill
		unacked atomic.Int64
		killed  = make(chan struct{})
		kill    sync.Once
	)
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker has its own connections to latchkey, like separate clients.
			wc := client.New(p.url, testSecretKey, client.WithHTTPClient(&http.Client{Timeout: time.Minute, Transport: &http.Transport{}}))
			for n := 0; ; n++ {
				select {
				case <-killed:
					return
				default:
				}
				id, err := createOne(ctx, wc, w, n)
				if err != nil {
					var apiErr *client.Error
					select {
					case <-killed:
						unacked.Add(1) // cut off by the kill: may or may not exist
						return
					default:
					}
					if errors.As(err, &apiErr) {
						mu.Lock()
						refused = append(refused, fmt.Errorf("worker %d #%d: %w", w, n, err))
						mu.Unlock()
					}
					unacked.Add(1)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				enough := len(acked) == crashAfter
				mu.Unlock()
				if enough {
					kill.Do(func() {
						p.kill()
						close(killed)
					})
				}
			}
		}()
	}
	wg.Wait()
	kill.Do(func() { close(killed) }) // in case the workers stopped before the kill (a failure below)
	if len(refused) > 0 {
		t.Fatalf("creations refused before the kill (the test expects every one to succeed): %v", refused)
	}
	if len(acked) < crashAfter {
		t.Fatalf("only %d creations acknowledged before the workers stopped; the kill never happened", len(acked))
	}
	if unacked.Load() == 0 {
		t.Fatal("no creation was in flight when the process was killed: the test proved nothing")
	}
	t.Logf("killed after %d acknowledged creations; %d cut off in flight", len(acked), unacked.Load())

	// Same database, same keys: a new process.
	p2 := startServe(t, env)
	c2 := client.New(p2.url, testSecretKey)
	for _, id := range acked {
		conn, err := c2.GetConnection(ctx, "jira", id)
		if err != nil {
			t.Errorf("acknowledged connection %s after the restart: %v", id, err)
			continue
		}
		if conn.Credentials.Username != atlassiansim.DemoEmail || conn.Credentials.Password != atlassiansim.DemoToken || conn.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID {
			t.Errorf("connection %s after the restart: credentials %+v, config %v", id, conn.Credentials, conn.ConnectionConfig)
		}
	}
	// No torn row either: whatever landed, acknowledged or not, reads back whole.
	all, err := c2.ListConnections(ctx, client.ListConnectionsOptions{Limit: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < len(acked) {
		t.Errorf("%d connections listed after the restart, %d were acknowledged", len(all), len(acked))
	}
	for _, s := range all {
		if conn, err := c2.GetConnection(ctx, "jira", s.ConnectionID); err != nil || conn.Credentials.Password != atlassiansim.DemoToken {
			t.Errorf("connection %s (listed) does not read back: %v", s.ConnectionID, err)
		}
	}
}

// createOne creates one connection: even workers through a connect session and
// a submission (verified with the simulator), odd ones by import.
func createOne(ctx context.Context, c *client.Client, worker, n int) (string, error) {
	if worker%2 == 1 {
		id := fmt.Sprintf("imported-%d-%d", worker, n)
		_, err := c.ImportConnection(ctx, client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: id,
			Credentials:      client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken},
			ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}})
		return id, err
	}
	s, err := c.CreateConnectSession(ctx, client.ConnectSessionRequest{EndUser: &client.EndUser{ID: fmt.Sprintf("user-%d-%d", worker, n)}})
	if err != nil {
		return "", err
	}
	res, err := c.SubmitBasic(ctx, s.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		return "", err
	}
	return res.ConnectionID, nil
}
