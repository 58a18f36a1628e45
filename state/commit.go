package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
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

	// Image, for an update of a journaled op, is what the update changed, before and after; it is kept per op
	// (ScanUpdateImages) so that the run can be put back.
	Image *UpdateImage

	// For delete: why, and the remote record as it was before deletion (nil if it was already gone). The entity
	// and its snapshot are removed and a deletion log entry is written.
	Reason   DeletionReason
	PreImage json.RawMessage
	// Dependents, for a delete, are the checkpoint rows of other kinds that the platform removed along with the
	// record (a company's contact assignments, a customer's addresses): they are removed in the same
	// transaction, so that the next run that reads their rows writes them again instead of taking them for
	// unchanged. They get no deletion log entry of their own: custsync did not delete them, the ERP did not
	// ask for it, and the entry of the record they hung on (whose pre-image has a customer's addresses) is what
	// the ERP team acts on.
	Dependents []Dependents

	// Mapping, if set, is upserted (for a delete, typically with DeletedInYaaS set). Its Pushed field is ignored:
	// a changed mapping is marked unpushed.
	Mapping *SDMapping
}

// Dependents selects the checkpoint rows of Kind whose ERP key starts with KeyPrefix and ends with KeySuffix
// (either may be empty, not both): the rows whose composite key names a deleted record as one of its parts.
type Dependents struct {
	Kind      string
	KeyPrefix string
	KeySuffix string
	// Removed is set by Commit: how many rows the selection removed.
	Removed int
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
		for _, d := range o.Dependents {
			if d.Kind == "" || d.KeyPrefix == "" && d.KeySuffix == "" {
				return fmt.Errorf("delete of %s %q: dependents need a kind and a key prefix or suffix", o.Kind, o.ERPKey)
			}
		}
	} else if len(o.Dependents) > 0 {
		return fmt.Errorf("%s of %s %q: only a delete has dependents", o.Action, o.Kind, o.ERPKey)
	} else if o.RemoteID == "" {
		return fmt.Errorf("%s of %s %q: remote id is required", o.Action, o.Kind, o.ERPKey)
	}
	if o.Mapping != nil && (o.Mapping.CustomerNumber == "" || o.Mapping.SDCustomerNumber == "") {
		return fmt.Errorf("%s %q: mapping needs both customer numbers", o.Kind, o.ERPKey)
	}
	if o.Image != nil {
		if o.Action != ActionUpdate || o.RunID == 0 {
			return fmt.Errorf("%s of %s %q: an update image is only for the update of a journaled op", o.Action, o.Kind, o.ERPKey)
		}
		if err := o.Image.validate(); err != nil {
			return fmt.Errorf("update of %s %q: %w", o.Kind, o.ERPKey, err)
		}
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
	if err := s.prepareBatched(ctx); err != nil {
		return err
	}
	return s.writeTx(ctx, fmt.Sprintf("commit %d outcomes", len(outcomes)), func(tx *sql.Tx) error {
		now := formatTime(time.Now())
		if distinctKeys(outcomes) {
			if err := s.commitBatched(ctx, tx, outcomes, now); err != nil {
				return err
			}
		} else if err := commitOneByOne(ctx, tx, outcomes, now); err != nil {
			return err
		}
		if err := s.bumpGenerations(ctx, tx, outcomes); err != nil {
			return err
		}
		return s.removeDependents(ctx, tx, outcomes)
	})
}

// removeDependents removes the checkpoint rows the deletes among outcomes took along on the platform (see
// Outcome.Dependents), after the outcomes' own rows, so that a dependent created earlier in the batch goes too,
// counts each selection's rows in its Removed (a row two selections name counts for the first) and logs them
// as gone for a cached entity index. A selection with a key prefix is a range of the primary key, deleted per
// outcome; the selections by a key suffix alone (a customer's contact assignments, keyed company first) have
// no range, so the rows all those of the batch select are found in one scan per kind (matchSuffixes), not one
// scan per delete.
func (s *Store) removeDependents(ctx context.Context, tx *sql.Tx, outcomes []Outcome) error {
	suffixes := map[string]map[string][]string{} // kind -> suffix -> the keys that end with it
	for i := range outcomes {
		o := &outcomes[i]
		if o.Error != "" || o.Action != ActionDelete {
			continue
		}
		for _, d := range o.Dependents {
			if d.KeyPrefix == "" {
				if suffixes[d.Kind] == nil {
					suffixes[d.Kind] = map[string][]string{}
				}
				suffixes[d.Kind][d.KeySuffix] = nil
			}
		}
	}
	for kind, bySuffix := range suffixes {
		if err := matchSuffixes(ctx, tx, kind, bySuffix); err != nil {
			return fmt.Errorf("find the %s that %d deleted records took along: %w", kind, len(bySuffix), err)
		}
	}
	gone := map[string][]indexChange{}
	removed := map[string]map[string]bool{} // kind -> keys removed so far
	var kinds []string
	for i := range outcomes {
		o := &outcomes[i]
		if o.Error != "" || o.Action != ActionDelete {
			continue
		}
		var along []RemovedRow
		for j := range o.Dependents {
			d := &o.Dependents[j]
			var keys []string
			var err error
			if d.KeyPrefix != "" {
				var rows []RemovedRow
				rows, err = deleteDependents(ctx, tx, *d)
				for _, row := range rows {
					keys = append(keys, row.ERPKey)
				}
				along = append(along, rows...)
			} else {
				keys, err = deleteKeys(ctx, tx, d.Kind, suffixes[d.Kind][d.KeySuffix], removed[d.Kind])
			}
			if err != nil {
				return outcomeError(o, fmt.Errorf("remove its dependent %s: %w", d.Kind, err))
			}
			d.Removed = len(keys)
			if len(keys) > 0 && gone[d.Kind] == nil {
				kinds = append(kinds, d.Kind)
				removed[d.Kind] = map[string]bool{}
			}
			for _, k := range keys {
				gone[d.Kind] = append(gone[d.Kind], indexChange{key: k, gone: true})
				removed[d.Kind][k] = true
			}
		}
		if err := keepRemovedAlong(ctx, tx, o, along); err != nil {
			return err
		}
	}
	for _, k := range kinds {
		if err := s.recordChange(ctx, tx, k, gone[k]); err != nil {
			return err
		}
	}
	return nil
}

// RemovedRow is a checkpoint row a delete removed along with its record by a key prefix (Outcome.Dependents:
// a customer's addresses), as the delete's op keeps it (Op.RemovedAlong): a restore that creates the record
// again with it records it under its key.
type RemovedRow struct {
	Kind     string `json:"kind"`
	ERPKey   string `json:"erpKey"`
	RemoteID string `json:"remoteId"`
}

// keepRemovedAlong keeps on the journaled op of delete o the rows its commit removed along by a key prefix.
func keepRemovedAlong(ctx context.Context, tx *sql.Tx, o *Outcome, rows []RemovedRow) error {
	if len(rows) == 0 || o.RunID == 0 {
		return nil
	}
	raw, err := json.Marshal(rows)
	if err != nil {
		return outcomeError(o, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE ops SET removed_along = ? WHERE run_id = ? AND seq = ?`, string(raw), o.RunID, o.Seq); err != nil {
		return outcomeError(o, fmt.Errorf("keep the keys of the rows its delete removed along: %w", err))
	}
	return nil
}

// deleteDependents removes the rows d, which has a key prefix, selects and returns them. The prefix is
// looked up as a range of the primary key (a customer's addresses among millions).
func deleteDependents(ctx context.Context, tx *sql.Tx, d Dependents) ([]RemovedRow, error) {
	q, args := `DELETE FROM entities WHERE kind = ? AND erp_key >= ?`, []any{d.Kind, d.KeyPrefix}
	if end, ok := prefixEnd(d.KeyPrefix); ok {
		q += ` AND erp_key < ?`
		args = append(args, end)
	}
	if d.KeySuffix != "" {
		// substr counts characters, as length does, so the comparison holds for any UTF-8 key.
		q += ` AND substr(erp_key, -length(?)) = ?`
		args = append(args, d.KeySuffix, d.KeySuffix)
	}
	rows, err := tx.QueryContext(ctx, q+` RETURNING erp_key, remote_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var removed []RemovedRow
	for rows.Next() {
		row := RemovedRow{Kind: d.Kind}
		if err := rows.Scan(&row.ERPKey, &row.RemoteID); err != nil {
			return nil, err
		}
		removed = append(removed, row)
	}
	return removed, rows.Err()
}

// queryKeys runs q, whose rows are ERP keys, and returns those keep accepts (all with a nil keep).
func queryKeys(ctx context.Context, tx *sql.Tx, q string, args []any, keep func(key string) bool) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		if keep == nil || keep(k) {
			keys = append(keys, k)
		}
	}
	return keys, rows.Err()
}

// matchSuffixes fills bySuffix, whose keys are suffixes, with the ERP keys of kind that end with each, in one
// scan of the kind's keys however many suffixes there are: 2,000 customer deletes in batches of 200 on 200,000
// contact assignments took 165 s (82 s of CPU) with a scan per delete, 1.2-4.6 s (1.1-1.2 s of CPU) so
// (BenchmarkCommitCustomerDeletes). The scan reads the remote-id index, which holds every row's key without
// its snapshot, a fraction of the table's pages. An index on the key's last part would make it a lookup, but
// every insert of the kind would pay for its upkeep, and deletes are rare next to writes.
func matchSuffixes(ctx context.Context, tx *sql.Tx, kind string, bySuffix map[string][]string) error {
	var lengths []int // of the suffixes, few: ERP numbers mostly have one length
	for suffix := range bySuffix {
		if !slices.Contains(lengths, len(suffix)) {
			lengths = append(lengths, len(suffix))
		}
	}
	_, err := queryKeys(ctx, tx, `SELECT erp_key FROM entities INDEXED BY entities_remote_id WHERE kind = ?`,
		[]any{kind}, func(key string) bool {
			for _, n := range lengths {
				if len(key) < n {
					continue
				}
				if keys, ok := bySuffix[key[len(key)-n:]]; ok {
					bySuffix[key[len(key)-n:]] = append(keys, key)
				}
			}
			return false // kept in bySuffix instead
		})
	return err
}

// deleteKeys removes the rows of kind under keys, except those in skip (removed already), by primary key and
// returns the keys it removed.
func deleteKeys(ctx context.Context, tx *sql.Tx, kind string, keys []string, skip map[string]bool) ([]string, error) {
	var deleted []string
	for _, k := range keys {
		if skip[k] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entities WHERE kind = ? AND erp_key = ?`, kind, k); err != nil {
			return nil, fmt.Errorf("%s %q: %w", kind, k, err)
		}
		deleted = append(deleted, k)
	}
	return deleted, nil
}

// prefixEnd is the least string greater than every string that starts with prefix, in SQLite's binary order
// of text (false: there is none, the prefix being all 0xFF bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// commitOneByOne records outcomes in order, one statement each: for a batch that touches one key twice, whose
// order matters.
func commitOneByOne(ctx context.Context, tx *sql.Tx, outcomes []Outcome, now string) error {
	c, err := prepareCommitter(ctx, tx)
	if err != nil {
		return err
	}
	defer c.close()
	for i := range outcomes {
		if err := c.record(ctx, &outcomes[i], now); err != nil {
			return outcomeError(&outcomes[i], err)
		}
	}
	return nil
}

func outcomeError(o *Outcome, err error) error {
	return fmt.Errorf("%s %s %q (run %d op %d): %w", o.Action, o.Kind, o.ERPKey, o.RunID, o.Seq, err)
}

// distinctKeys reports whether no two outcomes name the same entity, so that their statements may run grouped
// by kind of statement instead of in order.
func distinctKeys(outcomes []Outcome) bool {
	seen := make(map[EntityKey]struct{}, len(outcomes))
	for i := range outcomes {
		k := EntityKey{Kind: outcomes[i].Kind, ERPKey: outcomes[i].ERPKey}
		if _, dup := seen[k]; dup {
			return false
		}
		seen[k] = struct{}{}
	}
	return true
}

// bumpGenerations marks the kinds the outcomes touched as changed, once per kind, so that a cached entity index
// of those kinds is known stale, and logs the keys the outcomes touched so that it can be brought up to date
// from them (see LoadEntityIndex).
func (s *Store) bumpGenerations(ctx context.Context, tx *sql.Tx, outcomes []Outcome) error {
	var kinds []string
	for i := range outcomes {
		o := &outcomes[i]
		if o.Error == "" && !slices.Contains(kinds, o.Kind) {
			kinds = append(kinds, o.Kind)
		}
	}
	for _, k := range kinds {
		var changes []indexChange
		for i := range outcomes {
			if o := &outcomes[i]; o.Error == "" && o.Kind == k {
				changes = append(changes, outcomeChange(o))
			}
		}
		if err := s.recordChange(ctx, tx, k, changes); err != nil {
			return err
		}
	}
	return nil
}

// outcomeChange is what a confirmed outcome leaves of its entity: gone after a delete, else the outcome's
// values (every write of an entity's row, batched or one by one, writes those).
func outcomeChange(o *Outcome) indexChange {
	if o.Action == ActionDelete {
		return indexChange{key: o.ERPKey, gone: true}
	}
	return indexChange{key: o.ERPKey, ref: EntityRef{RemoteID: o.RemoteID, RowHash: o.RowHash}, raw: o.RawHash}
}

// recordChange bumps the generation of kind and, while its index is cached, logs the changes under the new
// generation, each with the entity's values after it, so that a cache is brought up to date from the log
// alone. Without a cache nothing needs the log: the next load rebuilds the index from the table, and a cache is
// only written for the generation current at the write (LoadEntityIndex), so no change of a cached kind goes
// unlogged. Once the keys logged since the cache was written pass its budget (a run that changes a large part
// of the checkpoint, a first import), logging stops and the next load rebuilds the index instead. Of a key
// changed twice in one transaction (a batch committed one by one, in order) the log keeps the last values.
func (s *Store) recordChange(ctx context.Context, tx *sql.Tx, kind string, changes []indexChange) error {
	bump, err := s.prepared(ctx, tx, bumpGenerationSQL, 1)
	if err != nil {
		return err
	}
	var gen, cached, logged, budget int64
	if err := bump.QueryRowContext(ctx, kind, len(changes)).Scan(&gen, &cached, &logged, &budget); err != nil || cached == 0 {
		return err
	}
	if logged > budget {
		_, err := tx.ExecContext(ctx, `UPDATE entity_generation SET cached = 0 WHERE kind = ?`, kind)
		return err
	}
	return s.execChunked(ctx, tx, logChangesSQL, len(changes), func(start, n int) []any {
		args := make([]any, 0, n*6)
		for _, c := range changes[start : start+n] {
			var remoteID any // NULL: gone
			if !c.gone {
				remoteID = c.ref.RemoteID
			}
			args = append(args, kind, gen, c.key, remoteID, int64(c.ref.RowHash), int64(c.raw))
		}
		return args
	}, nil)
}

// chunkSizes are the row counts of the multi-row statements a batch is split into (largest first, as many of
// each as fit): a few fixed sizes, so each statement is prepared once per store and reused, instead of one
// statement text per batch size (preparing was a fifth of a commit's CPU).
var chunkSizes = []int{64, 16, 4, 1}

// multiRow is a statement with a VALUES list of one tuple per row.
type multiRow struct{ prefix, tuple, suffix string }

// preparedKey names a prepared multiRow statement: by the statement's address, not its text, which would be
// built and hashed (a few kilobytes) for every chunk of every commit.
type preparedKey struct {
	stmt *multiRow
	rows int
}

func (m multiRow) sql(rows int) string { return m.prefix + repeatTuple(m.tuple, rows) + m.suffix }

// The multi-row statements of a batched commit.
var (
	opsDoneSQL = &multiRow{`UPDATE ops SET status = 'done', attempts = v.column5, http_status = v.column6, error = '',
		updated_at = v.column7 FROM (VALUES `, `(?, ?, ?, ?, ?, ?, ?)`, `) AS v
		WHERE ops.run_id = v.column1 AND ops.seq = v.column2 AND ops.kind = v.column3 AND ops.erp_key = v.column4`}
	opsFailedSQL = &multiRow{`UPDATE ops SET status = 'failed', attempts = v.column5, http_status = v.column6, error = v.column8,
		updated_at = v.column7 FROM (VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?)`, `) AS v
		WHERE ops.run_id = v.column1 AND ops.seq = v.column2 AND ops.kind = v.column3 AND ops.erp_key = v.column4`}
	// The entity's row holds its snapshot too (migration 0012): an update reads and writes one leaf of the
	// checkpoint, not the three leaves of two tables. The tree is deep, though: a WITHOUT ROWID table's interior
	// cells hold whole rows, about nine to a page, so on a 1M-entity file a lookup also reads one or two interior
	// pages that no cache keeps (see bench/README.md, "sixth").
	upsertEntitiesSQL = &multiRow{`INSERT INTO entities (kind, erp_key, remote_id, row_hash, synced_run, updated_at, raw_hash, snapshot)
		VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?)`, `
		ON CONFLICT (kind, erp_key) DO UPDATE SET remote_id = excluded.remote_id, row_hash = excluded.row_hash,
			synced_run = excluded.synced_run, updated_at = excluded.updated_at, raw_hash = excluded.raw_hash,
			snapshot = excluded.snapshot`}
	// An update of an entity the checkpoint holds under the same remote id leaves remote_id alone, so SQLite
	// skips the remote-id index the upsert rewrites (half the statement's time on a 1M-row checkpoint). Its
	// arguments are the upsert's, which settles a chunk where some row did not match. The unary + keeps the
	// remote-id index out of the search: through it (a covering index, which the planner prefers) each row cost
	// a random read of the index's leaf before the one of the table's, 8.6k of the 48k page reads of a delta
	// import of 10k updates.
	updateEntitiesSQL = &multiRow{`UPDATE entities SET row_hash = v.column4, synced_run = v.column5, updated_at = v.column6,
		raw_hash = v.column7, snapshot = v.column8 FROM (VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?)`, `) AS v
		WHERE entities.kind = v.column1 AND entities.erp_key = v.column2 AND +entities.remote_id = v.column3`}
	upsertImagesSQL = &multiRow{`INSERT INTO update_images (run_id, seq, kind, erp_key, remote_id, before, after) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?)`, upsertImageConflictSQL}
	upsertMappingsSQL = &multiRow{`INSERT INTO sd_mappings (customer_number, sd_customer_number, deleted_in_yaas, pushed, updated_at)
		VALUES `, `(?, ?, ?, 0, ?)`, upsertMappingConflictSQL}
	// A key touched twice in one transaction (a batch committed one by one) is logged once, with its last values.
	logChangesSQL = &multiRow{`INSERT INTO entity_changes (kind, generation, erp_key, remote_id, row_hash, raw_hash) VALUES `,
		`(?, ?, ?, ?, ?, ?)`, ` ON CONFLICT (kind, generation, erp_key) DO UPDATE SET remote_id = excluded.remote_id,
		row_hash = excluded.row_hash, raw_hash = excluded.raw_hash`}
	batchedSQL = []*multiRow{opsDoneSQL, opsFailedSQL, upsertEntitiesSQL, updateEntitiesSQL, upsertMappingsSQL,
		upsertImagesSQL, logChangesSQL}
	// Once per kind and transaction; prepared once like the others (preparing it was most of its cost).
	bumpGenerationSQL = &multiRow{`INSERT INTO entity_generation (kind, generation) VALUES `, `(?, 1)`,
		` ON CONFLICT (kind) DO UPDATE SET generation = generation + 1, logged = logged + cached * ?
		RETURNING generation, cached, logged, log_budget`}
)

// upsertImageConflictSQL keeps the image of an op's last confirmed write.
const upsertImageConflictSQL = `
	ON CONFLICT (run_id, seq) DO UPDATE SET remote_id = excluded.remote_id, before = excluded.before, after = excluded.after`

// snapshotArg is the snapshot column's value: NULL for none, so that no diff is computed against stale fields.
func snapshotArg(o *Outcome) any {
	if o.Snapshot == nil {
		return nil
	}
	return string(o.Snapshot)
}

func imageArgs(o *Outcome) []any {
	return []any{o.RunID, o.Seq, o.Kind, o.ERPKey, o.RemoteID, string(o.Image.Before), string(o.Image.After)}
}

// prepareBatched prepares every multi-row statement of a batched commit on the writer connection, once per
// store. It must run outside a transaction: the writer's only connection is busy inside one.
func (s *Store) prepareBatched(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stmts != nil {
		return nil
	}
	// Every chunk size of the batched statements, and the generation bump for one row.
	keys := []preparedKey{{bumpGenerationSQL, 1}}
	for _, m := range batchedSQL {
		for _, k := range chunkSizes {
			keys = append(keys, preparedKey{m, k})
		}
	}
	stmts := map[preparedKey]*sql.Stmt{}
	for _, key := range keys {
		stmt, err := s.writer.PrepareContext(ctx, key.stmt.sql(key.rows))
		if err != nil {
			for _, st := range stmts {
				_ = st.Close()
			}
			return writeFailed("prepare the commit statements", err)
		}
		stmts[key] = stmt
	}
	s.stmts = stmts
	return nil
}

// execChunked runs m for n rows as a few statements of chunkSizes rows. args returns the arguments of rows
// [start, start+k); check, if not nil, sees the arguments of each statement and how many rows it affected.
func (s *Store) execChunked(ctx context.Context, tx *sql.Tx, m *multiRow, n int,
	args func(start, k int) []any, check func(start, k int, chunkArgs []any, affected int64) error) error {
	start := 0
	for _, k := range chunkSizes {
		for ; n-start >= k; start += k {
			chunkArgs := args(start, k)
			affected, err := s.execPrepared(ctx, tx, m, k, chunkArgs)
			if err != nil {
				return err
			}
			if check != nil {
				if err := check(start, k, chunkArgs, affected); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// prepared is the statement of m for rows rows, prepared by prepareBatched, for use in tx.
func (s *Store) prepared(ctx context.Context, tx *sql.Tx, m *multiRow, rows int) (*sql.Stmt, error) {
	s.mu.Lock()
	stmt := s.stmts[preparedKey{m, rows}]
	s.mu.Unlock()
	if stmt == nil {
		return nil, errors.New("commit statements not prepared")
	}
	return tx.StmtContext(ctx, stmt), nil
}

// execPrepared runs the prepared statement of m for rows rows and returns how many rows it affected.
func (s *Store) execPrepared(ctx context.Context, tx *sql.Tx, m *multiRow, rows int, args []any) (int64, error) {
	stmt, err := s.prepared(ctx, tx, m, rows)
	if err != nil {
		return 0, err
	}
	res, err := stmt.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// commitBatched records outcomes of distinct entities with a few multi-row statements per kind of change
// instead of four statements per outcome: on a million creates the per-row statements were a third of the
// run's CPU. Deletes, rare and each with a deletion log entry, go one by one.
func (s *Store) commitBatched(ctx context.Context, tx *sql.Tx, outcomes []Outcome, now string) error {
	var (
		done, failed, inserts, updates, deletes, images []*Outcome
		mappings                                        []*SDMapping
	)
	for i := range outcomes {
		o := &outcomes[i]
		if o.Error != "" {
			failed = append(failed, o)
			continue
		}
		if o.RunID != 0 {
			done = append(done, o)
		}
		if o.Action == ActionDelete {
			deletes = append(deletes, o)
		} else {
			if o.Action == ActionUpdate {
				updates = append(updates, o)
			} else {
				inserts = append(inserts, o)
			}
			if o.Image != nil {
				images = append(images, o)
			}
		}
		if o.Mapping != nil {
			mappings = append(mappings, o.Mapping)
		}
	}
	// The arguments of every row are boxed in interfaces; the time and the few kinds are boxed once a batch
	// rather than once a row and statement.
	nowArg := any(now)
	var kinds []any
	kind := func(o *Outcome) any {
		for _, k := range kinds {
			if k.(string) == o.Kind {
				return k
			}
		}
		kinds = append(kinds, o.Kind)
		return kinds[len(kinds)-1]
	}
	entityArgs := func(o *Outcome) []any {
		return []any{kind(o), o.ERPKey, o.RemoteID, int64(o.RowHash), syncedRun(o), nowArg, int64(o.RawHash), snapshotArg(o)}
	}
	steps := []struct {
		rows    []*Outcome
		stmt    *multiRow
		args    func(o *Outcome) []any
		mustAll bool // every row must match a journaled op
		// fallback, when a chunk of stmt matched fewer rows than it has, runs for the whole chunk with the same
		// arguments and must settle every row of it.
		fallback *multiRow
	}{
		{done, opsDoneSQL,
			func(o *Outcome) []any {
				return []any{o.RunID, o.Seq, kind(o), o.ERPKey, o.Attempts, o.HTTPStatus, nowArg}
			}, true, nil},
		{failed, opsFailedSQL, func(o *Outcome) []any {
			return []any{o.RunID, o.Seq, kind(o), o.ERPKey, o.Attempts, o.HTTPStatus, nowArg, errorText(o.Error)}
		}, true, nil},
		{inserts, upsertEntitiesSQL, entityArgs, false, nil},
		{updates, updateEntitiesSQL, entityArgs, false, upsertEntitiesSQL},
		{images, upsertImagesSQL, imageArgs, false, nil},
	}
	for _, st := range steps {
		err := s.execChunked(ctx, tx, st.stmt, len(st.rows), func(start, n int) []any {
			args := make([]any, 0, n*8)
			for _, o := range st.rows[start : start+n] {
				args = append(args, st.args(o)...)
			}
			return args
		}, func(start, n int, chunkArgs []any, affected int64) error {
			if affected >= int64(n) {
				return nil
			}
			if st.mustAll {
				return unjournaledOutcome(ctx, tx, st.rows[start:start+n])
			}
			if st.fallback != nil {
				_, err := s.execPrepared(ctx, tx, st.fallback, n, chunkArgs)
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	err := s.execChunked(ctx, tx, upsertMappingsSQL, len(mappings), func(start, n int) []any {
		args := make([]any, 0, n*4)
		for _, m := range mappings[start : start+n] {
			args = append(args, m.CustomerNumber, m.SDCustomerNumber, boolInt(m.DeletedInYaaS), nowArg)
		}
		return args
	}, nil)
	if err != nil {
		return err
	}
	for _, o := range deletes {
		if _, err := tx.ExecContext(ctx, `DELETE FROM entities WHERE kind = ? AND erp_key = ?`, o.Kind, o.ERPKey); err != nil {
			return outcomeError(o, err)
		}
		if _, err := tx.ExecContext(ctx, insertDeletionSQL, o.Kind, o.ERPKey, o.RemoteID, nullableJSON(o.PreImage),
			string(o.Reason), syncedRun(o), now); err != nil {
			return outcomeError(o, err)
		}
	}
	return nil
}

// unjournaledOutcome names the first outcome of chunk whose op is not journaled.
func unjournaledOutcome(ctx context.Context, tx *sql.Tx, chunk []*Outcome) error {
	for _, o := range chunk {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM ops WHERE run_id = ? AND seq = ? AND kind = ? AND erp_key = ?`,
			o.RunID, o.Seq, o.Kind, o.ERPKey).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return outcomeError(o, errNoSuchOp)
		}
		if err != nil {
			return outcomeError(o, err)
		}
	}
	return errNoSuchOp
}

var errNoSuchOp = errors.New("no such journaled op (run, seq, kind and ERP key must match)")

func syncedRun(o *Outcome) any {
	if o.RunID != 0 {
		return o.RunID
	}
	return nil
}

// repeatTuple is n copies of tuple separated by commas, the VALUES list of a multi-row statement.
func repeatTuple(tuple string, n int) string {
	var b strings.Builder
	b.Grow(n * (len(tuple) + 2))
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// DeleteEntity removes an entity outside a run's journal (e.g. a deletion found on the platform) and writes its
// deletion log entry in the same transaction. entry.RemoteID defaults to the entity's. Returns the log entry id.
func (s *Store) DeleteEntity(ctx context.Context, entry DeletionEntry) (int64, error) {
	if entry.Kind == "" || entry.ERPKey == "" || !entry.Reason.valid() {
		return 0, fmt.Errorf("delete entity %s %q: kind, ERP key and a valid reason are required", entry.Kind, entry.ERPKey)
	}
	if err := s.prepareBatched(ctx); err != nil {
		return 0, err
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
		if err := s.recordChange(ctx, tx, entry.Kind, []indexChange{{key: entry.ERPKey, gone: true}}); err != nil {
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
	opDone, opFailed, upsertEntity, deleteEntity, upsertMapping, logDeletion, upsertImage *sql.Stmt
	all                                                                                   []*sql.Stmt
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
		{&c.upsertEntity, upsertEntitiesSQL.sql(1)},
		{&c.deleteEntity, `DELETE FROM entities WHERE kind = ? AND erp_key = ?`},
		{&c.upsertMapping, upsertMappingSQL},
		{&c.logDeletion, insertDeletionSQL},
		{&c.upsertImage, upsertImagesSQL.sql(1)},
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
	switch o.Action {
	case ActionDelete:
		if _, err := c.deleteEntity.ExecContext(ctx, o.Kind, o.ERPKey); err != nil {
			return err
		}
		if _, err := c.logDeletion.ExecContext(ctx, o.Kind, o.ERPKey, o.RemoteID, nullableJSON(o.PreImage),
			string(o.Reason), syncedRun(o), now); err != nil {
			return err
		}
	default:
		if _, err := c.upsertEntity.ExecContext(ctx, o.Kind, o.ERPKey, o.RemoteID, int64(o.RowHash), syncedRun(o), now,
			int64(o.RawHash), snapshotArg(o)); err != nil {
			return err
		}
		if o.Image != nil {
			if _, err := c.upsertImage.ExecContext(ctx, imageArgs(o)...); err != nil {
				return err
			}
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
		return errNoSuchOp
	}
	return nil
}

// secretPatterns catch credentials that might slip into an error text: bearer tokens and key=value or
// "key": "value" pairs whose key looks secret (password hashes included).
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+`),
	regexp.MustCompile(`(?i)((?:client_secret|access_token|refresh_token|password|passwordHash|secret|token|hash)["']?\s*[:=]\s*["']?)[^\s"'&,}]+`),
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
