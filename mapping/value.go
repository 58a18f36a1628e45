package mapping

import (
	"slices"
	"strconv"
	"strings"
)

// Value is the desired state of one field in a row: Clear (empty it on the platform) or a set value of the
// field's Kind. A blank cell produces no Value at all (the field is absent from Record.Fields).
type Value struct {
	clear bool
	kind  Kind
	str   string
	num   float64
	b     bool
	list  []string
}

// ClearValue is the value of a cell holding the clear sentinel.
func ClearValue() Value { return Value{clear: true} }

// StringValue sets a string (KindString).
func StringValue(s string) Value { return Value{kind: KindString, str: s} }

// DateValue sets an ISO 8601 date string (KindDate).
func DateValue(s string) Value { return Value{kind: KindDate, str: s} }

// BoolValue sets a boolean.
func BoolValue(b bool) Value { return Value{kind: KindBool, b: b} }

// NumberValue sets a number.
func NumberValue(f float64) Value { return Value{kind: KindNumber, num: f} }

// ListValue sets a list of strings; the slice is copied.
func ListValue(items []string) Value {
	return Value{kind: KindList, list: append([]string{}, items...)}
}

// IsClear reports whether the value clears the field.
func (v Value) IsClear() bool { return v.clear }

// Kind returns the JSON type of a set value (meaningless for Clear).
func (v Value) Kind() Kind { return v.kind }

// Interface returns the JSON value: nil for Clear, else string, bool, float64 or []string (a copy).
func (v Value) Interface() any {
	if v.clear {
		return nil
	}
	switch v.kind {
	case KindBool:
		return v.b
	case KindNumber:
		return v.num
	case KindList:
		return append([]string{}, v.list...)
	}
	return v.str
}

// Equal reports whether two values are the same desired state.
func (v Value) Equal(o Value) bool {
	if v.clear || o.clear {
		return v.clear == o.clear
	}
	if v.kind != o.kind {
		return false
	}
	switch v.kind {
	case KindBool:
		return v.b == o.b
	case KindNumber:
		return v.num == o.num
	case KindList:
		return slices.Equal(v.list, o.list)
	}
	return v.str == o.str
}

// String renders the value as cell text: the canonical form used by the hash and the dry-run diff.
// Clear renders as "<clear>", lists joined with ",".
func (v Value) String() string {
	if v.clear {
		return "<clear>"
	}
	switch v.kind {
	case KindBool:
		return strconv.FormatBool(v.b)
	case KindNumber:
		return strconv.FormatFloat(v.num, 'f', -1, 64)
	case KindList:
		return strings.Join(v.list, ",")
	}
	return v.str
}

// Field is one desired field value of a record, addressed by its dotted payload path (e.g.
// "legalInfo.legalName", "mixins.loyalty.level").
type Field struct {
	Path  string
	Value Value
}
