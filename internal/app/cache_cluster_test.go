package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// Integrations and environments are served from memory (internal/store,
// cache.go), yet a change made on one instance is seen on the other as soon
// as its notice arrives, not when the other's copy expires: two real
// `latchkey serve` processes on one PostgreSQL.
func TestCachedIntegrationsAndEnvironmentsFollowOtherInstances(t *testing.T) {
	dbURL := testdb.PostgresURL(t)
	sim := atlassiansim.New()
	simSrv := httptest.NewServer(sim)
	defer simSrv.Close()
	key, _ := secret.GenerateKey()
	env := map[string]string{
		"LATCHKEY_DATABASE_URL": dbURL, "LATCHKEY_ENCRYPTION_KEY": secret.EncodeKey(key), "LATCHKEY_SECRET_KEY": testSecretKey,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + simSrv.URL, "LATCHKEY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
	}
	a := startServe(t, env)
	b := startServe(t, env)
	ctx := context.Background()
	ca, cb := client.New(a.url, testSecretKey), client.New(b.url, testSecretKey)
	if _, err := ca.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "jira"}); err != nil {
		t.Fatal(err)
	}
	s, err := ca.CreateConnectSession(ctx, client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ca.SubmitBasic(ctx, s.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if err != nil {
		t.Fatal(err)
	}
	// seen waits until B sees a change made on A. B's copy was read at
	// cachedAt: seeing the change before that copy could expire (CacheTTL)
	// is A's notice at work; still seeing the old value then means no notice
	// arrived. On a machine too slow to look before then, it cannot tell.
	seen := func(what string, cachedAt time.Time, ok func() bool) {
		t.Helper()
		expires := cachedAt.Add(store.CacheTTL)
		lookedBefore := false
		for deadline := time.Now().Add(20 * time.Second); ; {
			at := time.Now()
			if ok() {
				break
			}
			if at.Before(expires) {
				lookedBefore = true
			} else if lookedBefore {
				t.Fatalf("B still served its copy from before %s made on A when the copy expired: no change notice arrived (A's failed notices: %v)",
					what, metricValue(t, a, "latchkey_change_notices_failed_total"))
			}
			if at.After(deadline) {
				t.Fatalf("B never saw %s made on A", what)
			}
			time.Sleep(10 * time.Millisecond) // waits for an asynchronous notice; bounded by the deadline
		}
		if !lookedBefore && time.Now().After(expires) {
			t.Logf("B saw %s, but only after its copy had expired: the notice is not proven this run", what)
		}
	}

	// The integration is renamed on A: B knows it by its new key only.
	cachedAt := time.Now()
	if _, err := cb.GetConnection(ctx, "jira", res.ConnectionID); err != nil {
		t.Fatalf("read on B: %v", err)
	}
	renamed := "jira-renamed"
	if _, err := ca.UpdateIntegration(ctx, "jira", client.UpdateIntegrationRequest{UniqueKey: &renamed}); err != nil {
		t.Fatal(err)
	}
	seen("the integration's new key", cachedAt, func() bool {
		_, err := cb.GetConnection(ctx, "jira", res.ConnectionID)
		return err != nil
	})
	if _, err := cb.GetConnection(ctx, renamed, res.ConnectionID); err != nil {
		t.Errorf("B does not read through the integration's new key: %v", err)
	}

	// The environment's webhook URL is changed on A: B shows the new one.
	cachedAt = time.Now()
	if got := environmentWebhook(t, b); got != "" {
		t.Fatalf("webhook URL on B: %q", got)
	}
	hook := "http://127.0.0.1:9/hooks"
	req, _ := http.NewRequest("PATCH", a.url+"/environment", strings.NewReader(`{"webhook_url":"`+hook+`"}`))
	req.Header.Set("Authorization", "Bearer "+testSecretKey)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("PATCH /environment on A: %d %s", r.StatusCode, body)
	}
	seen("the environment's new webhook URL", cachedAt, func() bool { return environmentWebhook(t, b) == hook })
	if n := metricValue(t, a, "latchkey_change_notices_failed_total"); n != 0 {
		t.Errorf("A failed to send %v change notices", n)
	}
}

// environmentWebhook is GET /environment's webhook_url on p.
func environmentWebhook(t *testing.T, p *serveProc) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/environment", nil)
	req.Header.Set("Authorization", "Bearer "+testSecretKey)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var v struct {
		Data struct {
			WebhookURL string `json:"webhook_url"`
		} `json:"data"`
	}
	if r.StatusCode != 200 || json.NewDecoder(r.Body).Decode(&v) != nil {
		t.Fatalf("GET /environment on %s: %d", p.url, r.StatusCode)
	}
	return v.Data.WebhookURL
}
