package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// docDecoder decodes the platform's answers into Docs: exactly what encoding/json's Decoder with UseNumber
// makes of them (map[string]any objects, later duplicate members winning; []any arrays; string; json.Number;
// bool; nil), the same answers accepted and refused, and, like Decoder.Decode, the first value read with
// whatever follows it left alone. It is a single pass over the bytes: encoding/json scans every value twice
// and goes through reflection for every member, which made decoding a third of an export's CPU.
// FuzzDocDecoderMatchesEncodingJSON holds it to encoding/json.
//
// Strings that hold an escape or bytes that are not valid UTF-8 are unquoted by encoding/json itself, so
// their rules (U+FFFD for invalid bytes and lone surrogates) are the library's, not a copy of them.
type docDecoder struct {
	data  []byte
	pos   int
	depth int
	// names holds the member names met so far, so that the hundreds of objects of a page share one string
	// per name instead of allocating one per member.
	names map[string]string
	// sizes are the member counts of the last objects at the first nesting levels: the objects of a list are
	// alike, so a map sized as the previous one is not grown member by member.
	sizes [4]int
}

// maxDocDepth is the nesting encoding/json refuses beyond.
const maxDocDepth = 10000

// errDocSyntax is the error for any answer that is not JSON; the position says where.
var errDocSyntax = errors.New("invalid JSON")

// decodeDocList decodes an answer that is an array of objects (null: none).
func decodeDocList(data []byte) ([]Doc, error) {
	v, err := decodeFirst(data)
	switch t := v.(type) {
	case nil:
		return nil, err
	case []any:
		docs := make([]Doc, len(t))
		for i, item := range t {
			switch x := item.(type) {
			case map[string]any:
				docs[i] = x
			case nil:
			default:
				return nil, fmt.Errorf("item %d of the answer is %s, not an object", i, jsonKind(item))
			}
		}
		return docs, nil
	}
	return nil, fmt.Errorf("the answer is %s, not an array", jsonKind(v))
}

// decodeOneDoc decodes an answer that is one object (null: none).
func decodeOneDoc(data []byte) (Doc, error) {
	v, err := decodeFirst(data)
	switch t := v.(type) {
	case nil:
		return nil, err
	case map[string]any:
		return t, nil
	}
	return nil, fmt.Errorf("the answer is %s, not an object", jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// decodeFirst decodes the first value of data; on an error the value is nil.
func decodeFirst(data []byte) (any, error) {
	d := docDecoder{data: data}
	d.space()
	if d.pos == len(d.data) {
		return nil, io.EOF
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (d *docDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *docDecoder) fail(what string) error {
	if d.pos >= len(d.data) {
		return fmt.Errorf("%w: the answer ends inside a value (%s)", errDocSyntax, what)
	}
	return fmt.Errorf("%w at byte %d: %s", errDocSyntax, d.pos, what)
}

// value decodes the value at d.pos (whitespace skipped before it).
func (d *docDecoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.fail("a value")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.fail("a value")
}

func (d *docDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.fail(word)
	}
	d.pos += len(word)
	return nil
}

func (d *docDecoder) nest() error {
	if d.depth++; d.depth > maxDocDepth {
		return fmt.Errorf("%w: nested deeper than %d", errDocSyntax, maxDocDepth)
	}
	return nil
}

func (d *docDecoder) object() (any, error) {
	if err := d.nest(); err != nil {
		return nil, err
	}
	d.pos++ // {
	var m map[string]any
	if d.depth < len(d.sizes) {
		m = make(map[string]any, d.sizes[d.depth])
	} else {
		m = map[string]any{}
	}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.fail("a member name")
		}
		name, err := d.name()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.fail("':' after a member name")
		}
		d.pos++
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[name] = v
		d.space()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case ',':
				d.pos++
				d.space()
				continue
			case '}':
				d.pos++
				if d.depth < len(d.sizes) {
					d.sizes[d.depth] = len(m)
				}
				d.depth--
				return m, nil
			}
		}
		return nil, d.fail("',' or '}' after a member")
	}
}

func (d *docDecoder) array() (any, error) {
	if err := d.nest(); err != nil {
		return nil, err
	}
	d.pos++ // [
	items := []any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return items, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		d.space()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case ',':
				d.pos++
				d.space()
				continue
			case ']':
				d.pos++
				d.depth--
				return items, nil
			}
		}
		return nil, d.fail("',' or ']' after an item")
	}
}

// name decodes a member name, shared with the earlier members of the same name.
func (d *docDecoder) name() (string, error) {
	raw, verbatim, err := d.scanString()
	if err != nil || !verbatim {
		return d.unquote(raw, verbatim, err)
	}
	if s, ok := d.names[string(raw)]; ok {
		return s, nil
	}
	if d.names == nil {
		d.names = map[string]string{}
	}
	s := string(raw)
	d.names[s] = s
	return s, nil
}

// str decodes the string at d.pos.
func (d *docDecoder) str() (string, error) {
	raw, verbatim, err := d.scanString()
	return d.unquote(raw, verbatim, err)
}

// unquote turns a scanned string into its value: the bytes themselves when verbatim, else what
// encoding/json makes of the quoted text (raw with its quotes).
func (d *docDecoder) unquote(raw []byte, verbatim bool, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if verbatim {
		return string(raw), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w at byte %d: a string: %v", errDocSyntax, d.pos-len(raw), err)
	}
	return s, nil
}

// scanString moves past the string at d.pos. verbatim says that its value is its bytes (no escape, valid
// UTF-8); then raw is those bytes, else the quoted text.
func (d *docDecoder) scanString() (raw []byte, verbatim bool, err error) {
	start := d.pos
	d.pos++       // "
	plain := true // no escape, nothing outside ASCII
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			inner := d.data[start+1 : d.pos-1]
			if plain || utf8.Valid(inner) && !hasEscape(inner) {
				return inner, true, nil
			}
			return d.data[start:d.pos], false, nil
		case c == '\\':
			plain = false
			d.pos++
			if d.pos >= len(d.data) {
				return nil, false, d.fail("a string")
			}
			// encoding/json checks the escape itself (unquote); here an escaped quote must not end the string.
			d.pos++
		case c < 0x20:
			return nil, false, d.fail("a control character in a string")
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			d.pos++
		}
	}
	return nil, false, d.fail("a string")
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// number decodes the number at d.pos as json.Number, checking it against JSON's grammar as encoding/json
// does: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *docDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case d.pos < len(d.data) && d.data[d.pos] >= '1' && d.data[d.pos] <= '9':
		d.digits()
	default:
		return nil, d.fail("a digit")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if !d.digits() {
			return nil, d.fail("a digit after '.'")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if !d.digits() {
			return nil, d.fail("a digit in the exponent")
		}
	}
	return json.Number(d.data[start:d.pos]), nil
}

// digits skips a run of digits and reports whether there was one.
func (d *docDecoder) digits() bool {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}
