package config

import (
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(env map[string]string, args ...string) (*Config, error) {
	return Load(func(k string) string { return env[k] }, args, io.Discard)
}

func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:3003" || c.PublicURL != "http://127.0.0.1:3003" || !filepath.IsAbs(c.DataDir) || filepath.Base(c.DataDir) != "latchkey-data" ||
		c.ProxyMaxRetryWait != time.Minute || c.VerifyInterval != 24*time.Hour || c.ConnectFrameAncestors != "*" || c.EncryptionKeys != nil || c.SecretKey != "" {
		t.Errorf("defaults = %+v", c)
	}
	if c.SQLitePath() != filepath.Join(c.DataDir, "latchkey.db") {
		t.Errorf("sqlite path %q", c.SQLitePath())
	}
	c, _ = load(map[string]string{"LATCHKEY_ADDR": "0.0.0.0:8080"})
	if c.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("public URL for 0.0.0.0: %q", c.PublicURL)
	}
}

func TestEveryBadValueIsNamed(t *testing.T) {
	aFile := filepath.Join(t.TempDir(), "file")
	os.WriteFile(aFile, nil, 0o600)
	env := map[string]string{
		"LATCHKEY_DATA_DIR":                   aFile,
		"LATCHKEY_ADDR":                       "nope",
		"LATCHKEY_PUBLIC_URL":                 "ftp://x",
		"LATCHKEY_DATABASE_URL":               "mysql://x",
		"LATCHKEY_ENCRYPTION_KEY":             "c2hvcnQ=",
		"LATCHKEY_SECRET_KEY":                 "short",
		"LATCHKEY_WEBHOOK_URL":                "not a url",
		"LATCHKEY_PROVIDERS_FILE":             "/nonexistent/providers.yaml",
		"LATCHKEY_UPSTREAM_REWRITE":           "https://api.atlassian.com",
		"LATCHKEY_LOG_FORMAT":                 "xml",
		"LATCHKEY_LOG_LEVEL":                  "loud",
		"LATCHKEY_WEBHOOK_SIGNING_KEY":        "short",
		"LATCHKEY_PROXY_ALLOWED_ORIGINS":      "https://ok.example.com,https://x.com/path",
		"LATCHKEY_PROXY_MAX_RETRY_WAIT":       "soon",
		"LATCHKEY_CONNECT_FRAME_ANCESTORS":    "a; script-src *",
		"LATCHKEY_VERIFY_INTERVAL":            "1s",
		"LATCHKEY_SHUTDOWN_TIMEOUT":           "-",
		"LATCHKEY_CONNECT_PRIMARY_COLOR":      "blue",
		"LATCHKEY_PROXY_TIMEOUT":              "0",
		"LATCHKEY_DATABASE_MAX_CONNS":         "-1",
		"LATCHKEY_DATABASE_CONNECT_TIMEOUT":   "x",
		"LATCHKEY_DATABASE_STATEMENT_TIMEOUT": "1ms",
		"LATCHKEY_EVENT_RETENTION":            "1m",
		"LATCHKEY_WEBHOOK_RETENTION":          "two weeks",
		"LATCHKEY_WEBHOOK_ALLOWED_NETWORKS":   "10.0.0.0/8,10.1.2.3/8",
		"LATCHKEY_CONNECT_SESSION_SINGLE_USE": "sometimes",
		"LATCHKEY_METRICS_TOKEN":              "tiny",
		"LATCHKEY_METRICS_ALLOWED_NETWORKS":   "intranet",
		"LATCHKEY_PPROF_ADDR":                 "localhost",
		"LATCHKEY_TRUSTED_PROXIES":            "the load balancer",
	}
	_, err := load(env)
	if err == nil {
		t.Fatal("accepted")
	}
	for name := range env {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	for _, s := range Settings {
		if _, bad := env[s.Env]; !bad {
			t.Errorf("%s has no bad value in this test", s.Env)
		}
	}
	for _, secret := range []string{"c2hvcnQ=", "tiny"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error repeats the secret %q", secret)
		}
	}
}

func TestFlagsOverrideEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"), 0o600)
	c, err := load(map[string]string{"LATCHKEY_ADDR": "127.0.0.1:1111", "LATCHKEY_ENCRYPTION_KEY_FILE": keyFile}, "--addr", "127.0.0.1:2222", "--public-url", "https://auth.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:2222" || c.PublicURL != "https://auth.example.com" || len(c.EncryptionKeys) != 1 || string(c.EncryptionKeys[0]) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("config = %+v", c)
	}
	_, err = load(map[string]string{"LATCHKEY_SECRET_KEY": strings.Repeat("x", 40), "LATCHKEY_SECRET_KEY_FILE": keyFile})
	if err == nil || !strings.Contains(err.Error(), "LATCHKEY_SECRET_KEY and LATCHKEY_SECRET_KEY_FILE") {
		t.Errorf("both set: %v", err)
	}
	if _, err := load(nil, "--no-such-flag"); err == nil {
		t.Error("unknown flag accepted")
	}
	c, err = load(map[string]string{"LATCHKEY_DATABASE_URL": "sqlite:///var/lib/latchkey/db.sqlite"})
	if err != nil || c.SQLitePath() != "/var/lib/latchkey/db.sqlite" {
		t.Errorf("sqlite URL: %v %v", c, err)
	}
}

// The settings other parts of latchkey are about to use: typed, with their defaults.
func TestNewSettingsAreTyped(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.EventRetention != 720*time.Hour || c.WebhookRetention != 336*time.Hour || c.WebhookAllowedNetworks != nil || c.ConnectSessionSingleUse ||
		c.MetricsToken != "" || c.MetricsAllowedNetworks != nil || c.PprofAddr != "" {
		t.Errorf("defaults: %+v", c)
	}
	tokenFile := filepath.Join(t.TempDir(), "metrics-token")
	os.WriteFile(tokenFile, []byte("metrics-0123456789abcdef\n"), 0o600)
	c, err = load(map[string]string{
		"LATCHKEY_EVENT_RETENTION":            "48h",
		"LATCHKEY_WEBHOOK_RETENTION":          "24h",
		"LATCHKEY_WEBHOOK_ALLOWED_NETWORKS":   "10.20.0.0/16, 192.168.1.7,fd00::/8",
		"LATCHKEY_CONNECT_SESSION_SINGLE_USE": "true",
		"LATCHKEY_METRICS_TOKEN_FILE":         tokenFile,
		"LATCHKEY_METRICS_ALLOWED_NETWORKS":   "127.0.0.1/32",
		"LATCHKEY_PPROF_ADDR":                 "127.0.0.1:6060",
	})
	if err != nil {
		t.Fatal(err)
	}
	nets := func(ps []netip.Prefix) (out []string) {
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	if c.EventRetention != 48*time.Hour || c.WebhookRetention != 24*time.Hour || !c.ConnectSessionSingleUse ||
		c.MetricsToken.Reveal() != "metrics-0123456789abcdef" || c.PprofAddr != "127.0.0.1:6060" ||
		strings.Join(nets(c.WebhookAllowedNetworks), " ") != "10.20.0.0/16 192.168.1.7/32 fd00::/8" ||
		strings.Join(nets(c.MetricsAllowedNetworks), " ") != "127.0.0.1/32" {
		t.Errorf("parsed: %+v", c)
	}
	if _, err := load(map[string]string{"LATCHKEY_PPROF_ADDR": "127.0.0.1:3003"}); err == nil || !strings.Contains(err.Error(), "public listener") {
		t.Errorf("pprof on the public listener: %v", err)
	}
	if _, err := load(map[string]string{"LATCHKEY_WEBHOOK_ALLOWED_NETWORKS": "10.1.2.3/8"}); err == nil || !strings.Contains(err.Error(), "did you mean 10.0.0.0/8") {
		t.Errorf("host bits: %v", err)
	}
}

// A listen address is refused when its port cannot be, before anything is created.
func TestListenAddressPortIsChecked(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:http-ish", ":"} {
		if _, err := load(map[string]string{"LATCHKEY_ADDR": addr}); err == nil || !strings.Contains(err.Error(), "LATCHKEY_ADDR") {
			t.Errorf("%s accepted: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:3003", ":8080", "localhost:65535"} {
		if _, err := load(map[string]string{"LATCHKEY_ADDR": addr}); err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
	}
}

// An operator-chosen secret key that is short or easy to guess stops the start,
// and the message never repeats it.
func TestWeakSecretKeysAreRefused(t *testing.T) {
	weak := []string{
		strings.Repeat("a", 40),                 // one repeated character
		"passwordpasswordpasswordpassword",      // a word, repeated
		"mysupersecretpasswordforlatchkey1",     // a phrase of common words
		"correcthorsebatterystaplecorrecthorse", // words, one case
		"0123456789abcdef0123456789abcdef",      // a pattern, twice
		"12345678901234567890123456789012",      // digits, repeating
		"sk_short_0123456789",                   // short
	}
	for _, k := range weak {
		_, err := load(map[string]string{"LATCHKEY_SECRET_KEY": k})
		if err == nil || !strings.Contains(err.Error(), "LATCHKEY_SECRET_KEY") {
			t.Errorf("%q accepted (estimate %.0f bits)", k, EstimateEntropy(k))
			continue
		}
		if strings.Contains(err.Error(), k) {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	strong := []string{
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // openssl rand -hex 32
		"3f2a9c1e7b4d8a6f0e5c2b9d1a7f4e3c",                                 // openssl rand -hex 16
		"sk_dev_q3Jd8Zr0XyLk2PvT9wNbH4sG7mCe1Ua6fRo5iVtYhQx",               // the shape latchkey generates
		"8cB/4Qz1+Jp0kWm7sR2vXy9nL3tHgF6dA5eU0iOqZ1c=",                     // openssl rand -base64 32
	}
	for _, k := range strong {
		if _, err := load(map[string]string{"LATCHKEY_SECRET_KEY": k}); err != nil {
			t.Errorf("%q refused (estimate %.0f bits): %v", k, EstimateEntropy(k), err)
		}
	}
}

// serve --help: every setting's flag, variable, default and help, from the table.
func TestHelpListsEverySetting(t *testing.T) {
	if _, err := load(nil, "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	var stderr strings.Builder
	if _, err := Load(func(string) string { return "" }, []string{"--adr", "x"}, &stderr); !errors.Is(err, ErrUsage) || !strings.Contains(stderr.String(), "-adr") {
		t.Errorf("unknown flag: %v %q", err, stderr.String())
	}
	usage := Usage()
	for _, s := range Settings {
		for _, want := range []string{s.Flag() + ", " + s.Env, plain(s.Help), s.DefaultText()} {
			if !strings.Contains(usage, want) {
				t.Errorf("usage lacks %q", want)
			}
		}
	}
}
