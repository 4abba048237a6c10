package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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

// Verdict is the outcome of a successful verification.
type Verdict struct {
	// Checked is false when the provider offers no way to verify.
	Checked  bool
	Status   string
	Warnings []domain.Warning
	// Config holds values learned from the provider, merged into the connection config.
	Config map[string]any
}

// response is what one upstream call produced.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // network failure or timeout; status is 0
}

const maxVerifyBody = 1 << 20

// Verify checks candidate credentials against the provider and says precisely
// what is wrong when they fail. Nothing is retried past the verify timeout.
func (s *Service) Verify(ctx context.Context, p *provider.Provider, cfg map[string]any, creds domain.Credentials) (*Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, s.verifyTimeout)
	defer cancel()
	switch {
	case p.CredentialsVerificationScript == "atlassianServiceAccount":
		return s.verifyAtlassian(ctx, p, cfg, creds)
	case p.Proxy != nil && p.Proxy.Verification != nil && len(p.Proxy.Verification.Endpoints) > 0:
		return s.verifyEndpoints(ctx, p, cfg, creds)
	}
	return &Verdict{Checked: false, Status: domain.StatusOK}, nil
}

// call performs one GET-like request, retrying 429 and 502-504 a few times as the
// provider's Retry-After or X-RateLimit-Reset say, within ctx.
func (s *Service) call(ctx context.Context, method string, u *url.URL, h http.Header) response {
	const attempts = 3
	var last response
	for i := 0; i < attempts; i++ {
		last = s.once(ctx, method, u, h)
		if last.err != nil || !retryable(last.status) || i == attempts-1 {
			return last
		}
		wait := retryWait(last.header, i, s.now())
		if deadline, ok := ctx.Deadline(); ok && wait >= time.Until(deadline) {
			return last
		}
		if err := s.sleep(ctx, wait); err != nil {
			return last
		}
	}
	return last
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// retryWait reads Retry-After (seconds or HTTP date) and X-RateLimit-Reset
// (ISO-8601 or epoch seconds); without them it backs off exponentially with jitter.
func retryWait(h http.Header, attempt int, now time.Time) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(v)); err == nil {
			return max(t.Sub(now), 0)
		}
		if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return max(time.Unix(secs, 0).Sub(now), 0)
		}
	}
	base := 200 * time.Millisecond << attempt
	return base/2 + time.Duration(rand.Int64N(int64(base)))
}

func (s *Service) once(ctx context.Context, method string, u *url.URL, h http.Header) response {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return response{err: err}
	}
	req.Header = h.Clone()
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "latchkey")
	res, err := s.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxVerifyBody))
	if err != nil {
		return response{err: err}
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func (s *Service) sleep(ctx context.Context, d time.Duration) error {
	if s.sleepFn != nil {
		return s.sleepFn(ctx, d)
	}
	return domain.Sleep(ctx, d)
}

// describeFailure turns a network error into words for an end user.
func describeFailure(r response) string {
	var dnsErr *net.DNSError
	switch {
	case r.err == nil && r.status == http.StatusTooManyRequests:
		return "it is rate limiting requests right now"
	case r.err == nil:
		return fmt.Sprintf("it answered with an error (HTTP %d)", r.status)
	case errors.Is(r.err, context.DeadlineExceeded) || isTimeout(r.err):
		return "it did not answer in time"
	case errors.As(r.err, &dnsErr):
		return "its address could not be resolved"
	}
	return "the connection failed"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func unavailable(name string, r response) *domain.Problem {
	p := &domain.Problem{Status: http.StatusBadGateway, Code: CodeProviderUnavailable,
		Message: fmt.Sprintf("%s could not check these credentials because %s. Nothing was saved; please try again in a few minutes.", name, describeFailure(r))}
	if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
		if v := r.header.Get("Retry-After"); v != "" {
			p.Header = map[string]string{"Retry-After": v}
		}
	}
	return p
}

func vars(cfg map[string]any, creds domain.Credentials) provider.Vars {
	return provider.Vars{ConnectionConfig: cfg, Credentials: provider.CredentialVars(creds)}
}

// atlassianUser is the part of Jira's /myself and Confluence's /user/current we keep.
type atlassianUser struct {
	AccountID    string `json:"accountId"`
	AccountType  string `json:"accountType"`
	DisplayName  string `json:"displayName"`
	PublicName   string `json:"publicName"`
	EmailAddress string `json:"emailAddress"`
	Email        string `json:"email"`
}

func (u atlassianUser) config() map[string]any {
	out := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("accountId", u.AccountID)
	set("accountType", u.AccountType)
	set("displayName", cmpOr(u.DisplayName, u.PublicName))
	set("emailAddress", cmpOr(u.EmailAddress, u.Email))
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func scopeMismatch(r response) bool {
	return r.status == http.StatusUnauthorized && strings.EqualFold(r.header.Get("X-Failure-Category"), "FAILURE_CLIENT_SCOPE_CHECK")
}

// verifyAtlassian checks a service-account token through the api.atlassian.com
// gateway: Jira's /myself first; a scope-check 401 means the credentials are good
// but Jira scopes are missing, so Confluence decides; a plain 401 is a bad or
// expired token; 404 is an unknown Cloud ID.
func (s *Service) verifyAtlassian(ctx context.Context, p *provider.Provider, cfg map[string]any, creds domain.Credentials) (*Verdict, error) {
	cloudID, _ := cfg["cloudId"].(string)
	seg, err := provider.PathValue(cloudID)
	if err != nil {
		return nil, badRequest("invalid_fields", "Cloud ID is not valid.", fe("invalid_format", "Cloud ID is not valid.", "params", "cloudId"))
	}
	v := vars(cfg, creds)
	base, err := p.ResolveBaseURL("", v)
	if err != nil {
		return nil, fmt.Errorf("auth: atlassian base URL: %w", err)
	}
	h, err := p.AuthHeaders(creds, v)
	if err != nil {
		return nil, fmt.Errorf("auth: atlassian auth headers: %w", err)
	}
	jiraURL, _ := provider.JoinEndpoint(base, "/ex/jira/"+seg+"/rest/api/3/myself")
	confURL, _ := provider.JoinEndpoint(base, "/ex/confluence/"+seg+"/wiki/rest/api/user/current")

	invalid := badRequest(CodeInvalidCredentials, "Atlassian did not accept this email and API token. Check that the whole token was copied, that it was created for this service account, and that it has not expired or been revoked.")
	// The error names the field, so a form can show the hint beside it.
	unknownSiteMsg := fmt.Sprintf("Atlassian has no site with the Cloud ID %s. In admin.atlassian.com, open Apps > Sites, select the site, and copy the ID that follows /s/ in the address.", cloudID)
	unknownSite := badRequest(CodeUnknownCloudID, unknownSiteMsg, fe(CodeUnknownCloudID, unknownSiteMsg, "params", "cloudId"))

	jira := s.call(ctx, http.MethodGet, jiraURL, h)
	switch {
	case jira.err == nil && jira.status == http.StatusOK:
		var u atlassianUser
		_ = json.Unmarshal(jira.body, &u)
		return &Verdict{Checked: true, Status: domain.StatusOK, Config: u.config()}, nil
	case scopeMismatch(jira):
		// Good credentials, no Jira scope: ask Confluence.
	case jira.err == nil && jira.status == http.StatusUnauthorized:
		return nil, invalid
	case jira.err == nil && jira.status == http.StatusNotFound:
		return nil, unknownSite
	case jira.err == nil && jira.status == http.StatusForbidden:
		return nil, badRequest(CodeConnectionTestFailed, "Atlassian refused this service account access to Jira on this site (HTTP 403). Check that the service account has been given access to the site.")
	default:
		return nil, unavailable("Atlassian", jira)
	}

	jiraWarning := domain.Warning{Code: CodeScopeMissing, Product: "jira",
		Message: "The API token has no Jira scopes, so Jira calls through this connection will be refused. Create a token with Jira scopes (such as read:jira-user) to use Jira."}
	conf := s.call(ctx, http.MethodGet, confURL, h)
	switch {
	case conf.err == nil && conf.status == http.StatusOK:
		var u atlassianUser
		_ = json.Unmarshal(conf.body, &u)
		return &Verdict{Checked: true, Status: domain.StatusScopeMissing, Warnings: []domain.Warning{jiraWarning}, Config: u.config()}, nil
	case scopeMismatch(conf):
		return &Verdict{Checked: true, Status: domain.StatusScopeMissing, Warnings: []domain.Warning{jiraWarning, {Code: CodeScopeMissing, Product: "confluence",
			Message: "The API token has no Confluence scopes either, so Confluence calls will be refused too. Create a token with the scopes your use needs."}}}, nil
	case conf.err == nil && conf.status == http.StatusUnauthorized:
		return nil, invalid
	case conf.err == nil && conf.status == http.StatusNotFound:
		return nil, unknownSite
	case conf.err == nil && conf.status == http.StatusForbidden:
		return nil, badRequest(CodeConnectionTestFailed, "Atlassian refused this service account access to Confluence on this site (HTTP 403), and the token has no Jira scopes.")
	default:
		return nil, unavailable("Atlassian", conf)
	}
}

// verifyEndpoints implements providers.yaml's proxy.verification: the first
// endpoint that answers 2xx proves the credentials.
func (s *Service) verifyEndpoints(ctx context.Context, p *provider.Provider, cfg map[string]any, creds domain.Credentials) (*Verdict, error) {
	ver := p.Proxy.Verification
	v := vars(cfg, creds)
	base, err := p.ResolveBaseURL(ver.BaseURLOverride, v)
	if err != nil {
		return nil, badRequest(CodeConnectionTestFailed, "The given credentials were found to be invalid. Please check the credentials and try again.")
	}
	h, err := p.AuthHeaders(creds, v)
	if err != nil {
		return nil, fmt.Errorf("auth: %s auth headers: %w", p.Name, err)
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
		last = s.call(ctx, method, u, h)
		if last.err == nil && last.status >= 200 && last.status < 300 {
			return &Verdict{Checked: true, Status: domain.StatusOK}, nil
		}
	}
	switch {
	case last.err != nil || last.status >= 500 || last.status == http.StatusTooManyRequests:
		return nil, unavailable(fmt.Sprintf("%s (%s)", p.DisplayName, base.Host), last)
	case last.status == http.StatusUnauthorized:
		return nil, badRequest(CodeInvalidCredentials, fmt.Sprintf("%s did not accept these credentials. Check the email and API token, and that the token has not expired or been revoked.", p.DisplayName))
	}
	return nil, badRequest(CodeConnectionTestFailed, fmt.Sprintf("The given credentials were found to be invalid. Please check the credentials and try again. (%s answered HTTP %d.)", base.Host, last.status))
}

// Recheck verifies a stored connection again, as at connect time. status is
// ok, scope_missing or invalid_credentials; reached is false when the provider
// could not be reached (or was failing), which says nothing about the credentials.
func (s *Service) Recheck(ctx context.Context, c *domain.Connection) (status string, warnings []domain.Warning, message string, reached bool, err error) {
	if err := s.Open(c); err != nil {
		return "", nil, "", false, err
	}
	p, ok := s.catalogue.Get(c.Provider)
	if !ok {
		return "", nil, "", false, fmt.Errorf("auth: provider %s of connection %d is not in the catalogue", c.Provider, c.ID)
	}
	v, err := s.Verify(ctx, p, c.ConnectionConfig, c.Credentials)
	if err == nil {
		return v.Status, v.Warnings, "Credentials verified.", true, nil
	}
	var pr *domain.Problem
	if !errors.As(err, &pr) {
		return "", nil, "", false, err
	}
	if pr.Code == CodeProviderUnavailable {
		return "", nil, pr.Message, false, nil
	}
	return domain.StatusInvalidCredentials, nil, pr.Message, true, nil
}
