package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// A key revoked on one instance is refused by the other as soon as the
// revocation notice arrives, not when its cached copy would have expired;
// the other keys keep working there.
func TestRevokedKeyRefusedOnEveryInstance(t *testing.T) {
	dbURL := testdb.PostgresURL(t)
	key, _ := secret.GenerateKey()
	env := map[string]string{"LATCHKEY_DATABASE_URL": dbURL, "LATCHKEY_ENCRYPTION_KEY": secret.EncodeKey(key), "LATCHKEY_SECRET_KEY": testSecretKey}
	var a, b *serveProc
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = startServe(t, env) }()
	go func() { defer wg.Done(); b = startServe(t, env) }()
	wg.Wait()
	call := func(p *serveProc, method, path, bearer string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, p.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	st, body := call(a, "POST", "/environment/secret-keys", testSecretKey)
	var created struct {
		Data struct {
			ID        int64  `json:"id"`
			SecretKey string `json:"secret_key"`
		}
	}
	if st != 201 || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("create on A: %d %s", st, body)
	}
	second := created.Data.SecretKey
	// An operator signs in to the console on A with the second key; the
	// session works on B.
	op := newOperator(t, func() string { return a.url })
	if p := op.signIn(second); p.status != 303 {
		t.Fatalf("console sign-in on A: %d", p.status)
	}
	op.base = func() string { return b.url }
	if p := op.get("/admin"); p.status != 200 {
		t.Fatalf("A's console session on B: %d %q", p.status, p.location)
	}
	// B caches both keys.
	for _, k := range []string{testSecretKey, second} {
		if st, body := call(b, "GET", "/integrations", k); st != 200 {
			t.Fatalf("on B before the revocation: %d %s", st, body)
		}
	}
	before := metricValue(t, b, "latchkey_change_notices_received_total")
	if st, body := call(a, "POST", "/environment/secret-keys/"+itoa(created.Data.ID)+"/revoke", testSecretKey); st != 200 {
		t.Fatalf("revoke on A: %d %s", st, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, b, "latchkey_change_notices_received_total") <= before {
		if time.Now().After(deadline) {
			t.Fatalf("B never received A's revocation notice; A's failed notices: %v", metricValue(t, a, "latchkey_change_notices_failed_total"))
		}
		time.Sleep(10 * time.Millisecond) // waits for an asynchronous notice; bounded by the deadline
	}
	if st, body := call(b, "GET", "/integrations", second); st != 401 || !strings.Contains(body, "unknown_account") {
		t.Errorf("B accepted a key revoked on A after applying A's notice: %d %s", st, body)
	}
	if st, _ := call(b, "GET", "/integrations", testSecretKey); st != 200 {
		t.Errorf("B refused the key that was not revoked: %d", st)
	}
	if p := op.get("/admin"); p.status != 303 || !strings.Contains(p.location, "done=ended") {
		t.Errorf("the console session of the revoked key on B: %d %q", p.status, p.location)
	}
	if n := metricValue(t, a, "latchkey_change_notices_failed_total"); n != 0 {
		t.Errorf("A failed to send %v notices", n)
	}
}
