package app_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

// from sends GET /integrations with a bearer credential from a given loopback
// address (every 127.x address is this machine), with extra headers.
func (h *harness) from(local, bearer string, headers map[string]string) (int, string, http.Header) {
	h.t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", h.srv.URL+"/integrations", nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res.StatusCode, b.String(), res.Header
}

// Failed authentications are throttled per client address: after a burst an
// address is refused before its credential is looked at (the right key too,
// so the refusal teaches a guesser nothing), while callers elsewhere, and
// callers who never fail, are not slowed at all.
func TestGuessingIsSlow(t *testing.T) {
	h := newHarness(t)
	wrong := "sk_wrong_0123456789abcdef0123456789abcdef"
	// A busy, valid caller never uses anything up.
	for i := 0; i < 50; i++ {
		if st, body, _ := h.from("127.0.0.1", testSecretKey, nil); st != 200 {
			t.Fatalf("valid call %d: %d %s", i, st, body)
		}
	}
	for i := 0; i < 10; i++ {
		if st, body, _ := h.from("127.0.0.1", wrong, nil); st != 401 {
			t.Fatalf("bad key %d: %d %s", i, st, body)
		}
	}
	st, body, hdr := h.from("127.0.0.1", wrong, nil)
	if code, _, _ := errorCode(t, body); st != 429 || code != "too_many_failed_authentications" {
		t.Fatalf("after the burst: %d %s", st, body)
	}
	if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs < 1 || secs > 6 {
		t.Errorf("Retry-After = %q", hdr.Get("Retry-After"))
	}
	if st, _, _ := h.from("127.0.0.1", testSecretKey, nil); st != 429 {
		t.Errorf("the right key from the throttled address: %d, want 429 (no oracle)", st)
	}
	if st, body, _ := h.from("127.0.0.2", testSecretKey, nil); st != 200 {
		t.Errorf("a caller at another address was slowed: %d %s", st, body)
	}
	// Session tokens in a submission's query string count as guesses too.
	h2 := newHarness(t)
	h2.integration("jira", atlassian)
	for i := 0; i < 11; i++ {
		_, err := h2.c.SubmitBasic(h2.ctx(), "nango_connect_session_"+strings.Repeat("0", 64), "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, "a@b.co", "x")
		if e := apiErr(t, err); (i < 10 && e.Status != 401) || (i == 10 && e.Status != 429) {
			t.Errorf("guess %d: %d %s", i, e.Status, e.Code)
		}
	}
	// Time forgives: one refill period later the address may try once more.
	h.advance(6 * time.Second)
	if st, body, _ := h.from("127.0.0.1", testSecretKey, nil); st != 200 {
		t.Errorf("after a refill period: %d %s", st, body)
	}
}

// Behind a trusted proxy the client is the address it forwards, so one
// guesser behind the load balancer does not lock out everyone else.
func TestThrottleBehindATrustedProxy(t *testing.T) {
	h := newHarness(t, "LATCHKEY_TRUSTED_PROXIES=127.0.0.1/32")
	wrong := "sk_wrong_0123456789abcdef0123456789abcdef"
	for i := 0; i < 11; i++ {
		h.from("127.0.0.1", wrong, map[string]string{"X-Forwarded-For": "203.0.113.7"})
	}
	if st, _, _ := h.from("127.0.0.1", wrong, map[string]string{"X-Forwarded-For": "203.0.113.7"}); st != 429 {
		t.Errorf("the guesser behind the proxy: %d, want 429", st)
	}
	if st, body, _ := h.from("127.0.0.1", testSecretKey, map[string]string{"X-Forwarded-For": "203.0.113.8"}); st != 200 {
		t.Errorf("another client behind the same proxy: %d %s", st, body)
	}
	// A peer that is not trusted cannot pick its own address by header.
	h3 := newHarness(t)
	for i := 0; i < 11; i++ {
		h3.from("127.0.0.1", wrong, map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i)})
	}
	if st, _, _ := h3.from("127.0.0.1", wrong, map[string]string{"X-Forwarded-For": "203.0.113.99"}); st != 429 {
		t.Errorf("an untrusted peer escaped the throttle with X-Forwarded-For: %d", st)
	}
}

// Connect sessions stay usable for their 30 minutes, as in Nango, unless
// LATCHKEY_CONNECT_SESSION_SINGLE_USE makes the first success end them.
func TestSingleUseSessions(t *testing.T) {
	for _, single := range []bool{false, true} {
		h := newHarness(t, "LATCHKEY_CONNECT_SESSION_SINGLE_USE="+strconv.FormatBool(single))
		h.integration("jira", atlassian)
		tok := h.session(client.ConnectSessionRequest{})
		h.connect(tok, "jira")
		_, err := h.c.SubmitBasic(context.Background(), tok, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken)
		switch {
		case !single && err != nil:
			t.Errorf("reusable session refused a second submission: %v", err)
		case single && (err == nil || apiErr(t, err).Code != "unknown_connect_session_token"):
			t.Errorf("single-use session accepted a second submission: %v", err)
		}
	}
}
