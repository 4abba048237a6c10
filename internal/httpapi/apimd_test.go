package httpapi_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

const (
	apiMDPath  = "../../docs/api.md"
	apiMDBegin = "<!-- BEGIN routes: generated from internal/httpapi/openapi.yaml by TestAPIMarkdownMatchesDocument; LATCHKEY_UPDATE_DOCS=1 go test ./internal/httpapi rewrites it -->"
	apiMDEnd   = "<!-- END routes -->"
)

var credentialNames = map[string]string{"secretKey": "secret key", "connectSessionToken": "session token", "connectSessionTokenQuery": "session token (query)"}

// routesMarkdown is the route table of docs/api.md, made from the document:
// every operation, its credential, its success answer and its error codes.
func routesMarkdown(doc *openapi3.T) string {
	var b strings.Builder
	b.WriteString("| route | what | credential | success | errors (status: codes) |\n|---|---|---|---|---|\n")
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := doc.Paths.Value(path)
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			var creds []string
			for _, req := range *op.Security {
				for name := range req {
					creds = append(creds, credentialNames[name])
				}
			}
			cred := strings.Join(creds, " or ")
			if cred == "" {
				cred = "none"
			}
			var ok, errs []string
			statuses := make([]string, 0, op.Responses.Len())
			for s := range op.Responses.Map() {
				statuses = append(statuses, s)
			}
			sort.Strings(statuses)
			for _, s := range statuses {
				resp := op.Responses.Value(s).Value
				codes, _ := resp.Extensions["x-error-codes"].([]any)
				switch {
				case s == "default":
					ok = append(ok, "any (passed through)")
				case s < "400":
					ok = append(ok, s)
				case s == "500" || s == "503":
					// every route: internal_error, database_unavailable
				default:
					var cs []string
					for _, c := range codes {
						cs = append(cs, fmt.Sprintf("`%v`", c))
					}
					errs = append(errs, s+": "+strings.Join(cs, ", "))
				}
			}
			fmt.Fprintf(&b, "| `%s %s` | %s | %s | %s | %s |\n", method, path, strings.ReplaceAll(op.Summary, "|", "\\|"), cred, strings.Join(ok, ", "), strings.Join(errs, "; "))
		}
	}
	return b.String()
}

// docs/api.md's route table is the document's: a route added to the document
// without regenerating the table (or a table edited by hand) fails here.
func TestAPIMarkdownMatchesDocument(t *testing.T) {
	want := routesMarkdown(loadDocument(t))
	b, err := os.ReadFile(apiMDPath)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	start, end := strings.Index(md, apiMDBegin), strings.Index(md, apiMDEnd)
	if start < 0 || end < start {
		t.Fatalf("docs/api.md has no generated route table (%s … %s)", apiMDBegin, apiMDEnd)
	}
	got := md[start+len(apiMDBegin)+1 : end]
	if got == want {
		return
	}
	if os.Getenv("LATCHKEY_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(apiMDPath, []byte(md[:start+len(apiMDBegin)+1]+want+md[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("docs/api.md rewritten")
		return
	}
	t.Errorf("docs/api.md's route table is not the document's; run LATCHKEY_UPDATE_DOCS=1 go test ./internal/httpapi -run TestAPIMarkdown\nwant:\n%s", want)
}
