package state

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"unsafe"

	"golang.org/x/sync/errgroup"
)

// EntityIndex holds the checkpoint of one kind in memory for planning, sorted by ERP key (byte order) and
// searched by binary search, so the planner keeps per-entity marks in flat slices and a million entities cost
// no map. The entities lie in blocks of indexBlockLen: a block's first key is whole, every other key is the
// length of the prefix it shares with the key before it plus the rest (front coding), as the keys of an ERP
// number range share most of their bytes. An entity then takes its two hashes and a few bytes: 19.3 bytes for
// 10-digit customer numbers with the block table (BenchmarkEntityIndex), where an entry of the cache blob and
// its offset took 32 (10M entities: 193 MB instead of 320). It is built by streaming, from the cache's parts or from the table; the
// whole blob is never in memory.
type EntityIndex struct {
	n      int
	chunks [][]byte // the blocks; a block never spans two chunks
	blocks []uint64 // where block b starts: chunk << 32 | offset in the chunk
}

const (
	// indexBlockLen is the number of entities of a block: a lookup decodes half of one on average.
	indexBlockLen = 16
	// indexChunkSize is the size of the chunks the blocks are kept in: one growing slice would briefly hold
	// the index twice when it grows.
	indexChunkSize = 1 << 20
)

// Len is the number of entities.
func (x *EntityIndex) Len() int { return x.n }

// Bytes is the memory the index takes.
func (x *EntityIndex) Bytes() int {
	n := 8 * cap(x.blocks)
	for _, c := range x.chunks {
		n += cap(c)
	}
	return n
}

func (x *EntityIndex) block(b int) []byte {
	at := x.blocks[b]
	return x.chunks[at>>32][uint32(at):]
}

// blockKey is the first key of block b, read in place.
func (x *EntityIndex) blockKey(b int) string {
	blk := x.block(b)
	l, w := binary.Uvarint(blk[1:])
	return unsafe.String(unsafe.SliceData(blk[1+w:]), int(l))
}

// An entry of a block starts with a tag byte: entryHasID if a remote id other than the key follows the key;
// after a block's first entry, the length of the prefix the key shares with the key before it and of the
// rest, when they fit (prefixes up to 14 bytes, rests up to 7: the neighbours in a range of ERP numbers),
// else entryLongKey and the two as uvarints. A block's first entry gives its key's length as a uvarint. Then
// come the key's bytes (the rest), the remote id (uvarint length and bytes) if the tag says so, and the row
// and the raw hash as 8-byte little-endian words: 18 bytes for a 10-digit customer number after the first.
const (
	entryHasID   = 0x80
	entryLongKey = 0x78 // shared-prefix bits all set
)

// readKey decodes the key of entry j of a block at blk[pos:], the key before it being prev (whose buffer it
// reuses), and returns the key, whether a remote id follows it and the position after it.
func readKey(blk []byte, pos, j int, prev []byte) ([]byte, bool, int) {
	shared, l, hasID, pos := keyParts(blk, pos, j)
	return append(prev[:shared], blk[pos:pos+l]...), hasID, pos + l
}

// skipKey returns whether a remote id follows the key of entry j at blk[pos:], and the position after it.
func skipKey(blk []byte, pos, j int) (bool, int) {
	_, l, hasID, pos := keyParts(blk, pos, j)
	return hasID, pos + l
}

// keyParts decodes the tag of entry j at blk[pos:]: the length of the prefix shared with the key before, of
// the bytes that follow, whether a remote id follows them, and where they start.
func keyParts(blk []byte, pos, j int) (shared, l int, hasID bool, next int) {
	t := blk[pos]
	pos++
	switch {
	case j == 0:
		v, w := binary.Uvarint(blk[pos:])
		l, pos = int(v), pos+w
	case t&entryLongKey != entryLongKey:
		shared, l = int(t>>3&0xf), int(t&7)
	default:
		v, w := binary.Uvarint(blk[pos:])
		shared, pos = int(v), pos+w
		v, w = binary.Uvarint(blk[pos:])
		l, pos = int(v), pos+w
	}
	return shared, l, t&entryHasID != 0, pos
}

// readValue decodes what follows a key at blk[pos:] and returns the position after it.
func readValue(blk []byte, pos int, hasID bool) (id []byte, row, raw uint64, next int) {
	if hasID {
		l, w := binary.Uvarint(blk[pos:])
		pos += w
		id = blk[pos : pos+int(l)]
		pos += int(l)
	}
	return id, binary.LittleEndian.Uint64(blk[pos:]), binary.LittleEndian.Uint64(blk[pos+8:]), pos + 16
}

// skipValue returns the position after the value at blk[pos:].
func skipValue(blk []byte, pos int, hasID bool) int {
	if hasID {
		l, w := binary.Uvarint(blk[pos:])
		pos += w + int(l)
	}
	return pos + 16
}

// entry decodes entity i, its key appended to buf[:0].
func (x *EntityIndex) entry(i int, buf []byte) (key, id []byte, row, raw uint64) {
	blk, pos, last := x.block(i/indexBlockLen), 0, i%indexBlockLen
	key = buf[:0]
	var hasID bool
	for j := range last {
		key, hasID, pos = readKey(blk, pos, j, key)
		pos = skipValue(blk, pos, hasID)
	}
	key, hasID, pos = readKey(blk, pos, last, key)
	id, row, raw, _ = readValue(blk, pos, hasID)
	return key, id, row, raw
}

// Key is the ERP key of entity i.
func (x *EntityIndex) Key(i int) string {
	var buf [64]byte
	k, _, _, _ := x.entry(i, buf[:0])
	return string(k)
}

// Ref is the remote id and row hash of entity i.
func (x *EntityIndex) Ref(i int) EntityRef {
	var buf [64]byte
	k, id, row, _ := x.entry(i, buf[:0])
	if len(id) == 0 {
		id = k
	}
	return EntityRef{RemoteID: string(id), RowHash: row}
}

// RawHash is the hash of the input cells entity i was last synced from (0: unknown).
func (x *EntityIndex) RawHash(i int) uint64 {
	blk, pos, last := x.block(i/indexBlockLen), 0, i%indexBlockLen
	var hasID bool
	for j := range last {
		hasID, pos = skipKey(blk, pos, j)
		pos = skipValue(blk, pos, hasID)
	}
	hasID, pos = skipKey(blk, pos, last)
	_, _, raw, _ := readValue(blk, pos, hasID)
	return raw
}

// Lookup returns the position of key, if the checkpoint has it, else the position it would take. It walks the
// block without rebuilding its keys: m is how many bytes the key before shares with key, and a front-coded
// key is before key, after it or to be compared further by its shared length alone.
func (x *EntityIndex) Lookup(key string) (int, bool) {
	// Only the last block whose first key is not after key can hold it.
	b := sort.Search(len(x.blocks), func(b int) bool { return x.blockKey(b) > key }) - 1
	if b < 0 {
		return 0, false
	}
	blk, pos, end := x.block(b), 0, min(indexBlockLen, x.n-b*indexBlockLen)
	m := 0
	for j := range end {
		shared, l, hasID, at := keyParts(blk, pos, j)
		rest := blk[at : at+l]
		pos = skipValue(blk, at+l, hasID)
		switch {
		case shared > m:
			continue // it agrees with the key before, which is before key, past where that one left key
		case shared < m:
			return b*indexBlockLen + j, false // it left the key before where that one agreed with key: after key
		}
		c := 0
		for c < len(rest) && m+c < len(key) && rest[c] == key[m+c] {
			c++
		}
		m += c
		switch {
		case c == len(rest) && m == len(key):
			return b*indexBlockLen + j, true
		case c < len(rest) && (m == len(key) || rest[c] > key[m]):
			return b*indexBlockLen + j, false
		}
		// A prefix of key, or smaller at byte m: before key, sharing m bytes with it.
	}
	return b*indexBlockLen + end, false
}

// each calls fn with every entity in key order, the remote id as stored (empty: the key); key and id are
// valid only during the call. An error from fn stops it.
func (x *EntityIndex) each(fn func(key, id []byte, row, raw uint64) error) error {
	var key []byte
	for b := range x.blocks {
		blk, pos := x.block(b), 0
		for j := range min(indexBlockLen, x.n-b*indexBlockLen) {
			var (
				id       []byte
				row, raw uint64
				hasID    bool
			)
			key, hasID, pos = readKey(blk, pos, j, key)
			id, row, raw, pos = readValue(blk, pos, hasID)
			if err := fn(key, id, row, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// Keys yields every ERP key in key order, without the string each Key(i) would allocate; a key is valid only
// until the next one is yielded.
func (x *EntityIndex) Keys() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		_ = x.each(func(key, _ []byte, _, _ uint64) error {
			if !yield(key) {
				return errKeysStopped
			}
			return nil
		})
	}
}

// errKeysStopped ends the walk of Keys when its caller stops early.
var errKeysStopped = errors.New("the caller stopped reading the keys")

// indexBuilder builds an EntityIndex from entities added in strictly ascending key order.
type indexBuilder struct {
	x     EntityIndex
	grow  func(bytes int) // called with the index's size each time it takes more memory; may be nil
	size  int
	start int    // where the block being filled starts in the last chunk
	prev  []byte // the key added last
	entry []byte // the entry being placed
	err   error  // errBadIndex once a key came out of order
}

// expect sizes the block table for n entities.
func (b *indexBuilder) expect(n int) {
	b.x.blocks = slices.Grow(b.x.blocks, (n+indexBlockLen-1)/indexBlockLen)
	b.grew()
}

// grew tells grow the index's size if it changed.
func (b *indexBuilder) grew() {
	if size := b.x.Bytes(); size != b.size && b.grow != nil {
		b.size = size
		b.grow(size)
	}
}

// add appends an entity; id is its remote id (the key, or empty, when it is the key).
func (b *indexBuilder) add(key, id string, row, raw uint64) {
	if b.err != nil {
		return
	}
	if b.x.n > 0 && key <= string(b.prev) {
		b.err = errBadIndex
		return
	}
	if id == key {
		id = ""
	}
	j := b.x.n % indexBlockLen
	var tag byte
	if id != "" {
		tag = entryHasID
	}
	e := b.entry[:0]
	if j == 0 {
		e = append(e, tag)
		e = binary.AppendUvarint(e, uint64(len(key)))
		e = append(e, key...)
	} else {
		shared := commonPrefix(b.prev, key)
		if rest := len(key) - shared; shared < 15 && rest < 8 {
			e = append(e, tag|byte(shared<<3|rest))
		} else {
			e = append(e, tag|entryLongKey)
			e = binary.AppendUvarint(e, uint64(shared))
			e = binary.AppendUvarint(e, uint64(rest))
		}
		e = append(e, key[shared:]...)
	}
	if id != "" {
		e = binary.AppendUvarint(e, uint64(len(id)))
		e = append(e, id...)
	}
	e = binary.LittleEndian.AppendUint64(e, row)
	e = binary.LittleEndian.AppendUint64(e, raw)
	b.entry = e
	b.place(e, j == 0)
	b.prev = append(b.prev[:0], key...)
	b.x.n++
}

// place appends entry e to the last chunk, starting a block with it if first. A chunk grows by doubling up to
// indexChunkSize; past it, a new chunk starts and takes the block being filled along.
func (b *indexBuilder) place(e []byte, first bool) {
	chunks := b.x.chunks
	var cur []byte
	if len(chunks) > 0 {
		cur = chunks[len(chunks)-1]
	}
	if first {
		b.start = len(cur)
	}
	if len(cur)+len(e) > cap(cur) {
		defer b.grew()
		switch {
		case len(chunks) > 0 && cap(cur) < indexChunkSize && len(cur)+len(e) <= indexChunkSize:
			cur = append(make([]byte, 0, min(indexChunkSize, max(2*cap(cur), len(cur)+len(e)))), cur...)
			chunks[len(chunks)-1] = cur
		default:
			next := make([]byte, 0, max(indexChunkSize, len(cur)-b.start+len(e)))
			if len(chunks) == 0 {
				next = make([]byte, 0, max(4096, len(e)))
			}
			next = append(next, cur[b.start:]...)
			if len(chunks) > 0 {
				chunks[len(chunks)-1] = cur[:b.start:b.start]
			}
			if !first {
				b.x.blocks[len(b.x.blocks)-1] = uint64(len(chunks)) << 32
			}
			chunks = append(chunks, next)
			cur, b.start = next, 0
		}
	}
	if first {
		b.x.blocks = append(b.x.blocks, uint64(len(chunks)-1)<<32|uint64(len(cur)))
	}
	chunks[len(chunks)-1] = append(cur, e...)
	b.x.chunks = chunks
}

// finish returns the index, or errBadIndex if a key came out of order.
func (b *indexBuilder) finish() (*EntityIndex, error) {
	if b.err != nil {
		return nil, b.err
	}
	x := b.x
	return &x, nil
}

func commonPrefix(a []byte, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// LoadEntityIndex loads every entity of kind into an EntityIndex; grow, if not nil, learns its size in memory
// each time it grows while it loads (the caller may hold memory for it, see sync's heapHold). It reads the cached index blob when the
// cache is as new as the entities (the usual case on a re-run). A cache a few changes behind is brought up to
// date from the entities logged as changed since it was written (the run after a nightly delta), and rewritten
// once those are many; without a usable cache the index is built from the entities table and cached for the
// next run.
func (s *Store) LoadEntityIndex(ctx context.Context, kind string, grow func(bytes int)) (*EntityIndex, error) {
	var gen, budget int64
	err := s.reader.QueryRowContext(ctx, `SELECT generation, log_budget FROM entity_generation WHERE kind = ?`, kind).Scan(&gen, &budget)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load %s index: %w", kind, err)
	}
	// A damaged cache or an incomplete change log is only a slower start: fall through to the table.
	if x, logged, err := s.cachedIndex(ctx, kind, gen, budget, grow); err != nil {
		return nil, fmt.Errorf("load %s index: %w", kind, err)
	} else if x != nil {
		if logged == 0 || logged < int64(x.Len()/rewriteCacheAfter) {
			return x, nil
		}
		return x, s.cacheIndex(ctx, kind, gen, x)
	}
	b := indexBuilder{grow: grow}
	err = s.loadEntityRows(ctx, kind, ` ORDER BY erp_key`, b.expect, func(key string, ref EntityRef, raw uint64) {
		b.add(key, ref.RemoteID, ref.RowHash, raw)
	})
	if err != nil {
		return nil, err
	}
	x, err := b.finish()
	if err != nil {
		return nil, fmt.Errorf("load %s index: the entities table is not in key order: %w", kind, err)
	}
	return x, s.cacheIndex(ctx, kind, gen, x)
}

// logBudget is how many logged keys a cache of n entities is worth catching up from: past a quarter of them
// reading the table is about as cheap. Commits stop logging past it (recordChange), and cachedIndex refuses a
// longer log (one written before the budget existed).
func logBudget(n int) int { return n/4 + 1000 }

// rewriteCacheAfter: a cache is rewritten once the keys logged since it was written exceed 1/16 of the index, so
// that bringing it up to date stays a small part of loading it. Logged keys, not distinct ones: the catch-up
// reads every log row, and a nightly delta that changes the same customers every night logs them again each
// time (10k a night over 1M entities grew the log to 250k rows, read at every start, before the budget ended it).
const rewriteCacheAfter = 16

// cacheIndex stores x as the cache of kind at generation gen, drops the change log up to gen and gives the log
// its budget. It writes nothing if a change landed since gen was read: the cache would miss it, and the next
// load rebuilds it.
func (s *Store) cacheIndex(ctx context.Context, kind string, gen int64, x *EntityIndex) error {
	return s.writeTx(ctx, "cache the "+kind+" index", func(tx *sql.Tx) error {
		var now int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT generation FROM entity_generation WHERE kind = ?), 0)`,
			kind).Scan(&now); err != nil || now != gen {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entity_index WHERE kind = ?`, kind); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entity_changes WHERE kind = ? AND generation <= ?`, kind, gen); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO entity_generation (kind, generation, cached, logged, log_budget)
			VALUES (?, 0, 1, 0, ?) ON CONFLICT (kind) DO UPDATE SET cached = 1, logged = 0, log_budget = excluded.log_budget`,
			kind, logBudget(x.Len())); err != nil {
			return err
		}
		part := 0
		return x.writeBlob(func(data []byte) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO entity_index (kind, part, generation, data) VALUES (?, ?, ?, ?)`,
				kind, part, gen, data)
			part++
			return err
		})
	})
}

// The cache blob, stored in parts of indexPartSize bytes (the last one shorter): a uvarint count, then per
// entity in key order the key and the remote id (empty when it is the key) as uvarint-length-prefixed bytes,
// and the row and raw hashes as 8-byte little-endian words. Its keys are whole: the blob stays readable
// without the block structure, and a part can be checked on its own terms.

// indexPartSize is the size of the parts the index cache is stored in: small enough that SQLite's own copy of
// a part is no burden, large enough that a million entities take a handful of rows.
const indexPartSize = 4 << 20

// writeBlob hands the cache blob of x to part in pieces of indexPartSize bytes, the last one shorter; a piece
// is valid only during the call.
func (x *EntityIndex) writeBlob(part func([]byte) error) error {
	buf := binary.AppendUvarint(make([]byte, 0, indexPartSize+4096), uint64(x.n))
	err := x.each(func(key, id []byte, row, raw uint64) error {
		buf = binary.AppendUvarint(buf, uint64(len(key)))
		buf = append(buf, key...)
		buf = binary.AppendUvarint(buf, uint64(len(id)))
		buf = append(buf, id...)
		buf = binary.LittleEndian.AppendUint64(buf, row)
		buf = binary.LittleEndian.AppendUint64(buf, raw)
		for len(buf) >= indexPartSize {
			if err := part(buf[:indexPartSize]); err != nil {
				return err
			}
			buf = buf[:copy(buf, buf[indexPartSize:])]
		}
		return nil
	})
	if err != nil || len(buf) == 0 {
		return err
	}
	return part(buf)
}

var errBadIndex = errors.New("damaged entity index cache")

// indexChange is the state of one entity logged as changed since a cache was written.
type indexChange struct {
	key  string
	ref  EntityRef
	raw  uint64
	gone bool // deleted since
}

// cachedIndex loads the cached index of kind and brings it up to generation gen from the entities logged as
// changed since the cache was written. It returns the index and the number of keys logged, or a nil index
// without a complete cache, when the cache is damaged or newer than gen, when the log does not cover every
// generation in between (a cache older than the log) or holds more than budget keys (see logBudget): the
// caller builds the index from the table.
//
// The changes are read first and merged while the parts are decoded: one part of the blob is in memory at a
// time, beside the index it builds.
func (s *Store) cachedIndex(ctx context.Context, kind string, gen, budget int64, grow func(int)) (*EntityIndex, int64, error) {
	var cacheGen, size, parts int64
	if err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MIN(generation), 0), COALESCE(SUM(length(data)), 0), COUNT(*)
		FROM entity_index WHERE kind = ?`, kind).Scan(&cacheGen, &size, &parts); err != nil || parts == 0 || cacheGen > gen {
		return nil, 0, err
	}
	if size <= (parts-1)*indexPartSize || size > parts*indexPartSize {
		return nil, 0, nil
	}
	var changes changeSource = &sliceChanges{}
	var logged int64
	if cacheGen < gen {
		var generations int64
		if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(DISTINCT generation), COUNT(*) FROM entity_changes
			WHERE kind = ? AND generation > ? AND generation <= ?`, kind, cacheGen, gen).Scan(&generations, &logged); err != nil {
			return nil, 0, err
		}
		// Every committing transaction logs at least one key under the generation it gave the kind.
		if generations != gen-cacheGen || logged > budget {
			return nil, 0, nil
		}
		rows, err := s.changedSince(ctx, kind, cacheGen, gen)
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		changes = &loggedChanges{rows: rows}
	}
	d := &blobDecoder{changes: changes, extra: int(logged), size: size, b: indexBuilder{grow: grow}}
	// One connection reads the parts while this goroutine decodes the one before: on two cores the two overlap.
	ch := make(chan []byte, 1)
	g, gctx := errgroup.WithContext(ctx)
	complete := false
	g.Go(func() error {
		defer close(ch)
		var err error
		complete, err = s.readCacheParts(gctx, kind, cacheGen, parts, size, func(data []byte) error {
			select {
			case ch <- data:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
		return err
	})
	g.Go(func() error {
		for data := range ch {
			if err := d.feed(data); err != nil {
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); errors.Is(err, errBadIndex) || err == nil && !complete {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, err
	}
	x, err := d.finish()
	if errors.Is(err, errBadIndex) {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, err // the change log could not be read
	}
	return x, logged, nil
}

// readCacheParts hands the parts of the cache of kind (generation gen, size bytes in parts rows) to part in
// order, through the driver (see queryRaw). It reports whether they were all there, of generation gen and of
// their proper sizes; it stops at the first that is not.
func (s *Store) readCacheParts(ctx context.Context, kind string, gen, parts, size int64, part func([]byte) error) (bool, error) {
	want, whole := int64(0), true
	err := s.queryRaw(ctx, `SELECT part, generation, data FROM entity_index WHERE kind = ? ORDER BY part`, kind, 3,
		func(dest []driver.Value) (bool, error) {
			p, pOK := dest[0].(int64)
			g, gOK := dest[1].(int64)
			data, dOK := dest[2].([]byte)
			if !pOK || !gOK || !dOK {
				return false, fmt.Errorf("unexpected column types %T, %T, %T", dest[0], dest[1], dest[2])
			}
			off := p * indexPartSize
			if p != want || g != gen || off >= size || int64(len(data)) != min(indexPartSize, size-off) {
				whole = false // parts missing, cut or of mixed generations: no usable cache
				return false, nil
			}
			want++
			return true, part(data)
		})
	return err == nil && whole && want == parts, err
}

// blobDecoder rebuilds an index from the cache blob, fed to it part by part, with the changes logged since
// (in key order, one per key) merged in. An entry cut by the end of a part is carried into the next one.
type blobDecoder struct {
	changes changeSource
	extra   int   // at most how many entities the changes add (for the index's block table)
	size    int64 // the blob's size: no length in it can be larger
	b       indexBuilder
	count   uint64 // the entities the blob holds, from its header
	counted bool
	seen    uint64
	carry   []byte // the start of an entry the last part cut
	prevKey []byte // the blob's key before, to check the blob's own order
}

// feed decodes the part p.
func (d *blobDecoder) feed(p []byte) error {
	if len(d.carry) > 0 {
		for take := 0; ; {
			more := min(len(p)-take, max(256, len(d.carry)))
			d.carry = append(d.carry, p[take:take+more]...)
			take += more
			n, err := d.decode(d.carry)
			if err != nil {
				return err
			}
			if n > 0 {
				// The entry ended in p, after the bytes carried.
				p = p[take-(len(d.carry)-n):]
				d.carry = d.carry[:0]
				break
			}
			if take == len(p) {
				return nil // all of p belongs to the entry
			}
		}
	}
	for len(p) > 0 {
		n, err := d.decode(p)
		if err != nil {
			return err
		}
		if n == 0 {
			d.carry = append(d.carry[:0], p...)
			return nil
		}
		p = p[n:]
	}
	return nil
}

// decode decodes the header or the entry at the start of b and returns its length, 0 if b ends before it does.
func (d *blobDecoder) decode(b []byte) (int, error) {
	uvarint := func(pos int) (uint64, int, error) {
		v, w := binary.Uvarint(b[pos:])
		if w < 0 || v > uint64(d.size) {
			return 0, 0, errBadIndex
		}
		return v, w, nil
	}
	if !d.counted {
		v, w, err := uvarint(0)
		if w > 0 {
			d.count, d.counted = v, true
			d.b.expect(int(v) + d.extra)
		}
		return w, err
	}
	if d.seen == d.count {
		return 0, errBadIndex // bytes after the last entry
	}
	field := func(pos int) ([]byte, int, error) {
		l, w, err := uvarint(pos)
		if err != nil || w == 0 || uint64(len(b)-pos-w) < l {
			return nil, 0, err
		}
		return b[pos+w : pos+w+int(l)], pos + w + int(l), nil
	}
	key, pos, err := field(0)
	if pos == 0 {
		return 0, err
	}
	id, pos, err := field(pos)
	if pos == 0 || len(b)-pos < 16 {
		return 0, err
	}
	if d.seen > 0 && bytes.Compare(d.prevKey, key) >= 0 {
		return 0, errBadIndex
	}
	d.prevKey = append(d.prevKey[:0], key...)
	d.seen++
	d.merge(unsafe.String(unsafe.SliceData(key), len(key)), unsafe.String(unsafe.SliceData(id), len(id)),
		binary.LittleEndian.Uint64(b[pos:]), binary.LittleEndian.Uint64(b[pos+8:]))
	return pos + 16, nil
}

// merge adds the blob's entity key, after the changes to keys before it, or its change in its place.
func (d *blobDecoder) merge(key, id string, row, raw uint64) {
	c, ok := d.changes.peek()
	for ok && c.key < key {
		d.addChange(c)
		c, ok = d.changes.peek()
	}
	if ok && c.key == key {
		d.addChange(c)
		return
	}
	d.b.add(key, id, row, raw)
}

// addChange adds the change c, the one peeked, and moves past it.
func (d *blobDecoder) addChange(c *indexChange) {
	if !c.gone {
		d.b.add(c.key, c.ref.RemoteID, c.ref.RowHash, c.raw)
	}
	d.changes.pop()
}

// finish checks that the blob ended where its header said and returns the index with the remaining changes.
func (d *blobDecoder) finish() (*EntityIndex, error) {
	if !d.counted || d.seen != d.count || len(d.carry) > 0 {
		return nil, errBadIndex
	}
	for c, ok := d.changes.peek(); ok; c, ok = d.changes.peek() {
		d.addChange(c)
	}
	if err := d.changes.err(); err != nil {
		return nil, fmt.Errorf("read the change log: %w", err)
	}
	return d.b.finish()
}

// changeSource hands out changes in key order, one per key.
type changeSource interface {
	// peek returns the next change, valid until pop; false when there is none.
	peek() (*indexChange, bool)
	pop()
	// err is the error that ended the changes early, if one did.
	err() error
}

// sliceChanges are changes held in a slice (sorted by key, one per key).
type sliceChanges struct {
	c    []indexChange
	next int
}

func (s *sliceChanges) peek() (*indexChange, bool) {
	if s.next == len(s.c) {
		return nil, false
	}
	return &s.c[s.next], true
}

func (s *sliceChanges) pop()       { s.next++ }
func (s *sliceChanges) err() error { return nil }

// loggedChanges reads the change log's rows (changedSince) as the decoder asks for them: memory for two changes,
// where the slice of them took about 60 MB past the index after a run that changed a tenth of 10M entities. Of
// a key logged by several commits, the rows come in generation order and the last one wins.
type loggedChanges struct {
	rows         *sql.Rows
	cur, ahead   indexChange
	hasCur, hasA bool
	done         bool
	failed       error
}

// read returns the next row, false at the end or on an error (kept for err).
func (l *loggedChanges) read() (indexChange, bool) {
	if l.done {
		return indexChange{}, false
	}
	if !l.rows.Next() {
		l.done, l.failed = true, l.rows.Err()
		return indexChange{}, false
	}
	var (
		c         indexChange
		id        sql.NullString
		hash, raw int64
	)
	if err := l.rows.Scan(&c.key, &id, &hash, &raw); err != nil {
		l.done, l.failed = true, err
		return indexChange{}, false
	}
	c.ref, c.raw, c.gone = EntityRef{RemoteID: id.String, RowHash: uint64(hash)}, uint64(raw), !id.Valid
	return c, true
}

func (l *loggedChanges) peek() (*indexChange, bool) {
	if !l.hasCur {
		if l.hasA {
			l.cur, l.hasCur, l.hasA = l.ahead, true, false
		} else if l.cur, l.hasCur = l.read(); !l.hasCur {
			return nil, false
		}
		for {
			c, ok := l.read()
			if !ok {
				break
			}
			if c.key != l.cur.key {
				l.ahead, l.hasA = c, true
				break
			}
			l.cur = c
		}
	}
	return &l.cur, true
}

func (l *loggedChanges) pop()       { l.hasCur = false }
func (l *loggedChanges) err() error { return l.failed }

// decodeEntityIndex decodes a whole cache blob (the tests' way in).
func decodeEntityIndex(data []byte) (*EntityIndex, error) {
	d := &blobDecoder{changes: &sliceChanges{}, size: int64(len(data))}
	if err := d.feed(data); err != nil {
		return nil, err
	}
	return d.finish()
}

// changedSince queries the state of every entity of kind logged as changed in generations (from, to], as
// each commit that logged it left it: in key order (SQLite's BINARY collation, Go's byte order), a key's rows
// in the order of their generations (read them with loggedChanges). The log alone answers: no lookup in
// entities.
func (s *Store) changedSince(ctx context.Context, kind string, from, to int64) (*sql.Rows, error) {
	return s.reader.QueryContext(ctx, `SELECT erp_key, remote_id, row_hash, raw_hash FROM entity_changes
		WHERE kind = ? AND generation > ? AND generation <= ? ORDER BY erp_key, generation`, kind, from, to)
}
