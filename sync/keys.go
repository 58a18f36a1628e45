package sync

import (
	"fmt"
	"strings"

	"custsync/formats"
	"custsync/mapping"
	"custsync/state"
)

// keyLookup is the checkpoint of one entity kind as the lost-zeros check reads it.
type keyLookup interface {
	// has reports whether the checkpoint holds key.
	has(key string) bool
	// zeroPaddedTwin returns the checkpoint key that is key with leading zeros, if key is all digits and one
	// exists (see paddedTwin).
	zeroPaddedTwin(key string) (string, bool)
}

// lostZeroErrors rejects a record whose key, or a key it references, is not in the checkpoint but is a synced
// key without its leading zeros: a spreadsheet that stored KUNNR 0008000002 as the number 8000002 would
// otherwise create a second customer (or write an address to a customer that does not exist). The planner and
// check both ask it, so check reports such a row as the error import would make of it. checkpoint returns the
// lookup of an entity kind, nil where none is loaded; ownTwin, if not nil, learns the synced twin of the
// record's own key, which counts as present (so --mode full does not delete it, and check does not call it
// only on the platform).
func lostZeroErrors(e mapping.Entity, rec mapping.Record, pos formats.Position, checkpoint func(mapping.Entity) keyLookup, ownTwin func(twin string)) []mapping.FieldError {
	var errs []mapping.FieldError
	check := func(v keyLookup, ent mapping.Entity, key, column string, own bool) {
		if v == nil {
			return
		}
		if v.has(key) {
			return
		}
		twin, ok := v.zeroPaddedTwin(key)
		if !ok {
			return
		}
		if own && ownTwin != nil {
			ownTwin(twin)
		}
		errs = append(errs, mapping.FieldError{Pos: pos, Column: column, Field: column, Value: key,
			Reason: fmt.Sprintf("%s key %q is the synced key %q without its leading zeros, not a new one: the spreadsheet stored it as a number; "+
				"format the column as text, or declare `pad: %d` for it in the mapping", ent, key, twin, len(twin))})
	}
	if cols := mapping.KeyColumns(e); len(cols) == 1 {
		check(checkpoint(e), e, rec.Key, cols[0], true)
	}
	for _, r := range rec.Refs {
		check(checkpoint(r.Entity), r.Entity, r.Key, r.Column, false)
	}
	return errs
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
