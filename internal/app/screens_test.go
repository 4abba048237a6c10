package app_test

import (
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// Screenshots of the form, an error, the success screen and a reconnect form,
// at desktop and 360 px widths, light and dark. The page must never scroll
// sideways. With LATCHKEY_SCREENSHOT_DIR set they are written there
// (docs/images is made this way).
func TestConnectUIScreenshots(t *testing.T) {
	h := newHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	dir := screenshotDir(t)
	b := newBrowser(t, 1280, 860)
	b.do(colorScheme("light"), timezone("UTC"))
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 860}, {"mobile", 360, 780}} {
		for _, theme := range []string{"light", "dark"} {
			shot := func(screen string) {
				t.Helper()
				b.noSideScroll(size.w, screen+", "+size.name+" "+theme)
				b.themeShows(theme, screen+", "+size.name)
				b.screenshot(filepath.Join(dir, "connect-"+screen+"-"+size.name+"-"+theme+".png"))
			}
			b.do(chromedp.EmulateViewport(int64(size.w), int64(size.h)))
			open := func(token string) {
				t.Helper()
				b.do(chromedp.Navigate(h.srv.URL+"/connect?theme="+theme+"&session_token="+token), chromedp.WaitVisible(chromedp.CSS(`#f-password`)))
			}

			// The form, half filled, a format mistake flagged.
			open(h.session(client.ConnectSessionRequest{}))
			b.do(chromedp.SendKeys(chromedp.CSS(`#f-cloudId`), "1a11d016-8984"),
				chromedp.SendKeys(chromedp.CSS(`#f-username`), atlassiansim.DemoEmail),
				chromedp.Focus(chromedp.CSS(`#f-password`)))
			shot("form")

			// An error from Atlassian: an unknown Cloud ID, with the hint beside it.
			b.do(fill(otherCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken)...)
			b.do(submitAndWait(`#f-cloudId-err:not([hidden])`)...)
			b.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			shot("error")

			// Success.
			b.do(fill(atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken)...)
			b.do(submitAndWait(`.check`)...)
			shot("success")

			// A reconnect form: details pre-filled, focus on the new token.
			rs, err := h.c.CreateReconnectSession(h.ctx(), client.ReconnectSessionRequest{ConnectionID: id, IntegrationID: "jira"})
			if err != nil {
				t.Fatal(err)
			}
			open(rs.Token)
			shot("reconnect")
		}
	}
}
