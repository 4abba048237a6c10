package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/latchkeyhq/latchkey/internal/httpapi"
)

// notInDocument lists the routes the OpenAPI document leaves out on purpose:
// they serve HTML or assets to browsers, not JSON to programs.
var notInDocument = map[string]string{
	"GET /connect":                 "the Connect UI page (HTML)",
	"GET /connect/{$}":             "the Connect UI page (HTML)",
	"GET /connect/assets/{file}":   "the Connect UI's CSS and script",
	"GET /docs/connect/{provider}": "the end-user guides (HTML)",
	"GET /{$}":                     "the front door: links to /docs/api and the document (HTML; JSON for programs)",
	"POST /connections/{connectionId...}": "POST /connections/{connectionId}/verify for an id whose / the caller did not percent-encode; " +
		"the document describes the escaped form, which the contract check below maps such requests to",
	"/": "the catch-all: 404 not_found for every path no other route serves",
}

// contract is the OpenAPI document, loaded once for every test.
var contract = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		return nil, err
	}
	// Routes are matched on the escaped path (a connection id may hold %2F),
	// whatever the host the test server listens on.
	doc.Servers = nil
	return legacy.NewRouter(doc)
})

// consoleRoute reports whether a path is the operator's console's (HTML pages
// and form posts with a session cookie, not the JSON API: docs/console.md).
func consoleRoute(p string) bool { return p == "/admin" || strings.HasPrefix(p, "/admin/") }

// browserRoute reports whether a request goes to one of the routes the
// document leaves out (see notInDocument).
func browserRoute(r *http.Request) bool {
	p := r.URL.Path
	return p == "/" || p == "/connect" || p == "/connect/" || strings.HasPrefix(p, "/connect/assets/") || strings.HasPrefix(p, "/docs/connect/") ||
		consoleRoute(p)
}

// checkContract wraps the server's handler: every request the tests send and
// every answer latchkey gives is validated against the OpenAPI document.
//
//   - An answer must be documented for its route and status, match that
//     response's schema, and carry one of the error codes the response lists
//     (x-error-codes).
//   - A request the document calls invalid is fine in a test that sends it on
//     purpose, but then latchkey must refuse it (4xx): a 2xx means the
//     document and the handler disagree.
//   - A request to a path the document does not have must get 404 not_found.
//
// Benchmarks measure latchkey alone: they are not wrapped.
func checkContract(t testing.TB, next http.Handler) http.Handler {
	if _, bench := t.(*testing.B); bench {
		return next
	}
	router, err := contract()
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if browserRoute(r) || (r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "") {
			next.ServeHTTP(w, r) // HTML and CORS preflights: not part of the JSON contract
			return
		}
		where := r.Method + " " + r.URL.Path
		proxied := strings.HasPrefix(r.URL.Path, "/proxy/")
		find := r.Clone(r.Context())
		find.URL = &url.URL{Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
		if proxied {
			find.URL.Path = "/proxy/" + url.PathEscape(strings.TrimPrefix(r.URL.Path, "/proxy/"))
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/connections/"); ok && strings.Contains(rest, "/") {
			// A connection id holding a / the caller did not escape is served as
			// the escaped form, which is what the document describes.
			id, suffix := rest, ""
			for _, sub := range []string{"/events", "/verify"} {
				if p, ok := strings.CutSuffix(rest, sub); ok && ((sub == "/events" && r.Method == http.MethodGet) || (sub == "/verify" && r.Method == http.MethodPost)) {
					id, suffix = p, sub
				}
			}
			find.URL.Path = "/connections/" + url.PathEscape(id) + suffix
		}
		route, params, ferr := router.FindRoute(find)
		rec := &recorder{ResponseWriter: w}
		if ferr != nil {
			next.ServeHTTP(rec, r)
			if rec.status() != http.StatusNotFound || contractErrorCode(rec.body.Bytes()) != "not_found" {
				t.Errorf("contract: %s is not in the OpenAPI document, but latchkey answered %d %s", where, rec.status(), rec.body.String())
			}
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: &openapi3filter.Options{
			AuthenticationFunc:    credentialShape,
			ExcludeRequestBody:    proxied, // streamed upstream, any media type
			SkipSettingDefaults:   true,
			IncludeResponseStatus: true,
		}}
		reqErr := openapi3filter.ValidateRequest(r.Context(), in)
		next.ServeHTTP(rec, r)
		status := rec.status()
		if reqErr != nil && status < 400 {
			t.Errorf("contract: %s: the document says the request is invalid (%v), but latchkey answered %d", where, short(reqErr), status)
		}
		body := rec.body.Bytes()
		if rec.truncated {
			return // a large proxied download: its bytes are the provider's
		}
		code := contractErrorCode(body)
		if proxied && code == "" {
			return // the provider's own answer, passed through
		}
		if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: status, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(body)),
			Options: in.Options,
		}); err != nil {
			t.Errorf("contract: %s answered %d, which does not match the OpenAPI document: %v\nbody: %s", where, status, short(err), clip(body))
			return
		}
		if status >= 400 {
			resp := route.Operation.Responses.Status(status)
			if resp == nil {
				resp = route.Operation.Responses.Default()
			}
			codes, _ := resp.Value.Extensions["x-error-codes"].([]any)
			if !slices.ContainsFunc(codes, func(c any) bool { return c == code }) {
				t.Errorf("contract: %s answered %d with code %q, which the document does not list for it (%v)", where, status, code, codes)
			}
		}
	})
}

// credentialShape checks that a request carries the credential a security
// scheme names (its shape only: whether it is known is latchkey's to say).
func credentialShape(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	hasBearer := strings.EqualFold(scheme, "Bearer") // the scheme is case-insensitive (RFC 9110)
	isSession := strings.HasPrefix(token, "nango_connect_session_")
	switch in.SecuritySchemeName {
	case "secretKey":
		if hasBearer && token != "" && !isSession {
			return nil
		}
	case "connectSessionToken":
		if hasBearer && isSession {
			return nil
		}
	case "connectSessionTokenQuery":
		if r.URL.Query().Get("connect_session_token") != "" {
			return nil
		}
	default:
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	return errors.New("no " + in.SecuritySchemeName)
}

func contractErrorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

func short(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\nSchema:"); i > 0 {
		s = s[:i]
	}
	return s
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// recorder passes the answer through (streaming included) and keeps a copy
// of its first MiB for validation.
type recorder struct {
	http.ResponseWriter
	code      int
	body      bytes.Buffer
	truncated bool
}

const recorderLimit = 1 << 20

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if r.body.Len()+len(b) <= recorderLimit {
		r.body.Write(b)
	} else {
		r.truncated = true
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
