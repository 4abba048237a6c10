package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
)

const healthcheckUsage = `Usage: latchkey healthcheck [--url URL] [--ready]

Asks a running latchkey whether it serves: GET /health, or with --ready GET
/ready (which also needs the database to answer), and exits 0 on a 200, else 1.
Made for container HEALTHCHECKs and service managers: without --url it asks the
address in LATCHKEY_ADDR on this machine (127.0.0.1 for a wildcard address such
as 0.0.0.0:3003), never LATCHKEY_PUBLIC_URL. It waits at most 5 seconds.
`

func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	base := fs.String("url", "", "the server's base URL")
	ready := fs.Bool("ready", false, "ask /ready instead of /health")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "latchkey healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	target := *base
	if target == "" {
		cfg, err := config.Load(func(k string) string {
			if k == "LATCHKEY_ADDR" {
				return getenv(k)
			}
			return ""
		}, nil, io.Discard)
		if err != nil {
			fmt.Fprintf(stderr, "latchkey healthcheck: %v\n", err)
			return 2
		}
		host, port, _ := net.SplitHostPort(cfg.Addr)
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		target = "http://" + net.JoinHostPort(host, port)
	} else if u, err := serverURL(target, getenv); err != nil {
		fmt.Fprintf(stderr, "latchkey healthcheck: %v\n", err)
		return 2
	} else {
		target = u
	}
	path := "/health"
	if *ready {
		path = "/ready"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(target, "/")+path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey healthcheck: %v\n", err)
		return 2
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey healthcheck: %s: %v\n", req.URL, err)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "latchkey healthcheck: %s answered %d: %s\n", req.URL, res.StatusCode, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", req.URL, strings.TrimSpace(string(body)))
	return 0
}
