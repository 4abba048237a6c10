// Package client is the Go SDK for latchkey. It covers the Nango-compatible API
// latchkey serves (connect sessions, credential submission, connections,
// integrations, providers) and latchkey's own additions.
//
//	c := client.New("http://127.0.0.1:3003", os.Getenv("LATCHKEY_SECRET_KEY"))
//	s, err := c.CreateConnectSession(ctx, client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u1"}})
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one latchkey server.
type Client struct {
	baseURL   string
	secretKey string
	http      *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (default: 30 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client for the server at baseURL, authenticating backend calls
// with secretKey.
func New(baseURL, secretKey string, opts ...Option) *Client {
	c := &Client{baseURL: strings.TrimRight(baseURL, "/"), secretKey: secretKey, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// FieldError is one problem with one field of a request.
type FieldError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Path    []string `json:"path"`
}

// Error is a non-2xx answer from latchkey: a stable Code and a human Message.
type Error struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Errors  []FieldError   `json:"errors"`
	Payload map[string]any `json:"payload"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("latchkey: %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("latchkey: %d %s: %s", e.Status, e.Code, e.Message)
}

// do sends a request. bearer is the credential (secret key or session token).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, bearer string, body, out any) error {
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("latchkey: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("latchkey: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("latchkey: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("latchkey: read response: %w", err)
	}
	if res.StatusCode >= 300 {
		var env struct {
			Error Error `json:"error"`
		}
		if json.Unmarshal(data, &env) != nil || env.Error.Code == "" {
			return &Error{Status: res.StatusCode, Code: "http_" + strconv.Itoa(res.StatusCode), Message: strings.TrimSpace(string(data))}
		}
		env.Error.Status = res.StatusCode
		return &env.Error
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("latchkey: decode response of %s %s: %w", method, path, err)
	}
	return nil
}

// Health is GET /health.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/health", nil, "", nil, nil)
}
