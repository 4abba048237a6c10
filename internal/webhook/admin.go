package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// AdminStore is the storage the webhook settings and deliveries need.
type AdminStore interface {
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
	SetEnvironmentWebhooks(ctx context.Context, envID int64, primary, secondary string) error
	SetWebhookSigningKey(ctx context.Context, envID int64, sealed string) error
	ListWebhooks(ctx context.Context, envID int64, status string, beforeID int64, limit int) ([]*domain.OutboxMessage, error)
	Webhook(ctx context.Context, envID, id int64) (*domain.OutboxMessage, error)
	RetryWebhook(ctx context.Context, envID, id int64) error
}

// Admin manages an environment's webhook settings and shows its deliveries.
type Admin struct {
	Store AdminStore
	Keys  *secret.KeyRing
	// Wake is called when a delivery becomes due now.
	Wake func()
}

// SigningKeyAAD binds a sealed signing key to its environment.
func SigningKeyAAD(envID int64) []byte { return signingKeyAD(envID) }

func signingKeyAD(envID int64) []byte {
	return fmt.Appendf(nil, "environment/%d/webhook_signing_key", envID)
}

// SigningKey opens an environment's signing key.
func (a *Admin) SigningKey(env *domain.Environment) (string, error) {
	if env.WebhookSigningKey == "" {
		return "", fmt.Errorf("environment %s has no webhook signing key", env.Name)
	}
	b, err := a.Keys.Decrypt(env.WebhookSigningKey, signingKeyAD(env.ID))
	if err != nil {
		return "", fmt.Errorf("webhook signing key of %s: %w", env.Name, err)
	}
	return string(b), nil
}

// SetSigningKey stores key (generating one when key is empty) and returns it.
func (a *Admin) SetSigningKey(ctx context.Context, envID int64, key string) (string, error) {
	if key == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		key = hex.EncodeToString(b)
	}
	sealed, err := a.Keys.Encrypt([]byte(key), signingKeyAD(envID))
	if err != nil {
		return "", err
	}
	return key, a.Store.SetWebhookSigningKey(ctx, envID, sealed)
}

// EnsureSigningKey sets key when given and different, or generates one when the
// environment has none.
func (a *Admin) EnsureSigningKey(ctx context.Context, env *domain.Environment, key string) error {
	current, err := a.SigningKey(env)
	switch {
	case key != "" && (err != nil || current != key):
		_, err = a.SetSigningKey(ctx, env.ID, key)
		return err
	case key == "" && env.WebhookSigningKey == "":
		_, err = a.SetSigningKey(ctx, env.ID, "")
		return err
	}
	return err
}

// Settings is an environment's webhook configuration as the API shows it.
type Settings struct {
	Environment         string `json:"name"`
	WebhookURL          string `json:"webhook_url"`
	WebhookSecondaryURL string `json:"webhook_secondary_url"`
	WebhookSigningKey   string `json:"webhook_signing_key"`
}

// Get returns the settings (with the signing key: the caller holds the secret key).
func (a *Admin) Get(ctx context.Context, envID int64) (*Settings, error) {
	env, err := a.Store.EnvironmentByID(ctx, envID)
	if err != nil {
		return nil, err
	}
	key, err := a.SigningKey(env)
	if err != nil {
		return nil, err
	}
	return &Settings{Environment: env.Name, WebhookURL: env.WebhookURL, WebhookSecondaryURL: env.WebhookSecondaryURL, WebhookSigningKey: key}, nil
}

// SettingsPatch changes the URLs; nil leaves one as it is, "" clears it.
type SettingsPatch struct {
	WebhookURL          *string `json:"webhook_url,omitempty"`
	WebhookSecondaryURL *string `json:"webhook_secondary_url,omitempty"`
}

// Patch updates the URLs.
func (a *Admin) Patch(ctx context.Context, envID int64, p SettingsPatch) (*Settings, error) {
	env, err := a.Store.EnvironmentByID(ctx, envID)
	if err != nil {
		return nil, err
	}
	primary, secondary := env.WebhookURL, env.WebhookSecondaryURL
	var errs []domain.FieldError
	check := func(v *string, field string, dst *string) {
		if v == nil {
			return
		}
		if *v != "" {
			if u, err := url.Parse(*v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, domain.FieldError{Code: "invalid_string", Message: field + " must be an http(s) URL, or \"\" to clear it.", Path: []string{field}})
				return
			}
		}
		*dst = *v
	}
	check(p.WebhookURL, "webhook_url", &primary)
	check(p.WebhookSecondaryURL, "webhook_secondary_url", &secondary)
	if len(errs) > 0 {
		return nil, domain.Invalid("invalid_body", errs[0].Message, errs...)
	}
	if err := a.Store.SetEnvironmentWebhooks(ctx, envID, primary, secondary); err != nil {
		return nil, err
	}
	return a.Get(ctx, envID)
}

// Rotate replaces the signing key with a new random one and returns the settings.
func (a *Admin) Rotate(ctx context.Context, envID int64) (*Settings, error) {
	if _, err := a.SetSigningKey(ctx, envID, ""); err != nil {
		return nil, err
	}
	return a.Get(ctx, envID)
}

// Deliveries lists deliveries, newest first.
func (a *Admin) Deliveries(ctx context.Context, envID int64, status string, before int64, limit int) ([]*domain.OutboxMessage, error) {
	return a.Store.ListWebhooks(ctx, envID, status, before, limit)
}

// Delivery returns one delivery with its attempts.
func (a *Admin) Delivery(ctx context.Context, envID, id int64) (*domain.OutboxMessage, error) {
	m, err := a.Store.Webhook(ctx, envID, id)
	if err != nil && isNotFound(err) {
		return nil, domain.NotFound("not_found", fmt.Sprintf("There is no webhook delivery %d.", id))
	}
	return m, err
}

// Retry makes a delivery due now.
func (a *Admin) Retry(ctx context.Context, envID, id int64) error {
	err := a.Store.RetryWebhook(ctx, envID, id)
	if err != nil && isNotFound(err) {
		return domain.NotFound("not_found", fmt.Sprintf("There is no undelivered webhook %d.", id))
	}
	if err == nil && a.Wake != nil {
		a.Wake()
	}
	return err
}
