package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AppendPayloadJSON appends to b the JSON text of the record's Payload without the top-level members named in
// omit: the very bytes json.Marshal gives for that map (members sorted by name, HTML characters escaped), but
// encoded from the fields themselves, without the map and the reflection. It is the body of every customer
// create, where building and marshalling the map cost more CPU than sending the request.
func (r Record) AppendPayloadJSON(b []byte, omit ...string) ([]byte, error) {
	return r.appendJSON(b, omit, false)
}

// AppendAppliedJSON appends to b the JSON text of ApplyTo of an empty record (what a create leaves on the
// platform, the checkpoint snapshot of a create): the bytes json.Marshal gives for that map.
func (r Record) AppendAppliedJSON(b []byte) ([]byte, error) {
	return r.appendJSON(b, nil, true)
}

// PayloadValue returns the value Payload gives the field at path, and whether the row sets or clears that field.
func (r Record) PayloadValue(path string) (any, bool) {
	v, ok := r.Get(path)
	if !ok {
		return nil, false
	}
	return payloadValue(schemas[r.Entity], path, v), true
}

// jsonMember is one member path of a payload and where its value comes from: a field, or a reference's remote
// ids (one id, or a list of {"id": ...} objects).
type jsonMember struct {
	path  string
	field *Field
	ids   []string
	list  bool
}

// appendJSON encodes what Payload (dropClears false) or ApplyTo(nil) (dropClears true) would build. Members are
// written in the order json.Marshal sorts map keys, level by level; a record whose paths overlap (one path the
// parent of another, or set twice) is encoded through the map instead, so that the later write wins exactly as
// it does there.
func (r Record) appendJSON(b []byte, omit []string, dropClears bool) ([]byte, error) {
	sc := schemas[r.Entity]
	var buf [32]jsonMember
	members := buf[:0]
	omitted := func(path string) bool {
		if len(omit) == 0 {
			return false
		}
		top, _, _ := strings.Cut(path, ".")
		return slices.Contains(omit, top)
	}
	for i := range r.Fields {
		f := &r.Fields[i]
		if omitted(f.Path) {
			continue
		}
		if dropClears && f.Value.clear && !isListField(sc, f.Path) {
			continue // ApplyTo deletes what the row clears; the empty base has nothing to delete
		}
		members = append(members, jsonMember{path: f.Path, field: f})
	}
	var lists []int // members holding list references, in the order of their first reference
	for _, ref := range r.Refs {
		if ref.Path == "" || omitted(ref.Path) {
			continue
		}
		if def := defByPath(sc, ref.Path); def != nil && def.kind == KindList {
			k := slices.IndexFunc(lists, func(k int) bool { return members[k].path == ref.Path })
			if k < 0 {
				members = append(members, jsonMember{path: ref.Path, list: true})
				lists = append(lists, len(members)-1)
				k = len(lists) - 1
			}
			members[lists[k]].ids = append(members[lists[k]].ids, ref.RemoteID)
			continue
		}
		members = append(members, jsonMember{path: ref.Path, ids: []string{ref.RemoteID}})
	}
	slices.SortStableFunc(members, func(x, y jsonMember) int { return comparePaths(x.path, y.path) })
	for i := 1; i < len(members); i++ {
		if overlaps(members[i-1].path, members[i].path) {
			return r.appendViaMap(b, omit, dropClears)
		}
	}

	// open holds the path segments of the objects being written.
	var openBuf, partsBuf [8]string
	open := openBuf[:0]
	b = append(b, '{')
	first := true
	for _, m := range members {
		parents := splitPath(partsBuf[:0], m.path)
		name := parents[len(parents)-1]
		parents = parents[:len(parents)-1]
		common := 0
		for common < len(open) && common < len(parents) && open[common] == parents[common] {
			common++
		}
		for len(open) > common {
			b = append(b, '}')
			open = open[:len(open)-1]
			first = false
		}
		for _, p := range parents[common:] {
			if !first {
				b = append(b, ',')
			}
			b = appendJSONString(b, p)
			b = append(b, ':', '{')
			open = append(open, p)
			first = true
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, name)
		b = append(b, ':')
		var err error
		if b, err = m.appendValue(b, sc); err != nil {
			return nil, err
		}
	}
	for range open {
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendViaMap is appendJSON through the map Payload or ApplyTo builds.
func (r Record) appendViaMap(b []byte, omit []string, dropClears bool) ([]byte, error) {
	var m map[string]any
	if dropClears {
		m = r.ApplyTo(nil)
	} else {
		m = r.Payload()
	}
	for _, k := range omit {
		delete(m, k)
	}
	text, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append(b, text...), nil
}

// splitPath appends the segments of a dotted path to dst.
func splitPath(dst []string, path string) []string {
	for {
		seg, rest, more := strings.Cut(path, ".")
		dst = append(dst, seg)
		if !more {
			return dst
		}
		path = rest
	}
}

func isListField(sc *schema, path string) bool {
	def := defByPath(sc, path)
	return def != nil && def.kind == KindList
}

// appendValue appends the member's value as payloadValue renders it.
func (m *jsonMember) appendValue(b []byte, sc *schema) ([]byte, error) {
	if m.field == nil {
		if !m.list {
			return appendJSONString(b, m.ids[0]), nil
		}
		return appendIDObjects(b, m.ids), nil
	}
	v := m.field.Value
	switch {
	case v.clear && isListField(sc, m.path):
		return append(b, '[', ']'), nil
	case v.clear:
		return append(b, "null"...), nil
	case v.kind == KindList:
		if def := defByPath(sc, m.path); def != nil && def.refIDObjects {
			return appendIDObjects(b, v.list), nil
		}
		b = append(b, '[')
		for i, s := range v.list {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']'), nil
	case v.kind == KindBool:
		return strconv.AppendBool(b, v.b), nil
	case v.kind == KindNumber:
		return appendJSONFloat(b, v.num)
	case v.kind == KindJSON:
		text, err := json.Marshal(v.Interface())
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", m.path, err)
		}
		return append(b, text...), nil
	}
	return appendJSONString(b, v.str), nil
}

func appendIDObjects(b []byte, ids []string) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendJSONString(b, id)
		b = append(b, '}')
	}
	return append(b, ']')
}

// comparePaths orders dotted paths as json.Marshal orders the members of nested maps: segment by segment.
func comparePaths(x, y string) int {
	for {
		xs, xrest, xmore := strings.Cut(x, ".")
		ys, yrest, ymore := strings.Cut(y, ".")
		if c := strings.Compare(xs, ys); c != 0 || !xmore || !ymore {
			if c == 0 { // the same segment, one path ends there
				switch {
				case xmore:
					return 1
				case ymore:
					return -1
				}
			}
			return c
		}
		x, y = xrest, yrest
	}
}

// overlaps reports whether two sorted, neighbouring paths name the same member or one is the parent of the other.
func overlaps(x, y string) bool {
	return x == y || strings.HasPrefix(y, x+".")
}

// appendJSONFloat renders a number as encoding/json does (ES6 number formatting); NaN and infinities are
// refused as json.Marshal refuses them.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// jsonPlain tells the ASCII bytes json.Marshal copies as they are (one table look-up per byte instead of six
// comparisons: the strings are most of a body).
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string exactly as encoding/json writes it: <, > and & escaped (HTML
// safety), control characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
