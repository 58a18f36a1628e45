package state

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	ReasonRestore           DeletionReason = "restore"             // created by a run that custsync restore put back
)

func (r DeletionReason) valid() bool {
	return r == ReasonERPDeleted || r == ReasonFullSnapshot || r == ReasonDeletedInPlatform || r == ReasonRestore
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
	// Record is the engine's own compact encoding of what it needs to apply the op later (opaque to the state
	// package); stored as given, so a plan larger than memory is applied from the journal.
	Record []byte
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
	// PreImage is, for a delete, the record as read just before its DELETE was sent (SavePreImages); nil if the
	// DELETE was never sent.
	PreImage json.RawMessage
	// RemovedAlong is, for a delete, the checkpoint rows of other kinds its commit removed because the platform
	// deleted them with the record (Outcome.Dependents).
	RemovedAlong []RemovedRow
}

// Journal sizes: rows per multi-row INSERT (fewer driver round trips) and rows per transaction (big enough to
// amortise the fsync of synchronous=FULL, small enough that the WAL and the writer's hold stay bounded).
const (
	journalRowsPerInsert = 64
	journalRowsPerTx     = 100_000
	// maxJournalShapes bounds the statements a journal prepares per transaction; ops of further shapes bind
	// every column.
	maxJournalShapes = 16
)

// PhaseBits is the number of low bits of a seq that count ops within a phase (see Journal.AddIn): the seq of
// an op is its phase << PhaseBits | its number within the phase, so reading a run's ops in seq order reads
// them phase by phase, whatever order they were journaled in.
const PhaseBits = 40

// PhaseOf returns the phase of a seq.
func PhaseOf(seq int64) int { return int(seq >> PhaseBits) }

// MaxPhase is the highest phase AddIn accepts.
const MaxPhase = 1<<(63-PhaseBits) - 1

// Journal writes the plan of a run in a few large transactions. Between Add calls it holds the writer
// connection while a transaction is open (nothing else writes until Flush, Close or Abort); it opens the
// transaction at the first Add, so a journal may be begun before other writes of the same goroutine. Not safe
// for concurrent use.
type Journal struct {
	store *Store
	ctx   context.Context
	runID int64
	// next is the next seq of each phase used so far.
	next map[int]int64

	tx   *sql.Tx
	inTx int
	// batches buffer the rows of each shape until a multi-row insert is full; their statements belong to the
	// open transaction.
	batches map[journalShape]*journalBatch
	closed  bool
}

// journalShape is what the ops of one multi-row insert have in common. Most ops of a plan share their kind,
// action and reason and carry no payload (the engine's record holds what applying needs): their statement has
// those as literals, so a row binds 5 values instead of 9 (each text value is copied into C memory, each value
// converted by database/sql): 22% fewer instructions for a plan of creates. Ops with a payload, or of a shape
// beyond maxJournalShapes, bind every column (shape generic).
type journalShape struct {
	generic bool
	kind    string
	action  Action
	reason  DeletionReason
}

// journalBatch is the rows of one shape waiting for their insert, and its statements in the open transaction.
type journalBatch struct {
	bulk, single *sql.Stmt // journalRowsPerInsert rows; one row
	columns      int
	args         []any
}

// BeginJournal starts (or, for a run journaled before, continues) the journal of a run; seqs continue after
// the highest one already journaled in each phase. Always Close (marks the plan complete) or Abort it.
func (s *Store) BeginJournal(ctx context.Context, runID int64) (*Journal, error) {
	return &Journal{store: s, ctx: ctx, runID: runID, next: map[int]int64{}, batches: map[journalShape]*journalBatch{}}, nil
}

func (j *Journal) begin() error {
	tx, err := j.store.writer.BeginTx(j.ctx, nil)
	if err != nil {
		return writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
	}
	j.tx, j.inTx = tx, 0
	clear(j.batches) // their statements ended with the previous transaction
	return nil
}

// shapeOf returns the shape op is inserted with.
func (j *Journal) shapeOf(op *PlannedOp) journalShape {
	shape := journalShape{kind: op.Kind, action: op.Action, reason: op.Reason}
	if len(op.Payload) > 0 {
		return journalShape{generic: true}
	}
	if _, ok := j.batches[shape]; !ok && len(j.batches) >= maxJournalShapes {
		return journalShape{generic: true}
	}
	return shape
}

// batch returns the batch of a shape, preparing its statements in the open transaction the first time.
func (j *Journal) batch(shape journalShape) (*journalBatch, error) {
	if b, ok := j.batches[shape]; ok {
		return b, nil
	}
	insert := `INSERT INTO ops (run_id, seq, kind, erp_key, remote_id, action, new_hash, reason, payload, record) VALUES `
	one := "(" + strconv.FormatInt(j.runID, 10) + ", ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	columns := 9
	if !shape.generic {
		insert = `INSERT INTO ops (run_id, seq, kind, erp_key, remote_id, action, new_hash, reason, record) VALUES `
		one = "(" + strconv.FormatInt(j.runID, 10) + ", ?, " + sqlText(shape.kind) + ", ?, ?, " + sqlText(string(shape.action)) +
			", ?, " + sqlText(string(shape.reason)) + ", ?)"
		columns = 5
	}
	bulk, err := j.tx.PrepareContext(j.ctx, insert+repeatTuple(one, journalRowsPerInsert))
	if err != nil {
		return nil, err
	}
	single, err := j.tx.PrepareContext(j.ctx, insert+one)
	if err != nil {
		return nil, err
	}
	b := &journalBatch{bulk: bulk, single: single, columns: columns, args: make([]any, 0, journalRowsPerInsert*columns)}
	j.batches[shape] = b
	return b, nil
}

// sqlText is s as an SQL string literal.
func sqlText(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// nextSeq returns the next seq of a phase, continuing after what an earlier journal of the run wrote there.
func (j *Journal) nextSeq(phase int) (int64, error) {
	if n, ok := j.next[phase]; ok {
		return n, nil
	}
	base := int64(phase) << PhaseBits
	var q queryer = j.store.writer
	if j.tx != nil {
		q = j.tx // the writer's only connection is in the open transaction
	}
	var maxSeq int64
	if err := q.QueryRowContext(j.ctx, `SELECT COALESCE(MAX(seq), ?1) FROM ops
		WHERE run_id = ?2 AND seq >= ?1 AND seq < ?3`, base, j.runID, base+1<<PhaseBits).Scan(&maxSeq); err != nil {
		return 0, fmt.Errorf("begin journal of run %d: %w", j.runID, err)
	}
	return maxSeq + 1, nil
}

// Add journals op in phase 0 and returns its seq, the key by which its Outcome is committed later.
func (j *Journal) Add(op PlannedOp) (int64, error) { return j.AddIn(0, op) }

// AddIn journals op in a phase (0..MaxPhase) and returns its seq: ops of a lower phase come first in seq
// order, ops of one phase in the order they were added.
func (j *Journal) AddIn(phase int, op PlannedOp) (int64, error) {
	if j.closed {
		return 0, errors.New("journal: Add after Close or Abort")
	}
	if phase < 0 || phase > MaxPhase {
		return 0, fmt.Errorf("journal run %d: phase %d out of range", j.runID, phase)
	}
	if err := op.validate(); err != nil {
		return 0, fmt.Errorf("journal run %d: %w", j.runID, err)
	}
	seq, err := j.nextSeq(phase)
	if err != nil {
		j.Abort()
		return 0, err
	}
	if j.tx == nil {
		if err := j.begin(); err != nil {
			j.Abort()
			return 0, err
		}
	}
	shape := j.shapeOf(&op)
	b, err := j.batch(shape)
	if err != nil {
		j.Abort()
		return 0, writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
	}
	var record any
	if op.Record != nil {
		record = bytes.Clone(op.Record) // buffered until the next multi-row insert: the caller may reuse its slice
	}
	if shape.generic {
		b.args = append(b.args, seq, op.Kind, op.ERPKey, op.RemoteID, string(op.Action), int64(op.NewHash),
			string(op.Reason), nullableJSON(op.Payload), record)
	} else {
		b.args = append(b.args, seq, op.ERPKey, op.RemoteID, int64(op.NewHash), record)
	}
	if len(b.args) == cap(b.args) {
		if _, err := b.bulk.ExecContext(j.ctx, b.args...); err != nil {
			j.Abort()
			return 0, writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
		}
		b.args = b.args[:0]
		j.inTx += journalRowsPerInsert
		if j.inTx >= journalRowsPerTx {
			if err := j.commit(); err != nil {
				return 0, err
			}
		}
	}
	j.next[phase] = seq + 1
	return seq, nil
}

// writeBuffered inserts the rows not yet written.
func (j *Journal) writeBuffered() error {
	for _, b := range j.batches {
		for i := 0; i < len(b.args); i += b.columns {
			if _, err := b.single.ExecContext(j.ctx, b.args[i:i+b.columns]...); err != nil {
				return err
			}
		}
		b.args = b.args[:0]
	}
	return nil
}

// commit writes what is buffered and commits the open transaction, if any.
func (j *Journal) commit() error {
	if j.tx == nil {
		return nil
	}
	err := j.writeBuffered()
	if err == nil {
		err = j.tx.Commit()
	}
	j.tx = nil
	if err != nil {
		j.Abort()
		return writeFailed(fmt.Sprintf("journal run %d", j.runID), err)
	}
	return nil
}

// Flush commits what was added so far, so that readers see it and other writers may write; later Adds open a
// new transaction. The plan is not marked complete (see Close).
func (j *Journal) Flush() error {
	if j.closed {
		return errors.New("journal: Flush after Close or Abort")
	}
	return j.commit()
}

// Close writes what is buffered and marks the plan of the run complete; only a completely journaled run is
// offered for resuming.
func (j *Journal) Close() error {
	if j.closed {
		return errors.New("journal: Close after Close or Abort")
	}
	what := fmt.Sprintf("journal run %d", j.runID)
	if j.tx == nil {
		if err := j.begin(); err != nil {
			j.Abort()
			return err
		}
	}
	if err := j.writeBuffered(); err != nil {
		j.Abort()
		return writeFailed(what, err)
	}
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
	// PreImaged keeps only the deletes whose pre-image was journaled (SavePreImages): their DELETE was sent.
	PreImaged bool
}

// ScanOps calls fn for each op of the run that matches filter, in seq order, without holding them all in memory.
// An error from fn stops the scan and is returned.
func (s *Store) ScanOps(ctx context.Context, runID int64, filter OpFilter, fn func(Op) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT seq, kind, erp_key, remote_id, action, new_hash, reason, payload,
		status, attempts, http_status, error, updated_at, record, pre_image, removed_along FROM ops
		WHERE run_id = ?1 AND (?2 = '' OR kind = ?2) AND (?3 = '' OR status = ?3) AND (?4 = 0 OR pre_image IS NOT NULL)
		ORDER BY seq`,
		runID, filter.Kind, string(filter.Status), filter.PreImaged)
	if err != nil {
		return fmt.Errorf("read ops of run %d: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		op := Op{RunID: runID}
		var (
			hash             int64
			payload, updated sql.NullString
			preImage, along  sql.NullString
			action, status   string
			reason           string
		)
		if err := rows.Scan(&op.Seq, &op.Kind, &op.ERPKey, &op.RemoteID, &action, &hash, &reason, &payload,
			&status, &op.Attempts, &op.HTTPStatus, &op.Error, &updated, &op.Record, &preImage, &along); err != nil {
			return fmt.Errorf("read ops of run %d: %w", runID, err)
		}
		if along.Valid {
			if err := json.Unmarshal([]byte(along.String), &op.RemovedAlong); err != nil {
				return fmt.Errorf("read ops of run %d: the rows op %d removed along: %w", runID, op.Seq, err)
			}
		}
		op.Action, op.Status, op.Reason, op.NewHash = Action(action), OpStatus(status), DeletionReason(reason), uint64(hash)
		if payload.Valid {
			op.Payload = json.RawMessage(payload.String)
		}
		if preImage.Valid {
			op.PreImage = json.RawMessage(preImage.String)
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

// PlannedPage returns up to limit planned ops of a run with seq > after, in seq order, with their records.
// Each call is a short read, so a run applied page by page never holds a read transaction open for long (a
// long one would keep the WAL from being checkpointed while the committer writes).
func (s *Store) PlannedPage(ctx context.Context, runID, after int64, limit int) ([]Op, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT seq, kind, erp_key, remote_id, action, new_hash, reason, record
		FROM ops WHERE run_id = ? AND seq > ? AND status = 'planned' ORDER BY seq LIMIT ?`, runID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read planned ops of run %d: %w", runID, err)
	}
	defer rows.Close()
	var ops []Op
	for rows.Next() {
		op := Op{RunID: runID, Status: OpPlanned}
		var (
			hash           int64
			action, reason string
		)
		if err := rows.Scan(&op.Seq, &op.Kind, &op.ERPKey, &op.RemoteID, &action, &hash, &reason, &op.Record); err != nil {
			return nil, fmt.Errorf("read planned ops of run %d: %w", runID, err)
		}
		op.Action, op.Reason, op.NewHash = Action(action), DeletionReason(reason), uint64(hash)
		ops = append(ops, op)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read planned ops of run %d: %w", runID, err)
	}
	return ops, nil
}

// OpMove gives a journaled op another seq (see Journal.AddIn for what a seq orders).
type OpMove struct{ From, To int64 }

// MoveOps renumbers planned ops of a run in one transaction, e.g. to put ops into phases once the planner
// knows their order. A target seq must be free.
func (s *Store) MoveOps(ctx context.Context, runID int64, moves []OpMove) error {
	if len(moves) == 0 {
		return nil
	}
	return s.writeTx(ctx, fmt.Sprintf("order ops of run %d", runID), func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE ops SET seq = ? WHERE run_id = ? AND seq = ? AND status = 'planned'`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range moves {
			if err := mustAffect(stmt.ExecContext(ctx, m.To, runID, m.From)); err != nil {
				return fmt.Errorf("move op %d to %d: %w", m.From, m.To, err)
			}
		}
		return nil
	})
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
	err := s.writeTx(ctx, fmt.Sprintf("skip pending ops of run %d", runID), func(tx *sql.Tx) (err error) {
		n, err = skipPendingOps(ctx, tx, runID, kind, why)
		return err
	})
	return n, err
}

func skipPendingOps(ctx context.Context, tx *sql.Tx, runID int64, kind, why string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE ops SET status = 'skipped', error = ?1, updated_at = ?2
		WHERE run_id = ?3 AND status = 'planned' AND (?4 = '' OR kind = ?4)`, why, formatTime(time.Now()), runID, kind)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TakeOverRun closes the still-planned ops of the interrupted run prev as skipped, taken over by run, and
// records in run's history row that it resumed prev, in one transaction: `restore --run last` follows that link
// to put back the interrupted run with the run that finished it. It returns the number of ops taken over.
func (s *Store) TakeOverRun(ctx context.Context, run, prev int64) (int64, error) {
	var n int64
	err := s.writeTx(ctx, fmt.Sprintf("take over the pending ops of run %d", prev), func(tx *sql.Tx) (err error) {
		if n, err = skipPendingOps(ctx, tx, prev, "", fmt.Sprintf("taken over by run %d", run)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET resumed_run = ? WHERE id = ?`, prev, run)
		return err
	})
	return n, err
}

// PreImage is the record a delete op of the journal is about to delete, as read just before.
type PreImage struct {
	Seq   int64
	Image json.RawMessage
}

// SavePreImages journals the pre-images of delete ops of the run, durably and in one transaction, before their
// DELETEs are sent: if an outcome is never recorded (the process killed, the answer lost), the run that takes
// the op over finds the record gone and logs the deletion with this pre-image under the run that sent it.
func (s *Store) SavePreImages(ctx context.Context, runID int64, images []PreImage) error {
	if len(images) == 0 {
		return nil
	}
	return s.writeTx(ctx, fmt.Sprintf("journal the pre-images of %d deletes of run %d", len(images), runID), func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE ops SET pre_image = ? WHERE run_id = ? AND seq = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, im := range images {
			if _, err := stmt.ExecContext(ctx, string(im.Image), runID, im.Seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropOps deletes every op journaled for the run, for a run whose plan is made again before anything of it
// was applied; a journal begun afterwards starts each phase afresh.
func (s *Store) DropOps(ctx context.Context, runID int64) error {
	return s.writeTx(ctx, fmt.Sprintf("drop the plan of run %d", runID), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM ops WHERE run_id = ?`, runID)
		return err
	})
}
