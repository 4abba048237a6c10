package atlassiansim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func myselfRequest(t *testing.T, ctx context.Context, base string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/ex/jira/"+DemoCloudID+"/rest/api/3/myself", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(DemoEmail, DemoToken)
	return req
}

// A call is recorded when it arrives, not when it ends: a hanging call is in
// Calls() while it hangs, so a test that gave up on it can still count it.
func TestHangingCallIsRecordedWhileItHangs(t *testing.T) {
	s := New()
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.Inject(Fault{Hang: true, Count: 1})
	ctx, cancel := context.WithCancel(context.Background())
	req := myselfRequest(t, ctx, srv.URL)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	// The call holds until cancel, so it can only be seen here if it was
	// recorded on arrival. Bounded wait for the request to reach the handler.
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Calls()) == 0 {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("a call hanging for 10 s is not in Calls(): calls are recorded only when they end")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the hanging call ended before it was cancelled: %v", err)
	default:
	}
	c := s.Calls()[0]
	if c.Method != "GET" || c.Path != "/ex/jira/"+DemoCloudID+"/rest/api/3/myself" || c.Email != DemoEmail || c.Status != 0 {
		t.Errorf("recorded call = %+v (no status yet: it has not been answered)", c)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("the hanging call got an answer")
	}
}

// The status of a call is recorded before its answer leaves, so a client that
// has the answer finds the status in Calls().
func TestStatusIsRecordedBeforeTheAnswer(t *testing.T) {
	s := New()
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, want := range []int{429, 200} {
		if want == 429 {
			s.Inject(s.RateLimited(time.Second, 1))
		}
		res, err := http.DefaultClient.Do(myselfRequest(t, context.Background(), srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		calls := s.Calls()
		if res.StatusCode != want || calls[len(calls)-1].Status != want {
			t.Errorf("answered %d, recorded %+v, want %d", res.StatusCode, calls[len(calls)-1], want)
		}
	}
}

// A reset reaches the client even when its request comes on a reused
// connection, which Go's transport would otherwise retry by itself; only the
// reset call is counted.
func TestResetReachesTheClientOnAReusedConnection(t *testing.T) {
	s := New()
	srv := s.NewServer()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for range 2 { // leaves an idle keep-alive connection in the pool
		res, err := client.Do(myselfRequest(t, context.Background(), srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	s.Inject(Fault{Reset: true, Count: 1})
	before := len(s.Calls())
	res, err := client.Do(myselfRequest(t, context.Background(), srv.URL))
	if err == nil {
		res.Body.Close()
		t.Fatalf("the reset did not reach the client (status %d): the transport retried it by itself", res.StatusCode)
	}
	if n := len(s.Calls()) - before; n != 1 {
		t.Errorf("%d calls counted for one reset, want 1", n)
	}
	// The next request is answered.
	res, err = client.Do(myselfRequest(t, context.Background(), srv.URL))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after the reset: %v", err)
	}
	res.Body.Close()
}
