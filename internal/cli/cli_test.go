package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/keyrotation"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "latchkey ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := Main(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
}

func TestServeRefusesBadConfigNamingTheVariable(t *testing.T) {
	var out, errb bytes.Buffer
	env := map[string]string{"LATCHKEY_DATA_DIR": t.TempDir(), "LATCHKEY_LOG_FORMAT": "xml"}
	code := Main(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "LATCHKEY_LOG_FORMAT") {
		t.Errorf("code %d, stderr %q", code, errb.String())
	}
}

// serve starts on an empty directory, prints the generated secret key once,
// answers, and shuts down cleanly when its context ends (as on SIGTERM).
func TestServeStartsAndStops(t *testing.T) {
	env := map[string]string{"LATCHKEY_DATA_DIR": t.TempDir()}
	run := func() string {
		s := startServe(t, env)
		res, err := http.Get("http://" + s.addr + "/health")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("health: %v %v", res, err)
		}
		res.Body.Close()
		if code := s.stop(); code != 0 {
			t.Errorf("exit code %d", code)
		}
		return s.stdout.String()
	}
	if first := run(); !strings.Contains(first, "sk_dev_") || !strings.Contains(first, "shown only this once") {
		t.Errorf("first start did not print the key: %q", first)
	}
	if second := run(); strings.Contains(second, "sk_dev_") {
		t.Error("the key was printed again on restart")
	}
}

// cliRun runs latchkey commands with env as the environment.
func cliRun(env map[string]string) func(args ...string) (int, string, string) {
	return func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
		return code, out.String(), errb.String()
	}
}

func TestEnvCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LATCHKEY_DATA_DIR": dir}
	run := cliRun(env)
	// Before the first serve there is nothing to show, and nothing is created.
	if code, out, errs := run("env", "show"); code != 1 || out != "" || !strings.Contains(errs, "Run latchkey serve first") {
		t.Errorf("env show before serve: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "latchkey.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("env show created the database (%v)", err)
	}
	s := startServe(t, env)
	s.stop()
	if !strings.Contains(s.stdout.String(), "sk_dev_") {
		t.Fatalf("the first serve did not print the secret key: %q", s.stdout.String())
	}

	// Addresses, not names: checking a name would send a DNS query.
	code, out, errs := run("env", "set-webhook", "--url", "https://203.0.113.10/a", "--secondary-url", "https://203.0.113.10/b")
	if code != 0 || !strings.Contains(out, "https://203.0.113.10/a") || !strings.Contains(out, "https://203.0.113.10/b") {
		t.Fatalf("set-webhook: %d %q %q", code, out, errs)
	}
	_, shown, _ := run("env", "show")
	keyLine := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "webhook signing key") {
				return l
			}
		}
		return ""
	}
	if keyLine(shown) == "" || keyLine(shown) != keyLine(out) {
		t.Errorf("show: %q", shown)
	}
	_, rotated, _ := run("env", "rotate-signing-key")
	if keyLine(rotated) == keyLine(shown) {
		t.Error("rotate kept the key")
	}
	if code, _, errs := run("env", "set-webhook", "--url", "nope"); code != 1 || !strings.Contains(errs, "webhook_url") || strings.Contains(errs, "invalid_body") {
		t.Errorf("bad URL: %d %q", code, errs)
	}
	if code, _, errs := run("env", "set-webhook", "--secondary-url", "http://10.0.0.7/hooks"); code != 1 || !strings.Contains(errs, "webhook_secondary_url must point at a public address") {
		t.Errorf("private URL: %d %q", code, errs)
	}
	if code, _, errs := run("env", "set-webhook", "--secondary-url", ""); code != 0 {
		t.Errorf("clearing the secondary URL: %d %q", code, errs)
	} else if _, shown, _ := run("env", "show"); !strings.Contains(shown, "https://203.0.113.10/a") || strings.Contains(shown, "https://203.0.113.10/b") {
		t.Errorf("after clearing the secondary URL: %q", shown)
	}
	if code, _, errs := run("env", "show", "--env", "prod"); code != 1 || !strings.Contains(errs, `no environment "prod"`) {
		t.Errorf("unknown env: %d %q", code, errs)
	}
	if code, out, errs := run("env", "set-webhook"); code != 2 || out != "" || !strings.Contains(errs, "nothing to set") {
		t.Errorf("set-webhook without flags: %d %q %q", code, out, errs)
	}
	if code, _, errs := run("env", "bogus"); code != 2 || !strings.Contains(errs, `unknown subcommand "bogus"`) {
		t.Errorf("env bogus: %d %q", code, errs)
	}
	if code, _, errs := run("env", "show", "--url", "https://x.example.com"); code != 2 || !strings.Contains(errs, "-url") {
		t.Errorf("env show takes no --url: %d %q", code, errs)
	}
}

func TestMigrateAndBackupCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LATCHKEY_DATA_DIR": dir}
	run := cliRun(env)
	if code, out, _ := run("migrate", "status"); code != 3 || !strings.Contains(out, "every migration is pending") {
		t.Errorf("status before: %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "latchkey.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("migrate status created the database (%v)", err)
	}
	if code, out, errs := run("migrate", "up"); code != 0 || !regexp.MustCompile(`^sqlite: [0-9]+ migration\(s\) applied`).MatchString(out) || strings.Contains(out, "pending") {
		t.Errorf("up: %d %q %q", code, out, errs)
	}
	if code, out, _ := run("migrate", "status"); code != 0 || strings.Contains(out, "pending") || !strings.Contains(out, "0001  0001_init.sql") {
		t.Errorf("status after: %d %q", code, out)
	}
	backupFile := dir + "/backup.db"
	if code, out, errs := run("backup", backupFile); code != 0 || !strings.Contains(out, "backup written") {
		t.Fatalf("backup: %d %q %q", code, out, errs)
	}
	if code, _, errs := run("backup", backupFile); code != 1 || !strings.Contains(errs, "already exists") || strings.Contains(errs, "SQL") {
		t.Errorf("backup onto an existing file: %d %q", code, errs)
	}
	env["LATCHKEY_DATABASE_URL"] = "sqlite://" + backupFile
	if code, out, _ := run("migrate", "status"); code != 0 || strings.Contains(out, "pending") {
		t.Errorf("the backup is not a migrated database: %d %q", code, out)
	}
	if code, _, errs := run("copy", "--from", "sqlite://"+backupFile); code != 2 || !strings.Contains(errs, "Usage") {
		t.Errorf("copy without --to: %d %q", code, errs)
	}
	if code, _, errs := run("migrate", "sideways"); code != 2 || !strings.Contains(errs, `unknown subcommand "sideways"`) {
		t.Errorf("migrate sideways: %d %q", code, errs)
	}
}

// Before the first serve, the commands that work on serve's data say there is
// none yet and create nothing, so the first serve still creates dev and shows
// its secret key.
func TestCommandsBeforeServeCreateNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "latchkey-data")
	env := map[string]string{"LATCHKEY_DATA_DIR": dir}
	run := cliRun(env)
	for _, args := range [][]string{{"env", "show"}, {"env", "rotate-signing-key"}, {"env", "set-webhook", "--url", "https://hooks.example.com"},
		{"backup", filepath.Join(t.TempDir(), "b.db")}, {"keys", "status"}, {"keys", "rotate"}} {
		code, _, errs := run(args...)
		if code != 1 || !strings.Contains(errs, "Run latchkey serve first") {
			t.Errorf("%v: %d %q", args, code, errs)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s (%v)", args, dir, err)
		}
	}
	// migrate up creates the database (its job) but not dev: serve still prints the key.
	if code, _, errs := run("migrate", "up"); code != 0 {
		t.Fatalf("migrate up: %d %q", code, errs)
	}
	if code, _, errs := run("env", "show"); code != 1 || !strings.Contains(errs, `no "dev" environment yet`) {
		t.Errorf("env show after migrate up: %d %q", code, errs)
	}
	s := startServe(t, env)
	s.stop()
	if !strings.Contains(s.stdout.String(), "sk_dev_") {
		t.Errorf("serve after the other commands did not print the secret key: %q", s.stdout.String())
	}
}

// Every command answers --help (and help COMMAND) with its own usage on stdout,
// does nothing else, and succeeds.
func TestHelpForEveryCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "latchkey-data")
	run := cliRun(map[string]string{"LATCHKEY_DATA_DIR": dir})
	for _, c := range commands() {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			code, out, errs := run(args...)
			if code != 0 || out != c.usage() || errs != "" {
				t.Errorf("%v: %d %q %q", args, code, out, errs)
			}
		}
	}
	if code, out, _ := run("help", "serve"); code != 0 || !strings.Contains(out, "LATCHKEY_ADDR") {
		t.Errorf("help serve: %d %q", code, out)
	}
	for _, args := range [][]string{{"backup", "--help"}, {"env", "show", "--help"}, {"env", "set-webhook", "--help"}} {
		if code, out, _ := run(args...); code != 0 || strings.Contains(out, "\x00") {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("asking for help created %s", dir)
	}
	if _, err := os.Stat("--help"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup --help wrote a file named --help")
	}
	if code, _, errs := run("help", "bogus"); code != 2 || !strings.Contains(errs, `unknown command "bogus"`) {
		t.Errorf("help bogus: %d %q", code, errs)
	}
	if code, out, _ := run("help"); code != 0 || !strings.Contains(out, "latchkey COMMAND") {
		t.Errorf("help: %d %q", code, out)
	}
}

// keys status says which keys there are and what they seal, including nothing.
func TestKeysStatus(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LATCHKEY_DATA_DIR": dir}
	run := cliRun(env)
	startServe(t, env).stop()
	keys, err := keyrotation.ReadKeyFile(filepath.Join(dir, "encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := run("keys", "status")
	if code != 0 || !strings.Contains(out, "key "+secret.KeyID(keys[0])+" (primary: encrypts) seals 0 connection(s)") || !strings.Contains(out, "no credentials are stored yet") {
		t.Errorf("keys status: %d %q %q", code, out, errs)
	}
}

// served is a `latchkey serve` running in this process until stop.
type served struct {
	addr   string
	stdout *bytes.Buffer
	stop   func() int
}

// startServe runs serve with env and waits for its "ready" log line.
func startServe(t *testing.T, env map[string]string) served {
	t.Helper()
	env["LATCHKEY_LOG_FORMAT"] = "json"
	if env["LATCHKEY_ADDR"] == "" {
		env["LATCHKEY_ADDR"] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	out := &bytes.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve"}, func(k string) string { return env[k] }, out, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	var logs []string
	for addr == "" && sc.Scan() {
		logs = append(logs, sc.Text())
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "latchkey ready" {
			addr = line.Addr
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		cancel()
		t.Fatalf("serve exited with %d before it was ready:\n%s", <-done, strings.Join(logs, "\n"))
	}
	return served{addr: addr, stdout: out, stop: func() int { cancel(); return <-done }}
}

// With PostgreSQL and a configured key, serve has nothing to put in a data dir
// and creates none.
func TestServeOnPostgresCreatesNoDataDir(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "latchkey-data")
	key, _ := secret.GenerateKey()
	s := startServe(t, map[string]string{"LATCHKEY_DATABASE_URL": testdb.PostgresURL(t), "LATCHKEY_ENCRYPTION_KEY": secret.EncodeKey(key), "LATCHKEY_DATA_DIR": dataDir})
	if code := s.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(s.stdout.String(), "sk_dev_") {
		t.Errorf("the generated secret key was not printed: %q", s.stdout.String())
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve on PostgreSQL created %s (%v)", dataDir, err)
	}
}

// A start without the key a database was written with is refused, names the
// key id it needs, and leaves no new key file behind.
func TestStartWithoutTheKeyLeavesNoKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, map[string]string{"LATCHKEY_DATA_DIR": dir})
	s.stop()
	keys, err := keyrotation.ReadKeyFile(filepath.Join(dir, "encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(dir, "encryption.key"), filepath.Join(dir, "moved.key"))
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"serve"}, func(k string) string {
		return map[string]string{"LATCHKEY_DATA_DIR": dir, "LATCHKEY_ADDR": "127.0.0.1:0"}[k]
	}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), secret.KeyID(keys[0])) || !strings.Contains(errb.String(), "no encryption key") {
		t.Errorf("start without the key: %d %q", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "encryption.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stray key file was written (%v)", err)
	}
}

// A busy port stops serve before it creates the data dir, the database or a key.
func TestServeOnABusyPortCreatesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dataDir := filepath.Join(t.TempDir(), "latchkey-data")
	env := map[string]string{"LATCHKEY_DATA_DIR": dataDir, "LATCHKEY_ADDR": busy.Addr().String()}
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "cannot listen on LATCHKEY_ADDR "+busy.Addr().String()) {
		t.Errorf("busy port: %d %q", code, errb.String())
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) || out.Len() > 0 {
		t.Errorf("serve created %s (%v) or printed a key: %q", dataDir, err, out.String())
	}
}

// serve --help prints every setting (from the config table) and succeeds; an
// unknown flag says so once and exits 2.
func TestServeHelp(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"serve", "--help"}, func(string) string { return "" }, &out, &errb)
	if code != 0 || out.String() != config.Usage() || errb.Len() != 0 {
		t.Errorf("serve --help: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	code = Main(context.Background(), []string{"serve", "--adr", "x"}, func(string) string { return "" }, &out, &errb)
	if code != 2 || strings.Count(errb.String(), "-adr") != 1 || !strings.Contains(errb.String(), "serve --help") {
		t.Errorf("serve --adr: %d %q", code, errb.String())
	}
}
