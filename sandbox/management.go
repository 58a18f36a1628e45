package sandbox

import (
	"net/http"
	"strconv"
	"strings"

	"custsync/sandbox/query"
)

// Customer Management (legal entities, locations, contact assignments) shares paging (default page
// size 16), sorting, `fields`, the on-demand X-Total-Count header and the metadata layout
// {version, mixins, createdAt, modifiedAt}. It has no PATCH: the routes answer 405 as the live API
// reportedly does (digest §3.3).

// filterMode is how a list filter parameter compares (per the parameter descriptions in the spec).
type filterMode int

const (
	equalsFold   filterMode = iota // "equals", "The operator is case-insensitive."
	containsFold                   // "contains, case-insensitive"
	boolEquals
	equals // "equals", with no word on case: ids compared exactly
)

// listFilter is one documented filter query parameter of a Customer Management list.
type listFilter struct {
	param string
	paths []string // document paths the value is compared with; any match passes
	mode  filterMode
	enum  []string
}

// cmList lists a kind the Customer Management way; view turns a stored document into its response
// form (nil: as stored). Without q, filters and sort, the page is read directly at its position and
// the total is the bucket's count; otherwise every document is read, viewed and filtered.
func (s *Server) cmList(c *reqCtx, q, kind string, view func(map[string]any) map[string]any, filters []listFilter) *apiError {
	params := c.r.URL.Query()
	expr, err := query.Parse(q)
	if err != nil {
		return badRequest("Invalid query: " + err.Error())
	}
	number, size, apiErr := c.paging(16)
	if apiErr != nil {
		return apiErr
	}
	wantTotal := false
	if h := c.r.Header.Get("X-Total-Count"); h != "" {
		b, err := strconv.ParseBool(h)
		if err != nil {
			return badRequest("The X-Total-Count header must be true or false.")
		}
		wantTotal = b
	}
	type activeFilter struct {
		listFilter
		value string
		b     bool
	}
	var active []activeFilter
	for _, f := range filters {
		v := params.Get(f.param)
		if v == "" {
			continue
		}
		af := activeFilter{listFilter: f, value: v}
		if len(f.enum) > 0 && !contains(f.enum, v) {
			return badRequest(f.param + " must be one of " + strings.Join(f.enum, ", ") + ".")
		}
		if f.mode == boolEquals {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return badRequest(f.param + " must be true or false.")
			}
			af.b = b
		}
		active = append(active, af)
	}
	sortSpec := params.Get("sort")
	if view == nil {
		view = func(d map[string]any) map[string]any { return d }
	}
	var pageDocs []map[string]any
	total := 0
	if expr.Empty() && len(active) == 0 && sortSpec == "" {
		for _, d := range s.store.page(c.tenant, kind, number, size) {
			pageDocs = append(pageDocs, view(d))
		}
		if wantTotal {
			total = s.store.count(c.tenant, kind)
		}
	} else {
		var matched []map[string]any
		for _, stored := range s.store.list(c.tenant, kind) {
			d := view(stored)
			ok := expr.Match(d)
			for _, f := range active {
				if !ok {
					break
				}
				ok = filterMatches(d, f.listFilter, f.value, f.b)
			}
			if ok {
				matched = append(matched, d)
			}
		}
		if sortSpec != "" {
			normalized, apiErr := normalizeManagementSort(sortSpec)
			if apiErr != nil {
				return apiErr
			}
			if err := query.SortDocs(matched, normalized); err != nil {
				return badRequest("Invalid sort: " + err.Error())
			}
		}
		pageDocs, total = page(matched, number, size), len(matched)
	}
	fields := parseFields(params.Get("fields"))
	out := []any{}
	for _, d := range pageDocs {
		out = append(out, project(d, fields))
	}
	if wantTotal {
		c.header("X-Total-Count", strconv.Itoa(total))
	}
	c.reply(http.StatusOK, out)
	return nil
}

// normalizeManagementSort applies the Customer Management rule that a direction other than
// desc/DESC means ascending.
func normalizeManagementSort(spec string) (string, *apiError) {
	parts := strings.Split(spec, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		field, dir, hasDir := strings.Cut(p, ":")
		if field == "" {
			return "", badRequest("Invalid sort: empty field name in " + strconv.Quote(spec) + ".")
		}
		if hasDir && (dir == "desc" || dir == "DESC") {
			parts[i] = field + ":desc"
		} else {
			parts[i] = field + ":asc"
		}
	}
	return strings.Join(parts, ","), nil
}

func filterMatches(doc map[string]any, f listFilter, value string, b bool) bool {
	for _, path := range f.paths {
		for _, got := range valuesAt(doc, path) {
			switch f.mode {
			case boolEquals:
				if gb, ok := got.(bool); ok && gb == b {
					return true
				}
			case equalsFold:
				if gs, ok := got.(string); ok && strings.EqualFold(gs, value) {
					return true
				}
			case equals:
				if gs, ok := got.(string); ok && gs == value {
					return true
				}
			case containsFold:
				if gs, ok := got.(string); ok && strings.Contains(lower(gs), lower(value)) {
					return true
				}
			}
		}
	}
	return false
}

// valuesAt returns the values at a dotted path, flattening arrays along the way.
func valuesAt(v any, path string) []any {
	if path == "" {
		if arr, ok := v.([]any); ok {
			return arr
		}
		return []any{v}
	}
	head, rest, _ := strings.Cut(path, ".")
	switch t := v.(type) {
	case map[string]any:
		x, ok := t[head]
		if !ok {
			return nil
		}
		return valuesAt(x, rest)
	case []any:
		var out []any
		for _, item := range t {
			out = append(out, valuesAt(item, path)...)
		}
		return out
	}
	return nil
}

func parseFields(v string) []string {
	var fields []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	return fields
}

// project keeps only the listed (possibly dotted) fields; no fields means the whole document.
func project(doc map[string]any, fields []string) map[string]any {
	if len(fields) == 0 {
		return doc
	}
	out := map[string]any{}
	for _, f := range fields {
		copyPath(doc, out, strings.Split(f, "."))
	}
	return out
}

func copyPath(src, dst map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return
	}
	next, _ := dst[path[0]].(map[string]any)
	if next == nil {
		next = map[string]any{}
		dst[path[0]] = next
	}
	copyPath(sub, next, path[1:])
}

// managementMetadata builds the response metadata of a Customer Management document.
func managementMetadata(fields map[string]any, version int, createdAt, modifiedAt string) map[string]any {
	md := map[string]any{"version": version, "createdAt": createdAt, "modifiedAt": modifiedAt}
	if m, ok := fields["metadata"].(map[string]any); ok {
		if mixins, ok := m["mixins"].(map[string]any); ok {
			md["mixins"] = mixins
		}
	}
	return md
}

func createdAtOf(doc map[string]any) string {
	md, _ := doc["metadata"].(map[string]any)
	s, _ := md["createdAt"].(string)
	return s
}

// writeOnly copies picked fields into a new document, dropping id and metadata (set by the caller).
func writeOnly(fields map[string]any) map[string]any {
	doc := map[string]any{}
	for k, v := range fields {
		if k != "id" && k != "metadata" {
			doc[k] = v
		}
	}
	return doc
}

// managementBodies are the create and update bodies of a Customer Management resource whose members are
// common besides: the create takes a custom id and metadata_create (mixins only), the update metadataUpdate
// (mixins and the version).
func managementBodies(createName, updateName string, common schema) (create, update operationBody) {
	create = jsonBody(createName, withFields(common, schema{"id": {kind: kString, pattern: customIDPattern}, "metadata": metadataMixinsOnly}))
	update = jsonBody(updateName, withFields(common, schema{"metadata": metadataWithVersion}))
	return create, update
}

func methodNotAllowed(c *reqCtx) *apiError {
	return newError(http.StatusMethodNotAllowed, "method_not_allowed", "Request method '"+c.r.Method+"' is not supported.")
}

func cmNotFound(what string) *apiError {
	return notFound("The " + what + " with the requested code does not exist.")
}

func cmConflict() *apiError { return conflict("Given resource already exists.") }

// newManagementID generates the 24-hex-digit ids the platform's examples show.
func newManagementID() string { return newHexID(24) }

func refIDs(v any) []string {
	arr, _ := v.([]any)
	var ids []string
	for _, item := range arr {
		if obj, ok := item.(map[string]any); ok {
			if id, ok := obj["id"].(string); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}
