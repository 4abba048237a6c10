package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"go.yaml.in/yaml/v3"
)

// The OpenAPI document in its other forms, built from openapi.yaml on first
// use: JSON for /openapi.json and an HTML reference for /docs/api (rendered
// here, on the server: no script, nothing fetched from elsewhere). Building
// them takes longer than the rest of the start-up together and allocates
// megabytes, for pages seldom asked for; the tests render them
// (apimd_test.go, openapi_test.go), so a broken document never ships.
var (
	renderedDocs  = sync.OnceValue(func() renderedAPIDocs { return renderAPIDocs(openAPISpec) })
	apiDocsMethod = []string{"get", "post", "put", "patch", "delete"}
)

type renderedAPIDocs struct {
	json, html []byte
	csp        string
	err        error
}

func renderAPIDocs(spec []byte) renderedAPIDocs {
	var d renderedAPIDocs
	d.json, d.html, d.csp, d.err = renderOpenAPI(spec)
	return d
}

func (a *API) openAPIJSON(w http.ResponseWriter, r *http.Request) error {
	d := renderedDocs()
	if d.err != nil {
		return d.err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(d.json)
	return nil
}

func (a *API) apiDocs(w http.ResponseWriter, r *http.Request) error {
	d := renderedDocs()
	if d.err != nil {
		return d.err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", d.csp)
	_, _ = w.Write(d.html)
	return nil
}

// node is a YAML node with helpers; the document is walked in its own order.
type node struct{ *yaml.Node }

func (n node) get(key string) node {
	if n.Node == nil || n.Kind != yaml.MappingNode {
		return node{}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return node{n.Content[i+1]}
		}
	}
	return node{}
}

func (n node) str(key string) string {
	v := n.get(key)
	if v.Node == nil {
		return ""
	}
	return v.Value
}

func (n node) pairs() [][2]node {
	if n.Node == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]node{{n.Content[i]}, {n.Content[i+1]}})
	}
	return out
}

func (n node) items() []node {
	if n.Node == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]node, len(n.Content))
	for i, c := range n.Content {
		out[i] = node{c}
	}
	return out
}

type apiDoc struct {
	root node
	md   goldmark.Markdown
}

// resolve follows a local $ref (#/components/...).
func (d *apiDoc) resolve(n node) (node, string) {
	ref := n.str("$ref")
	if ref == "" {
		return n, ""
	}
	cur := d.root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		cur = cur.get(part)
	}
	return cur, ref[strings.LastIndex(ref, "/")+1:]
}

func (d *apiDoc) markdown(s string) template.HTML {
	var b bytes.Buffer
	if err := d.md.Convert([]byte(s), &b); err != nil {
		return template.HTML(template.HTMLEscapeString(s))
	}
	return template.HTML(b.String()) // goldmark escapes raw HTML (no WithUnsafe)
}

// typeOf describes a schema in a few words, linking named schemas.
func (d *apiDoc) typeOf(s node) template.HTML {
	if s.Node == nil {
		return "any"
	}
	if _, name := d.resolve(s); name != "" {
		return template.HTML(fmt.Sprintf(`<a href="#schema-%s">%s</a>`, name, name))
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if alts := s.get(k).items(); len(alts) > 0 {
			parts := make([]string, len(alts))
			for i, a := range alts {
				parts[i] = string(d.typeOf(a))
			}
			return template.HTML(strings.Join(parts, " or "))
		}
	}
	t := s.get("type")
	var typ string
	switch {
	case t.Node == nil:
		typ = "any"
	case t.Kind == yaml.SequenceNode:
		var parts []string
		for _, it := range t.items() {
			parts = append(parts, it.Value)
		}
		typ = strings.Join(parts, " or ")
	default:
		typ = t.Value
	}
	out := template.HTMLEscapeString(typ)
	if typ == "array" {
		out = "array of " + string(d.typeOf(s.get("items")))
	}
	if ap := s.get("additionalProperties"); ap.Node != nil && ap.Kind == yaml.MappingNode {
		out = "map of " + string(d.typeOf(ap))
	}
	if enum := s.get("enum").items(); len(enum) > 0 {
		vals := make([]string, len(enum))
		for i, e := range enum {
			vals[i] = "<code>" + template.HTMLEscapeString(e.Value) + "</code>"
		}
		out += ": " + strings.Join(vals, ", ")
	}
	if c := s.get("const"); c.Node != nil {
		out += ": <code>" + template.HTMLEscapeString(c.Value) + "</code>"
	}
	if f := s.str("format"); f != "" {
		out += " (" + template.HTMLEscapeString(f) + ")"
	}
	return template.HTML(out)
}

// example is a media type's example, or its schema's, as indented JSON.
func (d *apiDoc) example(mt node) string {
	ex := mt.get("example")
	if ex.Node == nil {
		schema, _ := d.resolve(mt.get("schema"))
		ex = schema.get("example")
	}
	if ex.Node == nil {
		return ""
	}
	var v any
	if err := ex.Decode(&v); err != nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

type docField struct {
	Name        string
	In          string
	Type        template.HTML
	Required    bool
	Description template.HTML
}

type docResponse struct {
	Status      string
	Description template.HTML
	Codes       []string
	Type        template.HTML
	MediaType   string
	Example     string
}

type docOperation struct {
	ID, Method, Path, Summary string
	Description               template.HTML
	Security                  []string
	Params                    []docField
	BodyType                  template.HTML
	BodyMedia                 string
	BodyExample               string
	Responses                 []docResponse
}

type docTag struct {
	Name        string
	Description template.HTML
	Operations  []docOperation
}

type docSchema struct {
	Name        string
	Description template.HTML
	Type        template.HTML
	Fields      []docField
}

func (d *apiDoc) fields(s node) []docField {
	s, _ = d.resolve(s)
	required := map[string]bool{}
	for _, r := range s.get("required").items() {
		required[r.Value] = true
	}
	var out []docField
	for _, p := range s.get("properties").pairs() {
		out = append(out, docField{Name: p[0].Value, Type: d.typeOf(p[1]), Required: required[p[0].Value], Description: d.markdown(p[1].str("description"))})
	}
	return out
}

func (d *apiDoc) operation(path, method string, item, op node) docOperation {
	o := docOperation{ID: op.str("operationId"), Method: strings.ToUpper(method), Path: path, Summary: op.str("summary"),
		Description: d.markdown(strings.TrimSpace(item.str("description") + "\n\n" + op.str("description")))}
	for _, req := range op.get("security").items() {
		for _, p := range req.pairs() {
			o.Security = append(o.Security, p[0].Value)
		}
	}
	for _, p := range append(item.get("parameters").items(), op.get("parameters").items()...) {
		p, _ = d.resolve(p)
		o.Params = append(o.Params, docField{Name: p.str("name"), In: p.str("in"), Type: d.typeOf(p.get("schema")),
			Required: p.str("required") == "true", Description: d.markdown(p.str("description"))})
	}
	if rb, _ := d.resolve(op.get("requestBody")); rb.Node != nil {
		for _, mt := range rb.get("content").pairs() {
			o.BodyMedia, o.BodyType = mt[0].Value, d.typeOf(mt[1].get("schema"))
			o.BodyExample = d.example(mt[1])
		}
	}
	for _, p := range op.get("responses").pairs() {
		r, _ := d.resolve(p[1])
		dr := docResponse{Status: p[0].Value, Description: d.markdown(r.str("description"))}
		for _, c := range r.get("x-error-codes").items() {
			dr.Codes = append(dr.Codes, c.Value)
		}
		for _, mt := range r.get("content").pairs() {
			dr.MediaType, dr.Type = mt[0].Value, d.typeOf(mt[1].get("schema"))
			dr.Example = d.example(mt[1])
		}
		o.Responses = append(o.Responses, dr)
	}
	return o
}

const apiDocsStyle = `
:root{color-scheme:light dark;--fg:#172b4d;--muted:#5e6c84;--line:#dfe1e6;--bg:#fff;--code:#f4f5f7;--accent:#0052cc}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9aa6b2;--line:#30363d;--bg:#0d1117;--code:#161b22;--accent:#58a6ff}}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:980px;margin:0 auto;padding:24px}
nav ul{columns:2;padding-left:1.2em}
a{color:var(--accent)}
code{background:var(--code);padding:1px 4px;border-radius:3px;font-size:90%}
pre{background:var(--code);padding:8px;overflow:auto}
section.op{border-top:1px solid var(--line);padding:8px 0 16px}
h3 .m{display:inline-block;min-width:4.5em;font-family:ui-monospace,monospace}
h3 .p{font-family:ui-monospace,monospace;font-weight:normal}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
td p{margin:0}
.muted{color:var(--muted)}
`

var apiDocsTemplate = template.Must(template.New("api").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><style>{{.Style}}</style></head>
<body><main>
<h1>{{.Title}}</h1>
<p class="muted">OpenAPI {{.Version}}: <a href="/openapi.yaml">/openapi.yaml</a>, <a href="/openapi.json">/openapi.json</a></p>
{{.Description}}
<h2>Authentication</h2>
<table><tr><th>scheme</th><th>how</th></tr>
{{range .Security}}<tr><td><code>{{.Name}}</code></td><td>{{.Description}}</td></tr>{{end}}</table>
<nav><h2>Operations</h2><ul>
{{range .Tags}}{{range .Operations}}<li><a href="#op-{{.ID}}">{{.Method}} {{.Path}}</a></li>{{end}}{{end}}
</ul></nav>
{{range .Tags}}<h2>{{.Name}}</h2>{{.Description}}
{{range .Operations}}<section class="op" id="op-{{.ID}}">
<h3><span class="m">{{.Method}}</span> <span class="p">{{.Path}}</span></h3>
<p><strong>{{.Summary}}</strong></p>
{{.Description}}
<p class="muted">Credential: {{if .Security}}{{range $i, $s := .Security}}{{if $i}} or {{end}}<code>{{$s}}</code>{{end}}{{else}}none{{end}}</p>
{{if .Params}}<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .BodyMedia}}<p>Body (<code>{{.BodyMedia}}</code>): {{.BodyType}}</p>{{if .BodyExample}}<details><summary>example</summary><pre>{{.BodyExample}}</pre></details>{{end}}{{end}}
<table><tr><th>status</th><th>body</th><th>meaning</th></tr>
{{range .Responses}}<tr><td>{{.Status}}</td><td>{{if .MediaType}}{{.Type}} <span class="muted">{{.MediaType}}</span>{{end}}</td>
<td>{{.Description}}{{if .Codes}}<p class="muted">codes: {{range $i, $c := .Codes}}{{if $i}}, {{end}}<code>{{$c}}</code>{{end}}</p>{{end}}{{if .Example}}<details><summary>example</summary><pre>{{.Example}}</pre></details>{{end}}</td></tr>{{end}}</table>
</section>{{end}}{{end}}
<h2>Schemas</h2>
{{range .Schemas}}<section class="op" id="schema-{{.Name}}"><h3>{{.Name}}</h3>{{.Description}}
{{if .Fields}}<table><tr><th>field</th><th>type</th><th>description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>{{end}}</table>
{{else}}<p>{{.Type}}</p>{{end}}</section>{{end}}
<p class="muted">* required</p>
</main></body></html>
`))

// renderOpenAPI turns the YAML document into JSON, an HTML reference and the
// Content-Security-Policy that lets exactly its inline stylesheet apply.
func renderOpenAPI(spec []byte) (jsonDoc, html []byte, csp string, err error) {
	var v any
	if err := yaml.Unmarshal(spec, &v); err != nil {
		return nil, nil, "", fmt.Errorf("openapi.yaml: %w", err)
	}
	if jsonDoc, err = json.Marshal(v); err != nil {
		return nil, nil, "", fmt.Errorf("openapi.yaml as JSON: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(spec, &root); err != nil || len(root.Content) == 0 {
		return nil, nil, "", fmt.Errorf("openapi.yaml: %v", err)
	}
	d := &apiDoc{root: node{root.Content[0]}, md: goldmark.New(goldmark.WithExtensions(extension.Table))}
	info := d.root.get("info")
	page := struct {
		Title, Version string
		Style          template.CSS
		Description    template.HTML
		Security       []docField
		Tags           []*docTag
		Schemas        []docSchema
	}{Title: info.str("title"), Version: d.root.str("openapi"), Style: template.CSS(apiDocsStyle), Description: d.markdown(info.str("description"))}
	for _, p := range d.root.get("components").get("securitySchemes").pairs() {
		page.Security = append(page.Security, docField{Name: p[0].Value, Description: d.markdown(p[1].str("description"))})
	}
	byTag := map[string]*docTag{}
	for _, t := range d.root.get("tags").items() {
		tag := &docTag{Name: t.str("name"), Description: d.markdown(t.str("description"))}
		byTag[tag.Name] = tag
		page.Tags = append(page.Tags, tag)
	}
	for _, p := range d.root.get("paths").pairs() {
		for _, m := range apiDocsMethod {
			op := p[1].get(m)
			if op.Node == nil {
				continue
			}
			name := "Other"
			if tags := op.get("tags").items(); len(tags) > 0 {
				name = tags[0].Value
			}
			tag := byTag[name]
			if tag == nil {
				tag = &docTag{Name: name}
				byTag[name] = tag
				page.Tags = append(page.Tags, tag)
			}
			tag.Operations = append(tag.Operations, d.operation(p[0].Value, m, p[1], op))
		}
	}
	for _, p := range d.root.get("components").get("schemas").pairs() {
		page.Schemas = append(page.Schemas, docSchema{Name: p[0].Value, Description: d.markdown(p[1].str("description")), Type: d.typeOf(p[1]), Fields: d.fields(p[1])})
	}
	sort.SliceStable(page.Schemas, func(i, j int) bool { return page.Schemas[i].Name < page.Schemas[j].Name })
	var b bytes.Buffer
	if err := apiDocsTemplate.Execute(&b, page); err != nil {
		return nil, nil, "", err
	}
	sum := sha256.Sum256([]byte(apiDocsStyle))
	csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return jsonDoc, b.Bytes(), csp, nil
}
