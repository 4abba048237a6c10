package client

// EndUser identifies who, in your product, a connection belongs to.
type EndUser struct {
	ID          string            `json:"id"`
	Email       string            `json:"email,omitempty"`
	DisplayName string            `json:"display_name,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// Organization is the deprecated organization of a session.
type Organization struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name,omitempty"`
}

// IntegrationDefaults pre-set values for one integration in a session.
type IntegrationDefaults struct {
	ConnectionConfig map[string]any `json:"connection_config,omitempty"`
}

// ConnectSessionRequest is the body of POST /connect/sessions.
type ConnectSessionRequest struct {
	EndUser                    *EndUser                       `json:"end_user,omitempty"`
	Organization               *Organization                  `json:"organization,omitempty"`
	AllowedIntegrations        []string                       `json:"allowed_integrations,omitempty"`
	IntegrationsConfigDefaults map[string]IntegrationDefaults `json:"integrations_config_defaults,omitempty"`
	WebhookURLOverride         string                         `json:"webhook_url_override,omitempty"`
	Tags                       map[string]string              `json:"tags,omitempty"`
}

// ReconnectSessionRequest is the body of POST /connect/sessions/reconnect.
type ReconnectSessionRequest struct {
	ConnectionID               string                         `json:"connection_id"`
	IntegrationID              string                         `json:"integration_id"`
	EndUser                    *EndUser                       `json:"end_user,omitempty"`
	IntegrationsConfigDefaults map[string]IntegrationDefaults `json:"integrations_config_defaults,omitempty"`
	Tags                       map[string]string              `json:"tags,omitempty"`
}

// ConnectSession is a created session.
type ConnectSession struct {
	Token       string `json:"token"`
	ConnectLink string `json:"connect_link"`
	ExpiresAt   string `json:"expires_at"`
}

// SessionInfo is GET /connect/session.
type SessionInfo struct {
	EndUser                    *EndUserView              `json:"endUser"`
	AllowedIntegrations        []string                  `json:"allowed_integrations"`
	IntegrationsConfigDefaults map[string]map[string]any `json:"integrations_config_defaults"`
	IsReconnecting             bool                      `json:"isReconnecting"`
	ExpiresAt                  string                    `json:"expires_at"`
}

// EndUserView is an end user as latchkey returns it.
type EndUserView struct {
	ID           string            `json:"id"`
	DisplayName  *string           `json:"display_name"`
	Email        *string           `json:"email"`
	Tags         map[string]string `json:"tags"`
	Organization *Organization     `json:"organization"`
}

// Warning is a non-fatal finding, such as a missing scope.
type Warning struct {
	Code    string `json:"code"`
	Product string `json:"product,omitempty"`
	Message string `json:"message"`
}

// AuthResult is the answer to a credential submission.
type AuthResult struct {
	ConnectionID      string    `json:"connectionId"`
	ProviderConfigKey string    `json:"providerConfigKey"`
	Warnings          []Warning `json:"warnings"`
}

// Credentials of a connection; which fields are set depends on Type.
type Credentials struct {
	Type         string `json:"type"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	APIKey       string `json:"apiKey,omitempty"`
	Token        string `json:"token,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	ExpiresAt    string `json:"expires_at,omitempty"`
	// Raw is the token endpoint's answer (OAUTH2_CC).
	Raw map[string]any `json:"raw,omitempty"`
}

// ConnectionError is one entry of a connection's errors.
type ConnectionError struct {
	Type  string `json:"type"`
	LogID string `json:"log_id"`
}

// Connection is GET /connections/{id}.
type Connection struct {
	ID                   int64             `json:"id"`
	ConnectionID         string            `json:"connection_id"`
	ProviderConfigKey    string            `json:"provider_config_key"`
	Provider             string            `json:"provider"`
	Errors               []ConnectionError `json:"errors"`
	EndUser              *EndUserView      `json:"end_user"`
	Tags                 map[string]string `json:"tags"`
	Metadata             map[string]any    `json:"metadata"`
	ConnectionConfig     map[string]any    `json:"connection_config"`
	WebhookURLOverride   *string           `json:"webhook_url_override"`
	CreatedAt            string            `json:"created_at"`
	UpdatedAt            string            `json:"updated_at"`
	LastFetchedAt        *string           `json:"last_fetched_at"`
	Credentials          Credentials       `json:"credentials"`
	Status               string            `json:"status"`
	Warnings             []Warning         `json:"warnings"`
	LastVerifiedAt       *string           `json:"last_verified_at"`
	CredentialsExpiresAt *string           `json:"credentials_expires_at"`
}

// ConnectionSummary is one item of GET /connections.
type ConnectionSummary struct {
	ID                int64             `json:"id"`
	ConnectionID      string            `json:"connection_id"`
	ProviderConfigKey string            `json:"provider_config_key"`
	Provider          string            `json:"provider"`
	Errors            []ConnectionError `json:"errors"`
	EndUser           *EndUserView      `json:"end_user"`
	Tags              map[string]string `json:"tags"`
	Metadata          map[string]any    `json:"metadata"`
	Created           string            `json:"created"`
	Status            string            `json:"status"`
}

// ListConnectionsOptions filter GET /connections.
type ListConnectionsOptions struct {
	ConnectionID          string
	Search                string
	EndUserID             string
	EndUserOrganizationID string
	IntegrationIDs        []string
	Tags                  map[string]string
	Status                string
	Limit                 int
	// Page is Nango's offset paging (0-based, with Limit); Cursor is the
	// NextCursor of the page before (latchkey's keyset paging, the same cost
	// at any depth). Not both.
	Page   int
	Cursor string
}

// ConnectionPage is one page of GET /connections.
type ConnectionPage struct {
	Connections []ConnectionSummary `json:"connections"`
	// NextCursor, when not empty, is the Cursor of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ImportConnectionRequest is the body of POST /connections.
type ImportConnectionRequest struct {
	ProviderConfigKey  string            `json:"provider_config_key"`
	ConnectionID       string            `json:"connection_id,omitempty"`
	Credentials        Credentials       `json:"credentials"`
	ConnectionConfig   map[string]any    `json:"connection_config,omitempty"`
	Metadata           map[string]any    `json:"metadata,omitempty"`
	WebhookURLOverride string            `json:"webhook_url_override,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	EndUser            *EndUser          `json:"end_user,omitempty"`
	// CredentialsExpiresAt is the token's expiry date (YYYY-MM-DD), a latchkey addition.
	CredentialsExpiresAt string `json:"credentials_expires_at,omitempty"`
}

// PatchConnectionRequest is the body of PATCH /connections/{id}; nil fields are unchanged.
type PatchConnectionRequest struct {
	// CredentialsExpiresAt sets the token's expiry date (YYYY-MM-DD; "" clears).
	CredentialsExpiresAt *string            `json:"credentials_expires_at,omitempty"`
	EndUser              *EndUser           `json:"end_user,omitempty"`
	Tags                 *map[string]string `json:"tags,omitempty"`
	WebhookURLOverride   *string            `json:"webhook_url_override,omitempty"`
}

// Integration is an integration as latchkey returns it.
type Integration struct {
	UniqueKey       string `json:"unique_key"`
	Provider        string `json:"provider"`
	DisplayName     string `json:"display_name"`
	Logo            string `json:"logo"`
	ForwardWebhooks bool   `json:"forward_webhooks"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
}

// CreateIntegrationRequest is the body of POST /integrations.
type CreateIntegrationRequest struct {
	Provider        string `json:"provider"`
	UniqueKey       string `json:"unique_key"`
	DisplayName     string `json:"display_name,omitempty"`
	ForwardWebhooks *bool  `json:"forward_webhooks,omitempty"`
}

// UpdateIntegrationRequest is the body of PATCH /integrations/{key}.
type UpdateIntegrationRequest struct {
	UniqueKey       *string `json:"unique_key,omitempty"`
	DisplayName     *string `json:"display_name,omitempty"`
	ForwardWebhooks *bool   `json:"forward_webhooks,omitempty"`
}

// Provider is a catalogue entry (the providers.yaml fields, plus name and logo).
type Provider map[string]any
