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

	"github.com/latchkeyhq/latchkey/internal/httpx"
	"go.yaml.in/yaml/v3"
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
	ErrorCode string     `yaml:"error_code"`
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
	BaseURL          string            `yaml:"base_url"`
	Headers          map[string]string `yaml:"headers"`
	Query            map[string]string `yaml:"query"`
	Retry            *Retry            `yaml:"retry"`
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
	TokenURL                      string `yaml:"token_url"`

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
func Load(publicURL string, sources ...[]byte) (*Catalogue, error) {
	nodes := map[string]*yaml.Node{}
	var order []string
	for i, src := range append([][]byte{builtinYAML}, sources...) {
		var doc yaml.Node
		if err := yaml.Unmarshal(src, &doc); err != nil {
			return nil, fmt.Errorf("providers source %d: %w", i, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("providers source %d: top level must map provider names to entries", i)
		}
		for j := 0; j+1 < len(root.Content); j += 2 {
			name := root.Content[j].Value
			if _, ok := nodes[name]; !ok {
				order = append(order, name)
			}
			nodes[name] = root.Content[j+1]
		}
	}
	c := &Catalogue{byName: map[string]*Provider{}}
	var errs []error
	for _, name := range order {
		p, err := build(name, nodes, publicURL)
		if err != nil {
			errs = append(errs, fmt.Errorf("provider %q: %w", name, err))
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

func build(name string, nodes map[string]*yaml.Node, publicURL string) (*Provider, error) {
	if !nameRE.MatchString(name) {
		return nil, errors.New("name may contain only letters, digits, _ and -")
	}
	node := nodes[name]
	if node.Kind != yaml.MappingNode {
		return nil, errors.New("entry must be a mapping")
	}
	// alias: a shallow merge of the target with this entry's keys on top.
	if alias := mappingValue(node, "alias"); alias != nil {
		target, ok := nodes[alias.Value]
		if !ok || alias.Value == name {
			return nil, fmt.Errorf("alias %q names no provider", alias.Value)
		}
		if mappingValue(target, "alias") != nil {
			return nil, fmt.Errorf("alias %q is itself an alias", alias.Value)
		}
		node = mergeMappings(target, node)
	}
	node = substitute(node, "${publicUrl}", strings.TrimRight(publicURL, "/"))
	p := &Provider{}
	if err := node.Decode(p); err != nil {
		return nil, err
	}
	p.Raw, _ = fromNode(node).(Ordered)
	p.Name = name
	return p, p.validate()
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

func (p *Provider) validate() error {
	var errs []error
	if strings.TrimSpace(p.DisplayName) == "" {
		errs = append(errs, errors.New("display_name is required"))
	}
	if !SupportedAuthModes[p.AuthMode] {
		errs = append(errs, fmt.Errorf("auth_mode %q is not supported (latchkey supports BASIC, API_KEY and OAUTH2_CC)", p.AuthMode))
	}
	if p.AuthMode == "OAUTH2_CC" && p.TokenURL == "" {
		errs = append(errs, errors.New("token_url is required for OAUTH2_CC"))
	}
	if p.Proxy != nil && p.Proxy.BaseURL != "" {
		for _, alt := range alternatives(p.Proxy.BaseURL) {
			probe := placeholderRE.ReplaceAllString(alt, "x")
			if !httpx.IsHTTPURL(probe) {
				errs = append(errs, fmt.Errorf("proxy.base_url %q is not an absolute http(s) URL", alt))
			}
		}
	}
	for _, group := range []struct {
		name   string
		fields Fields
	}{{"connection_config", p.ConnectionConfig}, {"credentials", p.Credentials}} {
		for _, f := range group.fields {
			if f.Type != "" && f.Type != "string" {
				errs = append(errs, fmt.Errorf("%s.%s: type %q is not supported (only string)", group.name, f.Name, f.Type))
			}
			if !knownFormats[f.Format] {
				errs = append(errs, fmt.Errorf("%s.%s: format %q is not one of uuid, email, hostname, uri", group.name, f.Name, f.Format))
			}
			if f.Pattern != "" {
				re, err := regexp.Compile(f.Pattern)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s.%s: pattern does not compile: %v", group.name, f.Name, err))
				}
				f.re = re
			}
			if f.DocSection != "" && !strings.HasPrefix(f.DocSection, "#") {
				errs = append(errs, fmt.Errorf("%s.%s: doc_section must start with #", group.name, f.Name))
			}
		}
	}
	return errors.Join(errs...)
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
