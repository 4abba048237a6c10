package app_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// The success screen names the account once ("…(API Token) account" said it
// twice) and keeps a Cloud ID on one line, down to 320 px.
func TestConnectUISuccessScreenLayout(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 800)
	for _, width := range []int{320, 360, 1200} {
		b.do(chromedp.EmulateViewport(int64(width), 800), chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
		b.do(fill(atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken)...)
		b.do(submitAndWait(`.check`)...)
		if got := b.text(".lead"); got != "Your Atlassian account is linked." {
			t.Errorf("%d px: %q", width, got)
		}
		facts := evalJS[string](b, `[...document.querySelectorAll('.facts dd')].map(dd => {
			const r = document.createRange(); r.selectNodeContents(dd);
			return dd.previousElementSibling.textContent + '=' + dd.textContent + ' (' + r.getClientRects().length + ' line)';
		}).join(', ')`)
		if want := "Account=Integration Bot (1 line), Cloud ID=" + atlassiansim.DemoCloudID + " (1 line)"; facts != want {
			t.Errorf("%d px: facts %s, want %s", width, facts, want)
		}
		b.noSideScroll(width, "the success screen")
	}
}

// Help links sit beside every label on a wide screen and under every label on
// a narrow one, never beside some and under others.
func TestConnectUIHelpLinksPlacedAlike(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1200, 900)
	for _, c := range []struct {
		width int
		lang  string
		want  string
	}{{320, "en", "under"}, {320, "fr", "under"}, {360, "de", "under"}, {1200, "fr", "beside"}, {1200, "ja", "beside"}} {
		b.do(chromedp.EmulateViewport(int64(c.width), 900), chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})+"&lang="+c.lang), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
		got := evalJS[string](b, `[...document.querySelectorAll('.label-row')].map(row => {
			const l = row.querySelector('label').getBoundingClientRect(), a = row.querySelector('a.help').getBoundingClientRect();
			return a.top >= l.bottom - 1 ? 'under' : a.left >= l.right - 1 ? 'beside' : 'overlapping';
		}).join(' ')`)
		if want := fmt.Sprintf("%s %s %s %s", c.want, c.want, c.want, c.want); got != want {
			t.Errorf("%d px, %s: help links %s, want all %s", c.width, c.lang, got, c.want)
		}
	}
}

// Guides follow the system's dark theme, and the theme the Connect UI was
// asked for when it links to them.
func TestConnectUIGuideThemes(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	b := newBrowser(t, 1000, 800)
	guide := h.srv.URL + "/docs/connect/atlassian-service-account-api-token"
	const light, dark = "rgb(255, 255, 255)", "rgb(34, 39, 43)"
	for _, c := range []struct{ system, query, want string }{
		{"light", "", light}, {"dark", "", dark}, {"light", "?theme=dark", dark}, {"dark", "?theme=light", light},
	} {
		b.do(colorScheme(c.system), chromedp.Navigate(guide+c.query), chromedp.WaitVisible(chromedp.CSS(`h1`)))
		if got := evalJS[string](b, `getComputedStyle(document.body).backgroundColor`); got != c.want {
			t.Errorf("system %s, %q: background %s, want %s", c.system, c.query, got, c.want)
		}
		if got := evalJS[string](b, `getComputedStyle(document.querySelector('h1')).color`); (got == "rgb(23, 43, 77)") != (c.want == light) {
			t.Errorf("system %s, %q: text %s", c.system, c.query, got)
		}
	}
	b.do(colorScheme("light"), chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})+"&theme=dark"), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
	if got := evalJS[string](b, `document.querySelector('a.help').getAttribute('href').replace(/^.*\/docs/, '/docs')`); got != "/docs/connect/atlassian-service-account-api-token?theme=dark#step-1-finding-your-cloud-id" {
		t.Errorf("help link from a dark page: %s", got)
	}
}
