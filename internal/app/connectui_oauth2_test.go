package app_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// openOAuthForm opens a connect link for the "jira" integration of the OAuth
// 2.0 provider (in lang) and waits for the form.
func (h *harness) openOAuthForm(b *browser, lang string) {
	h.t.Helper()
	b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{AllowedIntegrations: []string{"jira"}})+"&lang="+lang),
		chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)))
}

// fillOAuth types a client ID and secret as a person would.
func fillOAuth(id, secret string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		clear(`#f-client_id`), chromedp.SendKeys(chromedp.CSS(`#f-client_id`), id),
		clear(`#f-client_secret`), chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), secret),
	}
}

// The OAuth 2.0 form asks for the client ID and the secret only, each with its
// section of latchkey's guide. A credential reaching two sites gets the site
// picker (announced, focused, nothing picked for the user); submitting without
// a pick says so; the site picked is sent as params[cloudId], linked, and named
// on the success screen.
func TestConnectUIOAuth2PicksOneOfTwoSites(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", oauth2Provider)
	b := newBrowser(t, 1200, 900)
	h.openOAuthForm(b, "en")

	if got := b.text("h1"); got != "Connect Atlassian Service Account (OAuth 2.0)" {
		t.Errorf("title = %q", got)
	}
	labels := evalJS[string](b, `[...document.querySelectorAll('label')].map(l => l.firstChild.textContent).join('|')`)
	if labels != "Client ID|Client Secret|Client Secret expiry date" {
		t.Errorf("labels = %q (the site is not asked up front)", labels)
	}
	if got := evalJS[string](b, `[...document.querySelectorAll('a.help')].map(a => new URL(a.href).pathname + new URL(a.href).hash).join(' ')`); got !=
		"/docs/connect/atlassian-service-account-oauth2#step-1-creating-oauth-client-credentials "+
			"/docs/connect/atlassian-service-account-oauth2#step-1-creating-oauth-client-credentials "+
			"/docs/connect/atlassian-service-account-oauth2#step-1-creating-oauth-client-credentials" {
		t.Errorf("guide links = %q", got)
	}
	// Every section a link points at exists in the guide as served.
	res, err := http.Get(h.srv.URL + "/docs/connect/atlassian-service-account-oauth2")
	if err != nil {
		t.Fatal(err)
	}
	guide := readAll(t, res)
	for _, anchor := range []string{`id="step-1-creating-oauth-client-credentials"`, `id="step-2-choosing-the-site"`, "Directory", "Service accounts", "Create credentials", "read:jira-work", "read:confluence-user"} {
		if !strings.Contains(guide, anchor) {
			t.Errorf("the guide lacks %s", anchor)
		}
	}
	if got := evalJS[string](b, `document.querySelector('#f-client_secret').type`); got != "password" {
		t.Errorf("secret input type = %s", got)
	}

	b.do(chromedp.Evaluate[chromedp.Void](recordFetches))
	b.do(fillOAuth(atlassiansim.DemoClientID, atlassiansim.DemoClientSecret)...)
	b.do(submitAndWait(`fieldset.sites`)...)
	if got := b.text(`[role=alert]`); got != "Choose the Atlassian site to link." {
		t.Errorf("alert = %q", got)
	}
	if got := b.text(`fieldset.sites legend`); got != "Choose the site to link" {
		t.Errorf("legend = %q", got)
	}
	if got := b.text(`#site-desc`); got != "This credential reaches 2 Atlassian sites. Pick the one this connection is for." {
		t.Errorf("description = %q", got)
	}
	sites := evalJS[string](b, `[...document.querySelectorAll('.site')].map(l => l.querySelector('input').value + ' ' + l.innerText.replace(/\s+/g, ' ').trim()).join('|')`)
	if want := atlassiansim.DemoCloudID + " acme acme.atlassian.net|" + atlassiansim.DemoCloudID2 + " acme-eu acme-eu.atlassian.net"; sites != want {
		t.Errorf("sites = %q, want %q", sites, want)
	}
	if got := evalJS[string](b, `document.activeElement.id + ' ' + document.querySelectorAll('input[name=site]:checked').length`); got != "site-0 0" {
		t.Errorf("focus and picks after the 400: %q (focus on the first site, nothing picked for the user)", got)
	}
	// Each radio is named by its label, and the group by its legend.
	if got := evalJS[string](b, `document.querySelector('#site-1').labels[0].textContent + ' / ' + document.querySelector('#site-1').closest('fieldset').querySelector('legend').textContent`); got != "acme-euacme-eu.atlassian.net / Choose the site to link" {
		t.Errorf("accessible names: %q", got)
	}

	// Submitting without a pick says so, beside the list, without a request.
	sent := evalJS[int](b, `window.sent.length`)
	b.do(chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#site-err`)))
	if got := b.text(`#site-err`); got != "Choose a site." {
		t.Errorf("no pick: %q", got)
	}
	if got := evalJS[string](b, `document.activeElement.id + ' ' + document.querySelector('#site-0').getAttribute('aria-invalid')`); got != "site-0 true" {
		t.Errorf("no pick, focus and aria: %q", got)
	}
	if n := evalJS[int](b, `window.sent.length`); n != sent {
		t.Errorf("a submission without a pick was sent")
	}
	// Clicking the site's label picks it and clears the message.
	b.do(chromedp.Click(chromedp.CSS(`label[for=site-1]`)))
	if hidden := evalJS[bool](b, `document.querySelector('#site-err').hidden && document.querySelector('#site-1').checked`); !hidden {
		t.Error("picking a site did not clear the message")
	}
	b.do(submitAndWait(`.check`)...)
	last := evalJS[string](b, `window.sent[window.sent.length-1].url`)
	if !strings.Contains(last, "params[cloudId]="+atlassiansim.DemoCloudID2) || strings.Contains(last, "subdomain") {
		t.Errorf("sent %s", last)
	}
	if got := b.text("h1"); got != "Connected" {
		t.Errorf("success title = %q", got)
	}
	if facts := b.text(".facts"); !strings.Contains(facts, "OAuth Bot") || !strings.Contains(facts, "Site\nacme-eu (acme-eu.atlassian.net)") {
		t.Errorf("success facts = %q", facts)
	}
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(list) != 1 {
		t.Fatalf("connections = %+v", list)
	}
	if c := h.status(list[0].ConnectionID); c.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID2 || c.ConnectionConfig["siteName"] != atlassiansim.DemoSite2 {
		t.Errorf("linked to %v", c.ConnectionConfig)
	}

	// The picker speaks every language of the page (German here; the
	// translation test checks every key of every language).
	h.openOAuthForm(b, "de")
	b.do(fillOAuth(atlassiansim.DemoClientID, atlassiansim.DemoClientSecret)...)
	b.do(submitAndWait(`fieldset.sites`)...)
	if got := b.text(`fieldset.sites legend`) + " | " + b.text(`[role=alert]`); got != "Website zum Verbinden auswählen | Wählen Sie die Atlassian-Website aus, die verbunden werden soll." {
		t.Errorf("de: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`label[for=site-0]`)))
	b.do(submitAndWait(`.check`)...)
	if facts := b.text(".facts"); !strings.Contains(facts, "Website\nacme (acme.atlassian.net)") {
		t.Errorf("de facts = %q", facts)
	}
}

// What goes wrong is said in the page's own words: a wrong secret quotes what
// Atlassian answered and points at the secret; a credential reaching no site
// is told so.
func TestConnectUIOAuth2Errors(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", oauth2Provider)
	b := newBrowser(t, 1200, 900)

	h.openOAuthForm(b, "en")
	b.do(fillOAuth(atlassiansim.DemoClientID, "ATOA-wrong-secret-0123456789")...)
	b.do(submitAndWait(`[role=alert]:not([hidden])`)...)
	if got := b.text(`[role=alert]`); got != "Atlassian did not accept these credentials. Atlassian answered: access_denied: Unauthorized" {
		t.Errorf("alert = %q", got)
	}
	if got := evalJS[string](b, `document.querySelector('[role=alert] q').lang`); got != "en" {
		t.Errorf("the quote is marked %q", got)
	}
	if got := b.text(`#f-client_secret-err`); got != uiStrings(t, "en")["err_secret_field"] {
		t.Errorf("secret field error = %q", got)
	}
	if got := evalJS[string](b, `document.activeElement.id`); got != "f-client_secret" {
		t.Errorf("focus on %q", got)
	}
	if n := evalJS[int](b, `document.querySelectorAll('fieldset.sites').length`); n != 0 {
		t.Error("a site picker for a refused credential")
	}

	// The same in French: the page's sentence, Atlassian's words quoted.
	h.openOAuthForm(b, "fr")
	b.do(fillOAuth(atlassiansim.DemoClientID, "ATOA-wrong-secret-0123456789")...)
	b.do(submitAndWait(`[role=alert]:not([hidden])`)...)
	if got := b.text(`[role=alert]`); got != "Atlassian n’a pas accepté ces identifiants. Réponse d’Atlassian : access_denied: Unauthorized" {
		t.Errorf("fr alert = %q", got)
	}

	h.sim.AddClient(atlassiansim.Client{ID: "NoSiteClient000000000000000000000", Secret: "no-site-secret-0000000000000", Scopes: atlassiansim.DemoScopes})
	h.openOAuthForm(b, "en")
	b.do(fillOAuth("NoSiteClient000000000000000000000", "no-site-secret-0000000000000")...)
	b.do(submitAndWait(`[role=alert]:not([hidden])`)...)
	if got := b.text(`[role=alert]`); got != "These credentials work, but the service account reaches no Atlassian site. Give it access to a site in Atlassian Administration, then try again." {
		t.Errorf("no site: %q", got)
	}
	if busy := evalJS[bool](b, `document.querySelector('button[type=submit]').disabled`); busy {
		t.Error("submit button stays disabled")
	}
	if list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(list) != 0 {
		t.Errorf("a failed link saved %d connections", len(list))
	}
}

// Keyboard only: type the credentials, Enter; the picker takes the focus, the
// arrow keys move between the sites and Enter links the one picked.
func TestConnectUIOAuth2KeyboardOnlyPick(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", oauth2Provider)
	b := newBrowser(t, 1200, 900)
	h.openOAuthForm(b, "en")
	focus := func() string {
		return evalJS[string](b, `document.activeElement.id || document.activeElement.textContent.trim()`)
	}
	if got := focus(); got != "f-client_id" {
		t.Fatalf("first focus on %q", got)
	}
	for _, s := range []struct{ keys, expect string }{
		{atlassiansim.DemoClientID, "f-client_id"},
		{kb.Tab, "How do I find this?"},
		{kb.Tab, "f-client_secret"},
		{atlassiansim.DemoClientSecret, "f-client_secret"},
		{kb.Enter, "site-0"}, // submits; the 400 lists the sites and the first takes the focus
		{kb.ArrowDown, "site-1"},
	} {
		b.do(chromedp.KeyEvent(s.keys))
		if s.keys == kb.Enter {
			b.do(chromedp.WaitVisible(chromedp.CSS(`fieldset.sites`)))
		}
		if got := focus(); got != s.expect {
			t.Fatalf("after %q focus is on %q, want %q", s.keys, got, s.expect)
		}
	}
	if got := evalJS[string](b, `[...document.querySelectorAll('input[name=site]')].map(r => r.checked).join(',')`); got != "false,true" {
		t.Errorf("after the arrow: %s", got)
	}
	b.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(`.check`)))
	if got := evalJS[string](b, `document.activeElement.tagName + ' ' + document.activeElement.textContent`); got != "H1 Connected" {
		t.Errorf("focus after success: %q", got)
	}
	list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
	if len(list) != 1 || h.status(list[0].ConnectionID).ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID2 {
		t.Fatalf("connections = %+v", list)
	}
}

// A revoked client secret: the scheduled check finds it, the end user opens a
// reconnect link, sees the client ID filled in and the focus on the secret,
// types the new one, and the same connection is ok again on the same site.
func TestConnectUIOAuth2ReconnectAfterRevocation(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", oauth2Provider)
	id := h.linkOAuth(h.session(client.ConnectSessionRequest{}), map[string]string{"cloudId": atlassiansim.DemoCloudID2})
	h.sim.RevokeClient(atlassiansim.DemoClientID)
	h.advance(25 * time.Hour)
	h.check()
	if c, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(c) != 1 || c[0].Status != "invalid_credentials" {
		t.Fatalf("after revocation: %+v", c)
	}
	const newSecret = "ATOADemoSecret_rotated-0123456789abcdefghijklmnopqrstuvwxyz"
	h.sim.RotateClientSecret(atlassiansim.DemoClientID, newSecret)
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.srv.URL+"/connect?session_token="+rs.Token), chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)))
	if got := b.text("h1"); got != "Update Atlassian Service Account (OAuth 2.0) credentials" {
		t.Errorf("title = %q", got)
	}
	if got := b.text(".lead"); got != "Enter a new Client Secret to restore the connection. The other details are filled in from the existing connection." {
		t.Errorf("lead = %q", got)
	}
	if got := evalJS[string](b, `document.querySelector('#f-client_id').value + '|' + document.querySelector('#f-client_secret').value + '|' + document.activeElement.id`); got != atlassiansim.DemoClientID+"||f-client_secret" {
		t.Errorf("prefill and focus = %q (the secret is never filled in)", got)
	}
	b.do(chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), newSecret), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(`.check`)))
	if got := b.text("h1"); got != "Credentials updated" {
		t.Errorf("success = %q", got)
	}
	if facts := b.text(".facts"); !strings.Contains(facts, "acme-eu (acme-eu.atlassian.net)") {
		t.Errorf("facts = %q (the site the connection had)", facts)
	}
	c := h.status(id)
	if c.Status != "ok" || c.Credentials.ClientSecret != newSecret || c.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID2 || len(c.Errors) != 0 {
		t.Errorf("after reconnecting: %+v", c)
	}
	if st := h.proxyMyself(h.srv.URL, atlassiansim.DemoCloudID2, id); st != 200 {
		t.Errorf("proxy after reconnect: %d", st)
	}
	if list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{}); len(list) != 1 {
		t.Errorf("%d connections, want the same one", len(list))
	}
}

// Screenshots of the OAuth 2.0 form and of the site picker, on a desktop and
// at 320 px, light and dark; the page never scrolls sideways and the picked
// site stands out. With LATCHKEY_SCREENSHOT_DIR set they are written there
// (docs/images is made this way).
func TestConnectUIOAuth2Screenshots(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", oauth2Provider)
	dir := screenshotDir(t)
	b := newBrowser(t, 1280, 860)
	b.do(colorScheme("light"), timezone("UTC"))
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 1000}, {"narrow", 320, 720}} {
		for _, theme := range []string{"light", "dark"} {
			shot := func(screen string) {
				t.Helper()
				b.noSideScroll(size.w, screen+", "+size.name+" "+theme)
				b.themeShows(theme, screen+", "+size.name)
				b.screenshot(filepath.Join(dir, "connect-oauth2-"+screen+"-"+size.name+"-"+theme+".png"))
			}
			b.do(chromedp.EmulateViewport(int64(size.w), int64(size.h)))
			b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{AllowedIntegrations: []string{"jira"}})+"&theme="+theme),
				chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)))
			b.do(chromedp.SendKeys(chromedp.CSS(`#f-client_id`), atlassiansim.DemoClientID), chromedp.Focus(chromedp.CSS(`#f-client_secret`)))
			shot("form")

			b.do(chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), atlassiansim.DemoClientSecret))
			b.do(submitAndWait(`fieldset.sites`)...)
			b.do(chromedp.KeyEvent(kb.ArrowDown))
			if differ := evalJS[bool](b, `getComputedStyle(document.querySelector('label[for=site-1]')).borderColor !== getComputedStyle(document.querySelector('label[for=site-0]')).borderColor`); !differ {
				t.Errorf("%s %s: the picked site looks like the other", size.name, theme)
			}
			// On a desktop the whole card shows (the message at the top too); at
			// 320 px, the list.
			if size.name == "desktop" {
				b.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			} else {
				b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('fieldset.sites').scrollIntoView({block: 'center'})`))
			}
			shot("sites")
		}
	}
}
