// Package webhook tells the customer's backend about connections: it builds
// Nango-shaped auth webhooks, signs them the way the official SDK verifies
// (X-Nango-Hmac-Sha256 and the legacy X-Nango-Signature), and delivers them from
// a database outbox with retries over hours, surviving restarts.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
)

// Sign returns the two signature headers' values for body: HMAC-SHA256(key,
// body) and the legacy SHA256(key + body), both hex.
func Sign(key string, body []byte) (hmacHex, legacyHex string) {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	l := sha256.New()
	l.Write([]byte(key))
	l.Write(body)
	return hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(l.Sum(nil))
}

// Encode writes v as compact JSON with keys sorted at every level and no HTML
// escaping: byte for byte what JSON.stringify(JSON.parse(body)) gives, so the
// SDK's deprecated verifyWebhookSignature accepts it too. Bodies are maps, so
// encoding/json sorts their keys.
func Encode(v any) ([]byte, error) { return httpx.Marshal(v) }

// AuthEvent is what an auth webhook reports.
type AuthEvent struct {
	Environment string
	Operation   string // creation, override, refresh
	Success     bool
	Connection  *domain.Connection
	AuthMode    string
	// FromSession: endUser is included only for connections made through a connect session.
	FromSession bool
	ErrorType   string
	ErrorDesc   string
}

// AuthBody builds the body of an auth webhook (maps, so keys come out sorted).
func AuthBody(e AuthEvent) ([]byte, error) {
	c := e.Connection
	tags := c.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	body := map[string]any{
		"type": "auth", "from": "nango", "operation": e.Operation, "success": e.Success,
		"connectionId": c.ConnectionID, "providerConfigKey": c.IntegrationKey, "provider": c.Provider,
		"authMode": e.AuthMode, "environment": e.Environment, "tags": tags,
	}
	if e.FromSession && c.EndUser != nil {
		eu := map[string]any{"endUserId": c.EndUser.ID, "tags": nonNil(c.EndUser.Tags)}
		if c.EndUser.Email != "" {
			eu["endUserEmail"] = c.EndUser.Email
		}
		if c.EndUser.OrganizationID != "" {
			eu["organizationId"] = c.EndUser.OrganizationID
		}
		body["endUser"] = eu
	}
	if !e.Success {
		body["error"] = map[string]any{"type": e.ErrorType, "description": e.ErrorDesc}
	}
	return Encode(body)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Targets are where an environment's webhooks go: the connection's override
// alone when it has one, else the environment's primary and secondary URLs.
func Targets(env *domain.Environment, override string) []string {
	if override != "" {
		return []string{override}
	}
	var out []string
	for _, u := range []string{env.WebhookURL, env.WebhookSecondaryURL} {
		if u != "" {
			out = append(out, u)
		}
	}
	return out
}

// AuthMessages builds the outbox messages of a successful auth event for every target.
func AuthMessages(env *domain.Environment, c *domain.Connection, operation string, fromSession bool, log *slog.Logger) []domain.OutboxMessage {
	return messages(env, c, "auth."+operation, func() ([]byte, error) {
		return AuthBody(AuthEvent{Environment: env.Name, Operation: operation, Success: true, Connection: c, AuthMode: c.Credentials.Type, FromSession: fromSession})
	}, log)
}

// RefreshFailed builds the auth webhook Nango sends when a connection's
// credentials stop working (operation "refresh", success false).
func RefreshFailed(env *domain.Environment, c *domain.Connection, authMode, status, message string, log *slog.Logger) []domain.OutboxMessage {
	return messages(env, c, "auth.refresh", func() ([]byte, error) {
		return AuthBody(AuthEvent{Environment: env.Name, Operation: "refresh", Success: false, Connection: c, AuthMode: authMode,
			FromSession: c.EndUser != nil, ErrorType: status, ErrorDesc: message})
	}, log)
}

// Expiring builds latchkey's own notice that a connection's token expires soon:
// {"type":"credentials_expiring","from":"latchkey",…}.
func Expiring(env *domain.Environment, c *domain.Connection, daysLeft int, log *slog.Logger) []domain.OutboxMessage {
	return messages(env, c, "credentials.expiring", func() ([]byte, error) {
		return Encode(map[string]any{"type": "credentials_expiring", "from": "latchkey", "environment": env.Name, "connectionId": c.ConnectionID,
			"providerConfigKey": c.IntegrationKey, "provider": c.Provider, "expiresAt": c.CredentialsExpiresAt.UTC().Format(time.RFC3339), "daysLeft": daysLeft,
			"tags": nonNil(c.Tags)})
	}, log)
}

func messages(env *domain.Environment, c *domain.Connection, eventType string, body func() ([]byte, error), log *slog.Logger) []domain.OutboxMessage {
	targets := Targets(env, c.WebhookURLOverride)
	if len(targets) == 0 {
		return nil
	}
	b, err := body()
	if err != nil {
		log.Error("webhook body", "err", err)
		return nil
	}
	out := make([]domain.OutboxMessage, len(targets))
	for i, u := range targets {
		out[i] = domain.OutboxMessage{EnvironmentID: env.ID, URL: u, EventType: eventType, ConnectionID: c.ConnectionID, Body: b}
	}
	return out
}
