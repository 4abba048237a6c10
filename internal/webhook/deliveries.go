package webhook

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// DeliveryStore is the storage Deliveries needs.
type DeliveryStore interface {
	ListWebhooks(ctx context.Context, envID int64, status string, beforeID int64, limit int) ([]*domain.OutboxMessage, error)
	Webhook(ctx context.Context, envID, id int64) (*domain.OutboxMessage, error)
	RetryWebhook(ctx context.Context, envID, id int64) error
}

// Deliveries shows an environment's webhook deliveries and retries them.
type Deliveries struct {
	Store DeliveryStore
	// Wake is called when a delivery becomes due now.
	Wake func()
}

// List lists deliveries, newest first; status is "", "pending", "delivered"
// or "failed".
func (d *Deliveries) List(ctx context.Context, envID int64, status string, before int64, limit int) ([]*domain.OutboxMessage, error) {
	return d.Store.ListWebhooks(ctx, envID, status, before, limit)
}

// Get returns one delivery with its attempts.
func (d *Deliveries) Get(ctx context.Context, envID, id int64) (*domain.OutboxMessage, error) {
	m, err := d.Store.Webhook(ctx, envID, id)
	if err != nil && errors.Is(err, domain.ErrNotFound) {
		return nil, domain.NotFound("not_found", fmt.Sprintf("There is no webhook delivery %d.", id))
	}
	return m, err
}

// Retry makes a pending or failed delivery due now.
func (d *Deliveries) Retry(ctx context.Context, envID, id int64) error {
	err := d.Store.RetryWebhook(ctx, envID, id)
	if err != nil && errors.Is(err, domain.ErrNotFound) {
		return domain.NotFound("not_found", fmt.Sprintf("There is no undelivered webhook %d.", id))
	}
	if err == nil && d.Wake != nil {
		d.Wake()
	}
	return err
}
