package remote

import (
	"cmp"
	"context"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Lookups find platform records by the values of one field, many values per request, through the
// platform's q grammar (standard-practices/q-param.md, the Customer Management trait_q_param): a term
// `field:("v1","v2")` matches any of the values (the IN form; the grammar has no OR), terms separated by a
// space are ANDed. Values are always quoted, so an ERP number keeps its leading zeros and matches only
// strings, never the number it would read as. Equality is exact: q documents no case folding, so lookups
// that must ignore case (e-mail addresses) say how they do it.
//
// A batch holds at most LookupBatch values, and its q, URL-encoded, at most maxLookupQuery bytes: a URL may
// not exceed 10 KB (standard-practices/bulk-request-limits.md), and Customer Management lists take q in the
// URL. Customers are looked up through POST …/customers/search, which takes q in the body. Every batch is
// read through the page walker to its end, so a value matching several records yields all of them.

// LookupBatch is how many values one lookup request asks for: the platform's item limit for bulk requests
// is 200, and 50 keeps the URL of even long values (names, e-mail addresses) well under its limit.
const LookupBatch = 50

// maxLookupQuery bounds the URL-encoded q of one lookup request.
const maxLookupQuery = 6000

// quoteQ quotes a value for q: in double quotes, with backslash escaping a double quote or a backslash.
func quoteQ(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for _, r := range v {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// inQueries splits values (deduplicated, blanks dropped) into q expressions `field:("a","b") rest`, each
// within LookupBatch values and maxLookupQuery bytes once URL-encoded. A single value too long for the
// budget gets a query of its own.
func inQueries(field string, values []string, rest string) []string {
	seen := map[string]bool{}
	var queries, batch []string
	size := 0
	fixed := len(url.QueryEscape(field+":()")) + len(url.QueryEscape(rest)) + 3
	flush := func() {
		if len(batch) > 0 {
			q := field + ":(" + strings.Join(batch, ",") + ")"
			if rest != "" {
				q += " " + rest
			}
			queries = append(queries, q)
		}
		batch, size = nil, 0
	}
	for _, v := range values {
		if strings.TrimSpace(v) == "" || seen[v] {
			continue
		}
		seen[v] = true
		quoted := quoteQ(v)
		n := len(url.QueryEscape(quoted)) + 3 // and the comma
		if len(batch) == LookupBatch || len(batch) > 0 && fixed+size+n > maxLookupQuery {
			flush()
		}
		batch = append(batch, quoted)
		size += n
	}
	flush()
	return queries
}

// lookupAll yields every record the queries match. The queries are read at once, up to the client's
// readers (--checkers), each through the page walker to its end; a query's records come together, the
// queries in the order their answers arrive. Stopping the iteration cancels the queries still running.
func (c *Client) lookupAll(ctx context.Context, queries []string, list func(ctx context.Context, q string) iter.Seq2[Doc, error]) iter.Seq2[Doc, error] {
	return func(yield func(Doc, error) bool) {
		if len(queries) == 1 {
			for d, err := range list(ctx, queries[0]) {
				if !yield(d, err) || err != nil {
					return
				}
			}
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type answer struct {
			docs []Doc
			err  error
		}
		answers := make(chan answer)
		go func() {
			defer close(answers)
			var wg sync.WaitGroup
			defer wg.Wait()
			slots := make(chan struct{}, cmp.Or(max(c.cfg.Readers, 0), 8))
			for _, q := range queries {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					var a answer
					for d, err := range list(ctx, q) {
						if err != nil {
							a.err = err
							break
						}
						a.docs = append(a.docs, d)
					}
					select {
					case answers <- a:
					case <-ctx.Done():
					}
				}()
			}
		}()
		for a := range answers {
			if a.err != nil {
				yield(nil, a.err)
				return
			}
			for _, d := range a.docs {
				if !yield(d, nil) {
					return
				}
			}
		}
	}
}

// CustomersWhere yields the customers whose field (a dotted path such as "id", "contactEmail" or
// "mixins.erp.customerNumber") equals one of values. Customers come with their mixins when field is a
// mixin field, and with whatever expand names besides.
func (c *Client) CustomersWhere(ctx context.Context, field string, values []string, expand ...string) iter.Seq2[Doc, error] {
	if strings.HasPrefix(field, "mixins.") && !slices.Contains(expand, "mixin:*") {
		expand = append(slices.Clone(expand), "mixin:*")
	}
	return c.lookupAll(ctx, inQueries(field, values, ""), func(ctx context.Context, q string) iter.Seq2[Doc, error] {
		return c.SearchCustomers(ctx, q, ListOptions{Expand: expand})
	})
}

// CustomersByEmail yields the customers whose contactEmail equals one of emails, ignoring case. q
// compares exactly, so each address is asked for as written and in lower case (how login e-mails are
// usually kept) and the answers are filtered with a case-insensitive comparison. An address stored in
// another mix of cases is not found this way; CustomersByEmailFold finds it, one request per address.
func (c *Client) CustomersByEmail(ctx context.Context, emails []string, expand ...string) iter.Seq2[Doc, error] {
	want := map[string]bool{}
	var asked []string
	for _, e := range emails {
		want[strings.ToLower(e)] = true
		asked = append(asked, e, strings.ToLower(e))
	}
	return filterDocs(c.CustomersWhere(ctx, "contactEmail", asked, expand...), func(d Doc) bool {
		email, _ := d["contactEmail"].(string)
		return want[strings.ToLower(email)]
	})
}

// CustomersByEmailFold yields the customers whose contactEmail equals email in any mix of cases. It asks
// for a contains match (`~`) of the longest run of the address without characters a regular expression
// would read differently (q-param.md calls `~` a regex, the Customer Management trait a case-insensitive
// contains; the run means the same under both) and keeps the exact case-insensitive matches.
func (c *Client) CustomersByEmailFold(ctx context.Context, email string, expand ...string) iter.Seq2[Doc, error] {
	run := literalRun(email)
	if run == "" {
		return func(yield func(Doc, error) bool) {}
	}
	return filterDocs(c.SearchCustomers(ctx, "contactEmail:~"+run, ListOptions{Expand: expand}), func(d Doc) bool {
		got, _ := d["contactEmail"].(string)
		return strings.EqualFold(got, email)
	})
}

// literalRun returns the longest run of letters, digits, '@', '_' and '-' in s, preferring the one with the
// '@' (the most selective part of an address) among runs of equal length.
func literalRun(s string) string {
	best := ""
	for _, run := range strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '@' || r == '_' || r == '-')
	}) {
		if len(run) > len(best) || len(run) == len(best) && strings.Contains(run, "@") {
			best = run
		}
	}
	return best
}

func filterDocs(all iter.Seq2[Doc, error], keep func(Doc) bool) iter.Seq2[Doc, error] {
	return func(yield func(Doc, error) bool) {
		for d, err := range all {
			if err != nil {
				yield(nil, err)
				return
			}
			if keep(d) && !yield(d, nil) {
				return
			}
		}
	}
}

// managementWhere yields the records of a Customer Management collection whose field equals one of values,
// among those that also match rest (a q expression, "" for none).
func (c *Client) managementWhere(ctx context.Context, collection, field string, values []string, rest string) iter.Seq2[Doc, error] {
	return c.lookupAll(ctx, inQueries(field, values, rest), func(ctx context.Context, q string) iter.Seq2[Doc, error] {
		return c.managementList(ctx, collection, ListOptions{Q: q})
	})
}

// LegalEntitiesWhere yields the legal entities whose field (e.g. "id" or "legalInfo.registrationId") equals
// one of values.
func (c *Client) LegalEntitiesWhere(ctx context.Context, field string, values []string) iter.Seq2[Doc, error] {
	return c.managementWhere(ctx, legalEntitiesCollection, field, values, "")
}

// LegalEntitiesNamed yields the legal entities named exactly one of names under the parent parentID ("":
// the top-level entities, those without a parent).
func (c *Client) LegalEntitiesNamed(ctx context.Context, parentID string, names []string) iter.Seq2[Doc, error] {
	rest := "parentId:null"
	if parentID != "" {
		rest = "parentId:" + quoteQ(parentID)
	}
	return c.managementWhere(ctx, legalEntitiesCollection, "name", names, rest)
}

// LocationsWhere yields the locations whose field (e.g. "id" or "name") equals one of values.
func (c *Client) LocationsWhere(ctx context.Context, field string, values []string) iter.Seq2[Doc, error] {
	return c.managementWhere(ctx, locationsCollection, field, values, "")
}

// ContactAssignmentsWhere yields the contact assignments whose field (e.g. "id" or "customer.id") equals
// one of values.
func (c *Client) ContactAssignmentsWhere(ctx context.Context, field string, values []string) iter.Seq2[Doc, error] {
	return c.managementWhere(ctx, contactAssignmentsCollection, field, values, "")
}

// ContactAssignmentOf returns the assignment of a customer to a legal entity (the platform keeps at most
// one per pair), or nil when there is none. It uses the list's documented exact filters.
func (c *Client) ContactAssignmentOf(ctx context.Context, customerID, legalEntityID string) (Doc, error) {
	if err := checkIDs("contact assignment of a customer and a legal entity", customerID, legalEntityID); err != nil {
		return nil, err
	}
	for d, err := range c.ContactAssignments(ctx, ListOptions{Filters: map[string]string{
		FilterCustomerID: customerID, FilterLegalEntityID: legalEntityID}}) {
		if err != nil {
			return nil, err
		}
		if RefID(d["customer"]) == customerID && RefID(d["legalEntity"]) == legalEntityID {
			return d, nil
		}
	}
	return nil, nil
}

// RefID returns the id of a reference object such as an assignment's {"id": ...} customer or legal
// entity ("" when v is not one).
func RefID(v any) string {
	m, _ := v.(map[string]any)
	id, _ := m["id"].(string)
	return id
}

// Collections whose size HasAtLeast tells.
const (
	CollectionCustomers          = "customers"
	CollectionLegalEntities      = legalEntitiesCollection
	CollectionLocations          = locationsCollection
	CollectionContactAssignments = contactAssignmentsCollection
)

// HasAtLeast reports whether a collection holds at least n records, with one request: for Customer
// Management, the X-Total-Count of a one-record page; for customers, whose Count header the docs do not
// define as a total, whether page n of one-record pages is not empty.
func (c *Client) HasAtLeast(ctx context.Context, collection string, n int) (bool, error) {
	if n <= 0 {
		return true, nil
	}
	if collection == CollectionCustomers {
		r := &request{method: http.MethodGet, base: c.baseURL, path: c.customersPath(), read: true,
			query: url.Values{"pageNumber": {strconv.Itoa(n)}, "pageSize": {"1"}}}
		resp, err := c.do(ctx, r)
		if err != nil {
			return false, err
		}
		docs, err := decodeDocs(r, resp.body)
		return len(docs) > 0, err
	}
	r := &request{method: http.MethodGet, base: c.baseURL, path: c.managementPath(collection), read: true,
		query: url.Values{"pageNumber": {"1"}, "pageSize": {"1"}}, header: http.Header{"X-Total-Count": {"true"}}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return false, err
	}
	if total, ok := headerInt(resp.header, "X-Total-Count"); ok {
		return total >= n, nil
	}
	// No total: count the list (the platform always answers one when asked; this is for servers that do not).
	seen := 0
	for _, err := range c.managementList(ctx, collection, ListOptions{}) {
		if err != nil {
			return false, err
		}
		if seen++; seen >= n {
			return true, nil
		}
	}
	return false, nil
}
