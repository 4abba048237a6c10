package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// eofReader is a standard input that is already closed; it counts reads.
type eofReader struct{ reads atomic.Int32 }

func (r *eofReader) Read([]byte) (int, error) { r.reads.Add(1); return 0, io.EOF }

// start runs the standin and returns its URL, its remaining output lines, and
// its exit code once it stops.
func start(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) (string, *bufio.Scanner, chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, stdin, pw, io.Discard); pw.Close() }()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "LISTEN http://127.0.0.1:") {
		t.Fatalf("first line %q", sc.Text())
	}
	return strings.TrimPrefix(sc.Text(), "LISTEN "), sc, done
}

// Started with its standard input closed (as with & or under a service
// manager), the standin keeps serving until it is signalled.
func TestRunsUntilSignalledWhateverStdin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdin := &eofReader{}
	url, out, done := start(t, ctx, stdin, "--addr", "127.0.0.1:0")
	res, err := http.Get(url + "/__control/calls")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the standin does not answer: %v %v", res, err)
	}
	res.Body.Close()
	cancel() // what SIGINT or SIGTERM does
	if !out.Scan() || out.Text() != "STOPPED (signal)" {
		t.Errorf("stopped with %q", out.Text())
	}
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	if n := stdin.reads.Load(); n != 0 {
		t.Errorf("standard input was read %d times", n)
	}
}

// With --exit-with-stdin (the SDK suite's harness), a closed standard input
// stops it: a harness that dies takes the standin along.
func TestExitWithStdin(t *testing.T) {
	_, out, done := start(t, context.Background(), &eofReader{}, "--exit-with-stdin")
	if !out.Scan() || out.Text() != "STOPPED (stdin closed)" {
		t.Errorf("stopped with %q", out.Text())
	}
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
}
