// Package oplog writes operation-log entries off the hot path: callers hand
// events to a buffered channel and a single goroutine writes them in batches.
// When the buffer is full an event is dropped and counted, never blocking a request.
package oplog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Store writes a batch of events.
type Store interface {
	InsertEvents(ctx context.Context, events []*domain.Event) error
}

// Writer batches events into the store.
type Writer struct {
	store   Store
	log     *slog.Logger
	ch      chan *domain.Event
	dropped atomic.Uint64
	flushes chan chan struct{}
	done    chan struct{}
	mu      sync.RWMutex // guards closed against Add racing Close
	closed  bool
}

const (
	bufferSize = 8192
	batchSize  = 256
	flushEvery = 200 * time.Millisecond
)

// New starts a writer.
func New(store Store, log *slog.Logger) *Writer {
	w := &Writer{store: store, log: log, ch: make(chan *domain.Event, bufferSize), flushes: make(chan chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// Add queues an event without blocking.
func (w *Writer) Add(e *domain.Event) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	select {
	case w.ch <- e:
	default:
		w.dropped.Add(1)
	}
}

// Dropped is how many events were dropped because the buffer was full.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Flush writes everything queued before it was called, then returns.
func (w *Writer) Flush() {
	ack := make(chan struct{})
	select {
	case w.flushes <- ack:
		<-ack
	case <-w.done:
	}
}

// Close writes what is queued and stops.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	batch := make([]*domain.Event, 0, batchSize)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := w.store.InsertEvents(ctx, batch); err != nil {
			w.log.Error("operation log write failed", "err", err, "events", len(batch))
		}
		cancel()
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-w.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) >= batchSize {
				flush()
			}
		case <-t.C:
			flush()
		case ack := <-w.flushes:
			for drained := false; !drained; {
				select {
				case e, ok := <-w.ch:
					if !ok {
						drained = true
						break
					}
					batch = append(batch, e)
					if len(batch) >= batchSize {
						flush()
					}
				default:
					drained = true
				}
			}
			flush()
			close(ack)
		}
	}
}
