package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// CheckResult is the answer of POST /connections/{id}/verify: what a health
// check found, recorded as a scheduled check would be.
type CheckResult struct {
	ConnectionID        string    `json:"connection_id"`
	ProviderConfigKey   string    `json:"provider_config_key"`
	Status              string    `json:"status"`
	PreviousStatus      string    `json:"previous_status"`
	Warnings            []Warning `json:"warnings"`
	Message             string    `json:"message"`
	Verified            bool      `json:"verified"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	NextCheckAt         string    `json:"next_check_at"`
}

// VerifyConnection is POST /connections/{id}/verify: re-verify a connection's
// credentials with the provider now (a latchkey addition).
func (c *Client) VerifyConnection(ctx context.Context, integration, connectionID string) (*CheckResult, error) {
	var out CheckResult
	if err := c.do(ctx, http.MethodPost, connectionPath(connectionID)+"/verify", keyQuery(integration), c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Event is one entry of a connection's operation log.
type Event struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
	At      string `json:"at"`
}

// EventPage is one page of a connection's operation log, newest first.
// NextBefore, when not zero, is the Before of the next page.
type EventPage struct {
	Data       []Event `json:"data"`
	NextBefore int64   `json:"next_before,omitempty"`
}

// PageOptions page through a listing: Limit items (1–500; 0: the server's
// 50), older than the id Before (0: from the newest).
type PageOptions struct {
	Limit  int
	Before int64
}

func (p PageOptions) query(q url.Values) url.Values {
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Before > 0 {
		q.Set("before", strconv.FormatInt(p.Before, 10))
	}
	return q
}

// ConnectionEvents is GET /connections/{id}/events: the connection's
// operation log (a latchkey addition).
func (c *Client) ConnectionEvents(ctx context.Context, integration, connectionID string, page PageOptions) (*EventPage, error) {
	var out EventPage
	if err := c.do(ctx, http.MethodGet, connectionPath(connectionID)+"/events", page.query(keyQuery(integration)), c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// WebhookAttempt is one attempt at delivering a webhook.
type WebhookAttempt struct {
	Attempt    int    `json:"attempt"`
	At         string `json:"at"`
	Status     *int   `json:"status"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// WebhookDelivery is one webhook in the outbox.
type WebhookDelivery struct {
	ID            int64            `json:"id"`
	URL           string           `json:"url"`
	Type          string           `json:"type"`
	ConnectionID  string           `json:"connection_id"`
	Status        string           `json:"status"`
	Attempts      int              `json:"attempts"`
	NextAttemptAt *string          `json:"next_attempt_at"`
	DeliveredAt   *string          `json:"delivered_at"`
	FailedAt      *string          `json:"failed_at"`
	LastStatus    *int             `json:"last_status"`
	LastError     string           `json:"last_error,omitempty"`
	CreatedAt     string           `json:"created_at"`
	Body          any              `json:"body,omitempty"`
	AttemptLog    []WebhookAttempt `json:"attempt_log,omitempty"`
}

// DeliveryPage is one page of webhook deliveries, newest first.
type DeliveryPage struct {
	Data       []WebhookDelivery `json:"data"`
	NextBefore int64             `json:"next_before,omitempty"`
}

// ListWebhookDeliveries is GET /webhooks/deliveries; status is "", pending,
// delivered or failed (a latchkey addition).
func (c *Client) ListWebhookDeliveries(ctx context.Context, status string, page PageOptions) (*DeliveryPage, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	var out DeliveryPage
	if err := c.do(ctx, http.MethodGet, "/webhooks/deliveries", page.query(q), c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWebhookDelivery is GET /webhooks/deliveries/{id}, with body and attempts.
func (c *Client) GetWebhookDelivery(ctx context.Context, id int64) (*WebhookDelivery, error) {
	var out dataEnvelope[WebhookDelivery]
	if err := c.do(ctx, http.MethodGet, "/webhooks/deliveries/"+strconv.FormatInt(id, 10), nil, c.secretKey, nil, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// RetryWebhookDelivery is POST /webhooks/deliveries/{id}/retry: a pending or
// failed delivery is due now.
func (c *Client) RetryWebhookDelivery(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodPost, "/webhooks/deliveries/"+strconv.FormatInt(id, 10)+"/retry", nil, c.secretKey, nil, nil)
}

// BaseURL is the server the client talks to.
func (c *Client) BaseURL() string { return c.baseURL }
