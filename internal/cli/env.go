package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/environment"
	"github.com/latchkeyhq/latchkey/internal/keyrotation"
	"github.com/latchkeyhq/latchkey/internal/netguard"
	"github.com/latchkeyhq/latchkey/internal/store"
)

const envUsage = `Usage:
  latchkey env show [--env dev]                          webhook URLs and signing key
  latchkey env set-webhook [--env dev] --url U           set the primary webhook URL ("" clears it)
  latchkey env set-webhook [--env dev] --secondary-url U set the secondary webhook URL ("" clears it)
  latchkey env rotate-signing-key [--env dev]            a new webhook signing key

These work on the database serve uses, with the same LATCHKEY_* variables (data
dir, database, encryption key); serve creates the dev environment on first start.
`

// env manages an environment's webhook settings on the database directly.
func env(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, envUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("env "+sub, flag.ContinueOnError)
	name := fs.String("env", app.DefaultEnvironment, "environment name")
	var primary, secondary *string
	switch sub {
	case "show", "rotate-signing-key":
	case "set-webhook":
		primary = fs.String("url", "", "primary webhook URL")
		secondary = fs.String("secondary-url", "", "secondary webhook URL")
	default:
		fmt.Fprintf(stderr, "latchkey env: unknown subcommand %q\n\n%s", sub, envUsage)
		return 2
	}
	if !parseFlags(fs, args[1:], stderr) {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "latchkey env %s: unexpected argument %q\n", sub, fs.Arg(0))
		return 2
	}
	var patch environment.Patch
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "url":
			patch.WebhookURL = primary
		case "secondary-url":
			patch.WebhookSecondaryURL = secondary
		}
	})
	if sub == "set-webhook" && patch.WebhookURL == nil && patch.WebhookSecondaryURL == nil {
		fmt.Fprintf(stderr, "latchkey env set-webhook: nothing to set: give --url and/or --secondary-url (an empty value clears one)\n")
		return 2
	}
	cfg := loadConfig(getenv, stderr)
	if cfg == nil {
		return 2
	}
	st, admin, envID, err := openEnvironment(ctx, cfg, *name)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	defer st.Close()
	var s *environment.View
	switch sub {
	case "show":
		s, err = admin.Get(ctx, envID)
	case "set-webhook":
		s, err = admin.Patch(ctx, envID, patch)
	case "rotate-signing-key":
		s, err = admin.Rotate(ctx, envID)
	}
	if de := (*domain.Error)(nil); errors.As(err, &de) {
		// What the operator typed was refused: say why, without the API's error code.
		fmt.Fprintf(stderr, "latchkey env %s: %s\n", sub, de.Message)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "environment            %s\nwebhook URL            %s\nsecondary webhook URL  %s\nwebhook signing key    %s\n",
		s.Name, orDash(s.WebhookURL), orDash(s.WebhookSecondaryURL), s.WebhookSigningKey)
	return 0
}

// openEnvironment opens the existing database and the configured keys (checked
// against it) and finds the environment; it creates nothing.
func openEnvironment(ctx context.Context, cfg *config.Config, name string) (*store.Store, *environment.Settings, int64, error) {
	st, err := openExisting(ctx, cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	fail := func(err error) (*store.Store, *environment.Settings, int64, error) {
		st.Close()
		return nil, nil, 0, err
	}
	e, err := st.EnvironmentByName(ctx, name)
	switch {
	case errors.Is(err, domain.ErrNotFound) && name == app.DefaultEnvironment:
		return fail(fmt.Errorf("there is no %q environment yet: latchkey serve creates it on first start and prints its secret key once", name))
	case errors.Is(err, domain.ErrNotFound):
		return fail(fmt.Errorf("there is no environment %q", name))
	case err != nil:
		return fail(err)
	}
	ring, err := keyrotation.Ring(cfg.EncryptionKeys, cfg.KeyFile())
	if err != nil {
		return fail(err)
	}
	if err := keyrotation.Check(ctx, st, ring); err != nil {
		return fail(err)
	}
	// URLs set here pass the same network check as through the API, but the
	// one in LATCHKEY_WEBHOOK_URL, which the operator configured.
	settings := &environment.Settings{Store: st, Keys: ring, Network: &netguard.Policy{Allowed: cfg.WebhookAllowedNetworks},
		Trusted: func(_ int64, u string) bool { return u != "" && u == cfg.WebhookURL }}
	return st, settings, e.ID, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
