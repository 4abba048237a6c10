// Package config loads latchkey's settings from the environment and flags into
// a typed, validated Config. Flags override environment variables; every secret
// setting also reads from a file named by its *_FILE variant.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/upstream"
)

// Config is every setting of `latchkey serve`.
type Config struct {
	Addr      string
	PublicURL string
	DataDir   string
	// DatabaseURL is "sqlite:///abs/path" or "postgres://…"; empty means SQLite in DataDir.
	DatabaseURL string
	// PostgreSQL pool settings.
	DatabaseMaxConns         int
	DatabaseConnectTimeout   time.Duration
	DatabaseStatementTimeout time.Duration
	// EncryptionKeys is the key ring (first encrypts); nil means the key file in DataDir.
	EncryptionKeys    [][]byte
	SecretKey         secret.Secret
	WebhookURL        string
	ProvidersFile     string
	UpstreamRewrites  []upstream.Rewrite
	LogFormat         string
	LogLevel          string
	WebhookSigningKey secret.Secret
	// WebhookAllowedNetworks are non-public networks webhook URLs set through
	// the API may point at anyway (LATCHKEY_WEBHOOK_ALLOWED_NETWORKS).
	WebhookAllowedNetworks []netip.Prefix
	ProxyAllowedOrigins    []string
	ProxyMaxRetryWait      time.Duration
	ProxyTimeout           time.Duration
	ConnectFrameAncestors  string
	ConnectPrimaryColor    string
	VerifyInterval         time.Duration
	ShutdownTimeout        time.Duration
}

// Setting describes one configuration variable (for flags, docs and errors).
type Setting struct {
	Env     string
	Default string
	Secret  bool // also read from Env+"_FILE"
	Help    string
}

// Settings is the table of every variable, in the order the docs list them.
var Settings = []Setting{
	{"LATCHKEY_ADDR", "127.0.0.1:3003", false, "listen address (host:port)"},
	{"LATCHKEY_PUBLIC_URL", "http://<addr>", false, "base URL for connect links, doc links and webhooks' origin"},
	{"LATCHKEY_DATA_DIR", "./latchkey-data", false, "directory for the SQLite file and the generated key file"},
	{"LATCHKEY_DATABASE_URL", "SQLite in the data dir", true, "postgres://… selects PostgreSQL; sqlite:///path a SQLite file"},
	{"LATCHKEY_DATABASE_MAX_CONNS", "20", false, "PostgreSQL connections per instance"},
	{"LATCHKEY_DATABASE_CONNECT_TIMEOUT", "5s", false, "how long connecting to PostgreSQL may take"},
	{"LATCHKEY_DATABASE_STATEMENT_TIMEOUT", "15s", false, "PostgreSQL statement_timeout"},
	{"LATCHKEY_ENCRYPTION_KEY", "generated once into the data dir", true, "base64 of 32 bytes; comma-separated keys form a ring, the first encrypts"},
	{"LATCHKEY_SECRET_KEY", "generated, printed once", true, "secret key of the default environment dev (at least 32 characters)"},
	{"LATCHKEY_WEBHOOK_URL", "", false, "webhook target of the default environment"},
	{"LATCHKEY_PROVIDERS_FILE", "", false, "extra providers.yaml; its entries replace built-in ones of the same name"},
	{"LATCHKEY_UPSTREAM_REWRITE", "", false, "FROM=TO origin rewrites for provider traffic, comma-separated (tests, demos, egress gateways)"},
	{"LATCHKEY_LOG_FORMAT", "text on a terminal, else json", false, "text or json"},
	{"LATCHKEY_LOG_LEVEL", "info", false, "debug, info, warn or error"},
	{"LATCHKEY_WEBHOOK_SIGNING_KEY", "generated", true, "signing key of dev's webhooks"},
	{"LATCHKEY_WEBHOOK_ALLOWED_NETWORKS", "", false, "non-public networks (CIDR, comma-separated) webhook URLs set through the API may point at"},
	{"LATCHKEY_PROXY_ALLOWED_ORIGINS", "", false, "origins a Base-Url-Override may point at, comma-separated"},
	{"LATCHKEY_PROXY_MAX_RETRY_WAIT", "60s", false, "longest single wait the proxy accepts before a retry"},
	{"LATCHKEY_PROXY_TIMEOUT", "60s", false, "how long the proxy waits for a provider's response headers, per attempt"},
	{"LATCHKEY_CONNECT_FRAME_ANCESTORS", "*", false, "who may embed the Connect UI in a frame (CSP frame-ancestors)"},
	{"LATCHKEY_CONNECT_PRIMARY_COLOR", "#0052CC", false, "accent colour of the Connect UI (#rrggbb)"},
	{"LATCHKEY_VERIFY_INTERVAL", "24h", false, "how often every connection is re-verified"},
	{"LATCHKEY_SHUTDOWN_TIMEOUT", "15s", false, "how long shutdown waits for requests in flight"},
}

func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "LATCHKEY_")), "_", "-")
}

// Load reads the environment (through getenv) and then flags in args. Errors
// name the variable at fault; every problem is reported, not just the first.
func Load(getenv func(string) string, args []string, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := map[string]*string{}
	for _, s := range Settings {
		flags[s.Env] = fs.String(flagName(s.Env), "", fmt.Sprintf("%s (env %s; default %s)", s.Help, s.Env, orNone(s.Default)))
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var errs []error
	get := func(env string) string {
		if set[flagName(env)] {
			return *flags[env]
		}
		v := getenv(env)
		if file := getenv(env + "_FILE"); file != "" {
			if v != "" {
				errs = append(errs, fmt.Errorf("%s and %s_FILE are both set; use one", env, env))
			}
			b, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", env, err))
				return ""
			}
			v = strings.TrimSpace(string(b))
		}
		return strings.TrimSpace(v)
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}

	c := &Config{}
	c.Addr = or(get("LATCHKEY_ADDR"), "127.0.0.1:3003")
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("LATCHKEY_ADDR %q must be host:port, e.g. 127.0.0.1:3003", c.Addr))
	}
	c.PublicURL = strings.TrimRight(get("LATCHKEY_PUBLIC_URL"), "/")
	if c.PublicURL == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("LATCHKEY_PUBLIC_URL %q must be an absolute http(s) URL such as https://auth.example.com", c.PublicURL))
	}
	c.DataDir = or(get("LATCHKEY_DATA_DIR"), "./latchkey-data")
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	c.DatabaseURL = get("LATCHKEY_DATABASE_URL")
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		switch {
		case err != nil:
			errs = append(errs, errors.New("LATCHKEY_DATABASE_URL is not a URL (want sqlite:///path or postgres://…)"))
		case u.Scheme == "sqlite" && u.Path == "":
			errs = append(errs, errors.New("LATCHKEY_DATABASE_URL sqlite URL needs a path: sqlite:///var/lib/latchkey/latchkey.db"))
		case u.Scheme != "sqlite" && u.Scheme != "postgres" && u.Scheme != "postgresql":
			errs = append(errs, fmt.Errorf("LATCHKEY_DATABASE_URL scheme %q is not supported (sqlite or postgres)", u.Scheme))
		}
	}
	c.DatabaseMaxConns = 20
	if v := get("LATCHKEY_DATABASE_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, fmt.Errorf("LATCHKEY_DATABASE_MAX_CONNS %q must be a number from 1 to 1000", v))
		}
		c.DatabaseMaxConns = n
	}
	if v := get("LATCHKEY_ENCRYPTION_KEY"); v != "" {
		keys, err := secret.ParseKeys(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LATCHKEY_ENCRYPTION_KEY: %w", err))
		}
		c.EncryptionKeys = keys
	}
	if v := get("LATCHKEY_SECRET_KEY"); v != "" {
		if len(v) < 32 || strings.ContainsAny(v, " \t\r\n") {
			errs = append(errs, errors.New("LATCHKEY_SECRET_KEY must be at least 32 characters without spaces (e.g. openssl rand -hex 32)"))
		}
		c.SecretKey = secret.Secret(v)
	}
	c.WebhookURL = get("LATCHKEY_WEBHOOK_URL")
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("LATCHKEY_WEBHOOK_URL %q must be an absolute http(s) URL", c.WebhookURL))
		}
	}
	c.ProvidersFile = get("LATCHKEY_PROVIDERS_FILE")
	if c.ProvidersFile != "" {
		if _, err := os.Stat(c.ProvidersFile); err != nil {
			errs = append(errs, fmt.Errorf("LATCHKEY_PROVIDERS_FILE: %w", err))
		}
	}
	if v := get("LATCHKEY_UPSTREAM_REWRITE"); v != "" {
		rw, err := upstream.ParseRewrites(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LATCHKEY_UPSTREAM_REWRITE: %w", err))
		}
		c.UpstreamRewrites = rw
	}
	c.LogFormat = get("LATCHKEY_LOG_FORMAT")
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LATCHKEY_LOG_FORMAT %q must be text or json", c.LogFormat))
	}
	c.LogLevel = or(get("LATCHKEY_LOG_LEVEL"), "info")
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LATCHKEY_LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel))
	}
	if v := get("LATCHKEY_WEBHOOK_SIGNING_KEY"); v != "" {
		if len(v) < 16 {
			errs = append(errs, errors.New("LATCHKEY_WEBHOOK_SIGNING_KEY must be at least 16 characters"))
		}
		c.WebhookSigningKey = secret.Secret(v)
	}
	for _, n := range strings.Split(get("LATCHKEY_WEBHOOK_ALLOWED_NETWORKS"), ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(n)
		if err != nil {
			// A bare address is a network of one.
			if a, aerr := netip.ParseAddr(n); aerr == nil && a.Zone() == "" {
				pfx, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("LATCHKEY_WEBHOOK_ALLOWED_NETWORKS: %q is not a network (CIDR like 10.1.0.0/16 or fd00::/8, or one address)", n))
			continue
		}
		c.WebhookAllowedNetworks = append(c.WebhookAllowedNetworks, pfx.Masked())
	}
	for _, o := range strings.Split(get("LATCHKEY_PROXY_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			errs = append(errs, fmt.Errorf("LATCHKEY_PROXY_ALLOWED_ORIGINS: %q is not an origin (scheme://host[:port])", o))
			continue
		}
		c.ProxyAllowedOrigins = append(c.ProxyAllowedOrigins, o)
	}
	duration := func(env, def string, min time.Duration) time.Duration {
		v := or(get(env), def)
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			errs = append(errs, fmt.Errorf("%s %q must be a duration of at least %s, e.g. %s", env, v, min, def))
		}
		return d
	}
	c.ProxyMaxRetryWait = duration("LATCHKEY_PROXY_MAX_RETRY_WAIT", "60s", 0)
	c.ProxyTimeout = duration("LATCHKEY_PROXY_TIMEOUT", "60s", time.Millisecond)
	c.VerifyInterval = duration("LATCHKEY_VERIFY_INTERVAL", "24h", time.Minute)
	c.ShutdownTimeout = duration("LATCHKEY_SHUTDOWN_TIMEOUT", "15s", 0)
	c.DatabaseConnectTimeout = duration("LATCHKEY_DATABASE_CONNECT_TIMEOUT", "5s", 100*time.Millisecond)
	c.DatabaseStatementTimeout = duration("LATCHKEY_DATABASE_STATEMENT_TIMEOUT", "15s", 100*time.Millisecond)
	c.ConnectFrameAncestors = or(get("LATCHKEY_CONNECT_FRAME_ANCESTORS"), "*")
	if strings.ContainsAny(c.ConnectFrameAncestors, ";,\r\n") {
		errs = append(errs, errors.New("LATCHKEY_CONNECT_FRAME_ANCESTORS must be a space-separated list of sources (no ; or ,)"))
	}
	c.ConnectPrimaryColor = or(get("LATCHKEY_CONNECT_PRIMARY_COLOR"), "#0052CC")
	if !colorRE.MatchString(c.ConnectPrimaryColor) {
		errs = append(errs, fmt.Errorf("LATCHKEY_CONNECT_PRIMARY_COLOR %q must be a colour like #0052CC", c.ConnectPrimaryColor))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// SQLitePath returns the SQLite file to use, or "" when the database is PostgreSQL.
func (c *Config) SQLitePath() string {
	if c.DatabaseURL == "" {
		return filepath.Join(c.DataDir, "latchkey.db")
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && u.Scheme == "sqlite" {
		return u.Path
	}
	return ""
}

// KeyFile is where a generated encryption key lives.
func (c *Config) KeyFile() string { return filepath.Join(c.DataDir, "encryption.key") }

// EnvNames lists every variable name, sorted (for docs and tests).
func EnvNames() []string {
	out := make([]string, len(Settings))
	for i, s := range Settings {
		out[i] = s.Env
	}
	sort.Strings(out)
	return out
}
