// Command standin serves the simulated Atlassian for the SDK compatibility
// suite, with fault injection. It prints "LISTEN <url>" once it accepts
// connections and runs until SIGINT or SIGTERM (or, with --exit-with-stdin,
// until its standard input closes: a test harness that dies takes it along).
// POST /__control/fault queues a fault (JSON: status, count, headers);
// GET /__control/calls counts the calls received.
//
// To try latchkey against a simulated Atlassian by hand, latchkey demo is
// simpler (README.md).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run serves until ctx ends (or stdin closes, with --exit-with-stdin) and
// returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0: any free port)")
	withStdin := fs.Bool("exit-with-stdin", false, "also stop when standard input closes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "standin: %v\n", err)
		return 1
	}
	sim := atlassiansim.New()
	sim.AddToken(atlassiansim.Token{Email: "wiki-bot@serviceaccount.atlassian.com", Secret: "ATSTT3xFfGF0confluenceOnlyTOKEN000000000000000000000000000=5678ABCD",
		AccountID: "acc-wiki", DisplayName: "Wiki Bot", CloudID: atlassiansim.DemoCloudID, Confluence: true})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /__control/fault", func(w http.ResponseWriter, r *http.Request) {
		var f struct {
			Status  int               `json:"status"`
			Count   int               `json:"count"`
			Headers map[string]string `json:"headers"`
		}
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sim.Inject(atlassiansim.Fault{Status: f.Status, Count: f.Count, Header: f.Headers})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /__control/calls", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int{"calls": len(sim.Calls())})
	})
	mux.Handle("/", sim)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	why := make(chan string, 2)
	go func() { <-ctx.Done(); why <- "signal" }()
	if *withStdin {
		go func() { _, _ = io.Copy(io.Discard, stdin); why <- "stdin closed" }()
	}
	fmt.Fprintf(stdout, "LISTEN http://%s\n", ln.Addr())
	reason := <-why
	_ = srv.Close()
	fmt.Fprintf(stdout, "STOPPED (%s)\n", reason)
	return 0
}
