package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
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
	dir := t.TempDir()
	env := map[string]string{"LATCHKEY_DATA_DIR": dir, "LATCHKEY_ADDR": "127.0.0.1:0", "LATCHKEY_LOG_FORMAT": "json"}
	run := func() (string, string) {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		var out bytes.Buffer
		done := make(chan int)
		go func() { done <- Main(ctx, []string{"serve"}, func(k string) string { return env[k] }, &out, pw) }()
		sc := bufio.NewScanner(pr)
		var addr string
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "latchkey ready" {
				addr = line.Addr
				break
			}
		}
		go io.Copy(io.Discard, pr)
		res, err := http.Get("http://" + addr + "/health")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("health: %v %v", res, err)
		}
		res.Body.Close()
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit code %d", code)
		}
		pw.Close()
		return out.String(), addr
	}
	first, _ := run()
	if !strings.Contains(first, "sk_dev_") || !strings.Contains(first, "shown only this once") {
		t.Errorf("first start did not print the key: %q", first)
	}
	second, _ := run()
	if strings.Contains(second, "sk_dev_") {
		t.Error("the key was printed again on restart")
	}
}

func TestEnvCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LATCHKEY_DATA_DIR": dir, "LATCHKEY_SECRET_KEY": "sk_cli_test_0123456789abcdef0123456789ab"}
	getenv := func(k string) string { return env[k] }
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, getenv, &out, &errb)
		return code, out.String(), errb.String()
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
	if code, _, errs := run("env", "set-webhook", "--url", "nope"); code != 1 || !strings.Contains(errs, "webhook_url") {
		t.Errorf("bad URL: %d %q", code, errs)
	}
	if code, _, errs := run("env", "set-webhook", "--secondary-url", "http://10.0.0.7/hooks"); code != 1 || !strings.Contains(errs, "webhook_secondary_url must point at a public address") {
		t.Errorf("private URL: %d %q", code, errs)
	}
	if code, _, _ := run("env", "show", "--env", "prod"); code != 1 {
		t.Errorf("unknown env: %d", code)
	}
}

func TestMigrateAndBackupCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LATCHKEY_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, getenv, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, _ := run("migrate", "status"); code != 3 || !strings.Contains(out, "0001  0001_init.sql") || !strings.Contains(out, "pending") {
		t.Errorf("status before: %d %q", code, out)
	}
	if code, out, errs := run("migrate", "up"); code != 0 || !strings.Contains(out, "sqlite: 6 migration(s) applied") || strings.Contains(out, "pending") {
		t.Errorf("up: %d %q %q", code, out, errs)
	}
	if code, out, _ := run("migrate", "status"); code != 0 || strings.Contains(out, "pending") {
		t.Errorf("status after: %d %q", code, out)
	}
	backupFile := dir + "/backup.db"
	if code, out, errs := run("backup", backupFile); code != 0 || !strings.Contains(out, "backup written") {
		t.Fatalf("backup: %d %q %q", code, out, errs)
	}
	env["LATCHKEY_DATABASE_URL"] = "sqlite://" + backupFile
	if code, out, _ := run("migrate", "status"); code != 0 || strings.Contains(out, "pending") {
		t.Errorf("the backup is not a migrated database: %d %q", code, out)
	}
	if code, _, errs := run("copy", "--from", "sqlite://"+backupFile); code != 2 || !strings.Contains(errs, "Usage") {
		t.Errorf("copy without --to: %d %q", code, errs)
	}
}
