package state

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"
)

// EntityKey identifies an entity by kind and ERP key.
type EntityKey struct {
	Kind   string
	ERPKey string
}

// Entity is one checkpoint row: what custsync last wrote to the platform for an ERP key.
type Entity struct {
	Kind      string
	ERPKey    string
	RemoteID  string
	RowHash   uint64
	SyncedRun int64 // the run whose op wrote it; 0 if written outside a run (adoption)
	UpdatedAt time.Time
}

// EntityRef is the part of an entity the planner needs for every row.
type EntityRef struct {
	RemoteID string
	RowHash  uint64
}

// LoadEntities loads every entity of kind into a map keyed by ERP key, for planning against the checkpoint.
//
// It reads through the driver directly rather than database/sql: on a million rows the per-row Scan
// conversions of database/sql cost about a third of the time (see BenchmarkLoadEntities1M).
func (s *Store) LoadEntities(ctx context.Context, kind string) (map[string]EntityRef, error) {
	var out map[string]EntityRef
	err := s.loadEntityRows(ctx, kind, "", func(n int) { out = make(map[string]EntityRef, n) },
		func(key string, ref EntityRef, _ uint64) { out[key] = ref })
	return out, err
}

// loadEntityRows streams the planner's columns of every entity of kind: size is called first with the count.
//
// It reads through the driver directly rather than database/sql: on a million rows the per-row Scan
// conversions of database/sql cost about a third of the time (see BenchmarkLoadEntities1M).
func (s *Store) loadEntityRows(ctx context.Context, kind, order string, size func(int), add func(string, EntityRef, uint64)) error {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM entities WHERE kind = ?`, kind).Scan(&n); err != nil {
		return fmt.Errorf("load %s entities: %w", kind, err)
	}
	size(n)
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load %s entities: %w", kind, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("the sqlite driver cannot query a raw connection")
		}
		rows, err := q.QueryContext(ctx, `SELECT erp_key, remote_id, row_hash, raw_hash FROM entities WHERE kind = ?`+order,
			[]driver.NamedValue{{Ordinal: 1, Value: kind}})
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 4)
		for {
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			key, keyOK := dest[0].(string)
			remoteID, idOK := dest[1].(string)
			hash, hashOK := dest[2].(int64)
			raw, rawOK := dest[3].(int64)
			if !keyOK || !idOK || !hashOK || !rawOK {
				return fmt.Errorf("unexpected column types %T, %T, %T, %T", dest[0], dest[1], dest[2], dest[3])
			}
			add(key, EntityRef{RemoteID: remoteID, RowHash: uint64(hash)}, uint64(raw))
		}
	})
	if err != nil {
		return fmt.Errorf("load %s entities: %w", kind, err)
	}
	return nil
}

// ScanEntities calls fn for each entity of kind in ERP key order (byte order), without holding them in memory.
// An error from fn stops the scan and is returned.
func (s *Store) ScanEntities(ctx context.Context, kind string, fn func(Entity) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT erp_key, remote_id, row_hash, synced_run, updated_at
		FROM entities WHERE kind = ? ORDER BY erp_key`, kind)
	if err != nil {
		return fmt.Errorf("scan %s entities: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		e := Entity{Kind: kind}
		var (
			hash    int64
			run     sql.NullInt64
			updated sql.NullString
		)
		if err := rows.Scan(&e.ERPKey, &e.RemoteID, &hash, &run, &updated); err != nil {
			return fmt.Errorf("scan %s entities: %w", kind, err)
		}
		e.RowHash, e.SyncedRun = uint64(hash), run.Int64
		if e.UpdatedAt, err = parseTime(updated); err != nil {
			return fmt.Errorf("scan %s entities: %w", kind, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan %s entities: %w", kind, err)
	}
	return nil
}

// GetEntity returns one entity; ok is false if the checkpoint has none for the key.
func (s *Store) GetEntity(ctx context.Context, key EntityKey) (e Entity, ok bool, err error) {
	var (
		hash    int64
		run     sql.NullInt64
		updated sql.NullString
	)
	err = s.reader.QueryRowContext(ctx, `SELECT remote_id, row_hash, synced_run, updated_at FROM entities
		WHERE kind = ? AND erp_key = ?`, key.Kind, key.ERPKey).Scan(&e.RemoteID, &hash, &run, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Entity{}, false, nil
	}
	if err != nil {
		return Entity{}, false, fmt.Errorf("read %s %q: %w", key.Kind, key.ERPKey, err)
	}
	e.Kind, e.ERPKey, e.RowHash, e.SyncedRun = key.Kind, key.ERPKey, uint64(hash), run.Int64
	if e.UpdatedAt, err = parseTime(updated); err != nil {
		return Entity{}, false, fmt.Errorf("read %s %q: %w", key.Kind, key.ERPKey, err)
	}
	return e, true, nil
}

// snapshotChunk bounds the keys per IN (...) query, far below SQLite's parameter limit.
const snapshotChunk = 500

// Snapshots returns the last-sent payloads of the given entities of kind, keyed by ERP key. Keys without an
// entity or without a snapshot are absent from the result.
func (s *Store) Snapshots(ctx context.Context, kind string, erpKeys []string) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(erpKeys))
	for start := 0; start < len(erpKeys); start += snapshotChunk {
		chunk := erpKeys[start:min(start+snapshotChunk, len(erpKeys))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, kind)
		for _, k := range chunk {
			args = append(args, k)
		}
		rows, err := s.reader.QueryContext(ctx, `SELECT erp_key, snapshot FROM entities
			WHERE kind = ? AND erp_key IN (`+placeholders(len(chunk))+`) AND snapshot IS NOT NULL`, args...)
		if err != nil {
			return nil, fmt.Errorf("read %s snapshots: %w", kind, err)
		}
		for rows.Next() {
			var key, payload string
			if err := rows.Scan(&key, &payload); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read %s snapshots: %w", kind, err)
			}
			out[key] = json.RawMessage(payload)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s snapshots: %w", kind, err)
		}
	}
	return out, nil
}

// CountEntities counts the checkpoint's entities per kind.
func (s *Store) CountEntities(ctx context.Context) (map[string]int64, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT kind, COUNT(*) FROM entities GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("count entities: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			kind string
			n    int64
		)
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, fmt.Errorf("count entities: %w", err)
		}
		out[kind] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count entities: %w", err)
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// EntityIndex holds the checkpoint of one kind in memory for planning, sorted by ERP key (byte order) and
// searched by binary search, so the planner keeps per-entity marks in flat slices and a million entities cost
// no map. It is the cache blob itself (see encodeEntityIndex) plus one offset per entity: about 30 bytes an
// entity, where a slice of keys, refs and hashes took about 90, so the checkpoint of millions fits.
type EntityIndex struct {
	data string   // the entries of the blob, after its count
	offs []uint32 // where entity i starts in data
}

// Len is the number of entities.
func (x *EntityIndex) Len() int { return len(x.offs) }

// field reads a uvarint-length-prefixed string at data[pos:]; the blob was validated when it was loaded.
func (x *EntityIndex) field(pos int) (string, int) {
	l, w := uvarintString(x.data[pos:])
	return x.data[pos+w : pos+w+int(l)], pos + w + int(l)
}

// Key is the ERP key of entity i.
func (x *EntityIndex) Key(i int) string {
	k, _ := x.field(int(x.offs[i]))
	return k
}

// Ref is the remote id and row hash of entity i.
func (x *EntityIndex) Ref(i int) EntityRef {
	key, pos := x.field(int(x.offs[i]))
	id, pos := x.field(pos)
	if id == "" {
		id = key
	}
	return EntityRef{RemoteID: id, RowHash: leUint64(x.data[pos:])}
}

// RawHash is the hash of the input cells entity i was last synced from (0: unknown).
func (x *EntityIndex) RawHash(i int) uint64 {
	_, pos := x.field(int(x.offs[i]))
	_, pos = x.field(pos)
	return leUint64(x.data[pos+8:])
}

// Lookup returns the position of key, if the checkpoint has it.
func (x *EntityIndex) Lookup(key string) (int, bool) {
	i := sort.Search(len(x.offs), func(i int) bool { return x.Key(i) >= key })
	return i, i < len(x.offs) && x.Key(i) == key
}

func uvarintString(s string) (uint64, int) {
	var v uint64
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func leUint64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// LoadEntityIndex loads every entity of kind into an EntityIndex. It reads the cached index blob when the
// cache is as new as the entities (the usual case on a re-run). A cache a few changes behind is brought up to
// date from the entities logged as changed since it was written (the run after a nightly delta), and rewritten
// once those are many; without a usable cache the index is built from the entities table and cached for the
// next run.
func (s *Store) LoadEntityIndex(ctx context.Context, kind string) (*EntityIndex, error) {
	var gen, budget int64
	err := s.reader.QueryRowContext(ctx, `SELECT generation, log_budget FROM entity_generation WHERE kind = ?`, kind).Scan(&gen, &budget)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load %s index: %w", kind, err)
	}
	// A damaged cache or an incomplete change log is only a slower start: fall through to the table.
	if x, blob, logged, err := s.cachedIndex(ctx, kind, gen, budget); err != nil {
		return nil, fmt.Errorf("load %s index: %w", kind, err)
	} else if x != nil {
		if logged == 0 || logged < int64(x.Len()/rewriteCacheAfter) {
			return x, nil
		}
		return x, s.cacheIndex(ctx, kind, gen, blob, x.Len())
	}
	var blob []byte
	err = s.loadEntityRows(ctx, kind, ` ORDER BY erp_key`, func(n int) {
		blob = binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+n*32), uint64(n))
	}, func(key string, ref EntityRef, raw uint64) {
		blob = appendIndexEntry(blob, key, ref, raw)
	})
	if err != nil {
		return nil, err
	}
	x, err := decodeEntityIndex(blob)
	if err != nil {
		return nil, fmt.Errorf("load %s index: %w", kind, err)
	}
	return x, s.cacheIndex(ctx, kind, gen, blob, x.Len())
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

// cacheIndex stores blob, the index of n entities, as the cache of kind at generation gen, drops the change log
// up to gen and gives the log its budget. It writes nothing if a change landed since gen was read: the cache
// would miss it, and the next load rebuilds it.
func (s *Store) cacheIndex(ctx context.Context, kind string, gen int64, blob []byte, n int) error {
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
			kind, logBudget(n)); err != nil {
			return err
		}
		for part, start := 0, 0; start < len(blob); part, start = part+1, start+indexPartSize {
			if _, err := tx.ExecContext(ctx, `INSERT INTO entity_index (kind, part, generation, data) VALUES (?, ?, ?, ?)`,
				kind, part, gen, blob[start:min(start+indexPartSize, len(blob))]); err != nil {
				return err
			}
		}
		return nil
	})
}

// indexChange is the state of one entity logged as changed since a cache was written.
type indexChange struct {
	key  string
	ref  EntityRef
	raw  uint64
	gone bool // deleted since
}

// cachedIndex loads the cached index of kind and brings it up to generation gen from the entities logged as
// changed since the cache was written. It returns the index, its blob and the number of keys logged, or
// a nil index without a complete cache, when the cache is damaged or newer than gen, when the log does not
// cover every generation in between (a cache older than the log) or holds more than budget keys (see
// logBudget): the caller builds the index from the table.
//
// The changes are read first, so that the cache is read into one buffer with room in front for what they
// add, and merged in that buffer: the index of millions of entities is never held twice.
func (s *Store) cachedIndex(ctx context.Context, kind string, gen, budget int64) (*EntityIndex, []byte, int64, error) {
	var cacheGen, size, parts int64
	if err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MIN(generation), 0), COALESCE(SUM(length(data)), 0), COUNT(*)
		FROM entity_index WHERE kind = ?`, kind).Scan(&cacheGen, &size, &parts); err != nil || parts == 0 || cacheGen > gen {
		return nil, nil, 0, err
	}
	var changes []indexChange
	var logged int64
	if cacheGen < gen {
		var generations int64
		if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(DISTINCT generation), COUNT(*) FROM entity_changes
			WHERE kind = ? AND generation > ? AND generation <= ?`, kind, cacheGen, gen).Scan(&generations, &logged); err != nil {
			return nil, nil, 0, err
		}
		// Every committing transaction logs at least one key under the generation it gave the kind.
		if generations != gen-cacheGen || logged > budget {
			return nil, nil, 0, nil
		}
		var err error
		if changes, err = s.changedSince(ctx, kind, cacheGen, gen); err != nil {
			return nil, nil, 0, err
		}
	}
	headroom := mergeHeadroom(changes)
	buf, err := s.readCache(ctx, kind, cacheGen, size, parts, headroom)
	if err != nil || buf == nil {
		return nil, nil, 0, err
	}
	x, blob, err := catchUp(buf, headroom, changes)
	if err != nil {
		return nil, nil, 0, nil
	}
	return x, blob, logged, nil
}

// readCache reads the parts of the cache of kind (generation gen, size bytes in parts rows) straight into one
// buffer, after headroom bytes. It returns nil if the parts are not those of one complete cache of that
// generation. Two reader connections read the two halves of the parts at once: a nightly run waits for the
// index before it plans a row, and reading the parts is most of loading it.
func (s *Store) readCache(ctx context.Context, kind string, gen, size, parts int64, headroom int) ([]byte, error) {
	if parts <= 0 || size <= (parts-1)*indexPartSize || size > parts*indexPartSize {
		return nil, nil
	}
	b := make([]byte, int64(headroom)+size)
	half := (parts + 1) / 2
	halves := [2][2]int64{{0, half}, {half, parts}}
	var complete [2]bool
	var g errgroup.Group
	for i, h := range halves {
		if h[0] == h[1] {
			complete[i] = true
			continue
		}
		g.Go(func() error {
			var err error
			complete[i], err = s.readCacheParts(ctx, kind, gen, h[0], h[1], b[headroom:])
			return err
		})
	}
	if err := g.Wait(); err != nil || !complete[0] || !complete[1] {
		return nil, err
	}
	return b, nil
}

// readCacheParts copies the parts [from, to) of the cache of kind into dst, each at its offset, through the
// driver (database/sql would copy each part once more). It reports whether they were all there, of
// generation gen and of their proper sizes.
func (s *Store) readCacheParts(ctx context.Context, kind string, gen, from, to int64, dst []byte) (bool, error) {
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	complete := false
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("the sqlite driver cannot query a raw connection")
		}
		rows, err := q.QueryContext(ctx, `SELECT part, generation, data FROM entity_index WHERE kind = ? AND part >= ? AND part < ? ORDER BY part`,
			[]driver.NamedValue{{Ordinal: 1, Value: kind}, {Ordinal: 2, Value: from}, {Ordinal: 3, Value: to}})
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 3)
		for want := from; ; want++ {
			if err := rows.Next(dest); err == io.EOF {
				complete = want == to
				return nil
			} else if err != nil {
				return err
			}
			part, pOK := dest[0].(int64)
			g, gOK := dest[1].(int64)
			data, dOK := dest[2].([]byte)
			if !pOK || !gOK || !dOK {
				return fmt.Errorf("unexpected column types %T, %T, %T", dest[0], dest[1], dest[2])
			}
			off := part * indexPartSize
			if part != want || g != gen || off >= int64(len(dst)) || int64(len(data)) != min(indexPartSize, int64(len(dst))-off) {
				return nil // parts missing, cut or of mixed generations: no usable cache
			}
			copy(dst[off:], data)
		}
	})
	return complete, err
}

// mergeHeadroom is the room mergeInto needs in front of the old blob: whatever the order of inserts and
// deletes, what it has written never passes what it has still to read.
func mergeHeadroom(changes []indexChange) int {
	n := binary.MaxVarintLen64
	for _, c := range changes {
		if !c.gone {
			n += indexEntrySize(c.key, c.ref)
		}
	}
	return n
}

// indexEntrySize is the size of the blob entry appendIndexEntry writes.
func indexEntrySize(key string, ref EntityRef) int {
	id := ref.RemoteID
	if id == key {
		id = ""
	}
	return uvarintLen(uint64(len(key))) + len(key) + uvarintLen(uint64(len(id))) + len(id) + 16
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// catchUp applies changes to the cache blob held in buf after headroom bytes and returns the index and its
// blob: the blob where it is when the changes fit in place, else merged to the front of buf.
func catchUp(buf []byte, headroom int, changes []indexChange) (*EntityIndex, []byte, error) {
	data := buf[headroom:]
	offs, body, err := indexOffsets(data)
	if err != nil {
		return nil, nil, err
	}
	x := newEntityIndex(offs, body)
	// Where each change falls in x, found before anything is written.
	at := make([]changeAt, len(changes))
	for j, c := range changes {
		at[j].i, at[j].found = x.Lookup(c.key)
	}
	if len(changes) == 0 || patchInPlace(x, body, changes, at) {
		return x, data, nil
	}
	merged := mergeInto(buf, x, changes, at)
	offs, body, err = indexOffsets(merged)
	if err != nil {
		return nil, nil, fmt.Errorf("bring the cached index up to date: %w", err)
	}
	return newEntityIndex(offs, body), merged, nil
}

// changeAt is where a change falls in an index: the entity it replaces or deletes (found), else the position
// it is inserted at.
type changeAt struct {
	i     int
	found bool
}

// changedSince reads the current state of every entity of kind logged as changed in generations (from, to],
// sorted by key in byte order.
func (s *Store) changedSince(ctx context.Context, kind string, from, to int64) ([]indexChange, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT c.erp_key, e.remote_id, e.row_hash, e.raw_hash
		FROM (SELECT DISTINCT erp_key FROM entity_changes WHERE kind = ?1 AND generation > ?2 AND generation <= ?3) AS c
		LEFT JOIN entities e ON e.kind = ?1 AND e.erp_key = c.erp_key`, kind, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var changes []indexChange
	for rows.Next() {
		var (
			c         indexChange
			id        sql.NullString
			hash, raw sql.NullInt64
		)
		if err := rows.Scan(&c.key, &id, &hash, &raw); err != nil {
			return nil, err
		}
		c.ref, c.raw, c.gone = EntityRef{RemoteID: id.String, RowHash: uint64(hash.Int64)}, uint64(raw.Int64), !id.Valid
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(changes, func(a, b indexChange) int { return strings.Compare(a.key, b.key) })
	return changes, nil
}

// patchInPlace writes the new hashes of changes into body, the bytes of x, when every change is an entity x
// holds under the same remote id (a delta of updates: the entries keep their size). It changes nothing and
// returns false otherwise. x reads body through a string that is not yet in use: only the hash words change,
// and no string x hands out (keys, ids) covers them.
func patchInPlace(x *EntityIndex, body []byte, changes []indexChange, at []changeAt) bool {
	for j, c := range changes {
		if !at[j].found || c.gone || x.Ref(at[j].i).RemoteID != c.ref.RemoteID {
			return false
		}
	}
	for j, c := range changes {
		_, pos := x.field(int(x.offs[at[j].i]))
		_, pos = x.field(pos)
		binary.LittleEndian.PutUint64(body[pos:], c.ref.RowHash)
		binary.LittleEndian.PutUint64(body[pos+8:], c.raw)
	}
	return true
}

// mergeInto writes the blob of x with changes applied to the front of buf, whose end holds the blob of x
// (after at least mergeHeadroom(changes) bytes), and returns it. Entries between two changes are moved as they
// are. Writing never overtakes reading: the blob written so far is at most the old blob read so far plus the
// new entries, and those fit in the headroom; at, where each change falls in x, was found before any write.
func mergeInto(buf []byte, x *EntityIndex, changes []indexChange, at []changeAt) []byte {
	start := func(i int) int {
		if i < len(x.offs) {
			return int(x.offs[i])
		}
		return len(x.data)
	}
	n := len(x.offs)
	for j, c := range changes {
		switch {
		case at[j].found && c.gone:
			n--
		case !at[j].found && !c.gone:
			n++
		}
	}
	body := buf[len(buf)-len(x.data):] // the bytes x.data reads, as a slice the copies can move
	b := binary.AppendUvarint(buf[:0], uint64(n))
	next := 0 // the first entry of x not yet moved or replaced
	for j, c := range changes {
		b = append(b, body[start(next):start(at[j].i)]...)
		next = at[j].i
		if at[j].found {
			next++
		}
		if !c.gone {
			b = appendIndexEntry(b, c.key, c.ref, c.raw)
		}
	}
	return append(b, body[start(next):]...)
}

// indexPartSize is the size of the parts the index cache is stored in: small enough that SQLite's own copy of
// a part is no burden, large enough that a million entities take a handful of rows.
const indexPartSize = 4 << 20

// The index blob: a uvarint count, then per entity in key order: the key, the remote id (empty when it equals
// the key) as uvarint-length-prefixed bytes, and the row and raw hashes as 8-byte little-endian words.
func appendIndexEntry(b []byte, key string, ref EntityRef, raw uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	id := ref.RemoteID
	if id == key {
		id = ""
	}
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.LittleEndian.AppendUint64(b, ref.RowHash)
	return binary.LittleEndian.AppendUint64(b, raw)
}

var errBadIndex = errors.New("damaged entity index cache")

// decodeEntityIndex checks an index blob and indexes its entries. The index keeps data as its text without a
// copy, so data must not be changed afterwards.
func decodeEntityIndex(data []byte) (*EntityIndex, error) {
	offs, body, err := indexOffsets(data)
	if err != nil {
		return nil, err
	}
	return newEntityIndex(offs, body), nil
}

// newEntityIndex is the index over body, the entries of a checked blob, without a copy.
func newEntityIndex(offs []uint32, body []byte) *EntityIndex {
	x := &EntityIndex{offs: offs}
	if len(body) > 0 {
		x.data = unsafe.String(unsafe.SliceData(body), len(body))
	}
	return x
}

// indexOffsets checks an index blob (entries well formed and in strictly ascending key order) and returns where
// each entry starts in body, the blob after its count.
func indexOffsets(data []byte) (offs []uint32, body []byte, err error) {
	n, w := binary.Uvarint(data)
	if w <= 0 || n > uint64(len(data)) || uint64(len(data)) > math.MaxUint32 {
		return nil, nil, errBadIndex
	}
	b := data[w:]
	offs = make([]uint32, n)
	pos := 0
	field := func() ([]byte, bool) {
		l, w := binary.Uvarint(b[pos:])
		if w <= 0 || uint64(len(b)-pos-w) < l {
			return nil, false
		}
		v := b[pos+w : pos+w+int(l)]
		pos += w + int(l)
		return v, true
	}
	var prev []byte
	for i := range offs {
		offs[i] = uint32(pos)
		key, ok := field()
		if !ok {
			return nil, nil, errBadIndex
		}
		if _, ok := field(); !ok || len(b)-pos < 16 {
			return nil, nil, errBadIndex
		}
		pos += 16
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return nil, nil, errBadIndex
		}
		prev = key
	}
	if pos != len(b) {
		return nil, nil, errBadIndex
	}
	return offs, b, nil
}

// ScanRenamedEntities calls fn with the ERP key and platform id of every entity of kind whose platform id is
// set and is not its ERP key (an id template other than the key itself, an adopted customer), in no
// particular order. Where the id is the key, nothing needs looking up: that keeps joining a million exported
// records to their keys cheap. Platform ids are unique per kind, so each id comes at most once.
func (s *Store) ScanRenamedEntities(ctx context.Context, kind string, fn func(erpKey, remoteID string) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT erp_key, remote_id FROM entities
		WHERE kind = ? AND remote_id <> '' AND remote_id <> erp_key`, kind)
	if err != nil {
		return fmt.Errorf("scan renamed %s entities: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, id string
		if err := rows.Scan(&key, &id); err != nil {
			return fmt.Errorf("scan renamed %s entities: %w", kind, err)
		}
		if err := fn(key, id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan renamed %s entities: %w", kind, err)
	}
	return nil
}
