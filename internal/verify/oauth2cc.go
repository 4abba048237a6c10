package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// CodeTokenFetchFailed is the code of a token endpoint that answered but gave
// no usable token.
const CodeTokenFetchFailed = "client_credentials_fetch_error"

// WithToken returns c carrying a freshly fetched token.
func WithToken(c domain.Credentials, t *provider.Token, now time.Time) domain.Credentials {
	c.Token = t.AccessToken
	c.ExpiresAt = t.ExpiresAt.UTC().Format(time.RFC3339)
	c.ObtainedAt = now.UTC().Format(time.RFC3339)
	c.Raw = t.Raw
	return c
}

// Token exchanges a connection's client credentials for an access token at
// its provider's token endpoint. A refusal is an invalid_credentials error that
// repeats what the provider said (never the secret); a provider that cannot be
// reached is provider_unavailable.
func (r *Registry) Token(ctx context.Context, p *provider.Provider, cfg map[string]any, c domain.Credentials) (*provider.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.cc.token(ctx, p, cfg, c)
}

// clientCredentials verifies OAUTH2_CC credentials: a token is fetched (which
// proves them), then the entry's proxy.verification endpoints, if any, are
// called with it.
type clientCredentials struct {
	http      *caller
	endpoints *endpoints
}

func (cc *clientCredentials) token(ctx context.Context, p *provider.Provider, cfg map[string]any, c domain.Credentials) (*provider.Token, error) {
	tr, err := p.BuildTokenRequest(c, cfg, provider.TokenRequestOptions{})
	if err != nil {
		var ue *provider.UnresolvedError
		if errors.As(err, &ue) {
			return nil, domain.Invalid("missing_connection_config", fmt.Sprintf("%s needs %s to fetch a token, which this connection does not have.", p.DisplayName, strings.Join(ue.Placeholders, ", ")))
		}
		return nil, domain.Invalid("invalid_connection_config", fmt.Sprintf("The token request of %s cannot be built: %v", p.DisplayName, err))
	}
	res := cc.http.send(ctx, tr.Method, tr.URL, tr.Header, tr.Body)
	switch {
	case res.err != nil || res.status >= 500 || res.status == http.StatusTooManyRequests:
		return nil, cc.http.unavailable(p.DisplayName, res)
	case res.status >= 400:
		said := oauthSaid(res.body)
		e := domain.Invalid(CodeInvalidCredentials, fmt.Sprintf("%s did not accept this client ID and secret (HTTP %d%s). Check that both were copied whole, and that the credential has not expired or been revoked.",
			p.DisplayName, res.status, said))
		// What the provider answered, apart, so the Connect UI can quote it
		// inside a sentence of its own language.
		e.Payload = map[string]any{"provider_status": res.status}
		if said != "" {
			e.Payload["provider_said"] = strings.TrimPrefix(said, ", ")
		}
		return nil, e
	case !res.ok():
		return nil, domain.Invalid(CodeTokenFetchFailed, fmt.Sprintf("Failed to fetch client credentials token: %s answered HTTP %d.", p.DisplayName, res.status))
	}
	t, err := p.ParseTokenResponse(res.body, cc.http.clock.Now())
	if err != nil {
		return nil, domain.Invalid(CodeTokenFetchFailed, fmt.Sprintf("Failed to fetch client credentials token: %v.", err))
	}
	return t, nil
}

// oauthSaid quotes an OAuth error answer ({"error","error_description"}), a
// few hundred characters at most.
func oauthSaid(body []byte) string {
	var e struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
		Message     string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var parts []string
	if s, ok := e.Error.(string); ok && s != "" {
		parts = append(parts, s)
	}
	for _, s := range []string{e.Description, e.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	said := strings.Join(parts, ": ")
	if len(said) > 300 {
		said = said[:300] + "…"
	}
	if said == "" {
		return ""
	}
	return ", " + said
}

// tokenFor returns the request's credentials with a token: the one they
// carry when the caller just fetched it, else a new one.
func (cc *clientCredentials) tokenFor(ctx context.Context, req Request) (domain.Credentials, error) {
	if req.HasToken && req.Credentials.Token != "" {
		return req.Credentials, nil
	}
	t, err := cc.token(ctx, req.Provider, req.Config, req.Credentials)
	if err != nil {
		return domain.Credentials{}, err
	}
	return WithToken(req.Credentials, t, cc.http.clock.Now()), nil
}

func (cc *clientCredentials) Verify(ctx context.Context, req Request) (*Verdict, error) {
	creds, err := cc.tokenFor(ctx, req)
	if err != nil {
		return nil, err
	}
	v := &Verdict{Checked: true, Status: domain.StatusOK, Credentials: &creds}
	if p := req.Provider; p.Proxy != nil && p.Proxy.Verification != nil && len(p.Proxy.Verification.Endpoints) > 0 {
		req.Credentials = creds
		ev, err := cc.endpoints.Verify(ctx, req)
		if err != nil {
			return nil, err
		}
		v.Warnings = ev.Warnings
	}
	return v, nil
}
