package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/store"
)

const migrateUsage = `Usage:
  latchkey migrate up       apply the embedded migrations (what serve does at start)
  latchkey migrate status   list migrations and whether each is applied

The database is LATCHKEY_DATABASE_URL (or SQLite in LATCHKEY_DATA_DIR), as for serve.
`

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "up" && args[0] != "status") {
		fmt.Fprint(stderr, migrateUsage)
		return 2
	}
	st, code := openConfiguredStore(ctx, getenv, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	if args[0] == "up" {
		n, err := st.Migrate(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "latchkey: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: %d migration(s) applied\n", st.Dialect(), n)
	}
	all, applied, err := st.MigrationStatus(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	pending := 0
	for _, m := range all {
		state := "pending"
		if at, ok := applied[m.Version]; ok {
			state = "applied " + at.Format(time.RFC3339)
		} else {
			pending++
		}
		fmt.Fprintf(stdout, "%04d  %-28s %s\n", m.Version, m.Name, state)
	}
	if args[0] == "status" && pending > 0 {
		return 3 // lets a deploy script tell "migrations pending"
	}
	return 0
}

const copyUsage = `Usage:
  latchkey copy --from sqlite:///path/latchkey.db --to postgres://user@host/db

Copies every environment, integration, connection (ciphertexts untouched: keep
the same LATCHKEY_ENCRYPTION_KEY), connect session, event and webhook outbox row
into the target, migrating it first. Rows already there are left alone, so it can
run again after an interruption.
`

func copyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "source database URL")
	to := fs.String("to", "", "target database URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *from == "" || *to == "" || *from == *to {
		fmt.Fprint(stderr, copyUsage)
		return 2
	}
	open := func(url string) (*store.Store, error) {
		cfg := &config.Config{DatabaseURL: url, DatabaseMaxConns: 4, DatabaseConnectTimeout: 5 * time.Second, DatabaseStatementTimeout: time.Minute}
		if !strings.HasPrefix(url, "sqlite://") && !strings.HasPrefix(url, "postgres") {
			return nil, fmt.Errorf("%q: want sqlite:///path or postgres://…", url)
		}
		return app.OpenStore(ctx, cfg)
	}
	src, err := open(*from)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: source: %v\n", err)
		return 1
	}
	defer src.Close()
	dst, err := open(*to)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: target: %v\n", err)
		return 1
	}
	defer dst.Close()
	if _, err := dst.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "latchkey: target: %v\n", err)
		return 1
	}
	start := time.Now()
	summary, err := store.Copy(ctx, src, dst, func(table string, done, total int) {
		width := 30
		filled := width
		if total > 0 {
			filled = width * done / total
		}
		fmt.Fprintf(stderr, "\r%-18s [%s%s] %d/%d", table, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
		if done == total {
			fmt.Fprintln(stderr)
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "\nlatchkey: copy: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "copied in %s:\n", time.Since(start).Round(time.Millisecond))
	for _, t := range summary {
		fmt.Fprintf(stdout, "  %-18s %6d copied, %6d already there\n", t.Table, t.Copied, t.Skipped)
	}
	return 0
}

func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, "Usage: latchkey backup /path/to/backup.db   (SQLite: a consistent copy, taken while serving)\n")
		return 2
	}
	st, code := openConfiguredStore(ctx, getenv, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	if err := st.Backup(ctx, args[0]); err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup written to %s (keep the encryption key with it: the credentials cannot be read without it)\n", args[0])
	return 0
}

// openConfiguredStore opens the database the LATCHKEY_* settings name; on
// failure it reports and returns nil with the exit code.
func openConfiguredStore(ctx context.Context, getenv func(string) string, stderr io.Writer) (*store.Store, int) {
	cfg, err := config.Load(getenv, nil, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: configuration:\n%v\n", indent(err))
		return nil, 2
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return nil, 1
	}
	return st, 0
}
