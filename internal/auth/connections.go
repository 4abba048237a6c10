package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

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
		return domain.Credentials{}, nil, []domain.FieldError{fe("invalid_type", "credentials must be an object with a type.", "credentials")}
	}
	typ, _ := m["type"].(string)
	allowed, ok := importFields[typ]
	if !ok {
		return domain.Credentials{}, nil, []domain.FieldError{fe("invalid_union_discriminator", "credentials.type must be BASIC, API_KEY or OAUTH2_CC.", "credentials", "type")}
	}
	var errs []domain.FieldError
	present := map[string]bool{}
	for k, v := range m {
		if !contains(allowed, k) {
			errs = append(errs, fe("unrecognized_keys", fmt.Sprintf("credentials.%s is not a field of %s credentials.", k, typ), "credentials", k))
			continue
		}
		if _, isString := v.(string); !isString {
			errs = append(errs, fe("invalid_type", fmt.Sprintf("credentials.%s must be a string.", k), "credentials", k))
			continue
		}
		present[k] = true
	}
	var c domain.Credentials
	dec := json.NewDecoder(bytes.NewReader(raw))
	_ = dec.Decode(&c)
	return c, present, errs
}

// Import saves credentials obtained elsewhere (POST /connections), verified as a
// submission would be.
func (s *Service) Import(ctx context.Context, envID int64, req *ImportRequest) (*Result, error) {
	ev := &domain.Event{EnvironmentID: envID, IntegrationKey: req.ProviderConfigKey, Kind: "auth.import"}
	if req.ConnectionID != nil {
		ev.ConnectionID = *req.ConnectionID
	}
	res, err := s.importConnection(ctx, envID, req)
	if res != nil {
		ev.ConnectionID = res.Connection.ConnectionID
	}
	s.recordOutcome(ctx, ev, res, err)
	return res, err
}

func (s *Service) importConnection(ctx context.Context, envID int64, req *ImportRequest) (*Result, error) {
	var errs []domain.FieldError
	if req.ProviderConfigKey == "" {
		errs = append(errs, fe("invalid_type", "provider_config_key is required.", "provider_config_key"))
	}
	connectionID := uuid.NewString()
	if req.ConnectionID != nil {
		if !ValidConnectionID(*req.ConnectionID) {
			errs = append(errs, fe("invalid_string", "connection_id may contain letters, digits and ,.;:=+~[]|@${}\"'\\/_- and spaces (at most 255).", "connection_id"))
		}
		connectionID = *req.ConnectionID
	}
	creds, present, cerrs := parseImportCredentials(req.Credentials)
	errs = append(errs, cerrs...)
	var endUser *domain.EndUser
	tags, terrs := validTags(req.Tags, "tags")
	errs = append(errs, terrs...)
	if req.EndUser != nil {
		sess, eerrs, err := s.buildSession(ctx, &domain.Environment{ID: envID}, &SessionRequest{EndUser: req.EndUser, Tags: req.Tags})
		if err != nil {
			return nil, err
		}
		errs = append(errs, eerrs...)
		if sess != nil {
			endUser, tags = sess.EndUser, sess.Tags
		}
	}
	webhook := ""
	if w := req.WebhookURLOverride; w != nil && *w != "" {
		if !isHTTPURL(*w) {
			errs = append(errs, fe("invalid_string", "webhook_url_override must be an http(s) URL.", "webhook_url_override"))
		}
		webhook = *w
	}
	params := map[string]string{}
	for k, v := range req.ConnectionConfig {
		params[k] = stringify(v)
	}
	expires, ferr := ParseExpiry(req.CredentialsExpiresAt, s.now(), "credentials_expires_at")
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	if len(errs) > 0 {
		return nil, badRequest("invalid_body", summarize(errs), errs...)
	}
	integ, err := s.store.Integration(ctx, envID, req.ProviderConfigKey)
	if isNotFound(err) {
		return nil, &domain.Problem{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("There is no integration %q.", req.ProviderConfigKey)}
	}
	if err != nil {
		return nil, err
	}
	p, ok := s.catalogue.Get(integ.Provider)
	if !ok {
		return nil, &domain.Problem{Status: http.StatusNotFound, Code: "unknown_provider_template", Message: fmt.Sprintf("The provider %q is not in the catalogue.", integ.Provider)}
	}
	if creds.Type != p.AuthMode {
		return nil, badRequest("invalid_body", fmt.Sprintf("credentials.type must be %s for integration %s.", p.AuthMode, integ.UniqueKey),
			fe("invalid_literal", fmt.Sprintf("credentials.type must be %s.", p.AuthMode), "credentials", "type"))
	}
	cfg, creds, ferrs := checkFields(p, creds.Type, params, creds, present, []string{"connection_config"}, []string{"credentials"})
	if len(ferrs) > 0 {
		return nil, fieldProblem(ferrs)
	}
	// Values not in the schema keep their JSON types.
	for k, v := range req.ConnectionConfig {
		if _, declared := p.ConnectionConfig.Get(k); !declared {
			cfg[k] = v
		}
	}
	return s.verifyAndSave(ctx, integ, p, &domain.Connection{
		EnvironmentID: envID, ConnectionID: connectionID, ConnectionConfig: cfg, Credentials: creds, Metadata: req.Metadata,
		EndUser: endUser, Tags: tags, WebhookURLOverride: webhook, CredentialsExpiresAt: expires,
	}, domain.UpsertOptions{ReplaceMetadata: req.Metadata != nil}, false)
}

// integrationForConnection resolves provider_config_key for connection routes.
func (s *Service) integrationForConnection(ctx context.Context, envID int64, key string) (*domain.Integration, error) {
	if key == "" {
		return nil, &domain.Problem{Status: http.StatusBadRequest, Code: "invalid_query_params", Message: "provider_config_key is required.",
			Errors: []domain.FieldError{fe("invalid_type", "provider_config_key is required.", "provider_config_key")}}
	}
	integ, err := s.store.Integration(ctx, envID, key)
	if isNotFound(err) {
		return nil, badRequest("unknown_provider_config", "Provider does not exists")
	}
	return integ, err
}

// GetConnection returns a connection with its decrypted credentials.
func (s *Service) GetConnection(ctx context.Context, envID int64, integrationKey, connectionID string) (*domain.Connection, error) {
	c, err := s.StoredConnection(ctx, envID, integrationKey, connectionID)
	if err != nil {
		return nil, err
	}
	if err := s.Open(c); err != nil {
		return nil, err
	}
	now := s.now()
	if c.LastFetchedAt == nil || now.Sub(*c.LastFetchedAt) > time.Minute {
		if err := s.store.MarkFetched(ctx, c.ID, now); err != nil {
			s.log.Warn("could not record credential fetch", "err", err)
		}
	}
	return c, nil
}

// ListConnections lists connections without credentials.
func (s *Service) ListConnections(ctx context.Context, envID int64, f domain.ConnectionFilter) ([]*domain.Connection, error) {
	return s.store.ListConnections(ctx, envID, f)
}

// DeleteConnection deletes a connection.
func (s *Service) DeleteConnection(ctx context.Context, envID int64, integrationKey, connectionID string) error {
	integ, err := s.integrationForConnection(ctx, envID, integrationKey)
	if err != nil {
		return err
	}
	err = s.store.DeleteConnection(ctx, envID, integ.ID, connectionID)
	s.changed(ctx, envID, integrationKey, connectionID)
	if isNotFound(err) {
		return badRequest("unknown_connection", "Failed to find connection")
	}
	if err == nil {
		s.logEvent(ctx, &domain.Event{EnvironmentID: envID, IntegrationKey: integrationKey, ConnectionID: connectionID, Kind: "connection.delete", Outcome: "success", Message: "Connection deleted."})
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

// PatchConnection changes a connection's end user, tags or webhook override.
func (s *Service) PatchConnection(ctx context.Context, envID int64, integrationKey, connectionID string, req *PatchRequest) error {
	var errs []domain.FieldError
	var patch domain.ConnectionPatch
	if req.EndUser != nil {
		sess, eerrs, err := s.buildSession(ctx, &domain.Environment{ID: envID}, &SessionRequest{EndUser: req.EndUser})
		if err != nil {
			return err
		}
		errs = append(errs, eerrs...)
		if sess != nil {
			patch.EndUser = &sess.EndUser
		}
	}
	if req.Tags != nil {
		tags, terrs := validTags(*req.Tags, "tags")
		errs = append(errs, terrs...)
		if tags == nil {
			tags = map[string]string{}
		}
		patch.Tags = &tags
	}
	if w := req.WebhookURLOverride; w != nil {
		if *w != "" && !isHTTPURL(*w) {
			errs = append(errs, fe("invalid_string", "webhook_url_override must be an http(s) URL (or \"\" to clear it).", "webhook_url_override"))
		}
		patch.WebhookURLOverride = w
	}
	var expires *time.Time
	if req.CredentialsExpiresAt != nil {
		var ferr *domain.FieldError
		if expires, ferr = ParseExpiry(*req.CredentialsExpiresAt, s.now(), "credentials_expires_at"); ferr != nil {
			errs = append(errs, *ferr)
		}
	}
	if len(errs) > 0 {
		return badRequest("invalid_body", summarize(errs), errs...)
	}
	integ, err := s.integrationForConnection(ctx, envID, integrationKey)
	if err != nil {
		return err
	}
	if req.CredentialsExpiresAt != nil {
		if err := s.SetExpiry(ctx, envID, integrationKey, connectionID, expires); err != nil {
			return err
		}
	}
	err = s.store.PatchConnection(ctx, envID, integ.ID, connectionID, patch)
	s.changed(ctx, envID, integrationKey, connectionID)
	if isNotFound(err) {
		return &domain.Problem{Status: http.StatusNotFound, Code: "unknown_connection", Message: "Failed to find connection"}
	}
	return err
}

// MetadataRequest is the body of POST/PATCH /connections/metadata.
type MetadataRequest struct {
	ConnectionID      json.RawMessage `json:"connection_id"`
	ProviderConfigKey string          `json:"provider_config_key"`
	Metadata          map[string]any  `json:"metadata"`
}

// SetMetadata replaces (merge=false) or merges metadata on one or more connections.
func (s *Service) SetMetadata(ctx context.Context, envID int64, req *MetadataRequest, merge bool) error {
	var errs []domain.FieldError
	var ids []string
	var one string
	if json.Unmarshal(req.ConnectionID, &one) == nil && one != "" {
		ids = []string{one}
	} else if json.Unmarshal(req.ConnectionID, &ids) != nil || len(ids) == 0 {
		errs = append(errs, fe("invalid_type", "connection_id must be a connection id or a non-empty list of them.", "connection_id"))
	}
	if req.ProviderConfigKey == "" {
		errs = append(errs, fe("invalid_type", "provider_config_key is required.", "provider_config_key"))
	}
	if req.Metadata == nil {
		errs = append(errs, fe("invalid_type", "metadata must be an object.", "metadata"))
	}
	if len(errs) > 0 {
		return badRequest("invalid_body", summarize(errs), errs...)
	}
	integ, err := s.store.Integration(ctx, envID, req.ProviderConfigKey)
	if isNotFound(err) {
		return &domain.Problem{Status: http.StatusNotFound, Code: "unknown_connection", Message: "Provider config key does not exist"}
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
		return &domain.Problem{Status: http.StatusNotFound, Code: "unknown_connection", Message: "Failed to find connection: " + missing.Error()[len("connection not found: "):]}
	}
	return err
}
