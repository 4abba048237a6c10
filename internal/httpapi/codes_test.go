package httpapi_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Error codes as the server's code writes them: through domain's error
// constructors, in a domain.Error literal, through the proxy's bad helper, or
// as Code… constants.
var codePatterns = []*regexp.Regexp{
	regexp.MustCompile(`\bdomain\.(?:Invalid|InvalidFields|NotFound|Unauthenticated)\("([a-z_]+)"`),
	regexp.MustCompile(`\bdomain\.NewError\(domain\.Kind[A-Za-z]+, "([a-z_]+)"`),
	regexp.MustCompile(`Error\{Kind: [^,]+, Code: "([a-z_]+)"`),
	regexp.MustCompile(`errorDetail\{Code: "([a-z_]+)"`),
	regexp.MustCompile(`\bbad\("([a-z_]+)"`),
	regexp.MustCompile(`\bCode[A-Z][A-Za-z]* += "([a-z_]+)"`),
}

// Every error code the server's source can answer with is listed by some
// response of the document (the contract check in internal/app then ties each
// code to the routes and statuses that really return it).
func TestEveryErrorCodeIsDocumented(t *testing.T) {
	documented := map[string]bool{}
	doc := loadDocument(t)
	collect := func(ext map[string]any) {
		codes, _ := ext["x-error-codes"].([]any)
		for _, c := range codes {
			documented[c.(string)] = true
		}
	}
	for _, r := range doc.Components.Responses {
		collect(r.Value.Extensions)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, r := range op.Responses.Map() {
				collect(r.Value.Extensions)
			}
		}
	}
	// scope_missing is a warning's code, not an error's; canceled is the proxy's
	// answer to a caller that went away (a bare 499 nobody reads).
	// The netguard codes are field codes (errors[].code of a refused webhook URL).
	notErrors := map[string]bool{"scope_missing": true, "canceled": true, "invalid_string": true, "address_not_allowed": true, "host_not_found": true,
		// The console's sign-in form answers in HTML, not through the API.
		"invalid_form": true}
	found := map[string][]string{}
	// All of internal/ (whatever its packages are called), generated and test code aside.
	err := filepath.WalkDir("..", func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, ".gen.go") {
			return err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, re := range codePatterns {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				found[m[1]] = append(found[m[1]], f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 20 {
		t.Fatalf("found only %d codes in the source: the patterns no longer match it", len(found))
	}
	var missing []string
	for code, files := range found {
		if !documented[code] && !notErrors[code] {
			missing = append(missing, code+" ("+strings.Join(files, ", ")+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("error code %s is not listed by any response of the OpenAPI document", m)
	}
}
