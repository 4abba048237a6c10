package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

type dataEnvelope[T any] struct {
	Data T `json:"data"`
}

// CreateConnectSession is POST /connect/sessions.
func (c *Client) CreateConnectSession(ctx context.Context, req ConnectSessionRequest) (*ConnectSession, error) {
	var out dataEnvelope[ConnectSession]
	if err := c.do(ctx, http.MethodPost, "/connect/sessions", nil, c.secretKey, req, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// CreateReconnectSession is POST /connect/sessions/reconnect.
func (c *Client) CreateReconnectSession(ctx context.Context, req ReconnectSessionRequest) (*ConnectSession, error) {
	var out dataEnvelope[ConnectSession]
	if err := c.do(ctx, http.MethodPost, "/connect/sessions/reconnect", nil, c.secretKey, req, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// GetConnectSession is GET /connect/session, authenticated by the session token.
func (c *Client) GetConnectSession(ctx context.Context, sessionToken string) (*SessionInfo, error) {
	var out dataEnvelope[SessionInfo]
	if err := c.do(ctx, http.MethodGet, "/connect/session", nil, sessionToken, nil, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// DeleteConnectSession is DELETE /connect/session.
func (c *Client) DeleteConnectSession(ctx context.Context, sessionToken string) error {
	return c.do(ctx, http.MethodDelete, "/connect/session", nil, sessionToken, nil, nil)
}

func authQuery(sessionToken string, params map[string]string) url.Values {
	q := url.Values{"connect_session_token": {sessionToken}}
	for k, v := range params {
		q.Set("params["+k+"]", v)
	}
	return q
}

// SubmitBasic is POST /api-auth/basic/{integration}: what the Connect UI sends
// when an end user submits a BASIC form (params are connection-config values).
func (c *Client) SubmitBasic(ctx context.Context, sessionToken, integration string, params map[string]string, username, password string) (*AuthResult, error) {
	var out AuthResult
	body := map[string]string{"username": username, "password": password}
	if err := c.do(ctx, http.MethodPost, "/api-auth/basic/"+url.PathEscape(integration), authQuery(sessionToken, params), "", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitBasicWithExpiry is SubmitBasic with the token's expiry date (YYYY-MM-DD), a latchkey addition.
func (c *Client) SubmitBasicWithExpiry(ctx context.Context, sessionToken, integration string, params map[string]string, username, password, expiresAt string) (*AuthResult, error) {
	var out AuthResult
	q := authQuery(sessionToken, params)
	q.Set("credentials_expires_at", expiresAt)
	body := map[string]string{"username": username, "password": password}
	if err := c.do(ctx, http.MethodPost, "/api-auth/basic/"+url.PathEscape(integration), q, "", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitAPIKey is POST /api-auth/api-key/{integration}.
func (c *Client) SubmitAPIKey(ctx context.Context, sessionToken, integration string, params map[string]string, apiKey string) (*AuthResult, error) {
	var out AuthResult
	if err := c.do(ctx, http.MethodPost, "/api-auth/api-key/"+url.PathEscape(integration), authQuery(sessionToken, params), "", map[string]string{"apiKey": apiKey}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitOAuth2CC is POST /oauth2/auth/{integration}: OAuth 2.0 client
// credentials, as @nangohq/frontend's auth() sends them. For an Atlassian
// service account, params may name the site (cloudId or subdomain).
func (c *Client) SubmitOAuth2CC(ctx context.Context, sessionToken, integration string, params map[string]string, clientID, clientSecret string) (*AuthResult, error) {
	var out AuthResult
	body := map[string]string{"client_id": clientID, "client_secret": clientSecret}
	if err := c.do(ctx, http.MethodPost, "/oauth2/auth/"+url.PathEscape(integration), authQuery(sessionToken, params), "", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetConnectionFresh is GET /connections/{id} with force_refresh=true: an
// OAUTH2_CC connection comes with a newly fetched token.
func (c *Client) GetConnectionFresh(ctx context.Context, integration, connectionID string) (*Connection, error) {
	var out Connection
	q := keyQuery(integration)
	q.Set("force_refresh", "true")
	if err := c.do(ctx, http.MethodGet, connectionPath(connectionID), q, c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListConnections is GET /connections (no credentials): one page, or every
// connection up to the server's 10,000 when o.Limit is 0.
func (c *Client) ListConnections(ctx context.Context, o ListConnectionsOptions) ([]ConnectionSummary, error) {
	p, err := c.ListConnectionsPage(ctx, o)
	if err != nil {
		return nil, err
	}
	return p.Connections, nil
}

// ListConnectionsPage is GET /connections with its cursor: one page, and
// the NextCursor to set as o.Cursor for the next ("" after the last).
func (c *Client) ListConnectionsPage(ctx context.Context, o ListConnectionsOptions) (*ConnectionPage, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("connectionId", o.ConnectionID)
	set("search", o.Search)
	set("endUserId", o.EndUserID)
	set("endUserOrganizationId", o.EndUserOrganizationID)
	set("integrationId", strings.Join(o.IntegrationIDs, ","))
	set("status", o.Status)
	set("cursor", o.Cursor)
	for k, v := range o.Tags {
		q.Set("tags["+k+"]", v)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	var out ConnectionPage
	if err := c.do(ctx, http.MethodGet, "/connections", q, c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EachConnection walks every connection matching o, newest first, a page of
// o.Limit (100 when 0) at a time by cursor; it stops at the first error,
// which it yields. o.Page and o.Cursor are ignored: the walk starts at the
// first connection.
func (c *Client) EachConnection(ctx context.Context, o ListConnectionsOptions) iter.Seq2[ConnectionSummary, error] {
	return func(yield func(ConnectionSummary, error) bool) {
		o.Page, o.Cursor = 0, ""
		if o.Limit <= 0 {
			o.Limit = 100
		}
		for {
			p, err := c.ListConnectionsPage(ctx, o)
			if err != nil {
				yield(ConnectionSummary{}, err)
				return
			}
			for _, s := range p.Connections {
				if !yield(s, nil) {
					return
				}
			}
			if p.NextCursor == "" {
				return
			}
			o.Cursor = p.NextCursor
		}
	}
}

func connectionPath(id string) string { return "/connections/" + url.PathEscape(id) }

func keyQuery(integration string) url.Values { return url.Values{"provider_config_key": {integration}} }

// GetConnection is GET /connections/{id}, with credentials.
func (c *Client) GetConnection(ctx context.Context, integration, connectionID string) (*Connection, error) {
	var out Connection
	if err := c.do(ctx, http.MethodGet, connectionPath(connectionID), keyQuery(integration), c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ImportConnection is POST /connections.
func (c *Client) ImportConnection(ctx context.Context, req ImportConnectionRequest) (*Connection, error) {
	var out Connection
	if err := c.do(ctx, http.MethodPost, "/connections", nil, c.secretKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteConnection is DELETE /connections/{id}.
func (c *Client) DeleteConnection(ctx context.Context, integration, connectionID string) error {
	return c.do(ctx, http.MethodDelete, connectionPath(connectionID), keyQuery(integration), c.secretKey, nil, nil)
}

// PatchConnection is PATCH /connections/{id}.
func (c *Client) PatchConnection(ctx context.Context, integration, connectionID string, req PatchConnectionRequest) error {
	return c.do(ctx, http.MethodPatch, connectionPath(connectionID), keyQuery(integration), c.secretKey, req, nil)
}

type metadataBody struct {
	ConnectionID      any            `json:"connection_id"`
	ProviderConfigKey string         `json:"provider_config_key"`
	Metadata          map[string]any `json:"metadata"`
}

func idsArg(ids []string) any {
	if len(ids) == 1 {
		return ids[0]
	}
	return ids
}

// SetMetadata is POST /connections/metadata: it replaces the metadata.
func (c *Client) SetMetadata(ctx context.Context, integration string, metadata map[string]any, connectionIDs ...string) error {
	return c.do(ctx, http.MethodPost, "/connections/metadata", nil, c.secretKey, metadataBody{idsArg(connectionIDs), integration, metadata}, nil)
}

// UpdateMetadata is PATCH /connections/metadata: it merges into the metadata.
func (c *Client) UpdateMetadata(ctx context.Context, integration string, metadata map[string]any, connectionIDs ...string) error {
	return c.do(ctx, http.MethodPatch, "/connections/metadata", nil, c.secretKey, metadataBody{idsArg(connectionIDs), integration, metadata}, nil)
}

// CreateIntegration is POST /integrations.
func (c *Client) CreateIntegration(ctx context.Context, req CreateIntegrationRequest) (*Integration, error) {
	var out dataEnvelope[Integration]
	if err := c.do(ctx, http.MethodPost, "/integrations", nil, c.secretKey, req, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// ListIntegrations is GET /integrations.
func (c *Client) ListIntegrations(ctx context.Context) ([]Integration, error) {
	var out dataEnvelope[[]Integration]
	if err := c.do(ctx, http.MethodGet, "/integrations", nil, c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// GetIntegration is GET /integrations/{key}.
func (c *Client) GetIntegration(ctx context.Context, key string) (*Integration, error) {
	var out dataEnvelope[Integration]
	if err := c.do(ctx, http.MethodGet, "/integrations/"+url.PathEscape(key), nil, c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// UpdateIntegration is PATCH /integrations/{key}.
func (c *Client) UpdateIntegration(ctx context.Context, key string, req UpdateIntegrationRequest) (*Integration, error) {
	var out dataEnvelope[Integration]
	if err := c.do(ctx, http.MethodPatch, "/integrations/"+url.PathEscape(key), nil, c.secretKey, req, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// DeleteIntegration is DELETE /integrations/{key}; its connections go with it.
func (c *Client) DeleteIntegration(ctx context.Context, key string) error {
	return c.do(ctx, http.MethodDelete, "/integrations/"+url.PathEscape(key), nil, c.secretKey, nil, nil)
}

// ListProviders is GET /providers; search is a case-insensitive regular expression.
func (c *Client) ListProviders(ctx context.Context, search string) ([]Provider, error) {
	q := url.Values{}
	if search != "" {
		q.Set("search", search)
	}
	var out dataEnvelope[[]Provider]
	if err := c.do(ctx, http.MethodGet, "/providers", q, c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// GetProvider is GET /providers/{name}.
func (c *Client) GetProvider(ctx context.Context, name string) (Provider, error) {
	var out dataEnvelope[Provider]
	if err := c.do(ctx, http.MethodGet, "/providers/"+url.PathEscape(name), nil, c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}
