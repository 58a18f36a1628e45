package remote

import (
	"context"
	"fmt"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
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
	// Expand lists Customer Service expansions: "addresses", "accounts", "mixin:*". With
	// "addresses", every customer comes with its addresses: where the platform leaves them out of
	// a page, they are fetched customer by customer.
	Expand []string
	// Fields restricts Customer Management answers to these fields.
	Fields []string
	// Filters are Customer Management filter parameters, e.g. {"legalEntity.id": "LE1"} or
	// {"customer.id": "C1"} for contact assignments.
	Filters map[string]string
	// Workers is how many pages are fetched at once; 0 or 1 fetches one after the other. Pages
	// come in order either way (see Client.walk).
	Workers int
}

// Filter keys of the contact-assignment list, and of the legal-entity list (FilterParentID).
const (
	FilterLegalEntityID = "legalEntity.id"
	FilterCustomerID    = "customer.id"
	FilterParentID      = "parentId"
)

// pager describes how to fetch one list.
type pager struct {
	// build returns the request for a 1-based page number.
	build func(page, size int) *request
	size  int
	// workers is how many pages may be fetched at once (ListOptions.Workers).
	workers int
	// totalHeader names the response header carrying the total count, if the API has a
	// reliable one. The Customer Service "Count" header is not used: the docs do not say
	// whether it counts the page or the whole result.
	totalHeader string
	// complete, if set, finishes the items of a page before they are yielded (e.g. fetches what
	// the platform left out of it); it runs while later pages are fetched.
	complete func(ctx context.Context, docs []Doc) error
}

// pages iterates over every item of a paged list, in page order (see walk), each item once: an
// item a later page repeats, because the list shifted under the walk (a customer created
// meanwhile), is skipped. It stops when the consumer stops or at the first error, which it
// yields once.
func (c *Client) pages(ctx context.Context, p pager) iter.Seq2[Doc, error] {
	return func(yield func(Doc, error) bool) {
		seen := map[string]bool{}
		for docs, err := range c.walk(ctx, p) {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, d := range docs {
				if id := docIdentity(d); id != "" {
					if seen[id] {
						continue
					}
					seen[id] = true
				}
				if !yield(d, nil) {
					return
				}
			}
		}
	}
}

// pageResult is one fetched page: its items and the total count the answer announced, if any.
type pageResult struct {
	docs     []Doc
	total    int
	hasTotal bool
	err      error
}

// fetchPage fetches one page and completes its items.
func (c *Client) fetchPage(ctx context.Context, p pager, page, size int) pageResult {
	if err := ctx.Err(); err != nil {
		return pageResult{err: err}
	}
	r := p.build(page, size)
	resp, err := c.do(ctx, r)
	if err != nil {
		return pageResult{err: fmt.Errorf("page %d: %w", page, err)}
	}
	docs, err := decodeDocs(r, resp.body)
	if err != nil {
		return pageResult{err: err}
	}
	if p.complete != nil && len(docs) > 0 {
		if err := p.complete(ctx, docs); err != nil {
			return pageResult{err: err}
		}
	}
	total, ok := headerInt(resp.header, p.totalHeader)
	return pageResult{docs: docs, total: total, hasTotal: ok, err: nil}
}

// walk is the one page walker of the client: it yields the items of a list page by page, in page
// order, fetching up to p.workers pages at once. It ends after an empty page, once a total count
// is reached, or after a page shorter than the page size, and stops at the first error or when the
// consumer stops; every fetch it started has finished when it returns.
//
// One after the other (p.workers <= 1), no request is made past the end of the list. With more
// workers, the first page is fetched alone: where the API sends a total count it tells how many
// pages follow, and exactly those are fetched. Without a total the end is only seen in a short
// page, so up to workers-1 requests past the end are made (and cancelled); and a short page is
// checked against the next one, already asked for: if that is not empty, the server caps the page
// size below what was asked, the cap becomes the page size, and the walk goes on. A server that
// ignores the page number (page N repeats page N-1) is an error rather than an endless walk.
func (c *Client) walk(ctx context.Context, p pager) iter.Seq2[[]Doc, error] {
	return func(yield func([]Doc, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var ahead chan chan pageResult // pages 2, 3, ... being fetched, in order; nil until started
		defer func() {
			cancel()
			if ahead != nil {
				for ch := range ahead {
					<-ch
				}
			}
		}()
		var last atomic.Int64 // the last page to fetch ahead
		last.Store(math.MaxInt64)
		fetchAhead := func() {
			ahead = make(chan chan pageResult, p.workers-1)
			go func() {
				defer close(ahead)
				for page := 2; int64(page) <= last.Load(); page++ {
					ch := make(chan pageResult, 1)
					select {
					case ahead <- ch:
					case <-ctx.Done():
						return
					}
					go func() { ch <- c.fetchPage(ctx, p, page, p.size) }()
				}
			}()
		}
		size, seen, prevFirst, capped := p.size, 0, "", false
		for page := 1; ; page++ {
			var r pageResult
			if ahead == nil {
				r = c.fetchPage(ctx, p, page, p.size)
			} else if ch, ok := <-ahead; ok {
				r = <-ch
			} // else: the pages a total announced are all read, which ends the walk like an empty page
			if r.err != nil {
				yield(nil, r.err)
				return
			}
			if len(r.docs) == 0 {
				return
			}
			if first := docIdentity(r.docs[0]); first != "" && first == prevFirst {
				req := p.build(page, size)
				yield(nil, fmt.Errorf("%s %s: page %d repeats page %d; the server ignores paging", req.method, req.path, page, page-1))
				return
			} else {
				prevFirst = first
			}
			if !yield(r.docs, nil) {
				return
			}
			seen += len(r.docs)
			if r.hasTotal {
				if seen >= r.total {
					return
				}
			} else if len(r.docs) < size {
				if p.workers <= 1 || capped {
					return
				}
				// The end, unless the next page is not empty: then the server caps the page size.
				capped, size = true, len(r.docs)
			}
			if ahead == nil && p.workers > 1 {
				if r.hasTotal {
					last.Store(int64((r.total + len(r.docs) - 1) / len(r.docs)))
				}
				fetchAhead()
			}
		}
	}
}

// docIdentity identifies an item for the repeat check: its id, or failing that its customer
// number (SD mappings have no id).
func docIdentity(d Doc) string {
	for _, key := range []string{"id", "customerNumber"} {
		if v, ok := d[key]; ok {
			if s, ok := v.(string); ok {
				return s // what fmt.Sprint gives, without its cost on every item of a list
			}
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
