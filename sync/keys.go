package sync

import (
	"bytes"
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
	// zeroStrippedTwin returns the checkpoint key that is key with fewer leading zeros, if key is all digits
	// with a leading zero and one exists (see strippedTwin).
	zeroStrippedTwin(key string) (string, bool)
	// encodingTwin returns a checkpoint key other than key with the same Unicode NFC form, if one exists (see
	// nfcTwins.find). Only keys that are not ASCII ask.
	encodingTwin(key string) (string, bool)
	// decimalTwin returns the checkpoint key that is key followed by "." and zeros, if key is all digits and one
	// exists (see decimalTwin).
	decimalTwin(key string) (string, bool)
}

// twinKeyErrors rejects a record whose key, or a key it references, is not in the checkpoint but is a synced
// key in disguise, which would otherwise become a second customer (or an address written to a customer that
// does not exist):
//   - the synced key without its leading zeros: a spreadsheet stored KUNNR 0008000002 as the number 8000002;
//   - the synced key with leading zeros added: the file synced first stored 0008000002 as the number 8000002,
//     a later one keeps the column as text (or declares `pad:` for it);
//   - the synced key with "." and zeros added: custsync before 8767808 read an XLSX number in the General
//     format stored as 2004.0 as "2004.0", and reads it as "2004" since;
//   - a key with the same letters encoded otherwise (Unicode NFC against NFD: "ü" as one code point or as "u"
//     and a combining diaeresis), as a file re-saved on another system has them.
//
// input holds the new keys of the input read so far, so two keys within the input that differ only so (in
// their leading zeros, or in their encoding) are rejected too: the later one.
//
// Keys are never renormalized instead: that would change the ERP key, and the platform id made from it, of
// keys synced already. The planner and check both ask, so check reports such a row as the error import would
// make of it. checkpoint returns the lookup of an entity kind, nil where none is loaded; ownTwin, if not nil,
// learns the synced twin of the record's own key, which counts as present (so --mode full does not delete it,
// and check does not call it only on the platform).
func twinKeyErrors(e mapping.Entity, rec mapping.Record, pos formats.Position, checkpoint func(mapping.Entity) keyLookup, input *inputKeys, ownTwin func(twin string)) []mapping.FieldError {
	var errs []mapping.FieldError
	fail := func(key, column, reason string) {
		errs = append(errs, mapping.FieldError{Pos: pos, Column: column, Field: column, Value: key, Reason: reason})
	}
	check := func(v keyLookup, ent mapping.Entity, key, column string, own bool) {
		if v == nil || v.has(key) {
			return
		}
		// failSynced rejects the row for a synced twin, which the row's own key claims (ownTwin).
		failSynced := func(twin, reason string) {
			if own && ownTwin != nil {
				ownTwin(twin)
			}
			fail(key, column, reason)
		}
		if twin, ok := v.decimalTwin(key); ok {
			failSynced(twin, fmt.Sprintf("%s key %q is the synced key %q: custsync built before 2026-12-03 read the spreadsheet's number %s as %s; "+
				"custsync does not move a record to another key, so the synced record keeps its key %q and syncs while the file gives it so "+
				"(a text cell, or a CSV); to re-key it, delete %q (a DELETE row) and import %q in a later run", ent, key, twin, key, twin, twin, twin, key))
			return
		}
		if twin, ok := v.zeroPaddedTwin(key); ok {
			failSynced(twin, fmt.Sprintf("%s key %q is the synced key %q without its leading zeros, not a new one: the spreadsheet stored it as a number; "+
				"format the column as text, or declare `pad: %d` for it in the mapping", ent, key, twin, len(twin)))
			return
		}
		if twin, ok := v.zeroStrippedTwin(key); ok {
			failSynced(twin, fmt.Sprintf("%s key %q is the synced key %q with leading zeros added, not a new one: the earlier file stored it as a number; "+
				"custsync does not move a record to another key, so the synced record keeps the key %q: give the column as the earlier file did "+
				"(as a number, and without a `pad:` for it in the mapping)", ent, key, twin, twin))
			return
		}
		if first, ok := input.zeroTwin(ent, key, own); ok {
			fail(key, column, fmt.Sprintf("%s key %q differs from the key %q of the row at %s only in its leading zeros: the spreadsheet stored one of them as a number; "+
				"format the column as text, or declare `pad: %d` for it in the mapping", ent, key, first.key, first.pos, max(len(key), len(first.key))))
			return
		}
		if isASCII(key) {
			return // an ASCII key is in NFC and NFD alike
		}
		if twin, ok := v.encodingTwin(key); ok {
			failSynced(twin, fmt.Sprintf("%s key %s differs from the synced key %s only in how its accented letters are encoded (Unicode %s vs %s); the file's encoding changed",
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

// inputKeys holds what twinKeyErrors needs to tell two spellings of one key within the input: per entity, the
// new keys (not in the checkpoint) that are not ASCII, by their NFC form, each with the first row that carried
// it; and the lengths of the new keys that are all digits, so that a digit key looks up only the spellings with
// other zeros that can exist. The digit keys themselves are not held again: firstRow finds them where the
// caller's duplicate check holds them. A first import of ERP numbers of one width (0000000001 ...) therefore
// looks nothing up, and ASCII keys that are not all digits, nearly every other key, cost nothing.
type inputKeys struct {
	byNFC map[mapping.Entity]map[string]inputKey
	// digitLens: per entity, the lengths of the new all-digit keys noted.
	digitLens map[mapping.Entity]lengthSet
	// firstRow returns the first row of the input that carried the new key of entity e, if one did.
	firstRow func(e mapping.Entity, key string) (formats.Position, bool)
	// zeroRejected holds the digit keys whose row zeroTwin rejected, with the earlier key: a reference to
	// one names the key that stayed, as the row did.
	zeroRejected map[mapping.Entity]map[string]inputKey
}

// inputKey is a key of the input and the first row that carried it.
type inputKey struct {
	key string
	pos formats.Position
}

// newInputKeys returns an empty inputKeys that finds the rows of the input's new keys through firstRow.
func newInputKeys(firstRow func(e mapping.Entity, key string) (formats.Position, bool)) *inputKeys {
	return &inputKeys{byNFC: map[mapping.Entity]map[string]inputKey{}, digitLens: map[mapping.Entity]lengthSet{},
		firstRow: firstRow, zeroRejected: map[mapping.Entity]map[string]inputKey{}}
}

// note records the key of a row of entity e at pos that the checkpoint does not hold; the first key of each
// NFC form stays. Only keys that are all digits or not ASCII need noting (see notable).
func (in *inputKeys) note(e mapping.Entity, key string, pos formats.Position) {
	if allDigits(key) {
		lens := in.digitLens[e]
		lens.add(len(key))
		in.digitLens[e] = lens
		return
	}
	if isASCII(key) {
		return
	}
	byNFC := in.byNFC[e]
	if byNFC == nil {
		byNFC = map[string]inputKey{}
		in.byNFC[e] = byNFC
	}
	nfc := norm.NFC.String(key)
	if _, seen := byNFC[nfc]; !seen {
		byNFC[nfc] = inputKey{key: key, pos: pos}
	}
}

// notable reports whether note wants key: a key that is all digits or not ASCII, the ones that can have a twin.
func notable(key string) bool { return allDigits(key) || !isASCII(key) }

// twin returns the noted key of entity e that differs from key but has its NFC form.
func (in *inputKeys) twin(e mapping.Entity, key string) (inputKey, bool) {
	first, ok := in.byNFC[e][norm.NFC.String(key)]
	return first, ok && first.key != key
}

// zeroTwin returns the new key of entity e in the input that is key with other leading zeros (00123 for 123,
// or 123 for 00123), if key is all digits: one of the two lost or gained its zeros in a spreadsheet. own says
// key is the key of the row being checked, whose own key firstRow finds already: any other spelling came
// before it, and a rejected own key is remembered, so that a row referencing it is rejected as well. A key a
// row references is rejected when the input carries another spelling but not the key itself (as a row that
// stayed).
func (in *inputKeys) zeroTwin(e mapping.Entity, key string, own bool) (inputKey, bool) {
	if !allDigits(key) {
		return inputKey{}, false
	}
	if !own {
		if first, rejected := in.zeroRejected[e][key]; rejected {
			return first, true
		}
		if _, carried := in.firstRow(e, key); carried {
			return inputKey{}, false
		}
	}
	digits := strings.TrimLeft(key, "0")
	lens := in.digitLens[e]
	for n := max(len(digits), 1); n < lens.bound(); n++ {
		if n == len(key) || !lens.has(n) {
			continue
		}
		twin := strings.Repeat("0", n-len(digits)) + digits
		if pos, ok := in.firstRow(e, twin); ok {
			first := inputKey{key: twin, pos: pos}
			if stayed, rejected := in.zeroRejected[e][twin]; rejected {
				first = stayed // name the spelling whose row stayed
			}
			if own {
				if in.zeroRejected[e] == nil {
					in.zeroRejected[e] = map[string]inputKey{}
				}
				in.zeroRejected[e][key] = first
			}
			return first, true
		}
	}
	return inputKey{}, false
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

// strippedTwin returns the key that is key with fewer of its leading zeros (some or all of them) and that has
// reports present, if key is all digits with a leading zero: the sign of a synced key that an earlier file
// stored as a number. digitLens returns the lengths of the checkpoint's all-digit keys, so it looks up only the
// lengths that exist: nothing at all when the checkpoint holds no shorter all-digit key, as in a first import
// or one of an ERP's fixed-width numbers. digitLens is asked only for a key with a leading zero, so other keys
// never make the checkpoint's keys be walked.
func strippedTwin(key string, digitLens func() lengthSet, has func(string) bool) (string, bool) {
	if !allDigits(key) || key[0] != '0' {
		return "", false
	}
	lens := digitLens()
	for n := max(len(strings.TrimLeft(key, "0")), 1); n < len(key); n++ {
		if lens.has(n) && has(key[len(key)-n:]) {
			return key[len(key)-n:], true
		}
	}
	return "", false
}

// lengthSet is a set of key lengths, bit n of the words standing for length n.
type lengthSet []uint64

// add puts n in the set.
func (s *lengthSet) add(n int) {
	for len(*s) <= n/64 {
		*s = append(*s, 0)
	}
	(*s)[n/64] |= 1 << (n % 64)
}

// has reports whether n is in the set.
func (s lengthSet) has(n int) bool { return n/64 < len(s) && s[n/64]&(1<<(n%64)) != 0 }

// bound is a length greater than every length in the set.
func (s lengthSet) bound() int { return 64 * len(s) }

// digitKeyLengths holds the lengths of a checkpoint's all-digit keys, and the numbers of zeros after the point
// of its keys that are digits, ".", and zeros (2004.0), read in one walk on the first question: only a new
// all-digit key asks, so a run without one never walks the checkpoint's keys.
type digitKeyLengths struct {
	lens lengthSet
	// pointZeros: the numbers of zeros after the point of the keys like 2004.0; empty in a checkpoint without
	// such keys, so that a new digit key then looks nothing up for them.
	pointZeros lengthSet
	read       bool
}

// get returns the lengths of the all-digit keys among keys, walking them the first time only.
func (d *digitKeyLengths) get(keys iter.Seq[[]byte]) lengthSet {
	if !d.read {
		d.read = true
		for k := range keys {
			if allDigits(k) {
				d.lens.add(len(k))
			} else if zeros, ok := pointZeroCount(k); ok {
				d.pointZeros.add(zeros)
			}
		}
	}
	return d.lens
}

// zerosAfterPoint returns the numbers of zeros after the point of the keys among keys that are digits, ".",
// and zeros, in the walk of get.
func (d *digitKeyLengths) zerosAfterPoint(keys iter.Seq[[]byte]) lengthSet {
	d.get(keys)
	return d.pointZeros
}

// pointZeroCount returns the number of zeros after the point of a key that is digits, ".", and one or more
// zeros (2004.0, 2004.00): the form in which custsync before 8767808 read an XLSX number stored so.
func pointZeroCount(k []byte) (int, bool) {
	i := bytes.IndexByte(k, '.')
	if i < 1 || i == len(k)-1 || !allDigits(k[:i]) {
		return 0, false
	}
	for _, c := range k[i+1:] {
		if c != '0' {
			return 0, false
		}
	}
	return len(k) - i - 1, true
}

// decimalTwin returns the key that is key followed by "." and zeros and that has reports present, if key is
// all digits: a synced key that custsync before 8767808 read from an XLSX number stored as 2004.0.
// pointZeros returns the numbers of zeros after the point such checkpoint keys have, so a checkpoint without
// them costs no lookup.
func decimalTwin(key string, pointZeros func() lengthSet, has func(string) bool) (string, bool) {
	if !allDigits(key) {
		return "", false
	}
	zeros := pointZeros()
	for n := 1; n < zeros.bound(); n++ {
		if zeros.has(n) {
			if twin := key + "." + strings.Repeat("0", n); has(twin) {
				return twin, true
			}
		}
	}
	return "", false
}

func allDigits[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// keyMap is a checkpoint of one entity kind held as a map (check's), as a keyLookup.
type keyMap struct {
	refs map[string]state.EntityRef
	// longest is the length of the longest all-digit key with a leading zero; -1 until needed.
	longest   int
	nfc       nfcTwins
	digitLens digitKeyLengths
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

func (k *keyMap) zeroStrippedTwin(key string) (string, bool) {
	return strippedTwin(key, func() lengthSet { return k.digitLens.get(k.keys) }, k.has)
}

func (k *keyMap) decimalTwin(key string) (string, bool) {
	return decimalTwin(key, func() lengthSet { return k.digitLens.zerosAfterPoint(k.keys) }, k.has)
}

func (k *keyMap) encodingTwin(key string) (string, bool) {
	return k.nfc.find(key, k.keys, k.has)
}

// keys walks the keys of the map.
func (k *keyMap) keys(yield func([]byte) bool) {
	for ck := range k.refs {
		if !yield([]byte(ck)) {
			return
		}
	}
}

// heldKeys adds the customers deleted on the platform whose deletion the ERP has not acknowledged
// (plan.goneCustomers) to the checkpoint the twin-key check reads. They left the checkpoint index, and their
// own rows are held until the acknowledgement, but a row carrying their key in another spelling (without its
// leading zeros, with other zeros, as 2004 for 2004.0, or encoded otherwise) would create the customer again
// under a key that only looks new. held is read on the first question only a checkpoint miss asks.
type heldKeys struct {
	keyLookup
	held  func() map[string]string
	twins map[string][]string // a spelling's canonical form (twinForm) -> the held keys of that form
}

// twinForm is what two spellings of one key have in common: the digits without leading zeros or a trailing
// ".0…" for a digit key, the NFC form otherwise.
func twinForm(key string) string {
	if base, zeros, ok := strings.Cut(key, "."); ok && allDigits(base) && zeros != "" && strings.Trim(zeros, "0") == "" {
		key = base
	}
	if allDigits(key) {
		if digits := strings.TrimLeft(key, "0"); digits != "" {
			return digits
		}
		return "0"
	}
	if isASCII(key) {
		return key
	}
	return norm.NFC.String(key)
}

// heldTwin returns a held key that is a twin of key in the sense of accept, if one is.
func (h *heldKeys) heldTwin(key string, accept func(twin string) bool) (string, bool) {
	if h.twins == nil {
		h.twins = map[string][]string{}
		for k := range h.held() {
			f := twinForm(k)
			h.twins[f] = append(h.twins[f], k)
		}
	}
	for _, k := range h.twins[twinForm(key)] {
		if k != key && accept(k) {
			return k, true
		}
	}
	return "", false
}

func (h *heldKeys) has(key string) bool {
	if h.keyLookup.has(key) {
		return true
	}
	_, held := h.held()[key]
	return held
}

func (h *heldKeys) zeroPaddedTwin(key string) (string, bool) {
	if twin, ok := h.keyLookup.zeroPaddedTwin(key); ok || !allDigits(key) {
		return twin, ok
	}
	return h.heldTwin(key, func(twin string) bool { return allDigits(twin) && len(twin) > len(key) })
}

func (h *heldKeys) zeroStrippedTwin(key string) (string, bool) {
	if twin, ok := h.keyLookup.zeroStrippedTwin(key); ok || !allDigits(key) || !strings.HasPrefix(key, "0") {
		return twin, ok
	}
	return h.heldTwin(key, func(twin string) bool { return allDigits(twin) && len(twin) < len(key) })
}

func (h *heldKeys) decimalTwin(key string) (string, bool) {
	if twin, ok := h.keyLookup.decimalTwin(key); ok || !allDigits(key) {
		return twin, ok
	}
	return h.heldTwin(key, func(twin string) bool { return strings.HasPrefix(twin, key+".") })
}

func (h *heldKeys) encodingTwin(key string) (string, bool) {
	if twin, ok := h.keyLookup.encodingTwin(key); ok || isASCII(key) {
		return twin, ok
	}
	return h.heldTwin(key, func(string) bool { return true })
}
