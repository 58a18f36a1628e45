package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Page sizes used when ListOptions.PageSize is zero. The platform documents no maximum page
// size (its defaults are 60 and 16, far too small for exports of tens of thousands of rows).
//
// CustomersPageSize is 200, the platform-wide item limit it documents for bulk requests
// (standard-practices/bulk-request-limits.md): the one documented bound on how many items one
// request handles. CustomerManagementPageSize is 100 because those answers are much heavier:
// every contact assignment embeds its whole legal entity, every legal entity its locations and
// assignments. Customer Management lists also ask for X-Total-Count, so a server that silently
// caps the page size below these values is still read to the end.
const (
	CustomersPageSize          = 200
	CustomerManagementPageSize = 100
	// SDMappingsPageSize is the page size for SD customer mapping lists.
	SDMappingsPageSize = 100
)

// ListOptions select and order what a list call returns.
type ListOptions struct {
	// Q is the platform query, e.g. `contactEmail:a@b.com` or `type:COMPANY` (terms separated
	// by spaces are ANDed; the platform has no OR).
	Q string
	// Sort is e.g. "lastName:asc,firstName" or "name,metadata.createdAt:desc".
	Sort string
	// PageSize is the number of items fetched per request; zero means the API's constant above.
	PageSize int
	// Expand lists Customer Service expansions: "addresses", "accounts", "mixin:*".
	Expand []string
	// Fields restricts Customer Management answers to these fields.
	Fields []string
	// Filters are Customer Management filter parameters, e.g. {"legalEntity.id": "LE1"} or
	// {"customer.id": "C1"} for contact assignments.
	Filters map[string]string
	// FirstPage is the 1-based page the iteration starts at (0 means 1): concurrent readers such as an
	// export fetch page N of a list by starting there and consuming one page.
	FirstPage int
}

// Filter keys of the contact-assignment list.
const (
	FilterLegalEntityID = "legalEntity.id"
	FilterCustomerID    = "customer.id"
)

// pager describes how to fetch one list.
type pager struct {
	// build returns the request for a 1-based page number.
	build func(page, size int) *request
	size  int
	first int // the first page; 0 means 1
	// totalHeader names the response header carrying the total count, if the API has a
	// reliable one. The Customer Service "Count" header is not used: the docs do not say
	// whether it counts the page or the whole result.
	totalHeader string
}

// pages iterates over every item of a paged list, fetching one page at a time. It stops after
// an empty page, after a page shorter than the page size (unless a total count says more
// items follow), when the consumer stops, or at the first error, which it yields once.
func (c *Client) pages(ctx context.Context, p pager) iter.Seq2[Doc, error] {
	return func(yield func(Doc, error) bool) {
		seen := (max(p.first, 1) - 1) * p.size // items on the pages skipped, for the total-count check
		prevFirst := ""
		for page := max(p.first, 1); ; page++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			r := p.build(page, p.size)
			resp, err := c.do(ctx, r)
			if err != nil {
				yield(nil, fmt.Errorf("page %d: %w", page, err))
				return
			}
			docs, err := decodeDocs(r, resp.body)
			if err != nil {
				yield(nil, err)
				return
			}
			if len(docs) == 0 {
				return
			}
			// A server that ignores pageNumber would make this loop forever.
			if first := docIdentity(docs[0]); first != "" && first == prevFirst {
				yield(nil, fmt.Errorf("%s %s: page %d repeats page %d; the server ignores paging", r.method, r.path, page, page-1))
				return
			} else {
				prevFirst = first
			}
			for _, d := range docs {
				if !yield(d, nil) {
					return
				}
			}
			seen += len(docs)
			if total, ok := headerInt(resp.header, p.totalHeader); ok {
				if seen >= total {
					return
				}
				continue
			}
			if len(docs) < p.size {
				return
			}
		}
	}
}

// docIdentity identifies an item for the repeat check: its id, or failing that its customer
// number (SD mappings have no id).
func docIdentity(d Doc) string {
	for _, key := range []string{"id", "customerNumber"} {
		if v, ok := d[key]; ok {
			return fmt.Sprint(v)
		}
	}
	return ""
}

func headerInt(h http.Header, name string) (int, bool) {
	if name == "" {
		return 0, false
	}
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// pageQuery adds paging and the common options to q.
func pageQuery(opts ListOptions, page, size int) url.Values {
	q := url.Values{}
	q.Set("pageNumber", strconv.Itoa(page))
	q.Set("pageSize", strconv.Itoa(size))
	if opts.Sort != "" {
		q.Set("sort", opts.Sort)
	}
	if len(opts.Expand) > 0 {
		q.Set("expand", strings.Join(opts.Expand, ","))
	}
	if len(opts.Fields) > 0 {
		q.Set("fields", strings.Join(opts.Fields, ","))
	}
	for k, v := range opts.Filters {
		q.Set(k, v)
	}
	return q
}

func pageSizeOr(size, def int) int {
	if size > 0 {
		return size
	}
	return def
}
