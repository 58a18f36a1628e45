package sync

import (
	"encoding/binary"
	"hash/maphash"
)

// freshKeys is the set of keys the input carried that the checkpoint does not know, each with a 64-bit value
// (the packed position of its first row), kept compact: the keys live back to back in large chunks and an
// open-addressing table of uint32 entry numbers finds them, about 30 bytes per key where a Go map of strings
// to positions costs about 100. A first import of millions of rows holds every one of its keys here (the
// duplicate check needs them all), so this is the planner's largest structure that grows with the input.
type freshKeys struct {
	seed   maphash.Seed
	chunks [][]byte // each key as uvarint length + bytes; an entry never spans two chunks
	where  []uint64 // entry -> chunk << 32 | offset
	values []uint64 // entry -> value
	table  []uint32 // entry + 1, 0 for empty; len is a power of two
}

const freshChunkSize = 1 << 20

func newFreshKeys() *freshKeys { return &freshKeys{seed: maphash.MakeSeed()} }

// Len is the number of keys.
func (s *freshKeys) Len() int { return len(s.values) }

func (s *freshKeys) key(entry uint32) string {
	w := s.where[entry]
	b := s.chunks[w>>32][uint32(w):]
	n, k := binary.Uvarint(b)
	return string(b[k : k+int(n)])
}

func (s *freshKeys) keyEquals(entry uint32, key string) bool {
	w := s.where[entry]
	b := s.chunks[w>>32][uint32(w):]
	n, k := binary.Uvarint(b)
	return int(n) == len(key) && string(b[k:k+int(n)]) == key
}

// slot returns the table slot of key: the one holding it, or the empty one where it would go.
func (s *freshKeys) slot(key string) int {
	mask := len(s.table) - 1
	i := int(maphash.String(s.seed, key)) & mask
	for {
		e := s.table[i]
		if e == 0 || s.keyEquals(e-1, key) {
			return i
		}
		i = (i + 1) & mask
	}
}

// Get returns the value of key, if the set has it.
func (s *freshKeys) Get(key string) (uint64, bool) {
	if len(s.table) == 0 {
		return 0, false
	}
	e := s.table[s.slot(key)]
	if e == 0 {
		return 0, false
	}
	return s.values[e-1], true
}

// Add adds key with value unless the set has it; it returns the value the set holds for key and whether key
// was there already.
func (s *freshKeys) Add(key string, value uint64) (uint64, bool) {
	if 4*(len(s.values)+1) > 3*len(s.table) {
		s.grow()
	}
	i := s.slot(key)
	if e := s.table[i]; e != 0 {
		return s.values[e-1], true
	}
	need := binary.MaxVarintLen32 + len(key)
	if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1])+need > cap(s.chunks[len(s.chunks)-1]) {
		s.chunks = append(s.chunks, make([]byte, 0, max(freshChunkSize, need)))
	}
	c := len(s.chunks) - 1
	s.where = append(s.where, uint64(c)<<32|uint64(len(s.chunks[c])))
	s.chunks[c] = append(binary.AppendUvarint(s.chunks[c], uint64(len(key))), key...)
	s.values = append(s.values, value)
	s.table[i] = uint32(len(s.values))
	return value, false
}

func (s *freshKeys) grow() {
	size := max(1024, 2*len(s.table))
	s.table = make([]uint32, size)
	for e := range s.values {
		s.table[s.slot(s.key(uint32(e)))] = uint32(e) + 1
	}
}
