package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// seed writes n connections of integration key straight through the store
// (sealed by the connections service), in one transaction: the console is
// tried among many connections without linking each one. mut shapes the
// i-th connection.
func (h *harness) seed(key string, n int, mut func(i int, c *domain.Connection)) {
	h.t.Helper()
	ctx := context.Background()
	st := h.app.Store()
	env, err := st.EnvironmentByName(ctx, "dev")
	if err != nil {
		h.t.Fatal(err)
	}
	integ, err := st.Integration(ctx, env.ID, key)
	if err != nil {
		h.t.Fatal(err)
	}
	err = st.Write(ctx, func(tx domain.Tx) error {
		for i := 0; i < n; i++ {
			verified := h.now().Add(-time.Duration(i%20) * time.Hour)
			c := &domain.Connection{EnvironmentID: env.ID, IntegrationID: integ.ID, IntegrationKey: key, ConnectionID: fmt.Sprintf("conn-%05d", i),
				Provider: integ.Provider, Status: domain.StatusOK, LastVerifiedAt: &verified,
				ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID, "accountId": fmt.Sprintf("712020:user-%d", i), "displayName": fmt.Sprintf("Customer %d bot", i)},
				EndUser:          &domain.EndUser{ID: fmt.Sprintf("customer-%d", i), Email: fmt.Sprintf("ops%d@customer%d.example", i, i), DisplayName: fmt.Sprintf("Customer %d", i)},
				Credentials:      domain.Credentials{Type: domain.AuthModeBasic, Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken}}
			if mut != nil {
				mut(i, c)
			}
			if err := h.app.Connections().Seal(c); err != nil {
				return err
			}
			if _, _, err := tx.UpsertConnection(ctx, c, domain.UpsertOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("seed: %v", err)
	}
}

// colorScheme makes the page see prefers-color-scheme: scheme.
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	}))
}

// signIn signs in to the console through its form.
func (b *browser) signIn(base, key string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.CSS(`#secret_key`)),
		chromedp.SendKeys(chromedp.CSS(`#secret_key`), key), chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Console]`)))
}

// noSideScroll fails when the page is wider than the window.
func (b *browser) noSideScroll(width int, what string) {
	b.t.Helper()
	if w := evalJS[int](b, `document.documentElement.scrollWidth`); w > width {
		b.t.Errorf("%s is %d px wide in a %d px window", what, w, width)
	}
}

// themeShows fails unless the page's background is the theme's (the Connect
// UI and the console share their dark background).
func (b *browser) themeShows(theme, what string) {
	b.t.Helper()
	if got := evalJS[string](b, `getComputedStyle(document.body).backgroundColor`); (theme == "dark") != (got == "rgb(22, 26, 29)") {
		b.t.Errorf("%s: %s theme background = %s", what, theme, got)
	}
}

// screenshotDir is where the screenshot tests write: LATCHKEY_SCREENSHOT_DIR
// (docs/images is made with it), or a directory of the test's own.
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("LATCHKEY_SCREENSHOT_DIR"); dir != "" {
		return dir
	}
	return t.TempDir()
}

// The console at desktop and phone widths, light and dark: never wider than
// the window; the screenshots in docs/images are made by this test
// (LATCHKEY_SCREENSHOT_DIR=docs/images).
func TestConsoleScreenshots(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.integration("wiki", "confluence-basic")
	soon := h.now().Add(5 * 24 * time.Hour)
	h.seed("jira", 240, func(i int, c *domain.Connection) {
		switch {
		case i == 137:
			c.Status = domain.StatusInvalidCredentials
		case i == 211:
			c.Status = domain.StatusScopeMissing
		case i%50 == 7:
			c.CredentialsExpiresAt = &soon
		}
	})
	// conn-00137's story, and a second key, for the pictures.
	for i, e := range []domain.Event{
		{Kind: "auth.creation", Outcome: "success", Message: "Connected as Customer 137 bot (712020:user-137)."},
		{Kind: "health.check", Outcome: "failure", Code: "invalid_credentials", Message: "Status ok → invalid_credentials. Atlassian did not accept this email and API token."},
	} {
		e.EnvironmentID, e.IntegrationKey, e.ConnectionID, e.At = 1, "jira", "conn-00137", h.now().Add(time.Duration(i-2)*17*time.Hour)
		if err := h.app.Store().InsertEvent(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
	}
	h.newKey(testSecretKey, "billing-service 2026")
	dir := screenshotDir(t)
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 860}, {"phone", 360, 780}} {
		for _, theme := range []string{"light", "dark"} {
			t.Run(size.name+"-"+theme, func(t *testing.T) {
				b := newBrowser(t, size.w, size.h)
				b.colorScheme(theme)
				b.do(chromedp.Navigate(h.srv.URL+"/admin"), chromedp.WaitVisible(chromedp.CSS(`#secret_key`)))
				b.noSideScroll(size.w, "the sign-in page")
				b.signIn(h.srv.URL, testSecretKey)
				b.themeShows(theme, "the overview")
				for _, p := range []struct{ name, path, wait string }{
					{"overview", "/admin", "#h-status"},
					{"connections", "/admin/connections", "table.rows"},
					{"connection", "/admin/connection?integration=jira&id=conn-00137", "#h-health"},
					{"environment", "/admin/environment", "#h-keys"},
				} {
					b.do(chromedp.Navigate(h.srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
					b.noSideScroll(size.w, p.name)
					b.screenshot(filepath.Join(dir, "console-"+p.name+"-"+size.name+"-"+theme+".png"))
				}
				if logs := b.logs(); len(logs) > 0 {
					t.Errorf("browser console: %s", strings.Join(logs, "\n"))
				}
			})
		}
	}
}

// by runs act (a click or a key that loads a page) and waits for sel on the
// page it loads.
func (b *browser) by(act chromedp.Action[chromedp.Void], sel string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.old = '1'`), act,
		chromedp.WaitVisible(chromedp.CSS(`html:not([data-old]) `+sel)))
}

// click clicks the button or link whose text is label and waits for sel on
// the page it loads.
func (b *browser) click(label, sel string) {
	b.t.Helper()
	b.by(chromedp.Click(chromedp.Search(`//*[self::button or self::a][normalize-space()="`+label+`"]`)), sel)
}

func (b *browser) notice() string {
	b.t.Helper()
	return evalJS[string](b, `(document.querySelector('.notice') || {textContent: ''}).textContent.trim()`)
}

// Sign-in in a real browser: a wrong key is refused with the message at the
// field, five failures throttle the address (the right key too), and the
// right key works once the wait is over.
func TestConsoleBrowserSignIn(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, 1200, 900)
	b.do(chromedp.Navigate(h.srv.URL+"/admin/connections"), chromedp.WaitVisible(chromedp.CSS(`#secret_key`)))
	if got := evalJS[string](b, `document.activeElement.id`); got != "secret_key" {
		t.Errorf("focus on the sign-in page: %q", got)
	}
	try := func(key string) {
		b.by(chromedp.Steps(chromedp.SendKeys(chromedp.CSS(`#secret_key`), key), chromedp.KeyEvent("\r")), `main`)
	}
	try("sk_wrong_0123456789abcdef0123456789abcdef")
	if got := b.notice(); !strings.Contains(got, "That secret key is not valid") {
		t.Errorf("wrong key: %q", got)
	}
	if got := evalJS[string](b, `document.activeElement.id + ' ' + document.activeElement.getAttribute('aria-invalid')`); got != "secret_key true" {
		t.Errorf("after a wrong key, focus: %q", got)
	}
	for i := 0; i < 4; i++ {
		try("sk_wrong_0123456789abcdef0123456789abcdef")
	}
	try("sk_wrong_0123456789abcdef0123456789abcdef")
	if got := b.notice(); !strings.Contains(got, "Too many failed sign-ins from your address. Try again in 12 seconds.") {
		t.Errorf("6th wrong key: %q", got)
	}
	try(testSecretKey)
	if got := b.notice(); !strings.Contains(got, "Too many failed sign-ins") {
		t.Errorf("right key while throttled: %q", got)
	}
	h.advance(12 * time.Second)
	try(testSecretKey)
	if got := evalJS[string](b, `location.pathname + ' ' + document.querySelector('h1').textContent`); got != "/admin/connections Connections" {
		t.Errorf("after signing in: %q", got)
	}
	if strings.Contains(evalJS[string](b, `document.cookie`), "latchkey") {
		t.Error("the session cookie is readable from scripts")
	}
}

// CSRF in a real browser: the delete form without its token, with a wrong
// one, and posted (with the right token) from a page of another origin, are
// all refused, and the connection stays.
func TestConsoleBrowserCSRF(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	b := newBrowser(t, 1200, 900)
	b.signIn(h.srv.URL, testSecretKey)
	confirm := h.srv.URL + "/admin/connection/delete?integration=jira&id=" + id
	for name, js := range map[string]string{
		"without a token": `document.querySelector('main form input[name=csrf]').remove()`,
		"a wrong token":   `document.querySelector('main form input[name=csrf]').value = 'ab'.repeat(32)`,
	} {
		b.do(chromedp.Navigate(confirm), chromedp.WaitVisible(chromedp.CSS(`main form`)), chromedp.Evaluate[chromedp.Void](js))
		b.click("Delete the connection", "main")
		if got := b.text("h1") + ": " + b.notice(); !strings.HasPrefix(got, "Refused: This form is missing its security token") {
			t.Errorf("%s: %q", name, got)
		}
	}
	// A page on another origin that knows the token (it cannot, but the
	// origin check must hold on its own) posts the form on load.
	b.do(chromedp.Navigate(confirm), chromedp.WaitVisible(chromedp.CSS(`main form`)))
	token := evalJS[string](b, `document.querySelector('main form input[name=csrf]').value`)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/admin/connection/delete"><input name="csrf" value="%s">`+
			`<input name="integration" value="jira"><input name="id" value="%s"></form><script>document.forms[0].submit()</script>`, h.srv.URL, token, id)
	}))
	defer evil.Close()
	b.do(chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.CSS(`.notice.error`)))
	if got := b.notice(); !strings.Contains(got, "sent from another site") {
		t.Errorf("from another origin: %q", got)
	}
	if _, err := h.c.GetConnection(h.ctx(), "jira", id); err != nil {
		t.Fatalf("a refused form deleted the connection: %v", err)
	}
	// The real form, from the console, works.
	b.do(chromedp.Navigate(confirm), chromedp.WaitVisible(chromedp.CSS(`main form`)))
	b.click("Delete the connection", ".notice.ok")
	if _, err := h.c.GetConnection(h.ctx(), "jira", id); err == nil {
		t.Error("the console's own delete did not delete")
	}
}

// Every action of the console, clicked at phone width (360 px): integrations,
// a connect link (copied), check now, a reconnect link, a webhook retry, a
// secret key created and revoked, the signing key replaced, a connection
// deleted after confirmation, signing out. None scrolls sideways.
func TestConsoleBrowserActionsAtPhoneWidth(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	rcv.answer(503, false)
	h.dispatch() // the creation webhook fails once
	rcv.answer(200, false)
	const width = 360
	b := newBrowser(t, width, 780)
	b.signIn(h.srv.URL, testSecretKey)
	wide := func(what string) { b.t.Helper(); b.noSideScroll(width, what) }
	wide("the overview")

	// Integrations: create one, then rename it.
	b.by(chromedp.Navigate(h.srv.URL+"/admin/integrations"), `#i-provider`)
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#i-provider').value = 'confluence-basic'`), chromedp.SendKeys(chromedp.CSS(`#i-key`), "wiki"))
	b.click("Create integration", ".notice.ok")
	if got := b.notice(); got != "Integration created." {
		t.Errorf("create integration: %q", got)
	}
	wide("the integrations")
	b.click("Rename wiki", "#d-name")
	b.do(clear(`#d-name`), chromedp.SendKeys(chromedp.CSS(`#d-name`), "Team wiki"))
	b.click("Save", ".notice.ok")
	if in, _ := h.c.GetIntegration(h.ctx(), "wiki"); in == nil || in.DisplayName != "Team wiki" {
		t.Errorf("renamed: %+v", in)
	}

	// A connect link for an end user, copied with its button.
	b.by(chromedp.Navigate(h.srv.URL+"/admin/connect-links"), `#l-id`)
	b.do(chromedp.SendKeys(chromedp.CSS(`#l-id`), "user-99"), chromedp.SendKeys(chromedp.CSS(`#l-email`), "lin@example.com"),
		chromedp.Click(chromedp.CSS(`input[name=integration][value=jira]`)))
	b.click("Create link", "#new-link")
	wide("a new connect link")
	link := evalJS[string](b, `document.querySelector('#new-link').value`)
	if !strings.HasPrefix(link, "http://127.0.0.1:3003/connect?session_token=nango_connect_session_") {
		t.Fatalf("connect link: %q", link)
	}
	if got := evalJS[string](b, `document.activeElement.id`); got != "new-link" {
		t.Errorf("focus after creating a link: %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`button[data-copy=new-link]`)), chromedp.WaitVisible(chromedp.CSS(`button.copied`)))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById('live').textContent === 'Copied to the clipboard.'`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("the copy is not announced: %v", err)
	}

	// Check now, then a reconnect link, on the connection's page.
	b.by(chromedp.Navigate(h.srv.URL+"/admin/connection?integration=jira&id="+id), `#h-health`)
	wide("a connection")
	b.click("Check now", ".notice.ok")
	if got := b.text(`#status`); got != "OK" {
		t.Errorf("status after check: %q", got)
	}
	b.click("Create reconnect link", "#new-link")
	if got := evalJS[string](b, `document.querySelector('#new-link').value`); !strings.Contains(got, "session_token=nango_connect_session_") {
		t.Errorf("reconnect link: %q", got)
	}

	// The failed webhook, retried from its page.
	b.by(chromedp.Navigate(h.srv.URL+"/admin/webhooks?status=pending"), `main`)
	wide("the webhooks")
	b.click("#1", "#h-attempts")
	if got := evalJS[string](b, `[...document.querySelectorAll('table.rows td[data-label=Answer]')].map(e => e.textContent.trim()).join('|')`); got != "HTTP 503" {
		t.Errorf("attempts: %q", got)
	}
	b.click("Retry now", ".notice.ok")
	if got := b.notice(); got != "The delivery will be sent again now." {
		t.Errorf("retry: %q", got)
	}

	// A second secret key, then revoked.
	b.by(chromedp.Navigate(h.srv.URL+"/admin/environment"), `#h-keys`)
	b.do(chromedp.SendKeys(chromedp.CSS(`#k-label`), "phone test"))
	b.click("Create a secret key", "#new-key")
	wide("a new key")
	key := evalJS[string](b, `document.querySelector('#new-key').value`)
	if _, err := client.New(h.srv.URL, key).ListIntegrations(h.ctx()); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	b.click("Revoke key 2…", "main form")
	b.click("Revoke key 2", ".notice.ok")
	if _, err := client.New(h.srv.URL, key).ListIntegrations(h.ctx()); err == nil {
		t.Error("the revoked key still works")
	}

	// The webhook signing key, replaced after confirmation.
	b.click("Replace the signing key…", "main form")
	b.click("Replace the signing key", "#signing-key")
	if s, _ := h.app.EnvironmentSettings().Get(context.Background(), 1); s == nil || s.WebhookSigningKey != evalJS[string](b, `document.querySelector('#signing-key').value`) {
		t.Error("the signing key shown is not the new one")
	}

	// Delete the connection, after confirmation.
	b.by(chromedp.Navigate(h.srv.URL+"/admin/connection?integration=jira&id="+id), `#h-health`)
	b.click("Delete…", "main form")
	wide("the delete confirmation")
	b.click("Delete the connection", ".notice.ok")
	if got := b.notice(); got != "Connection deleted." {
		t.Errorf("delete: %q", got)
	}
	if _, err := h.c.GetConnection(h.ctx(), "jira", id); err == nil {
		t.Error("the connection is still there")
	}

	// The audit trail shows it all; then sign out.
	b.by(chromedp.Navigate(h.srv.URL+"/admin/audit"), `main`)
	wide("the audit trail")
	if n := evalJS[int](b, `[...document.querySelectorAll('table.rows td[data-label=Who]')].filter(e => e.textContent === 'console session of key 1').length`); n != 11 {
		t.Errorf("%d audit rows of the console session, want 11", n)
	}
	b.click("Sign out", "#secret_key")
	if got := b.notice(); got != "You are signed out." {
		t.Errorf("sign out: %q", got)
	}
}

// The keyboard alone: sign in, skip to the content, search, open the
// connection, check it now, with the focus visible at every step.
func TestConsoleKeyboardOnly(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.seed("jira", 30, nil)
	b := newBrowser(t, 1200, 900)
	focused := func() string {
		return evalJS[string](b, `(() => { const e = document.activeElement; return e.id || e.getAttribute('aria-label') || e.textContent.trim().replace(/\s+/g, ' '); })()`)
	}
	visible := func() {
		b.t.Helper()
		if s := evalJS[string](b, `getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth`); s == "none 0px" || strings.HasPrefix(s, "none") {
			t.Errorf("no visible focus on %q: %s", focused(), s)
		}
	}
	tabTo := func(want string, max int) {
		b.t.Helper()
		for i := 0; i < max; i++ {
			b.do(chromedp.KeyEvent(kb.Tab))
			if focused() == want {
				visible()
				return
			}
		}
		t.Fatalf("%q not reached in %d tabs (at %q)", want, max, focused())
	}
	b.do(chromedp.Navigate(h.srv.URL+"/admin"), chromedp.WaitVisible(chromedp.CSS(`#secret_key`)))
	b.by(chromedp.Steps(chromedp.KeyEvent(testSecretKey), chromedp.KeyEvent(kb.Enter)), `#h-status`)
	// The first Tab reaches the skip link, which moves past the navigation.
	b.do(chromedp.KeyEvent(kb.Tab))
	if got := focused(); got != "Skip to content" {
		t.Fatalf("first tab: %q", got)
	}
	visible()
	b.do(chromedp.KeyEvent(kb.Enter))
	if got := focused(); got != "main" {
		t.Errorf("after the skip link: %q", got)
	}
	// Into the navigation, to Connections.
	// Shift+Tab goes back into the navigation, to Connections.
	for i := 0; i < 10 && focused() != "Connections"; i++ {
		b.do(chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	if got := focused(); got != "Connections" {
		t.Fatalf("shift+tab from main reached %q", got)
	}
	visible()
	b.by(chromedp.KeyEvent(kb.Enter), `#f-q`)
	tabTo("f-q", 20)
	b.by(chromedp.Steps(chromedp.KeyEvent("conn-00017"), chromedp.KeyEvent(kb.Enter)), `table.rows`)
	if n := evalJS[int](b, `document.querySelectorAll('table.rows tbody tr').length`); n != 1 {
		t.Errorf("search found %d", n)
	}
	tabTo("conn-00017", 30)
	b.by(chromedp.KeyEvent(kb.Enter), `#h-health`)
	tabTo("Check now", 30)
	b.by(chromedp.KeyEvent(kb.Enter), `.notice.ok`)
	if got := b.notice(); !strings.HasPrefix(got, "Checked now") {
		t.Errorf("check now by keyboard: %q", got)
	}
	// The delete confirmation, by keyboard, cancelled.
	tabTo("Delete…", 30)
	b.by(chromedp.KeyEvent(kb.Enter), `main form`)
	tabTo("Cancel", 20)
	b.by(chromedp.KeyEvent(kb.Enter), `#h-health`)
	if _, err := h.c.GetConnection(h.ctx(), "jira", "conn-00017"); err != nil {
		t.Errorf("cancel deleted: %v", err)
	}
}

// newPublicHarness is a harness whose LATCHKEY_PUBLIC_URL is its own
// address, so the links latchkey makes (connect links) open in the browser.
func newPublicHarness(t *testing.T, extraEnv ...string) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, append(extraEnv, "LATCHKEY_PUBLIC_URL=http://"+ln.Addr().String())...)
	h.srv.Close()
	srv := httptest.NewUnstartedServer(h.app.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	h.srv = srv
	h.c = client.New(srv.URL, testSecretKey)
	return h
}

// The "done when", as an operator new to latchkey would do it: sign
// in, find the one broken connection among many by filtering by status, send
// its owner a reconnect link, see it turn ok once they used it, then create a
// second secret key, move a running client to it, and revoke the first
// without a single refused API request.
func TestConsoleOperatorScenario(t *testing.T) {
	h := newPublicHarness(t)
	h.tokens()
	h.integration("jira", atlassian)
	h.seed("jira", 500, nil)
	tok := h.session(client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "acme-42", Email: "it@acme.example", DisplayName: "Acme IT"}})
	res, err := h.c.SubmitBasic(h.ctx(), tok, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, "jira-bot@serviceaccount.atlassian.com", jiraOnlyToken)
	if err != nil {
		t.Fatal(err)
	}
	broken := res.ConnectionID
	// Acme's token is revoked at Atlassian; the next round of health checks finds it.
	h.sim.Revoke(jiraOnlyToken)
	h.sleepMovesClock = true
	h.advance(25 * time.Hour)
	if n := h.check(); n != 501 {
		t.Fatalf("checked %d connections, want 501", n)
	}

	// The operator signs in and sees one connection with invalid credentials.
	op := newBrowser(t, 1280, 900)
	op.signIn(h.srv.URL, testSecretKey)
	if got := op.text(`a.tile.bad .n`) + " " + op.text(`a.tile.bad .l`); got != "1 Invalid credentials" {
		t.Errorf("overview tile: %q", got)
	}
	// Connections, filtered by status: the one broken connection among 501.
	op.click("Connections", "#f-status")
	op.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#f-status').value = 'invalid_credentials'`))
	op.click("Filter", "main")
	rows := evalJS[[]string](op, `[...document.querySelectorAll('table.rows tbody th a')].map(a => a.textContent)`)
	if len(rows) != 1 || rows[0] != broken {
		t.Fatalf("filtered by status: %v, want [%s]", rows, broken)
	}
	op.click(broken, "#h-health")
	if got := op.text(`#status`); got != "Invalid credentials" {
		t.Errorf("status: %q", got)
	}
	if got := op.text(`.timeline li`); !strings.Contains(got, "ok → invalid_credentials") {
		t.Errorf("latest event: %q", got)
	}
	// A reconnect link for the owner.
	op.click("Create reconnect link", "#new-link")
	link := evalJS[string](op, `document.querySelector('#new-link').value`)
	if !strings.HasPrefix(link, h.srv.URL+"/connect?session_token=nango_connect_session_") {
		t.Fatalf("reconnect link: %q", link)
	}

	// The owner opens it and enters a new token in the Connect UI.
	const renewed = "ATSTT3xFfGF0jiraRENEWEDtoken0000000000000000000000000000000=5678EFAB"
	h.sim.AddToken(atlassiansim.Token{Email: "jira-bot@serviceaccount.atlassian.com", Secret: renewed, AccountID: "acc-jira", DisplayName: "Jira Bot", CloudID: atlassiansim.DemoCloudID, Jira: true})
	owner := newBrowser(t, 390, 800)
	owner.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#f-password`)))
	owner.do(chromedp.SendKeys(chromedp.CSS(`#f-password`), renewed))
	owner.do(submitAndWait(`.check`)...)
	if got := owner.text("h1"); got != "Credentials updated" {
		t.Fatalf("owner: %q", got)
	}

	// The operator opens the connection again: ok, under the same id.
	op.by(chromedp.Navigate(h.srv.URL+"/admin/connection?integration=jira&id="+broken), `#h-health`)
	if got := op.text(`#status`); got != "OK" {
		t.Errorf("after the reconnect: %q", got)
	}

	// A client calls the API all along, with whichever key it is given.
	type keyGen struct {
		key string
		gen int
	}
	var current atomic.Pointer[keyGen]
	current.Store(&keyGen{testSecretKey, 1})
	var calls, refused atomic.Int64
	var refusals sync.Map
	onNew, afterRevoke := make(chan struct{}, 3), make(chan struct{}, 3)
	var revoked atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sawNew, sawRevoked := false, false
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := current.Load()
				wasRevoked := revoked.Load()
				req, _ := http.NewRequest("GET", h.srv.URL+"/connections?limit=1", nil)
				req.Header.Set("Authorization", "Bearer "+k.key)
				r, err := http.DefaultClient.Do(req)
				if err != nil {
					refusals.Store(err.Error(), k.gen)
					refused.Add(1)
					continue
				}
				r.Body.Close()
				calls.Add(1)
				if r.StatusCode != 200 {
					refusals.Store(r.Status, k.gen)
					refused.Add(1)
					continue
				}
				if k.gen == 2 && !sawNew {
					sawNew = true
					onNew <- struct{}{}
				}
				if wasRevoked && !sawRevoked {
					sawRevoked = true
					afterRevoke <- struct{}{}
				}
			}
		}()
	}
	waitAll := func(ch chan struct{}, what string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for i := 0; i < 3; i++ {
			select {
			case <-ch:
			case <-deadline:
				t.Fatalf("the clients never %s", what)
			}
		}
	}

	// The operator creates a second key and hands it to the client.
	op.by(chromedp.Navigate(h.srv.URL+"/admin/environment"), `#h-keys`)
	op.do(chromedp.SendKeys(chromedp.CSS(`#k-label`), "backend 2026"))
	op.click("Create a secret key", "#new-key")
	newKey := evalJS[string](op, `document.querySelector('#new-key').value`)
	current.Store(&keyGen{newKey, 2})
	waitAll(onNew, "used the new key")
	// Key 1's last use shows; then the operator revokes it (their own
	// session's key: they are signed out).
	op.by(chromedp.Navigate(h.srv.URL+"/admin/environment"), `#h-keys`)
	op.click("Revoke key 1…", "main form")
	if got := op.notice(); !strings.Contains(got, "You signed in with this key") {
		t.Errorf("own-key warning: %q", got)
	}
	op.click("Revoke key 1", "#secret_key")
	revoked.Store(true)
	if got := op.notice(); !strings.Contains(got, "The key you signed in with is revoked") {
		t.Errorf("after revoking the session's key: %q", got)
	}
	waitAll(afterRevoke, "made a call after the revocation")
	close(stop)
	wg.Wait()
	if n := refused.Load(); n != 0 {
		var what []string
		refusals.Range(func(k, v any) bool { what = append(what, fmt.Sprintf("%v with key generation %v", k, v)); return true })
		t.Errorf("%d of %d API requests refused during the switch: %v", n, calls.Load(), what)
	}
	if st, _, _ := h.raw("GET", "/connections?limit=1", testSecretKey, "", ""); st != 401 {
		t.Errorf("the revoked key: %d", st)
	}
	t.Logf("%d API requests during the rotation, none refused", calls.Load())

	// Signed in again with the new key, the audit trail tells what happened.
	op.signIn(h.srv.URL, newKey)
	op.by(chromedp.Navigate(h.srv.URL+"/admin/audit"), `main`)
	got := evalJS[string](op, `[...document.querySelectorAll('table.rows tbody tr')].slice(0, 5).map(r =>
		r.querySelector('[data-label=Who]').textContent + ': ' + r.querySelector('[data-label=Action]').textContent + ' ' + r.querySelector('[data-label=On]').textContent).join('\n')`)
	want := "console session of key 2: console.sign_in environment dev\n" +
		"console session of key 1: secret_key.revoke key 1\n" +
		"console session of key 1: secret_key.create key 2\n" +
		"console session of key 1: connect_session.reconnect jira/" + broken + "\n" +
		"console session of key 1: console.sign_in environment dev"
	if got != want {
		t.Errorf("audit trail:\n%s\nwant:\n%s", got, want)
	}
}
