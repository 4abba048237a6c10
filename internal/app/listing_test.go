package app_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// Paging GET /connections by cursor lists every connection once, in the
// order of the whole list, whatever the page size, with filters, when
// creation times tie, on SQLite and PostgreSQL; the last page has no
// next_cursor; a cursor latchkey did not make is a 400 invalid_cursor.
func TestListConnectionsByCursor(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testCursorPaging(t, newHarness(t)) })
	t.Run("postgres", func(t *testing.T) { testCursorPaging(t, newHarness(t, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(t))) })
}

func testCursorPaging(t *testing.T, h *harness) {
	h.integration("jira", atlassian)
	h.integration("wiki", atlassian)
	h.seedBulk("jira", 30)
	h.seedBulk("wiki", 5)
	db := h.app.Store().DB()
	// Ties: ten connections created in the same millisecond, and the wiki
	// ones interleaved with jira's.
	q := `UPDATE connections SET created_at = (SELECT MIN(created_at) FROM connections) + 500 WHERE connection_id IN ('bulk-0000003','bulk-0000004','bulk-0000005','bulk-0000006','bulk-0000007','bulk-0000008','bulk-0000009','bulk-0000010','bulk-0000011','bulk-0000012')`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	key := func(c client.ConnectionSummary) string { return c.ProviderConfigKey + "/" + c.ConnectionID }
	ctx := h.ctx()
	for _, o := range []client.ListConnectionsOptions{{}, {IntegrationIDs: []string{"jira"}}, {IntegrationIDs: []string{"jira", "wiki"}},
		{Status: "invalid_credentials"}, {Search: "customer1"}, {EndUserID: "customer-3"}} {
		all, err := h.c.ListConnections(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, c := range all {
			want = append(want, key(c))
		}
		for _, size := range []int{1, 7, 10, 50} {
			o := o
			o.Limit = size
			var got []string
			pages := 0
			for {
				p, err := h.c.ListConnectionsPage(ctx, o)
				if err != nil {
					t.Fatalf("%+v: %v", o, err)
				}
				pages++
				for _, c := range p.Connections {
					got = append(got, key(c))
				}
				if p.NextCursor == "" {
					if len(p.Connections) == 0 && len(want) > 0 {
						t.Errorf("%+v: an empty last page after a next_cursor", o)
					}
					break
				}
				if len(p.Connections) != size {
					t.Errorf("%+v: a page of %d with a next_cursor", o, len(p.Connections))
				}
				o.Cursor = p.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("filter %+v, pages of %d:\n got %v\nwant %v", o, size, got, want)
			}
			if wantPages := max(1, (len(want)+size-1)/size); pages != wantPages {
				t.Errorf("filter %+v, pages of %d: %d pages for %d connections", o, size, pages, len(want))
			}
		}
		var walked []string
		for c, err := range h.c.EachConnection(ctx, client.ListConnectionsOptions{Limit: 4, IntegrationIDs: o.IntegrationIDs, Status: o.Status, Search: o.Search, EndUserID: o.EndUserID}) {
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, key(c))
		}
		if !slices.Equal(walked, want) {
			t.Errorf("EachConnection %+v: %d connections, want %d", o, len(walked), len(want))
		}
	}
	// Page by offset and by cursor agree.
	byPage, _ := h.c.ListConnections(ctx, client.ListConnectionsOptions{Limit: 10, Page: 1})
	first, _ := h.c.ListConnectionsPage(ctx, client.ListConnectionsOptions{Limit: 10})
	second, _ := h.c.ListConnectionsPage(ctx, client.ListConnectionsOptions{Limit: 10, Cursor: first.NextCursor})
	if len(byPage) != 10 || len(second.Connections) != 10 || byPage[0].ConnectionID != second.Connections[0].ConnectionID || byPage[9].ConnectionID != second.Connections[9].ConnectionID {
		t.Errorf("page 1 by offset and by cursor differ")
	}
	for _, c := range []struct{ query, code string }{
		{"cursor=nope", "invalid_cursor"},
		{"cursor=" + url.QueryEscape("MS4xLjE="), "invalid_cursor"},
		{"cursor=" + strings.Repeat("A", 65), "invalid_cursor"},
		{"cursor=", "invalid_cursor"},
		{"cursor=" + first.NextCursor + "&page=1&limit=10", "invalid_query_params"},
	} {
		status, body, _ := h.raw("GET", "/connections?"+c.query, testSecretKey, "", "")
		if status != 400 || !strings.Contains(body, `"code":"`+c.code+`"`) || !strings.Contains(body, `"path":["cursor"]`) {
			t.Errorf("%s: %d %s", c.query, status, body)
		}
	}
	_, err := h.c.ListConnectionsPage(ctx, client.ListConnectionsOptions{Cursor: "x"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != "invalid_cursor" || ce.Status != 400 {
		t.Errorf("SDK with a bad cursor: %v", err)
	}
}
