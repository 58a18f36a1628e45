package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RunStatus is the state of a run.
type RunStatus string

// Run statuses. A run starts as running; FinishRun sets one of the others.
const (
	RunPlanned     RunStatus = "planned"     // the plan was made but not applied (a dry run)
	RunRunning     RunStatus = "running"     // in progress, or crashed if no process holds the lock
	RunCompleted   RunStatus = "completed"   // every op was attempted; failed rows are in its stats and ops
	RunFailed      RunStatus = "failed"      // stopped by a run-fatal error (auth, state write, guard...)
	RunInterrupted RunStatus = "interrupted" // stopped by a signal or --max-duration; the next run resumes
)

func (s RunStatus) valid() bool {
	switch s {
	case RunPlanned, RunRunning, RunCompleted, RunFailed, RunInterrupted:
		return true
	}
	return false
}

// Run is one row of the run history.
type Run struct {
	ID          int64
	Kind        string          // "import", "export", "check", ...
	Args        json.RawMessage // as given to BeginRun
	Status      RunStatus
	StartedAt   time.Time
	FinishedAt  time.Time       // zero while running
	JournaledAt time.Time       // zero until the whole plan was journaled (Journal.Close)
	Stats       json.RawMessage // as given to FinishRun; nil before
	// JournalPrunedAt is when the run's journal (ops and update images) was removed under the retention
	// (Store.PruneJournals); zero while the run keeps it. The run's row, its stats and its deletion log entries
	// stay.
	JournalPrunedAt time.Time
	// ResumedRun is the interrupted run whose pending ops this run took over (Store.TakeOverRun); 0 if none.
	ResumedRun int64
}

// JournalPruned reports whether the run's journal was removed under the retention.
func (r Run) JournalPruned() bool { return !r.JournalPrunedAt.IsZero() }

// BeginRun records a new run with status running and returns its id. args is stored as JSON for `state runs`;
// it must not contain secrets. The caller must hold the lock: any run still marked running (its process died)
// is marked interrupted, since only one run can be live.
func (s *Store) BeginRun(ctx context.Context, kind string, args any) (int64, error) {
	if kind == "" {
		return 0, errors.New("begin run: kind is empty")
	}
	argsJSON, err := json.Marshal(args)
	if err != nil {
		return 0, fmt.Errorf("begin run: encode args: %w", err)
	}
	var id int64
	err = s.writeTx(ctx, "begin run", func(tx *sql.Tx) error {
		now := formatTime(time.Now())
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'interrupted', finished_at = ?
			WHERE status = 'running'`, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (kind, args, status, started_at) VALUES (?, ?, 'running', ?)`,
			kind, string(argsJSON), now)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

// FinishRun sets the final status and stats (stored as JSON) of a run.
func (s *Store) FinishRun(ctx context.Context, id int64, status RunStatus, stats any) error {
	if !status.valid() || status == RunRunning {
		return fmt.Errorf("finish run %d: invalid final status %q", id, status)
	}
	statsJSON, err := json.Marshal(stats)
	if err != nil {
		return fmt.Errorf("finish run %d: encode stats: %w", id, err)
	}
	return s.writeTx(ctx, fmt.Sprintf("finish run %d", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, finished_at = ?, stats = ? WHERE id = ?`,
			string(status), formatTime(time.Now()), string(statsJSON), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("no run %d", id)
		}
		return nil
	})
}

const runColumns = `id, kind, args, status, started_at, finished_at, journaled_at, stats, journal_pruned_at, resumed_run`

func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var (
		r                                    Run
		args, stats                          sql.NullString
		started, finished, journaled, pruned sql.NullString
		status                               string
		resumed                              sql.NullInt64
	)
	if err := row.Scan(&r.ID, &r.Kind, &args, &status, &started, &finished, &journaled, &stats, &pruned, &resumed); err != nil {
		return Run{}, err
	}
	r.Status = RunStatus(status)
	r.ResumedRun = resumed.Int64
	if args.Valid {
		r.Args = json.RawMessage(args.String)
	}
	if stats.Valid {
		r.Stats = json.RawMessage(stats.String)
	}
	var err error
	if r.StartedAt, err = parseTime(started); err != nil {
		return Run{}, err
	}
	if r.FinishedAt, err = parseTime(finished); err != nil {
		return Run{}, err
	}
	if r.JournaledAt, err = parseTime(journaled); err != nil {
		return Run{}, err
	}
	if r.JournalPrunedAt, err = parseTime(pruned); err != nil {
		return Run{}, err
	}
	return r, nil
}

// GetRun returns one run; ok is false if there is none with that id.
func (s *Store) GetRun(ctx context.Context, id int64) (run Run, ok bool, err error) {
	run, err = scanRun(s.reader.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("read run %d: %w", id, err)
	}
	return run, true, nil
}

// ListRuns returns the most recent runs first; limit <= 0 means all.
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+runColumns+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}
