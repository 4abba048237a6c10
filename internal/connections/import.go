package connections

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// ImportRequest is the body of POST /connections.
type ImportRequest struct {
	ProviderConfigKey  string            `json:"provider_config_key"`
	ConnectionID       *string           `json:"connection_id,omitempty"`
	Credentials        json.RawMessage   `json:"credentials"`
	ConnectionConfig   map[string]any    `json:"connection_config,omitempty"`
	Metadata           map[string]any    `json:"metadata,omitempty"`
	WebhookURLOverride *string           `json:"webhook_url_override,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	EndUser            *EndUserInput     `json:"end_user,omitempty"`
	// CredentialsExpiresAt is latchkey's addition: the token's expiry date.
	CredentialsExpiresAt string `json:"credentials_expires_at,omitempty"`
}

// credential fields each type accepts on import.
var importFields = map[string][]string{
	domain.AuthModeBasic:    {"type", "username", "password"},
	domain.AuthModeAPIKey:   {"type", "apiKey"},
	domain.AuthModeOAuth2CC: {"type", "token", "client_id", "client_secret", "expires_at"},
}

func parseImportCredentials(raw json.RawMessage) (domain.Credentials, map[string]bool, []domain.FieldError) {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || m == nil {
		return domain.Credentials{}, nil, []domain.FieldError{domain.Field("invalid_type", "credentials must be an object with a type.", "credentials")}
	}
	typ, _ := m["type"].(string)
	allowed, ok := importFields[typ]
	if !ok {
		return domain.Credentials{}, nil, []domain.FieldError{domain.Field("invalid_union_discriminator", "credentials.type must be BASIC, API_KEY or OAUTH2_CC.", "credentials", "type")}
	}
	var errs []domain.FieldError
	present := map[string]bool{}
	for k, v := range m {
		if !slices.Contains(allowed, k) {
			errs = append(errs, domain.Field("unrecognized_keys", fmt.Sprintf("credentials.%s is not a field of %s credentials.", k, typ), "credentials", k))
			continue
		}
		if _, isString := v.(string); !isString {
			errs = append(errs, domain.Field("invalid_type", fmt.Sprintf("credentials.%s must be a string.", k), "credentials", k))
			continue
		}
		present[k] = true
	}
	var c domain.Credentials
	_ = json.NewDecoder(bytes.NewReader(raw)).Decode(&c)
	return c, present, errs
}

// Import saves credentials obtained elsewhere (POST /connections), verified as
// a submission would be.
func (s *Service) Import(ctx context.Context, envID int64, req *ImportRequest) (*Result, error) {
	ev := &domain.Event{EnvironmentID: envID, IntegrationKey: req.ProviderConfigKey, Kind: "auth.import"}
	if req.ConnectionID != nil {
		ev.ConnectionID = *req.ConnectionID
	}
	cand, err := s.importCandidate(ctx, envID, req)
	if err != nil {
		s.Failed(ev, err)
		return nil, err
	}
	cand.Event = ev
	return s.Link(ctx, cand)
}

func (s *Service) importCandidate(ctx context.Context, envID int64, req *ImportRequest) (Candidate, error) {
	var errs []domain.FieldError
	if req.ProviderConfigKey == "" {
		errs = append(errs, domain.Field("invalid_type", "provider_config_key is required.", "provider_config_key"))
	}
	connectionID := uuid.NewString()
	if req.ConnectionID != nil {
		if !ValidConnectionID(*req.ConnectionID) {
			errs = append(errs, domain.Field("invalid_string", "connection_id may contain letters, digits and ,.;:=+~[]|@${}\"'\\/_- and spaces (at most 255).", "connection_id"))
		}
		connectionID = *req.ConnectionID
	}
	creds, present, cerrs := parseImportCredentials(req.Credentials)
	errs = append(errs, cerrs...)
	tags, terrs := Tags(req.Tags, "tags")
	errs = append(errs, terrs...)
	errs = append(errs, Metadata(req.Metadata, "metadata")...)
	var endUser *domain.EndUser
	if req.EndUser != nil {
		var eerrs []domain.FieldError
		endUser, eerrs = EndUser(req.EndUser, nil)
		errs = append(errs, eerrs...)
		tags = ConnectionTags(endUser, tags)
	}
	webhookURL := ""
	if w := req.WebhookURLOverride; w != nil {
		werrs, err := s.WebhookURL(ctx, *w, "webhook_url_override")
		if err != nil {
			return Candidate{}, err
		}
		errs = append(errs, werrs...)
		webhookURL = *w
	}
	params := map[string]string{}
	for k, v := range req.ConnectionConfig {
		params[k] = Stringify(v)
	}
	expires, ferr := ParseExpiry(req.CredentialsExpiresAt, s.clock.Now(), "credentials_expires_at")
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	if len(errs) > 0 {
		return Candidate{}, domain.InvalidFields("invalid_body", errs)
	}
	integ, p, err := s.IntegrationProvider(ctx, envID, req.ProviderConfigKey)
	if err != nil {
		if e, ok := domain.AsError(err); ok && e.Code == CodeUnknownIntegration {
			// Nango answers an unknown key on this route with not_found.
			return Candidate{}, domain.NotFound("not_found", e.Message)
		}
		return Candidate{}, err
	}
	if err := CheckSupported(p); err != nil {
		return Candidate{}, err
	}
	if creds.Type != p.AuthMode {
		return Candidate{}, domain.Invalid("invalid_body", fmt.Sprintf("credentials.type must be %s for integration %s.", p.AuthMode, integ.UniqueKey),
			domain.Field("invalid_literal", fmt.Sprintf("credentials.type must be %s.", p.AuthMode), "credentials", "type"))
	}
	cfg, creds, ferrs := CheckFields(p, creds.Type, params, creds, present, []string{"connection_config"}, []string{"credentials"})
	if len(ferrs) > 0 {
		return Candidate{}, domain.InvalidFields("invalid_fields", ferrs)
	}
	// Values not in the schema keep their JSON types.
	for k, v := range req.ConnectionConfig {
		if _, declared := p.ConnectionConfig.Get(k); !declared {
			cfg[k] = v
		}
	}
	return Candidate{Integration: integ, Provider: p, Options: domain.UpsertOptions{ReplaceMetadata: req.Metadata != nil},
		Connection: &domain.Connection{EnvironmentID: envID, ConnectionID: connectionID, ConnectionConfig: cfg, Credentials: creds, Metadata: req.Metadata,
			EndUser: endUser, Tags: tags, WebhookURLOverride: webhookURL, CredentialsExpiresAt: expires}}, nil
}
