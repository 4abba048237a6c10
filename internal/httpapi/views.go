package httpapi

import (
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// Times: the connection GET shape uses "+00:00", listings use "Z", as Nango does.
func isoZ(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func isoOffset(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+00:00") }

func isoOffsetPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := isoOffset(*t)
	return &s
}

type integrationView struct {
	UniqueKey       string `json:"unique_key"`
	Provider        string `json:"provider"`
	DisplayName     string `json:"display_name"`
	Logo            string `json:"logo"`
	ForwardWebhooks bool   `json:"forward_webhooks"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
}

func (a *API) integrationJSON(in *domain.Integration) integrationView {
	return integrationView{
		UniqueKey: in.UniqueKey, Provider: in.Provider, DisplayName: in.DisplayName,
		Logo:            a.publicURL + "/images/template-logos/" + in.Provider + ".svg",
		ForwardWebhooks: in.ForwardWebhooks, CreatedAt: isoZ(in.CreatedAt), UpdatedAt: isoZ(in.UpdatedAt),
	}
}

// providerJSON is the entry as written, with Nango's name and logo_url, and
// latchkey's own verdict on it: {"latchkey": {"supported": false, "reason": …}}
// for an entry it cannot serve yet, and the notes on one it serves differently.
func (a *API) providerJSON(p *provider.Provider) provider.Ordered {
	mark := provider.Ordered{{Key: "supported", Value: p.Supported()}}
	if !p.Supported() {
		mark = append(mark, provider.Member{Key: "reason", Value: p.Unsupported})
	}
	if len(p.Notes) > 0 {
		mark = append(mark, provider.Member{Key: "notes", Value: p.Notes})
	}
	return p.Raw.With("name", p.Name).With("logo_url", a.publicURL+"/images/template-logos/"+p.Name+".svg").With("latchkey", mark)
}

type organizationView struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

type endUserView struct {
	ID           string            `json:"id"`
	DisplayName  *string           `json:"display_name"`
	Email        *string           `json:"email"`
	Tags         map[string]string `json:"tags"`
	Organization *organizationView `json:"organization"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func endUserJSON(eu *domain.EndUser) *endUserView {
	if eu == nil {
		return nil
	}
	v := &endUserView{ID: eu.ID, DisplayName: strPtr(eu.DisplayName), Email: strPtr(eu.Email), Tags: eu.Tags}
	if v.Tags == nil {
		v.Tags = map[string]string{}
	}
	if eu.OrganizationID != "" {
		v.Organization = &organizationView{ID: eu.OrganizationID, DisplayName: eu.OrganizationDisplayName}
	}
	return v
}

func nonNilTags(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}

func nonNilErrors(e []domain.ConnectionError) []domain.ConnectionError {
	if e == nil {
		return []domain.ConnectionError{}
	}
	return e
}

func nonNilWarnings(w []domain.Warning) []domain.Warning {
	if w == nil {
		return []domain.Warning{}
	}
	return w
}

// connectionBase holds the fields the listing and the full connection share.
type connectionBase struct {
	ID                int64                    `json:"id"`
	ConnectionID      string                   `json:"connection_id"`
	ProviderConfigKey string                   `json:"provider_config_key"`
	Provider          string                   `json:"provider"`
	Errors            []domain.ConnectionError `json:"errors"`
	EndUser           *endUserView             `json:"end_user"`
	Tags              map[string]string        `json:"tags"`
	Metadata          map[string]any           `json:"metadata"`
	// latchkey additions
	Status               string  `json:"status"`
	CredentialsExpiresAt *string `json:"credentials_expires_at"`
}

func baseJSON(c *domain.Connection) connectionBase {
	return connectionBase{
		ID: c.ID, ConnectionID: c.ConnectionID, ProviderConfigKey: c.IntegrationKey, Provider: c.Provider, Errors: nonNilErrors(c.Errors),
		EndUser: endUserJSON(c.EndUser), Tags: nonNilTags(c.Tags), Metadata: c.Metadata,
		Status: c.Status, CredentialsExpiresAt: isoOffsetPtr(c.CredentialsExpiresAt),
	}
}

type connectionListItem struct {
	connectionBase
	Created string `json:"created"`
}

func listItemJSON(c *domain.Connection) connectionListItem {
	return connectionListItem{connectionBase: baseJSON(c), Created: isoZ(c.CreatedAt)}
}

type connectionView struct {
	connectionBase
	ConnectionConfig   map[string]any   `json:"connection_config"`
	WebhookURLOverride *string          `json:"webhook_url_override"`
	CreatedAt          string           `json:"created_at"`
	UpdatedAt          string           `json:"updated_at"`
	LastFetchedAt      *string          `json:"last_fetched_at"`
	Credentials        map[string]any   `json:"credentials"`
	Warnings           []domain.Warning `json:"warnings"`
	LastVerifiedAt     *string          `json:"last_verified_at"`
}

func credentialsJSON(c domain.Credentials) map[string]any {
	switch c.Type {
	case domain.AuthModeBasic:
		return map[string]any{"type": c.Type, "username": c.Username, "password": c.Password}
	case domain.AuthModeAPIKey:
		return map[string]any{"type": c.Type, "apiKey": c.APIKey}
	case domain.AuthModeOAuth2CC:
		raw := c.Raw
		if raw == nil {
			raw = map[string]any{}
		}
		return map[string]any{"type": c.Type, "token": c.Token, "expires_at": c.ExpiresAt, "client_id": c.ClientID, "client_secret": c.ClientSecret, "raw": raw}
	}
	return map[string]any{"type": c.Type}
}

func connectionJSON(c *domain.Connection) connectionView {
	cfg := c.ConnectionConfig
	if cfg == nil {
		cfg = map[string]any{}
	}
	return connectionView{
		connectionBase: baseJSON(c), ConnectionConfig: cfg, WebhookURLOverride: strPtr(c.WebhookURLOverride),
		CreatedAt: isoOffset(c.CreatedAt), UpdatedAt: isoOffset(c.UpdatedAt), LastFetchedAt: isoOffsetPtr(c.LastFetchedAt),
		Credentials: credentialsJSON(c.Credentials), Warnings: nonNilWarnings(c.Warnings), LastVerifiedAt: isoOffsetPtr(c.LastVerifiedAt),
	}
}
