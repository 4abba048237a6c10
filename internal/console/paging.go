package console

import (
	"net/url"
	"strconv"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// The connections listing pages through the connections service. All of its
// paging is here: today offset paging (page=N), the store's ListConnections
// as it is; when the store pages by cursor, only this file changes (the
// template shows Prev/Next links and a range, whatever is behind them).

// pageSize is how many connections one page shows.
const pageSize = 50

// maxPage keeps an offset within what the listing serves quickly.
const maxPage = 10_000

// pager is one page's place in a listing.
type pager struct {
	Page             int
	From, To         int // 1-based positions shown
	PrevURL, NextURL string
}

// readPage reads the page number of a listing (1 when absent or out of range).
func readPage(q url.Values) int {
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n < 1 || n > maxPage {
		return 1
	}
	return n
}

// limit sets f to fetch page, plus one row to know whether a next page exists.
func limit(f *domain.ConnectionFilter, page int) {
	f.Limit = pageSize + 1
	f.Offset = (page - 1) * pageSize
}

// paginate trims list to one page and builds the links to the pages around
// it, keeping the other parameters of base (the filters).
func paginate(list []*domain.Connection, page int, path string, base url.Values) ([]*domain.Connection, pager) {
	p := pager{Page: page}
	more := len(list) > pageSize
	if more {
		list = list[:pageSize]
	}
	if len(list) > 0 {
		p.From = (page-1)*pageSize + 1
		p.To = p.From + len(list) - 1
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range base {
			if k != "page" && k != "done" {
				v[k] = vs
			}
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	if more && page < maxPage {
		p.NextURL = link(page + 1)
	}
	return list, p
}
