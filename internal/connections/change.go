package connections

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Delete deletes a connection.
func (s *Service) Delete(ctx context.Context, envID int64, integrationKey, connectionID string) error {
	integ, err := s.integration(ctx, envID, integrationKey)
	if err != nil {
		return err
	}
	err = s.store.DeleteConnection(ctx, envID, integ.ID, connectionID)
	s.changed(ctx, envID, integrationKey, connectionID)
	if isNotFound(err) {
		return domain.NotFound("unknown_connection", "Failed to find connection")
	}
	if err == nil {
		s.record(&domain.Event{EnvironmentID: envID, IntegrationKey: integrationKey, ConnectionID: connectionID, Kind: "connection.delete", Outcome: "success", Message: "Connection deleted."})
	}
	return err
}

// PatchRequest is the body of PATCH /connections/{id}.
type PatchRequest struct {
	// CredentialsExpiresAt sets the token's expiry date ("" clears it).
	CredentialsExpiresAt *string            `json:"credentials_expires_at,omitempty"`
	EndUser              *EndUserInput      `json:"end_user,omitempty"`
	Tags                 *map[string]string `json:"tags,omitempty"`
	WebhookURLOverride   *string            `json:"webhook_url_override,omitempty"`
}

// Patch changes a connection's end user, tags, webhook override or expiry
// date, all in one transaction.
func (s *Service) Patch(ctx context.Context, envID int64, integrationKey, connectionID string, req *PatchRequest) error {
	var errs []domain.FieldError
	var patch domain.ConnectionPatch
	if req.EndUser != nil {
		u, eerrs := EndUser(req.EndUser, nil)
		errs = append(errs, eerrs...)
		patch.EndUser = &u
	}
	if req.Tags != nil {
		tags, terrs := Tags(*req.Tags, "tags")
		errs = append(errs, terrs...)
		if tags == nil {
			tags = map[string]string{}
		}
		patch.Tags = &tags
	}
	if w := req.WebhookURLOverride; w != nil {
		werrs, err := s.WebhookURL(ctx, *w, "webhook_url_override")
		if err != nil {
			return err
		}
		errs = append(errs, werrs...)
		patch.WebhookURLOverride = w
	}
	if req.CredentialsExpiresAt != nil {
		expires, ferr := ParseExpiry(*req.CredentialsExpiresAt, s.clock.Now(), "credentials_expires_at")
		if ferr != nil {
			errs = append(errs, *ferr)
		}
		patch.CredentialsExpiresAt = &expires
	}
	if len(errs) > 0 {
		return domain.InvalidFields("invalid_body", errs)
	}
	integ, err := s.integration(ctx, envID, integrationKey)
	if err != nil {
		return err
	}
	err = s.store.PatchConnection(ctx, envID, integ.ID, connectionID, patch)
	s.changed(ctx, envID, integrationKey, connectionID)
	if isNotFound(err) {
		return domain.NotFound("unknown_connection", "Failed to find connection")
	}
	return err
}

// SetExpiry changes a connection's credential expiry date (nil clears it).
func (s *Service) SetExpiry(ctx context.Context, envID int64, integrationKey, connectionID string, at *time.Time) error {
	integ, err := s.integration(ctx, envID, integrationKey)
	if err != nil {
		return err
	}
	err = s.store.PatchConnection(ctx, envID, integ.ID, connectionID, domain.ConnectionPatch{CredentialsExpiresAt: &at})
	if isNotFound(err) {
		return domain.NotFound("unknown_connection", "Failed to find connection")
	}
	return err
}

// MetadataRequest is the body of POST/PATCH /connections/metadata.
type MetadataRequest struct {
	ConnectionID      json.RawMessage `json:"connection_id"`
	ProviderConfigKey string          `json:"provider_config_key"`
	Metadata          map[string]any  `json:"metadata"`
}

// SetMetadata replaces (merge=false) or merges metadata on one or more
// connections, all or nothing.
func (s *Service) SetMetadata(ctx context.Context, envID int64, req *MetadataRequest, merge bool) error {
	var errs []domain.FieldError
	var ids []string
	var one string
	if json.Unmarshal(req.ConnectionID, &one) == nil && one != "" {
		ids = []string{one}
	} else if json.Unmarshal(req.ConnectionID, &ids) != nil || len(ids) == 0 {
		errs = append(errs, domain.Field("invalid_type", "connection_id must be a connection id or a non-empty list of them.", "connection_id"))
	}
	if req.ProviderConfigKey == "" {
		errs = append(errs, domain.Field("invalid_type", "provider_config_key is required.", "provider_config_key"))
	}
	if req.Metadata == nil {
		errs = append(errs, domain.Field("invalid_type", "metadata must be an object.", "metadata"))
	}
	errs = append(errs, Metadata(req.Metadata, "metadata")...)
	if len(errs) > 0 {
		return domain.InvalidFields("invalid_body", errs)
	}
	integ, err := s.store.Integration(ctx, envID, req.ProviderConfigKey)
	if isNotFound(err) {
		return domain.NotFound("unknown_connection", "Provider config key does not exist")
	}
	if err != nil {
		return err
	}
	err = s.store.SetMetadata(ctx, envID, integ.ID, ids, req.Metadata, merge)
	for _, id := range ids {
		s.changed(ctx, envID, req.ProviderConfigKey, id)
	}
	var missing *domain.MissingConnectionError
	if errors.As(err, &missing) {
		return domain.NotFound("unknown_connection", "Failed to find connection: "+strings.Join(missing.IDs, ", "))
	}
	return err
}
