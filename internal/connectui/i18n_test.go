package connectui

import (
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// Every language has every English key and, for each key, exactly the same
// {placeholders}: read straight from the embedded files.
func TestTranslationsAreComplete(t *testing.T) {
	read := func(lang string) map[string]string {
		b, err := fs.ReadFile(i18nFS, "i18n/"+lang+".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		return m
	}
	en := read("en")
	if len(en) < 50 {
		t.Fatalf("en.json has only %d keys", len(en))
	}
	files, _ := fs.Glob(i18nFS, "i18n/*.json")
	var langs []string
	for _, f := range files {
		langs = append(langs, strings.TrimSuffix(strings.TrimPrefix(f, "i18n/"), ".json"))
	}
	if want := []string{"de", "en", "es", "fr", "ja"}; !slices.Equal(langs, want) {
		t.Errorf("languages = %v, want %v", langs, want)
	}
	for _, lang := range langs {
		m := read(lang)
		for key, english := range en {
			got, ok := m[key]
			if !ok {
				t.Errorf("%s: no %q", lang, key)
				continue
			}
			if strings.TrimSpace(got) == "" {
				t.Errorf("%s: %q is empty", lang, key)
			}
			if g, w := placeholders(got), placeholders(english); !slices.Equal(g, w) {
				t.Errorf("%s: %q has placeholders %v, English %v", lang, key, g, w)
			}
		}
		for key := range m {
			if _, ok := en[key]; !ok {
				t.Errorf("%s: %q is not an English key", lang, key)
			}
		}
	}
}

// The start-up check refuses what the test above looks for.
func TestLoadMessagesRefusesGaps(t *testing.T) {
	en := `{"a": "Hello {name}", "b": "Bye"}`
	for _, c := range []struct{ name, fr, want string }{
		{"missing key", `{"a": "Bonjour {name}"}`, `fr lacks "b"`},
		{"extra key", `{"a": "Bonjour {name}", "b": "Salut", "c": "?"}`, `fr has "c"`},
		{"placeholder renamed", `{"a": "Bonjour {nom}", "b": "Salut"}`, `fr "a" has placeholders [{nom}]`},
		{"placeholder dropped", `{"a": "Bonjour", "b": "Salut"}`, `fr "a" has placeholders []`},
		{"not JSON", `{"a": `, `fr.json`},
	} {
		_, err := loadMessages(fstest.MapFS{"i18n/en.json": {Data: []byte(en)}, "i18n/fr.json": {Data: []byte(c.fr)}}, "i18n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if _, err := loadMessages(fstest.MapFS{"i18n/fr.json": {Data: []byte(`{}`)}}, "i18n"); err == nil {
		t.Error("no English accepted")
	}
	m, err := loadMessages(fstest.MapFS{"i18n/en.json": {Data: []byte(en)}, "i18n/fr.json": {Data: []byte(`{"a": "{name}, bonjour", "b": "Salut"}`)}}, "i18n")
	if err != nil || m["fr"]["a"] != "{name}, bonjour" {
		t.Errorf("good files: %v %v", m, err)
	}
}

func TestPickLanguage(t *testing.T) {
	m, err := loadMessages(i18nFS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ param, header, want string }{
		{"fr", "de", "fr"},
		{"", "ja,en;q=0.5", "ja"},
		{"", "de-CH, fr;q=0.8", "de"},
		{"", "pt-BR, es;q=0.2, fr;q=0.9", "fr"},
		{"", "es_MX", "es"},
		{"", "pt-BR", "en"},
		{"xx", "", "en"},
		{"", "fr;q=0, de;q=0.1", "de"},
		{"", "", "en"},
	} {
		if got := m.pickLanguage(c.param, c.header); got != c.want {
			t.Errorf("lang=%q Accept-Language=%q: %s, want %s", c.param, c.header, got, c.want)
		}
	}
}
