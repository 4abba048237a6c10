package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// LATCHKEY_PPROF_ADDR serves Go's profiler on a listener of its own; the
// public listener never does, with or without it.
func TestProfilerOnItsOwnListener(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := free.Addr().String()
	free.Close()
	h := newHarness(t, "LATCHKEY_PPROF_ADDR="+pprofAddr)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- h.app.ServeListener(ctx, ln, func(addr string) { ready <- addr }) }()
	public := "http://" + <-ready
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := get("http://" + pprofAddr + "/debug/pprof/"); status != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("profiler listener: %d %.200s", status, body)
	}
	if status, body := get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1"); status != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile: %d %.200s", status, body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		if status, body := get(public + path); status != 404 || !strings.Contains(body, `"not_found"`) {
			t.Errorf("public listener %s: %d %.200s", path, status, body)
		}
	}
	// Nothing else on the profiler's listener.
	if status, _ := get("http://" + pprofAddr + "/connections"); status != 404 {
		t.Errorf("profiler listener serves /connections: %d", status)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + pprofAddr + "/debug/pprof/"); err == nil {
		t.Error("the profiler still answers after shutdown")
	}
}

// Without LATCHKEY_PPROF_ADDR there is no profiler anywhere.
func TestNoProfilerByDefault(t *testing.T) {
	h := newHarness(t)
	status, body, _ := h.raw("GET", "/debug/pprof/", "", "", "")
	if status != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("GET /debug/pprof/: %d %.200s", status, body)
	}
}
