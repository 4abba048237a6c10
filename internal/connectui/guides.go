package connectui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"

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
	g, ok := u.guides[r.PathValue("provider")]
	if !ok {
		http.NotFound(w, r)
		return
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
	_, _ = w.Write(buf.Bytes())
}
