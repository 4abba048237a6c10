package app_test

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	connRowRE = regexp.MustCompile(`>(bulk-\d{7})</a></th>`)
	nextRE    = regexp.MustCompile(`href="([^"]+)" rel="next"`)
	prevRE    = regexp.MustCompile(`href="([^"]+)" rel="prev"`)
)

// The console's connection list pages by cursor: Older walks every
// connection once, 50 at a time, with a filter kept; Newer walks back to the
// same pages; an old page=N link still works; a mangled cursor shows the
// first page.
func TestConsolePagesByCursor(t *testing.T) {
	h := newHarness(t)
	h.integration("jira", atlassian)
	h.seedBulk("jira", 120)
	op := h.operator()
	if p := op.signIn(testSecretKey); p.status != 303 {
		t.Fatalf("sign in: %d", p.status)
	}
	type shown struct {
		ids        []string
		next, prev string
		rangeText  string
	}
	get := func(path string) shown {
		t.Helper()
		p := op.get(path)
		if p.status != 200 {
			t.Fatalf("%s: %d", path, p.status)
		}
		var s shown
		for _, m := range connRowRE.FindAllStringSubmatch(p.body, -1) {
			s.ids = append(s.ids, m[1])
		}
		if m := nextRE.FindStringSubmatch(p.body); m != nil {
			s.next = html.UnescapeString(m[1])
		}
		if m := prevRE.FindStringSubmatch(p.body); m != nil {
			s.prev = html.UnescapeString(m[1])
		}
		if i := strings.Index(p.body, `id="range">`); i >= 0 {
			s.rangeText = p.body[i+len(`id="range">`):][:strings.Index(p.body[i+len(`id="range">`):], "<")]
		}
		return s
	}
	var pages []shown
	for path := "/admin/connections?integration=jira"; path != ""; {
		s := get(path)
		pages = append(pages, s)
		if !strings.Contains(s.next+path, "integration=jira") {
			t.Errorf("the filter was dropped: %s", s.next)
		}
		path = s.next
		if len(pages) > 5 {
			t.Fatal("more pages than connections")
		}
	}
	var all []string
	for _, p := range pages {
		all = append(all, p.ids...)
	}
	if len(pages) != 3 || len(pages[0].ids) != 50 || len(pages[2].ids) != 20 || len(all) != 120 || all[0] != "bulk-0000119" || all[119] != "bulk-0000000" {
		t.Fatalf("%d pages, %d connections: %v", len(pages), len(all), all)
	}
	if pages[1].rangeText != "Showing 51–100, newest first." || pages[2].rangeText != "Showing 101–120, newest first." {
		t.Errorf("ranges: %q, %q", pages[1].rangeText, pages[2].rangeText)
	}
	if pages[0].prev != "" || pages[2].next != "" {
		t.Errorf("a Newer link on the first page or an Older link on the last: %q %q", pages[0].prev, pages[2].next)
	}
	// Back from the last page: the same pages, up to the first, which has no Newer link.
	back := get(pages[2].prev)
	if !slices.Equal(back.ids, pages[1].ids) || back.rangeText != pages[1].rangeText {
		t.Errorf("Newer from page 3: %v", back.ids)
	}
	top := get(back.prev)
	if !slices.Equal(top.ids, pages[0].ids) || top.prev != "" || top.next == "" {
		t.Errorf("Newer from page 2: %v, prev %q", top.ids, top.prev)
	}
	// An old offset link, and a mangled cursor.
	if old := get("/admin/connections?page=2"); !slices.Equal(old.ids, pages[1].ids) {
		t.Errorf("page=2: %v", old.ids)
	}
	if bad := get("/admin/connections?after=garbage&n=7"); !slices.Equal(bad.ids, pages[0].ids) || bad.rangeText != pages[0].rangeText {
		t.Errorf("a mangled cursor: %v %q", bad.ids, bad.rangeText)
	}
}
