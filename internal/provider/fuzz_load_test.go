package provider_test

// Fuzz targets for everything in this package that reads input latchkey does
// not fully control: an operator's providers file (Load), templates filled with
// end users' connection values (Interpolate, ResolveBaseURL), and backends'
// proxy endpoints (JoinEndpoint). Each asserts a property, not only "no
// panic". Seeds: f.Add below and testdata/fuzz/<Target>/. CI fuzzes each for a
// few seconds (.ci/run); `go test` alone runs the seeds.

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/provider"
)

var providerNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// FuzzLoad: any extra providers YAML either loads into a catalogue whose every
// entry is valid or marked unsupported with its reason, and can be served by
// the API as JSON (GET /providers), with
// the built-ins still there unless replaced, or fails with an error.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"",
		"acme:\n  display_name: Acme\n  auth_mode: API_KEY\n  proxy:\n    base_url: https://api.acme.test\n    headers:\n      x-api-key: ${apiKey}\n",
		"acme-eu:\n  alias: jira-basic\n  display_name: EU\n",
		"jira-basic:\n  display_name: Ours\n  auth_mode: BASIC\n  proxy:\n    base_url: https://${connectionConfig.subdomain}.example.net\n",
		"x:\n  display_name: X\n  auth_mode: BASIC\n  credentials:\n    password:\n      pattern: '^[a-z]+$'\n      secret: true\n",
		"x:\n  display_name: X\n  auth_mode: OAUTH2_CC\n  token_url: https://t.test/token\n  n: !!float NaN\n",
		"a: &a {display_name: A, auth_mode: BASIC}\nb: *a\n",
		"x: [",
		"- 1\n- 2\n",
	} {
		f.Add([]byte(s))
	}
	builtins := map[string]bool{}
	base, err := provider.Load("https://latchkey.example.com")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range base.All() {
		builtins[p.Name] = true
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := provider.Load("https://latchkey.example.com", src)
		if err != nil {
			if c != nil || err.Error() == "" {
				t.Fatalf("failed load returned a catalogue %v or an empty error", c)
			}
			return
		}
		names := map[string]bool{}
		for _, p := range c.All() {
			names[p.Name] = true
			// An entry latchkey cannot serve is loaded marked with its reason
			// (Nango's catalogue is loaded whole); every other one is valid.
			if !providerNameRE.MatchString(p.Name) {
				t.Errorf("provider loaded under the name %q", p.Name)
			}
			if p.Supported() && (strings.TrimSpace(p.DisplayName) == "" || !provider.SupportedAuthModes[p.AuthMode]) {
				t.Errorf("invalid provider loaded as supported: name %q, display name %q, auth mode %q", p.Name, p.DisplayName, p.AuthMode)
			}
			if got, ok := c.Get(p.Name); !ok || got != p {
				t.Errorf("Get(%q) does not return the listed provider", p.Name)
			}
			// What GET /providers and GET /providers/{name} serve.
			b, err := json.Marshal(p.Raw)
			if err != nil || !json.Valid(b) {
				t.Errorf("provider %q cannot be served as JSON: %v", p.Name, err)
			}
		}
		for n := range builtins {
			if !names[n] {
				t.Errorf("built-in provider %q lost", n)
			}
		}
	})
}
