package internal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The dependency arrows point one way (DESIGN.md): services never import the
// HTTP layer or the store, and domain imports only the standard library.
func TestDependencyArrows(t *testing.T) {
	forbidden := map[string][]string{
		"domain":   {"internal/"},
		"secret":   {"internal/store", "internal/httpapi", "internal/auth", "internal/app"},
		"provider": {"internal/store", "internal/httpapi", "internal/auth", "internal/app"},
		"auth":     {"internal/store", "internal/httpapi", "internal/app", "internal/cli"},
		"httpapi":  {"internal/store", "internal/app", "internal/cli"},
		"store":    {"internal/auth", "internal/httpapi", "internal/app", "internal/provider"},
		"webhook":  {"internal/store", "internal/httpapi", "internal/app", "internal/cli", "internal/auth"},
		// Environment settings and the network policy are services under
		// the HTTP layer; neither needs the other services.
		"environment": {"internal/store", "internal/httpapi", "internal/app", "internal/cli", "internal/auth", "internal/webhook"},
		"netguard":    {"internal/store", "internal/httpapi", "internal/app", "internal/cli", "internal/auth", "internal/webhook", "internal/environment"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "github.com/latchkeyhq/latchkey/internal/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "github.com/latchkeyhq/latchkey/internal/"+pkg {
				continue
			}
			for _, b := range bad {
				if strings.HasPrefix(dep, "github.com/latchkeyhq/latchkey/"+b) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
