package query

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// sortKey is one property of a sort parameter.
type sortKey struct {
	path       string
	descending bool
}

// parseSort parses "name,metadata.createdAt:desc". A blank parameter means no ordering.
func parseSort(param string) ([]sortKey, error) {
	if strings.TrimSpace(param) == "" {
		return nil, nil
	}
	fail := func(offset int, msg string) error {
		return &SyntaxError{Param: "sort", Column: utf8.RuneCountInString(param[:offset]) + 1, Msg: msg}
	}
	var keys []sortKey
	offset := 0
	for _, item := range strings.Split(param, ",") {
		itemOffset := offset
		offset += len(item) + 1
		trimmed := strings.TrimSpace(item)
		if trimmed == "" {
			return nil, fail(itemOffset, "empty sort property (stray ',')")
		}
		itemOffset += strings.Index(item, trimmed)
		field, direction, hasDirection := strings.Cut(trimmed, ":")
		if problem := validatePath(field); problem != "" {
			return nil, fail(itemOffset, problem)
		}
		for i, r := range field {
			if !isFieldRune(r) {
				return nil, fail(itemOffset+i, "unexpected "+quoteRune(r)+" in sort field "+quoteString(field))
			}
		}
		if hasDirection {
			if direction == "" {
				return nil, fail(itemOffset+len(field)+1, "missing direction after ':' (use asc or desc)")
			}
			if strings.Contains(direction, ":") {
				return nil, fail(itemOffset+len(field)+1, "too many ':' in sort property "+quoteString(trimmed))
			}
		}
		// Customer Management: "descending order is taken only if it is equal to desc or DESC. Ascending
		// order is considered in any other case."
		keys = append(keys, sortKey{path: field, descending: direction == "desc" || direction == "DESC"})
	}
	return keys, nil
}

func quoteRune(r rune) string     { return "'" + string(r) + "'" }
func quoteString(s string) string { return "\"" + snippet(s) + "\"" }

// Order is a parsed sort parameter. Its zero value and a nil *Order keep documents in their order.
type Order struct {
	keys []sortKey
}

// ParseOrder parses a sort parameter as SortDocs does; a malformed parameter returns a *SyntaxError.
func ParseOrder(sortParam string) (*Order, error) {
	keys, err := parseSort(sortParam)
	if err != nil {
		return nil, err
	}
	return &Order{keys: keys}, nil
}

// Empty reports whether the order has no properties.
func (o *Order) Empty() bool { return o == nil || len(o.keys) == 0 }

// Keys extracts the values doc sorts by, so that a caller can keep them instead of the document.
func (o *Order) Keys(doc map[string]any) []any {
	values := make([]any, len(o.keys))
	for k, key := range o.keys {
		values[k] = sortValue(doc, key)
	}
	return values
}

// Compare orders two documents by their Keys: negative when a sorts first.
func (o *Order) Compare(a, b []any) int {
	for k, key := range o.keys {
		order := compareSortValues(a[k], b[k])
		if order == 0 {
			continue
		}
		if key.descending {
			return -order
		}
		return order
	}
	return 0
}

// SortDocs orders docs in place by a sort parameter: "field", "field:asc", "field:desc", several
// separated by commas, earlier properties first. The sort is stable, so equal documents keep their
// order.
//
// Values order as in MongoDB: missing or null first, then numbers (numerically), strings (lexically,
// byte-wise), objects, arrays, booleans (false before true). Descending reverses that whole order, so
// missing values come last there. An array sorts by its smallest element ascending and by its largest
// descending; an empty array counts as missing. A malformed parameter returns a *SyntaxError and leaves
// docs untouched.
func SortDocs(docs []map[string]any, sortParam string) error {
	order, err := ParseOrder(sortParam)
	if err != nil {
		return err
	}
	if order.Empty() || len(docs) < 2 {
		return nil
	}
	type row struct {
		doc    map[string]any
		values []any
	}
	rows := make([]row, len(docs))
	for i, doc := range docs {
		rows[i] = row{doc: doc, values: order.Keys(doc)}
	}
	sort.SliceStable(rows, func(i, j int) bool { return order.Compare(rows[i].values, rows[j].values) < 0 })
	for i := range rows {
		docs[i] = rows[i].doc
	}
	return nil
}

// sortValue picks the value a document sorts by; nil stands for missing.
func sortValue(doc map[string]any, key sortKey) any {
	value, found := Lookup(doc, key.path)
	if !found {
		return nil
	}
	list, isList := normalizeContainer(value).([]any)
	if !isList {
		return value
	}
	var chosen any
	for i, element := range list {
		if i == 0 {
			chosen = element
			continue
		}
		order := compareSortValues(element, chosen)
		if (key.descending && order > 0) || (!key.descending && order < 0) {
			chosen = element
		}
	}
	return chosen
}

// typeRank gives the cross-type order of sort values.
func typeRank(value any) int {
	switch normalizeContainer(value).(type) {
	case nil:
		return 0
	case string:
		return 2
	case map[string]any:
		return 3
	case []any:
		return 4
	case bool:
		return 5
	}
	if _, ok := toFloat(value); ok {
		return 1
	}
	return 6
}

func compareSortValues(a, b any) int {
	rankA, rankB := typeRank(a), typeRank(b)
	if rankA != rankB {
		return compareInts(rankA, rankB)
	}
	switch rankA {
	case 1:
		fa, _ := toFloat(a)
		fb, _ := toFloat(b)
		return compareFloats(fa, fb)
	case 2:
		return strings.Compare(a.(string), b.(string))
	case 5:
		ba, bb := a.(bool), b.(bool)
		switch {
		case ba == bb:
			return 0
		case !ba:
			return -1
		}
		return 1
	}
	return 0
}

func compareInts(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
