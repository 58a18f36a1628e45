package sync

import (
	"context"
	"fmt"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// settleInterruptedDeletes records the deletes an interrupted run sent without recording their outcome (killed,
// its answer lost, the run stopped by another error), before a new run plans from the checkpoint. Each such op
// journaled its pre-image before the DELETE (runner.deleteWithPreImage); one whose record is gone from the
// platform is recorded as that run's delete: the deletion log entry, with that pre-image and under that run's
// id so that restoring the run re-creates the record, and the checkpoint entity removed. A record still there
// is left to the new plan, which deletes it again if its input still asks so. The report gets a warning of
// what was settled.
func settleInterruptedDeletes(ctx context.Context, st *state.Store, rc *remote.Client, rep *Report) error {
	prev, ok, err := st.ResumableRun(ctx, 0)
	if err != nil || !ok {
		return err
	}
	var inFlight []state.Op
	err = st.ScanOps(ctx, prev.ID, state.OpFilter{Status: state.OpPlanned, PreImaged: true}, func(o state.Op) error {
		if o.Action == state.ActionDelete {
			inFlight = append(inFlight, o)
		}
		return nil
	})
	if err != nil || len(inFlight) == 0 {
		return err
	}
	r := newRunner(st, rc, &Options{}, prev.ID, nil)
	var settled []state.Outcome
	for _, o := range inFlight {
		e, err := mapping.ParseEntity(o.Kind)
		if err != nil {
			continue
		}
		if _, err := r.getRecord(ctx, e, o.RemoteID); !remote.IsNotFound(err) {
			if err != nil {
				return fmt.Errorf("check whether run %d deleted %s %s before it stopped: %w", prev.ID, singular(e), o.RemoteID, err)
			}
			continue
		}
		out := deletedOutcome(e, o.PlannedOp, o.PreImage)
		out.RunID, out.Seq, out.Kind, out.ERPKey, out.Action, out.RemoteID = prev.ID, o.Seq, o.Kind, o.ERPKey, o.Action, o.RemoteID
		settled = append(settled, out)
	}
	if len(settled) == 0 {
		return nil
	}
	if err := st.Commit(context.WithoutCancel(ctx), settled); err != nil {
		return fmt.Errorf("record the deletes interrupted run %d made: %w", prev.ID, err)
	}
	rep.Warnings = append(rep.Warnings, fmt.Sprintf("interrupted run %d had deleted %s before it stopped without recording it; logged as its deletions, with the records as they were",
		prev.ID, state.Count(len(settled), "record", "records")))
	return nil
}

// getRecord reads a record of the platform as the engine stores it; a customer with the expansions asked.
func (r *runner) getRecord(ctx context.Context, e mapping.Entity, remoteID string, customerExpand ...string) (remote.Doc, error) {
	switch e {
	case mapping.Customers:
		return r.rc.GetCustomer(ctx, remoteID, customerExpand...)
	case mapping.Addresses:
		customerID, addressID, ok := splitAddressID(remoteID)
		if !ok {
			return nil, fmt.Errorf("address %q has no customer id", remoteID)
		}
		return r.rc.GetAddress(ctx, customerID, addressID)
	}
	return r.managementCalls(e).get(ctx, remoteID)
}
