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
	"strings"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/config"
)

// command is one subcommand: its line in the general help, its own help, and
// what it runs.
type command struct {
	name, synopsis string
	usage          func() string
	run            func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int
}

func commands() []command {
	text := func(s string) func() string { return func() string { return s } }
	cmds := []command{
		{"serve", "run the server (embedded SQLite; keys generated on first start)", config.Usage, serve},
		{"demo", "the whole connect flow in a browser, or the README's curl walkthrough, against a simulated Atlassian", text(demoUsage), demo},
		{"env", "show|set-webhook|rotate-signing-key: an environment's webhook settings", text(envUsage), env},
		{"migrate", "up|status: apply or list database migrations", text(migrateUsage), migrate},
		{"copy", "--from URL --to URL: copy everything between databases (e.g. SQLite to PostgreSQL)", text(copyUsage), copyCmd},
		{"backup", "FILE: a consistent copy of the SQLite database, taken while serving", text(backupUsage), backup},
		{"keys", "rotate|status: re-encrypt every credential with a new key", text(keysUsage), keys},
	}
	for _, a := range apiCommands() {
		cmds = append(cmds, command{a.name, a.synopsis, a.usage, a.run})
	}
	return append(cmds,
		command{"healthcheck", "exit 0 when the server on this machine answers /health (or /ready)", text(healthcheckUsage), healthcheck},
		command{"completion", "bash|zsh|fish: a shell completion script", text(completionUsage), completion},
		command{"version", "print the version and the commit it was built from", text(versionUsage), version},
	)
}

func usage() string {
	var b strings.Builder
	b.WriteString(`latchkey links your users' third-party accounts (first: Atlassian service
accounts with API tokens), keeps the credentials encrypted and healthy, and
speaks Nango's public HTTP API.

Usage: latchkey COMMAND [arguments]

`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-13s %s\n", c.name, c.synopsis)
	}
	b.WriteString(`  help          this text; "latchkey help COMMAND" (or COMMAND --help) for one command

Every setting is an environment variable (LATCHKEY_*) or a flag of serve;
"latchkey serve --help" lists them. Only serve creates the database and the dev
environment (and prints dev's secret key once): run it first. connections,
sessions and integrations talk to a running server through its API (--url, and
the secret key from LATCHKEY_SECRET_KEY).
`)
	return b.String()
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 {
			fmt.Fprint(stdout, usage())
			return 0
		}
		c, ok := lookup(args[1])
		if !ok {
			fmt.Fprintf(stderr, "latchkey help: unknown command %q\n\n%s", args[1], usage())
			return 2
		}
		fmt.Fprint(stdout, c.usage())
		return 0
	case "--version", "-v":
		args[0] = "version"
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "latchkey: unknown command %q\n\n%s", args[0], usage())
		return 2
	}
	if wantsHelp(args[1:]) {
		fmt.Fprint(stdout, c.usage())
		return 0
	}
	return c.run(ctx, args[1:], getenv, stdout, stderr)
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

const versionUsage = `Usage: latchkey version

Prints the version, the commit the binary was built from (set by the release
script, else what the go command recorded from the git checkout, else
"unknown"), the Go version and the platform.
`

func version(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "latchkey version: unexpected argument %q\n", args[0])
		return 2
	}
	fmt.Fprintf(stdout, "latchkey %s (commit %s, %s, %s/%s)\n", app.Version, app.Revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

// parseFlags parses a command's flags; on a mistake it says what it was and
// the exit code is 2.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "latchkey %s: %v (see latchkey help %s)\n", fs.Name(), err, strings.Fields(fs.Name())[0])
		return false
	}
	return true
}

// loadConfig reads the LATCHKEY_* settings, as serve does; on failure it
// reports and returns nil.
func loadConfig(getenv func(string) string, stderr io.Writer) *config.Config {
	cfg, err := config.Load(getenv, nil, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: configuration:\n%v\n", indent(err))
		return nil
	}
	return cfg
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
  It also signs you in to the operator's console at %s/admin.
  To choose your own key instead, set LATCHKEY_SECRET_KEY.

`, app.DefaultEnvironment, k, k, cfg.PublicURL, cfg.PublicURL, cfg.PublicURL)
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
