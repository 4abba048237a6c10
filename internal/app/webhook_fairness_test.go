package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// hangingReceiver holds every request until the dispatcher hangs up (or the
// test ends), and counts how many it holds at once; while answering is set
// it answers 200 at once instead.
type hangingReceiver struct {
	*httptest.Server
	mu              sync.Mutex
	now, most, seen int
	answering       bool
	quit            chan struct{}
}

func newHangingReceiver(t testing.TB) *hangingReceiver {
	r := &hangingReceiver{quit: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body) // then the server notices when the client goes
		r.mu.Lock()
		if r.answering {
			r.seen++
			r.mu.Unlock()
			return
		}
		r.now++
		r.seen++
		r.most = max(r.most, r.now)
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			r.now--
			r.mu.Unlock()
		}()
		select {
		case <-req.Context().Done():
		case <-r.quit:
			panic(http.ErrAbortHandler) // drop the connection, answer nothing
		}
	}))
	t.Cleanup(func() {
		close(r.quit)
		r.Close()
	})
	return r
}

func (r *hangingReceiver) answer(yes bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answering = yes
}

func (r *hangingReceiver) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

func (r *hangingReceiver) counts() (now, most int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now, r.most
}

// runDispatcher runs a's dispatcher as `latchkey serve` does until the test
// ends (then it cancels the deliveries in flight and waits for them).
func runDispatcher(t *testing.T, a *app.App) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.Webhooks().Run(ctx, time.Hour) // woken by Wake, not by the clock
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) enqueue(urls ...string) {
	h.t.Helper()
	env, err := h.app.Store().EnvironmentByName(context.Background(), "dev")
	if err != nil {
		h.t.Fatal(err)
	}
	var msgs []domain.OutboxMessage
	for i, u := range urls {
		msgs = append(msgs, domain.OutboxMessage{EnvironmentID: env.ID, URL: u, EventType: "auth.creation", ConnectionID: fmt.Sprint("c", i), Body: []byte(`{"n":` + fmt.Sprint(i) + `}`)})
	}
	if err := h.app.Store().EnqueueWebhooks(context.Background(), msgs); err != nil {
		h.t.Fatal(err)
	}
	h.app.Webhooks().Wake()
}

// Receivers that hang never hold back a webhook for another receiver: with
// forty receivers hanging (more than the dispatcher's share for receivers
// that do not answer), each with two messages queued ahead, a healthy
// receiver gets its webhook while every hanging one still hangs. A hanging
// receiver has at most one request in flight, and all of them together at
// most half of the dispatcher's slots. (The deliveries would hang for ten
// minutes: without fair sharing the healthy webhook waits behind them and
// the test fails at its deadline.)
func TestHangingReceiversDoNotHoldBackOthers(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.webhookTimeout = 10 * time.Minute
	h.start()
	healthy := newReceiver(t)
	runDispatcher(t, h.app)

	// The healthy receiver has answered before: it is known to be prompt.
	h.enqueue(healthy.URL + "/hooks")
	waitReceived(t, healthy, 1)

	var hanging []*hangingReceiver
	var urls []string
	for i := 0; i < 40; i++ {
		r := newHangingReceiver(t)
		hanging = append(hanging, r)
		urls = append(urls, r.URL+"/a", r.URL+"/b")
	}
	h.enqueue(urls...)
	h.enqueue(healthy.URL + "/hooks")
	waitReceived(t, healthy, 2)

	// And a burst of twenty for it, still beside the forty hanging.
	var burst []string
	for i := 0; i < 20; i++ {
		burst = append(burst, healthy.URL+"/hooks")
	}
	h.enqueue(burst...)
	waitReceived(t, healthy, 22)

	total := 0
	for i, r := range hanging {
		now, most := r.counts()
		if most > 1 {
			t.Errorf("hanging receiver %d had %d requests in flight at once, want at most 1", i, most)
		}
		total += now
	}
	if total > 32 {
		t.Errorf("%d requests in flight to hanging receivers, want at most half of 64", total)
	}
}

// A webhook for a receiver latchkey has not sent to yet gets through beside
// sixteen hanging receivers too (they take sixteen of the thirty-two slots
// shared by receivers not known to be prompt).
func TestNewReceiverBesideSixteenHanging(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.webhookTimeout = 10 * time.Minute
	h.start()
	runDispatcher(t, h.app)
	var urls []string
	for i := 0; i < 16; i++ {
		r := newHangingReceiver(t)
		urls = append(urls, r.URL+"/a", r.URL+"/b", r.URL+"/c")
	}
	h.enqueue(urls...)
	healthy := newReceiver(t)
	h.enqueue(healthy.URL + "/hooks")
	waitReceived(t, healthy, 1)
}

// Receivers known to answer promptly that start hanging take at most their
// own slots each, and all together at most three quarters of the
// dispatcher's: a receiver latchkey has not sent to yet still gets its
// webhook.
func TestPromptReceiversThatStartHangingLeaveRoom(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.webhookTimeout = 10 * time.Minute
	h.start()
	var prompt []*hangingReceiver
	for i := 0; i < 8; i++ {
		r := newHangingReceiver(t)
		r.answer(true)
		prompt = append(prompt, r)
	}
	fresh := newReceiver(t)
	runDispatcher(t, h.app)
	for _, r := range prompt {
		h.enqueue(r.URL + "/hooks")
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range prompt {
		for r.received() < 1 {
			if time.Now().After(deadline) {
				t.Fatal("the prompt receivers did not get their first webhook")
			}
			time.Sleep(5 * time.Millisecond) // polls a receiver on another goroutine; bounded by the deadline
		}
	}
	var urls []string
	for _, r := range prompt {
		r.answer(false)
		for i := 0; i < 10; i++ {
			urls = append(urls, r.URL+"/hooks")
		}
	}
	h.enqueue(urls...)
	h.enqueue(fresh.URL + "/hooks")
	waitReceived(t, fresh, 1)
	total := 0
	for i, r := range prompt {
		now, most := r.counts()
		if most > 8 {
			t.Errorf("receiver %d had %d requests in flight at once, want at most 8", i, most)
		}
		total += now
	}
	if total > 48 {
		t.Errorf("%d requests in flight to the receivers that hang, want at most three quarters of 64", total)
	}
}

// waitReceived waits (bounded) until r has received n webhooks.
func waitReceived(t *testing.T, r *receiver, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(r.received()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the healthy receiver got %d of %d webhooks in 30 s: held back", len(r.received()), n)
		}
		time.Sleep(5 * time.Millisecond) // polls a receiver on another goroutine; bounded by the deadline
	}
}

// Two dispatchers on one database, each sharing its slots out by receiver,
// deliver every message exactly once, on SQLite and on PostgreSQL.
func TestTwoFairDispatchersDeliverEachMessageOnce(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var h *harness
			if backend == "postgres" {
				h = newHarness(t, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(t))
			} else {
				h = newHarness(t)
			}
			other, err := h.open()
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			var receivers []*receiver
			var urls []string
			for i := 0; i < 5; i++ {
				r := newReceiver(t)
				receivers = append(receivers, r)
				for j := 0; j < 30; j++ {
					urls = append(urls, r.URL+"/hooks")
				}
			}
			h.enqueue(urls...)
			var wg sync.WaitGroup
			for _, d := range []*app.App{h.app, other} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if n, err := d.Webhooks().RunOnce(context.Background()); n == 0 || err != nil {
							return
						}
					}
				}()
			}
			wg.Wait()
			seen := map[int64]int{}
			for _, r := range receivers {
				for _, got := range r.received() {
					var id int64
					fmt.Sscan(got.headers.Get("X-Latchkey-Delivery"), &id)
					seen[id]++
				}
			}
			if len(seen) != len(urls) {
				t.Errorf("%d distinct deliveries, want %d", len(seen), len(urls))
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("delivery %d arrived %d times", id, n)
				}
			}
			_, body, _ := h.raw("GET", "/webhooks/deliveries?status=pending", testSecretKey, "", "")
			var list struct{ Data []json.RawMessage }
			json.Unmarshal([]byte(body), &list)
			if len(list.Data) != 0 {
				t.Errorf("%d still pending", len(list.Data))
			}
		})
	}
}
