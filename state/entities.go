package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
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
	err := s.loadEntityRows(ctx, kind, keyRange{}, func(n int) { out = make(map[string]EntityRef, n) },
		func(key string, ref EntityRef, _ uint64) { out[key] = ref })
	return out, err
}

// loadEntityRows streams the planner's columns of every entity of kind: size is called first with the count.
//
// It reads through the driver directly rather than database/sql: on a million rows the per-row Scan
// conversions of database/sql cost about a third of the time (see BenchmarkLoadEntities1M).
func (s *Store) loadEntityRows(ctx context.Context, kind string, r keyRange, size func(int), add func(string, EntityRef, uint64)) error {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM entities WHERE kind = ?1 AND erp_key >= ?2 AND (?3 = '' OR erp_key < ?3)`,
		kind, r.from, r.to).Scan(&n); err != nil {
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
		rows, err := q.QueryContext(ctx, `SELECT erp_key, remote_id, row_hash, raw_hash FROM entities
			WHERE kind = ?1 AND erp_key >= ?2 AND (?3 = '' OR erp_key < ?3)`,
			[]driver.NamedValue{{Ordinal: 1, Value: kind}, {Ordinal: 2, Value: r.from}, {Ordinal: 3, Value: r.to}})
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
		rows, err := s.reader.QueryContext(ctx, `SELECT erp_key, payload FROM entity_snapshots
			WHERE kind = ? AND erp_key IN (`+placeholders(len(chunk))+`)`, args...)
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

// keyRange selects ERP keys from <= key < to; an empty to means no upper bound.
type keyRange struct{ from, to string }

// EntityIndex holds the checkpoint of one kind in memory for planning: a key -> position lookup over parallel
// slices, so the planner can keep per-entity marks in flat slices instead of further maps.
type EntityIndex struct {
	shards []indexShard
	Keys   []string
	Refs   []EntityRef
	// RawHashes are the hashes of the input cells each entity was last synced from (0: unknown).
	RawHashes []uint64
}

// indexShard maps the keys from its lower bound on (up to the next shard's) to positions.
type indexShard struct {
	from   string
	offset int
	pos    map[string]int32
}

// Lookup returns the position of key, if the checkpoint has it.
func (x *EntityIndex) Lookup(key string) (int, bool) {
	sh := &x.shards[0]
	for i := len(x.shards) - 1; i > 0; i-- {
		if key >= x.shards[i].from {
			sh = &x.shards[i]
			break
		}
	}
	i, ok := sh.pos[key]
	return sh.offset + int(i), ok
}

// Len is the number of entities.
func (x *EntityIndex) Len() int { return len(x.Keys) }

// indexShardMin is the size from which LoadEntityIndex splits the load over two connections: a large
// checkpoint then loads on two cores (the load is on the critical path of a no-op re-run).
const indexShardMin = 50_000

// LoadEntityIndex loads every entity of kind into an EntityIndex.
func (s *Store) LoadEntityIndex(ctx context.Context, kind string) (*EntityIndex, error) {
	ranges := []keyRange{{}}
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM entities WHERE kind = ?`, kind).Scan(&n); err != nil {
		return nil, fmt.Errorf("load %s entities: %w", kind, err)
	}
	if n >= indexShardMin {
		var mid string
		if err := s.reader.QueryRowContext(ctx, `SELECT erp_key FROM entities WHERE kind = ? ORDER BY erp_key LIMIT 1 OFFSET ?`,
			kind, n/2).Scan(&mid); err != nil {
			return nil, fmt.Errorf("load %s entities: %w", kind, err)
		}
		ranges = []keyRange{{to: mid}, {from: mid}}
	}
	type part struct {
		pos  map[string]int32
		keys []string
		refs []EntityRef
		raws []uint64
		err  error
	}
	parts := make([]part, len(ranges))
	var wg sync.WaitGroup
	for i, r := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[i]
			p.err = s.loadEntityRows(ctx, kind, r, func(n int) {
				p.pos, p.keys, p.refs, p.raws = make(map[string]int32, n), make([]string, 0, n), make([]EntityRef, 0, n), make([]uint64, 0, n)
			}, func(key string, ref EntityRef, raw uint64) {
				if ref.RemoteID == key {
					ref.RemoteID = key // share the key's bytes: most ids are the ERP key itself
				}
				p.pos[key] = int32(len(p.keys))
				p.keys = append(p.keys, key)
				p.refs = append(p.refs, ref)
				p.raws = append(p.raws, raw)
			})
		}()
	}
	wg.Wait()
	x := &EntityIndex{}
	for i, p := range parts {
		if p.err != nil {
			return nil, p.err
		}
		x.shards = append(x.shards, indexShard{from: ranges[i].from, offset: len(x.Keys), pos: p.pos})
		if i == 0 {
			x.Keys, x.Refs, x.RawHashes = p.keys, p.refs, p.raws
			continue
		}
		x.Keys = append(x.Keys, p.keys...)
		x.Refs = append(x.Refs, p.refs...)
		x.RawHashes = append(x.RawHashes, p.raws...)
	}
	return x, nil
}
