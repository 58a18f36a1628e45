package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Import reads the files of opts, plans the changes against the checkpoint, checks the guards and, unless it is
// a dry run, applies the plan to the platform and records every success in the checkpoint. The caller holds the
// state lock.
//
// The returned report is filled as far as the run got, also when an error is returned. Errors: ErrInput (a file
// or header is wrong; nothing sent), ErrSafetyStop (a guard tripped; nothing sent), ErrPartial (some rows
// failed), context.Canceled or context.DeadlineExceeded (interrupted; the next run resumes), or a run-fatal
// error from the remote client or the state.
func Import(ctx context.Context, st *state.Store, rc *remote.Client, opts Options) (*Report, error) {
	opts.normalise()
	start := time.Now()
	rep := &Report{DryRun: opts.DryRun, Mode: opts.Mode, Entities: map[mapping.Entity]*Counts{}, Drift: map[mapping.Entity]*Drift{}}
	finish := func(err error) (*Report, error) { return rep.finish(start, rc, opts.ExitCode, err) }

	// The checkpoint's pages come into memory while the input is read, not one random read at a time later.
	warmCtx, stopWarming := context.WithCancel(ctx)
	defer stopWarming()
	st.WarmPageCache(warmCtx)

	in, err := OpenInput(opts.input())
	if err != nil {
		return finish(err)
	}
	defer func() { // a plan made again reads the input again
		if in != nil {
			in.Close()
		}
	}()
	sealer, err := newAccountSealer()
	if err != nil {
		return finish(err)
	}
	if !opts.DryRun {
		// Before the plan reads the checkpoint: a delete the interrupted run made is not planned again.
		if err := settleInterruptedDeletes(ctx, st, rc, rep); err != nil {
			return finish(err)
		}
	}
	// Nothing is sent before every file was read and judged: a damaged file stops the run with no request.
	stream := newOpStream(st, &opts, sealer)
	// stopUnjournaled ends a run (runID, 0 if none was recorded) whose plan was not made or not journaled in
	// full: no later run resumes its ops, the next plans again. A signal or --max-duration that cut it short
	// interrupted it (exit 130) rather than failed it, even where the state write it cut reports only its own
	// error.
	stopUnjournaled := func(runID int64, err error) (*Report, error) {
		status := state.RunFailed
		if ctxErr := ctx.Err(); ctxErr != nil {
			status = state.RunInterrupted
			if !errors.Is(err, ctxErr) {
				err = fmt.Errorf("%w: %w", ctxErr, err)
			}
			rep.Stopped = "interrupted while planning, nothing was written to the platform; the next run plans again"
			if errors.Is(ctxErr, context.DeadlineExceeded) {
				rep.Stopped = "--max-duration reached while planning, nothing was written to the platform; the next run plans again"
			}
		}
		rep.RunID = runID
		rep, err = finish(err)
		stream.abandon()
		if runID != 0 {
			_ = st.FinishRun(context.WithoutCancel(ctx), runID, status, rep)
		}
		return rep, err
	}
	retention := &retentionCheck{}
	p, err := buildPlan(ctx, st, rc, &opts, in, stream, retention)
	if err == nil {
		err = retention.settle(ctx, rc)
	}
	if err == nil && opts.DetectDeletions && !opts.DryRun {
		var deleted int
		deleted, err = detectDeletions(ctx, st, rc)
		rep.DeletedInPlatform = deleted
		if err == nil && deleted > 0 {
			// The plan took those customers for synced: plan again, so that their rows are held.
			in.Close()
			if in, err = OpenInput(opts.input()); err == nil {
				err = stream.restart(ctx)
			}
			if err == nil {
				retention.forget()
				p.close()
				p, err = buildPlan(ctx, st, rc, &opts, in, stream, retention)
			}
			if err == nil {
				err = retention.settle(ctx, rc)
			}
		}
	}
	if err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	defer func() { p.close() }() // p as it is at return: a plan made again replaces it
	if err := adoptManagement(p); err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	if err := verifyManagement(p); err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	planLinks(p)
	if err := loadDiffs(ctx, st, p); err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	orderCompanies(p)
	if err := orderCompanyDeletes(ctx, st, p); err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	if err := refuseListedLocations(ctx, st, p); err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	if opts.DryRun && opts.Live {
		if err := refuseLiveSubsidiaries(ctx, rc, p); err != nil {
			return stopUnjournaled(stream.runID, err)
		}
	}
	rep.Rows = p.rows
	rep.Warnings = append(rep.Warnings, p.warnings...)
	if p.loginsIgnored > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d rows carry a login for a customer custsync synced before (or adopted): a login is imported only with a new customer, so these were not sent (passwords of existing customers are not changed)", p.loginsIgnored))
	}
	if p.leftOut > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("check --fix left alone %s the check did not find different (counted as ignored; import writes those)",
			state.Count(p.leftOut, "row", "rows")))
	}
	driftReport(rep, p)
	if opts.Verify && opts.DryRun && !opts.Live {
		rep.Warnings = append(rep.Warnings, "--verify: this dry run did not read the live records, so it lists only what differs from the checkpoint (add --live)")
	}
	if opts.Adopt && opts.DryRun && !opts.Live {
		rep.Warnings = append(rep.Warnings, "--adopt: this dry run did not ask the platform, so rows it would adopt are listed as creates (add --live to look them up)")
	}
	if err := p.keysErr(); err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	entityCounts(rep, p)
	reportInvalid(rep, p)
	if err := checkGuards(p, &opts); err != nil {
		// The journal written so far stays as a plan that was never applied; no later run resumes it.
		rep.RunID = stream.runID
		rep, err = finish(err)
		if serr := stream.shelve(ctx, rep); serr != nil {
			return finish(serr)
		}
		return rep, err
	}
	if opts.DryRun {
		dryRunCounts(rep, p, &opts)
		rep.total()
		if rep.Failed > 0 {
			// The dry run answers like the real run would: a cron job or a script that rehearses with
			// --dry-run must see the invalid rows in the exit code, not only in the text.
			return finish(fmt.Errorf("%w: dry run: %d of %d rows are invalid; the real run would fail them too%s (exit 3)",
				ErrPartial, rep.Failed, rep.Rows, heldText(rep.DeletesHeld)))
		}
		return finish(nil)
	}

	runID := stream.runID
	if runID == 0 {
		if runID, err = st.BeginRun(ctx, "import", opts.Args); err != nil {
			return finish(err)
		}
	}
	rep.RunID = runID
	if err := supersedePreviousRun(ctx, st, runID, rep); err != nil {
		return stopUnjournaled(stream.runID, err)
	}
	if err := journal(ctx, st, runID, p, stream.j); err != nil {
		return stopUnjournaled(runID, err)
	}

	r := newRunner(st, rc, &opts, runID, sealer)
	r.resumes = rep.ResumedRun != 0
	if opts.ResultsDir != "" {
		r.results = newResultSpill(opts.ResultsDir, p.sources, opts.resultRunBytes)
		defer r.results.remove()
		// The rows found invalid while planning come first, as the error file merges several errors of a row
		// in the order they were found; their cells wait in results from now on.
		for i := range p.invalid {
			r.results.addError(p.invalid[i])
			p.invalid[i].cells = nil
		}
	}
	runErr := r.apply(ctx, p)
	rep.LoginsImported = int(r.logins.Load())
	commitErr := r.stopCommitter()
	if runErr == nil && commitErr != nil {
		runErr = &errFatal{err: fmt.Errorf("record outcomes in the checkpoint: %w", commitErr)}
	}
	appliedCounts(rep, p, r)
	if opts.PushMappings && runErr == nil {
		push, err := PushMappings(ctx, st, rc, opts.Writers)
		rep.MappingsPushed, rep.MappingsFailed = push.Pushed, push.Failed
		for _, msg := range push.Errors {
			rep.addFailure(rowError{action: "push mapping", reason: msg})
		}
		if err != nil {
			runErr = err
		}
	}

	if opts.ResultsDir != "" {
		files, err := writeResults(opts.ResultsDir, opts.ResultsFormat, opts.ResultsBOM, p, r)
		rep.ResultFiles = files
		if err != nil && runErr == nil {
			runErr = fmt.Errorf("write result files: %w", err)
		}
	}

	status := state.RunCompleted
	switch {
	case errors.Is(runErr, context.Canceled):
		status, rep.Stopped = state.RunInterrupted, "interrupted; the next run resumes"
	case errors.Is(runErr, context.DeadlineExceeded):
		status, rep.Stopped = state.RunInterrupted, "--max-duration reached; the next run resumes"
	case runErr != nil:
		status = state.RunFailed
	}
	rep.total()
	if status == state.RunCompleted && opts.JournalRetention.KeepRuns > 0 {
		pruneJournals(ctx, st, opts.JournalRetention, rep)
	}
	err = runErr
	switch {
	case err != nil:
	case rep.Failed > 0 || rep.DeletesHeld > 0:
		err = fmt.Errorf("%w: %d of %d rows failed%s", ErrPartial, rep.Failed, rep.Rows, heldText(rep.DeletesHeld))
	case rep.MappingsFailed > 0:
		err = fmt.Errorf("%w: %d SD customer mappings could not be pushed (they are kept and pushed by the next run)", ErrPartial, rep.MappingsFailed)
	}
	// The history keeps the report as the user got it, exit code included.
	rep, _ = finish(err)
	if ferr := st.FinishRun(context.WithoutCancel(ctx), runID, status, rep); ferr != nil && runErr == nil {
		return finish(ferr)
	}
	return rep, err
}

// pruneJournals removes the journals of older runs beyond the retention once a run has completed (a run that
// failed or was interrupted leaves the state as it is, for the next run to resume) and counts them in the
// report. A failure, or a signal or --max-duration that stops it (between two of its transactions), does not
// change the run's outcome, which is the platform's: it is a warning, and the next completed run goes on.
func pruneJournals(ctx context.Context, st *state.Store, keep state.JournalRetention, rep *Report) {
	res, err := st.PruneJournals(ctx, keep, false)
	rep.JournalsPruned = len(res.Pruned)
	if err == nil && len(res.Pruned) > 0 {
		err = st.TruncateWAL(ctx)
	}
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the journals of older runs could not be pruned (custsync state prune tries again): %v", err))
	}
}

// detectDeletions records the customers deleted on the platform outside custsync (DetectDeletedInPlatform) and
// returns how many it found.
func detectDeletions(ctx context.Context, st *state.Store, rc *remote.Client) (int, error) {
	found, err := DetectDeletedInPlatform(ctx, st, rc)
	if err != nil {
		return 0, fmt.Errorf("detect customers deleted on the platform: %w", err)
	}
	return len(found.Deleted), nil
}

// heldText is the part of a partial run's message about held deletes.
func heldText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d deletes held until the failed rows succeed", n)
}

// entityCounts copies the planner's counts into the report.
func entityCounts(rep *Report, p *plan) {
	for e, ep := range p.entities {
		c := rep.entity(e)
		adoptedAsIs := countAdopted(ep.refresh)
		c.Unchanged += ep.unchanged + len(ep.refresh) - adoptedAsIs + ep.streamed.refresh
		c.Adopted += adoptedAsIs + ep.streamed.adoptedAsIs
		c.Ignored += ep.ignored
		c.Held += ep.held
	}
}

func (r *Report) entity(e mapping.Entity) *Counts {
	c := r.Entities[e]
	if c == nil {
		c = &Counts{}
		r.Entities[e] = c
	}
	return c
}

// reportInvalid counts rows that failed validation (one failure per row, however many fields were wrong).
func reportInvalid(rep *Report, p *plan) {
	seen := map[failedRow]bool{}
	for _, re := range p.invalid {
		id := re.row(re.entity)
		if !seen[id] {
			seen[id] = true
			e := re.entity
			if e == "" && re.src != nil && len(re.src.Mappers) > 0 {
				e = re.src.Mappers[0].Entity()
			}
			rep.entity(e).Failed++
		}
		rep.addFailure(re)
	}
}

func (r *Report) addFailure(re rowError) {
	if len(r.Failures) >= maxReportedFailures {
		return
	}
	source := re.pos.String()
	switch {
	case re.pos.File == "" && re.src != nil:
		source = re.src.String()
	case re.pos.File == "":
		source = "-"
	}
	r.Failures = append(r.Failures, RowFailure{Source: source, Entity: string(re.entity), Key: re.key, Action: re.action,
		Column: re.column, Status: re.status, Reason: re.reason})
}

// dryRunCounts reports what the plan would do, with the field-level changes. It predicts the deletes the run
// would hold because of the rows that are invalid already; rows the platform will refuse it cannot know.
func dryRunCounts(rep *Report, p *plan, opts *Options) {
	holds := holdDeletes(p, invalidRows(p), opts.DeleteDespiteFailures)
	for _, e := range applyOrder {
		ep := p.entities[e]
		if ep == nil {
			continue
		}
		c := rep.entity(e)
		merged := countMerged(ep.creates)
		c.Created += len(ep.creates) - merged + ep.streamed.creates
		c.Merged += merged + ep.streamed.merged
		adopted := countAdopted(ep.updates)
		c.Updated += len(ep.updates) - adopted + ep.streamed.updates
		c.Adopted += adopted + ep.streamed.adopted
		for _, o := range ep.creates {
			if o.merges {
				rep.Changes = append(rep.Changes, change(o, o.diff))
			} else {
				rep.Changes = append(rep.Changes, change(o, mapping.DiffRemote(map[string]any{}, o.rec)))
			}
		}
		for _, l := range []*changeList{&ep.streamed.createChanges, &ep.streamed.updateChanges} {
			l.trim()
			rep.Changes = append(rep.Changes, l.items...)
			rep.ChangesNotListed += l.dropped
		}
		for _, o := range ep.updates {
			rep.Changes = append(rep.Changes, change(o, o.diff))
		}
		for _, o := range ep.refresh {
			if o.adopted {
				rep.Changes = append(rep.Changes, change(o, nil))
			}
		}
		hold, held := holds[e]
		if held {
			c.DeletesHeld += len(ep.deletes)
			if len(ep.deletes) > 0 {
				rep.DeleteHolds = append(rep.DeleteHolds, hold)
			}
		} else {
			c.Deleted += len(ep.deletes)
		}
		for _, o := range ep.deletes {
			pc := change(o, nil)
			if held {
				pc.Action += " held"
			}
			rep.Changes = append(rep.Changes, pc)
		}
	}
}

func change(o *op, fields []mapping.FieldChange) PlannedChange {
	pc := PlannedChange{Entity: string(o.entity), Key: o.ERPKey, Action: string(o.Action), Fields: fields}
	switch {
	case o.adopted:
		pc.Action = "adopt"
	case o.merges:
		pc.Action = "merge"
	}
	if o.Action == state.ActionDelete {
		pc.Action += " (" + string(o.Reason) + ")"
	}
	if o.src != nil {
		pc.Source = o.rec.Pos.String()
	}
	return pc
}

// supersedePreviousRun takes over the pending ops of an interrupted run. The new plan, computed from the files
// and the checkpoint, contains every one of them that still needs doing (the checkpoint only holds what the
// platform confirmed), and every write is idempotent, so the old ops are closed as skipped.
func supersedePreviousRun(ctx context.Context, st *state.Store, runID int64, rep *Report) error {
	prev, ok, err := st.ResumableRun(ctx, runID)
	if err != nil || !ok {
		return err
	}
	n, err := st.TakeOverRun(ctx, runID, prev.ID)
	if err != nil {
		return err
	}
	rep.ResumedRun, rep.ResumedPending = prev.ID, int(n)
	return nil
}

// journal writes the ops planned in memory to the journal of the run (begun by the planner if it streamed
// ops, else here) and marks the plan complete, before the first remote call.
func journal(ctx context.Context, st *state.Store, runID int64, p *plan, j *state.Journal) error {
	if j == nil {
		var err error
		if j, err = st.BeginJournal(ctx, runID); err != nil {
			return err
		}
	}
	for _, e := range applyOrder {
		ep := p.entities[e]
		if ep == nil {
			continue
		}
		for _, list := range [][]*op{ep.refresh, ep.creates, ep.updates, ep.deletes} {
			for _, o := range list {
				seq, err := j.Add(o.PlannedOp)
				if err != nil {
					j.Abort()
					return fmt.Errorf("journal the plan: %w", err)
				}
				o.seq = seq
			}
		}
	}
	return j.Close()
}

// apply runs the phases in dependency order: upserts parents first, then deletes in reverse order, each entity's
// only if no row of the entity or of an entity depending on it failed (holdDeletes).
func (r *runner) apply(ctx context.Context, p *plan) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	r.startCommitter(ctx)
	r.blockInvalid(p)
	p.releaseKeys()
	stopProgress := r.startProgress(ctx, p)
	defer stopProgress()

	for _, e := range applyOrder {
		ep := p.entities[e]
		if ep == nil {
			continue
		}
		r.refresh(ep.refresh)
		levels := ep.levels
		if levels == nil {
			levels = [][]*op{append(slices.Clone(ep.creates), ep.updates...)}
		}
		for _, ops := range levels {
			if err := r.runPhase(ctx, ops, r.upsertFunc(e)); err != nil {
				return err
			}
		}
		if streamed(e) {
			if err := r.runStreamed(ctx, e, p.sources, r.upsertFunc(e)); err != nil {
				return err
			}
		}
	}
	if err := r.runLate(ctx, p); err != nil {
		return err
	}
	invalid := invalidRows(p)
	for i := len(applyOrder) - 1; i >= 0; i-- {
		e := applyOrder[i]
		ep := p.entities[e]
		if ep == nil || len(ep.deletes) == 0 {
			continue
		}
		// Decided at each entity's turn: a delete of a dependent that failed just now holds its parent's.
		if hold, ok := holdDeletes(p, r.failedRows(invalid), r.opts.DeleteDespiteFailures)[e]; ok {
			if _, err := r.st.SkipPendingOps(context.WithoutCancel(ctx), r.runID, string(e), "held: "+hold.Reason); err != nil {
				return &errFatal{err: err}
			}
			r.holdDeletes(ep.deletes, hold)
			continue
		}
		levels := ep.deleteLevels
		if levels == nil {
			levels = [][]*op{ep.deletes}
		}
		for _, ops := range levels {
			if err := r.runPhase(ctx, ops, r.deleteFunc(e)); err != nil {
				return err
			}
		}
	}
	return nil
}

// startProgress reports progress periodically until the returned function is called.
func (r *runner) startProgress(ctx context.Context, p *plan) func() {
	if r.opts.Progress == nil {
		return func() {}
	}
	var planned int64
	for _, ep := range p.entities {
		planned += int64(ep.planned())
	}
	start := time.Now()
	snapshot := func() Progress {
		s := r.rc.Stats()
		return Progress{Planned: planned, Done: r.done.Load(), Failed: r.failures.Load(),
			Requests: s.Requests, Retried: s.Retries, Elapsed: time.Since(start)}
	}
	stop := startTicker(r.opts.ProgressEvery, func(bool) { r.opts.Progress(snapshot()) })
	// An interrupted run gets no last report: the summary says how far it got.
	return func() { stop(ctx.Err() == nil) }
}

// appliedCounts adds what the runner did to the report, and counts what stayed pending.
func appliedCounts(rep *Report, p *plan, r *runner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for e, ep := range p.entities {
		c := rep.entity(e)
		rc := r.counts[e]
		if rc == nil {
			rc = &Counts{}
		}
		c.Created += rc.Created
		c.Adopted += rc.Adopted
		c.Merged += rc.Merged
		c.Updated += rc.Updated
		c.Deleted += rc.Deleted
		c.Failed += rc.Failed
		c.Held += rc.Held
		c.DeletesHeld += rc.DeletesHeld
		planned := ep.planned()
		c.Pending += planned - rc.Created - rc.Adopted - rc.Merged - rc.Updated - rc.Deleted - rc.Failed - rc.Held - rc.DeletesHeld
	}
	rep.DeleteHolds = append(rep.DeleteHolds, r.holds...)
	for _, e := range applyOrder {
		if c := r.counts[e]; c != nil && c.Merged > 0 {
			rep.Warnings = append(rep.Warnings, mergedWarning(e, c.Merged, r.mergedKeys[e]))
		}
	}
	errs := slices.Clone(r.rowErrors)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].pos.Line < errs[j].pos.Line })
	for _, re := range errs {
		rep.addFailure(re)
	}
}
