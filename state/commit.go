package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Outcome is the result of one remote write, recorded by Commit.
//
// With RunID set it settles the journaled op (RunID, Seq), whose kind and ERP key must match. RunID 0 records
// a change that no op planned, e.g. adopting an existing platform record or a deletion found on the platform.
type Outcome struct {
	RunID  int64
	Seq    int64
	Kind   string
	ERPKey string
	Action Action

	// Error non-empty means the write failed for good: only the op's status (failed), attempts, HTTP status and
	// this text are recorded; nothing else changes. Secrets must not be in it (bearer tokens and secret-looking
	// key=value pairs are masked anyway).
	Error      string
	Attempts   int
	HTTPStatus int

	// For create and update: the checkpoint row after the write.
	RemoteID string
	RowHash  uint64
	// RawHash is the hash of the input cells the row came from (0: unknown); see EntityIndex.RawHashes.
	RawHash uint64
	// Snapshot is the full set of mapped fields now on the platform (after an update, the merged fields, not only
	// the changed ones). nil removes the stored snapshot, so a diff is never computed against stale values.
	Snapshot json.RawMessage

	// For delete: why, and the remote record as it was before deletion (nil if it was already gone). The entity
	// and its snapshot are removed and a deletion log entry is written.
	Reason   DeletionReason
	PreImage json.RawMessage

	// Mapping, if set, is upserted (for a delete, typically with DeletedInYaaS set). Its Pushed field is ignored:
	// a changed mapping is marked unpushed.
	Mapping *SDMapping
}

func (o *Outcome) validate() error {
	if o.Kind == "" || o.ERPKey == "" {
		return errors.New("kind and ERP key are required")
	}
	if !o.Action.valid() {
		return fmt.Errorf("%s %q: invalid action %q", o.Kind, o.ERPKey, o.Action)
	}
	if o.Error != "" {
		if o.RunID == 0 {
			return fmt.Errorf("%s %q: a failure needs the op it belongs to", o.Kind, o.ERPKey)
		}
		return nil
	}
	if o.Action == ActionDelete {
		if !o.Reason.valid() {
			return fmt.Errorf("delete of %s %q: invalid deletion reason %q", o.Kind, o.ERPKey, o.Reason)
		}
	} else if o.RemoteID == "" {
		return fmt.Errorf("%s of %s %q: remote id is required", o.Action, o.Kind, o.ERPKey)
	}
	if o.Mapping != nil && (o.Mapping.CustomerNumber == "" || o.Mapping.SDCustomerNumber == "") {
		return fmt.Errorf("%s %q: mapping needs both customer numbers", o.Kind, o.ERPKey)
	}
	return nil
}

// maxErrorText bounds the stored error text; the full response is for the error file, not the journal.
const maxErrorText = 2000

// Commit records a batch of outcomes in one transaction: each op's status, and for successes the checkpoint
// entity and snapshot, the SD mapping and, for deletes, the removal plus a deletion log entry. Either the whole
// batch is recorded or nothing is. Keep batches small (say up to 100 outcomes or 100 ms of results) so that a
// crash loses little and readers see progress.
//
// Any error is fatal to the run (write errors wrap ErrWriteFailed). Pass a context that a SIGINT does not
// cancel (context.WithoutCancel) so that what succeeded is still recorded while the run winds down.
func (s *Store) Commit(ctx context.Context, outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	for i := range outcomes {
		if err := outcomes[i].validate(); err != nil {
			return fmt.Errorf("commit outcome %d: %w", i, err)
		}
	}
	return s.writeTx(ctx, fmt.Sprintf("commit %d outcomes", len(outcomes)), func(tx *sql.Tx) error {
		c, err := prepareCommitter(ctx, tx)
		if err != nil {
			return err
		}
		defer c.close()
		now := formatTime(time.Now())
		for i := range outcomes {
			if err := c.record(ctx, &outcomes[i], now); err != nil {
				o := &outcomes[i]
				return fmt.Errorf("%s %s %q (run %d op %d): %w", o.Action, o.Kind, o.ERPKey, o.RunID, o.Seq, err)
			}
		}
		return nil
	})
}

// DeleteEntity removes an entity outside a run's journal (e.g. a deletion found on the platform) and writes its
// deletion log entry in the same transaction. entry.RemoteID defaults to the entity's. Returns the log entry id.
func (s *Store) DeleteEntity(ctx context.Context, entry DeletionEntry) (int64, error) {
	if entry.Kind == "" || entry.ERPKey == "" || !entry.Reason.valid() {
		return 0, fmt.Errorf("delete entity %s %q: kind, ERP key and a valid reason are required", entry.Kind, entry.ERPKey)
	}
	var id int64
	err := s.writeTx(ctx, fmt.Sprintf("delete %s %q", entry.Kind, entry.ERPKey), func(tx *sql.Tx) error {
		if entry.RemoteID == "" {
			err := tx.QueryRowContext(ctx, `SELECT remote_id FROM entities WHERE kind = ? AND erp_key = ?`,
				entry.Kind, entry.ERPKey).Scan(&entry.RemoteID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entities WHERE kind = ? AND erp_key = ?`, entry.Kind, entry.ERPKey); err != nil {
			return err
		}
		var err error
		id, err = insertDeletion(ctx, tx, entry, formatTime(time.Now()))
		return err
	})
	return id, err
}

// committer holds the statements of one Commit transaction.
type committer struct {
	opDone, opFailed, upsertEntity, upsertSnapshot, dropSnapshot, deleteEntity, upsertMapping, logDeletion *sql.Stmt
	all                                                                                                    []*sql.Stmt
}

func prepareCommitter(ctx context.Context, tx *sql.Tx) (*committer, error) {
	c := &committer{}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&c.opDone, `UPDATE ops SET status = 'done', attempts = ?, http_status = ?, error = '', updated_at = ?
			WHERE run_id = ? AND seq = ? AND kind = ? AND erp_key = ?`},
		{&c.opFailed, `UPDATE ops SET status = 'failed', attempts = ?, http_status = ?, error = ?, updated_at = ?
			WHERE run_id = ? AND seq = ? AND kind = ? AND erp_key = ?`},
		{&c.upsertEntity, `INSERT INTO entities (kind, erp_key, remote_id, row_hash, synced_run, updated_at, raw_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, erp_key) DO UPDATE SET remote_id = excluded.remote_id, row_hash = excluded.row_hash,
				synced_run = excluded.synced_run, updated_at = excluded.updated_at, raw_hash = excluded.raw_hash`},
		{&c.upsertSnapshot, `INSERT INTO entity_snapshots (kind, erp_key, payload) VALUES (?, ?, ?)
			ON CONFLICT (kind, erp_key) DO UPDATE SET payload = excluded.payload`},
		{&c.dropSnapshot, `DELETE FROM entity_snapshots WHERE kind = ? AND erp_key = ?`},
		{&c.deleteEntity, `DELETE FROM entities WHERE kind = ? AND erp_key = ?`},
		{&c.upsertMapping, upsertMappingSQL},
		{&c.logDeletion, insertDeletionSQL},
	} {
		stmt, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			c.close()
			return nil, err
		}
		*p.stmt = stmt
		c.all = append(c.all, stmt)
	}
	return c, nil
}

func (c *committer) close() {
	for _, s := range c.all {
		_ = s.Close()
	}
}

func (c *committer) record(ctx context.Context, o *Outcome, now string) error {
	if o.Error != "" {
		return mustAffect(c.opFailed.ExecContext(ctx, o.Attempts, o.HTTPStatus, errorText(o.Error), now,
			o.RunID, o.Seq, o.Kind, o.ERPKey))
	}
	if o.RunID != 0 {
		if err := mustAffect(c.opDone.ExecContext(ctx, o.Attempts, o.HTTPStatus, now, o.RunID, o.Seq, o.Kind, o.ERPKey)); err != nil {
			return err
		}
	}
	var syncedRun any
	if o.RunID != 0 {
		syncedRun = o.RunID
	}
	switch o.Action {
	case ActionDelete:
		if _, err := c.deleteEntity.ExecContext(ctx, o.Kind, o.ERPKey); err != nil {
			return err
		}
		if _, err := c.logDeletion.ExecContext(ctx, o.Kind, o.ERPKey, o.RemoteID, nullableJSON(o.PreImage),
			string(o.Reason), syncedRun, now); err != nil {
			return err
		}
	default:
		if _, err := c.upsertEntity.ExecContext(ctx, o.Kind, o.ERPKey, o.RemoteID, int64(o.RowHash), syncedRun, now, int64(o.RawHash)); err != nil {
			return err
		}
		if o.Snapshot != nil {
			if _, err := c.upsertSnapshot.ExecContext(ctx, o.Kind, o.ERPKey, string(o.Snapshot)); err != nil {
				return err
			}
		} else if _, err := c.dropSnapshot.ExecContext(ctx, o.Kind, o.ERPKey); err != nil {
			return err
		}
	}
	if m := o.Mapping; m != nil {
		if _, err := c.upsertMapping.ExecContext(ctx, m.CustomerNumber, m.SDCustomerNumber, boolInt(m.DeletedInYaaS), now); err != nil {
			return err
		}
	}
	return nil
}

// mustAffect turns an UPDATE that matched no row into an error: the outcome names an op that is not journaled.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no such journaled op (run, seq, kind and ERP key must match)")
	}
	return nil
}

// secretPatterns catch credentials that might slip into an error text: bearer tokens and key=value or
// "key": "value" pairs whose key looks secret.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+`),
	regexp.MustCompile(`(?i)((?:client_secret|access_token|refresh_token|password|secret|token)["']?\s*[:=]\s*["']?)[^\s"'&,}]+`),
}

// errorText masks secrets and bounds the length of an error before it is stored.
func errorText(s string) string {
	for _, re := range secretPatterns {
		s = re.ReplaceAllString(s, "${1}***")
	}
	if len(s) > maxErrorText {
		s = strings.ToValidUTF8(s[:maxErrorText], "") + "…"
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
