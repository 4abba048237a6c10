package provider

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var placeholderRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// UnresolvedError says which placeholders had no value. A template with an
// unresolved placeholder is never used to build a request.
type UnresolvedError struct {
	Template     string
	Placeholders []string
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("template needs %s, which the connection does not have", strings.Join(e.Placeholders, ", "))
}

// Vars are the values templates may refer to: ${connectionConfig.x},
// ${credentials.x}, and credential fields bare (${username}, ${apiKey}).
type Vars struct {
	ConnectionConfig map[string]any
	Credentials      map[string]any
}

func (v Vars) lookup(path string) (string, bool) {
	path = strings.TrimSpace(path)
	var root map[string]any
	rest := path
	switch {
	case strings.HasPrefix(path, "connectionConfig."):
		root, rest = v.ConnectionConfig, strings.TrimPrefix(path, "connectionConfig.")
	case strings.HasPrefix(path, "credentials."):
		root, rest = v.Credentials, strings.TrimPrefix(path, "credentials.")
	default:
		root = v.Credentials
	}
	var cur any = root
	for _, part := range strings.Split(rest, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[part]; !ok {
			return "", false
		}
	}
	switch x := cur.(type) {
	case string:
		return x, x != ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// alternatives splits "A || B" into its choices.
func alternatives(tmpl string) []string {
	parts := strings.Split(tmpl, "||")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// Interpolate fills every ${...} in tmpl. With "A || B", the first alternative
// whose placeholders all resolve wins. If none does, the error names what is missing.
// escape, when not nil, is applied to each substituted value (e.g. for URL paths).
func Interpolate(tmpl string, vars Vars, escape func(string) string) (string, error) {
	var firstErr *UnresolvedError
	for _, alt := range alternatives(tmpl) {
		var missing []string
		out := placeholderRE.ReplaceAllStringFunc(alt, func(m string) string {
			key := m[2 : len(m)-1]
			v, ok := vars.lookup(key)
			if !ok {
				missing = append(missing, m)
				return m
			}
			if escape != nil {
				return escape(v)
			}
			return v
		})
		missing = append(missing, unclosed(alt)...)
		if len(missing) == 0 {
			return out, nil
		}
		if firstErr == nil {
			firstErr = &UnresolvedError{Template: tmpl, Placeholders: missing}
		}
	}
	return "", firstErr
}

// unclosed returns each "${" of tmpl that starts no complete placeholder (from
// there to the end): such a template is not resolved, whatever the values.
func unclosed(tmpl string) []string {
	covered := placeholderRE.FindAllStringIndex(tmpl, -1)
	var out []string
	for i := 0; ; i++ {
		j := strings.Index(tmpl[i:], "${")
		if j < 0 {
			return out
		}
		i += j
		inside := false
		for _, c := range covered {
			inside = inside || (i >= c[0] && i < c[1])
		}
		if !inside {
			return append(out, tmpl[i:])
		}
	}
}
