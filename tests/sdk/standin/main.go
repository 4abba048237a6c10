// Command standin serves the simulated Atlassian on a free loopback port for
// the SDK compatibility suite. It prints "LISTEN <url>" and runs until stdin closes.
package main

import (
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
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("LISTEN http://%s\n", ln.Addr())
	_ = http.Serve(ln, sim)
}
