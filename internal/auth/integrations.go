package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// IntegrationRequest is the body of POST /integrations (and PATCH, all optional).
type IntegrationRequest struct {
	Provider          *string        `json:"provider,omitempty"`
	UniqueKey         *string        `json:"unique_key,omitempty"`
	DisplayName       *string        `json:"display_name,omitempty"`
	ForwardWebhooks   *bool          `json:"forward_webhooks,omitempty"`
	Credentials       map[string]any `json:"credentials,omitempty"`
	IntegrationConfig map[string]any `json:"integration_config,omitempty"`
	Custom            map[string]any `json:"custom,omitempty"`
}

func (s *Service) checkIntegrationFields(req *IntegrationRequest, provider string, creating bool) []domain.FieldError {
	var errs []domain.FieldError
	if req.UniqueKey != nil || creating {
		if req.UniqueKey == nil || !ValidIntegrationKey(*req.UniqueKey) {
			errs = append(errs, fe("invalid_string", "unique_key must be 1 to 255 letters, digits or ~:.@ _-.", "unique_key"))
		}
	}
	if req.DisplayName != nil && len(*req.DisplayName) > 255 {
		errs = append(errs, fe("too_big", "display_name must be at most 255 characters.", "display_name"))
	}
	if req.Credentials != nil {
		p, ok := s.catalogue.Get(provider)
		typ, _ := req.Credentials["type"].(string)
		if ok && (p.AuthMode == domain.AuthModeBasic || p.AuthMode == domain.AuthModeAPIKey || p.AuthMode == domain.AuthModeOAuth2CC) {
			errs = append(errs, fe("invalid_body", fmt.Sprintf("incompatible credentials auth type and provider auth (%s integrations take no credentials; got %q)", p.AuthMode, typ), "credentials"))
		}
	}
	return errs
}

// CreateIntegration adds an integration.
func (s *Service) CreateIntegration(ctx context.Context, envID int64, req *IntegrationRequest) (*domain.Integration, error) {
	prov := ""
	if req.Provider != nil {
		prov = *req.Provider
	}
	var errs []domain.FieldError
	p, ok := s.catalogue.Get(prov)
	if !ok {
		errs = append(errs, fe("invalid_enum_value", fmt.Sprintf("provider %q is not in the catalogue (GET /providers lists them).", prov), "provider"))
	}
	errs = append(errs, s.checkIntegrationFields(req, prov, true)...)
	if len(errs) > 0 {
		return nil, badRequest("invalid_body", summarize(errs), errs...)
	}
	in := &domain.Integration{EnvironmentID: envID, UniqueKey: *req.UniqueKey, Provider: prov, DisplayName: p.DisplayName, ForwardWebhooks: true, Config: integrationConfig(req, nil)}
	if req.DisplayName != nil && *req.DisplayName != "" {
		in.DisplayName = *req.DisplayName
	}
	if req.ForwardWebhooks != nil {
		in.ForwardWebhooks = *req.ForwardWebhooks
	}
	out, err := s.store.CreateIntegration(ctx, in)
	if errors.Is(err, domain.ErrConflict) {
		return nil, badRequest("invalid_body", "Unique key already exists", fe("invalid_string", "Unique key already exists", "uniqueKey"))
	}
	return out, err
}

func integrationConfig(req *IntegrationRequest, base map[string]any) map[string]any {
	cfg := map[string]any{}
	for k, v := range base {
		cfg[k] = v
	}
	if req.IntegrationConfig != nil {
		cfg["integration_config"] = req.IntegrationConfig
	}
	if req.Custom != nil {
		cfg["custom"] = req.Custom
	}
	return cfg
}

// GetIntegration loads an integration; unknown is 404 not_found.
func (s *Service) GetIntegration(ctx context.Context, envID int64, key string) (*domain.Integration, error) {
	in, err := s.store.Integration(ctx, envID, key)
	if isNotFound(err) {
		return nil, &domain.Problem{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("Integration %q does not exist.", key)}
	}
	return in, err
}

// ListIntegrations lists integrations, restricted to allowed when it is not empty.
func (s *Service) ListIntegrations(ctx context.Context, envID int64, allowed []string) ([]*domain.Integration, error) {
	all, err := s.store.ListIntegrations(ctx, envID)
	if err != nil || len(allowed) == 0 {
		return all, err
	}
	out := all[:0]
	for _, in := range all {
		if contains(allowed, in.UniqueKey) {
			out = append(out, in)
		}
	}
	return out, nil
}

// UpdateIntegration applies PATCH /integrations/{key}.
func (s *Service) UpdateIntegration(ctx context.Context, envID int64, key string, req *IntegrationRequest) (*domain.Integration, error) {
	in, err := s.GetIntegration(ctx, envID, key)
	if err != nil {
		return nil, err
	}
	var errs []domain.FieldError
	if req.Provider != nil && *req.Provider != in.Provider {
		errs = append(errs, fe("invalid_body", "provider cannot be changed; create a new integration instead.", "provider"))
	}
	errs = append(errs, s.checkIntegrationFields(req, in.Provider, false)...)
	if len(errs) > 0 {
		return nil, badRequest("invalid_body", summarize(errs), errs...)
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
	in.Config = integrationConfig(req, in.Config)
	out, err := s.store.UpdateIntegration(ctx, in)
	s.changedAll(ctx)
	if errors.Is(err, domain.ErrConflict) {
		return nil, badRequest("invalid_body", "Unique key already exists", fe("invalid_string", "Unique key already exists", "uniqueKey"))
	}
	return out, err
}

// DeleteIntegration removes an integration and its connections.
func (s *Service) DeleteIntegration(ctx context.Context, envID int64, key string) error {
	err := s.store.DeleteIntegration(ctx, envID, key)
	s.changedAll(ctx)
	if isNotFound(err) {
		return &domain.Problem{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("Integration %q does not exist.", key)}
	}
	return err
}
