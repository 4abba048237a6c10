package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/config"
)

const completionUsage = `Usage:
  latchkey completion bash    source <(latchkey completion bash), e.g. in ~/.bashrc
  latchkey completion zsh     source <(latchkey completion zsh), or save it as _latchkey in a directory of $fpath
  latchkey completion fish    latchkey completion fish > ~/.config/fish/completions/latchkey.fish

Prints a completion script for the shell: commands, subcommands, their flags,
and the values of flags that take a fixed set (a connection status, say).
`

// compCommand is a command as completion sees it: subcommands, or flags.
type compCommand struct {
	name, synopsis string
	subs           []compSub
	flags          []compFlag // of a command without subcommands
	files          bool       // its arguments are files
}

type compSub struct {
	name, synopsis string
	flags          []compFlag
}

type compFlag struct {
	name, help string
	value      bool     // takes a value
	values     []string // the values it takes, when they are a fixed set
	files      bool     // its value is a path
}

var connectionStatuses = []string{"ok", "scope_missing", "invalid_credentials", "expired", "unreachable"}

// flagsOf lists a FlagSet's flags for completion.
func flagsOf(fs *flag.FlagSet) []compFlag {
	var out []compFlag
	fs.VisitAll(func(f *flag.Flag) {
		_, help := flag.UnquoteUsage(f)
		cf := compFlag{name: f.Name, help: help, value: true}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			cf.value = false
		}
		if f.Name == "status" {
			cf.values = connectionStatuses
		}
		out = append(out, cf)
	})
	return out
}

// completionSpec is every command of commands(), with what can follow it.
// The API commands' flags come from their FlagSets, serve's from the settings
// table; the others' are listed here, and a test holds them to their usage.
func completionSpec() []compCommand {
	var serveFlags []compFlag
	for _, s := range config.Settings {
		serveFlags = append(serveFlags, compFlag{name: strings.TrimPrefix(s.Flag(), "--"), help: strings.ReplaceAll(s.Help, "`", ""), value: true,
			files: strings.HasSuffix(s.Env, "_FILE") || strings.HasSuffix(s.Env, "_DIR")})
	}
	envFlag := compFlag{name: "env", help: "environment name", value: true}
	byName := map[string]compCommand{
		"serve": {flags: serveFlags},
		"demo": {flags: []compFlag{{name: "addr", help: "latchkey's listen address", value: true}, {name: "sim-addr", help: "the simulated Atlassian's listen address", value: true},
			{name: "keep", help: "keep the data dir"}, {name: "sim-only", help: "run only the simulated Atlassian"}}},
		"env": {subs: []compSub{
			{name: "show", synopsis: "webhook URLs and signing key", flags: []compFlag{envFlag}},
			{name: "set-webhook", synopsis: "set the webhook URLs", flags: []compFlag{envFlag, {name: "url", help: "primary webhook URL", value: true},
				{name: "secondary-url", help: "secondary webhook URL", value: true}}},
			{name: "rotate-signing-key", synopsis: "a new webhook signing key", flags: []compFlag{envFlag}}}},
		"migrate":     {subs: []compSub{{name: "up", synopsis: "apply the migrations"}, {name: "status", synopsis: "list migrations"}}},
		"copy":        {flags: []compFlag{{name: "from", help: "source database URL", value: true}, {name: "to", help: "target database URL", value: true}}},
		"backup":      {files: true},
		"keys":        {subs: []compSub{{name: "rotate", synopsis: "re-encrypt every credential with a new key"}, {name: "status", synopsis: "the configured keys"}}},
		"completion":  {subs: []compSub{{name: "bash", synopsis: "bash script"}, {name: "zsh", synopsis: "zsh script"}, {name: "fish", synopsis: "fish script"}}},
		"version":     {},
		"healthcheck": {flags: []compFlag{{name: "url", help: "the server's base URL", value: true}, {name: "ready", help: "ask /ready instead of /health"}}},
	}
	for _, a := range apiCommands() {
		c := compCommand{}
		for _, s := range a.subs {
			fs, _, _ := a.flagSet(s)
			c.subs = append(c.subs, compSub{name: s.name, synopsis: s.synopsis, flags: flagsOf(fs)})
		}
		byName[a.name] = c
	}
	var out []compCommand
	for _, cmd := range commands() {
		c, ok := byName[cmd.name]
		if !ok {
			panic("completion: no spec for command " + cmd.name) // caught by the tests
		}
		c.name, c.synopsis = cmd.name, cmd.synopsis
		out = append(out, c)
	}
	return out
}

func completion(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, completionUsage)
		return 2
	}
	spec := completionSpec()
	switch args[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion(spec))
	case "zsh":
		fmt.Fprint(stdout, zshCompletion(spec))
	case "fish":
		fmt.Fprint(stdout, fishCompletion(spec))
	default:
		fmt.Fprintf(stderr, "latchkey completion: unknown shell %q (bash, zsh or fish)\n", args[0])
		return 2
	}
	return 0
}

func names(spec []compCommand) []string {
	out := make([]string, 0, len(spec)+1)
	for _, c := range spec {
		out = append(out, c.name)
	}
	return append(out, "help")
}

// key identifies where flags are completed: "cmd/sub" ("cmd/" without subcommands).
type flagPlace struct {
	key   string
	flags []compFlag
}

func places(spec []compCommand) []flagPlace {
	var out []flagPlace
	for _, c := range spec {
		if len(c.subs) == 0 {
			out = append(out, flagPlace{c.name + "/", c.flags})
		}
		for _, s := range c.subs {
			out = append(out, flagPlace{c.name + "/" + s.name, s.flags})
		}
	}
	return out
}

func dashed(fl []compFlag) string {
	var s []string
	for _, f := range fl {
		s = append(s, "--"+f.name)
	}
	return strings.Join(s, " ")
}

func bashCompletion(spec []compCommand) string {
	var b strings.Builder
	b.WriteString(`# bash completion for latchkey, generated by "latchkey completion bash".
# Load it with: source <(latchkey completion bash)
_latchkey() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmd=${COMP_WORDS[1]} sub= words=
    COMPREPLY=()
    if (( COMP_CWORD == 1 )); then
        COMPREPLY=($(compgen -W "` + strings.Join(names(spec), " ") + `" -- "$cur"))
        return
    fi
    case $cmd in
        help)
            (( COMP_CWORD == 2 )) && COMPREPLY=($(compgen -W "` + strings.Join(names(spec)[:len(spec)], " ") + `" -- "$cur"))
            return;;
`)
	for _, c := range spec {
		if len(c.subs) == 0 {
			continue
		}
		var subs []string
		for _, s := range c.subs {
			subs = append(subs, s.name)
		}
		fmt.Fprintf(&b, "        %s)\n            if (( COMP_CWORD == 2 )); then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n            sub=${COMP_WORDS[2]};;\n",
			c.name, strings.Join(subs, " "))
	}
	b.WriteString("    esac\n    case \"$cmd/$sub:$prev\" in\n")
	var free []string
	for _, p := range places(spec) {
		for _, f := range p.flags {
			switch {
			case len(f.values) > 0:
				fmt.Fprintf(&b, "        %q) COMPREPLY=($(compgen -W %q -- \"$cur\")); return;;\n", p.key+":--"+f.name, strings.Join(f.values, " "))
			case f.value:
				free = append(free, fmt.Sprintf("%q", p.key+":--"+f.name))
			}
		}
	}
	if len(free) > 0 {
		// a value of the user's: leave it to readline's default (file names)
		fmt.Fprintf(&b, "        %s) return;;\n", strings.Join(free, "|"))
	}
	b.WriteString("    esac\n    [[ $cur == -* ]] || return\n    case \"$cmd/$sub\" in\n")
	for _, p := range places(spec) {
		if len(p.flags) > 0 {
			fmt.Fprintf(&b, "        %q) words=%q;;\n", p.key, dashed(p.flags)+" --help")
		}
	}
	b.WriteString(`        *) words="--help";;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _latchkey latchkey
`)
	return b.String()
}

// zq quotes s for zsh (single quotes).
func zq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// short is the first clause of a help text, for a completion menu.
func short(s string) string {
	if i := strings.IndexAny(s, ";("); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func zshCompletion(spec []compCommand) string {
	var b strings.Builder
	b.WriteString(`#compdef latchkey
# zsh completion for latchkey, generated by "latchkey completion zsh".
# Save it as _latchkey in a directory of $fpath, or: source <(latchkey completion zsh)
_latchkey() {
  local -a items
  local cmd=${words[2]} sub= prev=${words[CURRENT-1]}
  if (( CURRENT == 2 )) || [[ $cmd == help && CURRENT -eq 3 ]]; then
    items=(
`)
	for _, c := range spec {
		fmt.Fprintf(&b, "      %s\n", zq(c.name+":"+c.synopsis))
	}
	b.WriteString(`    )
    (( CURRENT == 2 )) && items+=('help:help on a command')
    _describe -t commands 'latchkey command' items
    return
  fi
  case $cmd in
`)
	for _, c := range spec {
		if len(c.subs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %s)\n      if (( CURRENT == 3 )); then\n        items=(", c.name)
		for _, s := range c.subs {
			b.WriteString(" " + zq(s.name+":"+s.synopsis))
		}
		b.WriteString(" )\n        _describe -t subcommands 'subcommand' items\n        return\n      fi\n      sub=${words[3]};;\n")
	}
	b.WriteString("  esac\n  case \"$cmd/$sub:$prev\" in\n")
	var free, files []string
	for _, p := range places(spec) {
		for _, f := range p.flags {
			k := zq(p.key + ":--" + f.name)
			switch {
			case len(f.values) > 0:
				fmt.Fprintf(&b, "    %s) compadd -- %s; return;;\n", k, strings.Join(f.values, " "))
			case f.files:
				files = append(files, k)
			case f.value:
				free = append(free, k)
			}
		}
	}
	if len(files) > 0 {
		fmt.Fprintf(&b, "    %s) _files; return;;\n", strings.Join(files, "|"))
	}
	if len(free) > 0 {
		fmt.Fprintf(&b, "    %s) _message 'value'; return;;\n", strings.Join(free, "|"))
	}
	b.WriteString("  esac\n  if [[ ${words[CURRENT]} == -* ]]; then\n    case \"$cmd/$sub\" in\n")
	for _, p := range places(spec) {
		if len(p.flags) == 0 {
			continue
		}
		fmt.Fprintf(&b, "      %s) items=(", zq(p.key))
		for _, f := range p.flags {
			b.WriteString(" " + zq("--"+f.name+":"+short(f.help)))
		}
		b.WriteString(" );;\n")
	}
	b.WriteString(`      *) items=();;
    esac
    items+=('--help:this command''s usage')
    _describe -t options 'flag' items
  else
    _files
  fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _latchkey "$@"
else
  compdef _latchkey latchkey
fi
`)
	return b.String()
}

// fq quotes s for fish (single quotes).
func fq(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func fishCompletion(spec []compCommand) string {
	var b strings.Builder
	b.WriteString(`# fish completion for latchkey, generated by "latchkey completion fish".
# Save it as ~/.config/fish/completions/latchkey.fish, or: latchkey completion fish | source

# __latchkey_words: the words typed after latchkey that are not flags.
function __latchkey_words
    set -l toks (commandline -opc)
    set -e toks[1]
    string match -v -- '-*' $toks
end
# __latchkey_at WORD...: exactly these words are typed so far (flags aside).
function __latchkey_at
    set -l w (__latchkey_words)
    test (count $w) -eq (count $argv); or return 1
    for i in (seq (count $argv))
        test "$w[$i]" = "$argv[$i]"; or return 1
    end
end
# __latchkey_in WORD...: the typed words start with these.
function __latchkey_in
    set -l w (__latchkey_words)
    test (count $w) -ge (count $argv); or return 1
    for i in (seq (count $argv))
        test "$w[$i]" = "$argv[$i]"; or return 1
    end
end
complete -c latchkey -f
complete -c latchkey -l help -d 'usage'
`)
	for _, c := range spec {
		fmt.Fprintf(&b, "complete -c latchkey -n '__latchkey_at' -a %s -d %s\n", c.name, fq(c.synopsis))
		fmt.Fprintf(&b, "complete -c latchkey -n '__latchkey_at help' -a %s -d %s\n", c.name, fq(c.synopsis))
	}
	b.WriteString("complete -c latchkey -n '__latchkey_at' -a help -d 'help on a command'\n")
	for _, c := range spec {
		if c.files {
			fmt.Fprintf(&b, "complete -c latchkey -n '__latchkey_in %s' -F\n", c.name)
		}
		for _, s := range c.subs {
			fmt.Fprintf(&b, "complete -c latchkey -n '__latchkey_at %s' -a %s -d %s\n", c.name, s.name, fq(s.synopsis))
		}
	}
	for _, p := range places(spec) {
		cond := strings.TrimSuffix(strings.ReplaceAll(p.key, "/", " "), " ")
		for _, f := range p.flags {
			line := fmt.Sprintf("complete -c latchkey -n '__latchkey_in %s' -l %s", cond, f.name)
			switch {
			case len(f.values) > 0:
				line += " -x -a " + fq(strings.Join(f.values, " "))
			case f.files:
				line += " -r -F"
			case f.value:
				line += " -x"
			}
			b.WriteString(line + " -d " + fq(short(f.help)) + "\n")
		}
	}
	return b.String()
}
