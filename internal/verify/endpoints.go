package verify

import (
	"context"
	"fmt"
	"net/http"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// endpoints implements providers.yaml's proxy.verification: the first
// endpoint that answers 2xx proves the credentials.
type endpoints struct{ http *caller }

func (e *endpoints) Verify(ctx context.Context, req Request) (*Verdict, error) {
	p := req.Provider
	ver := p.Proxy.Verification
	v := req.vars()
	base, err := p.ResolveBaseURL(ver.BaseURLOverride, v)
	if err != nil {
		return nil, domain.Invalid(CodeConnectionTestFailed, "The given credentials were found to be invalid. Please check the credentials and try again.")
	}
	h, err := p.AuthHeaders(req.Credentials, v)
	if err != nil {
		return nil, fmt.Errorf("verify: %s auth headers: %w", p.Name, err)
	}
	for name, tmpl := range ver.Headers {
		if val, err := provider.Interpolate(tmpl, v, nil); err == nil {
			h.Set(name, val)
		}
	}
	method := ver.Method
	if method == "" {
		method = http.MethodGet
	}
	var last response
	for _, ep := range ver.Endpoints {
		u, err := provider.JoinEndpoint(base, ep)
		if err != nil {
			continue
		}
		last = e.http.call(ctx, method, u, h)
		if last.ok() {
			return &Verdict{Checked: true, Status: domain.StatusOK}, nil
		}
	}
	switch {
	case last.err != nil || last.status >= 500 || last.status == http.StatusTooManyRequests:
		return nil, e.http.unavailable(p.DisplayName, last)
	case last.status == http.StatusUnauthorized:
		return nil, domain.Invalid(CodeInvalidCredentials, fmt.Sprintf("%s did not accept these credentials. Check them, and that they have not expired or been revoked.", p.DisplayName))
	}
	return nil, domain.Invalid(CodeConnectionTestFailed, fmt.Sprintf("The given credentials were found to be invalid. Please check the credentials and try again. (%s answered HTTP %d.)", base.Host, last.status))
}
