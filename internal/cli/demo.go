package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

const demoUsage = `Usage:
  latchkey demo [--addr 127.0.0.1:3003] [--sim-addr 127.0.0.1:9999] [--keep]
  latchkey demo --sim-only [--sim-addr 127.0.0.1:9999]

Runs latchkey on a temporary data dir next to a simulated Atlassian, creates an
integration of each Atlassian provider (API token, OAuth 2.0) and a connect
session, and prints the secret key, the connect link, the simulated service
account's Cloud ID, email and API token, and its OAuth 2.0 client ID and secret
(reaching two sites). Open the link in a browser, or follow the README's curl
walkthrough. Runs until stopped (Ctrl-C, SIGTERM); the data is deleted then,
unless --keep.

With --sim-only it runs only the simulated Atlassian, for a latchkey serve of
your own started with
  LATCHKEY_UPSTREAM_REWRITE=https://api.atlassian.com=http://127.0.0.1:9999,https://auth.atlassian.com=http://127.0.0.1:9999,https://*.atlassian.net=http://127.0.0.1:9999
(what it prints when it starts, with the port it listens on).

The demo reads no LATCHKEY_* variable.

Flags:
  --addr HOST:PORT      where latchkey listens (default 127.0.0.1:3003)
  --sim-addr HOST:PORT  where the simulated Atlassian listens (default 127.0.0.1:9999)
  --sim-only            run only the simulated Atlassian
  --keep                keep the temporary data dir on exit
`

// demo runs latchkey on a temporary data dir beside a simulated Atlassian, so a
// newcomer can go through the whole connect flow, in a browser or with curl,
// without an Atlassian account.
func demo(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3003", "")
	simAddr := fs.String("sim-addr", "127.0.0.1:9999", "")
	simOnly := fs.Bool("sim-only", false, "")
	keep := fs.Bool("keep", false, "")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "latchkey demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	listen := func(flagName, addr string) net.Listener {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			var detail error = err
			var op *net.OpError
			if errors.As(err, &op) {
				detail = op.Err // "bind: address already in use", without repeating the address
			}
			fmt.Fprintf(stderr, "latchkey demo: cannot listen on %s (%s): %v; choose another address with %s\n", addr, flagName, detail, flagName)
			return nil
		}
		return ln
	}

	simLn := listen("--sim-addr", *simAddr)
	if simLn == nil {
		return 1
	}
	simSrv := &http.Server{Handler: atlassiansim.New(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()
	simURL := "http://" + simLn.Addr().String()
	rewrite := "https://api.atlassian.com=" + simURL + ",https://auth.atlassian.com=" + simURL + ",https://*.atlassian.net=" + simURL
	if *simOnly {
		fmt.Fprintf(stdout, `
  A simulated Atlassian is running at %s. Start latchkey against it with

      LATCHKEY_UPSTREAM_REWRITE=%s latchkey serve

  It knows one service account with an API token for one site:

      Cloud ID               %s
      Service Account Email  %s
      API Token              %s

  and one OAuth 2.0 client credential reaching two sites (%s and %s):

      Client ID              %s
      Client Secret          %s

  Ctrl-C stops it.

`, simURL, rewrite, atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken,
			atlassiansim.DemoSite, atlassiansim.DemoSite2, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret)
		<-ctx.Done()
		return 0
	}

	ln := listen("--addr", *addr)
	if ln == nil {
		return 1
	}
	defer ln.Close()
	dir, err := os.MkdirTemp("", "latchkey-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	key, err := secret.RandomToken("sk_demo_")
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	env := map[string]string{
		"LATCHKEY_ADDR":             ln.Addr().String(), // the bound port, when --addr asked for any
		"LATCHKEY_DATA_DIR":         dir,
		"LATCHKEY_SECRET_KEY":       key,
		"LATCHKEY_UPSTREAM_REWRITE": rewrite,
		"LATCHKEY_LOG_LEVEL":        "error",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, stderr), app.Deps{})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	defer a.Close()
	err = a.ServeListener(ctx, ln, func(string) {
		c := client.New(cfg.PublicURL, key)
		// In this order, so the Connect UI lists the API token first (a map's
		// order changes from run to run).
		for _, in := range []struct{ provider, key string }{
			{"atlassian-service-account-api-token", "atlassian"},
			{"atlassian-service-account-oauth2", "atlassian-oauth"},
		} {
			if _, err := c.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: in.provider, UniqueKey: in.key}); err != nil {
				fmt.Fprintf(stderr, "latchkey demo: create integration: %v\n", err)
				stop()
				return
			}
		}
		s, err := c.CreateConnectSession(ctx, client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "demo-user", Email: "you@example.com", DisplayName: "You"}})
		if err != nil {
			fmt.Fprintf(stderr, "latchkey demo: create session: %v\n", err)
			stop()
			return
		}
		fmt.Fprintf(stdout, `
  latchkey demo is running at %s, next to a simulated Atlassian at %s.

  The dev environment's secret key (for curl, the SDKs, the README's walkthrough):

       %s

  1. Open the connect link (valid 30 minutes) in a browser:

       %s

  2. Pick "Atlassian Service Account (API Token)" and fill in the form with the simulated
     service account:

       Cloud ID               %s
       Service Account Email  %s
       API Token              %s

     Try a wrong token or another Cloud ID first to see how latchkey says what is wrong.

     Or pick "Atlassian Service Account (OAuth 2.0)" and link its OAuth 2.0 client credentials;
     they reach two sites, so the form asks you to pick one (%s or %s):

       Client ID              %s
       Client Secret          %s

     The same with curl (integration atlassian-oauth, the site named by its subdomain):

       curl -s -g -X POST '%s/oauth2/auth/atlassian-oauth?connect_session_token=%s&params[subdomain]=%s' \
         -H 'Content-Type: application/json' -d '{"client_id":"%s","client_secret":"%s"}'

  3. Read the connection back as your backend would:

       curl -s -H "Authorization: Bearer %s" %s/connections

  4. See it as an operator: open the console at %s/admin and sign in with the
     secret key above.

  Data lives in %s%s. Ctrl-C stops the demo.

`, cfg.PublicURL, simURL, key, s.ConnectLink, atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken,
			atlassiansim.DemoSite, atlassiansim.DemoSite2, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret,
			cfg.PublicURL, s.Token, atlassiansim.DemoSite, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret,
			key, cfg.PublicURL, cfg.PublicURL, dir, map[bool]string{false: " and is deleted on exit", true: " (kept on exit)"}[*keep])
	})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	return 0
}
