package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// UpdateImage is what one update changed: the fields it wrote, before and after, as JSON objects of field path
// to value. Before lacks the paths whose earlier value was not known; After has null for a field the update
// cleared. The engine decides the paths' form; the state file only keeps them, per op, for a restore.
type UpdateImage struct {
	Before json.RawMessage
	After  json.RawMessage
}

func (im *UpdateImage) validate() error {
	for _, doc := range []json.RawMessage{im.Before, im.After} {
		// Checked without decoding: every update of a run passes here.
		if trimmed := bytes.TrimLeft(doc, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(doc) {
			return errors.New("an update image is two JSON objects (before, after)")
		}
	}
	return nil
}

// UpdateImageRow is the recorded image of one update of a run.
type UpdateImageRow struct {
	RunID, Seq             int64
	Kind, ERPKey, RemoteID string
	UpdateImage
}

// ScanUpdateImages calls fn with the update images of a run in op order, stopping at fn's first error.
func (s *Store) ScanUpdateImages(ctx context.Context, runID int64, fn func(UpdateImageRow) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT run_id, seq, kind, erp_key, remote_id, before, after
		FROM update_images WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return fmt.Errorf("read the update images of run %d: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r UpdateImageRow
		var before, after string
		if err := rows.Scan(&r.RunID, &r.Seq, &r.Kind, &r.ERPKey, &r.RemoteID, &before, &after); err != nil {
			return fmt.Errorf("read the update images of run %d: %w", runID, err)
		}
		r.Before, r.After = json.RawMessage(before), json.RawMessage(after)
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the update images of run %d: %w", runID, err)
	}
	return nil
}

// RunChanges counts what a run changed on the platform and what of it a restore can put back.
type RunChanges struct {
	// Created, Updated and Deleted count the run's ops the platform confirmed.
	Created, Updated, Deleted int
	// UpdateImages counts the updates with a recorded image (runs before schema 6 have none);
	// DeletePreImages the deletes whose deletion log entry holds the record as it was.
	UpdateImages, DeletePreImages int
}

// Restorable reports whether a restore can put anything of the run back: a deleted record it knows, an update
// it has the image of, or (only with creates included) a record the run created.
func (c RunChanges) Restorable(includeCreates bool) bool {
	return c.UpdateImages > 0 || c.DeletePreImages > 0 || (includeCreates && c.Created > 0)
}

// RunChanges counts the changes of a run from its journal, its update images and the deletion log.
func (s *Store) RunChanges(ctx context.Context, runID int64) (RunChanges, error) {
	var c RunChanges
	rows, err := s.reader.QueryContext(ctx, `SELECT action, count(*) FROM ops WHERE run_id = ? AND status = 'done' GROUP BY action`, runID)
	if err != nil {
		return c, fmt.Errorf("count the changes of run %d: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var action string
		var n int
		if err := rows.Scan(&action, &n); err != nil {
			return c, fmt.Errorf("count the changes of run %d: %w", runID, err)
		}
		switch Action(action) {
		case ActionCreate:
			c.Created = n
		case ActionUpdate:
			c.Updated = n
		case ActionDelete:
			c.Deleted = n
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("count the changes of run %d: %w", runID, err)
	}
	err = s.reader.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM update_images WHERE run_id = ?1),
			(SELECT count(*) FROM deletions WHERE run_id = ?1 AND pre_image IS NOT NULL)`, runID).
		Scan(&c.UpdateImages, &c.DeletePreImages)
	if err != nil {
		return c, fmt.Errorf("count the changes of run %d: %w", runID, err)
	}
	return c, nil
}
