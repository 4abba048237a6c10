// Package environment manages an environment's own settings: where its
// webhooks go (primary and secondary URL) and the key they are signed with.
// Webhook deliveries themselves belong to package webhook.
package environment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/netguard"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// Store is the storage the settings need.
type Store interface {
	EnvironmentByID(ctx context.Context, id int64) (*domain.Environment, error)
	SetEnvironmentWebhooks(ctx context.Context, envID int64, primary, secondary string) error
	SetWebhookSigningKey(ctx context.Context, envID int64, sealed string) error
}

// Settings reads and changes environments' settings.
type Settings struct {
	Store Store
	Keys  *secret.KeyRing
	// Network decides which webhook URLs may be set (nil: public addresses only).
	Network *netguard.Policy
	// Trusted reports a URL the operator configured for the environment
	// (LATCHKEY_WEBHOOK_URL); it may be set again whatever it points at.
	Trusted func(envID int64, url string) bool
}

// View is an environment's settings as the API and the CLI show them (with
// the signing key: whoever asks holds the environment's secret key or the
// database).
type View struct {
	Name                string `json:"name"`
	WebhookURL          string `json:"webhook_url"`
	WebhookSecondaryURL string `json:"webhook_secondary_url"`
	WebhookSigningKey   string `json:"webhook_signing_key"`
}

// Patch changes the webhook URLs; nil leaves one as it is, "" clears it.
type Patch struct {
	WebhookURL          *string `json:"webhook_url,omitempty"`
	WebhookSecondaryURL *string `json:"webhook_secondary_url,omitempty"`
}

// SigningKeyAAD binds a sealed signing key to its environment.
func SigningKeyAAD(envID int64) []byte {
	return fmt.Appendf(nil, "environment/%d/webhook_signing_key", envID)
}

// SigningKey opens an environment's signing key.
func (s *Settings) SigningKey(env *domain.Environment) (string, error) {
	if env.WebhookSigningKey == "" {
		return "", fmt.Errorf("environment %s has no webhook signing key", env.Name)
	}
	b, err := s.Keys.Decrypt(env.WebhookSigningKey, SigningKeyAAD(env.ID))
	if err != nil {
		return "", fmt.Errorf("webhook signing key of %s: %w", env.Name, err)
	}
	return string(b), nil
}

// SetSigningKey stores key (generating one when key is empty) and returns it.
func (s *Settings) SetSigningKey(ctx context.Context, envID int64, key string) (string, error) {
	if key == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		key = hex.EncodeToString(b)
	}
	sealed, err := s.Keys.Encrypt([]byte(key), SigningKeyAAD(envID))
	if err != nil {
		return "", err
	}
	return key, s.Store.SetWebhookSigningKey(ctx, envID, sealed)
}

// EnsureSigningKey sets key when given and different, or generates one when the
// environment has none.
func (s *Settings) EnsureSigningKey(ctx context.Context, env *domain.Environment, key string) error {
	current, err := s.SigningKey(env)
	switch {
	case key != "" && (err != nil || current != key):
		_, err = s.SetSigningKey(ctx, env.ID, key)
		return err
	case key == "" && env.WebhookSigningKey == "":
		_, err = s.SetSigningKey(ctx, env.ID, "")
		return err
	}
	return err
}

// Get returns an environment's settings.
func (s *Settings) Get(ctx context.Context, envID int64) (*View, error) {
	env, err := s.Store.EnvironmentByID(ctx, envID)
	if err != nil {
		return nil, err
	}
	key, err := s.SigningKey(env)
	if err != nil {
		return nil, err
	}
	return &View{Name: env.Name, WebhookURL: env.WebhookURL, WebhookSecondaryURL: env.WebhookSecondaryURL, WebhookSigningKey: key}, nil
}

// Patch updates the webhook URLs. A new URL must be an http(s) URL whose
// host is, and resolves to, addresses the network policy allows; a URL kept
// as it is, or the one the operator configured, is not checked again.
func (s *Settings) Patch(ctx context.Context, envID int64, p Patch) (*View, error) {
	env, err := s.Store.EnvironmentByID(ctx, envID)
	if err != nil {
		return nil, err
	}
	policy := s.Network
	if policy == nil {
		policy = &netguard.Policy{}
	}
	primary, secondary := env.WebhookURL, env.WebhookSecondaryURL
	var errs []domain.FieldError
	check := func(v *string, field string, dst *string) error {
		if v == nil {
			return nil
		}
		if *v != "" && *v != *dst && (s.Trusted == nil || !s.Trusted(envID, *v)) {
			fe, err := policy.FieldError(ctx, *v, field)
			if err != nil {
				return err
			}
			if fe != nil {
				if fe.Code == netguard.CodeInvalidURL {
					fe.Message = field + " must be an http(s) URL, or \"\" to clear it."
				}
				errs = append(errs, *fe)
				return nil
			}
		}
		*dst = *v
		return nil
	}
	if err := check(p.WebhookURL, "webhook_url", &primary); err != nil {
		return nil, err
	}
	if err := check(p.WebhookSecondaryURL, "webhook_secondary_url", &secondary); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, domain.Invalid("invalid_body", errs[0].Message, errs...)
	}
	if err := s.Store.SetEnvironmentWebhooks(ctx, envID, primary, secondary); err != nil {
		return nil, err
	}
	return s.Get(ctx, envID)
}

// Rotate replaces the signing key with a new random one.
func (s *Settings) Rotate(ctx context.Context, envID int64) (*View, error) {
	if _, err := s.SetSigningKey(ctx, envID, ""); err != nil {
		return nil, err
	}
	return s.Get(ctx, envID)
}
