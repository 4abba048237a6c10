// Package verify asks a provider whether candidate credentials work, before
// anything is saved, and says precisely what is wrong when they do not. Each
// way of asking is a Verifier; the Registry picks one per provider entry (its
// credentials_verification_script, else its proxy.verification endpoints) and
// is the one list of script names that start-up accepts.
package verify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/clock"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// Stable error codes of a failed verification. They are part of the API.
const (
	CodeInvalidCredentials   = "invalid_credentials"
	CodeUnknownCloudID       = "unknown_cloud_id"
	CodeProviderUnavailable  = "provider_unavailable"
	CodeConnectionTestFailed = "connection_test_failed"
	CodeScopeMissing         = "scope_missing"
)

// Request is what a verifier checks.
type Request struct {
	Provider    *provider.Provider
	Config      map[string]any
	Credentials domain.Credentials
	// HasToken says Credentials carry an OAUTH2_CC token fetched just now
	// (a health check's): the check uses it instead of fetching another.
	HasToken bool
}

func (r Request) vars() provider.Vars {
	return provider.Vars{ConnectionConfig: r.Config, Credentials: provider.CredentialVars(r.Credentials)}
}

// Verdict is the outcome of a successful verification.
type Verdict struct {
	// Checked is false when the provider offers no way to verify.
	Checked  bool
	Status   string
	Warnings []domain.Warning
	// Config holds values learned from the provider, merged into the connection config.
	Config map[string]any
	// Credentials, when set, are the candidate credentials completed by the
	// check (an OAUTH2_CC token fetched on the way), to be saved instead.
	Credentials *domain.Credentials
}

// A Verifier checks one kind of provider's credentials. It returns a Verdict
// when the credentials work (perhaps with warnings), a *domain.Error when they
// do not or the provider could not be asked, and any other error for a fault of
// latchkey's own.
type Verifier interface {
	Verify(ctx context.Context, req Request) (*Verdict, error)
}

// Options configure a Registry.
type Options struct {
	// Client reaches providers (with LATCHKEY_UPSTREAM_REWRITE applied).
	Client *http.Client
	Clock  clock.Clock
	Logger *slog.Logger
	// Timeout bounds one verification, all attempts included; 15 s when zero.
	Timeout time.Duration
}

// Registry holds the verifiers by script name, and the generic one for
// providers that declare proxy.verification endpoints.
type Registry struct {
	timeout   time.Duration
	scripts   map[string]Verifier
	modes     map[string]string // script → the auth mode it checks
	endpoints *endpoints
	cc        *clientCredentials
}

// ScriptAtlassianServiceAccount is the credentials_verification_script of the
// Atlassian service-account providers.
const ScriptAtlassianServiceAccount = "atlassianServiceAccount"

// ScriptAtlassianServiceAccountOAuth2 is the credentials_verification_script
// of the Atlassian service account with OAuth 2.0 client credentials.
const ScriptAtlassianServiceAccountOAuth2 = "atlassianServiceAccountOAuth2"

// New builds the registry with latchkey's built-in verifiers.
func New(o Options) *Registry {
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	c := &caller{client: o.Client, clock: clock.Or(o.Clock), log: o.Logger}
	ep := &endpoints{c}
	cc := &clientCredentials{http: c, endpoints: ep}
	atl := &atlassian{c}
	return &Registry{
		timeout: o.Timeout,
		scripts: map[string]Verifier{
			ScriptAtlassianServiceAccount:       atl,
			ScriptAtlassianServiceAccountOAuth2: &atlassianOAuth2{cc: cc, site: atl},
		},
		modes: map[string]string{
			ScriptAtlassianServiceAccount:       domain.AuthModeBasic,
			ScriptAtlassianServiceAccountOAuth2: domain.AuthModeOAuth2CC,
		},
		endpoints: ep,
		cc:        cc,
	}
}

// Register adds (or replaces) the verifier of a script name, for entries of an auth mode.
func (r *Registry) Register(script, authMode string, v Verifier) {
	r.scripts[script], r.modes[script] = v, authMode
}

// Names lists the script names the registry knows, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.scripts))
	for n := range r.scripts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Check looks at every entry's credentials_verification_script at start-up.
// A name that can only be a mistake stops the start: a built-in script on an
// entry of an auth mode it does not check, or a near miss of a built-in name
// (a typo would otherwise silently weaken the check). Any other name is a
// script of another catalogue (Nango's names several): the entry is verified
// the generic way instead (its proxy.verification endpoints; for OAUTH2_CC, a
// token fetch too), and a note on the entry says so.
func (r *Registry) Check(cat *provider.Catalogue) error {
	var bad []string
	for _, p := range cat.All() {
		s := p.CredentialsVerificationScript
		if s == "" || !p.Supported() {
			continue
		}
		if mode, known := r.modes[s]; known {
			if mode != p.AuthMode {
				bad = append(bad, fmt.Sprintf("%s: credentials_verification_script %q checks %s credentials, but the entry's auth_mode is %s", p.Name, s, mode, p.AuthMode))
			}
			continue
		}
		if near := r.nearMiss(s); near != "" {
			bad = append(bad, fmt.Sprintf("%s: credentials_verification_script %q is not a built-in check; did you mean %q? (known: %s)", p.Name, s, near, strings.Join(r.Names(), ", ")))
			continue
		}
		how := "saved without a check"
		switch {
		case p.AuthMode == domain.AuthModeOAuth2CC:
			how = "verified by fetching a token"
			if p.Proxy != nil && p.Proxy.Verification != nil && len(p.Proxy.Verification.Endpoints) > 0 {
				how += " and calling its proxy.verification endpoints"
			}
		case p.Proxy != nil && p.Proxy.Verification != nil && len(p.Proxy.Verification.Endpoints) > 0:
			how = "verified through its proxy.verification endpoints"
		}
		p.Notes = append(p.Notes, fmt.Sprintf("credentials_verification_script %q is not built into latchkey: credentials are %s", s, how))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// nearMiss returns the built-in script name s is a typo of, if any: equal but
// for case, or within two edits.
func (r *Registry) nearMiss(s string) string {
	for _, n := range r.Names() {
		if strings.EqualFold(n, s) || editDistance(strings.ToLower(n), strings.ToLower(s)) <= 2 {
			return n
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// For returns the verifier of a provider entry, or nil when it offers no way
// to verify. A script the registry does not know falls back to the generic way.
func (r *Registry) For(p *provider.Provider) Verifier {
	if v, ok := r.scripts[p.CredentialsVerificationScript]; ok && p.CredentialsVerificationScript != "" {
		return v
	}
	if p.AuthMode == domain.AuthModeOAuth2CC {
		return r.cc
	}
	if p.Proxy != nil && p.Proxy.Verification != nil && len(p.Proxy.Verification.Endpoints) > 0 {
		return r.endpoints
	}
	return nil
}

// Verify checks candidate credentials with the provider, within the
// registry's time limit. A provider with no way to verify gets an unchecked ok.
func (r *Registry) Verify(ctx context.Context, req Request) (*Verdict, error) {
	v := r.For(req.Provider)
	if v == nil {
		return &Verdict{Checked: false, Status: domain.StatusOK}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return v.Verify(ctx, req)
}

// Classify turns a verification's result into a health-check outcome: the
// status it proves, or an empty status when the provider could not be reached
// (which says nothing about the credentials). Errors of latchkey's own pass through.
func Classify(v *Verdict, err error) (domain.Outcome, error) {
	if err == nil {
		return domain.Outcome{Status: v.Status, Warnings: v.Warnings, Message: "Credentials verified."}, nil
	}
	e, ok := domain.AsError(err)
	if !ok {
		return domain.Outcome{}, err
	}
	if e.Code == CodeProviderUnavailable {
		return domain.Outcome{Message: e.Message}, nil
	}
	return domain.Outcome{Status: domain.StatusInvalidCredentials, Message: e.Message}, nil
}
