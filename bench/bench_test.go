package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The bench starts its servers by running its own executable again; in tests
// that is the test binary, so it must become the child the role names.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		runRole(role)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuickRun runs every scenario in quick mode, on SQLite and, when
// LATCHKEY_TEST_DATABASE_URL is set, PostgreSQL, so the harness cannot rot
// unnoticed. It checks the run completes, every request got the answer it
// expected, and every table is printed; it asserts no timing.
func TestQuickRun(t *testing.T) {
	dbs := "sqlite"
	if pg := os.Getenv("LATCHKEY_TEST_DATABASE_URL"); pg != "" {
		dbs += "," + pg
	}
	o, err := parseOptions([]string{"-quick", "-db", dbs}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := run(context.Background(), o, &out, testWriter{t})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	wantBackends := []string{"sqlite"}
	if strings.Contains(dbs, ",") {
		wantBackends = append(wantBackends, "postgres")
	}
	for _, sc := range []string{"proxy", "reads", "imports", "connect", "list", "checks"} {
		for _, be := range wantBackends {
			n := 0
			for _, c := range rep.cells {
				if c.scenario == sc && c.backend == be {
					n += c.n
					if c.errs > 0 {
						t.Errorf("%s on %s, %s c=%d: %d requests failed, the first: %s", sc, be, c.variant, c.c, c.errs, c.firstErr)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s on %s: no operation completed", sc, be)
			}
		}
	}
	floor := 0
	for _, c := range rep.cells {
		if c.variant == "floor" {
			floor += c.n
		}
	}
	if floor == 0 {
		t.Error("no request went through the floor")
	}
	if len(rep.scales) != len(wantBackends) {
		t.Errorf("scale results for %d backends, want %d", len(rep.scales), len(wantBackends))
	}
	for _, s := range rep.scales {
		if len(s.starts) == 0 || s.rssIdle == 0 {
			t.Errorf("scale on %s: starts %v, idle RSS %.1f MiB: not measured", s.backend, s.starts, s.rssIdle)
		}
	}
	for _, title := range []string{"## Proxy", "## Streaming", "## Credential reads", "## Imports", "## Connect flows", "## Listing", "## Scale", "## Health checks"} {
		if !strings.Contains(out.String(), title) {
			t.Errorf("the report has no %q table:\n%s", title, out.String())
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// cursorPages follows next_cursor to the last page and returns the first,
// middle and last page's URLs (checked against a stand-in listing here; the
// quick run in TestQuickRun walks latchkey's own).
func TestCursorPagesWalksToTheLastPage(t *testing.T) {
	const total, limit = 950, 100 // 10 pages, the last one of 50
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			from, _ = strconv.Atoi(strings.TrimPrefix(c, "after-"))
		}
		if r.URL.Query().Get("limit") != strconv.Itoa(limit) || r.Header.Get("Authorization") != "Bearer "+secretKey {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		next := ""
		if from+limit < total {
			next = fmt.Sprintf("after-%d", from+limit)
		}
		fmt.Fprintf(w, `{"connections":[],"next_cursor":%q}`, next)
	}))
	defer srv.Close()
	b := &bench{o: options{conns: total, listLimit: limit}}
	in := &instance{proc: &child{addr: strings.TrimPrefix(srv.URL, "http://")}}
	pages, err := cursorPages(context.Background(), b, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []page{
		{"first", srv.URL + "/connections?limit=100", 100},
		{"middle", srv.URL + "/connections?limit=100&cursor=after-500", 100},
		{"last", srv.URL + "/connections?limit=100&cursor=after-900", 50},
	}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("pages:\n%v\nwant\n%v", pages, want)
	}
}

func TestDBListKeepsCommasInsideURLs(t *testing.T) {
	got := splitDBs("sqlite,postgres://u@h1:5432,h2:5432/db?sslmode=disable")
	want := []string{"sqlite", "postgres://u@h1:5432,h2:5432/db?sslmode=disable"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("splitDBs = %q, want %q", got, want)
	}
}
