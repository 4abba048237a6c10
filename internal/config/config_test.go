package config

import (
	"io"
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
	env := map[string]string{
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
		"LATCHKEY_WEBHOOK_ALLOWED_NETWORKS":   "10.0.0.0/8,intranet",
		"LATCHKEY_PROXY_MAX_RETRY_WAIT":       "soon",
		"LATCHKEY_CONNECT_FRAME_ANCESTORS":    "a; script-src *",
		"LATCHKEY_VERIFY_INTERVAL":            "1s",
		"LATCHKEY_SHUTDOWN_TIMEOUT":           "-",
		"LATCHKEY_CONNECT_PRIMARY_COLOR":      "blue",
		"LATCHKEY_PROXY_TIMEOUT":              "0",
		"LATCHKEY_DATABASE_MAX_CONNS":         "-1",
		"LATCHKEY_DATABASE_CONNECT_TIMEOUT":   "x",
		"LATCHKEY_DATABASE_STATEMENT_TIMEOUT": "1ms",
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
	if strings.Contains(err.Error(), "c2hvcnQ=") {
		t.Error("the error repeats the key")
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

func TestWebhookAllowedNetworks(t *testing.T) {
	c, err := load(map[string]string{"LATCHKEY_WEBHOOK_ALLOWED_NETWORKS": " 10.1.2.3/16, 127.0.0.1 ,fd00::/8,"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.WebhookAllowedNetworks {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.1.0.0/16 127.0.0.1/32 fd00::/8" {
		t.Errorf("networks = %v", got)
	}
	if c, _ := load(nil); c.WebhookAllowedNetworks != nil {
		t.Errorf("default = %v, want none", c.WebhookAllowedNetworks)
	}
}
