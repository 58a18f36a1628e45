package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Description summarises a state file for `custsync state show`.
type Description struct {
	Path               string
	Binding            Binding // zero if never bound
	BoundAt            time.Time
	MappingsURL        string // "" if none is remembered
	SchemaVersion      int
	KnownSchemaVersion int
	Entities           map[string]int64 // per kind
	Mappings           MappingCounts
	UnackedDeletions   int64
	// JournalRuns counts the runs that keep a journal, PrunedJournals those whose journal was pruned.
	JournalRuns, PrunedJournals int64
	LastRuns                    []Run     // most recent first
	Lock                        *LockInfo // nil if unlocked
	Resumable                   *Run      // the run the next import resumes, if any
}

// describeRuns is how many recent runs Describe lists.
const describeRuns = 5

// Describe gathers the summary shown by `custsync state show`.
func (s *Store) Describe(ctx context.Context) (Description, error) {
	d := Description{Path: s.path, Binding: s.Binding(), KnownSchemaVersion: KnownSchemaVersion()}
	var err error
	if d.SchemaVersion, err = s.SchemaVersion(ctx); err != nil {
		return Description{}, err
	}
	if !d.Binding.IsZero() {
		var at sql.NullString
		if err := s.reader.QueryRowContext(ctx, `SELECT bound_at FROM binding WHERE id = 1`).Scan(&at); err != nil {
			return Description{}, fmt.Errorf("describe state: %w", err)
		}
		if d.BoundAt, err = parseTime(at); err != nil {
			return Description{}, err
		}
	}
	if d.MappingsURL, err = s.MappingsURL(ctx); err != nil {
		return Description{}, err
	}
	if d.Entities, err = s.CountEntities(ctx); err != nil {
		return Description{}, err
	}
	if d.Mappings, err = s.CountMappings(ctx); err != nil {
		return Description{}, err
	}
	if d.UnackedDeletions, err = s.CountUnackedDeletions(ctx); err != nil {
		return Description{}, err
	}
	if err := s.reader.QueryRowContext(ctx, `SELECT
			count(*) FILTER (WHERE journal_pruned_at IS NULL AND (EXISTS (SELECT 1 FROM ops WHERE ops.run_id = runs.id)
				OR EXISTS (SELECT 1 FROM update_images WHERE update_images.run_id = runs.id))),
			count(*) FILTER (WHERE journal_pruned_at IS NOT NULL)
		FROM runs`).Scan(&d.JournalRuns, &d.PrunedJournals); err != nil {
		return Description{}, fmt.Errorf("describe state: count the journals: %w", err)
	}
	if d.LastRuns, err = s.ListRuns(ctx, describeRuns); err != nil {
		return Description{}, err
	}
	lock, locked, err := s.ReadLock(ctx)
	if err != nil {
		return Description{}, err
	}
	if locked {
		d.Lock = &lock
	}
	run, ok, err := s.ResumableRun(ctx, 0)
	if err != nil {
		return Description{}, fmt.Errorf("describe state: %w", err)
	}
	if ok {
		d.Resumable = &run
	}
	return d, nil
}
