package domain

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends, whichever comes first; it returns the
// context's error in the second case. Services take it as their default wait,
// and tests replace it.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
