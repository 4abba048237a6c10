package app_test

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// noAllowance clears the harness's allowance of 127.0.0.0/8: webhook URLs set
// through the API must then be public.
const noAllowance = "LATCHKEY_WEBHOOK_ALLOWED_NETWORKS="

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Errors  []struct {
			Code    string   `json:"code"`
			Message string   `json:"message"`
			Path    []string `json:"path"`
		} `json:"errors"`
	} `json:"error"`
}

func (h *harness) patchEnvironment(field, value string) (int, apiError, string) {
	h.t.Helper()
	b, _ := json.Marshal(map[string]string{field: value})
	status, body, _ := h.raw("PATCH", "/environment", testSecretKey, "application/json", string(b))
	var e apiError
	json.Unmarshal([]byte(body), &e)
	return status, e, body
}

// PATCH /environment refuses URLs that are, or resolve to, loopback,
// private, link-local, multicast or unspecified addresses, with a 400 that
// names the field and does not repeat what a name resolved to.
func TestWebhookURLsSetThroughTheAPIStayPublic(t *testing.T) {
	h := newHarness(t, noAllowance)
	h.setDNS("intranet.test", "10.1.2.3")
	h.setDNS("mapped.test", "::ffff:192.168.1.1")
	h.setDNS("metadata.test", "169.254.169.254")
	h.setDNS("split.test", "203.0.113.5", "fd00::5")
	for _, c := range []struct{ url, code, kind string }{
		{"http://127.0.0.1:3003/hooks", "address_not_allowed", "loopback"},
		{"http://[::1]/hooks", "address_not_allowed", "loopback"},
		{"http://localhost:8080/hooks", "address_not_allowed", "loopback"},
		{"http://[::ffff:127.0.0.1]/hooks", "address_not_allowed", "loopback"},
		{"http://10.0.0.8/hooks", "address_not_allowed", "private"},
		{"http://192.168.0.1/hooks", "address_not_allowed", "private"},
		{"http://[fd00::1]/hooks", "address_not_allowed", "private"},
		{"http://169.254.169.254/latest/meta-data/", "address_not_allowed", "link-local"},
		{"http://[fe80::1]/hooks", "address_not_allowed", "link-local"},
		{"http://224.0.0.1/hooks", "address_not_allowed", "multicast"},
		{"http://[ff02::1]/hooks", "address_not_allowed", "multicast"},
		{"http://0.0.0.0/hooks", "address_not_allowed", "unspecified"},
		{"http://[::]/hooks", "address_not_allowed", "unspecified"},
		{"https://intranet.test/hooks", "address_not_allowed", "private"},
		{"https://mapped.test/hooks", "address_not_allowed", "private"},
		{"https://metadata.test/hooks", "address_not_allowed", "link-local"},
		{"https://split.test/hooks", "address_not_allowed", "private"},
		{"https://nowhere.test/hooks", "host_not_found", ""},
	} {
		for _, field := range []string{"webhook_url", "webhook_secondary_url"} {
			status, e, body := h.patchEnvironment(field, c.url)
			if status != 400 || e.Error.Code != "invalid_body" || len(e.Error.Errors) != 1 || e.Error.Errors[0].Code != c.code ||
				strings.Join(e.Error.Errors[0].Path, ".") != field || !strings.HasPrefix(e.Error.Message, field) || !strings.Contains(e.Error.Message, c.kind) {
				t.Errorf("%s = %s: %d %s", field, c.url, status, body)
			}
			for _, resolved := range []string{"10.1.2.3", "192.168.1.1", "169.254.169.254", "fd00::5"} {
				if !strings.Contains(c.url, resolved) && strings.Contains(body, resolved) {
					t.Errorf("%s = %s: the answer repeats the address the name resolved to: %s", field, c.url, body)
				}
			}
		}
	}
	// Public addresses and names that resolve to them are fine, and nothing
	// refused was saved.
	if status, _, body := h.patchEnvironment("webhook_url", "https://hooks.example.com/latchkey"); status != 200 {
		t.Fatalf("public name: %d %s", status, body)
	}
	if status, _, body := h.patchEnvironment("webhook_secondary_url", "http://203.0.113.7:8080/hooks"); status != 200 {
		t.Fatalf("public address: %d %s", status, body)
	}
	_, body, _ := h.raw("GET", "/environment", testSecretKey, "", "")
	if !strings.Contains(body, `"webhook_url":"https://hooks.example.com/latchkey"`) || !strings.Contains(body, `"webhook_secondary_url":"http://203.0.113.7:8080/hooks"`) {
		t.Errorf("settings: %s", body)
	}

	// The operator allows a network: URLs in it are accepted, others still not.
	h.stop()
	h.env["LATCHKEY_WEBHOOK_ALLOWED_NETWORKS"] = "10.0.0.0/8, fd00::/8"
	h.start()
	for _, u := range []string{"https://intranet.test/hooks", "http://10.9.9.9/hooks", "http://[::ffff:10.0.0.1]/hooks", "http://[fd00::1]/h"} {
		if status, _, body := h.patchEnvironment("webhook_url", u); status != 200 {
			t.Errorf("%s in an allowed network: %d %s", u, status, body)
		}
	}
	if status, _, body := h.patchEnvironment("webhook_url", "http://127.0.0.1:3003/hooks"); status != 400 {
		t.Errorf("loopback, not allowed: %d %s", status, body)
	}
}

// LATCHKEY_WEBHOOK_URL is configuration: trusted wherever it points, for
// delivery and when set again through the API; another loopback URL is not.
func TestConfiguredWebhookURLIsTrusted(t *testing.T) {
	rcv, other := newReceiver(t), newReceiver(t)
	h := newHarness(t, noAllowance, "LATCHKEY_WEBHOOK_URL="+rcv.URL+"/hooks")
	h.integration("jira", atlassian)
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()
	if len(rcv.received()) != 1 {
		t.Fatalf("the configured loopback receiver got %d webhooks", len(rcv.received()))
	}
	if status, _, body := h.patchEnvironment("webhook_url", rcv.URL+"/hooks"); status != 200 {
		t.Errorf("setting the configured URL again: %d %s", status, body)
	}
	if status, _, body := h.patchEnvironment("webhook_secondary_url", other.URL); status != 400 {
		t.Errorf("another loopback URL: %d %s", status, body)
	}
}

// The dispatcher checks every address it connects to: a name that resolved
// to a public address when it was set and resolves to loopback now (DNS
// rebinding), and a loopback URL the operator allowed once and no longer
// does, are refused without a connection, and the delivery fails with a
// message that names no address.
func TestDispatcherRefusesPrivateAddressesAtDialTime(t *testing.T) {
	rebound, once := newReceiver(t), newReceiver(t)
	h := newHarness(t)
	h.integration("jira", atlassian)
	port := mustPort(t, rebound.URL)
	h.setDNS("rebind.test", "203.0.113.9")
	if status, _, body := h.patchEnvironment("webhook_url", "http://rebind.test:"+port+"/hooks"); status != 200 {
		t.Fatalf("public at first: %d %s", status, body)
	}
	if status, _, body := h.patchEnvironment("webhook_secondary_url", once.URL+"/hooks"); status != 200 {
		t.Fatalf("loopback while allowed: %d %s", status, body)
	}
	h.stop()
	delete(h.env, "LATCHKEY_WEBHOOK_ALLOWED_NETWORKS")
	h.start()
	h.setDNS("rebind.test", "127.0.0.1")
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	if n := h.dispatch(); n != 2 {
		t.Fatalf("attempted %d, want 2", n)
	}
	if len(rebound.received()) != 0 || len(once.received()) != 0 {
		t.Fatalf("a refused address was reached: %d, %d", len(rebound.received()), len(once.received()))
	}
	status, body, _ := h.raw("GET", "/webhooks/deliveries?status=failed", testSecretKey, "", "")
	var list struct {
		Data []struct {
			ID        int64  `json:"id"`
			LastError string `json:"last_error"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(body), &list)
	if status != 200 || len(list.Data) != 2 {
		t.Fatalf("failed deliveries: %d %s", status, body)
	}
	for _, d := range list.Data {
		if !strings.HasPrefix(d.LastError, "refused: ") || !strings.Contains(d.LastError, "loopback") || strings.Contains(d.LastError, "127.0.0.1") || strings.Contains(d.LastError, port) {
			t.Errorf("delivery %d: last_error %q", d.ID, d.LastError)
		}
	}
}

// Errors shown through the API describe what went wrong without the address
// and port a host resolved to.
func TestDeliveryErrorsNameNoAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close() // nothing listens there now: connection refused
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.setDNS("closed.test", "127.0.0.1")
	if status, _, body := h.patchEnvironment("webhook_url", "http://closed.test:"+port+"/hooks"); status != 200 {
		t.Fatalf("PATCH: %d %s", status, body)
	}
	h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.dispatch()
	_, body, _ := h.raw("GET", "/webhooks/deliveries/1", testSecretKey, "", "")
	if !strings.Contains(body, `"error":"not delivered: connection refused"`) || !strings.Contains(body, `"status":"pending"`) {
		t.Errorf("delivery: %s", body)
	}
	if strings.Contains(body, "127.0.0.1") {
		t.Errorf("the delivery shows the resolved address: %s", body)
	}
}

func mustPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// Errors recorded before they were written in fixed words still show no
// address through the API.
func TestOldDeliveryErrorsShowNoAddress(t *testing.T) {
	h := newHarness(t)
	h.enqueue("https://hooks.example.com/latchkey")
	st := h.app.Store()
	claimed, err := st.ClaimWebhooks(context.Background(), h.now(), time.Minute, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v", err)
	}
	next := h.now().Add(time.Minute)
	for _, e := range []string{"not delivered: dial tcp 10.0.0.5:443: connect: connection refused",
		"not delivered: read tcp 127.0.0.1:51234->[fd00::5]:443: read: connection reset by peer"} {
		if err := st.CompleteWebhook(context.Background(), claimed[0].ID, domain.WebhookOutcome{Attempt: domain.WebhookAttempt{Attempt: 1, At: h.now(), Error: e}, Next: &next}); err != nil {
			t.Fatal(err)
		}
	}
	_, body, _ := h.raw("GET", "/webhooks/deliveries/"+jsonNum(claimed[0].ID), testSecretKey, "", "")
	_, list, _ := h.raw("GET", "/webhooks/deliveries", testSecretKey, "", "")
	for _, b := range []string{body, list} {
		for _, addr := range []string{"10.0.0.5", "fd00::5", "127.0.0.1", "51234"} {
			if strings.Contains(b, addr) {
				t.Errorf("shows %s: %s", addr, b)
			}
		}
	}
	if !strings.Contains(body, `"error":"not delivered: dial tcp [address]: connect: connection refused"`) ||
		!strings.Contains(list, `"last_error":"not delivered: read tcp [address]->[address]: read: connection reset by peer"`) {
		t.Errorf("errors: %s\n%s", body, list)
	}
}

// Tests never send a packet beyond loopback: a webhook to a public address
// (hooks.example.com answers 203.0.113.80 in the harness) is attempted, the
// network policy lets it through, and the harness's dial hook refuses the
// address before a connection is attempted; the delivery fails and will be
// retried, as any unreachable receiver's.
func TestHarnessConnectsToLoopbackOnly(t *testing.T) {
	h := newHarness(t)
	h.enqueue("https://hooks.example.com/latchkey")
	if n := h.dispatch(); n != 1 {
		t.Fatalf("attempted %d, want 1", n)
	}
	if got := h.refused(); len(got) != 1 || got[0] != "203.0.113.80:443" {
		t.Errorf("refused %v, want the public address, once", got)
	}
	status, body, _ := h.raw("GET", "/webhooks/deliveries?status=pending", testSecretKey, "", "")
	if status != 200 || !strings.Contains(body, "hooks.example.com") || strings.Contains(body, "203.0.113.80") {
		t.Errorf("deliveries: %d %s", status, body)
	}
}
