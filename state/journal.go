package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Action is what an op does on the platform.
type Action string

// Actions of planned ops.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

func (a Action) valid() bool { return a == ActionCreate || a == ActionUpdate || a == ActionDelete }

// OpStatus is the state of a journaled op.
type OpStatus string

// Op statuses. An op is planned until the committer records its outcome.
const (
	OpPlanned OpStatus = "planned"
	OpDone    OpStatus = "done"
	OpFailed  OpStatus = "failed"
	OpSkipped OpStatus = "skipped" // never sent: superseded by a later run, or deletes held back after failures
)

// DeletionReason says why an entity was deleted.
type DeletionReason string

// Deletion reasons, as stored in ops and the deletion log.
const (
	ReasonERPDeleted        DeletionReason = "erp-deleted"         // deletion flag or command column in the ERP file
	ReasonFullSnapshot      DeletionReason = "full-snapshot"       // key gone from a complete snapshot (--mode full)
	ReasonDeletedInPlatform DeletionReason = "deleted-in-platform" // removed on the platform outside custsync
)

func (r DeletionReason) valid() bool {
	return r == ReasonERPDeleted || r == ReasonFullSnapshot || r == ReasonDeletedInPlatform
}

// PlannedOp is one op of a plan, as the engine journals it before the first remote call.
type PlannedOp struct {
	Kind     string // entity kind, e.g. "customer", "address"
	ERPKey   string
	RemoteID string // the platform id the op writes to (deterministic or adopted)
	Action   Action
	NewHash  uint64          // the row hash the checkpoint gets once the op is done; 0 for deletes
	Reason   DeletionReason  // deletes only, required there
	Payload  json.RawMessage // optional: what to send, or a reference to it; stored as given
}

func (op PlannedOp) validate() error {
	if op.Kind == "" || op.ERPKey == "" {
		return errors.New("kind and ERP key are required")
	}
	if !op.Action.valid() {
		return fmt.Errorf("invalid action %q", op.Action)
	}
	if op.Action == ActionDelete && !op.Reason.valid() {
		return fmt.Errorf("delete of %s %q: invalid deletion reason %q", op.Kind, op.ERPKey, op.Reason)
	}
	if op.Action != ActionDelete && op.Reason != "" {
		return fmt.Errorf("%s of %s %q: a deletion reason is only for deletes", op.Action, op.Kind, op.ERPKey)
	}
	return nil
}

// Op is a journaled op with its progress.
type Op struct {
	RunID int64
	Seq   int64 // 1, 2, 3... in journal order within the run
	PlannedOp
	Status     OpStatus
	Attempts   int
	HTTPStatus int
	Error      string
	UpdatedAt  time.Time // zero while planned
}

// Journal sizes: rows per multi-row INSERT (fewer driver round trips) and rows per transaction (big enough to
// amortise the fsync of synchronous=FULL, small enough that the WAL and the writer's hold stay bounded).
const (
	journalRowsPerInsert = 64
	journalRowsPerTx     = 100_000
	journalColumns       = 8
)

// Journal writes the plan of a run in a few large transactions. It holds the writer connection between
// Add calls, so nothing else writes (Commit, heartbeats wait) until Close or Abort; journal the whole plan
// first, then apply. Not safe for concurrent use.
type Journal struct {
	store   *Store
	ctx     context.Context
	runID   int64
	nextSeq int64

	tx       *sql.Tx
	inTx     int
	bulk     *sql.Stmt // journalRowsPerInsert rows
	single   *sql.Stmt
	buffered []any
	closed   bool
}

// BeginJournal starts (or, for a run journaled before, continues) the journal of a run; seqs continue after
// the highest one already journaled. Always Close (marks the plan complete) or Abort it.
func (s *Store) BeginJournal(ctx context.Context, runID int64) (*Journal, error) {
	var maxSeq int64
	if err := s.writer.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM ops WHERE run_id = ?`, runID).
		Scan(&maxSeq); err != nil {
		return nil, fmt.Errorf("begin journal of run %d: %w", runID, err)
	}
	j := &Journal{store: s, ctx: ctx, runID: runID, nextSeq: maxSeq + 1,
		buffered: make([]any, 0, journalRowsPerInsert*journalColumns)}
	if err := j.begin(); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *Journal) begin() error {
	const insert = `INSERT INTO ops (run_id, seq, kind, erp_key, remote_id, action, new_hash, reason, payload) VALUES `
	tx, err := j.store.writer.BeginTx(j.ctx, nil)
	if err != nil {
		return writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
	}
	one := "(" + fmt.Sprint(j.runID) + ", ?, ?, ?, ?, ?, ?, ?, ?)"
	bulk, err := tx.PrepareContext(j.ctx, insert+strings.TrimSuffix(strings.Repeat(one+", ", journalRowsPerInsert), ", "))
	if err != nil {
		_ = tx.Rollback()
		return writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
	}
	single, err := tx.PrepareContext(j.ctx, insert+one)
	if err != nil {
		_ = tx.Rollback()
		return writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
	}
	j.tx, j.bulk, j.single, j.inTx = tx, bulk, single, 0
	return nil
}

// Add journals op and returns its seq, the key by which its Outcome is committed later.
func (j *Journal) Add(op PlannedOp) (int64, error) {
	if j.closed {
		return 0, errors.New("journal: Add after Close or Abort")
	}
	if err := op.validate(); err != nil {
		return 0, fmt.Errorf("journal run %d: %w", j.runID, err)
	}
	seq := j.nextSeq
	j.buffered = append(j.buffered, seq, op.Kind, op.ERPKey, op.RemoteID, string(op.Action), int64(op.NewHash),
		string(op.Reason), nullableJSON(op.Payload))
	if len(j.buffered) == cap(j.buffered) {
		if _, err := j.bulk.ExecContext(j.ctx, j.buffered...); err != nil {
			j.Abort()
			return 0, writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
		}
		j.buffered = j.buffered[:0]
		j.inTx += journalRowsPerInsert
		if j.inTx >= journalRowsPerTx {
			if err := j.tx.Commit(); err != nil {
				j.tx = nil
				j.Abort()
				return 0, writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
			}
			if err := j.begin(); err != nil {
				j.tx = nil
				j.Abort()
				return 0, err
			}
		}
	}
	j.nextSeq++
	return seq, nil
}

// Close writes what is buffered and marks the plan of the run complete; only a completely journaled run is
// offered for resuming.
func (j *Journal) Close() error {
	if j.closed {
		return errors.New("journal: Close after Close or Abort")
	}
	what := fmt.Sprintf("journal run %d", j.runID)
	for i := 0; i < len(j.buffered); i += journalColumns {
		if _, err := j.single.ExecContext(j.ctx, j.buffered[i:i+journalColumns]...); err != nil {
			j.Abort()
			return writeFailed(what, err)
		}
	}
	j.buffered = j.buffered[:0]
	if _, err := j.tx.ExecContext(j.ctx, `UPDATE runs SET journaled_at = ? WHERE id = ?`, formatTime(time.Now()), j.runID); err != nil {
		j.Abort()
		return writeFailed(what, err)
	}
	err := j.tx.Commit()
	j.tx = nil
	j.closed = true
	if err != nil {
		return writeFailed(what, err)
	}
	return nil
}

// Abort drops what was not yet committed and releases the writer. Ops committed in earlier transactions stay,
// but the run is not marked journaled, so they are never resumed. Abort after Close does nothing.
func (j *Journal) Abort() {
	if j.tx != nil {
		_ = j.tx.Rollback()
		j.tx = nil
	}
	j.closed = true
}

func nullableJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// ResumableRun returns the run whose planned ops the next run should resume: the most recent completely
// journaled run other than currentRunID (0 if none; dry runs with status planned aside), if it did not complete
// and still has planned ops. ok is false when there is nothing to resume.
func (s *Store) ResumableRun(ctx context.Context, currentRunID int64) (run Run, ok bool, err error) {
	run, err = scanRun(s.reader.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE journaled_at IS NOT NULL AND status <> 'planned' AND id <> ? ORDER BY id DESC LIMIT 1`, currentRunID))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("find resumable run: %w", err)
	}
	if run.Status == RunCompleted {
		return Run{}, false, nil
	}
	var pending int
	if err := s.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM ops WHERE run_id = ? AND status = 'planned')`,
		run.ID).Scan(&pending); err != nil {
		return Run{}, false, fmt.Errorf("find resumable run: %w", err)
	}
	if pending == 0 {
		return Run{}, false, nil
	}
	return run, true, nil
}

// OpFilter selects ops of a run; empty fields match everything.
type OpFilter struct {
	Kind   string
	Status OpStatus
}

// ScanOps calls fn for each op of the run that matches filter, in seq order, without holding them all in memory.
// An error from fn stops the scan and is returned.
func (s *Store) ScanOps(ctx context.Context, runID int64, filter OpFilter, fn func(Op) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT seq, kind, erp_key, remote_id, action, new_hash, reason, payload,
		status, attempts, http_status, error, updated_at FROM ops
		WHERE run_id = ?1 AND (?2 = '' OR kind = ?2) AND (?3 = '' OR status = ?3) ORDER BY seq`,
		runID, filter.Kind, string(filter.Status))
	if err != nil {
		return fmt.Errorf("read ops of run %d: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		op := Op{RunID: runID}
		var (
			hash             int64
			payload, updated sql.NullString
			action, status   string
			reason           string
		)
		if err := rows.Scan(&op.Seq, &op.Kind, &op.ERPKey, &op.RemoteID, &action, &hash, &reason, &payload,
			&status, &op.Attempts, &op.HTTPStatus, &op.Error, &updated); err != nil {
			return fmt.Errorf("read ops of run %d: %w", runID, err)
		}
		op.Action, op.Status, op.Reason, op.NewHash = Action(action), OpStatus(status), DeletionReason(reason), uint64(hash)
		if payload.Valid {
			op.Payload = json.RawMessage(payload.String)
		}
		if op.UpdatedAt, err = parseTime(updated); err != nil {
			return fmt.Errorf("read ops of run %d: %w", runID, err)
		}
		if err := fn(op); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ops of run %d: %w", runID, err)
	}
	return nil
}

// PendingOps returns the planned ops of a run in seq order, all kinds if kind is empty.
func (s *Store) PendingOps(ctx context.Context, runID int64, kind string) ([]Op, error) {
	var ops []Op
	err := s.ScanOps(ctx, runID, OpFilter{Kind: kind, Status: OpPlanned}, func(op Op) error {
		ops = append(ops, op)
		return nil
	})
	return ops, err
}

// OpCounts counts the ops of a run by status.
type OpCounts struct {
	Planned, Done, Failed, Skipped int64
}

// Total is the number of ops.
func (c OpCounts) Total() int64 { return c.Planned + c.Done + c.Failed + c.Skipped }

// CountOps counts the ops of a run by status.
func (s *Store) CountOps(ctx context.Context, runID int64) (OpCounts, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT status, COUNT(*) FROM ops WHERE run_id = ? GROUP BY status`, runID)
	if err != nil {
		return OpCounts{}, fmt.Errorf("count ops of run %d: %w", runID, err)
	}
	defer rows.Close()
	var c OpCounts
	for rows.Next() {
		var (
			status string
			n      int64
		)
		if err := rows.Scan(&status, &n); err != nil {
			return OpCounts{}, fmt.Errorf("count ops of run %d: %w", runID, err)
		}
		switch OpStatus(status) {
		case OpPlanned:
			c.Planned = n
		case OpDone:
			c.Done = n
		case OpFailed:
			c.Failed = n
		case OpSkipped:
			c.Skipped = n
		}
	}
	if err := rows.Err(); err != nil {
		return OpCounts{}, fmt.Errorf("count ops of run %d: %w", runID, err)
	}
	return c, nil
}

// SkipPendingOps marks every still-planned op of the run (of kind, or all kinds if empty) skipped with why as
// its error text, and returns how many. Use it for deletes held back after failures, and for the leftovers of
// an older run once a new run has taken them over.
func (s *Store) SkipPendingOps(ctx context.Context, runID int64, kind, why string) (int64, error) {
	var n int64
	err := s.writeTx(ctx, fmt.Sprintf("skip pending ops of run %d", runID), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ops SET status = 'skipped', error = ?1, updated_at = ?2
			WHERE run_id = ?3 AND status = 'planned' AND (?4 = '' OR kind = ?4)`, why, formatTime(time.Now()), runID, kind)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
