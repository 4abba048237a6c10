package internal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/latchkeyhq/latchkey/"

// allowed is the map of the house (docs/architecture.md): for every package of
// the module, the module's packages it may import. Arrows point down, from
// the binary to the wiring, the HTTP layer, the services, and the plain types
// at the bottom. A package missing here, or an import outside its row, fails.
var allowed = map[string][]string{
	// Leaves: the standard library (and third-party modules) only.
	"internal/domain":       {},
	"internal/clock":        {},
	"internal/httpx":        {},
	"internal/throttle":     {},
	"internal/secret":       {},
	"internal/metrics":      {},
	"internal/upstream":     {"internal/domain", "internal/httpx", "internal/netguard"},
	"internal/atlassiansim": {"internal/httpx"},
	"client":                {},
	"internal/testdb":       {}, // imported by tests only
	// A client generated from the OpenAPI document, compiled and called by a test.
	"internal/httpapi/openapiclient": {},

	// Catalogue, storage and plumbing.
	"internal/netguard":        {"internal/domain"},
	"internal/environment":     {"internal/domain", "internal/netguard", "internal/secret"},
	"internal/provider":        {"internal/domain", "internal/httpx"},
	"internal/store":           {"internal/domain", "internal/secret"},
	"internal/store/storetest": {"internal/domain", "internal/secret", "internal/store"},
	"internal/oplog":           {"internal/domain"},
	"internal/config":          {"internal/httpx", "internal/secret", "internal/upstream"},
	"internal/webhook":         {"internal/domain", "internal/httpx", "internal/netguard", "internal/secret"},

	// Services: they never import the HTTP layer, the store or the wiring.
	"internal/verify":       {"internal/clock", "internal/domain", "internal/provider", "internal/upstream"},
	"internal/connections":  {"internal/clock", "internal/domain", "internal/httpx", "internal/netguard", "internal/provider", "internal/secret", "internal/verify", "internal/webhook"},
	"internal/connect":      {"internal/clock", "internal/connections", "internal/domain", "internal/httpx", "internal/secret"},
	"internal/integrations": {"internal/domain", "internal/provider"},
	"internal/lifecycle":    {"internal/clock", "internal/domain", "internal/webhook"},
	"internal/proxy":        {"internal/clock", "internal/domain", "internal/httpx", "internal/provider", "internal/upstream"},
	"internal/secretkeys":   {"internal/clock", "internal/domain", "internal/secret"},
	"internal/audit":        {"internal/clock", "internal/domain"},
	"internal/connectui":    {"internal/httpx", "internal/provider"},

	// The HTTP layer: services in, JSON (the API) or HTML (the console) out;
	// never the store or the wiring.
	"internal/httpapi": {"internal/audit", "internal/connect", "internal/connections", "internal/domain", "internal/environment", "internal/httpx", "internal/integrations", "internal/lifecycle",
		"internal/provider", "internal/proxy", "internal/secret", "internal/secretkeys", "internal/throttle", "internal/webhook"},
	"internal/console": {"internal/audit", "internal/clock", "internal/connect", "internal/connections", "internal/domain", "internal/environment", "internal/httpx", "internal/integrations",
		"internal/lifecycle", "internal/provider", "internal/secret", "internal/secretkeys", "internal/throttle", "internal/webhook"},

	// Maintenance: re-sealing every secret under the newest key.
	"internal/keyrotation": {"internal/connections", "internal/domain", "internal/environment", "internal/secret", "internal/store", "internal/webhook"},
	// Maintenance: purging what is past its retention, giving the space back.
	"internal/retention": {"internal/clock", "internal/store"},

	// Wiring and commands.
	"internal/app": {"internal/audit", "internal/clock", "internal/config", "internal/connect", "internal/connections", "internal/connectui", "internal/console", "internal/domain", "internal/environment", "internal/httpapi",
		"internal/integrations", "internal/keyrotation", "internal/lifecycle", "internal/metrics", "internal/netguard", "internal/oplog", "internal/provider", "internal/proxy", "internal/retention", "internal/secret",
		"internal/secretkeys", "internal/store", "internal/upstream", "internal/verify", "internal/webhook"},
	"internal/cli":      {"client", "internal/app", "internal/atlassiansim", "internal/config", "internal/domain", "internal/environment", "internal/keyrotation", "internal/netguard", "internal/secret", "internal/store", "internal/webhook"},
	"cmd/latchkey":      {"internal/cli"},
	"bench":             {"client", "internal/app", "internal/atlassiansim", "internal/config", "internal/domain", "internal/secret"},
	"tests/sdk/standin": {"internal/atlassiansim"},
	"tests/deploy":      {}, // tests only (the Dockerfile, compose file, systemd unit, release script); its tests read internal/config
	"internal":          {}, // this test
}

func TestDependencyArrows(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("package %s is not on the map in internal/deps_test.go (and docs/architecture.md): add it with the imports it may have", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, module)
			if ours && !slices.Contains(ok, dep) {
				t.Errorf("%s imports %s, which its row does not allow", pkg, dep)
			}
		}
	}
}
