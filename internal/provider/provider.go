// Package provider is latchkey's provider catalogue: entries in the schema of
// Nango's providers.yaml (embedded built-ins plus an optional file), the field
// validation their schemas imply, and ${...} template interpolation.
package provider

import (
	"embed"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
)

//go:embed providers/providers.yaml
var builtinYAML []byte

//go:embed providers/logos/*.svg
var logos embed.FS

// Logo returns the SVG logo of a provider, or a neutral one when it has none.
func Logo(name string) []byte {
	if b, err := logos.ReadFile("providers/logos/" + name + ".svg"); err == nil && nameRE.MatchString(name) {
		return b
	}
	b, _ := logos.ReadFile("providers/logos/_default.svg")
	return b
}

// BuiltinYAML returns the embedded catalogue source.
func BuiltinYAML() []byte { return builtinYAML }

// Field is one entry of a provider's connection_config or credentials map.
type Field struct {
	Name         string   `yaml:"-"`
	Type         string   `yaml:"type"`
	Title        string   `yaml:"title"`
	Description  string   `yaml:"description"`
	Example      string   `yaml:"example"`
	Pattern      string   `yaml:"pattern"`
	Format       string   `yaml:"format"`
	Optional     bool     `yaml:"optional"`
	Order        int      `yaml:"order"`
	DefaultValue string   `yaml:"default_value"`
	Hidden       bool     `yaml:"hidden"`
	Automated    bool     `yaml:"automated"`
	Prefix       string   `yaml:"prefix"`
	Suffix       string   `yaml:"suffix"`
	DocSection   string   `yaml:"doc_section"`
	Secret       bool     `yaml:"secret"`
	Enum         []string `yaml:"enum"`

	re *regexp.Regexp
}

// Label is the human name of the field.
func (f *Field) Label() string {
	if f.Title != "" {
		return f.Title
	}
	return f.Name
}

// Fields keeps the order in which the YAML lists them; the Connect UI shows them in it.
type Fields []*Field

// UnmarshalYAML decodes a mapping of name → field, keeping the order.
func (fs *Fields) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of field names to fields", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f := &Field{}
		if err := n.Content[i+1].Decode(f); err != nil {
			return fmt.Errorf("field %s: %w", n.Content[i].Value, err)
		}
		f.Name = n.Content[i].Value
		*fs = append(*fs, f)
	}
	return nil
}

// Get returns the named field.
func (fs Fields) Get(name string) (*Field, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// StringList accepts either a single string or a list of strings.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = StringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// Retry describes how the provider signals when to retry.
type Retry struct {
	At        StringList `yaml:"at"`
	After     StringList `yaml:"after"`
	Remaining string     `yaml:"remaining"`
	// ErrorCode is a status list ("5xx", "500-502", "403"), as one
	// comma-separated string or a YAML list.
	ErrorCode StringList `yaml:"error_code"`
}

// Verification lists endpoints that prove candidate credentials work.
type Verification struct {
	Method          string            `yaml:"method"`
	Endpoints       []string          `yaml:"endpoints"`
	BaseURLOverride string            `yaml:"base_url_override"`
	Headers         map[string]string `yaml:"headers"`
}

// Proxy is how calls to the provider's API are built.
type Proxy struct {
	BaseURL string  `yaml:"base_url"`
	Headers Strings `yaml:"headers"`
	Query   Strings `yaml:"query"`
	Retry   *Retry  `yaml:"retry"`
	// Body is merged into request bodies by Nango; latchkey does not yet.
	Body             any               `yaml:"body"`
	ConnectionConfig map[string]string `yaml:"connection_config"`
	Verification     *Verification     `yaml:"verification"`
}

// Provider is one catalogue entry.
type Provider struct {
	Name             string   `yaml:"-"`
	DisplayName      string   `yaml:"display_name"`
	AuthMode         string   `yaml:"auth_mode"`
	Categories       []string `yaml:"categories"`
	Docs             string   `yaml:"docs"`
	DocsConnect      string   `yaml:"docs_connect"`
	Alias            string   `yaml:"alias"`
	Proxy            *Proxy   `yaml:"proxy"`
	ConnectionConfig Fields   `yaml:"connection_config"`
	Credentials      Fields   `yaml:"credentials"`
	// CredentialsVerificationScript names a built-in verifier (package verify's
	// registry; start-up refuses a name it does not know).
	CredentialsVerificationScript string `yaml:"credentials_verification_script"`
	PostConnectionScript          string `yaml:"post_connection_script"`

	// OAUTH2_CC: how a token is fetched (see oauth2cc.go).
	TokenURL               TokenURL   `yaml:"token_url"`
	TokenParams            Strings    `yaml:"token_params"`
	TokenHeaders           Strings    `yaml:"token_headers"`
	TokenRequestAuthMethod string     `yaml:"token_request_auth_method"`
	BodyFormat             string     `yaml:"body_format"`
	ScopeSeparator         string     `yaml:"scope_separator"`
	DefaultScopes          StringList `yaml:"default_scopes"`
	ExpiresInUnit          string     `yaml:"expires_in_unit"`
	// TokenExpirationBuffer is how long before its expiry a token is fetched
	// again, in seconds (15 minutes when unset).
	TokenExpirationBuffer    int  `yaml:"token_expiration_buffer"`
	RequireClientCertificate bool `yaml:"require_client_certificate"`

	// Unsupported, when set, says why latchkey cannot create connections for
	// this entry (an auth mode or a feature it does not implement yet). The
	// entry is still listed, marked; submissions for it are refused.
	Unsupported string `yaml:"-"`
	// Notes are what latchkey serves differently from the entry's author's
	// intent (a pattern Go cannot compile, a verification script it lacks…).
	Notes []string `yaml:"-"`

	// Raw is the entry as written (after alias merge and ${publicUrl}), in YAML
	// order, for the API.
	Raw Ordered `yaml:"-"`
}

// DocURL returns the guide link for a field (docs_connect plus its section).
func (p *Provider) DocURL(f *Field) string {
	if p.DocsConnect == "" {
		return ""
	}
	return p.DocsConnect + f.DocSection
}

// Catalogue is the set of providers latchkey knows, by name.
type Catalogue struct {
	byName map[string]*Provider
	names  []string
}

// SupportedAuthModes are the modes latchkey can create connections for.
var SupportedAuthModes = map[string]bool{"BASIC": true, "API_KEY": true, "OAUTH2_CC": true}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Load parses the built-in catalogue and then each extra source, whose entries
// replace built-in ones of the same name. ${publicUrl} in any string becomes publicURL.
//
// It refuses (returns an error for) what can only be a mistake: a source that
// is not YAML or not a mapping of names to entries, an entry that is not a
// mapping, a name latchkey cannot route, an alias that names no entry or
// another alias, and any problem at all in the built-in catalogue. Every other
// entry is loaded: one latchkey cannot serve (an auth mode or a token-request
// feature it does not implement, a field that does not decode) is kept, marked
// Unsupported with the reason, and one it serves with a difference (a pattern
// RE2 cannot compile, …) carries Notes. Reports lists both.
func Load(publicURL string, sources ...[]byte) (*Catalogue, error) {
	nodes := map[string]*yaml.Node{}
	origin := map[string]int{}
	var order []string
	for i, src := range append([][]byte{builtinYAML}, sources...) {
		var doc yaml.Node
		if err := yaml.Unmarshal(src, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", sourceName(i), err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: top level must map provider names to entries", sourceName(i))
		}
		for j := 0; j+1 < len(root.Content); j += 2 {
			name := root.Content[j].Value
			if _, ok := nodes[name]; !ok {
				order = append(order, name)
			}
			nodes[name] = root.Content[j+1]
			origin[name] = i
		}
	}
	c := &Catalogue{byName: map[string]*Provider{}}
	var errs []error
	for _, name := range order {
		p, err := build(name, nodes, publicURL)
		if err == nil && origin[name] == 0 && (p.Unsupported != "" || len(p.Notes) > 0) {
			// The built-in catalogue is ours: anything short of fully served is a bug.
			err = errors.New(strings.Join(append([]string{p.Unsupported}, p.Notes...), "; "))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: provider %q: %w", sourceName(origin[name]), name, err))
			continue
		}
		c.byName[name] = p
		c.names = append(c.names, name)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Strings(c.names)
	return c, nil
}

func sourceName(i int) string {
	if i == 0 {
		return "built-in catalogue"
	}
	return fmt.Sprintf("providers source %d", i)
}

// Report says how latchkey serves one entry that it does not serve as written.
type Report struct {
	Name        string
	Unsupported string
	Notes       []string
}

// Reports lists the entries that are unsupported or carry notes, by name.
func (c *Catalogue) Reports() []Report {
	var out []Report
	for _, n := range c.names {
		p := c.byName[n]
		if p.Unsupported != "" || len(p.Notes) > 0 {
			out = append(out, Report{Name: n, Unsupported: p.Unsupported, Notes: p.Notes})
		}
	}
	return out
}

// Supported reports whether latchkey can create connections for the entry.
func (p *Provider) Supported() bool { return p.Unsupported == "" }

func build(name string, nodes map[string]*yaml.Node, publicURL string) (*Provider, error) {
	if !nameRE.MatchString(name) {
		return nil, errors.New("name may contain only letters, digits, _ and -")
	}
	node := nodes[name]
	if node.Kind != yaml.MappingNode {
		return nil, errors.New("entry must be a mapping")
	}
	// alias: a shallow merge of the target with this entry's keys on top; the
	// target may itself be an alias (Nango's catalogue chains them).
	seen := map[string]bool{name: true}
	for alias := mappingValue(node, "alias"); alias != nil; alias = mappingValue(node, "alias") {
		target, ok := nodes[alias.Value]
		if !ok || alias.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("alias %q names no provider", alias.Value)
		}
		if seen[alias.Value] {
			return nil, fmt.Errorf("alias %q leads back to itself", alias.Value)
		}
		if target.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("alias %q is not an entry", alias.Value)
		}
		seen[alias.Value] = true
		node = mergeMappings(target, node)
	}
	node = substitute(node, "${publicUrl}", strings.TrimRight(publicURL, "/"))
	p := &Provider{}
	p.Raw, _ = fromNode(node).(Ordered)
	p.Name = name
	if err := node.Decode(p); err != nil {
		// Keep what can be shown (name, display name, auth mode) and say why it cannot be served.
		q := &Provider{Name: name, Raw: p.Raw}
		if v := mappingValue(node, "display_name"); v != nil {
			q.DisplayName = v.Value
		}
		if v := mappingValue(node, "auth_mode"); v != nil {
			q.AuthMode = v.Value
		}
		q.Unsupported = "the entry does not decode: " + firstLine(err.Error())
		if q.AuthMode != "" && !SupportedAuthModes[q.AuthMode] {
			q.Unsupported = fmt.Sprintf("auth_mode %s is not supported yet (latchkey serves BASIC, API_KEY and OAUTH2_CC)", q.AuthMode)
		}
		return q, nil
	}
	p.validate()
	return p, nil
}

// helperRE matches a placeholder that calls one of Nango's template helpers
// (${now:…}, ${base64(…)}, ${hmacSha1Hex(…)}, ${method}…), which latchkey does
// not implement.
var helperRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*\(|(now|random|method|endpoint|host|path|params)\s*(:|$))`)

// templateProblem says why the entry's request templates cannot be served.
func (p *Provider) templateProblem() string {
	templates := map[string]string{"token_url": p.TokenURL.For(domain.AuthModeOAuth2CC)}
	for k, v := range p.TokenParams {
		templates["token_params."+k] = v
	}
	for k, v := range p.TokenHeaders {
		templates["token_headers."+k] = v
	}
	if p.Proxy != nil {
		templates["proxy.base_url"] = p.Proxy.BaseURL
		for k, v := range p.Proxy.Headers {
			templates["proxy.headers."+k] = v
		}
		for k, v := range p.Proxy.Query {
			templates["proxy.query."+k] = v
		}
		if p.Proxy.Body != nil && mentionsPlaceholder(p.Proxy.Body) {
			return "proxy.body (values merged into every request body) is not supported yet"
		}
	}
	for _, where := range sortedKeys(templates) {
		for _, m := range placeholderRE.FindAllStringSubmatch(templates[where], -1) {
			if helperRE.MatchString(m[1]) {
				return fmt.Sprintf("%s uses the template helper ${%s…}, which latchkey does not implement yet", where, strings.TrimSpace(m[1]))
			}
		}
	}
	// Logs name the host and path of provider calls: a credential must not be there.
	for _, m := range placeholderRE.FindAllStringSubmatch(templates["proxy.base_url"], -1) {
		if !strings.HasPrefix(strings.TrimSpace(m[1]), "connectionConfig.") {
			return fmt.Sprintf("proxy.base_url places the credential ${%s} in the URL, which latchkey does not allow (URLs are logged)", strings.TrimSpace(m[1]))
		}
	}
	// A value placed in the origin must be a plain token: a field whose own
	// pattern asks for a URL or a path can never be.
	for _, where := range []string{"proxy.base_url", "token_url"} {
		for _, m := range placeholderRE.FindAllStringSubmatch(templates[where], -1) {
			name, ok := strings.CutPrefix(strings.TrimSpace(m[1]), "connectionConfig.")
			if !ok {
				continue
			}
			if f, ok := p.ConnectionConfig.Get(name); ok && (strings.Contains(f.Pattern, "/") || strings.Contains(f.Pattern, "https?:") || f.Format == "uri") {
				return fmt.Sprintf("%s places connectionConfig.%s, whose pattern asks for a URL or a path; latchkey places only plain values in a URL", where, name)
			}
		}
	}
	return ""
}

func mentionsPlaceholder(v any) bool {
	switch x := v.(type) {
	case string:
		return placeholderRE.MatchString(x)
	case map[string]any:
		for _, c := range x {
			if mentionsPlaceholder(c) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if mentionsPlaceholder(c) {
				return true
			}
		}
	}
	return false
}

// templateIsURL reports whether a URL template gives an absolute http(s) URL
// whatever plain values fill its placeholders (letters, or digits for a port).
func templateIsURL(tmpl string) bool {
	for _, fill := range []string{"x", "1"} {
		if httpx.IsHTTPURL(placeholderRE.ReplaceAllString(tmpl, fill)) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func mergeMappings(base, over *yaml.Node) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(base.Content); i += 2 {
		if mappingValue(over, base.Content[i].Value) == nil {
			out.Content = append(out.Content, base.Content[i], base.Content[i+1])
		}
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		if over.Content[i].Value != "alias" {
			out.Content = append(out.Content, over.Content[i], over.Content[i+1])
		}
	}
	// The target's own alias, if any, is followed next.
	if a := mappingValue(base, "alias"); a != nil {
		out.Content = append(out.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "alias"}, a)
	}
	return out
}

// substitute returns a deep copy of n with old replaced by new in every scalar.
func substitute(n *yaml.Node, old, new string) *yaml.Node {
	c := *n
	if c.Kind == yaml.ScalarNode {
		c.Value = strings.ReplaceAll(c.Value, old, new)
		return &c
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = substitute(child, old, new)
	}
	return &c
}

var knownFormats = map[string]bool{"": true, "uuid": true, "email": true, "hostname": true, "uri": true}

// validate sets Unsupported (the first reason the entry cannot be served) and
// Notes (how latchkey serves it differently from what it says).
func (p *Provider) validate() {
	unsupported := func(format string, args ...any) {
		if p.Unsupported == "" {
			p.Unsupported = fmt.Sprintf(format, args...)
		}
	}
	note := func(format string, args ...any) { p.Notes = append(p.Notes, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(p.DisplayName) == "" {
		unsupported("display_name is missing")
	}
	switch {
	case p.AuthMode == "":
		unsupported("auth_mode is missing")
	case !SupportedAuthModes[p.AuthMode]:
		unsupported("auth_mode %s is not supported yet (latchkey serves BASIC, API_KEY and OAUTH2_CC)", p.AuthMode)
	case p.AuthMode == "OAUTH2_CC":
		if reason := p.oauth2ccProblem(); reason != "" {
			unsupported("%s", reason)
		}
	}
	if p.Proxy != nil && p.Proxy.BaseURL != "" {
		for _, alt := range alternatives(p.Proxy.BaseURL) {
			if !templateIsURL(alt) {
				if strings.HasPrefix(alt, "${") {
					// The whole origin would come from a value the end user typed: a
					// connection could send its credentials (and latchkey's requests) anywhere.
					unsupported("proxy.base_url %q takes its origin from a connection value, which latchkey does not allow", alt)
				} else {
					unsupported("proxy.base_url %q is not an absolute http(s) URL", alt)
				}
			}
		}
	}
	if reason := p.templateProblem(); reason != "" {
		unsupported("%s", reason)
	}
	for _, group := range []struct {
		name   string
		fields Fields
	}{{"connection_config", p.ConnectionConfig}, {"credentials", p.Credentials}} {
		for _, f := range group.fields {
			if f.Type != "" && f.Type != "string" {
				note("%s.%s: type %q is taken as a string", group.name, f.Name, f.Type)
			}
			if !knownFormats[f.Format] {
				note("%s.%s: format %q is not checked (latchkey checks uuid, email, hostname, uri)", group.name, f.Name, f.Format)
				f.Format = ""
			}
			if f.Pattern != "" {
				re, err := regexp.Compile(f.Pattern)
				if err != nil {
					note("%s.%s: pattern is not checked by the server (Go cannot compile it: %v)", group.name, f.Name, err)
				}
				f.re = re
			}
			if f.DocSection != "" && !strings.HasPrefix(f.DocSection, "#") {
				note("%s.%s: doc_section %q does not start with #", group.name, f.Name, f.DocSection)
			}
		}
	}
}

// Get returns a provider by name.
func (c *Catalogue) Get(name string) (*Provider, bool) {
	p, ok := c.byName[name]
	return p, ok
}

// All returns every provider, sorted by name.
func (c *Catalogue) All() []*Provider {
	out := make([]*Provider, len(c.names))
	for i, n := range c.names {
		out[i] = c.byName[n]
	}
	return out
}
