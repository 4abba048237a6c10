package auth

import (
	"context"
	"net/http"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// StoredConnection loads a connection as stored (credentials sealed).
func (s *Service) StoredConnection(ctx context.Context, envID int64, integrationKey, connectionID string) (*domain.Connection, error) {
	integ, err := s.integrationForConnection(ctx, envID, integrationKey)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Connection(ctx, envID, integ.ID, connectionID)
	if isNotFound(err) {
		return nil, &domain.Problem{Status: http.StatusNotFound, Code: "not_found", Message: "Failed to find connection"}
	}
	return c, err
}

// EventStore is the part of the store that pages through the operation log.
type EventStore interface {
	ListEvents(ctx context.Context, envID int64, integrationKey, connectionID string, beforeID int64, limit int) ([]*domain.Event, error)
	SetCredentialsExpiry(ctx context.Context, envID, integrationID int64, connectionID string, at *time.Time) error
}

// Events pages through one connection's operation log, newest first.
func (s *Service) Events(ctx context.Context, envID int64, integrationKey, connectionID string, before int64, limit int) ([]*domain.Event, error) {
	if _, err := s.StoredConnection(ctx, envID, integrationKey, connectionID); err != nil {
		return nil, err
	}
	es, ok := s.store.(EventStore)
	if !ok {
		return nil, nil
	}
	return es.ListEvents(ctx, envID, integrationKey, connectionID, before, limit)
}

// ParseExpiry reads a credential expiry date: YYYY-MM-DD (the end of that day,
// UTC: Atlassian's dialog picks a day) or an RFC 3339 time (the Connect UI sends
// the end of the picked day with the browser's offset). Empty is nil. A time
// that has already passed is refused: such a token no longer works.
func ParseExpiry(v string, now time.Time, path ...string) (*time.Time, *domain.FieldError) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		d, derr := time.Parse("2006-01-02", v)
		if derr != nil {
			return nil, &domain.FieldError{Code: "invalid_date", Message: "The expiry date must be a date like 2027-03-31.", Path: path}
		}
		t = d.Add(24*time.Hour - time.Second)
	}
	t = t.UTC()
	if !t.After(now) {
		return nil, &domain.FieldError{Code: "invalid_date", Message: "The expiry date is in the past: this token no longer works.", Path: path}
	}
	if t.After(now.AddDate(1, 0, 2)) {
		return nil, &domain.FieldError{Code: "invalid_date", Message: "Atlassian API tokens expire within 365 days of creation; check the expiry date.", Path: path}
	}
	return &t, nil
}

// SetExpiry changes a connection's credential expiry date (nil clears it).
func (s *Service) SetExpiry(ctx context.Context, envID int64, integrationKey, connectionID string, at *time.Time) error {
	integ, err := s.integrationForConnection(ctx, envID, integrationKey)
	if err != nil {
		return err
	}
	es, ok := s.store.(EventStore)
	if !ok {
		return nil
	}
	err = es.SetCredentialsExpiry(ctx, envID, integ.ID, connectionID, at)
	if isNotFound(err) {
		return &domain.Problem{Status: http.StatusNotFound, Code: "unknown_connection", Message: "Failed to find connection"}
	}
	return err
}
