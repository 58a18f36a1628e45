package mapping

import (
	"fmt"
	"hash/maphash"
	"math"

	"custsync/formats"
)

// KeySet detects duplicate keys within one input. It stores 16 bytes per key (a 64-bit hash of entity and
// key, and a packed position), not the keys themselves, so a million rows cost about 40 MB with map overhead.
// The hash uses a per-process random seed and is never persisted. Two different keys collide with
// probability about n²/2⁶⁵ (3·10⁻⁸ for a million rows); such a collision reports a false duplicate and never
// hides a real one. A KeySet is not safe for concurrent use.
type KeySet struct {
	seed    maphash.Seed
	seen    map[uint64]uint64 // key hash -> source index << 32 | line
	sources []sourceName
	index   map[sourceName]uint32
}

type sourceName struct{ file, sheet string }

// NewKeySet returns an empty set; sizeHint pre-sizes it (0 is fine).
func NewKeySet(sizeHint int) *KeySet {
	return &KeySet{seed: maphash.MakeSeed(), seen: make(map[uint64]uint64, sizeHint), index: map[sourceName]uint32{}}
}

// Len returns the number of distinct keys added.
func (s *KeySet) Len() int { return len(s.seen) }

// First returns the position at which the entity's key was first added, if it was.
func (s *KeySet) First(e Entity, key string) (formats.Position, bool) {
	packed, ok := s.seen[s.sum(e, key)]
	if !ok {
		return formats.Position{}, false
	}
	return s.position(packed), true
}

func (s *KeySet) sum(e Entity, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(string(e))
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

func (s *KeySet) position(packed uint64) formats.Position {
	src := s.sources[packed>>32]
	return formats.Position{File: src.file, Sheet: src.sheet, Line: int(uint32(packed))}
}

// Add records the key of a record at its position. If the same entity and key were added before, it
// returns the first position and true, and keeps the first.
func (s *KeySet) Add(e Entity, key string, pos formats.Position) (formats.Position, bool) {
	sum := s.sum(e, key)
	if packed, dup := s.seen[sum]; dup {
		return s.position(packed), true
	}
	name := sourceName{pos.File, pos.Sheet}
	idx, ok := s.index[name]
	if !ok {
		idx = uint32(len(s.sources))
		s.sources = append(s.sources, name)
		s.index[name] = idx
	}
	line := pos.Line
	if line < 0 || uint64(line) > math.MaxUint32 {
		line = 0
	}
	s.seen[sum] = uint64(idx)<<32 | uint64(uint32(line))
	return formats.Position{}, false
}

// Check adds r's key and returns a FieldError for a duplicate, naming both positions; nil otherwise.
// Records without a key (already reported as missing) are not checked.
func (s *KeySet) Check(r Record) *FieldError {
	if r.Key == "" {
		return nil
	}
	first, dup := s.Add(r.Entity, r.Key, r.Pos)
	if !dup {
		return nil
	}
	cols := KeyColumns(r.Entity)
	col := ""
	if len(cols) > 0 {
		col = cols[len(cols)-1]
	}
	return &FieldError{Pos: r.Pos, Column: col, Field: col, Value: r.Key,
		Reason: fmt.Sprintf("duplicate %s key %q: first seen at %s; the later row is rejected", r.Entity, r.Key, first)}
}
