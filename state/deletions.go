package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// DeletionEntry is one entry of the deletion log.
type DeletionEntry struct {
	ID        int64 // assigned by the log
	Kind      string
	ERPKey    string
	RemoteID  string
	PreImage  json.RawMessage // the remote record before deletion; nil if unknown
	Reason    DeletionReason
	RunID     int64 // 0 if outside a run
	CreatedAt time.Time
	AckedAt   time.Time // zero until the ERP acknowledged it
}

const insertDeletionSQL = `INSERT INTO deletions (kind, erp_key, remote_id, pre_image, reason, run_id, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?)`

func insertDeletion(ctx context.Context, tx *sql.Tx, e DeletionEntry, now string) (int64, error) {
	var run any
	if e.RunID != 0 {
		run = e.RunID
	}
	res, err := tx.ExecContext(ctx, insertDeletionSQL, e.Kind, e.ERPKey, e.RemoteID, nullableJSON(e.PreImage),
		string(e.Reason), run, now)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// LogDeletion appends an entry to the deletion log without touching the checkpoint (use DeleteEntity or a
// delete Outcome to remove the entity too). Returns the entry id.
func (s *Store) LogDeletion(ctx context.Context, e DeletionEntry) (int64, error) {
	if e.Kind == "" || e.ERPKey == "" || !e.Reason.valid() {
		return 0, fmt.Errorf("log deletion %s %q: kind, ERP key and a valid reason are required", e.Kind, e.ERPKey)
	}
	var id int64
	err := s.writeTx(ctx, "log deletion", func(tx *sql.Tx) error {
		var err error
		id, err = insertDeletion(ctx, tx, e, formatTime(time.Now()))
		return err
	})
	return id, err
}

// DeletionFilter selects log entries; empty fields match everything.
type DeletionFilter struct {
	Kind         string
	IncludeAcked bool  // also entries the ERP already acknowledged
	RunID        int64 // only the deletions of this run
}

// ScanDeletions calls fn for each matching log entry, oldest first.
func (s *Store) ScanDeletions(ctx context.Context, filter DeletionFilter, fn func(DeletionEntry) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, kind, erp_key, remote_id, pre_image, reason, run_id, created_at, acked_at
		FROM deletions WHERE (?1 = '' OR kind = ?1) AND (?2 = 1 OR acked_at IS NULL) AND (?3 = 0 OR run_id = ?3) ORDER BY id`,
		filter.Kind, boolInt(filter.IncludeAcked), filter.RunID)
	if err != nil {
		return fmt.Errorf("read deletion log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e              DeletionEntry
			preImage       sql.NullString
			reason         string
			run            sql.NullInt64
			created, acked sql.NullString
		)
		if err := rows.Scan(&e.ID, &e.Kind, &e.ERPKey, &e.RemoteID, &preImage, &reason, &run, &created, &acked); err != nil {
			return fmt.Errorf("read deletion log: %w", err)
		}
		e.Reason, e.RunID = DeletionReason(reason), run.Int64
		if preImage.Valid {
			e.PreImage = json.RawMessage(preImage.String)
		}
		if e.CreatedAt, err = parseTime(created); err != nil {
			return fmt.Errorf("read deletion log: %w", err)
		}
		if e.AckedAt, err = parseTime(acked); err != nil {
			return fmt.Errorf("read deletion log: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read deletion log: %w", err)
	}
	return nil
}

// ListDeletions returns the matching log entries, oldest first.
func (s *Store) ListDeletions(ctx context.Context, filter DeletionFilter) ([]DeletionEntry, error) {
	var out []DeletionEntry
	err := s.ScanDeletions(ctx, filter, func(e DeletionEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// AckDeletions marks the unacknowledged entries of the given keys acknowledged (the ERP processed them) and
// returns how many. Entries stay in the log with their ack time. Mappings are not touched: drop them with
// DeleteMappings where the ERP's ack means that too.
func (s *Store) AckDeletions(ctx context.Context, keys []EntityKey) (int64, error) {
	now := formatTime(time.Now())
	var total int64
	err := s.writeTx(ctx, "acknowledge deletions", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE deletions SET acked_at = ? WHERE kind = ? AND erp_key = ? AND acked_at IS NULL`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, k := range keys {
			res, err := stmt.ExecContext(ctx, now, k.Kind, k.ERPKey)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}

// AckAllDeletions acknowledges every unacknowledged entry and returns how many.
func (s *Store) AckAllDeletions(ctx context.Context) (int64, error) {
	var n int64
	err := s.writeTx(ctx, "acknowledge all deletions", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deletions SET acked_at = ? WHERE acked_at IS NULL`, formatTime(time.Now()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// CountUnackedDeletions counts log entries the ERP has not acknowledged yet.
func (s *Store) CountUnackedDeletions(ctx context.Context) (int64, error) {
	var n int64
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM deletions WHERE acked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deletions: %w", err)
	}
	return n, nil
}
