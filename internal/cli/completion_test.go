package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// flagsInUsage lists the --flags a usage text names.
func flagsInUsage(usage string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(usage, func(r rune) bool { return !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		if n, ok := strings.CutPrefix(w, "--"); ok && n != "" && n != "help" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Completion knows every command, and for each exactly the flags and
// subcommands its help names: they cannot drift apart.
func TestCompletionSpecMatchesUsage(t *testing.T) {
	spec := completionSpec()
	if len(spec) != len(commands()) {
		t.Fatalf("%d commands, %d in the completion spec", len(commands()), len(spec))
	}
	for _, c := range spec {
		cmd, _ := lookup(c.name)
		usage := cmd.usage()
		var flags []string
		for _, f := range c.flags {
			flags = append(flags, f.name)
		}
		for _, s := range c.subs {
			if !strings.Contains(usage, "latchkey "+c.name+" "+s.name) {
				t.Errorf("%s: the usage does not name subcommand %s", c.name, s.name)
			}
			for _, f := range s.flags {
				if !slices.Contains(flags, f.name) {
					flags = append(flags, f.name)
				}
			}
		}
		sort.Strings(flags)
		if want := flagsInUsage(usage); !slices.Equal(flags, want) {
			t.Errorf("%s: completion offers flags %v, the usage names %v", c.name, flags, want)
		}
	}
}

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errs := cliRun(nil)("completion", shell)
	if code != 0 || errs != "" {
		t.Fatalf("completion %s: %d %q", shell, code, errs)
	}
	path := filepath.Join(t.TempDir(), "latchkey."+shell)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", name)
	}
	return p
}

// completions are what each shell offers after a command line; the last
// word is the one being completed.
var completionCases = []struct {
	line string
	want []string
}{
	{"latchkey co", []string{"completion", "connections", "copy"}},
	{"latchkey connections ", []string{"check", "delete", "list", "show"}},
	{"latchkey connections list --st", []string{"--status"}},
	{"latchkey connections list --status ", []string{"expired", "invalid_credentials", "ok", "scope_missing", "unreachable"}},
	{"latchkey sessions create --e", []string{"--email", "--end-user"}},
	{"latchkey integrations ", []string{"create", "list"}},
	{"latchkey keys ", []string{"rotate", "status"}},
	{"latchkey env set-webhook --", []string{"--env", "--help", "--secondary-url", "--url"}},
	{"latchkey serve --public", []string{"--public-url"}},
	{"latchkey help se", []string{"serve", "sessions"}},
	{"latchkey completion ", []string{"bash", "fish", "zsh"}},
}

func sorted(s []string) []string {
	var out []string
	for _, x := range s {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func TestBashCompletion(t *testing.T) {
	bash := needShell(t, "bash")
	script := completionScript(t, "bash")
	for _, tc := range completionCases {
		words := strings.Split(tc.line, " ")
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := `source "$1"; COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _latchkey; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, "-c", prog, "bash", script).CombinedOutput()
		if got := sorted(strings.Split(string(out), "\n")); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("bash %q: %v %v, want %v", tc.line, got, err, tc.want)
		}
	}
}

// zsh's completion system needs a terminal; the function's logic is run with
// its builtins (compadd, _describe, _files) standing in as printers.
func TestZshCompletion(t *testing.T) {
	zsh := needShell(t, "zsh")
	script := completionScript(t, "zsh")
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v %s", err, out)
	}
	stubs := `compdef() { :; }
compadd() { while [[ $1 != -- ]]; do shift; done; shift; print -l -- "$@"; }
_describe() { local i; for i in ${(P)4}; do print -- ${i%%:*}; done; }
_files() { print FILES; }
_message() { print MESSAGE; }
source "$1"
`
	for _, tc := range completionCases {
		words := strings.Split(tc.line, " ")
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := stubs + `words=(` + strings.Join(quoted, " ") + `); CURRENT=${#words}; _latchkey`
		out, err := exec.Command(zsh, "-f", "-c", prog, "zsh", script).CombinedOutput()
		got := sorted(strings.Split(string(out), "\n"))
		// zsh leaves prefix matching to the completion system: filter here.
		prefix := words[len(words)-1]
		var matched []string
		for _, g := range got {
			if strings.HasPrefix(g, prefix) {
				matched = append(matched, g)
			}
		}
		if err != nil || !slices.Equal(matched, tc.want) {
			t.Errorf("zsh %q: %v (all: %v) %v, want %v", tc.line, matched, got, err, tc.want)
		}
	}
}

func TestFishCompletion(t *testing.T) {
	fish := needShell(t, "fish")
	script := completionScript(t, "fish")
	for _, tc := range completionCases {
		out, err := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, tc.line).CombinedOutput()
		var got []string
		for _, l := range strings.Split(string(out), "\n") {
			got = append(got, strings.SplitN(l, "\t", 2)[0])
		}
		if got = sorted(got); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("fish %q: %v %v, want %v", tc.line, got, err, tc.want)
		}
	}
}
