// Command standin serves the simulated Atlassian on a free loopback port for
// the SDK compatibility suite. It prints "LISTEN <url>" and runs until stdin
// closes. POST /__control/fault queues a fault (JSON: status, count, headers);
// GET /__control/calls counts the calls received.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
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
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("LISTEN http://%s\n", ln.Addr())
	_ = http.Serve(ln, mux)
}
