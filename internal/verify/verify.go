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
	endpoints Verifier
}

// ScriptAtlassianServiceAccount is the credentials_verification_script of the
// Atlassian service-account providers.
const ScriptAtlassianServiceAccount = "atlassianServiceAccount"

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
	return &Registry{
		timeout:   o.Timeout,
		scripts:   map[string]Verifier{ScriptAtlassianServiceAccount: &atlassian{c}},
		endpoints: &endpoints{c},
	}
}

// Register adds (or replaces) the verifier of a script name.
func (r *Registry) Register(script string, v Verifier) { r.scripts[script] = v }

// Names lists the script names the registry knows, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.scripts))
	for n := range r.scripts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Check refuses a catalogue whose entries name a verification script the
// registry does not know; start-up calls it.
func (r *Registry) Check(cat *provider.Catalogue) error {
	var bad []string
	for _, p := range cat.All() {
		if s := p.CredentialsVerificationScript; s != "" && r.scripts[s] == nil {
			bad = append(bad, fmt.Sprintf("%s: credentials_verification_script %q is not a built-in check (known: %s)", p.Name, s, strings.Join(r.Names(), ", ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// For returns the verifier of a provider entry, or nil when it offers no way
// to verify.
func (r *Registry) For(p *provider.Provider) Verifier {
	if s := p.CredentialsVerificationScript; s != "" {
		return r.scripts[s]
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
