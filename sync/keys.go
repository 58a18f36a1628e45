package sync

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"custsync/formats"
	"custsync/mapping"
	"custsync/state"
)

// keyLookup is the checkpoint of one entity kind as the twin-key check reads it.
type keyLookup interface {
	// has reports whether the checkpoint holds key.
	has(key string) bool
	// zeroPaddedTwin returns the checkpoint key that is key with leading zeros, if key is all digits and one
	// exists (see paddedTwin).
	zeroPaddedTwin(key string) (string, bool)
	// encodingTwin returns a checkpoint key other than key with the same Unicode NFC form, if one exists (see
	// nfcTwins.find). Only keys that are not ASCII ask.
	encodingTwin(key string) (string, bool)
}

// twinKeyErrors rejects a record whose key, or a key it references, is not in the checkpoint but is a synced
// key in disguise, which would otherwise become a second customer (or an address written to a customer that
// does not exist):
//   - the synced key without its leading zeros: a spreadsheet stored KUNNR 0008000002 as the number 8000002;
//   - a key with the same letters encoded otherwise (Unicode NFC against NFD: "ü" as one code point or as "u"
//     and a combining diaeresis), as a file re-saved on another system has them; input holds the new keys of
//     the input read so far, so two such keys within the input are rejected too (the later one).
//
// Keys are never renormalized instead: that would change the ERP key, and the platform id made from it, of
// keys synced already. The planner and check both ask, so check reports such a row as the error import would
// make of it. checkpoint returns the lookup of an entity kind, nil where none is loaded; ownTwin, if not nil,
// learns the synced twin of the record's own key, which counts as present (so --mode full does not delete it,
// and check does not call it only on the platform).
func twinKeyErrors(e mapping.Entity, rec mapping.Record, pos formats.Position, checkpoint func(mapping.Entity) keyLookup, input inputKeys, ownTwin func(twin string)) []mapping.FieldError {
	var errs []mapping.FieldError
	fail := func(key, column, reason string) {
		errs = append(errs, mapping.FieldError{Pos: pos, Column: column, Field: column, Value: key, Reason: reason})
	}
	check := func(v keyLookup, ent mapping.Entity, key, column string, own bool) {
		if v == nil || v.has(key) {
			return
		}
		if twin, ok := v.zeroPaddedTwin(key); ok {
			if own && ownTwin != nil {
				ownTwin(twin)
			}
			fail(key, column, fmt.Sprintf("%s key %q is the synced key %q without its leading zeros, not a new one: the spreadsheet stored it as a number; "+
				"format the column as text, or declare `pad: %d` for it in the mapping", ent, key, twin, len(twin)))
			return
		}
		if isASCII(key) {
			return // an ASCII key is in NFC and NFD alike
		}
		if twin, ok := v.encodingTwin(key); ok {
			if own && ownTwin != nil {
				ownTwin(twin)
			}
			fail(key, column, fmt.Sprintf("%s key %s differs from the synced key %s only in how its accented letters are encoded (Unicode %s vs %s); the file's encoding changed",
				ent, quoteKey(key), quoteKey(twin), normalForm(key), normalForm(twin)))
			return
		}
		if first, ok := input.twin(ent, key); ok {
			fail(key, column, fmt.Sprintf("%s key %s differs from the key %s of the row at %s only in how its accented letters are encoded (Unicode %s vs %s); the input mixes two encodings",
				ent, quoteKey(key), quoteKey(first.key), first.pos, normalForm(key), normalForm(first.key)))
		}
	}
	if cols := mapping.KeyColumns(e); len(cols) == 1 {
		check(checkpoint(e), e, rec.Key, cols[0], true)
	}
	for _, r := range rec.Refs {
		check(checkpoint(r.Entity), r.Entity, r.Key, r.Column, false)
	}
	return errs
}

// inputKeys holds, per entity, the keys of the input that are new to the checkpoint and not ASCII, by their
// NFC form, each with the first row that carried it: what twinKeyErrors needs to tell two encodings of one key
// in the same input. ASCII keys, nearly every key an ERP has, never enter it, so it costs a plan nothing in
// the usual case.
type inputKeys map[mapping.Entity]map[string]inputKey

// inputKey is a key of the input and the first row that carried it.
type inputKey struct {
	key string
	pos formats.Position
}

// note records the key of a row of entity e at pos that the checkpoint does not hold; the first key of each
// NFC form stays.
func (in inputKeys) note(e mapping.Entity, key string, pos formats.Position) {
	if isASCII(key) {
		return
	}
	byNFC := in[e]
	if byNFC == nil {
		byNFC = map[string]inputKey{}
		in[e] = byNFC
	}
	nfc := norm.NFC.String(key)
	if _, seen := byNFC[nfc]; !seen {
		byNFC[nfc] = inputKey{key: key, pos: pos}
	}
}

// twin returns the noted key of entity e that differs from key but has its NFC form.
func (in inputKeys) twin(e mapping.Entity, key string) (inputKey, bool) {
	first, ok := in[e][norm.NFC.String(key)]
	return first, ok && first.key != key
}

// nfcTwins finds the checkpoint key with the NFC form of a key. The checkpoint keys that are not ASCII are
// read once, on the first question, into a map by their NFC form: only a run with a new key that is not
// ASCII asks, so a run of ASCII keys never reads them.
type nfcTwins struct {
	byNFC map[string]string // nil until the first question
}

// find returns a checkpoint key other than key whose NFC form is key's. keys walks the checkpoint's keys;
// has looks one up (an ASCII key can be the NFC form of one that is not: the Kelvin sign's is "K").
func (t *nfcTwins) find(key string, keys iter.Seq[[]byte], has func(string) bool) (string, bool) {
	nfc := norm.NFC.String(key)
	if nfc != key && has(nfc) {
		return nfc, true
	}
	if t.byNFC == nil {
		t.byNFC = map[string]string{}
		for k := range keys {
			if !isASCII(k) {
				ck := string(k)
				if _, seen := t.byNFC[norm.NFC.String(ck)]; !seen {
					t.byNFC[norm.NFC.String(ck)] = ck
				}
			}
		}
	}
	twin, ok := t.byNFC[nfc]
	return twin, ok && twin != key
}

// normalForm names the Unicode normalization form a key is in, for messages.
func normalForm(key string) string {
	switch {
	case norm.NFC.IsNormalString(key):
		return "NFC"
	case norm.NFD.IsNormalString(key):
		return "NFD"
	}
	return "neither NFC nor NFD"
}

// quoteKey quotes a key as %q does, except that combining marks are escaped (\u0308), so that two keys that
// differ only in their encoding also look different in a message.
func quoteKey(key string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, key[i])
		case unicode.Is(unicode.Mn, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			q := strconv.Quote(key[i : i+size])
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// isASCII reports whether s holds only ASCII characters.
func isASCII[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// paddedTwin returns the key that is key with leading zeros and that has reports present, if key is all
// digits: the sign of a key a spreadsheet stored as a number. longest is the length of the longest all-digit
// key with a leading zero the checkpoint holds, so it costs one lookup per possible number of zeros.
func paddedTwin(key string, longest int, has func(string) bool) (string, bool) {
	if !allDigits(key) {
		return "", false
	}
	for n := len(key) + 1; n <= longest; n++ {
		twin := strings.Repeat("0", n-len(key)) + key
		if has(twin) {
			return twin, true
		}
	}
	return "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// keyMap is a checkpoint of one entity kind held as a map (check's), as a keyLookup.
type keyMap struct {
	refs map[string]state.EntityRef
	// longest is the length of the longest all-digit key with a leading zero; -1 until needed.
	longest int
	nfc     nfcTwins
}

func newKeyMap(refs map[string]state.EntityRef) *keyMap { return &keyMap{refs: refs, longest: -1} }

func (k *keyMap) has(key string) bool {
	_, ok := k.refs[key]
	return ok
}

func (k *keyMap) zeroPaddedTwin(key string) (string, bool) {
	if !allDigits(key) {
		return "", false
	}
	if k.longest < 0 {
		k.longest = 0
		for ck := range k.refs {
			if len(ck) > k.longest && strings.HasPrefix(ck, "0") && allDigits(ck) {
				k.longest = len(ck)
			}
		}
	}
	return paddedTwin(key, k.longest, k.has)
}

func (k *keyMap) encodingTwin(key string) (string, bool) {
	keys := func(yield func([]byte) bool) {
		for ck := range k.refs {
			if !yield([]byte(ck)) {
				return
			}
		}
	}
	return k.nfc.find(key, keys, k.has)
}
