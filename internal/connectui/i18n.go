package connectui

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"golang.org/x/text/language"
)

// Every string the UI shows, one JSON file per language (i18n/<lang>.json).
// Provider texts (field titles, descriptions) come from the catalogue and stay
// as written there.
//
//go:embed i18n/*.json
var i18nFS embed.FS

// messages maps a language to its strings. Every language has exactly the
// keys of English, each with the same {placeholders}; loadMessages refuses
// anything else, so a gap fails the start rather than showing a raw key.
type messages map[string]map[string]string

var placeholderRE = regexp.MustCompile(`\{[a-zA-Z_]+\}`)

// placeholders lists the distinct {names} in s, sorted.
func placeholders(s string) []string {
	found := placeholderRE.FindAllString(s, -1)
	sort.Strings(found)
	return slices.Compact(found)
}

// loadMessages reads and checks every <lang>.json in dir of fsys.
func loadMessages(fsys fs.FS, dir string) (messages, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := messages{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("translations %s: %w", f, err)
		}
		out[strings.TrimSuffix(path.Base(f), ".json")] = m
	}
	en, ok := out["en"]
	if !ok {
		return nil, fmt.Errorf("translations: %s/en.json is missing", dir)
	}
	var problems []string
	for lang, m := range out {
		for key, want := range en {
			got, ok := m[key]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s lacks %q", lang, key))
			case !slices.Equal(placeholders(got), placeholders(want)):
				problems = append(problems, fmt.Sprintf("%s %q has placeholders %v, English has %v", lang, key, placeholders(got), placeholders(want)))
			}
		}
		for key := range m {
			if _, ok := en[key]; !ok {
				problems = append(problems, fmt.Sprintf("%s has %q, which English does not", lang, key))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("translations: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

// pickLanguage chooses from the lang parameter first, then Accept-Language
// (golang.org/x/text's matcher: quality values, regions and scripts, "es_MX"
// read as "es-MX"), then English.
func (m messages) pickLanguage(param, acceptLanguage string) string {
	if l := m.match(param); l != "" {
		return l
	}
	tags, _, err := language.ParseAcceptLanguage(strings.ReplaceAll(acceptLanguage, "_", "-"))
	if err != nil || len(tags) == 0 {
		return "en"
	}
	_, i, conf := m.matcher().Match(tags...)
	if conf == language.No {
		return "en"
	}
	return m.languages()[i]
}

// languages lists the languages there are strings for, English first (the
// matcher's fallback).
func (m messages) languages() []string {
	out := []string{"en"}
	for _, l := range slices.Sorted(maps.Keys(m)) {
		if l != "en" {
			out = append(out, l)
		}
	}
	return out
}

func (m messages) matcher() language.Matcher {
	var tags []language.Tag
	for _, l := range m.languages() {
		tags = append(tags, language.Make(l))
	}
	return language.NewMatcher(tags)
}

// match returns the language of a tag ("de-CH" → "de") if there are strings for it.
func (m messages) match(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	base, _, _ = strings.Cut(base, "_")
	if _, ok := m[base]; ok && base != "" {
		return base
	}
	return ""
}
