package connectui

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"

	"github.com/latchkeyhq/latchkey/internal/httpx"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

//go:embed guides/*.md
var guideFS embed.FS

type renderedGuide struct {
	Provider string
	Title    string
	Body     template.HTML
	html     []byte
}

// guidePage is what the guide template renders.
type guidePage struct {
	*renderedGuide
	Theme string
}

// renderGuides turns each embedded Markdown guide into HTML, and checks that
// every doc_section the catalogue points at exists in its guide.
func renderGuides(cat *provider.Catalogue) (map[string]*renderedGuide, error) {
	md := goldmark.New(goldmark.WithExtensions(extension.Table), goldmark.WithParserOptions(parser.WithAutoHeadingID()))
	out := map[string]*renderedGuide{}
	entries, err := guideFS.ReadDir("guides")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		src, err := guideFS.ReadFile("guides/" + e.Name())
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := md.Convert(src, &buf); err != nil {
			return nil, fmt.Errorf("guide %s: %w", e.Name(), err)
		}
		name := strings.TrimSuffix(e.Name(), ".md")
		title, _, _ := strings.Cut(strings.TrimPrefix(string(src), "# "), "\n")
		out[name] = &renderedGuide{Provider: name, Title: title, Body: template.HTML(buf.String()), html: buf.Bytes()}
	}
	if cat == nil {
		return out, nil
	}
	for _, p := range cat.All() {
		g, ok := out[p.Name]
		if !ok || !strings.HasSuffix(p.DocsConnect, "/docs/connect/"+p.Name) {
			continue // providers from LATCHKEY_PROVIDERS_FILE bring their own docs (even under a built-in's name)
		}
		for _, f := range append(append(provider.Fields{}, p.ConnectionConfig...), p.Credentials...) {
			if f.DocSection != "" && !bytes.Contains(g.html, []byte(`id="`+strings.TrimPrefix(f.DocSection, "#")+`"`)) {
				return nil, fmt.Errorf("guide %s has no section %s (field %s)", p.Name, f.DocSection, f.Name)
			}
		}
	}
	return out, nil
}

func (u *UI) serveGuide(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	g, ok := u.guides[name]
	status := http.StatusOK
	if !ok {
		if !httpx.WantsHTML(r) {
			u.guideNotFound(w, name)
			return
		}
		g, status = u.missingGuide(name), http.StatusNotFound
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'")
	w.Header().Set("Cache-Control", "public, max-age=300")
	// The guide follows the system's light or dark theme, or the Connect UI's
	// when it links here with ?theme=light|dark.
	theme := r.URL.Query().Get("theme")
	if theme != "light" && theme != "dark" {
		theme = "system"
	}
	var buf bytes.Buffer
	if err := u.guide.Execute(&buf, guidePage{renderedGuide: g, Theme: theme}); err != nil {
		u.log().Error("render guide", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// guideNames lists the guides there are, sorted.
func (u *UI) guideNames() []string {
	names := make([]string, 0, len(u.guides))
	for n := range u.guides {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// missingGuide is the page a browser gets for a guide that does not exist:
// the guides there are, styled as a guide.
func (u *UI) missingGuide(name string) *renderedGuide {
	var b strings.Builder
	fmt.Fprintf(&b, "<p>There is no guide for %q. The guides on this server:</p><ul>", name)
	for _, n := range u.guideNames() {
		fmt.Fprintf(&b, `<li><a href="%s">%s</a></li>`, template.HTMLEscapeString(n), template.HTMLEscapeString(u.guides[n].Title))
	}
	b.WriteString("</ul>")
	return &renderedGuide{Provider: name, Title: "No such guide", Body: template.HTML(b.String())}
}

// guideNotFound answers an API client (anything not asking for HTML) as the
// API answers an unknown route: a JSON error.
func (u *UI) guideNotFound(w http.ResponseWriter, name string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "not_found",
		"message": fmt.Sprintf("There is no guide for %q; the guides are: %s.", name, strings.Join(u.guideNames(), ", "))}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}
