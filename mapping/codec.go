package mapping

import (
	"encoding/binary"
	"errors"
	"math"
)

// A record's binary form, for an engine that keeps planned records on disk rather than in memory (the journal
// of a large import). Strings are uvarint-length-prefixed; the position keeps only its line, since the file
// and sheet are the same for every row of a table.
//
//	entity, line, key, key part count + parts, remote id, command byte,
//	ref count + (entity, column, path, key, remote id) per ref,
//	field count + (path, value) per field; a value is a tag byte (0xff: clear, else its Kind) and its data.

// valueClear tags a Clear value in the binary form.
const valueClear = 0xff

// AppendBinary appends the binary form of r to b (see DecodeRecord).
func (r Record) AppendBinary(b []byte) []byte {
	b = appendString(b, string(r.Entity))
	b = binary.AppendUvarint(b, uint64(r.Pos.Line))
	b = appendString(b, r.Key)
	b = binary.AppendUvarint(b, uint64(len(r.KeyParts)))
	for _, p := range r.KeyParts {
		b = appendString(b, p)
	}
	b = appendString(b, r.RemoteID)
	b = append(b, byte(r.Command))
	b = binary.AppendUvarint(b, uint64(len(r.Refs)))
	for _, ref := range r.Refs {
		b = appendString(b, string(ref.Entity))
		b = appendString(b, ref.Column)
		b = appendString(b, ref.Path)
		b = appendString(b, ref.Key)
		b = appendString(b, ref.RemoteID)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Fields)))
	for _, f := range r.Fields {
		b = appendString(b, f.Path)
		b = f.Value.appendBinary(b)
	}
	return b
}

func (v Value) appendBinary(b []byte) []byte {
	if v.clear {
		return append(b, valueClear)
	}
	b = append(b, byte(v.kind))
	switch v.kind {
	case KindBool:
		if v.b {
			return append(b, 1)
		}
		return append(b, 0)
	case KindNumber:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.num))
	case KindList:
		b = binary.AppendUvarint(b, uint64(len(v.list)))
		for _, s := range v.list {
			b = appendString(b, s)
		}
		return b
	}
	return appendString(b, v.str)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ErrBadRecord is returned by DecodeRecord for data that is not a record's binary form.
var ErrBadRecord = errors.New("mapping: damaged binary record")

// DecodeRecord reads a record written by AppendBinary from the start of b and returns it with the rest of b.
// The position's file and sheet are left empty.
func DecodeRecord(b []byte) (Record, []byte, error) {
	d := decoder{b: b, text: string(b)}
	var r Record
	r.Entity = Entity(d.string())
	r.Pos.Line = int(d.uvarint())
	r.Key = d.string()
	if n := d.count(); n > 0 {
		r.KeyParts = make([]string, n)
		for i := range r.KeyParts {
			r.KeyParts[i] = d.string()
		}
	}
	r.RemoteID = d.string()
	r.Command = Command(d.byte())
	if n := d.count(); n > 0 {
		r.Refs = make([]Ref, n)
		for i := range r.Refs {
			r.Refs[i] = Ref{Entity: Entity(d.string()), Column: d.string(), Path: d.string(), Key: d.string(), RemoteID: d.string()}
		}
	}
	if n := d.count(); n > 0 {
		r.Fields = make([]Field, n)
		for i := range r.Fields {
			r.Fields[i].Path = d.string()
			r.Fields[i].Value = d.value()
		}
	}
	if d.bad {
		return Record{}, nil, ErrBadRecord
	}
	return r, d.b, nil
}

// decoder reads the binary form; a read past the end sets bad and yields zero values.
type decoder struct {
	b []byte
	// text is all of the input as one string, of which every decoded string is a part: one allocation a
	// record instead of one a string (a customer's record has about twenty).
	text string
	bad  bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left (every element takes at least one byte).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	start := len(d.text) - len(d.b)
	d.b = d.b[n:]
	return d.text[start : start+n]
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) value() Value {
	tag := d.byte()
	switch {
	case tag == valueClear:
		return Value{clear: true}
	case Kind(tag) == KindBool:
		return Value{kind: KindBool, b: d.byte() == 1}
	case Kind(tag) == KindNumber:
		if len(d.b) < 8 {
			d.bad, d.b = true, nil
			return Value{}
		}
		v := Value{kind: KindNumber, num: math.Float64frombits(binary.LittleEndian.Uint64(d.b))}
		d.b = d.b[8:]
		return v
	case Kind(tag) == KindList:
		list := make([]string, d.count())
		for i := range list {
			list[i] = d.string()
		}
		return Value{kind: KindList, list: list}
	case Kind(tag) == KindString || Kind(tag) == KindDate || Kind(tag) == KindJSON:
		return Value{kind: Kind(tag), str: d.string()}
	}
	d.bad = true
	return Value{}
}
