package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

// JSONValue sets any JSON value from its text (KindJSON); it reports an error when text is not one JSON value.
func JSONValue(text string) (Value, error) {
	v, err := decodeJSONText(text)
	if err != nil {
		return Value{}, err
	}
	return Value{kind: KindJSON, str: canonicalJSON(v)}, nil
}

// decodeJSONText decodes exactly one JSON value, numbers kept as json.Number.
func decodeJSONText(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("text after the JSON value")
	}
	return v, nil
}

// canonicalJSON renders a decoded JSON value compactly with sorted object keys and without HTML escaping, so
// equal values have equal text.
func canonicalJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// IsClear reports whether the value clears the field.
func (v Value) IsClear() bool { return v.clear }

// Kind returns the JSON type of a set value (meaningless for Clear).
func (v Value) Kind() Kind { return v.kind }

// Interface returns the JSON value: nil for Clear, else string, bool, float64 or []string (a copy), or for
// KindJSON the decoded value (numbers as json.Number).
func (v Value) Interface() any {
	if v.clear {
		return nil
	}
	switch v.kind {
	case KindJSON:
		x, _ := decodeJSONText(v.str)
		return x
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

// jsonCell reads the cell of a typed mixin column: a number for :number (a JSON number as written, or a number
// in the mapping's decimal style), any JSON value for :json.
func jsonCell(cell string, number, decComma bool) (Value, string) {
	if number {
		if isJSONNumber(cell) && !decComma { // with a decimal comma, 1.500 is fifteen hundred

			return Value{kind: KindJSON, str: cell}, ""
		}
		f, err := ParseNumber(cell, decComma)
		if err != nil {
			return Value{}, err.Error()
		}
		return Value{kind: KindJSON, str: strconv.FormatFloat(f, 'f', -1, 64)}, ""
	}
	v, err := decodeJSONText(cell)
	if err != nil {
		return Value{}, "not a JSON value (" + err.Error() + "); write strings in quotes, e.g. \"text\""
	}
	if reason := decodedControlChar(cell, v); reason != "" {
		return Value{}, reason
	}
	return Value{kind: KindJSON, str: canonicalJSON(v)}, ""
}

// isJSONNumber reports whether s is a number as JSON writes it (-?int(.frac)?(e[+-]?exp)?).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	start := i
	if n := digits(); n == 0 || (n > 1 && s[start] == '0') {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
