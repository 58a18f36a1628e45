package sync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"

	"custsync/formats"
)

// freshKeys is the set of keys the input carried that the checkpoint does not know, each with a 64-bit value
// (the packed position of its first row). A first import of millions of rows holds every one of its keys here
// (the duplicate check and the references between rows need them all), so it is the planner's one structure
// that grows with the input, and only its table stays in memory: 8 bytes a slot (hash bits and where the key's
// record is), about 15 bytes a key. The records (key and value) go to a log that is kept in memory up to
// memLog bytes and beyond that moves to a temporary file, read back through a small cache of its blocks; a
// record is read only when its slot's hash bits match, so a key the set has not seen costs no read in
// almost every case. A read or write error of the file is kept and reported by Err: the planner checks it
// before anything is written to the platform.
type freshKeys struct {
	seed   maphash.Seed
	shards [freshShards]freshShard
	n      int
	log    freshLog
	// mem is the set's memory (tables, log blocks and cache), told to the plan's heapHold as it changes.
	mem heapShare
}

// The table is split into shards by the top bits of the hash, each grown on its own, so that growing never
// holds two copies of the whole table. A slot is tag << freshOffBits | offset+1: tag is freshTagBits of the
// hash (its low bits also pick the slot, so growing needs no key), offset the record's place in the log.
const (
	freshShards  = 256
	freshTagBits = 28
	freshOffBits = 64 - freshTagBits
	freshOffMask = 1<<freshOffBits - 1
	freshBlock   = 64 << 10 // log block: the unit of the file's reads and of its cache
	// freshMemLogDefault is how much of the log stays in memory before it moves to a file: about 1.6M keys
	// of 12 bytes, which covers every input short of a multi-million-row first import.
	freshMemLogDefault = 32 << 20
	freshCacheBlocks   = 256 // 16 MiB of the file's blocks
)

// freshMemLog is freshMemLogDefault; tests lower it to plan through the file.
var freshMemLog int64 = freshMemLogDefault

type freshShard struct {
	table []uint64
	n     int
}

// freshLog holds the records back to back in blocks of freshBlock bytes; a record may span two blocks.
type freshLog struct {
	dir     string   // where the file goes ("" for os.TempDir)
	memLog  int64    // bytes kept in memory before the file
	blocks  [][]byte // block i, or nil once it is in the file
	size    int64
	file    *os.File
	path    string // see formats.CreateUnlinkedTemp
	cache   [freshCacheBlocks]freshCached
	scratch []byte
	spare   []byte // a block buffer the file freed, for the next block
	err     error
	mem     *heapShare // the set's, which counts the blocks
}

type freshCached struct {
	no int64
	b  []byte
}

// newFreshKeys returns an empty set whose log, once it outgrows memory, goes to a temporary file in dir. Its
// memory is told to heap (which may be nil).
func newFreshKeys(dir string, heap *heapHold) *freshKeys {
	s := &freshKeys{seed: maphash.MakeSeed(), log: freshLog{dir: dir, memLog: freshMemLog}, mem: heapShare{hold: heap}}
	s.log.mem = &s.mem
	return s
}

// Len is the number of keys.
func (s *freshKeys) Len() int { return s.n }

// Err returns the first error of the log's file; after one, the set's answers cannot be trusted.
func (s *freshKeys) Err() error { return s.log.err }

// Close removes the log's file, if it has one, and tells the heap that the set's memory is given back (the
// caller drops the set).
func (s *freshKeys) Close() error {
	s.mem.drop()
	if s.log.file == nil {
		return nil
	}
	err := formats.CloseUnlinkedTemp(s.log.file, s.log.path)
	s.log.file = nil
	return err
}

func (s *freshKeys) hash(key string) (shard *freshShard, tag uint64) {
	h := maphash.String(s.seed, key)
	return &s.shards[h>>56], h >> (56 - freshTagBits) & (1<<freshTagBits - 1)
}

// find returns the slot of key in sh: the one holding it (found, with its value), or the empty one where it
// would go.
func (s *freshKeys) find(sh *freshShard, tag uint64, key string) (slot int, value uint64, found bool) {
	mask := len(sh.table) - 1
	for i := int(tag) & mask; ; i = (i + 1) & mask {
		e := sh.table[i]
		if e == 0 {
			return i, 0, false
		}
		if e>>freshOffBits == tag {
			if v, ok := s.log.valueOf(int64(e&freshOffMask)-1, key); ok {
				return i, v, true
			}
		}
	}
}

// Get returns the value of key, if the set has it.
func (s *freshKeys) Get(key string) (uint64, bool) {
	sh, tag := s.hash(key)
	if len(sh.table) == 0 {
		return 0, false
	}
	_, v, found := s.find(sh, tag, key)
	return v, found
}

// Add adds key with value unless the set has it; it returns the value the set holds for key and whether key
// was there already.
func (s *freshKeys) Add(key string, value uint64) (uint64, bool) {
	sh, tag := s.hash(key)
	if 4*(sh.n+1) > 3*len(sh.table) {
		slots := len(sh.table)
		sh.grow()
		s.mem.add(8 * int64(len(sh.table)-slots))
	}
	i, v, found := s.find(sh, tag, key)
	if found {
		return v, true
	}
	off := s.log.add(key, value)
	if off+1 > freshOffMask {
		s.log.fail(errors.New("more keys than the duplicate check can hold"))
	}
	sh.table[i] = tag<<freshOffBits | uint64(off+1)
	sh.n++
	s.n++
	return value, false
}

func (sh *freshShard) grow() {
	old := sh.table
	sh.table = make([]uint64, max(16, 2*len(old)))
	mask := len(sh.table) - 1
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := int(e>>freshOffBits) & mask
		for sh.table[i] != 0 {
			i = (i + 1) & mask
		}
		sh.table[i] = e
	}
}

func (l *freshLog) fail(err error) {
	if l.err == nil {
		l.err = fmt.Errorf("the input's keys in a temporary file: %w", err)
	}
}

// add appends the record of key and value and returns its offset.
func (l *freshLog) add(key string, value uint64) int64 {
	var hdr [2 * binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(key)))
	n += binary.PutUvarint(hdr[n:], value)
	off := l.size
	l.write(hdr[:n])
	l.write([]byte(key))
	return off
}

func (l *freshLog) write(b []byte) {
	for len(b) > 0 {
		no := l.size / freshBlock
		if int(no) == len(l.blocks) {
			blk := l.spare
			l.spare = nil
			if blk == nil {
				blk = make([]byte, freshBlock)
				l.mem.add(freshBlock)
			}
			l.blocks = append(l.blocks, blk)
		}
		at := int(l.size % freshBlock)
		c := copy(l.blocks[no][at:], b)
		b, l.size = b[c:], l.size+int64(c)
		if at+c == freshBlock {
			l.full(no)
		}
	}
}

// full is called when block no is complete: once the log has outgrown memory the block goes to the file.
func (l *freshLog) full(no int64) {
	if l.err != nil {
		return
	}
	if l.file == nil {
		if l.size <= l.memLog {
			return
		}
		f, path, err := formats.CreateUnlinkedTemp(l.dir, ".custsync-keys-*.tmp")
		if err != nil {
			l.fail(err)
			return
		}
		l.file, l.path = f, path
		for i := range no {
			l.flush(i)
		}
	}
	l.flush(no)
}

func (l *freshLog) flush(no int64) {
	if _, err := l.file.WriteAt(l.blocks[no], no*freshBlock); err != nil {
		l.fail(err)
		return
	}
	if l.spare != nil {
		l.mem.add(-freshBlock) // the collector's now
	}
	l.spare, l.blocks[no] = l.blocks[no], nil
}

// block returns block no, from memory, the cache or the file.
func (l *freshLog) block(no int64) ([]byte, bool) {
	if b := l.blocks[no]; b != nil {
		return b, true
	}
	c := &l.cache[no%freshCacheBlocks]
	if c.b != nil && c.no == no {
		return c.b, true
	}
	if c.b == nil {
		c.b = make([]byte, freshBlock)
		l.mem.add(freshBlock)
	}
	c.no = -1
	if _, err := l.file.ReadAt(c.b, no*freshBlock); err != nil && !errors.Is(err, io.EOF) {
		l.fail(err)
		return nil, false
	}
	c.no = no
	return c.b, true
}

// bytes returns the n bytes at off (n ≤ freshBlock); valid until the next call.
func (l *freshLog) bytes(off int64, n int) ([]byte, bool) {
	b, ok := l.block(off / freshBlock)
	if !ok {
		return nil, false
	}
	at := int(off % freshBlock)
	if at+n <= freshBlock {
		return b[at : at+n], true
	}
	l.scratch = append(l.scratch[:0], b[at:]...)
	next, ok := l.block(off/freshBlock + 1)
	if !ok {
		return nil, false
	}
	l.scratch = append(l.scratch, next[:n-(freshBlock-at)]...)
	return l.scratch, true
}

// record reads the header of the record at off: where its key is, how long it is, and its value.
func (l *freshLog) record(off int64) (keyOff int64, keyLen int, value uint64, ok bool) {
	hdr, ok := l.bytes(off, int(min(int64(2*binary.MaxVarintLen64), l.size-off)))
	if !ok {
		return 0, 0, 0, false
	}
	n, a := binary.Uvarint(hdr)
	v, b := binary.Uvarint(hdr[a:])
	if a <= 0 || b <= 0 {
		l.fail(fmt.Errorf("record at %d is damaged", off))
		return 0, 0, 0, false
	}
	return off + int64(a+b), int(n), v, true
}

// valueOf returns the value of the record at off if the record holds key.
func (l *freshLog) valueOf(off int64, key string) (uint64, bool) {
	kOff, n, v, ok := l.record(off)
	if !ok || n != len(key) {
		return 0, false
	}
	for len(key) > 0 {
		part, ok := l.bytes(kOff, min(len(key), freshBlock))
		if !ok || string(part) != key[:len(part)] {
			return 0, false
		}
		kOff, key = kOff+int64(len(part)), key[len(part):]
	}
	return v, true
}
