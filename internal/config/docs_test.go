package config

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the README's generated settings section")

const (
	beginMarker = "<!-- BEGIN settings: generated from internal/config (Settings); `go test ./internal/config -update` rewrites it -->\n"
	endMarker   = "<!-- END settings -->\n"
)

// readmeSection is what the README holds between the markers.
func readmeSection() string {
	return "\n" + MarkdownTable() + "\n" + SecretKeyEstimateDoc + "\n\n"
}

// The README's configuration table is the settings table, rendered: it cannot
// drift from what Load accepts.
func TestREADMESettingsAreGenerated(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, beginMarker)
	end := strings.Index(readme, endMarker)
	if start < 0 || end < start {
		t.Fatalf("README.md has no generated settings section (markers %q … %q)", beginMarker, endMarker)
	}
	start += len(beginMarker)
	want := readmeSection()
	if readme[start:end] == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:start]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's settings section is stale; run go test ./internal/config -update. It should read:\n%s", want)
}

// Variables the tests and tools read; they are not settings of serve.
var testVariables = map[string]bool{"LATCHKEY_TEST_CHROME": true, "LATCHKEY_TEST_DATABASE_URL": true, "LATCHKEY_SCREENSHOT_DIR": true, "LATCHKEY_UPDATE_DOCS": true}

// Every LATCHKEY_ name the docs mention is a setting (or its _FILE variant),
// and a default the prose quotes in parentheses, "`LATCHKEY_PROXY_TIMEOUT` (60 s)",
// is the table's default.
func TestDocsMentionOnlyRealSettingsAndDefaults(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	files = append(files, filepath.Join("..", "..", "README.md"))
	byEnv := map[string]Setting{}
	for _, s := range Settings {
		byEnv[s.Env] = s
	}
	nameRE := regexp.MustCompile(`LATCHKEY_[A-Z0-9_]+`)
	quotedDefaultRE := regexp.MustCompile("`(LATCHKEY_[A-Z0-9_]+)` \\((\\d+(?: ?[a-z]+)?)")
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range nameRE.FindAllString(string(b), -1) {
			base, isFile := strings.CutSuffix(name, "_FILE")
			if _, ok := byEnv[name]; ok || testVariables[name] || isFile && byEnv[base].Secret {
				continue
			}
			t.Errorf("%s mentions %s, which is not a setting (internal/config.Settings)", f, name)
		}
		for _, m := range quotedDefaultRE.FindAllStringSubmatch(string(b), -1) {
			s, ok := byEnv[m[1]]
			if !ok || s.Default == "" {
				continue // a figure in parentheses after a setting without a default is not its default
			}
			quoted := strings.ReplaceAll(m[2], " ", "")
			if qd, err := time.ParseDuration(quoted); err == nil {
				if d, err := time.ParseDuration(s.Default); err != nil || d != qd {
					t.Errorf("%s says %s defaults to %s; the table says %q", f, s.Env, m[2], s.Default)
				}
				checked++
			} else if n, err := strconv.Atoi(strings.TrimRight(quoted, "abcdefghijklmnopqrstuvwxyz")); err == nil {
				if strconv.Itoa(n) != s.Default {
					t.Errorf("%s says %s defaults to %s; the table says %q", f, s.Env, m[2], s.Default)
				}
				checked++
			}
		}
	}
	if checked < 3 {
		t.Errorf("only %d defaults quoted in the docs were checked; has the pattern changed?", checked)
	}
}
