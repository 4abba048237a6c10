package httpapi

import (
	_ "embed"
	"net/http"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// openAPISpec is the API contract: every JSON route, checked by the tests
// (route coverage, and every request and response of the app suite).
//
//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPIDocument returns the OpenAPI 3.1 document (YAML) the server serves at /openapi.yaml.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPISpec...) }

func (a *API) logo(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok {
		return domain.NotFound("not_found", "Logos are served as <provider>.svg.")
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(provider.Logo(name))
	return nil
}

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPISpec)
	return nil
}
