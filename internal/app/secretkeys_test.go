package app_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
)

type keyView struct {
	ID         int64   `json:"id"`
	Label      string  `json:"label"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	RevokedAt  *string `json:"revoked_at"`
	Current    bool    `json:"current"`
	SecretKey  string  `json:"secret_key"`
}

func (h *harness) keys(bearer string) []keyView {
	h.t.Helper()
	st, body, _ := h.raw("GET", "/environment/secret-keys", bearer, "", "")
	var out struct{ Data []keyView }
	if st != 200 || json.Unmarshal([]byte(body), &out) != nil {
		h.t.Fatalf("list keys: %d %s", st, body)
	}
	return out.Data
}

func (h *harness) newKey(bearer, label string) keyView {
	h.t.Helper()
	st, body, _ := h.raw("POST", "/environment/secret-keys", bearer, "application/json", `{"label":`+strconvQuote(label)+`}`)
	var out struct{ Data keyView }
	if st != 201 || json.Unmarshal([]byte(body), &out) != nil || out.Data.SecretKey == "" {
		h.t.Fatalf("create key: %d %s", st, body)
	}
	return out.Data
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

type auditView struct {
	ID     int64  `json:"id"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail"`
	Actor  struct {
		SecretKeyID int64  `json:"secret_key_id"`
		Via         string `json:"via"`
		Description string `json:"description"`
	} `json:"actor"`
}

func (h *harness) auditTrail(bearer, query string) []auditView {
	h.t.Helper()
	st, body, _ := h.raw("GET", "/audit"+query, bearer, "", "")
	var out struct{ Data []auditView }
	if st != 200 || json.Unmarshal([]byte(body), &out) != nil {
		h.t.Fatalf("audit: %d %s", st, body)
	}
	return out.Data
}

// Rotation without downtime through the API: a second key works alongside
// the first, the first is revoked and refused at once, the last key cannot
// be revoked, and a key is never shown again after its creation.
func TestSecretKeyRotationThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	keys := h.keys(testSecretKey)
	if len(keys) != 1 || !keys[0].Current || keys[0].Label != "first key" || keys[0].LastUsedAt == nil || keys[0].SecretKey != "" {
		t.Fatalf("keys at start: %+v", keys)
	}
	first := keys[0]
	second := h.newKey(testSecretKey, "billing service")
	if !strings.HasPrefix(second.SecretKey, "sk_dev_") || len(second.SecretKey) != len("sk_dev_")+64 || second.Label != "billing service" || second.Current {
		t.Fatalf("new key: %+v", second)
	}
	// Both keys work.
	for _, k := range []string{testSecretKey, second.SecretKey} {
		if _, err := client.New(h.srv.URL, k).ListIntegrations(h.ctx()); err != nil {
			t.Fatalf("with key %d…: %v", len(k), err)
		}
	}
	listed := h.keys(second.SecretKey)
	if len(listed) != 2 || listed[0].Current || !listed[1].Current || listed[1].LastUsedAt == nil {
		t.Errorf("listed with the second key: %+v", listed)
	}
	_, body, _ := h.raw("GET", "/environment/secret-keys", second.SecretKey, "", "")
	if strings.Contains(body, second.SecretKey) || strings.Contains(body, testSecretKey) || strings.Contains(body, "digest") {
		t.Errorf("a key is listed: %s", body)
	}
	// The second key revokes the first: refused at once.
	st, body, _ := h.raw("POST", "/environment/secret-keys/"+itoa(first.ID)+"/revoke", second.SecretKey, "", "")
	if st != 200 || !strings.Contains(body, `"revoked_at":"`) {
		t.Fatalf("revoke: %d %s", st, body)
	}
	st, body, _ = h.raw("GET", "/integrations", testSecretKey, "", "")
	if code, _, _ := errorCode(t, body); st != 401 || code != "unknown_account" {
		t.Errorf("revoked key: %d %s", st, body)
	}
	// The last active key cannot be revoked; unknown and malformed ids are named.
	st, body, _ = h.raw("POST", "/environment/secret-keys/"+itoa(second.ID)+"/revoke", second.SecretKey, "", "")
	if code, msg, _ := errorCode(t, body); st != 409 || code != "last_secret_key" || !strings.Contains(msg, "create another one") {
		t.Errorf("revoking the last key: %d %s", st, body)
	}
	st, body, _ = h.raw("POST", "/environment/secret-keys/999/revoke", second.SecretKey, "", "")
	if code, _, _ := errorCode(t, body); st != 404 || code != "unknown_secret_key" {
		t.Errorf("unknown key: %d %s", st, body)
	}
	st, body, _ = h.raw("POST", "/environment/secret-keys/abc/revoke", second.SecretKey, "", "")
	if code, _, _ := errorCode(t, body); st != 400 || code != "invalid_uri_params" {
		t.Errorf("malformed id: %d %s", st, body)
	}
	st, body, _ = h.raw("POST", "/environment/secret-keys", second.SecretKey, "application/json", `{"label":"`+strings.Repeat("x", 101)+`"}`)
	if code, _, fields := errorCode(t, body); st != 400 || code != "invalid_body" || len(fields) != 1 || fields[0][0] != "label" {
		t.Errorf("long label: %d %s", st, body)
	}
	st, body, _ = h.raw("POST", "/environment/secret-keys", second.SecretKey, "application/json", `{"name":"x"}`)
	if st != 400 {
		t.Errorf("unknown field: %d %s", st, body)
	}

	// The audit trail names the key that did each thing.
	trail := h.auditTrail(second.SecretKey, "")
	if len(trail) != 2 || trail[0].Action != "secret_key.revoke" || trail[0].Target != "key "+itoa(first.ID) || trail[0].Actor.SecretKeyID != second.ID ||
		trail[0].Actor.Via != "api" || trail[0].Actor.Description != "key "+itoa(second.ID) ||
		trail[1].Action != "secret_key.create" || trail[1].Actor.SecretKeyID != first.ID || trail[1].Detail != "label: billing service" {
		t.Errorf("audit: %+v", trail)
	}
	if strings.Contains(h.logs.String(), second.SecretKey) {
		t.Error("a new secret key is in the log")
	}

	// A restart with the revoked key configured does not bring it back.
	h.restart()
	if st, _, _ := h.raw("GET", "/integrations", testSecretKey, "", ""); st != 401 {
		t.Errorf("the revoked LATCHKEY_SECRET_KEY works again after a restart: %d", st)
	}
	if !strings.Contains(h.logs.String(), "LATCHKEY_SECRET_KEY was revoked") {
		t.Error("no warning that the configured key is revoked")
	}
}

// Operator actions through the API are in the audit trail with the key that
// did them; reads are not; the trail pages and filters.
func TestAuditTrailOfAPIActions(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	if _, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"}); err != nil {
		t.Fatal(err)
	}
	if st, body, _ := h.raw("POST", "/connections/"+id+"/verify?provider_config_key=jira", testSecretKey, "", ""); st != 200 {
		t.Fatalf("verify: %d %s", st, body)
	}
	name := "Jira (ops)"
	if _, err := h.c.UpdateIntegration(h.ctx(), "jira", client.UpdateIntegrationRequest{DisplayName: &name}); err != nil {
		t.Fatal(err)
	}
	h.raw("POST", "/environment/webhook-signing-key", testSecretKey, "", "")
	if err := h.c.DeleteConnection(h.ctx(), "jira", id); err != nil {
		t.Fatal(err)
	}
	h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	trail := h.auditTrail(testSecretKey, "?limit=100")
	var got []string
	for _, e := range trail {
		got = append(got, e.Action+" "+e.Target)
		if e.Actor.SecretKeyID == 0 || e.Actor.Via != "api" {
			t.Errorf("actor of %s: %+v", e.Action, e.Actor)
		}
	}
	want := []string{"connection.delete jira/" + id, "environment.signing_key_rotate environment dev", "integration.update jira", "connection.check jira/" + id,
		"connect_session.reconnect jira/" + id, "connect_session.create session 1 for end user user-1", "integration.create jira"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if trail[2].Detail != `display name "Jira (ops)"` || trail[3].Detail != "status ok → ok" {
		t.Errorf("details: %q, %q", trail[2].Detail, trail[3].Detail)
	}
	page := h.auditTrail(testSecretKey, "?limit=2")
	next := h.auditTrail(testSecretKey, "?limit=2&before="+itoa(page[1].ID))
	if len(page) != 2 || len(next) != 2 || next[0].ID != trail[2].ID {
		t.Errorf("paging: %+v then %+v", page, next)
	}
	if only := h.auditTrail(testSecretKey, "?action=connection.delete"); len(only) != 1 {
		t.Errorf("filtered: %+v", only)
	}
	for q, code := range map[string]string{"?action=nope": "invalid_query_params", "?limit=0": "invalid_query_params", "?since=1": "invalid_query_params"} {
		st, body, _ := h.raw("GET", "/audit"+q, testSecretKey, "", "")
		if c, _, _ := errorCode(t, body); st != 400 || c != code {
			t.Errorf("%s: %d %s", q, st, body)
		}
	}
	if st, _, _ := h.raw("GET", "/audit", "", "", ""); st != 401 {
		t.Errorf("audit without a key: %d", st)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
