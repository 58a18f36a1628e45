package query

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Lookup resolves a dotted path ("metadata.createdAt", "mixins.x.y", "legalEntity.id") in doc.
//
// When the path runs through an array, the rest of the path is applied to every element and the values
// found are returned as one flat []any (MongoDB's semantics), so "customerGroups.id" on
// [{"id":"a"},{"id":"b"}] yields []any{"a","b"}. A segment made only of digits indexes an array
// ("addresses.0.id"). A path that ends on an array returns the array itself. The boolean reports whether
// the field exists: false when no element along the way has it, true (with a nil value) for an explicit
// JSON null.
func Lookup(doc map[string]any, path string) (any, bool) {
	if path == "" || doc == nil {
		return nil, false
	}
	return lookup(doc, strings.Split(path, "."))
}

func lookup(current any, segments []string) (any, bool) {
	if len(segments) == 0 {
		return current, true
	}
	switch node := normalizeContainer(current).(type) {
	case map[string]any:
		value, ok := node[segments[0]]
		if !ok {
			return nil, false
		}
		return lookup(value, segments[1:])
	case []any:
		if index, ok := arrayIndex(segments[0]); ok {
			if index >= len(node) {
				return nil, false
			}
			return lookup(node[index], segments[1:])
		}
		var values []any
		found := false
		for _, element := range node {
			value, ok := lookup(element, segments)
			if !ok {
				continue
			}
			found = true
			if nested, isArray := normalizeContainer(value).([]any); isArray {
				values = append(values, nested...)
			} else {
				values = append(values, value)
			}
		}
		if !found {
			return nil, false
		}
		if values == nil {
			values = []any{}
		}
		return values, true
	default:
		return nil, false
	}
}

// arrayIndex accepts only plain decimal digits, so that "-1" or "+0" stay ordinary keys.
func arrayIndex(segment string) (int, bool) {
	if segment == "" || len(segment) > 9 {
		return 0, false
	}
	for i := 0; i < len(segment); i++ {
		if segment[i] < '0' || segment[i] > '9' {
			return 0, false
		}
	}
	index, err := strconv.Atoi(segment)
	return index, err == nil
}

// normalizeContainer turns the container types a caller may build by hand ([]string,
// []map[string]any, map[string]string, ...) into the shapes encoding/json produces, so that documents
// need not round-trip through JSON before they are matched.
func normalizeContainer(value any) any {
	switch v := value.(type) {
	case nil, map[string]any, []any, string, bool, float64, json.Number:
		return value
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	case []map[string]any:
		out := make([]any, len(v))
		for i, m := range v {
			out[i] = m
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out
	}
	rv := reflect.ValueOf(value)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return value // []byte is a scalar, not a list
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return value
		}
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[iter.Key().String()] = iter.Value().Interface()
		}
		return out
	}
	return value
}

// toFloat reports the numeric value of any JSON or Go number. NaN and infinities are not numbers here,
// because they cannot be ordered.
func toFloat(value any) (float64, bool) {
	var f float64
	switch v := value.(type) {
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int8:
		f = float64(v)
	case int16:
		f = float64(v)
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint:
		f = float64(v)
	case uint8:
		f = float64(v)
	case uint16:
		f = float64(v)
	case uint32:
		f = float64(v)
	case uint64:
		f = float64(v)
	case json.Number:
		parsed, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return 0, false
		}
		f = parsed
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
