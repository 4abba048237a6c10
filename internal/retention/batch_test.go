package retention

import (
	"testing"
	"time"
)

// A batch that held the writer too long makes the next one smaller, in
// proportion; a quick one makes it twice as large; both within bounds.
func TestNextBatch(t *testing.T) {
	o := Options{Batch: 1000, MinBatch: 50, BatchTime: 20 * time.Millisecond}
	for _, c := range []struct {
		limit int
		took  time.Duration
		want  int
	}{
		{1000, 80 * time.Millisecond, 250},
		{1000, 2 * time.Second, 50},
		{250, 15 * time.Millisecond, 250},
		{250, 5 * time.Millisecond, 500},
		{800, time.Millisecond, 1000},
	} {
		if got := nextBatch(c.limit, c.took, o); got != c.want {
			t.Errorf("after %d rows in %s: %d, want %d", c.limit, c.took, got, c.want)
		}
	}
}
