// Package connectui serves the Connect UI, the page where an end user links a
// third-party account (standalone from a connect link, or embedded by
// @nangohq/frontend's openConnectUI), and the provider guides it links to.
// Templates, scripts, styles and guides are embedded and prepared at start-up:
// a broken template or guide fails the start, not the first request.
package connectui

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/latchkeyhq/latchkey/internal/httpx"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// Options configure the UI.
type Options struct {
	Catalogue *provider.Catalogue
	// FrameAncestors is the CSP frame-ancestors source list ("*" by default).
	FrameAncestors string
	PrimaryColor   string
	Logger         *slog.Logger
}

// UI holds the prepared templates, assets and guides.
type UI struct {
	opts   Options
	page   *template.Template
	guide  *template.Template
	assets *httpx.Assets
	guides map[string]*renderedGuide
	msgs   messages
}

// New prepares everything the UI serves.
func New(o Options) (*UI, error) {
	if o.FrameAncestors == "" {
		o.FrameAncestors = "*"
	}
	if o.PrimaryColor == "" {
		o.PrimaryColor = "#0052CC"
	}
	u := &UI{opts: o}
	var err error
	if u.msgs, err = loadMessages(i18nFS, "i18n"); err != nil {
		return nil, err
	}
	if u.assets, err = httpx.LoadAssets(staticFS, "static", "/connect/assets"); err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"asset": u.assets.URL}
	if u.page, err = template.New("page.html").Funcs(funcs).ParseFS(templateFS, "templates/page.html"); err != nil {
		return nil, fmt.Errorf("connect UI template: %w", err)
	}
	if u.guide, err = template.New("guide.html").Funcs(funcs).ParseFS(templateFS, "templates/guide.html"); err != nil {
		return nil, fmt.Errorf("guide template: %w", err)
	}
	// Render once with sample data so a template error fails the start.
	if err := u.page.Execute(&bytes.Buffer{}, u.pageData("en", "system", "n")); err != nil {
		return nil, fmt.Errorf("connect UI template: %w", err)
	}
	if u.guides, err = renderGuides(o.Catalogue); err != nil {
		return nil, err
	}
	for _, g := range u.guides {
		if err := u.guide.Execute(&bytes.Buffer{}, guidePage{renderedGuide: g, Theme: "system"}); err != nil {
			return nil, fmt.Errorf("guide template: %w", err)
		}
	}
	return u, nil
}

// Mount adds the UI's routes to mux.
func (u *UI) Mount(mux interface {
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}) {
	mux.HandleFunc("GET /connect", u.servePage)
	mux.HandleFunc("GET /connect/{$}", u.servePage)
	mux.HandleFunc("GET /connect/assets/{file}", u.assets.ServeHTTP)
	mux.HandleFunc("GET /docs/connect/{provider}", u.serveGuide)
}

type pageData struct {
	Lang   string
	Theme  string
	Nonce  string
	Title  string
	Config string
}

func (u *UI) pageData(lang, theme, nonce string) pageData {
	msgs := u.msgs[lang]
	cfg, _ := json.Marshal(map[string]any{"lang": lang, "theme": theme, "primaryColor": u.opts.PrimaryColor, "strings": msgs})
	return pageData{Lang: lang, Theme: theme, Nonce: nonce, Title: msgs["page_title"], Config: string(cfg)}
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

func (u *UI) servePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := u.msgs.pickLanguage(q.Get("lang"), r.Header.Get("Accept-Language"))
	theme := q.Get("theme")
	if theme != "light" && theme != "dark" {
		theme = "system"
	}
	nonce := newNonce()
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors "+u.opts.FrameAncestors)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Vary", "Accept-Language")
	var buf bytes.Buffer
	if err := u.page.Execute(&buf, u.pageData(lang, theme, nonce)); err != nil {
		u.log().Error("render connect UI", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(buf.Bytes())
}

func (u *UI) log() *slog.Logger {
	if u.opts.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.opts.Logger
}
