// Package cli implements latchkey's subcommands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/config"
)

const usage = `latchkey links your users' third-party accounts (first: Atlassian service
accounts with API tokens), keeps the credentials encrypted and healthy, and
speaks Nango's public HTTP API.

Usage:
  latchkey serve [flags]      run the server (embedded SQLite; keys generated on first start)
  latchkey demo [--addr A]    try the whole connect flow in a browser, against a simulated Atlassian
  latchkey env show|set-webhook|rotate-signing-key   an environment's webhook settings
  latchkey migrate up|status  apply or list database migrations
  latchkey copy --from URL --to URL   copy everything between databases (e.g. SQLite to PostgreSQL)
  latchkey backup FILE        consistent copy of the SQLite database, while serving
  latchkey keys rotate|status re-encrypt every credential with a new key
  latchkey version            print the version
  latchkey help               this text

Every setting is an environment variable (LATCHKEY_*) or a flag of serve;
run "latchkey serve -h" to list them.
`

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "env":
		return env(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	case "copy":
		return copyCmd(ctx, args[1:], stdout, stderr)
	case "keys":
		return keys(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return backup(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "latchkey %s (%s, %s/%s)\n", app.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "latchkey: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	start := time.Now()
	cfg, err := config.Load(getenv, args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, config.Usage())
		return 0
	case errors.Is(err, config.ErrUsage):
		return 2 // Load has said what was wrong
	case err != nil:
		fmt.Fprintf(stderr, "latchkey: configuration:\n%v\n", indent(err))
		return 2
	}
	log := app.NewLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Listen first: a busy port stops the start before anything is created.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: cannot listen on LATCHKEY_ADDR %s: %v\n", cfg.Addr, errors.Unwrap(err))
		return 1
	}
	defer ln.Close()
	a, err := app.New(ctx, cfg, log, app.Deps{})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: cannot start: %v\n", err)
		return 1
	}
	defer a.Close()
	if k := a.GeneratedSecretKey; k != "" {
		fmt.Fprintf(stdout, `
  Created the %q environment. Its secret key is shown only this once:

      %s

  Send it as a bearer token from your backend, e.g.
      curl -H "Authorization: Bearer %s" %s/integrations
  or pass it to the SDK: new Nango({ host: "%s", secretKey: "…" }).
  To choose your own key instead, set LATCHKEY_SECRET_KEY.

`, app.DefaultEnvironment, k, k, cfg.PublicURL, cfg.PublicURL)
	}
	err = a.ServeListener(ctx, ln, func(addr string) {
		log.Info("latchkey ready", "addr", addr, "public_url", cfg.PublicURL, "data_dir", cfg.DataDir, "version", app.Version,
			"startup", time.Since(start).Round(time.Microsecond).String())
	})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	return 0
}

func indent(err error) string {
	out := ""
	for _, line := range splitLines(err.Error()) {
		out += "  - " + line + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
