package app_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// uiStrings reads the Connect UI's strings of one language, as the page gets them.
func uiStrings(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../connectui/i18n/" + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var uiLanguages = []string{"en", "fr", "de", "es", "ja"}

// After a failed submission the button reads its label again, in every
// language (it read "null  Connect": null was handed to replaceChildren).
func TestConnectUIButtonAfterFailure(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	for _, lang := range uiLanguages {
		b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})+"&lang="+lang), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
		b.do(fill(atlassiansim.DemoCloudID, atlassiansim.DemoEmail, strings.Replace(atlassiansim.DemoToken, "demo", "DEMO", 1))...)
		b.do(submitAndWait(`[role=alert]:not([hidden])`)...)
		want := uiStrings(t, lang)["submit"]
		if got := evalJS[string](b, `document.querySelector('button[type=submit]').textContent`); got != want {
			t.Errorf("%s: button reads %q, want %q", lang, got, want)
		}
	}
	// Reconnect forms get their own label back too.
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(h.srv.URL+"/connect?lang=de&session_token="+rs.Token), chromedp.WaitVisible(chromedp.CSS(`#f-password`)))
	b.do(chromedp.SendKeys(chromedp.CSS(`#f-password`), strings.Replace(atlassiansim.DemoToken, "demo", "DEMO", 1)))
	b.do(submitAndWait(`[role=alert]:not([hidden])`)...)
	if got, want := evalJS[string](b, `document.querySelector('button[type=submit]').textContent`), uiStrings(t, "de")["submit_reconnect"]; got != want {
		t.Errorf("reconnect: button reads %q, want %q", got, want)
	}
}

// The page's own checks run, not the browser's: no validation bubble (in the
// browser's language) hides the page's message, and focus goes to the first
// invalid field.
func TestConnectUIOwnValidationNotTheBrowsers(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})+"&lang=de"), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	if !evalJS[bool](b, `document.querySelector('form').noValidate`) {
		t.Error("the browser's validation is on")
	}
	b.do(fill(atlassiansim.DemoCloudID, "bot@", atlassiansim.DemoToken)...)
	b.do(submitAndWait(`#f-username-err`)...)
	de := uiStrings(t, "de")
	if got := b.text(`[role=alert]`); got != de["err_fix_fields"] {
		t.Errorf("alert = %q", got)
	}
	if got, want := b.text(`#f-username-err`), strings.ReplaceAll(de["err_email"], "{field}", "Service Account Email"); got != want {
		t.Errorf("field error = %q, want %q", got, want)
	}
	if got := evalJS[string](b, `document.activeElement.id`); got != "f-username" {
		t.Errorf("focus on %q, want f-username", got)
	}
	if n := len(h.sim.Calls()); n != 0 {
		t.Errorf("Atlassian was asked %d times", n)
	}
}

// A reconnect form focuses the empty secret, not the pre-filled Cloud ID.
func TestConnectUIReconnectFocusesTheSecret(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.srv.URL+"/connect?session_token="+rs.Token), chromedp.WaitVisible(chromedp.CSS(`#f-password`)))
	if got := evalJS[string](b, `document.activeElement.id`); got != "f-password" {
		t.Errorf("focus on %q, want f-password", got)
	}
	// A new connection starts at the top.
	b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	if got := evalJS[string](b, `document.activeElement.id`); got != "f-cloudId" {
		t.Errorf("new connection: focus on %q, want f-cloudId", got)
	}
}
