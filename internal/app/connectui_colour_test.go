package app_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyhq/latchkey/client"
)

// relativeLuminance and contrastRatio are WCAG 2's, for "rgb(r, g, b)" colours.
func relativeLuminance(t *testing.T, css string) float64 {
	t.Helper()
	var r, g, b float64
	if _, err := fmt.Sscanf(css, "rgb(%g, %g, %g)", &r, &g, &b); err != nil {
		t.Fatalf("colour %q: %v", css, err)
	}
	lin := func(v float64) float64 {
		v /= 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func contrastRatio(t *testing.T, a, b string) float64 {
	t.Helper()
	x, y := relativeLuminance(t, a), relativeLuminance(t, b)
	return (math.Max(x, y) + 0.05) / (math.Min(x, y) + 0.05)
}

// Whatever LATCHKEY_CONNECT_PRIMARY_COLOR is, the button's text and the links
// stay readable (WCAG AA, 4.5:1), and in the dark theme the button stands out
// from the card (3:1). The light theme shows the configured colour itself.
func TestConnectUIPrimaryColourContrast(t *testing.T) {
	var b *browser
	for _, colour := range []string{"#FFE27A", "#0052CC", "#767676", "#00B2E3", "#101010"} {
		h := newHarness(t, "LATCHKEY_CONNECT_PRIMARY_COLOR="+colour)
		h.integration("jira", atlassian)
		if b == nil {
			b = newBrowser(t, 1000, 900)
		}
		for _, theme := range []string{"light", "dark"} {
			b.do(chromedp.Navigate(h.connectLink(client.ConnectSessionRequest{})+"&theme="+theme), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)))
			style := func(sel, prop string) string {
				return evalJS[string](b, `getComputedStyle(document.querySelector('`+sel+`')).`+prop)
			}
			button, text, card, link := style(`button[type=submit]`, "backgroundColor"), style(`button[type=submit]`, "color"), style(`.card`, "backgroundColor"), style(`a.help`, "color")
			if r := contrastRatio(t, text, button); r < 4.5 {
				t.Errorf("%s, %s theme: button text %s on %s is %.2f:1", colour, theme, text, button, r)
			}
			if r := contrastRatio(t, link, card); r < 4.5 {
				t.Errorf("%s, %s theme: link %s on %s is %.2f:1", colour, theme, link, card, r)
			}
			if theme == "dark" {
				if r := contrastRatio(t, button, card); r < 3 {
					t.Errorf("%s, dark theme: button %s on the card %s is %.2f:1", colour, button, card, r)
				}
			}
			if theme == "light" {
				var r, g, bl int
				fmt.Sscanf(colour, "#%02x%02x%02x", &r, &g, &bl)
				if want := fmt.Sprintf("rgb(%d, %d, %d)", r, g, bl); button != want {
					t.Errorf("%s, light theme: button %s, want the colour itself", colour, button)
				}
			}
		}
	}
}
