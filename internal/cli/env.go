package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/environment"
)

const envUsage = `Usage:
  latchkey env show [--env dev]                                  webhook URLs and signing key
  latchkey env set-webhook [--env dev] [--url U] [--secondary-url U]   set ("" clears) the webhook URLs
  latchkey env rotate-signing-key [--env dev]                    new webhook signing key

These read the same LATCHKEY_* variables as serve (data dir, database, encryption key).
`

// env manages an environment's webhook settings on the database directly.
func env(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, envUsage)
		return 2
	}
	fs := flag.NewFlagSet("env "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("env", app.DefaultEnvironment, "environment name")
	primary := fs.String("url", "\x00", "primary webhook URL")
	secondary := fs.String("secondary-url", "\x00", "secondary webhook URL")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := config.Load(getenv, nil, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: configuration:\n%v\n", indent(err))
		return 2
	}
	log := app.NewLogger(&config.Config{LogLevel: "error", LogFormat: "text"}, stderr)
	a, err := app.New(ctx, cfg, log, app.Deps{})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	defer a.Close()
	e, err := a.Store().EnvironmentByName(ctx, *name)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: no environment %q\n", *name)
		return 1
	}
	settings := a.EnvironmentSettings()
	var s *environment.View
	switch args[0] {
	case "show":
		s, err = settings.Get(ctx, e.ID)
	case "set-webhook":
		var p environment.Patch
		if *primary != "\x00" {
			p.WebhookURL = primary
		}
		if *secondary != "\x00" {
			p.WebhookSecondaryURL = secondary
		}
		s, err = settings.Patch(ctx, e.ID, p)
	case "rotate-signing-key":
		s, err = settings.Rotate(ctx, e.ID)
	default:
		fmt.Fprint(stderr, envUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "environment            %s\nwebhook URL            %s\nsecondary webhook URL  %s\nwebhook signing key    %s\n",
		s.Name, orDash(s.WebhookURL), orDash(s.WebhookSecondaryURL), s.WebhookSigningKey)
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
