// Package integrations manages integrations: one configured use of a catalogue
// provider in an environment, named by its unique key.
package integrations

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

var keyRE = regexp.MustCompile(`^[a-zA-Z0-9~:.@ _-]+$`)

// ValidKey reports whether s may be an integration unique key: "." and ".."
// are not, since a URL path cannot carry them.
func ValidKey(s string) bool { return len(s) <= 255 && s != "." && s != ".." && keyRE.MatchString(s) }

// Store is the storage integrations need.
type Store interface {
	Integration(ctx context.Context, envID int64, uniqueKey string) (*domain.Integration, error)
	ListIntegrations(ctx context.Context, envID int64) ([]*domain.Integration, error)
	CreateIntegration(ctx context.Context, in *domain.Integration) (*domain.Integration, error)
	UpdateIntegration(ctx context.Context, in *domain.Integration) (*domain.Integration, error)
	DeleteIntegration(ctx context.Context, envID int64, uniqueKey string) error
}

// Service manages integrations.
type Service struct {
	store     Store
	catalogue *provider.Catalogue
	// changed is told when an integration changes or goes (cached proxy targets depend on it).
	changed func(ctx context.Context)
}

// New builds a Service; changed, when not nil, is called after every change.
func New(store Store, catalogue *provider.Catalogue, changed func(ctx context.Context)) *Service {
	if changed == nil {
		changed = func(context.Context) {}
	}
	return &Service{store: store, catalogue: catalogue, changed: changed}
}

// Request is the body of POST /integrations (and PATCH, all optional).
type Request struct {
	Provider          *string        `json:"provider,omitempty"`
	UniqueKey         *string        `json:"unique_key,omitempty"`
	DisplayName       *string        `json:"display_name,omitempty"`
	ForwardWebhooks   *bool          `json:"forward_webhooks,omitempty"`
	Credentials       map[string]any `json:"credentials,omitempty"`
	IntegrationConfig map[string]any `json:"integration_config,omitempty"`
	Custom            map[string]any `json:"custom,omitempty"`
}

func (s *Service) checkFields(req *Request, prov string, creating bool) []domain.FieldError {
	var errs []domain.FieldError
	if req.UniqueKey != nil || creating {
		if req.UniqueKey == nil || !ValidKey(*req.UniqueKey) {
			errs = append(errs, domain.Field("invalid_string", "unique_key must be 1 to 255 letters, digits or ~:.@ _-.", "unique_key"))
		}
	}
	if req.DisplayName != nil && len(*req.DisplayName) > 255 {
		errs = append(errs, domain.Field("too_big", "display_name must be at most 255 characters.", "display_name"))
	}
	if req.Credentials != nil {
		p, ok := s.catalogue.Get(prov)
		typ, _ := req.Credentials["type"].(string)
		if ok && (p.AuthMode == domain.AuthModeBasic || p.AuthMode == domain.AuthModeAPIKey || p.AuthMode == domain.AuthModeOAuth2CC) {
			errs = append(errs, domain.Field("invalid_body", fmt.Sprintf("incompatible credentials auth type and provider auth (%s integrations take no credentials; got %q)", p.AuthMode, typ), "credentials"))
		}
	}
	return errs
}

func uniqueKeyTaken() *domain.Error {
	return domain.Invalid("invalid_body", "Unique key already exists", domain.Field("invalid_string", "Unique key already exists", "uniqueKey"))
}

// Create adds an integration.
func (s *Service) Create(ctx context.Context, envID int64, req *Request) (*domain.Integration, error) {
	prov := ""
	if req.Provider != nil {
		prov = *req.Provider
	}
	var errs []domain.FieldError
	p, ok := s.catalogue.Get(prov)
	if !ok {
		errs = append(errs, domain.Field("invalid_enum_value", fmt.Sprintf("provider %q is not in the catalogue (GET /providers lists them).", prov), "provider"))
	}
	errs = append(errs, s.checkFields(req, prov, true)...)
	if len(errs) > 0 {
		return nil, domain.InvalidFields("invalid_body", errs)
	}
	in := &domain.Integration{EnvironmentID: envID, UniqueKey: *req.UniqueKey, Provider: prov, DisplayName: p.DisplayName, ForwardWebhooks: true, Config: config(req, nil)}
	if req.DisplayName != nil && *req.DisplayName != "" {
		in.DisplayName = *req.DisplayName
	}
	if req.ForwardWebhooks != nil {
		in.ForwardWebhooks = *req.ForwardWebhooks
	}
	out, err := s.store.CreateIntegration(ctx, in)
	if errors.Is(err, domain.ErrConflict) {
		return nil, uniqueKeyTaken()
	}
	return out, err
}

func config(req *Request, base map[string]any) map[string]any {
	cfg := maps.Clone(base)
	if cfg == nil {
		cfg = map[string]any{}
	}
	if req.IntegrationConfig != nil {
		cfg["integration_config"] = req.IntegrationConfig
	}
	if req.Custom != nil {
		cfg["custom"] = req.Custom
	}
	return cfg
}

func notFound(key string) *domain.Error {
	return domain.NotFound("not_found", fmt.Sprintf("Integration %q does not exist.", key))
}

// Get loads an integration.
func (s *Service) Get(ctx context.Context, envID int64, key string) (*domain.Integration, error) {
	in, err := s.store.Integration(ctx, envID, key)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, notFound(key)
	}
	return in, err
}

// List lists integrations, restricted to allowed when it is not empty.
func (s *Service) List(ctx context.Context, envID int64, allowed []string) ([]*domain.Integration, error) {
	all, err := s.store.ListIntegrations(ctx, envID)
	if err != nil || len(allowed) == 0 {
		return all, err
	}
	return slices.DeleteFunc(all, func(in *domain.Integration) bool { return !slices.Contains(allowed, in.UniqueKey) }), nil
}

// Update applies PATCH /integrations/{key}.
func (s *Service) Update(ctx context.Context, envID int64, key string, req *Request) (*domain.Integration, error) {
	in, err := s.Get(ctx, envID, key)
	if err != nil {
		return nil, err
	}
	var errs []domain.FieldError
	if req.Provider != nil && *req.Provider != in.Provider {
		errs = append(errs, domain.Field("invalid_body", "provider cannot be changed; create a new integration instead.", "provider"))
	}
	errs = append(errs, s.checkFields(req, in.Provider, false)...)
	if len(errs) > 0 {
		return nil, domain.InvalidFields("invalid_body", errs)
	}
	if req.UniqueKey != nil {
		in.UniqueKey = *req.UniqueKey
	}
	if req.DisplayName != nil {
		in.DisplayName = strings.TrimSpace(*req.DisplayName)
	}
	if req.ForwardWebhooks != nil {
		in.ForwardWebhooks = *req.ForwardWebhooks
	}
	in.Config = config(req, in.Config)
	out, err := s.store.UpdateIntegration(ctx, in)
	s.changed(ctx)
	if errors.Is(err, domain.ErrConflict) {
		return nil, uniqueKeyTaken()
	}
	return out, err
}

// Delete removes an integration and its connections.
func (s *Service) Delete(ctx context.Context, envID int64, key string) error {
	err := s.store.DeleteIntegration(ctx, envID, key)
	s.changed(ctx)
	if errors.Is(err, domain.ErrNotFound) {
		return notFound(key)
	}
	return err
}
