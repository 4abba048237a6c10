package app_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// Screenshots of the form and the success screen at desktop and 360 px widths,
// light and dark. The page must never scroll sideways. With
// LATCHKEY_SCREENSHOT_DIR set they are written there (docs/images is made this way).
func TestConnectUIScreenshots(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	dir := os.Getenv("LATCHKEY_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 860}, {"mobile", 360, 780}} {
		for _, theme := range []string{"light", "dark"} {
			t.Run(size.name+"-"+theme, func(t *testing.T) {
				b := newBrowser(t, size.w, size.h)
				link := h.connectLink(client.ConnectSessionRequest{}) + "&theme=" + theme
				b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)),
					chromedp.SendKeys(chromedp.CSS(`#f-cloudId`), "1a11d016-8984"),
					chromedp.SendKeys(chromedp.CSS(`#f-username`), atlassiansim.DemoEmail),
					chromedp.Focus(chromedp.CSS(`#f-password`)),
				)
				if w := evalJS[int](b, `document.documentElement.scrollWidth`); w > size.w {
					t.Errorf("page is %d px wide in a %d px window", w, size.w)
				}
				if got := evalJS[string](b, `getComputedStyle(document.body).backgroundColor`); (theme == "dark") != (got == "rgb(22, 26, 29)") {
					t.Errorf("%s theme background = %s", theme, got)
				}
				b.screenshot(filepath.Join(dir, "connect-form-"+size.name+"-"+theme+".png"))
				b.do(clear(`#f-cloudId`), chromedp.SendKeys(chromedp.CSS(`#f-cloudId`), atlassiansim.DemoCloudID),
					chromedp.SendKeys(chromedp.CSS(`#f-password`), atlassiansim.DemoToken),
					chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.check`)))
				b.screenshot(filepath.Join(dir, "connect-success-"+size.name+"-"+theme+".png"))
			})
		}
	}
}
