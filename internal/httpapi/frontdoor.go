package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/httpx"
)

//go:embed frontdoor/index.html
var frontdoorFS embed.FS

var frontdoorPage = template.Must(template.ParseFS(frontdoorFS, "frontdoor/index.html"))

// frontdoorStyle is the page's only style; the CSP allows exactly it by hash.
const frontdoorStyle = `:root{color-scheme:light dark;--fg:#172b4d;--bg:#fff;--muted:#5e6c84;--link:#0052cc}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#161a1d;--muted:#9fadbc;--link:#85b8ff}}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:42rem;margin:0 auto;padding:2rem 1.25rem}h1{font-size:1.75rem;margin:0 0 .5rem}
h2{font-size:1.1rem;margin:1.75rem 0 .5rem}a{color:var(--link)}ul{padding-left:1.25rem}li{margin:.25rem 0}
.version,.note{color:var(--muted);font-size:.9rem;font-weight:normal}`

var frontdoorCSP = func() string {
	sum := sha256.Sum256([]byte(frontdoorStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

type frontdoorLink struct{ Key, URL, Title, Note string }

// frontDoor is GET /: a small page for people (what this server is, its
// version, where the docs and health checks are; links relative to however
// the browser reached it) and the same facts as JSON for programs.
func (a *API) frontDoor(w http.ResponseWriter, r *http.Request) error {
	links := []frontdoorLink{
		{"reference", "/docs/api", "API reference", "every route, its parameters, answers and error codes"},
		{"openapi", "/openapi.yaml", "OpenAPI 3.1 document", "YAML, for client generators and gateways"},
		{"openapi_json", "/openapi.json", "OpenAPI 3.1 document", "the same as JSON"},
	}
	var guides []frontdoorLink
	for _, p := range a.catalogue.All() {
		if path, ok := strings.CutPrefix(p.DocsConnect, a.publicURL); ok && strings.HasPrefix(path, "/docs/connect/") {
			guides = append(guides, frontdoorLink{URL: path, Title: p.DisplayName})
		}
	}
	if !httpx.WantsHTML(r) {
		out := map[string]string{"health": a.publicURL + "/health", "ready": a.publicURL + "/ready", "console": a.publicURL + "/admin"}
		for _, l := range links {
			out[l.Key] = a.publicURL + l.URL
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": "latchkey", "version": a.version, "links": out})
		return nil
	}
	var buf bytes.Buffer
	if err := frontdoorPage.Execute(&buf, map[string]any{"Version": a.version, "APILinks": links, "Guides": guides, "Style": template.CSS(frontdoorStyle)}); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", frontdoorCSP)
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(buf.Bytes())
	return nil
}
