package httpapi_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/latchkeyhq/latchkey/internal/httpapi"
)

func loadDocument(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	return doc
}

// The document is valid OpenAPI 3.1 for kin-openapi (JSON Schema 2020-12
// validation, examples checked against their schemas). CI also runs
// @apidevtools/swagger-parser on it (tests/sdk/validate-openapi.mjs).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadDocument(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml is not valid: %v", err)
	}
}

// Every operation says who may call it, and every error response names the
// codes it can carry (x-error-codes), each of them in its description too so
// that people reading any renderer see them.
func TestOpenAPIOperationsAreComplete(t *testing.T) {
	doc := loadDocument(t)
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s also used by %s", where, op.OperationID, prev)
			}
			ids[op.OperationID] = where
			if op.Summary == "" {
				t.Errorf("%s: no summary", where)
			}
			if op.Security == nil {
				t.Errorf("%s: no security (use [] for public routes)", where)
			} else if len(*op.Security) > 0 && op.Responses.Status(401) == nil {
				t.Errorf("%s: needs a credential but documents no 401", where)
			}
			for status, ref := range op.Responses.Map() {
				if status == "default" || status < "400" {
					continue
				}
				resp := ref.Value
				codes, _ := resp.Extensions["x-error-codes"].([]any)
				if len(codes) == 0 {
					t.Errorf("%s %s: no x-error-codes", where, status)
				}
				for _, c := range codes {
					if !strings.Contains(*resp.Description, fmt.Sprintf("`%v`", c)) {
						t.Errorf("%s %s: description does not mention `%v`", where, status, c)
					}
				}
				if resp.Content.Get("application/json") == nil {
					t.Errorf("%s %s: error responses are JSON", where, status)
				}
			}
		}
	}
	if len(ids) < 40 {
		keys := make([]string, 0, len(ids))
		for k := range ids {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("only %d operations: %v", len(ids), keys)
	}
}
