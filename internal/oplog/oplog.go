// Package oplog writes operation-log entries off the hot path: callers hand
// events to a buffered channel and a single goroutine writes them in batches.
// When the buffer is full an event is dropped and counted, never blocking a request.
package oplog

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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

// Add queues an event without blocking. Its text is made valid UTF-8 without
// NUL first, so that no entry can make the database refuse its batch.
func (w *Writer) Add(e *domain.Event) {
	for _, f := range []*string{&e.IntegrationKey, &e.ConnectionID, &e.Kind, &e.Outcome, &e.Code, &e.Message} {
		*f = clean(*f)
	}
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

// clean makes s valid UTF-8 without NUL characters.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Dropped is how many events were dropped: the buffer was full, or the
// database refused them.
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
			w.log.Error("operation log write failed; writing the entries one by one", "err", err, "events", len(batch))
			if !errors.Is(err, domain.ErrUnavailable) {
				// One bad entry must not lose its batch: write each on its own,
				// dropping (and counting) only those the database refuses.
				for _, e := range batch {
					if err := w.store.InsertEvents(ctx, []*domain.Event{e}); err != nil {
						w.dropped.Add(1)
					}
				}
			} else {
				w.dropped.Add(uint64(len(batch)))
			}
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
