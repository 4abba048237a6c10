package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/httpx"
)

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// handlerFunc is a handler that returns its error; serveJSON turns it into a response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// writeJSON answers v as JSON (no HTML escaping, one trailing newline).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := httpx.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal_error","message":"An unexpected error occurred."}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeJSON reads a strict JSON body into v: a JSON content type (when one is
// given), at most maxBody bytes, no unknown keys, no trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return domain.NewError(domain.KindUnsupportedMedia, "invalid_content_type", "The body must be JSON (Content-Type: application/json).")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return domain.NewError(domain.KindTooLarge, "payload_too_large", fmt.Sprintf("The body is larger than %d bytes.", maxBody))
		}
		return domain.Invalid("invalid_body", "The body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !utf8.Valid(body) {
		return domain.Invalid("invalid_body", "The body is not valid UTF-8.")
	}
	if bytes.Contains(body, []byte(`\u0000`)) {
		if err := refuseNUL(body); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyProblem(err)
	}
	if dec.More() {
		return domain.Invalid("invalid_body", "The body has data after the JSON value.")
	}
	return nil
}

func bodyProblem(err error) *domain.Error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		path := strings.Split(typeErr.Field, ".")
		msg := fmt.Sprintf("%s must be %s.", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		if typeErr.Field == "" {
			path, msg = []string{}, "The body must be a JSON object."
		}
		return domain.Invalid("invalid_body", msg, domain.FieldError{Code: "invalid_type", Message: msg, Path: path})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Invalid("invalid_body", "The body is not valid JSON.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg := fmt.Sprintf("Unrecognized key: %q.", field)
		return domain.Invalid("invalid_body", msg, domain.FieldError{Code: "unrecognized_keys", Message: msg, Path: []string{field}})
	}
	return domain.Invalid("invalid_body", "The body is not valid JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "float64":
		return "a number"
	}
	return "of another type"
}

// checkQuery refuses query parameters a route does not know (Nango's schemas are strict).
func checkQuery(r *http.Request, allowed []string, allowedPrefixes ...string) error {
	var errs []domain.FieldError
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		for _, p := range allowedPrefixes {
			ok = ok || strings.HasPrefix(k, p)
		}
		if !ok {
			errs = append(errs, domain.FieldError{Code: "unrecognized_keys", Message: fmt.Sprintf("Unrecognized query parameter %q.", k), Path: []string{k}})
		}
	}
	if len(errs) > 0 {
		return domain.Invalid("invalid_query_params", errs[0].Message, errs...)
	}
	return nil
}

// Every string that reaches the database is valid UTF-8 without NUL, on both
// backends alike (PostgreSQL refuses NUL in text; SQLite would keep it). The
// body, the path and the query are checked at the edge, before anything else
// is done with them.

// refuseNUL finds a string holding U+0000 in a JSON body and names its path.
func refuseNUL(body []byte) error {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil // the typed decode reports the syntax error
	}
	if path, found := findNUL(v, nil); found {
		msg := "Text must not contain the NUL character (\\u0000)."
		return domain.Invalid("invalid_body", msg, domain.FieldError{Code: "invalid_string", Message: msg, Path: path})
	}
	return nil
}

func findNUL(v any, path []string) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return path, strings.ContainsRune(x, 0)
	case map[string]any:
		for k, e := range x {
			p := append(slices.Clone(path), k)
			if strings.ContainsRune(k, 0) {
				return p, true
			}
			if p, found := findNUL(e, p); found {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, found := findNUL(e, append(slices.Clone(path), strconv.Itoa(i))); found {
				return p, true
			}
		}
	}
	return nil, false
}

// Bounds on what a URL may carry to a handler.
const (
	maxQueryKey   = 256
	maxQueryValue = 8 << 10
)

// checkText refuses a path or query that is not valid UTF-8, holds NUL, or
// carries an oversized parameter, before the handler sees it.
func (a *API) checkText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !validText(r.URL.Path) {
			a.writeError(w, r, domain.Invalid("invalid_uri_params", "The path must be valid UTF-8 without NUL characters."))
			return
		}
		if r.URL.RawQuery != "" {
			for k, vs := range r.URL.Query() {
				for _, v := range vs {
					if !validText(k) || !validText(v) {
						a.writeError(w, r, domain.Invalid("invalid_query_params", "Query parameters must be valid UTF-8 without NUL characters.",
							domain.FieldError{Code: "invalid_string", Message: "Not valid UTF-8, or holds a NUL character.", Path: []string{strings.ToValidUTF8(k, "?")}}))
						return
					}
					if len(k) > maxQueryKey || len(v) > maxQueryValue {
						a.writeError(w, r, domain.Invalid("invalid_query_params", fmt.Sprintf("A query parameter is longer than %d bytes.", maxQueryValue),
							domain.FieldError{Code: "too_big", Message: "Too long.", Path: []string{truncate(k, 64)}}))
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}
