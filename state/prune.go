package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The journal of a run (its ops and update images) is what a resume and a restore read; a nightly import of a
// large tenant adds a million rows of it per full run, so the journals of finished runs are pruned after a
// retention. What the retention never touches: the journal of a run a resume may still need (see
// PruneJournals), the run history rows, the checkpoint, the SD mappings and the deletion log (with its
// pre-images: `deletions export` and the ERP team's audit trail).

// DefaultJournalKeepRuns is how many of the most recent journals the retention keeps unless told otherwise.
const DefaultJournalKeepRuns = 30

// pruneBatch is how many journal rows one transaction of a prune removes: large enough to amortise the fsync of
// synchronous=FULL, small enough that the WAL stays a few MB and the writer is free again soon.
const pruneBatch = 20_000

// JournalRetention says which journals a prune keeps: those of the KeepRuns most recent runs that have one,
// and also those of runs started within KeepFor. A journal a resume may need is kept whatever its age.
type JournalRetention struct {
	// KeepRuns is at least 1: the most recent journal is what `restore --run last` reads.
	KeepRuns int
	// KeepFor keeps the journals of the runs started within this long as well; 0 adds no age rule.
	KeepFor time.Duration
}

func (r JournalRetention) validate() error {
	if r.KeepRuns < 1 {
		return fmt.Errorf("journal retention: keep at least 1 run's journal, not %d", r.KeepRuns)
	}
	if r.KeepFor < 0 {
		return fmt.Errorf("journal retention: a negative age %s", r.KeepFor)
	}
	return nil
}

// JournalOf is a run whose journal a prune removed (or, in a dry run, would remove), with its rows.
type JournalOf struct {
	RunID     int64
	Kind      string
	Status    RunStatus
	StartedAt time.Time
	// Ops and UpdateImages count the rows removed.
	Ops, UpdateImages int64
}

// KeptJournal is a run beyond the retention whose journal a prune keeps, and why.
type KeptJournal struct {
	RunID     int64
	Kind      string
	Status    RunStatus
	StartedAt time.Time
	Why       string
}

// PruneResult is what a prune removed (or, in a dry run, would remove) and kept.
type PruneResult struct {
	// Pruned are the runs whose journal went, oldest first.
	Pruned []JournalOf
	// Unfinished are the runs beyond the retention whose journal stays because a resume may need it.
	Unfinished []KeptJournal
	// Retained counts the journals the retention keeps.
	Retained int
	// Ops and UpdateImages count the rows of every pruned journal.
	Ops, UpdateImages int64
}

// journalOwner is a run that has journal rows, as a prune judges it.
type journalOwner struct {
	JournalOf
	journaled, pruned bool
}

// PruneJournals removes the journals (ops and update images) of the runs beyond the retention and marks those
// runs JournalPruned; with dryRun it only counts what it would remove. The caller holds the run lock, so no
// other run changes the history meanwhile.
//
// Never removed, whatever their age: the journal of a run that is still running (or crashed while it ran),
// and of an interrupted or failed run whose complete journal still has planned ops, which the next import
// resumes (they are listed in Unfinished). A run history row stays, and so do the checkpoint, the SD mappings
// and the deletion log. A prune that stops half-way has marked the run first, so no reader takes a partly
// removed journal for a whole one; the next prune removes the rest.
func (s *Store) PruneJournals(ctx context.Context, keep JournalRetention, dryRun bool) (PruneResult, error) {
	var res PruneResult
	if err := keep.validate(); err != nil {
		return res, err
	}
	owners, err := s.journalOwners(ctx)
	if err != nil {
		return res, err
	}
	cutoff := time.Now().Add(-keep.KeepFor)
	var prune []JournalOf
	kept := 0
	for _, o := range owners { // most recent first
		switch {
		case o.pruned:
			prune = append(prune, o.JournalOf) // the rest of a prune that stopped half-way
			continue
		case kept < keep.KeepRuns, keep.KeepFor > 0 && o.StartedAt.After(cutoff):
			kept++
			continue
		}
		why, err := s.resumeNeeds(ctx, o)
		if err != nil {
			return res, err
		}
		if why != "" {
			res.Unfinished = append(res.Unfinished, KeptJournal{RunID: o.RunID, Kind: o.Kind, Status: o.Status, StartedAt: o.StartedAt, Why: why})
			continue
		}
		prune = append(prune, o.JournalOf)
	}
	res.Retained = kept
	for i := len(prune) - 1; i >= 0; i-- { // oldest first
		j := prune[i]
		if dryRun {
			err = s.reader.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM ops WHERE run_id = ?1),
				(SELECT count(*) FROM update_images WHERE run_id = ?1)`, j.RunID).Scan(&j.Ops, &j.UpdateImages)
			if err != nil {
				return res, fmt.Errorf("count the journal of run %d: %w", j.RunID, err)
			}
		} else if j.Ops, j.UpdateImages, err = s.dropJournal(ctx, j.RunID); err != nil {
			return res, err
		}
		res.Pruned = append(res.Pruned, j)
		res.Ops += j.Ops
		res.UpdateImages += j.UpdateImages
	}
	return res, nil
}

// journalOwners lists the runs that have journal rows, most recent first. Each test is a seek on the
// journal's primary key, so this reads a few pages per run however large the journals are.
func (s *Store) journalOwners(ctx context.Context) ([]journalOwner, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, kind, status, started_at, journaled_at IS NOT NULL,
		journal_pruned_at IS NOT NULL FROM runs
		WHERE EXISTS (SELECT 1 FROM ops WHERE ops.run_id = runs.id)
			OR EXISTS (SELECT 1 FROM update_images WHERE update_images.run_id = runs.id)
		ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list the journals: %w", err)
	}
	defer rows.Close()
	var out []journalOwner
	for rows.Next() {
		var (
			o       journalOwner
			status  string
			started sql.NullString
		)
		if err := rows.Scan(&o.RunID, &o.Kind, &status, &started, &o.journaled, &o.pruned); err != nil {
			return nil, fmt.Errorf("list the journals: %w", err)
		}
		o.Status = RunStatus(status)
		if o.StartedAt, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("list the journals: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the journals: %w", err)
	}
	return out, nil
}

// resumeNeeds says why a resume may still need the journal of a run ("" if nothing needs it). A run marked
// running holds the lock or crashed (the next run marks it interrupted and resumes it); an interrupted or
// failed run with a complete journal resumes while it has planned ops. A journal begun but never completed
// (a run stopped while planning) is never resumed (see ResumableRun).
func (s *Store) resumeNeeds(ctx context.Context, o journalOwner) (string, error) {
	switch o.Status {
	case RunRunning:
		return "the run is marked running: it is in progress, or it crashed and the next import resumes it", nil
	case RunInterrupted, RunFailed:
		if !o.journaled {
			return "", nil
		}
		var planned int64
		if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM ops WHERE run_id = ? AND status = 'planned'`,
			o.RunID).Scan(&planned); err != nil {
			return "", fmt.Errorf("count the planned ops of run %d: %w", o.RunID, err)
		}
		if planned > 0 {
			return fmt.Sprintf("%s still planned: the next import resumes it",
				Count(planned, "op of the "+string(o.Status)+" run is", "ops of the "+string(o.Status)+" run are")), nil
		}
	}
	return "", nil
}

// dropJournal marks a run's journal pruned, then removes its rows a batch per transaction, and returns how many.
func (s *Store) dropJournal(ctx context.Context, runID int64) (ops, images int64, err error) {
	what := fmt.Sprintf("prune the journal of run %d", runID)
	err = s.writeTx(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET journal_pruned_at = COALESCE(journal_pruned_at, ?) WHERE id = ?`,
			formatTime(time.Now()), runID)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	for _, t := range []struct {
		table string
		n     *int64
	}{{"ops", &ops}, {"update_images", &images}} {
		query := `DELETE FROM ` + t.table + ` WHERE run_id = ?1 AND seq IN (SELECT seq FROM ` + t.table + ` WHERE run_id = ?1 LIMIT ?2)`
		for {
			if err := ctx.Err(); err != nil {
				return ops, images, fmt.Errorf("%s: stopped: %w", what, err)
			}
			var n int64
			err := s.writeTx(ctx, what, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, query, runID, pruneBatch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return ops, images, err
			}
			*t.n += n
			if n < pruneBatch {
				break
			}
		}
	}
	return ops, images, nil
}

// FileSize is the size in bytes of the state file with its write-ahead log: what it takes on the disk.
func (s *Store) FileSize() (int64, error) {
	var total int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) && p != s.path {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("size of state file: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}

// TruncateWAL copies the write-ahead log into the file and empties it. SQLite reuses the log but never
// shrinks it on its own, so after a large prune it would keep taking the space of the rows removed.
func (s *Store) TruncateWAL(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return writeFailed("checkpoint the write-ahead log", err)
	}
	return nil
}

// NoSpaceError reports that VACUUM was not started because a file system lacks the free space it needs.
type NoSpaceError struct {
	Dir        string
	Need, Free int64
}

// Error names the directory and both figures.
func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("vacuum not started: it needs about %s free in %s, which has %s (VACUUM writes a copy of the "+
		"file's data to a temporary file and then through the write-ahead log)", ByteSize(e.Need), e.Dir, ByteSize(e.Free))
}

// Vacuum rewrites the state file without its free pages, so that it shrinks to the data it holds, and empties
// the write-ahead log. It needs free space of about twice that data, a temporary copy and the log, and
// refuses with a *NoSpaceError (before writing anything) where the file systems have less. It holds the
// writer for as long as the copy takes. The caller holds the run lock.
func (s *Store) Vacuum(ctx context.Context) error {
	var pageSize, pages, free int64
	if err := s.writer.QueryRowContext(ctx, `SELECT page_size, page_count, freelist_count
		FROM pragma_page_size, pragma_page_count, pragma_freelist_count`).Scan(&pageSize, &pages, &free); err != nil {
		return fmt.Errorf("vacuum: read the page counts: %w", err)
	}
	data := (pages - free) * pageSize
	if err := checkVacuumSpace(filepath.Dir(s.path), data); err != nil {
		return err
	}
	if _, err := s.writer.ExecContext(ctx, `VACUUM`); err != nil {
		return writeFailed("vacuum", err)
	}
	return s.TruncateWAL(ctx)
}

// Count renders n things for people: "1 op", "2 ops" (one is the singular, many the plural).
func Count[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ByteSize renders a size in bytes for people, in decimal units: 1.5 MB.
func ByteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
