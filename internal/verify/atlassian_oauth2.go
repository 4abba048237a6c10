package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// Codes of the site choice of an Atlassian OAuth 2.0 credential.
const (
	// CodeSiteRequired: the credential reaches several sites and none was chosen.
	CodeSiteRequired = "site_required"
	// CodeSiteNotAccessible: the chosen site is not one the credential reaches.
	CodeSiteNotAccessible = "site_not_accessible"
	// CodeNoAccessibleSites: the credential works but reaches no site.
	CodeNoAccessibleSites = "no_accessible_sites"
)

// Site is one Atlassian site a credential reaches (accessible-resources).
type Site struct {
	CloudID string   `json:"cloudId"`
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Scopes  []string `json:"scopes,omitempty"`
}

// Subdomain is the part of the site's URL before .atlassian.net.
func (s Site) Subdomain() string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return ""
	}
	sub, _, _ := strings.Cut(u.Hostname(), ".")
	return sub
}

// atlassianOAuth2 checks an Atlassian service account's OAuth 2.0 client
// credentials: it fetches a token (a refusal quotes Atlassian), lists the sites
// the credential reaches, picks the one asked for (params cloudId or subdomain;
// the only one when there is one; a list to choose from when there are
// several), and checks one API call there as the API-token check does.
type atlassianOAuth2 struct {
	cc   *clientCredentials
	site *atlassian
}

func (a *atlassianOAuth2) Verify(ctx context.Context, req Request) (*Verdict, error) {
	p := req.Provider
	creds, err := a.cc.tokenFor(ctx, req)
	if err != nil {
		return nil, atlassianTokenError(p, err)
	}
	base, err := p.ResolveBaseURL("", provider.Vars{ConnectionConfig: req.Config, Credentials: provider.CredentialVars(creds)})
	if err != nil {
		return nil, fmt.Errorf("verify: atlassian base URL: %w", err)
	}
	h, err := p.AuthHeaders(creds, provider.Vars{ConnectionConfig: req.Config, Credentials: provider.CredentialVars(creds)})
	if err != nil {
		return nil, fmt.Errorf("verify: atlassian auth headers: %w", err)
	}
	invalid := domain.Invalid(CodeInvalidCredentials, "Atlassian issued a token for this client ID and secret but then refused it. The credential may have been revoked a moment ago; create a new one and try again.")
	sites, err := a.sites(ctx, base, h, invalid)
	if err != nil {
		return nil, err
	}
	cloudID, _ := req.Config["cloudId"].(string)
	subdomain, _ := req.Config["subdomain"].(string)
	site, err := chooseSite(sites, cloudID, subdomain)
	if err != nil {
		return nil, err
	}
	v, err := a.site.checkSite(ctx, base, site.CloudID, h, invalid, "OAuth 2.0 credential")
	if err != nil {
		return nil, err
	}
	if v.Config == nil {
		v.Config = map[string]any{}
	}
	v.Config["cloudId"], v.Config["siteName"], v.Config["siteUrl"] = site.CloudID, site.Name, site.URL
	if sub := site.Subdomain(); sub != "" {
		v.Config["subdomain"] = sub
	}
	v.Credentials = &creds
	return v, nil
}

// atlassianTokenError words a refused token request for an Atlassian admin.
func atlassianTokenError(p *provider.Provider, err error) error {
	if e, ok := domain.AsError(err); ok && e.Code == CodeInvalidCredentials && !strings.Contains(e.Message, "Directory > Service accounts") {
		e.Message = strings.Replace(e.Message, p.DisplayName+" did not accept", "Atlassian did not accept", 1) +
			" In Atlassian Administration, open Directory > Service accounts, select the account and look at its credentials."
	}
	return err
}

// sites lists what the token reaches.
func (a *atlassianOAuth2) sites(ctx context.Context, base *url.URL, h http.Header, invalid *domain.Error) ([]Site, error) {
	u, err := provider.JoinEndpoint(base, "/oauth/token/accessible-resources")
	if err != nil {
		return nil, fmt.Errorf("verify: accessible-resources URL: %w", err)
	}
	res := a.cc.http.call(ctx, http.MethodGet, u, h)
	switch {
	case res.ok():
	case res.is(http.StatusUnauthorized) || res.is(http.StatusForbidden):
		return nil, invalid
	default:
		return nil, a.cc.http.unavailable("Atlassian", res)
	}
	var raw []struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		URL    string   `json:"url"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal(res.body, &raw); err != nil {
		return nil, a.cc.http.unavailable("Atlassian", response{url: u, status: http.StatusBadGateway})
	}
	sites := make([]Site, 0, len(raw))
	for _, r := range raw {
		if r.ID != "" {
			sites = append(sites, Site{CloudID: r.ID, Name: r.Name, URL: r.URL, Scopes: r.Scopes})
		}
	}
	return sites, nil
}

// chooseSite picks the site asked for, or the only one.
func chooseSite(sites []Site, cloudID, subdomain string) (Site, error) {
	if len(sites) == 0 {
		return Site{}, domain.Invalid(CodeNoAccessibleSites, "This client ID and secret work, but the service account reaches no Atlassian site. "+
			"In Atlassian Administration, give the service account access to Jira or Confluence on a site, then try again.")
	}
	list := describeSites(sites)
	switch {
	case cloudID != "":
		for _, s := range sites {
			if strings.EqualFold(s.CloudID, cloudID) {
				return s, nil
			}
		}
		return Site{}, siteError(CodeSiteNotAccessible, fmt.Sprintf("This credential does not reach the site with Cloud ID %s. It reaches: %s.", cloudID, list), sites, "cloudId")
	case subdomain != "":
		for _, s := range sites {
			if strings.EqualFold(s.Subdomain(), subdomain) {
				return s, nil
			}
		}
		return Site{}, siteError(CodeSiteNotAccessible, fmt.Sprintf("This credential does not reach %s.atlassian.net. It reaches: %s.", subdomain, list), sites, "subdomain")
	case len(sites) == 1:
		return sites[0], nil
	}
	return Site{}, siteError(CodeSiteRequired, fmt.Sprintf("This credential reaches %d Atlassian sites; choose one (params[cloudId] or params[subdomain]): %s.", len(sites), list), sites, "cloudId")
}

func describeSites(sites []Site) string {
	parts := make([]string, len(sites))
	for i, s := range sites {
		parts[i] = fmt.Sprintf("%s (%s, Cloud ID %s)", s.Name, s.URL, s.CloudID)
	}
	return strings.Join(parts, "; ")
}

// siteError is a 400 naming the sites to choose from, in the message and in
// the payload (for the Connect UI's site picker).
func siteError(code, msg string, sites []Site, field string) *domain.Error {
	e := domain.Invalid(code, msg, domain.Field(code, msg, "params", field))
	list := make([]map[string]any, len(sites))
	for i, s := range sites {
		list[i] = map[string]any{"cloudId": s.CloudID, "name": s.Name, "url": s.URL}
	}
	e.Payload = map[string]any{"sites": list}
	return e
}
