package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Restore puts a run's changes back (custsync restore). What a run changed is in the state file (images.go):
// the records it deleted, in the deletion log with their pre-images; the fields its updates changed, before and
// after; the records it created, in its journal with the platform's 201. A restore is a run like an import:
// planned and guarded first, journaled, applied under the same rate limit with --writers in flight, every
// success recorded in the checkpoint, and reported in the same form. It is itself restorable.
//
//   - A deleted record is created again from its pre-image, through the writes an import of its exported row
//     makes. The platform refuses to reuse a deleted customer's number unless the tenant's configuration
//     enableRecreationOfDeletedCustomer is on; that refusal fails the row and says so.
//   - An updated record gets the changed fields back, each only if it still holds what the run wrote: a field
//     someone changed since is a conflict, and the record is left as it is (the row fails, naming the fields).
//   - A created record is deleted only with IncludeCreates, under the --max-delete guard, and only if the
//     platform created it in that run (a create that met an existing record is left alone).
//
// Restored records get row hash 0 in the checkpoint: the next import compares its rows with them field by
// field instead of taking them for unchanged.

// ModeRestore marks the report of a restore.
const ModeRestore Mode = "restore"

// RestoreOptions configure a restore.
type RestoreOptions struct {
	// RunID is the run to put back (see `state runs`); 0 means the most recent import or restore that was
	// applied, with the interrupted runs that import resumed (see Restore).
	RunID int64
	// DryRun plans and reports without writing anything.
	DryRun bool
	// IncludeCreates also deletes the records the run created.
	IncludeCreates bool
	// MaxDelete bounds the deletes of each entity (a restore's deletes are the creates it takes back); the zero
	// value means DefaultDeleteLimit.
	MaxDelete DeleteLimit
	// Writers is the number of requests in flight (default 8).
	Writers int
	// JournalRetention prunes, once the restore has completed, the journals of older runs beyond it, as an
	// import does (Options.JournalRetention); KeepRuns 0 prunes nothing.
	JournalRetention state.JournalRetention
	// Args are recorded with the restore's run for `state runs`, beside the id of the run it restores; they must
	// not hold secrets.
	Args any
	// ExitCode, if set, fills Report.ExitCode.
	ExitCode func(error) int
}

// undoChange is what a restore op puts back.
type undoChange struct {
	// pre is the record as it was before the run deleted it (re-create).
	pre remote.Doc
	// before and after are an update's image (revert).
	before, after map[string]any
	// putBackAlready is set when the record held what the restore puts back (an earlier restore did it): the
	// op changed nothing, is counted unchanged and keeps no image.
	putBackAlready bool
}

// restorePlan is a restore's ops by phase and entity.
type restorePlan struct {
	run       state.Run
	recreate  map[mapping.Entity][]*op
	revert    map[mapping.Entity][]*op
	remove    map[mapping.Entity][]*op
	warnings  []string
	unplanned []rowError // changes that cannot be put back
	// indexes are the checkpoint's indexes the planning and the guards read, loaded once each (nothing is
	// written before the guards decide); released before applying.
	indexes map[mapping.Entity]*state.EntityIndex
}

// index returns the checkpoint's index of entity e, loading it the first time.
func (p *restorePlan) index(ctx context.Context, st *state.Store, e mapping.Entity) (*state.EntityIndex, error) {
	if idx := p.indexes[e]; idx != nil {
		return idx, nil
	}
	idx, err := st.LoadEntityIndex(ctx, string(e), nil)
	if err != nil {
		return nil, err
	}
	if p.indexes == nil {
		p.indexes = map[mapping.Entity]*state.EntityIndex{}
	}
	p.indexes[e] = idx
	return idx, nil
}

func (p *restorePlan) all() []*op {
	var out []*op
	for _, phase := range []map[mapping.Entity][]*op{p.recreate, p.revert, p.remove} {
		for _, e := range applyOrder {
			out = append(out, phase[e]...)
		}
	}
	return out
}

// Restore plans, guards and (unless DryRun) applies the restore of a run. The caller holds the state lock. The
// report is filled as far as the restore got. Errors: ErrInput (no such run, or one that changed nothing),
// ErrSafetyStop (more deletes than --max-delete allows; nothing sent), ErrPartial (some changes could not be put
// back), or a run-fatal error of the remote client or the state.
//
// RunID 0 (`--run last`) puts back the most recent import or restore and, when that import resumed interrupted
// runs, those too: "undo last night" means the writes the interrupted run made before it stopped as well as
// the ones of the run that finished it. Each run is put back by a restore of its own, newest first, as `--run ID`
// would; the report adds them up and lists them in RestoredRuns. A run whose restore stops (not merely
// partial) stops the chain, and the report says which runs were not put back.
func Restore(ctx context.Context, st *state.Store, rc *remote.Client, opts RestoreOptions) (*Report, error) {
	if opts.RunID != 0 {
		return restoreRun(ctx, st, rc, opts)
	}
	start := time.Now()
	chain, err := lastRunChain(ctx, st)
	if err != nil {
		return newRestoreReport(opts).finish(start, rc, opts.ExitCode, err)
	}
	if len(chain) <= 1 {
		if len(chain) == 1 {
			opts.RunID = chain[0]
		}
		return restoreRun(ctx, st, rc, opts) // none: it says there is nothing to put back
	}
	total := newRestoreReport(opts)
	var partial error
	for i, id := range chain {
		opts.RunID = id
		rep, err := restoreRun(ctx, st, rc, opts)
		total.addRestore(rep)
		switch {
		case errors.Is(err, ErrPartial):
			partial = err
		case err != nil:
			total.Stopped = fmt.Sprintf("the restore of run %d stopped: %v", id, err)
			if left := chain[i+1:]; len(left) > 0 {
				total.Stopped += fmt.Sprintf("; runs %s were not put back (custsync restore --run ID, each in turn)", joinIDs(left))
			}
			return total.finish(start, rc, opts.ExitCode, err)
		}
	}
	return total.finish(start, rc, opts.ExitCode, partial)
}

// newRestoreReport is the empty report of a restore.
func newRestoreReport(opts RestoreOptions) *Report {
	return &Report{DryRun: opts.DryRun, Mode: ModeRestore, Entities: map[mapping.Entity]*Counts{}}
}

// addRestore adds the report of one run's restore to the report of a chain of them.
func (r *Report) addRestore(one *Report) {
	for e, c := range one.Entities {
		r.entity(e).add(*c)
	}
	r.RunID = one.RunID
	r.RestoredRuns = append(r.RestoredRuns, one.RestoredRuns...)
	r.Changes = append(r.Changes, one.Changes...)
	r.Warnings = append(r.Warnings, one.Warnings...)
	r.JournalsPruned += one.JournalsPruned
	for _, f := range one.Failures {
		if len(r.Failures) < maxReportedFailures {
			r.Failures = append(r.Failures, f)
		}
	}
}

// lastRunChain is what `--run last` puts back, newest first: the most recent import or restore that was applied,
// then the interrupted run it resumed (state.Store.TakeOverRun), and the one that run resumed, and so on.
func lastRunChain(ctx context.Context, st *state.Store) ([]int64, error) {
	runs, err := st.ListRuns(ctx, 0)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(runs, func(r state.Run) bool {
		return (r.Kind == "import" || r.Kind == "restore") && r.Status != state.RunPlanned
	})
	if i < 0 {
		return nil, nil
	}
	chain := []int64{runs[i].ID}
	for next := runs[i].ResumedRun; next != 0; {
		// Runs are listed newest first and a run only resumes an earlier one, so the search goes on from i.
		j := slices.IndexFunc(runs[i+1:], func(r state.Run) bool { return r.ID == next })
		if j < 0 {
			break // its row is gone: there is no journal left to put back
		}
		i += 1 + j
		chain = append(chain, next)
		next = runs[i].ResumedRun
	}
	return chain, nil
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// restoreRun plans, guards and (unless DryRun) applies the restore of one run (RunID 0: the most recent import
// or restore, whose absence it reports).
func restoreRun(ctx context.Context, st *state.Store, rc *remote.Client, opts RestoreOptions) (*Report, error) {
	if !opts.MaxDelete.given() {
		opts.MaxDelete = DefaultDeleteLimit
	}
	if opts.Writers <= 0 {
		opts.Writers = 8
	}
	start := time.Now()
	rep := newRestoreReport(opts)
	finish := func(err error) (*Report, error) { return rep.finish(start, rc, opts.ExitCode, err) }

	if !opts.DryRun {
		// Before planning: the deletes an interrupted run made are then in the deletion log to be put back, and
		// gone from the checkpoint.
		if err := settleInterruptedDeletes(ctx, st, rc, rep); err != nil {
			return finish(err)
		}
	}
	p, err := planRestore(ctx, st, opts)
	if err != nil {
		return finish(err)
	}
	rep.RestoredRuns = []int64{p.run.ID}
	rep.Warnings = append(rep.Warnings, p.warnings...)
	// Before the guard, which counts the deletes the restore makes: reads alone, nothing is written.
	refusals, err := p.refuseDeletesOfKeptRecords(ctx, st, rc)
	if err != nil {
		return finish(err)
	}
	for _, re := range slices.Concat(p.unplanned, refusals) {
		rep.entity(re.entity).Failed++
		rep.addFailure(re)
	}
	for e, ops := range p.remove {
		idx, err := p.index(ctx, st, e)
		if err != nil {
			return finish(err)
		}
		if allowed := opts.MaxDelete.Allowed(idx.Len()); len(ops) > allowed {
			return finish(&GuardError{Entity: e, Reason: fmt.Sprintf("the restore deletes %d of %d synced %s that run %d created, more than --max-delete %s allows (%d); nothing was deleted",
				len(ops), idx.Len(), e, p.run.ID, opts.MaxDelete, allowed)})
		}
	}
	p.indexes = nil
	if opts.DryRun {
		for _, o := range p.all() {
			c := rep.entity(o.entity)
			switch o.Action {
			case state.ActionCreate:
				c.Created++
			case state.ActionUpdate:
				c.Updated++
			case state.ActionDelete:
				c.Deleted++
			}
			rep.Changes = append(rep.Changes, restoreChange(o))
		}
		return finish(partialIf(rep, "dry run: "))
	}

	runID, err := st.BeginRun(ctx, "restore", map[string]any{"restores": p.run.ID, "options": opts.Args})
	if err != nil {
		return finish(err)
	}
	rep.RunID = runID
	// What the run left unsent is not sent by a later import once the run is put back (only the most recent run
	// resumes, and that is this restore now); closed, its journal no longer looks like one a resume needs.
	if _, err := st.SkipPendingOps(ctx, p.run.ID, "", fmt.Sprintf("not resumed: restore run %d puts run %d back", runID, p.run.ID)); err != nil {
		return finish(err)
	}
	j, err := st.BeginJournal(ctx, runID)
	if err != nil {
		return finish(err)
	}
	for _, o := range p.all() {
		if o.seq, err = j.Add(o.PlannedOp); err != nil {
			j.Abort()
			return finish(fmt.Errorf("journal the restore: %w", err))
		}
	}
	if err := j.Close(); err != nil {
		return finish(err)
	}

	r := newRunner(st, rc, &Options{Writers: opts.Writers}, runID, nil)
	r.restoring = p.run.ID
	runErr := r.restore(ctx, p)
	if err := r.stopCommitter(); err != nil && runErr == nil {
		runErr = &errFatal{err: fmt.Errorf("record outcomes in the checkpoint: %w", err)}
	}
	r.mu.Lock()
	for e, c := range r.counts {
		rep.entity(e).add(*c)
	}
	for _, re := range r.rowErrors {
		rep.addFailure(re)
	}
	r.mu.Unlock()
	for _, o := range p.all() {
		rep.entity(o.entity) // every planned entity is in the report
	}
	status := state.RunCompleted
	switch {
	case errors.Is(runErr, context.Canceled), errors.Is(runErr, context.DeadlineExceeded):
		status, rep.Stopped = state.RunInterrupted, "interrupted; run the restore again to finish it"
	case runErr != nil:
		status = state.RunFailed
	}
	rep.total()
	if status == state.RunCompleted && opts.JournalRetention.KeepRuns > 0 {
		pruneJournals(ctx, st, opts.JournalRetention, rep)
	}
	err = runErr
	if err == nil {
		err = partialIf(rep, "")
	}
	rep, _ = finish(err)
	if ferr := st.FinishRun(context.WithoutCancel(ctx), runID, status, rep); ferr != nil && runErr == nil {
		return finish(ferr)
	}
	return rep, err
}

// partialIf is ErrPartial when changes could not be put back.
func partialIf(rep *Report, prefix string) error {
	rep.total()
	if rep.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s%d changes cannot be put back (see the failures)", ErrPartial, prefix, rep.Failed)
}

func restoreChange(o *op) PlannedChange {
	pc := PlannedChange{Entity: string(o.entity), Key: o.ERPKey, Action: string(o.Action) + " (restore)"}
	if o.Action == state.ActionUpdate {
		for _, path := range slices.Sorted(maps.Keys(o.undo.after)) {
			pc.Fields = append(pc.Fields, mapping.FieldChange{Path: path, Old: o.undo.after[path], New: o.undo.before[path]})
		}
	}
	return pc
}

// planRestore reads what the run changed and turns it into the ops that put it back.
func planRestore(ctx context.Context, st *state.Store, opts RestoreOptions) (*restorePlan, error) {
	if opts.RunID == 0 { // Restore found no run for --run last (lastRunChain)
		return nil, fmt.Errorf("%w: the state file has no import or restore that changed the platform", ErrInput)
	}
	run, ok, err := st.GetRun(ctx, opts.RunID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: the state file has no run %d (custsync state runs lists them)", ErrInput, opts.RunID)
	}
	if run.Kind != "import" && run.Kind != "restore" {
		return nil, fmt.Errorf("%w: run %d is a %s, which changes nothing on the platform", ErrInput, run.ID, run.Kind)
	}
	if run.Status == state.RunPlanned {
		return nil, fmt.Errorf("%w: run %d was planned but never applied; there is nothing to restore", ErrInput, run.ID)
	}
	if run.JournalPruned() {
		// Its deletion log entries stay, but without the journal a restore would put back the deletes and not
		// the updates and creates: a half restore that looks whole.
		return nil, fmt.Errorf("%w: run %d cannot be restored: its journal (what it created and updated) was pruned on %s under the journal retention (--journal-keep-runs); its deletions are still in the deletion log (custsync deletions export)",
			ErrInput, run.ID, run.JournalPrunedAt.UTC().Format(time.DateOnly))
	}
	p := &restorePlan{run: run, recreate: map[mapping.Entity][]*op{}, revert: map[mapping.Entity][]*op{}, remove: map[mapping.Entity][]*op{}}
	newOp := func(kind, key, remoteID string, action state.Action) (*op, bool) {
		e, err := mapping.ParseEntity(kind)
		if err != nil {
			return nil, false
		}
		return &op{PlannedOp: state.PlannedOp{Kind: kind, ERPKey: key, RemoteID: remoteID, Action: action}, entity: e, undo: &undoChange{}}, true
	}
	var alreadyGone int
	err = st.ScanDeletions(ctx, state.DeletionFilter{RunID: run.ID, IncludeAcked: true}, func(d state.DeletionEntry) error {
		if d.Reason == state.ReasonDeletedInPlatform {
			return nil // found deleted, not deleted by the run
		}
		o, ok := newOp(d.Kind, d.ERPKey, d.RemoteID, state.ActionCreate)
		if !ok {
			return nil
		}
		if len(d.PreImage) == 0 {
			alreadyGone++ // the record was gone before the run's delete: there is nothing to put back
			return nil
		}
		if err := decodeJSON(d.PreImage, &o.undo.pre); err != nil || o.undo.pre == nil {
			p.unplanned = append(p.unplanned, rowError{entity: o.entity, key: d.ERPKey, action: "restore",
				reason: fmt.Sprintf("the deletion log's record of %s as it was cannot be read, so it cannot be created again", d.RemoteID)})
			return nil
		}
		p.recreate[o.entity] = append(p.recreate[o.entity], o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if alreadyGone > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%d deletes of run %d found their record gone already; there is nothing to create again", alreadyGone, run.ID))
	}
	imaged := map[int64]bool{}
	err = st.ScanUpdateImages(ctx, run.ID, func(im state.UpdateImageRow) error {
		o, ok := newOp(im.Kind, im.ERPKey, im.RemoteID, state.ActionUpdate)
		if !ok {
			return nil
		}
		if err := decodeJSON(im.Before, &o.undo.before); err != nil {
			return fmt.Errorf("update image of %s %q: %w", im.Kind, im.ERPKey, err)
		}
		if err := decodeJSON(im.After, &o.undo.after); err != nil {
			return fmt.Errorf("update image of %s %q: %w", im.Kind, im.ERPKey, err)
		}
		imaged[im.Seq] = true
		p.revert[o.entity] = append(p.revert[o.entity], o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var noImage, existed, createsLeft int
	var existedKeys []string
	removedAlong := map[string][]state.RemovedRow{} // by the deleted customer's key
	err = st.ScanOps(ctx, run.ID, state.OpFilter{Status: state.OpDone}, func(j state.Op) error {
		if j.Action == state.ActionDelete && j.Kind == string(mapping.Customers) && len(j.RemovedAlong) > 0 {
			removedAlong[j.ERPKey] = j.RemovedAlong
		}
		switch {
		case j.Action == state.ActionUpdate && !imaged[j.Seq]:
			noImage++
		case j.Action == state.ActionCreate && j.HTTPStatus != 201:
			existed++
			if len(existedKeys) < maxMergedKeys {
				existedKeys = append(existedKeys, j.Kind+" "+j.ERPKey)
			}
		case j.Action == state.ActionCreate && !opts.IncludeCreates:
			createsLeft++
		case j.Action == state.ActionCreate:
			if o, ok := newOp(j.Kind, j.ERPKey, j.RemoteID, state.ActionDelete); ok {
				o.Reason = state.ReasonRestore
				p.remove[o.entity] = append(p.remove[o.entity], o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if noImage > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%d updates of run %d kept no image of what they changed (made by an older custsync, or changing nothing on the platform) and are not reverted", noImage, run.ID))
	}
	if createsLeft > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%d records run %d created are kept (--include-creates deletes them)", createsLeft, run.ID))
	}
	if existed > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%d creates of run %d met a record the platform had already (or were made by an older custsync) and are not deleted; what those records held before the run was not kept, so it cannot be put back: %s",
			existed, run.ID, keysText(existedKeys, existed)))
	}
	if err := p.dropSettled(ctx, st); err != nil {
		return nil, err
	}
	p.recreateSyncedAddresses(removedAlong)
	slices.Reverse(p.remove[mapping.Companies]) // created parents first, so deleted children first
	return p, nil
}

// dropSettled leaves out what the checkpoint shows settled since the run: a record it deleted that the
// checkpoint holds again (put back by an earlier restore, or imported since), and a record it created that the
// checkpoint no longer holds (deleted since). Neither is a change to make, nor a failure.
func (p *restorePlan) dropSettled(ctx context.Context, st *state.Store) error {
	synced := func(o *op) (bool, error) {
		idx, err := p.index(ctx, st, o.entity)
		if err != nil {
			return false, err
		}
		i, ok := idx.Lookup(o.ERPKey)
		return ok && idx.Ref(i).RemoteID == o.RemoteID, nil
	}
	var putBack, goneSince int
	for _, phase := range []struct {
		ops     map[mapping.Entity][]*op
		settled bool // whether a synced record is settled
		count   *int
	}{{p.recreate, true, &putBack}, {p.remove, false, &goneSince}} {
		for e, ops := range phase.ops {
			var kept []*op
			for _, o := range ops {
				ok, err := synced(o)
				if err != nil {
					return err
				}
				if ok == phase.settled {
					*phase.count++
					continue
				}
				kept = append(kept, o)
			}
			phase.ops[e] = kept
		}
	}
	if putBack > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("run %d's deletes: %s in the checkpoint again (put back already, or imported since), left as it is",
			p.run.ID, state.Count(putBack, "record", "records")))
	}
	if goneSince > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("run %d's creates: %s deleted since, there is nothing to delete",
			p.run.ID, state.Count(goneSince, "record", "records")))
	}
	return nil
}

// refuseDeletesOfKeptRecords leaves out, returning them as failed rows, the deletes of created records that
// records the restore keeps depend on: a company with subsidiaries that stay on the platform (a later run may
// have created one under it; the platform would delete it along), then a location a kept company still lists.
// The companies go first, for a company whose delete is refused keeps listing its locations; a refusal found
// only right before the delete (runner.keepsSubsidiaries) would come after its locations were gone.
func (p *restorePlan) refuseDeletesOfKeptRecords(ctx context.Context, st *state.Store, rc *remote.Client) ([]rowError, error) {
	reasons, err := companiesKeepingSubsidiaries(ctx, rc, p.remove[mapping.Companies])
	if err != nil {
		return nil, err
	}
	var refusals []rowError
	p.remove[mapping.Companies] = slices.DeleteFunc(p.remove[mapping.Companies], func(o *op) bool {
		reason, ok := reasons[o]
		if ok {
			refusals = append(refusals, refusedDelete(o, reason))
		}
		return ok
	})
	listed, err := p.keepListedLocations(ctx, st)
	if err != nil {
		return nil, err
	}
	return append(refusals, listed...), nil
}

// keepListedLocations leaves out, returning them as failed rows, the deletes of created locations that a
// company the checkpoint holds (and the restore keeps) still lists: the platform would take them off the company
// unseen, as an import refuses (refuseListedLocations).
func (p *restorePlan) keepListedLocations(ctx context.Context, st *state.Store) ([]rowError, error) {
	if len(p.remove[mapping.Locations]) == 0 {
		return nil, nil
	}
	idx, err := p.index(ctx, st, mapping.Companies)
	if err != nil {
		return nil, err
	}
	leaving := map[string]bool{}
	for _, o := range p.remove[mapping.Companies] {
		leaving[o.ERPKey] = true
	}
	listers, err := checkpointListers(ctx, st, idx, func(k string) bool { return leaving[k] })
	if err != nil {
		return nil, err
	}
	var refusals []rowError
	p.remove[mapping.Locations] = slices.DeleteFunc(p.remove[mapping.Locations], func(o *op) bool {
		companies := listers[o.RemoteID]
		if len(companies) == 0 {
			return false
		}
		slices.Sort(companies)
		refusals = append(refusals, refusedDelete(o, companiesList(slices.Compact(companies))))
		return true
	})
	return refusals, nil
}

// keepLocationsOfKeptCompanies fails, before the locations' deletes, those of locations that a company lists which
// the restore meant to delete and kept after all (its delete failed, or the platform held a subsidiary of it
// by then): planning let them through because that company was leaving (keepListedLocations), and deleting
// them now would take them off the company unseen. The companies' deletes are made by now (locations go last).
func (r *runner) keepLocationsOfKeptCompanies(ctx context.Context, p *restorePlan) error {
	if len(p.remove[mapping.Locations]) == 0 {
		return nil
	}
	var kept []string
	r.mu.Lock()
	for _, o := range p.remove[mapping.Companies] {
		if !r.deletedCompanies[o.RemoteID] {
			kept = append(kept, o.ERPKey)
		}
	}
	r.mu.Unlock()
	listers, err := listersOf(ctx, r.st, kept)
	if err != nil {
		return err
	}
	p.remove[mapping.Locations] = slices.DeleteFunc(p.remove[mapping.Locations], func(o *op) bool {
		companies := listers[o.RemoteID]
		if len(companies) == 0 {
			return false
		}
		slices.Sort(companies)
		r.fail(o, 0, companiesList(slices.Compact(companies)))
		return true
	})
	return nil
}

// recreateSyncedAddresses gives each address of a customer to re-create that the checkpoint held before the
// delete (removedAlong, by the customer's key) an op of its own, written after the customer from the customer's
// pre-image and recorded in the checkpoint under its ERP key, as a deleted address is: otherwise its row would be
// missing from the checkpoint and the next import would write the address again. The customer's op keeps the
// addresses custsync never synced; it writes them without recording them.
func (p *restorePlan) recreateSyncedAddresses(removedAlong map[string][]state.RemovedRow) {
	for _, c := range p.recreate[mapping.Customers] {
		byID := map[string]state.RemovedRow{}
		for _, row := range removedAlong[c.ERPKey] {
			if _, addressID, ok := splitAddressID(row.RemoteID); ok && row.Kind == string(mapping.Addresses) {
				byID[addressID] = row
			}
		}
		if len(byID) == 0 {
			continue
		}
		addrs, _ := c.undo.pre["addresses"].([]any)
		var unsynced []any
		for _, a := range addrs {
			addr, _ := a.(map[string]any)
			id, _ := addr["id"].(string)
			row, ok := byID[id]
			if !ok {
				unsynced = append(unsynced, a)
				continue
			}
			p.recreate[mapping.Addresses] = append(p.recreate[mapping.Addresses], &op{
				PlannedOp: state.PlannedOp{Kind: row.Kind, ERPKey: row.ERPKey, RemoteID: row.RemoteID, Action: state.ActionCreate},
				entity:    mapping.Addresses, undo: &undoChange{pre: addr},
				// The customer's op runs first; if it fails, the address fails naming it (runner.blockedBy).
				rec: mapping.Record{Refs: []mapping.Ref{{Entity: mapping.Customers, Key: c.ERPKey}}}})
		}
		pre := maps.Clone(c.undo.pre)
		pre["addresses"] = unsynced
		c.undo.pre = pre
	}
}

func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// companyLevels groups the companies to re-create so that a parent among them is in a level before its
// subsidiaries' (each level is one phase).
func companyLevels(ops []*op) [][]*op {
	byID := map[string]*op{}
	for _, o := range ops {
		byID[o.RemoteID] = o
	}
	depth := func(o *op) int {
		d := 0
		for seen := map[*op]bool{o: true}; ; d++ {
			parent, _ := o.undo.pre["parentId"].(string)
			if o = byID[parent]; o == nil || seen[o] {
				return d
			}
			seen[o] = true
		}
	}
	var levels [][]*op
	for _, o := range ops {
		d := depth(o)
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], o)
	}
	return levels
}

// restore applies the plan: records re-created in dependency order, then the reverted updates, then the
// deletes of created records, children first.
func (r *runner) restore(ctx context.Context, p *restorePlan) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	r.startCommitter(ctx)
	for _, e := range applyOrder {
		levels := [][]*op{p.recreate[e]}
		if e == mapping.Companies {
			levels = companyLevels(p.recreate[e])
		}
		for _, ops := range levels {
			if err := r.runPhase(ctx, ops, r.recreate); err != nil {
				return err
			}
		}
	}
	for _, e := range applyOrder {
		if err := r.runPhase(ctx, p.revert[e], r.revert); err != nil {
			return err
		}
	}
	for _, e := range slices.Backward(applyOrder) {
		if e == mapping.Locations {
			if err := r.keepLocationsOfKeptCompanies(ctx, p); err != nil {
				return err
			}
		}
		levels := [][]*op{p.remove[e]}
		if e == mapping.Companies {
			// One at a time, in reverse journal order: the run created parents first, so subsidiaries go first.
			levels = nil
			for _, o := range p.remove[e] {
				levels = append(levels, []*op{o})
			}
		}
		for _, ops := range levels {
			if err := r.runPhase(ctx, ops, r.deleteFunc(e)); err != nil {
				return err
			}
		}
	}
	return nil
}

// recreate creates a deleted record again from its pre-image. A record of that id that exists again (created
// since) is not overwritten.
func (r *runner) recreate(ctx context.Context, o *op) (state.Outcome, error) {
	pre := o.undo.pre
	customerID, addressID, _ := splitAddressID(o.RemoteID)
	_, err := r.getRecord(ctx, o.entity, o.RemoteID)
	switch {
	case err == nil:
		return state.Outcome{}, fmt.Errorf("%s %s exists on the platform again (created since run %d deleted it); it is left as it is", singular(o.entity), o.RemoteID, r.restoring)
	case !remote.IsNotFound(err):
		return state.Outcome{}, err
	}
	keys := map[string]string{}
	switch o.entity {
	case mapping.Addresses:
		parts := mapping.SplitKey(o.ERPKey, 2)
		if len(parts) != 2 {
			return state.Outcome{}, fmt.Errorf("address key %q names no customer", o.ERPKey)
		}
		keys[mapping.CustomerKeyColumn], keys[mapping.AddressKeyColumn] = parts[0], parts[1]
	case mapping.Customers:
		keys[mapping.CustomerKeyColumn] = o.ERPKey
	case mapping.Companies:
		keys[mapping.CompanyKeyColumn] = o.RemoteID
	case mapping.Locations:
		keys[mapping.LocationKeyColumn] = o.RemoteID
	}
	rec, err := recordOf(o.entity, pre, keys)
	if err != nil {
		return state.Outcome{}, fmt.Errorf("the record as it was cannot be written again: %w", err)
	}
	rec.RemoteID = o.RemoteID
	o.rec = rec
	if o.entity == mapping.Addresses {
		// Written as the platform held it; the checkpoint gets the mapped fields of that, as after an import of
		// its exported row, so that the next import of the row finds nothing to change.
		if _, err := r.rc.UpsertAddress(ctx, customerID, addressID, addressCreateShape(pre)); err != nil {
			return state.Outcome{}, err
		}
		return writtenOutcome(o, true, nil, nil, nil)
	}
	if o.entity != mapping.Customers {
		return r.applyManagement(ctx, o)
	}
	if _, err := r.createCustomer(ctx, o.RemoteID, rec); err != nil {
		if remote.IsConflict(err) {
			return state.Outcome{}, fmt.Errorf("the platform refuses to reuse the number of a deleted customer unless the tenant's configuration enableRecreationOfDeletedCustomer is true: %w", err)
		}
		return state.Outcome{}, err
	}
	addrs, _ := pre["addresses"].([]any)
	for _, a := range addrs {
		addr, _ := a.(map[string]any)
		id, _ := addr["id"].(string)
		if id == "" {
			continue
		}
		if _, err := r.rc.UpsertAddress(ctx, o.RemoteID, id, addressCreateShape(addr)); err != nil {
			return state.Outcome{}, fmt.Errorf("customer created again, but its address %s: %w", id, err)
		}
	}
	return writtenOutcome(o, true, nil, nil, nil)
}

// addressCreateShape is an address as the platform returned it, as an AddressUpdateDto that creates it: no id,
// of the metadata only the mixin links.
func addressCreateShape(doc map[string]any) map[string]any {
	out := addressRequestShape(doc)
	if md, ok := out["metadata"].(map[string]any); ok {
		delete(md, "version")
		if len(md) == 0 {
			delete(out, "metadata")
		}
	}
	return out
}

// recordOf turns a record as the platform held it into the record an import of its exported row maps (the
// default columns and id templates, the record's own ids as keys): writing it creates the record again.
func recordOf(e mapping.Entity, doc remote.Doc, keys map[string]string) (mapping.Record, error) {
	if e == mapping.Companies {
		doc = withoutPlatformGroups(doc)
	}
	mixins, err := mapping.ExportCells(e, doc)
	if err != nil {
		return mapping.Record{}, err
	}
	names := make([]string, len(mixins))
	for i, m := range mixins {
		names[i] = m.Column
	}
	header, at := entityHeader(e, names)
	row := mapping.ExportRow(e, doc, keys, nil, "")
	cells := append(append([]string(nil), row[:at]...), make([]string, len(mixins))...)
	for i, m := range mixins {
		cells[at+i] = m.Text
	}
	cells = append(cells, row[at:]...)
	mappers, err := mapping.Resolve(mapping.DefaultSpec(), mapping.Table{File: "pre-image", Entity: e}, header)
	if err != nil {
		return mapping.Record{}, err
	}
	rec, errs := mappers[0].Map(formats.Position{}, cells)
	if len(errs) > 0 {
		parts := make([]string, len(errs))
		for i, fe := range errs {
			parts[i] = fe.Detail()
		}
		return mapping.Record{}, errors.New(strings.Join(parts, "; "))
	}
	return rec, nil
}

// revert puts an update's fields back where the record still holds what the update wrote.
func (r *runner) revert(ctx context.Context, o *op) (state.Outcome, error) {
	var current remote.Doc
	var err error
	calls := r.managementCalls(o.entity)
	for attempt := 0; ; attempt++ {
		if current, err = r.getRecord(ctx, o.entity, o.RemoteID, "mixin:*"); err != nil {
			if remote.IsNotFound(err) {
				return state.Outcome{}, fmt.Errorf("%s %s no longer exists on the platform: %w", singular(o.entity), o.RemoteID, err)
			}
			return state.Outcome{}, err
		}
		changes, err := revertedFields(current, o.undo, r.runID)
		if err != nil {
			return state.Outcome{}, err
		}
		o.undo.putBackAlready = len(changes) == 0
		if len(changes) > 0 {
			err = r.putBack(ctx, o, calls, current, changes)
			if remote.IsConflict(err) && o.entity != mapping.Customers && attempt < maxVersionRetries {
				continue // changed since we read it: read again
			}
			if err != nil {
				return state.Outcome{}, err
			}
		}
		break
	}
	return r.revertedOutcome(ctx, o)
}

// revertedFields returns the fields to put back (path -> value before the run, nil: none) and fails when a
// field changed since the run: it holds neither what the run wrote nor what was there before.
func revertedFields(current map[string]any, u *undoChange, runID int64) (map[string]any, error) {
	changes := map[string]any{}
	var conflicts []string
	for _, path := range slices.Sorted(maps.Keys(u.after)) {
		now, _ := mapping.PathValue(current, path)
		switch {
		case mapping.SameValue(now, u.after[path]):
			changes[path] = u.before[path]
		case mapping.SameValue(now, u.before[path]):
			// put back already
		default:
			text, _ := json.Marshal(now)
			conflicts = append(conflicts, fmt.Sprintf("%s (now %s)", path, text))
		}
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("changed since the run wrote it, so it is left as it is: %s", strings.Join(conflicts, ", "))
	}
	return changes, nil
}

// putBack writes the fields before the run: a customer by a patch of those fields, the others (which have no
// patch that clears) by writing the current record back with them.
func (r *runner) putBack(ctx context.Context, o *op, calls managementCalls, current remote.Doc, changes map[string]any) error {
	if o.entity == mapping.Customers {
		body := map[string]any{}
		for path, v := range changes {
			mapping.SetPath(body, path, v, false)
		}
		return updateCustomer(ctx, r.rc, o.RemoteID, body)
	}
	doc := deepClone(current)
	for path, v := range changes {
		mapping.SetPath(doc, path, v, v == nil)
	}
	if o.entity == mapping.Addresses {
		customerID, addressID, _ := splitAddressID(o.RemoteID)
		_, err := r.rc.UpsertAddress(ctx, customerID, addressID, addressRequestShape(doc))
		return err
	}
	body := requestShape(doc)
	keepPlatformGroups(body, current)
	_, err := calls.upsert(ctx, o.RemoteID, body)
	return err
}

// revertedOutcome is the checkpoint row of a reverted record: its snapshot with the fields put back, row hash
// 0 (the next import compares its row field by field), and the image of the revert, so that it can be undone;
// a record that held those fields already gets no image, as there is nothing to undo.
func (r *runner) revertedOutcome(ctx context.Context, o *op) (state.Outcome, error) {
	snaps, err := r.st.Snapshots(ctx, o.Kind, []string{o.ERPKey})
	if err != nil {
		return state.Outcome{}, &errFatal{err: err}
	}
	snap := map[string]any{}
	if raw := snaps[o.ERPKey]; len(raw) > 0 {
		if err := decodeJSON(raw, &snap); err != nil {
			return state.Outcome{}, err
		}
	}
	for path, v := range o.undo.before {
		mapping.SetPath(snap, path, v, v == nil)
	}
	rawSnap, err := json.Marshal(snap)
	if err != nil {
		return state.Outcome{}, err
	}
	before, errB := json.Marshal(o.undo.after)
	after, errA := json.Marshal(o.undo.before)
	if errB != nil || errA != nil {
		return state.Outcome{}, errors.Join(errB, errA)
	}
	out := state.Outcome{RemoteID: o.RemoteID, Snapshot: rawSnap}
	if !o.undo.putBackAlready {
		out.Image = &state.UpdateImage{Before: before, After: after}
	}
	if o.entity == mapping.Customers {
		out.Mapping = &state.SDMapping{CustomerNumber: o.RemoteID, SDCustomerNumber: o.ERPKey}
	}
	return out, nil
}

func deepClone(doc map[string]any) map[string]any {
	b, err := json.Marshal(doc)
	if err != nil {
		return maps.Clone(doc)
	}
	var out map[string]any
	if decodeJSON(b, &out) != nil {
		return maps.Clone(doc)
	}
	return out
}
