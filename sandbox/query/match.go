package query

import (
	"strconv"
	"strings"
)

// Match reports whether doc satisfies every term of the expression. A nil or empty Expr matches
// everything.
func (e *Expr) Match(doc map[string]any) bool {
	if e == nil {
		return true
	}
	for _, t := range e.terms {
		value, found := Lookup(doc, t.path)
		if !t.predicate.test(value, found) {
			return false
		}
	}
	return true
}

// predicate tests the value found at a term's path; found is false when the field does not exist.
type predicate interface {
	test(value any, found bool) bool
}

// existsPredicate is `field:exists`. Like MongoDB's $exists it also holds for an explicit null, which
// keeps exists and missing exact complements.
type existsPredicate struct{}

func (existsPredicate) test(_ any, found bool) bool { return found }

// missingPredicate is `field:missing`: the field does not exist.
type missingPredicate struct{}

func (missingPredicate) test(_ any, found bool) bool { return !found }

// nullPredicate is `field:null`: "set to null or nonexistent" (q-param.md).
type nullPredicate struct{}

func (nullPredicate) test(value any, found bool) bool {
	return !found || anyElement(value, func(v any) bool { return v == nil })
}

// equalsPredicate is `field:value` and `field:"value"`.
type equalsPredicate struct{ value literal }

func (p equalsPredicate) test(value any, found bool) bool {
	return found && anyElement(value, func(v any) bool { return equalsLiteral(p.value, v) })
}

// containsPredicate is `field:~value`: a case-insensitive substring test on strings.
type containsPredicate struct{ needle string }

func (p containsPredicate) test(value any, found bool) bool {
	return found && anyElement(value, func(v any) bool {
		s, ok := v.(string)
		return ok && strings.Contains(strings.ToLower(s), p.needle)
	})
}

// comparePredicate is `field:>N` and friends.
type comparePredicate struct {
	op    string
	bound literal
}

func (p comparePredicate) test(value any, found bool) bool {
	return found && anyElement(value, p.holds)
}

func (p comparePredicate) holds(v any) bool {
	order, comparable := compareToLiteral(v, p.bound)
	if !comparable {
		return false
	}
	switch p.op {
	case ">":
		return order > 0
	case ">=":
		return order >= 0
	case "<":
		return order < 0
	case "<=":
		return order <= 0
	}
	return false
}

// rangePredicate is `field:(>=a AND <=b)`; one element of an array must satisfy every bound.
type rangePredicate struct{ bounds []comparePredicate }

func (p rangePredicate) test(value any, found bool) bool {
	return found && anyElement(value, func(v any) bool {
		for _, bound := range p.bounds {
			if !bound.holds(v) {
				return false
			}
		}
		return true
	})
}

// inPredicate is `field:(v1,v2,...)`. A bare null in the list also matches null or missing fields, as
// `field:null` does.
type inPredicate struct{ values []literal }

func (p inPredicate) test(value any, found bool) bool {
	for _, lit := range p.values {
		if !lit.quoted && lit.text == "null" && (nullPredicate{}).test(value, found) {
			return true
		}
	}
	return found && anyElement(value, func(v any) bool {
		for _, lit := range p.values {
			if equalsLiteral(lit, v) {
				return true
			}
		}
		return false
	})
}

// anyElement applies test to value, or to each element when value is an array.
func anyElement(value any, test func(any) bool) bool {
	if list, ok := normalizeContainer(value).([]any); ok {
		for _, element := range list {
			if test(element) {
				return true
			}
		}
		return false
	}
	return test(value)
}

// equalsLiteral compares one scalar document value with a query value. Unquoted values also match
// numbers and booleans with the same meaning; quoted values match strings only.
func equalsLiteral(lit literal, value any) bool {
	switch v := value.(type) {
	case nil:
		return false
	case string:
		return v == lit.text
	case bool:
		return !lit.quoted && lit.text == strconv.FormatBool(v)
	}
	if f, ok := toFloat(value); ok {
		return lit.isNumber && lit.number == f
	}
	return false
}

// compareToLiteral orders a document value against a bound: numbers against unquoted numbers, strings
// against strings (as instants when both are RFC 3339 timestamps). Other pairs are not comparable.
func compareToLiteral(value any, bound literal) (int, bool) {
	if f, ok := toFloat(value); ok {
		if !bound.isNumber {
			return 0, false
		}
		return compareFloats(f, bound.number), true
	}
	s, ok := value.(string)
	if !ok || bound.isNumber {
		return 0, false
	}
	if bound.isTime {
		if instant, ok := parseTime(s); ok {
			return instant.Compare(bound.instant), true
		}
	}
	return strings.Compare(s, bound.text), true
}

func compareFloats(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Empty reports whether the expression has no terms and so matches every document.
func (e *Expr) Empty() bool { return e == nil || len(e.terms) == 0 }

// StringsAt returns the values one term of the expression requires a string field at path to equal:
// the value of `path:value` or the values of `path:(v1,v2)`. A document whose value at path is a
// single string matches the expression only if that string is among them, so a store can look the
// candidates up by an index on the field and then apply Match. ok is false when no term restricts
// path that way (an IN-list with a bare null also admits documents without the field).
func (e *Expr) StringsAt(path string) ([]string, bool) {
	if e == nil {
		return nil, false
	}
	for _, t := range e.terms {
		if t.path != path {
			continue
		}
		switch p := t.predicate.(type) {
		case equalsPredicate:
			return []string{p.value.text}, true
		case inPredicate:
			var texts []string
			admitsMissing := false
			for _, lit := range p.values {
				if !lit.quoted && lit.text == "null" {
					admitsMissing = true
				}
				texts = append(texts, lit.text)
			}
			if !admitsMissing {
				return texts, true
			}
		}
	}
	return nil, false
}
