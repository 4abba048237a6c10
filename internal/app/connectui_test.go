package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

func (h *harness) connectLink(req client.ConnectSessionRequest) string {
	h.t.Helper()
	if req.EndUser == nil {
		req.EndUser = &client.EndUser{ID: "user-1"}
	}
	s, err := h.c.CreateConnectSession(h.ctx(), req)
	if err != nil {
		h.t.Fatal(err)
	}
	// connect_link uses LATCHKEY_PUBLIC_URL; the test server has its own address.
	return h.srv.URL + "/connect?session_token=" + s.Token
}

// clear empties an input the way selecting all and deleting would.
func clear(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('` + sel + `'); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); })()`)
}

// fill types the three values into the form as a person would.
func fill(cloudID, email, token string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		clear(`#f-cloudId`), chromedp.SendKeys(chromedp.CSS(`#f-cloudId`), cloudID),
		clear(`#f-username`), chromedp.SendKeys(chromedp.CSS(`#f-username`), email),
		clear(`#f-password`), chromedp.SendKeys(chromedp.CSS(`#f-password`), token),
	}
}

func submitAndWait(sel string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(sel))}
}

func TestConnectUIStandaloneHappyPath(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	link := h.connectLink(client.ConnectSessionRequest{})
	token := strings.TrimPrefix(link[strings.Index(link, "session_token="):], "session_token=")
	b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	if got := b.text("h1"); got != "Connect Atlassian Service Account (API Token)" {
		t.Errorf("title = %q", got)
	}
	if href := evalJS[string](b, `location.href`); strings.Contains(href, "session_token") {
		t.Errorf("token still in the address bar: %s", href)
	}
	// Labels, required marks, descriptions and guide links come from the provider schema.
	if got := evalJS[string](b, `document.querySelector('label[for=f-cloudId]').textContent`); !strings.HasPrefix(got, "Cloud ID*") {
		t.Errorf("label = %q", got)
	}
	if got := evalJS[string](b, `document.querySelector('#f-password').type`); got != "password" {
		t.Errorf("token input type = %s", got)
	}
	if got := evalJS[string](b, `[...document.querySelectorAll('a.help')].map(a => a.getAttribute('href').split('#')[1]).join(',')`); got !=
		"step-1-finding-your-cloud-id,step-2-finding-your-service-account-email,step-3-creating-an-api-token,step-3-creating-an-api-token" {
		t.Errorf("guide anchors = %q", got)
	}
	if got := evalJS[string](b, `document.querySelector('#f-cloudId').placeholder`); got != "12345678-1234-1234-1234-123456789012" {
		t.Errorf("placeholder = %q", got)
	}
	b.do(fill(atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken)...)
	b.do(timezone("UTC")) // the picked day ends at 23:59:59 in the browser's zone
	expiry := h.now().AddDate(0, 3, 0).Format("2006-01-02")
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#f-credentials_expires_at').value = '` + expiry + `'`))
	// Show/hide toggle.
	b.do(chromedp.Click(chromedp.CSS(`.toggle`)))
	if got := evalJS[string](b, `document.querySelector('#f-password').type + ' ' + document.querySelector('.toggle').getAttribute('aria-pressed')`); got != "text true" {
		t.Errorf("after show: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`.toggle`)))
	b.do(submitAndWait(`.check`)...)
	if got := b.text("h1"); got != "Connected" {
		t.Errorf("success title = %q", got)
	}
	if facts := b.text(".facts"); !strings.Contains(facts, "Integration Bot") || !strings.Contains(facts, atlassiansim.DemoCloudID) {
		t.Errorf("success facts = %q", facts)
	}
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(list) != 1 || list[0].EndUser.ID != "user-1" {
		t.Fatalf("connections = %+v", list)
	}
	if c, _ := h.c.GetConnection(h.ctx(), "jira", list[0].ConnectionID); c.CredentialsExpiresAt == nil || !strings.HasPrefix(*c.CredentialsExpiresAt, expiry) {
		t.Errorf("expiry date from the form: %v", c.CredentialsExpiresAt)
	}
	if strings.Contains(h.logs.String(), token) {
		t.Error("the session token appears in the server log")
	}
}

func TestConnectUIValidationErrors(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))

	// Submitting an empty form marks every field, announces it and focuses the first.
	b.do(chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId-err`)))
	errs := evalJS[string](b, `[...document.querySelectorAll('.error:not([hidden])')].map(e => e.textContent).join('|')`)
	if errs != "Cloud ID is required.|Service Account Email is required.|API Token is required." {
		t.Errorf("errors = %q", errs)
	}
	if got := b.text(`[role=alert]`); got != "Please correct the highlighted fields." {
		t.Errorf("alert = %q", got)
	}
	if got := evalJS[string](b, `document.activeElement.id`); got != "f-cloudId" {
		t.Errorf("focus on %q", got)
	}
	if got := evalJS[string](b, `document.querySelector('#f-cloudId').getAttribute('aria-invalid') + ' ' + document.querySelector('#f-cloudId').getAttribute('aria-describedby')`); got != "true f-cloudId-desc f-cloudId-err" {
		t.Errorf("aria = %q", got)
	}
	// Each format, checked live as the user leaves the field.
	cases := []struct{ field, value, want string }{
		{"cloudId", "1a11d016-8984", "Cloud ID must be a UUID, like 12345678-1234-1234-1234-123456789012."},
		{"username", "bot@", "Service Account Email must be an email address."},
		{"password", "ATSTT3xFfGF0-cut-short", "API Token is not in the expected format. Copy the whole value again; it may have been cut short."},
	}
	for _, c := range cases {
		b.do(clear(`#f-`+c.field), chromedp.SendKeys(chromedp.CSS(`#f-`+c.field), c.value), chromedp.Focus(chromedp.CSS(`button[type=submit]`)))
		if got := b.text(`#f-` + c.field + `-err`); got != c.want {
			t.Errorf("%s=%q: %q, want %q", c.field, c.value, got, c.want)
		}
	}
	// Fixing a value clears its error as the user types.
	b.do(clear(`#f-cloudId`), chromedp.SendKeys(chromedp.CSS(`#f-cloudId`), atlassiansim.DemoCloudID))
	if hidden := evalJS[bool](b, `document.querySelector('#f-cloudId-err').hidden && !document.querySelector('#f-cloudId').hasAttribute('aria-invalid')`); !hidden {
		t.Error("error not cleared after fixing the value")
	}
	if n := len(h.sim.Calls()); n != 0 {
		t.Errorf("invalid input reached Atlassian %d times", n)
	}
}

func TestConnectUIVerificationMessages(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	cases := []struct {
		name              string
		cloudID, email    string
		token             string
		fault             *atlassiansim.Fault
		wantAlert         string
		wantField, wantFE string
	}{
		{"bad token", atlassiansim.DemoCloudID, atlassiansim.DemoEmail, strings.Replace(atlassiansim.DemoToken, "demo", "DEMO", 1), nil,
			"Atlassian did not accept these credentials.", "password", "Check that the whole value was copied, that it goes with the details above, and that it has not expired or been revoked."},
		// The API's hint (where to find the Cloud ID) shows beside the field, once.
		{"unknown cloud id", otherCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken, nil,
			"Atlassian did not accept the Cloud ID.", "cloudId", "Atlassian has no site with the Cloud ID " + otherCloudID + ". In admin.atlassian.com, open Apps > Sites, select the site, and copy the ID that follows /s/ in the address."},
		{"atlassian unreachable", atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken, &atlassiansim.Fault{Status: 503, Count: -1},
			"could not be reached to check these details. Nothing was saved", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.sim.ClearFaults()
			if c.fault != nil {
				h.sim.Inject(*c.fault)
				defer h.sim.ClearFaults()
			}
			b := newBrowser(t, 1200, 900)
			b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
			b.do(fill(c.cloudID, c.email, c.token)...)
			b.do(submitAndWait(`[role=alert]:not([hidden])`)...)
			if got := b.text(`[role=alert]`); !strings.Contains(got, c.wantAlert) {
				t.Errorf("alert = %q, want %q", got, c.wantAlert)
			}
			if c.wantField != "" {
				if got := b.text(`#f-` + c.wantField + `-err`); got != c.wantFE {
					t.Errorf("field error = %q, want %q", got, c.wantFE)
				}
				// Nothing is said twice.
				page := evalJS[string](b, `document.body.innerText`)
				for _, sentence := range []string{c.wantAlert, c.wantFE} {
					if n := strings.Count(page, sentence); n != 1 {
						t.Errorf("%q shows %d times", sentence, n)
					}
				}
				if got := evalJS[string](b, `document.activeElement.id`); got != "f-"+c.wantField {
					t.Errorf("focus on %q", got)
				}
			}
			// The button is usable again.
			if busy := evalJS[bool](b, `document.querySelector('button[type=submit]').disabled`); busy {
				t.Error("submit button stays disabled")
			}
		})
	}
	t.Run("missing scope is accepted with a note", func(t *testing.T) {
		b := newBrowser(t, 1200, 900)
		b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
		b.do(fill(atlassiansim.DemoCloudID, "wiki-bot@serviceaccount.atlassian.com", confOnlyToken)...)
		b.do(submitAndWait(`.check`)...)
		if got := b.text("h1"); got != "Connected, with a note" {
			t.Errorf("title = %q", got)
		}
		if got := b.text(".alert.warn"); !strings.Contains(got, "no Jira scopes") {
			t.Errorf("note = %q", got)
		}
	})
}

// Each kind of dead link says what is true of it: expired (30 minutes),
// malformed, unknown or cancelled, or missing.
func TestConnectUIExpiredAndInvalidSessions(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	title := func(link string) string {
		t.Helper()
		b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`h1`)))
		return b.text("h1")
	}
	expired := h.connectLink(client.ConnectSessionRequest{})
	s, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.c.DeleteConnectSession(h.ctx(), s.Token); err != nil {
		t.Fatal(err)
	}
	h.advance(31 * time.Minute)
	for _, c := range []struct{ name, link, want, body string }{
		{"expired", expired, "This link has expired", "valid for 30 minutes"},
		{"garbage token", h.srv.URL + "/connect?session_token=garbage", "This link is not valid", "missing or has been changed"},
		{"cut short", expired[:len(expired)-10], "This link is not valid", "missing or has been changed"},
		{"never issued", h.srv.URL + "/connect?session_token=nango_connect_session_" + strings.Repeat("ab", 32), "This link can no longer be used", "cancelled"},
		{"cancelled", h.srv.URL + "/connect?session_token=" + s.Token, "This link can no longer be used", "cancelled"},
		{"no token", h.srv.URL + "/connect", "This link is incomplete", "full link"},
	} {
		if got := title(c.link); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if got := b.text(".lead"); !strings.Contains(got, c.body) {
			t.Errorf("%s: body %q, want it to say %q", c.name, got, c.body)
		}
	}
	// The session can also expire while the form is open.
	link := h.connectLink(client.ConnectSessionRequest{})
	b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	h.advance(31 * time.Minute)
	b.do(fill(atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken)...)
	b.do(chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitNotPresent(chromedp.CSS(`form`)))
	if got := b.text("h1"); got != "This link has expired" {
		t.Errorf("expired during the form: %q", got)
	}
}

// The API tells the three kinds of dead link apart, for the Connect UI: a
// malformed token, an unknown (never issued, deleted or purged) session, and an
// expired one, which keeps Nango's code and says when it expired.
func TestSessionTokenExpiredUnknownOrMalformed(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	type errBody struct {
		Error struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Payload map[string]any `json:"payload"`
		} `json:"error"`
	}
	get := func(token string) (int, errBody) {
		t.Helper()
		status, body, _ := h.raw("GET", "/connect/session", token, "", "")
		var e errBody
		_ = json.Unmarshal([]byte(body), &e)
		return status, e
	}
	expiring := h.session(client.ConnectSessionRequest{})
	expiresAt := h.now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
	deleted := h.session(client.ConnectSessionRequest{})
	if err := h.c.DeleteConnectSession(h.ctx(), deleted); err != nil {
		t.Fatal(err)
	}
	h.advance(31 * time.Minute)
	for _, c := range []struct {
		name, token, code, expiredAt string
	}{
		{"malformed", "garbage", "invalid_connect_session_token_format", ""},
		{"never issued", "nango_connect_session_" + strings.Repeat("ab", 32), "unknown_connect_session_token", ""},
		{"deleted", deleted, "unknown_connect_session_token", ""},
		{"expired", expiring, "unknown_connect_session_token", expiresAt},
	} {
		status, e := get(c.token)
		if status != 401 || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %+v", c.name, status, e.Error)
		}
		if got, _ := e.Error.Payload["expired_at"].(string); got != c.expiredAt {
			t.Errorf("%s: payload.expired_at = %q, want %q", c.name, got, c.expiredAt)
		}
	}
	// A submission on the expired session says so too.
	_, err := h.c.SubmitBasic(h.ctx(), expiring, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
	if e := apiErr(t, err); e.Code != "unknown_connect_session_token" || !strings.Contains(e.Message, "expired at "+expiresAt) {
		t.Errorf("submission on an expired session: %+v", e)
	}
}

func TestConnectUIReconnect(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.srv.URL+"/connect?session_token="+rs.Token), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	if got := b.text("h1"); got != "Update Atlassian Service Account (API Token) credentials" {
		t.Errorf("title = %q", got)
	}
	got := evalJS[string](b, `['cloudId','username','password'].map(n => document.querySelector('#f-'+n).value).join('|')`)
	if got != atlassiansim.DemoCloudID+"|"+atlassiansim.DemoEmail+"|" {
		t.Errorf("prefilled = %q (the token must not be)", got)
	}
	if label := b.text(`button[type=submit]`); label != "Update credentials" {
		t.Errorf("button = %q", label)
	}
	b.do(fill(atlassiansim.DemoCloudID, "jira-bot@serviceaccount.atlassian.com", jiraOnlyToken)...)
	b.do(submitAndWait(`.check`)...)
	if got := b.text("h1"); got != "Credentials updated" {
		t.Errorf("success = %q", got)
	}
	c, _ := h.c.GetConnection(h.ctx(), "jira", id)
	if c.Credentials.Password != jiraOnlyToken {
		t.Error("credentials were not replaced in place")
	}
}

// Keyboard only: Tab through the form, type, and press Enter.
func TestConnectUIKeyboardOnly(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	steps := []struct {
		keys   string
		expect string // id or text of the element focused after the keys
	}{
		{atlassiansim.DemoCloudID, "f-cloudId"},
		{kb.Tab, "How do I find this?"},
		{kb.Tab, "f-username"},
		{atlassiansim.DemoEmail, "f-username"},
		{kb.Tab, "How do I find this?"},
		{kb.Tab, "f-password"},
		{atlassiansim.DemoToken, "f-password"},
		{kb.Tab, "Show"},
		{kb.Tab, "How do I find this?"},
		{kb.Tab, "f-credentials_expires_at"},
		{kb.Enter, ""}, // submits the form, as Enter in any field does
	}
	for _, s := range steps {
		b.do(chromedp.KeyEvent(s.keys))
		if s.expect == "" {
			continue
		}
		got := evalJS[string](b, `document.activeElement.id || document.activeElement.textContent.trim()`)
		if got != s.expect {
			t.Fatalf("after %q focus is on %q, want %q", s.keys, got, s.expect)
		}
	}
	b.do(chromedp.WaitVisible(chromedp.CSS(`.check`)))
	if got := evalJS[string](b, `document.activeElement.tagName + ' ' + document.activeElement.textContent`); got != "H1 Connected" {
		t.Errorf("focus after success: %q", got)
	}
}

func TestConnectUILanguagesAndIntegrationList(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.integration("wiki", "confluence-basic")
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})+"&lang=fr"), chromedp.WaitVisible(chromedp.CSS(`.list`)))
	if got := b.text("h1"); got != "Choisissez ce que vous voulez connecter" {
		t.Errorf("fr list title = %q", got)
	}
	if lang := evalJS[string](b, `document.documentElement.lang`); lang != "fr" {
		t.Errorf("html lang = %q", lang)
	}
	items := evalJS[string](b, `[...document.querySelectorAll('.item')].map(i => i.textContent).join('|')`)
	if items != "Atlassian Service Account (API Token)|Confluence (Basic Auth)" {
		t.Errorf("items = %q", items)
	}
	b.do(chromedp.Click(chromedp.CSS(`.item`)), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	if got := b.text("h1"); got != "Connecter Atlassian Service Account (API Token)" {
		t.Errorf("fr form title = %q", got)
	}
	if got := b.text(".lead"); got != "Remplissez les champs ci-dessous. Ils sont vérifiés auprès d’Atlassian avant tout enregistrement." {
		t.Errorf("fr lead = %q (de + a vowel elides)", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId-err`)))
	if got := b.text(`#f-cloudId-err`); got != "Cloud ID est obligatoire." {
		t.Errorf("fr error = %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`.back`)), chromedp.WaitVisible(chromedp.CSS(`.list`)))

	// Accept-Language picks the language when no lang parameter is given: the
	// browser sends the header, nothing else says which language to use.
	for _, c := range []struct{ header, lang, title string }{
		{"ja,en;q=0.5", "ja", "接続するサービスを選択"},
		{"de-CH, fr;q=0.8", "de", "Wählen Sie aus, was verbunden werden soll"},
		{"fr;q=0.5, es-MX;q=0.9", "es", "Elija qué conectar"},
		{"pt-BR, fr;q=0.1", "fr", "Choisissez ce que vous voulez connecter"},
		{"pt-BR", "en", "Choose what to connect"},
	} {
		b.do(acceptLanguage(c.header), chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`.list`)))
		if got := b.text("h1"); got != c.title {
			t.Errorf("Accept-Language %s: title %q, want %q", c.header, got, c.title)
		}
		if got := evalJS[string](b, `document.documentElement.lang`); got != c.lang {
			t.Errorf("Accept-Language %s: html lang %q, want %q", c.header, got, c.lang)
		}
		// The lang parameter wins over the header.
		if c.lang != "en" {
			b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})+"&lang=en"), chromedp.WaitVisible(chromedp.CSS(`.list`)))
			if got := b.text("h1"); got != "Choose what to connect" {
				t.Errorf("Accept-Language %s with lang=en: %q", c.header, got)
			}
		}
	}
	res, err := http.Get(h.srv.URL + "/connect")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	if got := res.Header.Get("Vary"); got != "Accept-Language" {
		t.Errorf("Vary = %q", got)
	}
}

// The page is served with a strict CSP (nonces, no inline handlers) and every
// string from the API is shown as text, never parsed as HTML.
func TestConnectUISecurity(t *testing.T) {
	h := newHarness(t)
	evil := `<img src=x onerror="window.pwned=1">`
	if _, err := h.c.CreateIntegration(h.ctx(), client.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "jira", DisplayName: evil}); err != nil {
		t.Fatal(err)
	}
	h.integration("wiki", "confluence-basic")
	res, err := http.Get(h.connectLink(client.ConnectSessionRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "frame-ancestors *", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, " onclick=") || strings.Contains(body, "<script>") {
		t.Error("inline script allowed or present")
	}
	if res.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(body, `<meta name="referrer" content="no-referrer">`) {
		t.Error("referrer policy missing")
	}
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`.list`)))
	if got := evalJS[string](b, `document.querySelector('.item').textContent`); got != evil {
		t.Errorf("display name shown as %q", got)
	}
	if pwned := evalJS[bool](b, `window.pwned === 1 || document.querySelectorAll('.item img[src=x]').length > 0`); pwned {
		t.Error("HTML from the API was parsed")
	}

	// frame-ancestors follows LATCHKEY_CONNECT_FRAME_ANCESTORS.
	h2 := newHarness(t, "LATCHKEY_CONNECT_FRAME_ANCESTORS=https://app.example.com")
	res, _ = http.Get(h2.srv.URL + "/connect")
	readAll(t, res)
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors https://app.example.com") {
		t.Errorf("CSP = %q", csp)
	}
}

// The embedded flow: a host page on another origin loads the real
// @nangohq/frontend bundle and calls openConnectUI; the iframe gets the token by
// postMessage, and the host receives the connect event with the connection id.
// nangoFrontendHost is a host app on another origin that loads the real
// @nangohq/frontend bundle (tests/sdk, pinned) and opens the Connect UI of
// latchkeyURL with the session token; window.events collects its onEvent calls.
func nangoFrontendHost(t *testing.T, latchkeyURL, token string) *httptest.Server {
	t.Helper()
	dist := os.Getenv("LATCHKEY_TEST_NANGO_FRONTEND")
	if dist == "" {
		dist, _ = filepath.Abs("../../tests/sdk/node_modules/@nangohq/frontend/dist")
	}
	if _, err := os.Stat(filepath.Join(dist, "index.js")); err != nil && os.Getenv("LATCHKEY_TEST_CHROME") != "" {
		t.Fatalf("@nangohq/frontend is not installed at %s: run npm ci in tests/sdk", dist)
	}
	mux := http.NewServeMux()
	mux.Handle("/frontend/", http.StripPrefix("/frontend/", http.FileServer(http.Dir(dist))))
	mux.HandleFunc("/host.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html><body><h2>Host app</h2><script type="module">
import Nango from '/frontend/index.js';
window.events = [];
const nango = new Nango({ connectSessionToken: '` + token + `' });
nango.openConnectUI({ baseURL: '` + latchkeyURL + `/connect', apiURL: '` + latchkeyURL + `', onEvent: (e) => window.events.push(e) });
</script></body></html>`))
	})
	host := httptest.NewServer(mux)
	t.Cleanup(host.Close)
	return host
}

// connectUIFrame opens the host page and returns the Connect UI's iframe, to
// run actions in.
func (b *browser) connectUIFrame(host *httptest.Server) chromedp.QueryOption {
	b.t.Helper()
	b.do(chromedp.Navigate(host.URL+"/host.html"), chromedp.WaitReady(chromedp.CSS(`iframe#connect-ui`)))
	frames, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSS(`iframe#connect-ui`)))
	if err != nil || len(frames) != 1 {
		b.t.Fatalf("iframe: %v %d", err, len(frames))
	}
	return chromedp.FromNode(frames[0])
}

func TestConnectUIEmbeddedWithNangoFrontend(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	s, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "embedded-user"}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1200, 900)
	in := b.connectUIFrame(nangoFrontendHost(t, h.srv.URL, s.Token))
	b.do(chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`), in))
	src := evalJS[string](b, `document.querySelector('iframe#connect-ui').src`)
	if strings.Contains(src, "session_token") || strings.Contains(src, s.Token) {
		t.Errorf("the token is in the iframe URL: %s", src)
	}
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#f-cloudId`), atlassiansim.DemoCloudID, in),
		chromedp.SendKeys(chromedp.CSS(`#f-username`), atlassiansim.DemoEmail, in),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), atlassiansim.DemoToken, in),
		chromedp.Click(chromedp.CSS(`button[type=submit]`), in),
		chromedp.WaitVisible(chromedp.CSS(`.check`), in),
	)
	events := evalJS[string](b, `JSON.stringify(window.events.map(e => e.type === 'connect' ? [e.type, e.payload.providerConfigKey, e.payload.connectionId] : [e.type]))`)
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(list) != 1 {
		t.Fatalf("connections = %+v", list)
	}
	if want := `[["ready"],["connect","jira","` + list[0].ConnectionID + `"]]`; events != want {
		t.Errorf("events = %s, want %s", events, want)
	}
	// Done closes the UI: the SDK removes the iframe on the close event.
	b.do(chromedp.Click(chromedp.CSS(`.primary`), in), chromedp.WaitNotPresent(chromedp.CSS(`iframe#connect-ui`)))
	if last := evalJS[string](b, `window.events[window.events.length-1].type`); last != "close" {
		t.Errorf("last event = %q", last)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

// The lifecycle's "done when", end to end: a token revoked at Atlassian is
// found by the scheduled check, the backend gets one refresh-failure webhook,
// the end user reconnects in the Connect UI, and the same connection is ok again.
func TestConnectUIReconnectAfterRevocation(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.tokens()
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	h.sim.Revoke(atlassiansim.DemoToken)
	h.advance(25 * time.Hour)
	h.check()
	h.dispatch()
	if c := h.status(id); c.Status != "invalid_credentials" {
		t.Fatalf("after revocation: %s", c.Status)
	}
	refreshes := 0
	for _, b := range hookBodies(rcv) {
		if b["operation"] == "refresh" && b["success"] == false {
			refreshes++
		}
	}
	if refreshes != 1 {
		t.Fatalf("%d refresh-failure webhooks, want 1", refreshes)
	}
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.srv.URL+"/connect?session_token="+rs.Token), chromedp.WaitVisible(chromedp.CSS(`#f-password`)))
	b.do(fill(atlassiansim.DemoCloudID, "jira-bot@serviceaccount.atlassian.com", jiraOnlyToken)...)
	b.do(submitAndWait(`.check`)...)
	if got := b.text("h1"); got != "Credentials updated" {
		t.Errorf("success = %q", got)
	}
	c := h.status(id)
	if c.Status != "ok" || len(c.Errors) != 0 || c.ConnectionID != id {
		t.Errorf("after reconnecting in the UI: %+v", c)
	}
	if list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(list) != 1 {
		t.Errorf("%d connections, want the same one", len(list))
	}
}
