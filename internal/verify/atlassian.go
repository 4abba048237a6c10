package verify

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// atlassian checks a service-account token through the api.atlassian.com
// gateway: Jira's /myself first; a scope-check 401 means the credentials are
// good but Jira scopes are missing, so Confluence decides; a plain 401 is a bad
// or expired token; 404 is an unknown Cloud ID.
type atlassian struct{ http *caller }

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
	set("displayName", cmp.Or(u.DisplayName, u.PublicName))
	set("emailAddress", cmp.Or(u.EmailAddress, u.Email))
	return out
}

func userConfig(r response) map[string]any {
	var u atlassianUser
	_ = json.Unmarshal(r.body, &u)
	return u.config()
}

// scopeMismatch is Atlassian's answer for good credentials without the product's scopes.
func scopeMismatch(r response) bool {
	return r.is(http.StatusUnauthorized) && strings.EqualFold(r.header.Get("X-Failure-Category"), "FAILURE_CLIENT_SCOPE_CHECK")
}

func (a *atlassian) Verify(ctx context.Context, req Request) (*Verdict, error) {
	cloudID, _ := req.Config["cloudId"].(string)
	v := req.vars()
	p := req.Provider
	base, err := p.ResolveBaseURL("", v)
	if err != nil {
		return nil, fmt.Errorf("verify: atlassian base URL: %w", err)
	}
	h, err := p.AuthHeaders(req.Credentials, v)
	if err != nil {
		return nil, fmt.Errorf("verify: atlassian auth headers: %w", err)
	}
	invalid := domain.Invalid(CodeInvalidCredentials, "Atlassian did not accept this email and API token. Check that the whole token was copied, that it was created for this service account, and that it has not expired or been revoked.")
	return a.checkSite(ctx, base, cloudID, h, invalid, "API token")
}

// checkSite asks Jira's /myself on one site through the gateway, and
// Confluence's /user/current when the credential has no Jira scope. invalid is
// the error for credentials Atlassian refuses; noun names the credential in
// warnings ("API token").
func (a *atlassian) checkSite(ctx context.Context, base *url.URL, cloudID string, h http.Header, invalid *domain.Error, noun string) (*Verdict, error) {
	seg, err := provider.PathValue(cloudID)
	if err != nil {
		return nil, domain.Invalid("invalid_fields", "Cloud ID is not valid.", domain.Field("invalid_format", "Cloud ID is not valid.", "params", "cloudId"))
	}
	jiraURL, _ := provider.JoinEndpoint(base, "/ex/jira/"+seg+"/rest/api/3/myself")
	confURL, _ := provider.JoinEndpoint(base, "/ex/confluence/"+seg+"/wiki/rest/api/user/current")
	// The error names the field, so a form can show the hint beside it.
	unknownSiteMsg := fmt.Sprintf("Atlassian has no site with the Cloud ID %s. In admin.atlassian.com, open Apps > Sites, select the site, and copy the ID that follows /s/ in the address.", cloudID)
	unknownSite := domain.Invalid(CodeUnknownCloudID, unknownSiteMsg, domain.Field(CodeUnknownCloudID, unknownSiteMsg, "params", "cloudId"))

	jira := a.http.call(ctx, http.MethodGet, jiraURL, h)
	switch {
	case jira.is(http.StatusOK):
		return &Verdict{Checked: true, Status: domain.StatusOK, Config: userConfig(jira)}, nil
	case scopeMismatch(jira):
		// Good credentials, no Jira scope: ask Confluence.
	case jira.is(http.StatusUnauthorized):
		return nil, invalid
	case jira.is(http.StatusNotFound):
		return nil, unknownSite
	case jira.is(http.StatusForbidden):
		return nil, domain.Invalid(CodeConnectionTestFailed, "Atlassian refused this service account access to Jira on this site (HTTP 403). Check that the service account has been given access to the site.")
	default:
		return nil, a.http.unavailable("Atlassian", jira)
	}

	jiraWarning := domain.Warning{Code: CodeScopeMissing, Product: "jira",
		Message: fmt.Sprintf("The %s has no Jira scopes, so Jira calls through this connection will be refused. Create a %s with Jira scopes (such as read:jira-user) to use Jira.", noun, noun)}
	conf := a.http.call(ctx, http.MethodGet, confURL, h)
	switch {
	case conf.is(http.StatusOK):
		return &Verdict{Checked: true, Status: domain.StatusScopeMissing, Warnings: []domain.Warning{jiraWarning}, Config: userConfig(conf)}, nil
	case scopeMismatch(conf):
		return &Verdict{Checked: true, Status: domain.StatusScopeMissing, Warnings: []domain.Warning{jiraWarning, {Code: CodeScopeMissing, Product: "confluence",
			Message: fmt.Sprintf("The %s has no Confluence scopes either, so Confluence calls will be refused too. Create a %s with the scopes your use needs.", noun, noun)}}}, nil
	case conf.is(http.StatusUnauthorized):
		return nil, invalid
	case conf.is(http.StatusNotFound):
		return nil, unknownSite
	case conf.is(http.StatusForbidden):
		return nil, domain.Invalid(CodeConnectionTestFailed, fmt.Sprintf("Atlassian refused this service account access to Confluence on this site (HTTP 403), and the %s has no Jira scopes.", noun))
	default:
		return nil, a.http.unavailable("Atlassian", conf)
	}
}
