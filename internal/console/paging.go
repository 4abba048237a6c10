package console

import (
	"net/url"
	"strconv"

	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// The connections listing pages through the connections service. All of its
// paging is here. It pages by cursor (keyset: each page is read from an index
// where the one before ended, so page 2,000 of 100,000 connections costs what
// page 1 does): "Older" links carry after=<the last row's cursor>, "Newer"
// links before=<the first row's cursor>, and n=<the page's number>, which only
// numbers what is shown. A link with page=N (offset paging, from before
// cursors) still works.

// pageSize is how many connections one page shows.
const pageSize = 50

// maxPage bounds page numbers (and offsets of the old links).
const maxPage = 10_000

// pager is one page's place in a listing.
type pager struct {
	Page             int
	From, To         int // 1-based positions shown
	PrevURL, NextURL string
}

// pageRequest is where a listing page starts: after or before a cursor, or
// at an offset page (old links), numbered Page.
type pageRequest struct {
	Page          int
	After, Before *domain.ListPosition
	offset        bool
}

// readPage reads where a page starts; a cursor or number that does not read
// is the first page.
func readPage(q url.Values) pageRequest {
	num := func(name string) (int, bool) {
		n, err := strconv.Atoi(q.Get(name))
		if err != nil || n < 1 || n > maxPage {
			return 1, false
		}
		return n, true
	}
	p := pageRequest{Page: 1}
	if s := q.Get("after"); s != "" {
		if pos, err := connections.ParseCursor("after", s); err == nil {
			p.After = pos
			p.Page, _ = num("n")
			return p
		}
	}
	if s := q.Get("before"); s != "" {
		if pos, err := connections.ParseCursor("before", s); err == nil {
			p.Before = pos
			p.Page, _ = num("n")
			return p
		}
	}
	p.Page, p.offset = num("page")
	return p
}

// limit sets f to fetch the page, plus one row to know whether another page
// lies beyond it.
func limit(f *domain.ConnectionFilter, p pageRequest) {
	f.Limit = pageSize + 1
	f.After, f.Before = p.After, p.Before
	if p.offset {
		f.Offset = (p.Page - 1) * pageSize
	}
}

// paginate trims list to one page and builds the links to the pages around
// it, keeping the other parameters of base (the filters).
func paginate(list []*domain.Connection, p pageRequest, path string, base url.Values) ([]*domain.Connection, pager) {
	extra := len(list) > pageSize
	older, newer := extra, p.Page > 1
	if p.Before != nil {
		// Read upwards from the cursor: the extra row is the newest one.
		if extra {
			list = list[1:]
		}
		older, newer = true, extra
		if !extra {
			p.Page = 1 // the top of the list, whatever the link said
		}
	} else if extra {
		list = list[:pageSize]
	}
	pg := pager{Page: p.Page}
	if len(list) > 0 {
		pg.From = (p.Page-1)*pageSize + 1
		pg.To = pg.From + len(list) - 1
	}
	link := func(set url.Values) string {
		v := url.Values{}
		for k, vs := range base {
			switch k {
			case "page", "done", "after", "before", "n":
			default:
				v[k] = vs
			}
		}
		for k, vs := range set {
			v[k] = vs
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if len(list) > 0 && newer {
		if p.Page <= 2 && p.Before == nil && p.After == nil {
			pg.PrevURL = link(nil) // from an old offset link: page 1 is the plain listing
		} else {
			pg.PrevURL = link(url.Values{"before": {connections.Cursor(list[0])}, "n": {strconv.Itoa(max(1, p.Page-1))}})
		}
	}
	if len(list) > 0 && older && p.Page < maxPage {
		pg.NextURL = link(url.Values{"after": {connections.Cursor(list[len(list)-1])}, "n": {strconv.Itoa(p.Page + 1)}})
	}
	return list, pg
}
