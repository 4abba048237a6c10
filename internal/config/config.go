// Package config loads latchkey's settings from the environment and flags into
// a typed, validated Config. Flags override environment variables; every secret
// setting also reads from a file named by its *_FILE variant.
//
// Each setting is written once, in Settings: its name, default, help and
// parser. The flags of `latchkey serve`, its --help, the error messages and the
// README's configuration table (checked by a test) all come from that table.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/httpx"
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
	EncryptionKeys        [][]byte
	SecretKey             secret.Secret
	WebhookURL            string
	ProvidersFile         string
	UpstreamRewrites      []upstream.Rewrite
	LogFormat             string
	LogLevel              string
	WebhookSigningKey     secret.Secret
	ProxyAllowedOrigins   []string
	ProxyMaxRetryWait     time.Duration
	ProxyTimeout          time.Duration
	ConnectFrameAncestors string
	ConnectPrimaryColor   string
	VerifyInterval        time.Duration
	ShutdownTimeout       time.Duration
	// EventRetention is how long the operation log keeps an event.
	EventRetention time.Duration
	// WebhookRetention is how long a finished webhook delivery stays listed.
	WebhookRetention time.Duration
	// WebhookAllowedNetworks are the non-public networks webhook URLs may reach.
	WebhookAllowedNetworks []netip.Prefix
	// ConnectSessionSingleUse ends a connect session at its first connection.
	ConnectSessionSingleUse bool
	// MetricsToken, when set, is the bearer token /metrics asks for.
	MetricsToken secret.Secret
	// MetricsAllowedNetworks, when set, are the client networks /metrics answers.
	MetricsAllowedNetworks []netip.Prefix
	// PprofAddr, when set, is a separate listener for net/http/pprof.
	PprofAddr string
	// TrustedProxies are the peers whose X-Forwarded-For header names the client.
	TrustedProxies []netip.Prefix
}

// Setting is one configuration variable.
type Setting struct {
	Env string
	// Default is the value parsed when the variable is unset ("" for none).
	Default string
	// DefaultDoc describes a default that is computed rather than a value; the
	// parser then receives "" when the variable is unset.
	DefaultDoc string
	// Secret settings are also read from the file named by Env+"_FILE", and
	// their values never appear in error messages.
	Secret bool
	// Help is one line of Markdown; `code` is shown without backticks in a terminal.
	Help string
	// See names the document that says more (a path in the repository).
	See string
	// Pending marks a setting that is validated but not in effect yet.
	Pending bool
	// parse checks v and stores it in c. Settings are parsed in table order, so
	// a parser may read what an earlier one stored.
	parse func(c *Config, v string) error
}

// Flag is the flag of `latchkey serve` that sets s: LATCHKEY_PUBLIC_URL is --public-url.
func (s Setting) Flag() string {
	return "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.Env, "LATCHKEY_")), "_", "-")
}

// DefaultText is the default as the docs show it ("" for none).
func (s Setting) DefaultText() string {
	if s.DefaultDoc != "" {
		return s.DefaultDoc
	}
	return s.Default
}

// Settings is the table of every variable, in the order the docs list them.
var Settings = []Setting{
	{Env: "LATCHKEY_ADDR", Default: "127.0.0.1:3003", Help: "listen address (host:port)",
		parse: into(func(c *Config) *string { return &c.Addr }, listenAddr)},
	{Env: "LATCHKEY_PUBLIC_URL", DefaultDoc: "http:// and LATCHKEY_ADDR", Help: "base URL for connect links, doc links and webhooks' origin",
		parse: publicURL},
	{Env: "LATCHKEY_DATA_DIR", Default: "./latchkey-data", Help: "directory of the SQLite file and the generated key file (0700/0600)",
		parse: into(func(c *Config) *string { return &c.DataDir }, dataDir)},
	{Env: "LATCHKEY_DATABASE_URL", DefaultDoc: "SQLite in the data dir", Secret: true,
		Help:  "`postgres://…` selects PostgreSQL (several instances can share it); `sqlite:///path` a SQLite file",
		parse: into(func(c *Config) *string { return &c.DatabaseURL }, databaseURL)},
	{Env: "LATCHKEY_DATABASE_MAX_CONNS", Default: "20", Help: "PostgreSQL connections per instance",
		parse: into(func(c *Config) *int { return &c.DatabaseMaxConns }, intRange(1, 1000))},
	{Env: "LATCHKEY_DATABASE_CONNECT_TIMEOUT", Default: "5s", Help: "how long connecting to PostgreSQL may take",
		parse: into(func(c *Config) *time.Duration { return &c.DatabaseConnectTimeout }, durationAtLeast(100*time.Millisecond))},
	{Env: "LATCHKEY_DATABASE_STATEMENT_TIMEOUT", Default: "15s", Help: "PostgreSQL `statement_timeout`",
		parse: into(func(c *Config) *time.Duration { return &c.DatabaseStatementTimeout }, durationAtLeast(100*time.Millisecond))},
	{Env: "LATCHKEY_ENCRYPTION_KEY", DefaultDoc: "generated once into the data dir", Secret: true,
		Help:  "base64 of 32 bytes; comma-separated keys form a ring, the first encrypts",
		See:   "docs/lifecycle.md",
		parse: into(func(c *Config) *[][]byte { return &c.EncryptionKeys }, encryptionKeys)},
	{Env: "LATCHKEY_SECRET_KEY", DefaultDoc: "generated, printed once", Secret: true,
		Help:  "a secret key of the default environment `dev`, added to its keys at start (one revoked stays revoked): at least 32 characters and 100 bits by the estimate below (`openssl rand -hex 32`)",
		See:   "docs/api.md#secret-keys",
		parse: into(func(c *Config) *secret.Secret { return &c.SecretKey }, secretKey)},
	{Env: "LATCHKEY_WEBHOOK_URL", Help: "webhook target of the default environment",
		See:   "docs/webhooks.md",
		parse: into(func(c *Config) *string { return &c.WebhookURL }, optional(httpURL))},
	{Env: "LATCHKEY_PROVIDERS_FILE", Help: "extra providers.yaml (Nango's own works unmodified); its entries replace built-in ones of the same name; entries latchkey cannot serve are listed, marked and refused",
		See:   "docs/compatibility.md",
		parse: into(func(c *Config) *string { return &c.ProvidersFile }, optional(existingFile))},
	{Env: "LATCHKEY_UPSTREAM_REWRITE",
		Help:  "`https://api.atlassian.com=http://127.0.0.1:9999,…`: send provider traffic for an origin elsewhere (tests, demos, egress gateways); `https://*.atlassian.net=…` matches every site, `https://*=…` every host; logged at start",
		parse: into(func(c *Config) *[]upstream.Rewrite { return &c.UpstreamRewrites }, upstream.ParseRewrites)},
	{Env: "LATCHKEY_LOG_FORMAT", DefaultDoc: "text on a terminal, else json", Help: "`text` or `json`",
		parse: into(func(c *Config) *string { return &c.LogFormat }, optional(oneOf("text", "json")))},
	{Env: "LATCHKEY_LOG_LEVEL", Default: "info", Help: "`debug`, `info`, `warn` or `error`",
		parse: into(func(c *Config) *string { return &c.LogLevel }, oneOf("debug", "info", "warn", "error"))},
	{Env: "LATCHKEY_WEBHOOK_SIGNING_KEY", DefaultDoc: "generated", Secret: true, Help: "signing key of `dev`'s webhooks (at least 16 characters)",
		See:   "docs/webhooks.md",
		parse: into(func(c *Config) *secret.Secret { return &c.WebhookSigningKey }, optional(token(16)))},
	{Env: "LATCHKEY_PROXY_ALLOWED_ORIGINS", Help: "origins a `Base-Url-Override` may point at, comma-separated",
		See:   "docs/proxy.md",
		parse: into(func(c *Config) *[]string { return &c.ProxyAllowedOrigins }, origins)},
	{Env: "LATCHKEY_PROXY_MAX_RETRY_WAIT", Default: "60s", Help: "longest single wait the proxy accepts before a retry",
		parse: into(func(c *Config) *time.Duration { return &c.ProxyMaxRetryWait }, durationAtLeast(0))},
	{Env: "LATCHKEY_PROXY_TIMEOUT", Default: "60s", Help: "how long the proxy waits for a provider's response headers, per attempt",
		parse: into(func(c *Config) *time.Duration { return &c.ProxyTimeout }, durationAtLeast(time.Millisecond))},
	{Env: "LATCHKEY_CONNECT_FRAME_ANCESTORS", Default: "*", Help: "who may embed the Connect UI in a frame (CSP `frame-ancestors`, space-separated)",
		See:   "docs/connect-ui.md",
		parse: into(func(c *Config) *string { return &c.ConnectFrameAncestors }, frameAncestors)},
	{Env: "LATCHKEY_CONNECT_PRIMARY_COLOR", Default: "#0052CC", Help: "accent colour of the Connect UI (`#rrggbb`)",
		parse: into(func(c *Config) *string { return &c.ConnectPrimaryColor }, color)},
	{Env: "LATCHKEY_CONNECT_SESSION_SINGLE_USE", Default: "false",
		Help:  "`true`: a connect session token stops working once it has created or updated a connection",
		parse: into(func(c *Config) *bool { return &c.ConnectSessionSingleUse }, boolean)},
	{Env: "LATCHKEY_VERIFY_INTERVAL", Default: "24h", Help: "how often every connection is re-verified",
		See:   "docs/lifecycle.md",
		parse: into(func(c *Config) *time.Duration { return &c.VerifyInterval }, durationAtLeast(time.Minute))},
	{Env: "LATCHKEY_EVENT_RETENTION", Default: "720h", Help: "how long the operation log (`GET /connections/{id}/events`) and the audit trail keep an entry; older ones are purged every 5 minutes",
		See:   "docs/deployment.md#retention",
		parse: into(func(c *Config) *time.Duration { return &c.EventRetention }, durationAtLeast(time.Hour))},
	{Env: "LATCHKEY_WEBHOOK_RETENTION", Default: "336h", Help: "how long a delivered or abandoned webhook (and its attempts) stays in the delivery list; pending ones stay until they finish",
		See:   "docs/deployment.md#retention",
		parse: into(func(c *Config) *time.Duration { return &c.WebhookRetention }, durationAtLeast(time.Hour))},
	{Env: "LATCHKEY_WEBHOOK_ALLOWED_NETWORKS",
		Help:  "non-public networks (private, loopback, link-local) webhook URLs may reach, comma-separated CIDRs such as `10.20.0.0/16`; webhooks to other non-public addresses are refused",
		parse: into(func(c *Config) *[]netip.Prefix { return &c.WebhookAllowedNetworks }, networks)},
	{Env: "LATCHKEY_METRICS_TOKEN", Secret: true,
		Help: "bearer token `GET /metrics` asks for (at least 16 characters); with neither this nor `LATCHKEY_METRICS_ALLOWED_NETWORKS` set, " +
			"`/metrics` answers loopback callers only",
		See:   "docs/metrics.md",
		parse: into(func(c *Config) *secret.Secret { return &c.MetricsToken }, optional(token(16)))},
	{Env: "LATCHKEY_METRICS_ALLOWED_NETWORKS",
		Help: "client networks `GET /metrics` answers (the TCP peer's address), comma-separated CIDRs such as `127.0.0.1/32,10.0.0.0/8`; " +
			"with a token as well, a scrape needs both",
		See:   "docs/metrics.md",
		parse: into(func(c *Config) *[]netip.Prefix { return &c.MetricsAllowedNetworks }, networks)},
	{Env: "LATCHKEY_PPROF_ADDR", DefaultDoc: "off",
		Help:  "`host:port` of a separate listener for Go's profiler (`net/http/pprof`); never the public listener: bind it to loopback or a private network",
		parse: pprofAddr},
	{Env: "LATCHKEY_TRUSTED_PROXIES",
		Help:  "load balancers or reverse proxies in front of latchkey, comma-separated CIDRs: their `X-Forwarded-For` names the client (whose failed authentications and console sign-ins are throttled, and whom the audit trail records); none: the peer address is the client",
		See:   "docs/deployment.md",
		parse: into(func(c *Config) *[]netip.Prefix { return &c.TrustedProxies }, networks)},
	{Env: "LATCHKEY_SHUTDOWN_TIMEOUT", Default: "15s", Help: "how long shutdown waits for requests in flight",
		parse: into(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, durationAtLeast(0))},
}

// ErrUsage wraps a command-line mistake (unknown flag, missing value, stray
// argument); Load has already said what it was on stderr.
var ErrUsage = errors.New("usage")

// Load reads the environment (through getenv) and then flags in args. Errors
// name the variable at fault; every problem is reported, not just the first.
// -h or --help returns flag.ErrHelp (print Usage); other flag mistakes are
// written to stderr and return an error wrapping ErrUsage.
func Load(getenv func(string) string, args []string, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	flags := make([]*string, len(Settings))
	for i, s := range Settings {
		flags[i] = fs.String(strings.TrimPrefix(s.Flag(), "--"), "", plain(s.Help))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		fmt.Fprintf(stderr, "latchkey serve: %v\nRun \"latchkey serve --help\" for the settings.\n", err)
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "latchkey serve: unexpected argument %q (settings are flags or LATCHKEY_* variables)\n", fs.Arg(0))
		return nil, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	c := &Config{}
	var errs []error
	for i, s := range Settings {
		v, err := s.lookup(getenv, flags[i], set[strings.TrimPrefix(s.Flag(), "--")])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		unset := v == ""
		if unset {
			v = s.Default
		}
		if err := s.parse(c, v); err != nil {
			errs = append(errs, s.describe(v, unset, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// lookup returns the raw value: the flag, else the variable, else the file its
// *_FILE variant names (secrets only), trimmed; "" when unset.
func (s Setting) lookup(getenv func(string) string, flagValue *string, flagSet bool) (string, error) {
	if flagSet {
		return strings.TrimSpace(*flagValue), nil
	}
	v := getenv(s.Env)
	if !s.Secret {
		return strings.TrimSpace(v), nil
	}
	file := getenv(s.Env + "_FILE")
	if file == "" {
		return strings.TrimSpace(v), nil
	}
	if v != "" {
		return "", fmt.Errorf("%s and %s_FILE are both set; use one", s.Env, s.Env)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", s.Env, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// describe names the variable and, unless it is secret, the value at fault.
func (s Setting) describe(v string, unset bool, err error) error {
	msg := s.Env
	if !s.Secret {
		msg += fmt.Sprintf(" %q", v)
	}
	msg += ": " + err.Error()
	if d := s.DefaultText(); d != "" && !unset {
		msg += " (default " + d + ")"
	}
	return errors.New(msg)
}

// Usage is the text of `latchkey serve --help`.
func Usage() string {
	var b strings.Builder
	b.WriteString(`Usage: latchkey serve [flags]

Runs the server. Every setting is an environment variable; the flag of the same
name wins over it. Settings marked "secret" can also be read from a file named by
the variable with _FILE appended (LATCHKEY_ENCRYPTION_KEY_FILE=/run/secrets/key).

`)
	for _, s := range Settings {
		fmt.Fprintf(&b, "  %s, %s", s.Flag(), s.Env)
		var notes []string
		if d := s.DefaultText(); d != "" {
			notes = append(notes, "default "+d)
		}
		if s.Secret {
			notes = append(notes, "secret")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, "; "))
		}
		b.WriteString("\n        " + plain(s.Help))
		if s.See != "" {
			b.WriteString("; see " + s.See)
		}
		if s.Pending {
			b.WriteString(" [" + pendingNote + "]")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n" + plain(SecretKeyEstimateDoc) + "\n")
	return b.String()
}

// plain turns the Markdown of help texts into terminal text.
func plain(markdown string) string { return strings.ReplaceAll(markdown, "`", "") }

const pendingNote = "validated, not in effect yet"

// MarkdownTable is the README's configuration table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, s := range Settings {
		name := "`" + s.Env + "`"
		if s.Secret {
			name += " (or `_FILE`)"
		}
		def := "none"
		switch {
		case s.DefaultDoc != "":
			def = s.DefaultDoc
		case s.Default != "":
			def = "`" + s.Default + "`"
		}
		help := strings.ReplaceAll(s.Help, "|", `\|`)
		if s.See != "" {
			doc, _, _ := strings.Cut(s.See, "#")
			help += " ([" + strings.TrimSuffix(filepath.Base(doc), ".md") + "](" + s.See + "))"
		}
		if s.Pending {
			help += " *(" + pendingNote + ")*"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, def, help)
	}
	return b.String()
}

// into makes a parser that stores parse's result in the field f points at.
func into[T any](f func(*Config) *T, parse func(string) (T, error)) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := parse(v)
		if err != nil {
			return err
		}
		*f(c) = x
		return nil
	}
}

// optional lets "" (unset, no default) through as the zero value.
func optional[T any](parse func(string) (T, error)) func(string) (T, error) {
	return func(v string) (T, error) {
		if v == "" {
			var zero T
			return zero, nil
		}
		return parse(v)
	}
}

func listenAddr(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil || port == "" {
		return "", errors.New("must be host:port, e.g. 127.0.0.1:3003")
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("host %q is not a host name or IP address", host)
	}
	return v, nil
}

// publicURL defaults to the listen address (loopback for a wildcard one).
func publicURL(c *Config, v string) error {
	if v == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
		return nil
	}
	v = strings.TrimRight(v, "/")
	if u, ok := httpx.ParseHTTPURL(v); !ok || u.RawQuery != "" {
		return errors.New("must be an absolute http(s) URL such as https://auth.example.com")
	}
	c.PublicURL = v
	return nil
}

// dataDir is made absolute; it need not exist yet (serve creates it when it needs it).
func dataDir(v string) (string, error) {
	if st, err := os.Stat(v); err == nil && !st.IsDir() {
		return "", errors.New("is a file, not a directory")
	}
	return filepath.Abs(v)
}

func databaseURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", errors.New("not a URL (want sqlite:///path or postgres://…)")
	case u.Scheme == "sqlite" && u.Path == "":
		return "", errors.New("a sqlite URL needs a path: sqlite:///var/lib/latchkey/latchkey.db")
	case u.Scheme != "sqlite" && u.Scheme != "postgres" && u.Scheme != "postgresql":
		return "", fmt.Errorf("scheme %q is not supported (sqlite or postgres)", u.Scheme)
	}
	return v, nil
}

func intRange(lo, hi int) func(string) (int, error) {
	return func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("must be a number from %d to %d", lo, hi)
		}
		return n, nil
	}
}

func durationAtLeast(lo time.Duration) func(string) (time.Duration, error) {
	return func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo {
			return 0, fmt.Errorf("must be a duration (such as 90s, 15m or 24h) of at least %s", lo)
		}
		return d, nil
	}
}

func boolean(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}

func encryptionKeys(v string) ([][]byte, error) {
	if v == "" {
		return nil, nil
	}
	return secret.ParseKeys(v)
}

func secretKey(v string) (secret.Secret, error) {
	if v == "" {
		return "", nil
	}
	if len(v) < 32 || strings.ContainsAny(v, " \t\r\n") {
		return "", errors.New("must be at least 32 characters without spaces (e.g. openssl rand -hex 32)")
	}
	if bits := EstimateEntropy(v); bits < MinSecretKeyBits {
		return "", fmt.Errorf("is too easy to guess: about %.0f bits by latchkey's estimate, at least %d needed; use a random value such as openssl rand -hex 32", bits, MinSecretKeyBits)
	}
	return secret.Secret(v), nil
}

func token(minLen int) func(string) (secret.Secret, error) {
	return func(v string) (secret.Secret, error) {
		if len(v) < minLen || strings.ContainsAny(v, " \t\r\n") {
			return "", fmt.Errorf("must be at least %d characters without spaces", minLen)
		}
		return secret.Secret(v), nil
	}
}

func httpURL(v string) (string, error) {
	if !httpx.IsHTTPURL(v) {
		return "", errors.New("must be an absolute http(s) URL")
	}
	return v, nil
}

func existingFile(v string) (string, error) {
	if _, err := os.Stat(v); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return "", pe.Err // the path is already in the message
		}
		return "", err
	}
	return v, nil
}

func oneOf(allowed ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, a := range allowed {
			if v == a {
				return v, nil
			}
		}
		return "", fmt.Errorf("must be %s or %s", strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1])
	}
}

func origins(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if u, ok := httpx.ParseHTTPURL(o); !ok || u.Path != "" {
			return nil, fmt.Errorf("%q is not an origin (scheme://host[:port])", o)
		}
		out = append(out, o)
	}
	return out, nil
}

// networks parses comma-separated CIDRs; a bare address is one host.
func networks(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if a, err := netip.ParseAddr(n); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network (CIDR such as 10.0.0.0/8 or fd00::/8, or one address)", n)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("%q has bits set past its prefix length; did you mean %s?", n, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}

func frameAncestors(v string) (string, error) {
	if strings.ContainsAny(v, ";,\r\n") {
		return "", errors.New("must be a space-separated list of sources (no ; or ,)")
	}
	return v, nil
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func color(v string) (string, error) {
	if !colorRE.MatchString(v) {
		return "", errors.New("must be a colour like #0052CC")
	}
	return v, nil
}

func pprofAddr(c *Config, v string) error {
	if v == "" {
		return nil
	}
	if _, err := listenAddr(v); err != nil {
		return err
	}
	if _, port, _ := net.SplitHostPort(v); port == "0" {
		return errors.New("needs a fixed port")
	}
	if v == c.Addr {
		return errors.New("must not be LATCHKEY_ADDR: the profiler never shares the public listener")
	}
	c.PprofAddr = v
	return nil
}

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
