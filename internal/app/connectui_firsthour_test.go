package app_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

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

	// A value the session presets (so the form hides it) that the API refuses
	// cannot be highlighted: the alert says what the API said.
	preset := h.connectLink(client.ConnectSessionRequest{IntegrationsConfigDefaults: map[string]client.IntegrationDefaults{"jira": {ConnectionConfig: map[string]any{"cloudId": "not-a-uuid"}}}})
	b.do(chromedp.Navigate(preset), chromedp.WaitVisible(chromedp.CSS(`#f-username`)))
	b.do(chromedp.SendKeys(chromedp.CSS(`#f-username`), atlassiansim.DemoEmail), chromedp.SendKeys(chromedp.CSS(`#f-password`), atlassiansim.DemoToken))
	b.do(submitAndWait(`[role=alert]:not([hidden])`)...)
	if got := b.text(`[role=alert]`); !strings.Contains(got, "Cloud ID") {
		t.Errorf("alert for a preset value = %q", got)
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

// An expiry date is the user's: the end of the picked day in the browser's
// time zone, sent with its offset. Today is accepted wherever the user is;
// yesterday is refused before anything is sent.
func TestConnectUIExpiryDateInTheUsersTimeZone(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	for _, zone := range []string{"Pacific/Kiritimati", "America/Los_Angeles", "Pacific/Pago_Pago", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		today := time.Now().In(loc)
		pick := func(date string) {
			t.Helper()
			b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
			b.do(fill(atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken)...)
			b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#f-credentials_expires_at').value = '` + date + `'`))
		}
		b.do(timezone(zone))
		if _, off := today.Zone(); evalJS[int](b, `-new Date().getTimezoneOffset() * 60`) != off {
			t.Fatalf("the browser is not in %s", zone)
		}

		// Yesterday, there: refused by the page.
		calls := len(h.sim.Calls())
		pick(today.AddDate(0, 0, -1).Format("2006-01-02"))
		b.do(submitAndWait(`#f-credentials_expires_at-err`)...)
		if got, want := b.text(`#f-credentials_expires_at-err`), strings.ReplaceAll(uiStrings(t, "en")["err_date"], "{field}", "API Token expiry date"); got != want {
			t.Errorf("%s, yesterday: %q, want %q", zone, got, want)
		}
		if len(h.sim.Calls()) != calls {
			t.Errorf("%s: a date in the past was sent", zone)
		}

		// Today, there: saved as the end of today there.
		pick(today.Format("2006-01-02"))
		b.do(submitAndWait(`.check`)...)
		list, _ := h.c.ListConnections(h.ctx(), client.ListConnectionsOptions{})
		c, err := h.c.GetConnection(h.ctx(), "jira", list[0].ConnectionID)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(today.Year(), today.Month(), today.Day(), 23, 59, 59, 0, loc)
		got, err := time.Parse(time.RFC3339, strings.Replace(*c.CredentialsExpiresAt, "+00:00", "Z", 1))
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: stored %v, want %s (%s)", zone, *c.CredentialsExpiresAt, want.UTC().Format(time.RFC3339), want.Format(time.RFC3339))
		}
	}
}
