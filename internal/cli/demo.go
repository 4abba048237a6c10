package cli

import (
	"context"
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

// demo runs latchkey on a temporary data dir beside a simulated Atlassian, so a
// newcomer can go through the whole connect flow in a browser without an
// Atlassian account.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3003", "listen address")
	keep := fs.Bool("keep", false, "keep the temporary data dir on exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	sim := atlassiansim.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = simSrv.Serve(ln) }()
	defer simSrv.Close()

	dir, err := os.MkdirTemp("", "latchkey-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	key, _ := secret.RandomToken("sk_demo_")
	simURL := "http://" + ln.Addr().String()
	env := map[string]string{
		"LATCHKEY_ADDR":             *addr,
		"LATCHKEY_DATA_DIR":         dir,
		"LATCHKEY_SECRET_KEY":       key,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + simURL + ",https://auth.atlassian.com=" + simURL + ",https://*.atlassian.net=" + simURL,
		"LATCHKEY_LOG_LEVEL":        "error",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 2
	}
	log := app.NewLogger(cfg, stderr)
	a, err := app.New(ctx, cfg, log, app.Deps{})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	defer a.Close()
	err = a.Serve(ctx, func(string) {
		c := client.New(cfg.PublicURL, key)
		for provider, key := range map[string]string{"atlassian-service-account-api-token": "atlassian", "atlassian-service-account-oauth2": "atlassian-oauth"} {
			if _, err := c.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: provider, UniqueKey: key}); err != nil {
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
  latchkey demo is running at %s, next to a simulated Atlassian.

  1. Open the connect link (valid 30 minutes) in a browser:

       %s

  2. Fill in the form with the simulated service account:

       Cloud ID               %s
       Service Account Email  %s
       API Token              %s

     Try a wrong token or another Cloud ID first to see how latchkey says what is wrong.

     Or, with OAuth 2.0 client credentials (integration atlassian-oauth; the credential reaches
     two sites, so pick one: %s or %s):

       Client ID              %s
       Client Secret          %s

       curl -s -g -X POST '%s/oauth2/auth/atlassian-oauth?connect_session_token=%s&params[subdomain]=%s' \
         -H 'Content-Type: application/json' -d '{"client_id":"%s","client_secret":"%s"}'

  3. Read the connection back as your backend would:

       curl -s -H "Authorization: Bearer %s" %s/connections

  Data lives in %s and is deleted on exit. Ctrl-C stops the demo.

`, cfg.PublicURL, s.ConnectLink, atlassiansim.DemoCloudID, atlassiansim.DemoEmail, atlassiansim.DemoToken,
			atlassiansim.DemoSite, atlassiansim.DemoSite2, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret,
			cfg.PublicURL, s.Token, atlassiansim.DemoSite, atlassiansim.DemoClientID, atlassiansim.DemoClientSecret,
			key, cfg.PublicURL, dir)
	})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey demo: %v\n", err)
		return 1
	}
	return 0
}
