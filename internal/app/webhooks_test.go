package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

const signingKey = "whsec_test_0123456789abcdef0123456789"

// receiver is a webhook endpoint that records what it gets and answers as told.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int
	hang   bool
}

type received struct {
	body    []byte
	headers http.Header
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: 200}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status, hang := r.status, r.hang
		r.got = append(r.got, received{b, req.Header.Clone()})
		r.mu.Unlock()
		if hang {
			<-req.Context().Done()
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(status int, hang bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.hang = status, hang
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (h *harness) dispatch() int {
	h.t.Helper()
	n, err := h.app.Webhooks().RunOnce(context.Background())
	if err != nil {
		h.t.Fatalf("dispatch: %v", err)
	}
	return n
}

func TestAuthWebhooksAreSignedAndShapedLikeNango(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL+"/hooks", "LATCHKEY_WEBHOOK_SIGNING_KEY="+signingKey)
	h.integration("jira", atlassian)
	tok := h.session(client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u1", Email: "a@b.co", Tags: map[string]string{"plan": "pro"}},
		Organization: &client.Organization{ID: "o1"}})
	id := h.connect(tok, "jira")
	if n := h.dispatch(); n != 1 {
		t.Fatalf("dispatched %d, want 1", n)
	}
	got := rcv.received()
	if len(got) != 1 {
		t.Fatalf("receiver got %d", len(got))
	}
	body := string(got[0].body)
	want := `{"authMode":"BASIC","connectionId":"` + id + `","endUser":{"endUserEmail":"a@b.co","endUserId":"u1","organizationId":"o1","tags":{"plan":"pro"}},` +
		`"environment":"dev","from":"nango","operation":"creation","provider":"atlassian-service-account-api-token","providerConfigKey":"jira","success":true,` +
		`"tags":{"end_user_email":"a@b.co","end_user_id":"u1","organization_id":"o1","plan":"pro"},"type":"auth"}`
	if body != want {
		t.Errorf("body\n got %s\nwant %s", body, want)
	}
	mac := hmac.New(sha256.New, []byte(signingKey))
	mac.Write(got[0].body)
	legacy := sha256.Sum256(append([]byte(signingKey), got[0].body...))
	if got[0].headers.Get("X-Nango-Hmac-Sha256") != hex.EncodeToString(mac.Sum(nil)) || got[0].headers.Get("X-Nango-Signature") != hex.EncodeToString(legacy[:]) ||
		got[0].headers.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", got[0].headers)
	}
	// A reconnect is an override.
	rs, _ := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if _, err := h.c.SubmitBasic(h.ctx(), rs.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken); err != nil {
		t.Fatal(err)
	}
	h.dispatch()
	if got = rcv.received(); len(got) != 2 || !strings.Contains(string(got[1].body), `"operation":"override"`) {
		t.Errorf("override webhook: %d %s", len(got), got[len(got)-1].body)
	}
	// Failures to verify and imports send nothing.
	_, err := h.c.SubmitBasic(h.ctx(), h.session(client.ConnectSessionRequest{}), "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, "x"+atlassiansim.DemoToken[1:])
	if err == nil {
		t.Fatal("wrong token accepted")
	}
	if n := h.dispatch(); n != 0 {
		t.Errorf("a failed verification sent %d webhooks", n)
	}
}

func TestWebhookTargets(t *testing.T) {
	primary, secondary, override := newReceiver(t), newReceiver(t), newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+primary.URL)
	h.integration("jira", atlassian)
	// Secondary URL through the API.
	status, body, _ := h.raw("PATCH", "/environment", testSecretKey, "application/json", `{"webhook_secondary_url":"`+secondary.URL+`"}`)
	if status != 200 || !strings.Contains(body, secondary.URL) || !strings.Contains(body, `"webhook_signing_key":"`) {
		t.Fatalf("PATCH /environment: %d %s", status, body)
	}
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()
	if len(primary.received()) != 1 || len(secondary.received()) != 1 {
		t.Errorf("primary %d, secondary %d", len(primary.received()), len(secondary.received()))
	}
	// A session's webhook_url_override replaces both.
	h.connect(h.session(client.ConnectSessionRequest{WebhookURLOverride: override.URL}), "jira")
	h.dispatch()
	if len(primary.received()) != 1 || len(secondary.received()) != 1 || len(override.received()) != 1 {
		t.Errorf("with override: primary %d, secondary %d, override %d", len(primary.received()), len(secondary.received()), len(override.received()))
	}
	// Rotating the signing key changes the signature.
	var env struct {
		Data struct {
			Key string `json:"webhook_signing_key"`
		} `json:"data"`
	}
	_, body, _ = h.raw("GET", "/environment", testSecretKey, "", "")
	json.Unmarshal([]byte(body), &env)
	old := env.Data.Key
	_, body, _ = h.raw("POST", "/environment/webhook-signing-key", testSecretKey, "", "")
	json.Unmarshal([]byte(body), &env)
	if env.Data.Key == old || len(env.Data.Key) < 32 {
		t.Errorf("rotate: %q → %q", old, env.Data.Key)
	}
	status, body, _ = h.raw("PATCH", "/environment", testSecretKey, "application/json", `{"webhook_url":"ftp://x"}`)
	if status != 400 || !strings.Contains(body, "webhook_url") {
		t.Errorf("bad URL: %d %s", status, body)
	}
}

// A receiver that is down, then up, gets each event; the attempts are visible.
func TestWebhookRetriesUntilDelivered(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	rcv.answer(503, false)
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()
	if n := h.dispatch(); n != 0 {
		t.Errorf("retried before its time: %d", n)
	}
	h.advance(13 * time.Second)
	h.dispatch() // second attempt, still 503
	h.advance(37 * time.Second)
	rcv.answer(200, false)
	if n := h.dispatch(); n != 1 {
		t.Fatalf("third attempt: %d", n)
	}
	if len(rcv.received()) != 3 {
		t.Errorf("receiver got %d", len(rcv.received()))
	}
	status, body, _ := h.raw("GET", "/webhooks/deliveries", testSecretKey, "", "")
	var list struct {
		Data []struct {
			ID       int64  `json:"id"`
			Status   string `json:"status"`
			Attempts int    `json:"attempts"`
			Type     string `json:"type"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(body), &list)
	if status != 200 || len(list.Data) != 1 || list.Data[0].Status != "delivered" || list.Data[0].Attempts != 3 || list.Data[0].Type != "auth.creation" {
		t.Fatalf("deliveries: %s", body)
	}
	_, body, _ = h.raw("GET", "/webhooks/deliveries/"+jsonNum(list.Data[0].ID), testSecretKey, "", "")
	if !strings.Contains(body, `"attempt_log":[{"attempt":1`) || strings.Count(body, `"status":503`) != 2 || !strings.Contains(body, `"operation":"creation"`) {
		t.Errorf("delivery detail: %s", body)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// 4xx means the receiver refuses the message: no retry; it can be retried by hand.
func TestWebhookGivesUpOnRefusal(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	rcv.answer(404, false)
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()
	h.advance(24 * time.Hour)
	if n := h.dispatch(); n != 0 {
		t.Errorf("a refused webhook was retried")
	}
	status, body, _ := h.raw("GET", "/webhooks/deliveries?status=failed", testSecretKey, "", "")
	if status != 200 || !strings.Contains(body, `"status":"failed"`) || !strings.Contains(body, "HTTP 404") {
		t.Fatalf("failed list: %s", body)
	}
	rcv.answer(200, false)
	if status, _, _ = h.raw("POST", "/webhooks/deliveries/1/retry", testSecretKey, "", ""); status != 202 {
		t.Errorf("retry: %d", status)
	}
	if n := h.dispatch(); n != 1 || len(rcv.received()) != 2 {
		t.Errorf("manual retry: %d, %d received", n, len(rcv.received()))
	}
}

// A hanging receiver times out, and the message stays pending for a retry.
func TestWebhookTimeout(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.stop()
	h.webhookTimeout = 200 * time.Millisecond
	h.start()
	h.integration("jira", atlassian)
	rcv.answer(200, true)
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()
	_, body, _ := h.raw("GET", "/webhooks/deliveries/1", testSecretKey, "", "")
	if !strings.Contains(body, `"error":"timed out"`) || !strings.Contains(body, `"status":"pending"`) {
		t.Errorf("after a timeout: %s", body)
	}
}

// Nothing is lost across a restart: an undelivered webhook (even one a
// dispatcher had claimed when it died) is delivered by the next process.
func TestWebhooksSurviveRestart(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	// A dispatcher claims one and dies before answering.
	if claimed, err := h.app.Store().ClaimWebhooks(context.Background(), h.now(), 2*time.Minute, 1); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %d", err, len(claimed))
	}
	h.restart()
	if n := h.dispatch(); n != 1 {
		t.Errorf("after restart: %d delivered, want the unclaimed one", n)
	}
	h.advance(3 * time.Minute) // the dead dispatcher's lease runs out
	if n := h.dispatch(); n != 1 {
		t.Errorf("after the lease: %d", n)
	}
	if len(rcv.received()) != 2 {
		t.Errorf("receiver got %d, want 2", len(rcv.received()))
	}
}

// Two dispatchers running at once deliver each message once per attempt.
func TestConcurrentDispatchersDeliverOnce(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	for i := 0; i < 20; i++ {
		h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	}
	other, err := h.open()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	for _, d := range []interface {
		RunOnce(context.Context) (int, error)
	}{h.app.Webhooks(), other.Webhooks()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if n, err := d.RunOnce(context.Background()); n == 0 || err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range rcv.received() {
		var b struct {
			ConnectionID string `json:"connectionId"`
		}
		json.Unmarshal(r.body, &b)
		seen[b.ConnectionID]++
	}
	if len(seen) != 20 {
		t.Errorf("%d distinct deliveries, want 20", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
}
