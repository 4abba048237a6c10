package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// hangingReceivers starts n webhook receivers that never answer: each holds
// the request until the dispatcher gives up on it.
func hangingReceivers(t testing.TB, n int) []string {
	var urls []string
	for i := 0; i < n; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // then the server notices when the dispatcher hangs up
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL+"/hooks")
	}
	return urls
}

// BenchmarkWebhookHealthyBesideHanging measures how long a webhook for a
// healthy receiver takes to arrive when sixteen other receivers hang (20 s
// delivery timeout, real clock for the dispatcher's loop). Each iteration
// queues one message for each hanging receiver, then one for the healthy
// receiver (last in line), and waits for the healthy one to arrive.
// healthy-ms/op is the mean, max-healthy-ms the worst.
func BenchmarkWebhookHealthyBesideHanging(b *testing.B) {
	h := newHarness(b)
	hanging := hangingReceivers(b, 16)
	arrived := make(chan struct{}, 16)
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
	}))
	b.Cleanup(healthy.Close)
	env, err := h.app.Store().EnvironmentByName(context.Background(), "dev")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.app.Webhooks().Run(ctx, time.Second)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	msg := func(url string, i int) domain.OutboxMessage {
		return domain.OutboxMessage{EnvironmentID: env.ID, URL: url, EventType: "auth.creation", ConnectionID: fmt.Sprint("c", i), Body: []byte(`{}`)}
	}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var msgs []domain.OutboxMessage
		for _, u := range hanging {
			msgs = append(msgs, msg(u, i))
		}
		if err := h.app.Store().EnqueueWebhooks(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := h.app.Store().EnqueueWebhooks(ctx, []domain.OutboxMessage{msg(healthy.URL, i)}); err != nil {
			b.Fatal(err)
		}
		h.app.Webhooks().Wake()
		select {
		case <-arrived:
		case <-time.After(5 * time.Minute):
			b.Fatal("the healthy receiver's webhook did not arrive within 5 minutes")
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(took)), "healthy-ms/op")
	b.ReportMetric(float64(slices.Max(took).Milliseconds()), "max-healthy-ms")
}

// BenchmarkWebhookBacklog measures a backlog drained to one healthy
// receiver (loopback), as `latchkey serve` runs the dispatcher: ns/op is per
// webhook, from the queue to the receiver.
func BenchmarkWebhookBacklog(b *testing.B) {
	h := newHarness(b)
	var mu sync.Mutex
	got := 0
	all := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		got++
		if got == b.N {
			close(all)
		}
		mu.Unlock()
	}))
	b.Cleanup(rcv.Close)
	urls := make([]string, b.N)
	for i := range urls {
		urls[i] = rcv.URL + "/hooks"
	}
	b.StopTimer()
	h.enqueue(urls...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.StartTimer()
	go func() {
		h.app.Webhooks().Run(ctx, time.Second)
		close(done)
	}()
	<-all
	b.StopTimer()
	cancel()
	<-done
}
