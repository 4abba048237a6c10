package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
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
		if len(args) > 0 && args[0] != "up" && args[0] != "status" {
			fmt.Fprintf(stderr, "latchkey migrate: unknown subcommand %q\n\n", args[0])
		}
		fmt.Fprint(stderr, migrateUsage)
		return 2
	}
	cfg := loadConfig(getenv, stderr)
	if cfg == nil {
		return 2
	}
	if path := cfg.SQLitePath(); args[0] == "status" && path != "" && !exists(path) {
		fmt.Fprintf(stdout, "no database at %s yet: every migration is pending (latchkey migrate up or latchkey serve creates it)\n", path)
		return 3
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
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

func copyCmd(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	from := fs.String("from", "", "source database URL")
	to := fs.String("to", "", "target database URL")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if *from == "" || *to == "" || *from == *to || fs.NArg() > 0 {
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
	if u, err := url.Parse(*from); err == nil && u.Scheme == "sqlite" && !exists(u.Path) {
		fmt.Fprintf(stderr, "latchkey: source: there is no database at %s\n", u.Path)
		return 1
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

const backupUsage = `Usage:
  latchkey backup FILE

Writes a consistent copy of the SQLite database (LATCHKEY_DATA_DIR or a sqlite://
LATCHKEY_DATABASE_URL) to FILE, which must not exist yet; latchkey may be serving
meanwhile. Keep the encryption key with the copy: the credentials cannot be read
without it. PostgreSQL is backed up with pg_dump.
`

func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, backupUsage)
		return 2
	}
	file := fs.Arg(0)
	if exists(file) {
		fmt.Fprintf(stderr, "latchkey backup: %s already exists; give a new file name (backup never overwrites)\n", file)
		return 1
	}
	_, st, code := openServed(ctx, getenv, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	if err := st.Backup(ctx, file); err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup written to %s (keep the encryption key with it: the credentials cannot be read without it)\n", file)
	return 0
}

// errNoDatabase says there is nothing to work on yet, and what creates it.
func errNoDatabase(where string) error {
	return fmt.Errorf("there is no latchkey database at %s yet. Run latchkey serve first: it creates the database and the %s environment, "+
		"and prints its secret key once", where, app.DefaultEnvironment)
}

// openServed loads the configuration and opens the database serve made (see
// openExisting); on failure it reports and returns nil with the exit code.
func openServed(ctx context.Context, getenv func(string) string, stderr io.Writer) (*config.Config, *store.Store, int) {
	cfg := loadConfig(getenv, stderr)
	if cfg == nil {
		return nil, nil, 2
	}
	st, err := openExisting(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return nil, nil, 1
	}
	return cfg, st, 0
}

// openExisting opens the database serve uses, for commands that work on what
// serve made: it creates nothing (no file, no dev environment), and refuses a
// database that is missing, empty, or behind this latchkey's migrations.
func openExisting(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	where := "LATCHKEY_DATABASE_URL"
	if path := cfg.SQLitePath(); path != "" {
		if where = path; !exists(path) {
			return nil, errNoDatabase(where)
		}
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	all, applied, err := st.MigrationStatus(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if len(applied) == 0 {
		st.Close()
		return nil, errNoDatabase(where)
	}
	if pending := len(all) - len(applied); pending > 0 {
		st.Close()
		return nil, fmt.Errorf("the database at %s is %d migration(s) behind this latchkey: run latchkey migrate up first", where, pending)
	}
	return st, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
