package app_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// operator is a browser-like HTTP client of the console: a cookie jar, the
// Origin and Sec-Fetch-Site headers a browser sends with a form, and the
// CSRF token of the last page it read.
type operator struct {
	t    testing.TB
	base func() string // latchkey's address now
	c    *http.Client
	csrf string
	// origin, when set, replaces the Origin header of posts.
	origin string
}

func (h *harness) operator() *operator {
	return newOperator(h.t, func() string { return h.srv.URL })
}

func newOperator(t testing.TB, base func() string) *operator {
	jar, _ := cookiejar.New(nil)
	return &operator{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (o *operator) do(req *http.Request) page {
	o.t.Helper()
	res, err := o.c.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	p := page{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		o.csrf = m[1]
	}
	return p
}

func (o *operator) get(path string) page {
	o.t.Helper()
	req, _ := http.NewRequest("GET", o.base()+path, nil)
	return o.do(req)
}

// post sends a form as a browser would from a console page; csrf is added
// unless the form has its own.
func (o *operator) post(path string, form url.Values) page {
	o.t.Helper()
	form = maps.Clone(form)
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", o.csrf)
	}
	req, _ := http.NewRequest("POST", o.base()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	origin := o.base()
	if o.origin != "" {
		origin = o.origin
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return o.do(req)
}

func (o *operator) signIn(key string) page {
	o.t.Helper()
	o.get("/admin/sign-in")
	p := o.post("/admin/sign-in", url.Values{"secret_key": {key}})
	if p.status == 303 {
		o.get(p.location) // the page's forms carry the session's token
	}
	return p
}

func TestConsoleSignInAndSession(t *testing.T) {
	h := newHarness(t)
	op := h.operator()
	// Not signed in: pages send to the sign-in page, and back afterwards.
	p := op.get("/admin/connections?status=ok")
	if p.status != 303 || p.location != "/admin/sign-in?next=%2Fadmin%2Fconnections%3Fstatus%3Dok" {
		t.Fatalf("unsigned page: %d %q", p.status, p.location)
	}
	p = op.get(p.location)
	if p.status != 200 || !strings.Contains(p.body, `<input id="secret_key" name="secret_key" type="password"`) {
		t.Fatalf("sign-in page: %d", p.status)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(p.body, "<script>") || regexp.MustCompile(`\son[a-z]+=`).MatchString(p.body) {
		t.Error("inline script allowed or present")
	}
	// A wrong key: 401, the form again, no session.
	p = op.post("/admin/sign-in", url.Values{"secret_key": {"sk_wrong_0123456789abcdef0123456789abcdef"}, "next": {"/admin/connections?status=ok"}})
	if p.status != 401 || !strings.Contains(p.body, "That secret key is not valid") {
		t.Fatalf("wrong key: %d", p.status)
	}
	// The right key: a session cookie, HttpOnly, SameSite=Strict, with an
	// expiry, not Secure over http; back to where the operator was going.
	p = op.post("/admin/sign-in", url.Values{"secret_key": {testSecretKey}, "next": {"/admin/connections?status=ok"}})
	if p.status != 303 || p.location != "/admin/connections?status=ok" {
		t.Fatalf("sign in: %d %q", p.status, p.location)
	}
	var cookie string
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "latchkey_console=") {
			cookie = c
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") || strings.Contains(cookie, testSecretKey) {
		t.Errorf("session cookie %q", cookie)
	}
	token := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "latchkey_console=")
	if strings.Contains(h.dumpDB(), token) {
		t.Error("the session token is stored in the database as it is")
	}
	if p = op.get("/admin"); p.status != 200 || !strings.Contains(p.body, "Connections by status") || !strings.Contains(p.body, "Environment <strong>dev</strong>") {
		t.Fatalf("overview: %d", p.status)
	}
	// The session is in the database: it survives a restart.
	h.restart()
	if p = op.get("/admin/audit"); p.status != 200 {
		t.Fatalf("after a restart: %d %q", p.status, p.location)
	}
	// Idle for 31 minutes: the session is over.
	h.advance(31 * time.Minute)
	if p = op.get("/admin"); p.status != 303 || !strings.Contains(p.location, "done=expired") {
		t.Errorf("after 31 idle minutes: %d %q", p.status, p.location)
	}
	// Active every 20 minutes: it lasts until 12 hours after signing in.
	op.signIn(testSecretKey)
	n := 0
	for n = 1; n <= 40; n++ {
		h.advance(20 * time.Minute)
		if p = op.get("/admin/audit"); p.status != 200 {
			break
		}
	}
	if n != 36 || p.status != 303 || !strings.Contains(p.location, "done=expired") {
		t.Errorf("active every 20 minutes, the session ended at the %dth request: %d %q", n, p.status, p.location)
	}
	// Signing out deletes the session: the old cookie is refused afterwards.
	op.signIn(testSecretKey)
	jarCookies := op.c.Jar.Cookies(mustURL(h.srv.URL))
	p = op.post("/admin/sign-out", url.Values{})
	if p.status != 303 || p.location != "/admin/sign-in?done=signed-out" {
		t.Fatalf("sign out: %d %q", p.status, p.location)
	}
	replay := h.operator()
	replay.c.Jar.SetCookies(mustURL(h.srv.URL), jarCookies)
	if p = replay.get("/admin"); p.status != 303 {
		t.Errorf("a signed-out session's cookie still works: %d", p.status)
	}
	// Sign-in and sign-out are in the audit trail, by the key's id.
	trail := h.auditTrail(testSecretKey, "")
	var got []string
	for _, e := range trail {
		got = append(got, e.Action+" "+e.Actor.Description)
	}
	if len(trail) != 4 || got[0] != "console.sign_out console session of key 1" || got[1] != "console.sign_in console session of key 1" {
		t.Errorf("audit: %q", got)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// Secure when latchkey's public URL is https: the cookie is Secure and has
// the __Host- prefix.
func TestConsoleCookieOverHTTPS(t *testing.T) {
	h := newHarness(t, "LATCHKEY_PUBLIC_URL=https://auth.example.com")
	op := h.operator()
	op.origin = "https://auth.example.com"
	p := op.signIn(testSecretKey)
	if p.status != 303 {
		t.Fatalf("sign in: %d %s", p.status, p.body)
	}
	found := false
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-latchkey_console=") {
			found = true
			if !strings.Contains(c, "Secure") || !strings.Contains(c, "Path=/") || strings.Contains(c, "Domain") {
				t.Errorf("cookie %q", c)
			}
		}
	}
	if !found {
		t.Errorf("no __Host- cookie: %v", p.header.Values("Set-Cookie"))
	}
}

// Failed sign-ins are throttled per address; valid ones are not slowed,
// and a success clears the count.
func TestConsoleSignInThrottle(t *testing.T) {
	h := newHarness(t)
	op := h.operator()
	bad := url.Values{"secret_key": {"sk_wrong_0123456789abcdef0123456789abcdef"}}
	op.get("/admin/sign-in")
	for i := 0; i < 5; i++ {
		if p := op.post("/admin/sign-in", bad); p.status != 401 {
			t.Fatalf("failure %d: %d", i+1, p.status)
		}
	}
	p := op.post("/admin/sign-in", bad)
	if p.status != 429 || p.header.Get("Retry-After") != "12" || !strings.Contains(p.body, "Too many failed sign-ins") {
		t.Fatalf("6th failure: %d %q", p.status, p.header.Get("Retry-After"))
	}
	// While throttled, even the right key waits: the throttle does not tell
	// a guesser which guess was right.
	if p = op.post("/admin/sign-in", url.Values{"secret_key": {testSecretKey}}); p.status != 429 {
		t.Errorf("right key while throttled: %d", p.status)
	}
	h.advance(12 * time.Second)
	if p = op.post("/admin/sign-in", url.Values{"secret_key": {testSecretKey}}); p.status != 303 {
		t.Fatalf("right key after the wait: %d", p.status)
	}
	// The success cleared the failures: five wrong tries are allowed again.
	op2 := h.operator()
	op2.get("/admin/sign-in")
	for i := 0; i < 5; i++ {
		if p := op2.post("/admin/sign-in", bad); p.status != 401 {
			t.Fatalf("after a success, failure %d: %d %s", i+1, p.status, p.body)
		}
	}
}

// Forms without the session's token, with a wrong one, or from another
// origin are refused, and nothing happens.
func TestConsoleCSRF(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	op := h.operator()
	op.signIn(testSecretKey)
	op.get("/admin/connection?integration=jira&id=" + id)
	del := func(extra url.Values) url.Values {
		v := url.Values{"integration": {"jira"}, "id": {id}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	cases := []struct {
		name   string
		form   url.Values
		origin string
		site   string
	}{
		{"no token", del(url.Values{"csrf": {""}}), "", ""},
		{"wrong token", del(url.Values{"csrf": {strings.Repeat("ab", 32)}}), "", ""},
		{"another origin", del(nil), "https://evil.example", ""},
		{"cross-site fetch metadata", del(nil), "", "cross-site"},
		{"null origin", del(nil), "null", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := c.form
			if _, ok := form["csrf"]; !ok {
				form.Set("csrf", op.csrf)
			}
			req, _ := http.NewRequest("POST", h.srv.URL+"/admin/connection/delete", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			if c.site != "" {
				req.Header.Set("Sec-Fetch-Site", c.site)
			}
			p := op.do(req)
			if p.status != 403 || !strings.Contains(p.body, "refused") {
				t.Errorf("%d %s", p.status, p.body)
			}
		})
	}
	if _, err := h.c.GetConnection(h.ctx(), "jira", id); err != nil {
		t.Fatalf("a refused form deleted the connection: %v", err)
	}
	// The sign-in form has its own token.
	anon := h.operator()
	anon.get("/admin/sign-in")
	if p := anon.post("/admin/sign-in", url.Values{"secret_key": {testSecretKey}, "csrf": {"x"}}); p.status != 403 {
		t.Errorf("sign-in with a wrong token: %d", p.status)
	}
	if p := anon.post("/admin/sign-in", url.Values{"secret_key": {testSecretKey}}); p.status != 303 {
		t.Errorf("sign-in with its token: %d", p.status)
	}
	// The token of another session does not work in this one.
	other := h.operator()
	other.signIn(testSecretKey)
	other.get("/admin")
	if p := op.post("/admin/connection/delete", del(url.Values{"csrf": {other.csrf}})); p.status != 403 {
		t.Errorf("another session's token: %d", p.status)
	}
	// With the right token from this origin it works.
	if p := op.post("/admin/connection/delete", del(nil)); p.status != 303 || p.location != "/admin/connections?done=deleted" {
		t.Errorf("delete: %d %q %s", p.status, p.location, p.body)
	}
}

// Every page renders for a signed-in operator, and every action works,
// each recorded in the audit trail as the console session of its key.
func TestConsolePagesAndActions(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, "LATCHKEY_WEBHOOK_URL="+rcv.URL)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	op := h.operator()
	op.signIn(testSecretKey)
	for _, path := range []string{"/admin", "/admin/connections", "/admin/connections?status=ok&integration=jira&end_user=user-1&tags=a%3Db&q=x",
		"/admin/connection?integration=jira&id=" + id, "/admin/connection/delete?integration=jira&id=" + id, "/admin/integrations",
		"/admin/integration?key=jira", "/admin/connect-links", "/admin/webhooks", "/admin/webhooks?status=failed", "/admin/environment",
		"/admin/environment/keys/revoke?id=1", "/admin/environment/signing-key", "/admin/audit"} {
		if p := op.get(path); p.status != 200 {
			t.Errorf("%s: %d\n%s", path, p.status, p.body)
		}
	}
	for path, status := range map[string]int{"/admin/nope": 404, "/admin/connection?integration=jira&id=nope": 404, "/admin/webhooks/999": 404,
		"/admin/integration?key=nope": 404, "/admin/connections?status=bogus": 400, "/admin/environment/keys/revoke?id=99": 404} {
		if p := op.get(path); p.status != status {
			t.Errorf("%s: %d, want %d", path, p.status, status)
		}
	}
	// Check now.
	if p := op.post("/admin/connection/check", url.Values{"integration": {"jira"}, "id": {id}}); p.status != 303 || !strings.Contains(p.location, "done=checked") {
		t.Errorf("check: %d %q", p.status, p.location)
	}
	// A reconnect link, which the Connect UI accepts for this connection.
	p := op.post("/admin/connection/reconnect-link", url.Values{"integration": {"jira"}, "id": {id}})
	link := regexp.MustCompile(`id="new-link" class="mono" type="text" readonly value="([^"]+)"`).FindStringSubmatch(p.body)
	if p.status != 200 || link == nil || !strings.HasPrefix(link[1], "http://127.0.0.1:3003/connect?session_token=nango_connect_session_") {
		t.Fatalf("reconnect link: %d %v", p.status, link)
	}
	tok := strings.TrimPrefix(link[1], "http://127.0.0.1:3003/connect?session_token=")
	if info, err := h.c.GetConnectSession(h.ctx(), tok); err != nil || !info.IsReconnecting {
		t.Errorf("reconnect session: %+v %v", info, err)
	}
	// A connect link for an end user, limited to jira.
	p = op.post("/admin/connect-links", url.Values{"end_user_id": {"user-77"}, "email": {"grace@example.com"}, "integration": {"jira"}})
	link = regexp.MustCompile(`value="(http://127.0.0.1:3003/connect\?session_token=[^"]+)"`).FindStringSubmatch(p.body)
	if p.status != 201 || link == nil {
		t.Fatalf("connect link: %d", p.status)
	}
	info, err := h.c.GetConnectSession(h.ctx(), strings.TrimPrefix(link[1], "http://127.0.0.1:3003/connect?session_token="))
	if err != nil || info.EndUser == nil || info.EndUser.ID != "user-77" || len(info.AllowedIntegrations) != 1 {
		t.Errorf("connect session: %+v %v", info, err)
	}
	if p = op.post("/admin/connect-links", url.Values{"end_user_id": {""}, "email": {"not-an-email"}}); p.status != 400 || !strings.Contains(p.body, "No link was created") {
		t.Errorf("invalid link form: %d", p.status)
	}
	// Integrations: create, refuse a taken key, rename.
	if p = op.post("/admin/integrations", url.Values{"provider": {"confluence-basic"}, "unique_key": {"wiki"}, "display_name": {"Wiki"}}); p.status != 303 {
		t.Errorf("create integration: %d %s", p.status, p.body)
	}
	if p = op.post("/admin/integrations", url.Values{"provider": {"confluence-basic"}, "unique_key": {"wiki"}}); p.status != 400 || !strings.Contains(p.body, "already exists") {
		t.Errorf("taken key: %d", p.status)
	}
	if p = op.post("/admin/integration", url.Values{"key": {"wiki"}, "display_name": {"Team wiki"}}); p.status != 303 {
		t.Errorf("rename: %d", p.status)
	}
	if in, _ := h.c.GetIntegration(h.ctx(), "wiki"); in == nil || in.DisplayName != "Team wiki" {
		t.Errorf("renamed: %+v", in)
	}
	// Webhooks: the creation webhook fails (the receiver answers 500), is retried.
	rcv.answer(500, false)
	h.dispatch()
	rcv.answer(200, false)
	p = op.get("/admin/webhooks")
	m := regexp.MustCompile(`href="/admin/webhooks/(\d+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no delivery listed")
	}
	if p = op.get("/admin/webhooks/" + m[1]); p.status != 200 || !strings.Contains(p.body, "HTTP 500") {
		t.Errorf("delivery page: %d", p.status)
	}
	if p = op.post("/admin/webhooks/"+m[1]+"/retry", url.Values{}); p.status != 303 || !strings.Contains(p.location, "done=retried") {
		t.Errorf("retry: %d %q", p.status, p.location)
	}
	// Secret keys: create one (shown once), revoke it.
	p = op.post("/admin/environment/keys", url.Values{"label": {"ci"}})
	key := regexp.MustCompile(`id="new-key" class="mono" type="text" readonly value="(sk_dev_[0-9a-f]{64})"`).FindStringSubmatch(p.body)
	if p.status != 201 || key == nil {
		t.Fatalf("create key: %d", p.status)
	}
	if _, err := client.New(h.srv.URL, key[1]).ListIntegrations(h.ctx()); err != nil {
		t.Errorf("new key: %v", err)
	}
	if p = op.get("/admin/environment"); strings.Contains(p.body, key[1]) {
		t.Error("the environment page shows a key after its creation")
	}
	if p = op.post("/admin/environment/keys/revoke", url.Values{"id": {"2"}}); p.status != 303 || p.location != "/admin/environment?done=revoked" {
		t.Errorf("revoke: %d %q", p.status, p.location)
	}
	if _, err := client.New(h.srv.URL, key[1]).ListIntegrations(h.ctx()); err == nil {
		t.Error("a revoked key works")
	}
	// The only active key cannot be revoked.
	if p = op.post("/admin/environment/keys/revoke", url.Values{"id": {"1"}}); p.status != 409 || !strings.Contains(p.body, "last active secret key") {
		t.Errorf("revoke the last key: %d", p.status)
	}
	// Signing key rotation: shown once on the page, used for the next webhooks.
	p = op.post("/admin/environment/signing-key", url.Values{})
	sk := regexp.MustCompile(`id="signing-key" class="mono" type="text" readonly value="([0-9a-f]{64})"`).FindStringSubmatch(p.body)
	if p.status != 200 || sk == nil {
		t.Fatalf("rotate: %d", p.status)
	}
	if s, _ := h.app.EnvironmentSettings().Get(context.Background(), 1); s == nil || s.WebhookSigningKey != sk[1] {
		t.Errorf("signing key after rotation: %+v", s)
	}
	// Delete, after confirmation.
	if p = op.post("/admin/connection/delete", url.Values{"integration": {"jira"}, "id": {id}}); p.status != 303 {
		t.Errorf("delete: %d", p.status)
	}
	if _, err := h.c.GetConnection(h.ctx(), "jira", id); err == nil {
		t.Error("deleted connection still there")
	}
	// Everything is in the audit trail, by the console session of key 1.
	var got []string
	for _, e := range h.auditTrail(testSecretKey, "?limit=100") {
		if e.Actor.Via == "console" {
			if e.Actor.SecretKeyID != 1 {
				t.Errorf("%s by key %d", e.Action, e.Actor.SecretKeyID)
			}
			got = append(got, e.Action)
		}
	}
	want := "connection.delete environment.signing_key_rotate secret_key.revoke secret_key.create webhook.retry integration.update integration.create " +
		"connect_session.create connect_session.reconnect connection.check console.sign_in"
	if strings.Join(got, " ") != want {
		t.Errorf("console actions in the audit trail:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if p = op.get("/admin/audit"); !strings.Contains(p.body, "console session of key 1") || !strings.Contains(p.body, "secret_key.revoke") {
		t.Error("the audit page does not show the trail")
	}
	if p = op.get("/admin/audit?action=webhook.retry"); strings.Count(p.body, "<code>webhook.retry</code>") != 1 || strings.Contains(p.body, "<code>secret_key.create</code>") {
		t.Error("the audit filter")
	}
	_ = atlassiansim.DemoCloudID
}

// A form the console cannot read (too large, badly encoded) is answered 400
// and changes nothing; the sign-in form is bounded the same way.
func TestConsoleRefusesBadForms(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	op := h.operator()
	op.signIn(testSecretKey)
	op.get("/admin/connection?integration=jira&id=" + id)
	send := func(path, body string) page {
		req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", h.srv.URL)
		return op.do(req)
	}
	good := url.Values{"integration": {"jira"}, "id": {id}, "csrf": {op.csrf}}.Encode()
	for name, body := range map[string]string{
		"over 64 KiB":  good + "&pad=" + strings.Repeat("a", 70<<10),
		"bad escaping": good + "&pad=%zz",
	} {
		if p := send("/admin/connection/delete", body); p.status != 400 || !strings.Contains(p.body, "could not be read") {
			t.Errorf("%s: %d %s", name, p.status, trim(p.body))
		}
	}
	if _, err := h.c.GetConnection(h.ctx(), "jira", id); err != nil {
		t.Fatalf("an unreadable form deleted the connection: %v", err)
	}
	if p := send("/admin/sign-in", "secret_key="+strings.Repeat("a", 70<<10)); p.status != 400 {
		t.Errorf("oversized sign-in: %d %s", p.status, trim(p.body))
	}
}

// The console signs in with a cookie, so it sends no CORS headers: no other
// site's script may read its pages or preflight its forms. The API keeps
// allowing any origin (bearer credentials only).
func TestConsoleHasNoCORS(t *testing.T) {
	h := newHarness(t)
	send := func(method, path string) http.Header {
		req, _ := http.NewRequest(method, h.srv.URL+path, nil)
		req.Header.Set("Origin", "https://elsewhere.example")
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header
	}
	for _, c := range [][2]string{{"GET", "/admin/sign-in"}, {"OPTIONS", "/admin/connection/delete"}, {"OPTIONS", "/admin/sign-in"}} {
		if hdr := send(c[0], c[1]); hdr.Get("Access-Control-Allow-Origin") != "" || hdr.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("%s %s: CORS headers %v", c[0], c[1], hdr)
		}
	}
	if hdr := send("OPTIONS", "/connections"); hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("the API lost its CORS headers: %v", hdr)
	}
}
