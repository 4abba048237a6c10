package verify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/upstream"
	"github.com/latchkeyhq/latchkey/internal/verify"
)

// stepClock records the waits verification asks for and returns at once.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	return ctx.Err()
}

func setup(t *testing.T) (*verify.Registry, *atlassiansim.Sim, *stepClock, *provider.Provider) {
	t.Helper()
	sim := atlassiansim.New()
	clk := &stepClock{now: time.Now().UTC().Truncate(time.Second)}
	sim.Now = clk.Now
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	rw, err := upstream.ParseRewrites("https://api.atlassian.com=" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	reg := verify.New(verify.Options{Client: upstream.NewClient(upstream.NewTransport(nil), rw, 0), Clock: clk})
	cat, err := provider.Load("http://latchkey.test")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cat.Get("atlassian-service-account-api-token")
	return reg, sim, clk, p
}

func request(p *provider.Provider, cloudID, token string) verify.Request {
	return verify.Request{Provider: p, Config: map[string]any{"cloudId": cloudID},
		Credentials: domain.Credentials{Type: domain.AuthModeBasic, Username: atlassiansim.DemoEmail, Password: token}}
}

func TestAtlassianVerdicts(t *testing.T) {
	reg, sim, _, p := setup(t)
	ctx := context.Background()
	v, err := reg.Verify(ctx, request(p, atlassiansim.DemoCloudID, atlassiansim.DemoToken))
	if err != nil || !v.Checked || v.Status != domain.StatusOK || v.Config["accountId"] != "712020:demo-bot" {
		t.Fatalf("good token: %+v %v", v, err)
	}
	for name, c := range map[string]struct {
		cloudID, token, code string
	}{
		"wrong token":      {atlassiansim.DemoCloudID, atlassiansim.DemoToken[:len(atlassiansim.DemoToken)-1] + "0", verify.CodeInvalidCredentials},
		"unknown cloud id": {"00000000-0000-4000-8000-000000000000", atlassiansim.DemoToken, verify.CodeUnknownCloudID},
	} {
		_, err := reg.Verify(ctx, request(p, c.cloudID, c.token))
		var e *domain.Error
		if !errors.As(err, &e) || e.Kind != domain.KindInvalid || e.Code != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	// No Jira scopes: Confluence decides, and the verdict says what is missing.
	sim.SetScopes(atlassiansim.DemoToken, false, true)
	v, err = reg.Verify(ctx, request(p, atlassiansim.DemoCloudID, atlassiansim.DemoToken))
	if err != nil || v.Status != domain.StatusScopeMissing || len(v.Warnings) != 1 || v.Warnings[0].Product != "jira" {
		t.Fatalf("no jira scope: %+v %v", v, err)
	}
}

// A rate-limited gateway is retried as its headers say, waiting for the later
// of Retry-After and X-RateLimit-Reset, and when it stays limited the error
// tells the caller when to come back and which host could not be asked.
func TestRateLimitWaitsForTheLaterHeader(t *testing.T) {
	reg, sim, clk, p := setup(t)
	sim.Inject(atlassiansim.Fault{Status: http.StatusTooManyRequests, Count: -1, Header: map[string]string{
		"Retry-After": "2", "X-RateLimit-Reset": clk.Now().Add(5 * time.Second).Format(time.RFC3339)}})
	_, err := reg.Verify(context.Background(), request(p, atlassiansim.DemoCloudID, atlassiansim.DemoToken))
	var e *domain.Error
	if !errors.As(err, &e) || e.Kind != domain.KindUpstreamUnavailable || e.Code != verify.CodeProviderUnavailable {
		t.Fatalf("err = %v", err)
	}
	if e.RetryAfter != 5*time.Second {
		t.Errorf("retry after %v, want 5s (the later of the two headers)", e.RetryAfter)
	}
	if !strings.Contains(e.Message, "api.atlassian.com") {
		t.Errorf("message does not name the host: %q", e.Message)
	}
	clk.mu.Lock()
	defer clk.mu.Unlock()
	if len(clk.waits) != 2 || clk.waits[0] != 5*time.Second {
		t.Errorf("waits = %v, want two waits of 5s", clk.waits)
	}
}

// A script name that can only be a typo, or a built-in script on the wrong
// auth mode, stops the start; another catalogue's script name does not: the
// entry is verified the generic way, with a note.
func TestRegistryCheckScripts(t *testing.T) {
	reg := verify.New(verify.Options{})
	for name, src := range map[string]string{
		"near miss": "x:\n  display_name: X\n  auth_mode: BASIC\n  credentials_verification_script: atlassianServiceAcount\n",
		"case":      "x:\n  display_name: X\n  auth_mode: BASIC\n  credentials_verification_script: AtlassianServiceAccount\n",
		"mode":      "x:\n  display_name: X\n  auth_mode: API_KEY\n  credentials_verification_script: atlassianServiceAccount\n",
	} {
		cat, err := provider.Load("http://x", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Check(cat); err == nil || !strings.Contains(err.Error(), "x: credentials_verification_script") {
			t.Errorf("%s: err = %v, want the start refused", name, err)
		}
	}
	cat, err := provider.Load("http://x", []byte("x:\n  display_name: X\n  auth_mode: API_KEY\n  credentials_verification_script: skioCredentialsVerification\n"+
		"  proxy:\n    base_url: https://api.x.test\n    verification:\n      endpoints: [/me]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Check(cat); err != nil {
		t.Fatalf("a foreign script stopped the start: %v", err)
	}
	p, _ := cat.Get("x")
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "proxy.verification endpoints") || reg.For(p) == nil {
		t.Errorf("notes %v, verifier %v", p.Notes, reg.For(p))
	}
	builtin, _ := provider.Load("http://x")
	if err := reg.Check(builtin); err != nil {
		t.Errorf("built-in catalogue refused: %v", err)
	}
}

func TestClassify(t *testing.T) {
	o, err := verify.Classify(nil, domain.NewError(domain.KindUpstreamUnavailable, verify.CodeProviderUnavailable, "down"))
	if err != nil || o.Status != "" || o.Message != "down" {
		t.Errorf("unreachable: %+v %v", o, err)
	}
	o, err = verify.Classify(nil, domain.Invalid(verify.CodeInvalidCredentials, "bad"))
	if err != nil || o.Status != domain.StatusInvalidCredentials {
		t.Errorf("invalid: %+v %v", o, err)
	}
	if _, err := verify.Classify(nil, errors.New("boom")); err == nil {
		t.Error("an internal error was swallowed")
	}
}
