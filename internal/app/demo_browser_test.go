package app_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyhq/latchkey/internal/cli"
)

// latchkey demo's OAuth 2.0 path, as a newcomer follows it: open the connect
// link the demo printed, pick the OAuth 2.0 integration, type the client ID
// and secret the demo printed, pick one of the two sites, and the account is
// linked; the demo then stops cleanly.
func TestDemoOAuth2PathLinksInTheBrowser(t *testing.T) {
	b := newBrowser(t, 1200, 900)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--sim-addr", "127.0.0.1:0"}, func(string) string { return "" }, pw, &errb)
		pw.Close()
	}()
	var banner strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Ctrl-C stops") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	find := func(re string) string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(banner.String())
		if m == nil {
			cancel()
			t.Fatalf("no %s in the banner %q (stderr %q)", re, banner.String(), errb.String())
		}
		return m[1]
	}
	link := find(`(http://127\.0\.0\.1:\d+/connect\?session_token=\S+)`)
	clientID := find(`Client ID\s+(\S+)`)
	clientSecret := find(`Client Secret\s+(\S+)`)

	b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`.list`)))
	if items := evalJS[string](b, `[...document.querySelectorAll('.item')].map(i => i.textContent).join('|')`); items !=
		"Atlassian Service Account (API Token)|Atlassian Service Account (OAuth 2.0)" {
		t.Fatalf("the demo offers %q", items)
	}
	b.do(chromedp.Click(chromedp.CSS(`li:nth-child(1) .item`)), chromedp.WaitVisible(chromedp.CSS(`#f-cloudId`)), // the API-token form is there too
		chromedp.Click(chromedp.CSS(`.back`)), chromedp.WaitVisible(chromedp.CSS(`.list`)))
	b.do(chromedp.Click(chromedp.CSS(`li:nth-child(2) .item`)), chromedp.WaitVisible(chromedp.CSS(`#f-client_secret`)),
		chromedp.SendKeys(chromedp.CSS(`#f-client_id`), clientID),
		chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), clientSecret),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`fieldset.sites`)),
		chromedp.Click(chromedp.CSS(`label[for=site-0]`)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.check`)))
	if facts := b.text(".facts"); !strings.Contains(facts, "acme (acme.atlassian.net)") {
		t.Errorf("success facts = %q", facts)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo exit %d: %s", code, errb.String())
	}
}
