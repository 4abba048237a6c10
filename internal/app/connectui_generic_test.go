package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyhq/latchkey/client"
)

// genericProviders are two providers added by configuration, as a deployment
// would: an OAuth 2.0 client-credentials one with client ID and secret, and an
// API-key one with no titles at all. Their upstreams are local servers that
// refuse everything.
func genericProviders(t *testing.T) *harness {
	t.Helper()
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client"}`))
	}))
	t.Cleanup(refuse.Close)
	file := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(file, []byte(`
nimbus:
    display_name: Nimbus Cloud (Client Credentials)
    auth_mode: OAUTH2_CC
    token_url: https://auth.nimbus.test/oauth/token
    docs_connect: https://docs.nimbus.test/connect
    credentials_expiry: true
    proxy:
        base_url: https://api.nimbus.test
    connection_config:
        region:
            type: string
            title: Region
            description: Where your Nimbus tenant lives
            enum: [eu, us]
            order: 1
    credentials:
        client_id:
            type: string
            title: Client ID
            description: Shown under Admin > API clients
            doc_section: '#client-id'
        client_secret:
            type: string
            title: Client Secret
            secret: true
            doc_section: '#client-secret'
acme:
    display_name: Acme
    auth_mode: API_KEY
    proxy:
        base_url: https://api.acme.test
        headers:
            x-api-key: ${apiKey}
        verification:
            endpoints:
                - /me
`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "LATCHKEY_PROVIDERS_FILE="+file,
		"LATCHKEY_UPSTREAM_REWRITE=https://auth.nimbus.test="+refuse.URL+",https://api.nimbus.test="+refuse.URL+",https://api.acme.test="+refuse.URL)
	h.integration("nimbus", "nimbus")
	h.integration("acme", "acme")
	return h
}

// recordFetches makes the page remember what it sends.
const recordFetches = `(() => { window.sent = []; const f = window.fetch; window.fetch = (u, o) => { window.sent.push({url: String(u), body: (o && o.body) || ''}); return f(u, o); }; })()`

// The form reads right for a provider the UI has never heard of: titles,
// descriptions and guide sections from its entry, nothing about Atlassian,
// email addresses or API tokens, and the submission goes to its auth mode's route.
func TestConnectUIGenericProviderForms(t *testing.T) {
	h := genericProviders(t)
	b := newBrowser(t, 1200, 900)
	link := func(key, lang string) string {
		return h.connectLink(client.ConnectSessionRequest{AllowedIntegrations: []string{key}}) + "&lang=" + lang
	}

	b.do(chromedp.Navigate(link("nimbus", "en")), chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)))
	labels := evalJS[string](b, `[...document.querySelectorAll('label')].map(l => l.firstChild.textContent).join('|')`)
	if labels != "Region|Client ID|Client Secret|Client Secret expiry date" {
		t.Errorf("labels = %q", labels)
	}
	if got := evalJS[string](b, `document.querySelector('#f-client_secret').type + ' ' + !!document.querySelector('.toggle[aria-controls=f-client_secret]')`); got != "password true" {
		t.Errorf("client secret input: %s", got)
	}
	if got := evalJS[string](b, `[...document.querySelectorAll('a.help')].map(a => a.getAttribute('href')).join(' ')`); got !=
		"https://docs.nimbus.test/connect#client-id https://docs.nimbus.test/connect#client-secret https://docs.nimbus.test/connect#client-secret" {
		t.Errorf("guide links = %q", got)
	}
	if got := b.text(".lead"); got != "Fill in the details below. They are checked with Nimbus before anything is saved." {
		t.Errorf("lead = %q", got)
	}
	assertNoAtlassian := func(what string) {
		t.Helper()
		page := strings.ToLower(evalJS[string](b, `document.body.innerText + ' ' + [...document.querySelectorAll('[placeholder],[aria-label]')].map(e => (e.placeholder || '') + ' ' + e.getAttribute('aria-label')).join(' ')`))
		for _, word := range []string{"atlassian", "email", "e-mail", "api token", "token", "cloud id", "jeton"} {
			if strings.Contains(page, word) {
				t.Errorf("%s says %q: %s", what, word, page)
			}
		}
	}
	assertNoAtlassian("the client-credentials form")
	b.do(chromedp.Evaluate[chromedp.Void](recordFetches),
		chromedp.SendKeys(chromedp.CSS(`#f-client_id`), "cid-123"), chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), "s3cret"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`[role=alert]:not([hidden])`)))
	sent := evalJS[string](b, `window.sent.map(s => s.url.replace(/connect_session_token=[^&]+/, 'T') + ' ' + s.body).join('\n')`)
	if sent != `/oauth2/auth/nimbus?T&params[region]=eu {"client_id":"cid-123","client_secret":"s3cret"}` {
		t.Errorf("sent %q", sent)
	}
	assertNoAtlassian("the client-credentials form after a failure")

	// A session's overrides[key].docs_connect replaces every guide link.
	status, body, _ := h.raw("POST", "/connect/sessions", testSecretKey, "application/json",
		`{"end_user":{"id":"u"},"allowed_integrations":["nimbus"],"overrides":{"nimbus":{"docs_connect":"https://help.example.test/nimbus"}}}`)
	var created struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &created); status != 201 || err != nil {
		t.Fatalf("session with overrides: %d %s", status, body)
	}
	b.do(chromedp.Navigate(h.srv.URL+"/connect?session_token="+created.Data.Token), chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)))
	if got := evalJS[string](b, `[...document.querySelectorAll('a.help, .foot a')].map(a => a.getAttribute('href')).join(' ')`); got !=
		strings.TrimSpace(strings.Repeat("https://help.example.test/nimbus ", 5)) {
		t.Errorf("links with an override: %q", got)
	}

	// An API-key provider whose entry has no titles: the defaults are the
	// page's own, in its language; a refused key is blamed on the key.
	b.do(chromedp.Navigate(link("acme", "fr")), chromedp.WaitVisible(chromedp.CSS(`#f-apiKey`)))
	if got := evalJS[string](b, `document.querySelector('label[for=f-apiKey]').firstChild.textContent`); got != "Clé d’API" {
		t.Errorf("default title = %q", got)
	}
	// French elides before a vowel only: "auprès d’Acme".
	if got := b.text(".lead"); got != "Remplissez les champs ci-dessous. Ils sont vérifiés auprès d’Acme avant tout enregistrement." {
		t.Errorf("lead = %q", got)
	}
	b.do(chromedp.SendKeys(chromedp.CSS(`#f-apiKey`), "ak_wrong"), chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role=alert]:not([hidden])`)))
	fr := uiStrings(t, "fr")
	if got := b.text(`[role=alert]`); got != "Acme n’a pas accepté ces identifiants." {
		t.Errorf("alert = %q", got)
	}
	if got := b.text(`#f-apiKey-err`); got != fr["err_secret_field"] {
		t.Errorf("field error = %q", got)
	}
	if got := evalJS[string](b, `document.activeElement.id`); got != "f-apiKey" {
		t.Errorf("focus on %q", got)
	}
	assertNoAtlassian("the API-key form")
	b.do(chromedp.Navigate(link("nimbus", "fr")), chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)))
	if got := b.text(".lead"); !strings.Contains(got, "auprès de Nimbus") {
		t.Errorf("lead = %q", got)
	}
}
