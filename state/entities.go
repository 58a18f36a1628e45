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
	err := s.loadEntityRows(ctx, kind, "", func(n int) { out = make(map[string]EntityRef, n) },
		func(key string, ref EntityRef, _ uint64) { out[key] = ref })
	return out, err
}

// loadEntityRows streams the planner's columns of every entity of kind (through the driver, see queryRaw): size
// is called first with the count.
func (s *Store) loadEntityRows(ctx context.Context, kind, order string, size func(int), add func(string, EntityRef, uint64)) error {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM entities WHERE kind = ?`, kind).Scan(&n); err != nil {
		return fmt.Errorf("load %s entities: %w", kind, err)
	}
	size(n)
	err := s.queryRaw(ctx, `SELECT erp_key, remote_id, row_hash, raw_hash FROM entities WHERE kind = ?`+order, kind, 4,
		func(dest []driver.Value) (bool, error) {
			key, keyOK := dest[0].(string)
			remoteID, idOK := dest[1].(string)
			hash, hashOK := dest[2].(int64)
			raw, rawOK := dest[3].(int64)
			if !keyOK || !idOK || !hashOK || !rawOK {
				return false, fmt.Errorf("unexpected column types %T, %T, %T, %T", dest[0], dest[1], dest[2], dest[3])
			}
			add(key, EntityRef{RemoteID: remoteID, RowHash: uint64(hash)}, uint64(raw))
			return true, nil
		})
	if err != nil {
		return fmt.Errorf("load %s entities: %w", kind, err)
	}
	return nil
}

// queryRaw runs query, whose one argument is arg, on a reader connection through the driver directly, and hands
// each row's cols values to row (valid only during the call) until the rows end, row returns false or an
// error. database/sql would convert every value once more (about a third of the time on a million rows, see
// BenchmarkLoadEntities1M) and copy every blob.
func (s *Store) queryRaw(ctx context.Context, query string, arg any, cols int, row func(dest []driver.Value) (bool, error)) error {
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("the sqlite driver cannot query a raw connection")
		}
		rows, err := q.QueryContext(ctx, query, []driver.NamedValue{{Ordinal: 1, Value: arg}})
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, cols)
		for {
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if more, err := row(dest); err != nil || !more {
				return err
			}
		}
	})
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
