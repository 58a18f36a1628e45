package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// commitBatch and commitEvery bound how much a crash can lose between a remote 2xx and its checkpoint row:
// the op is then re-sent by the next run, which is harmless because every write is idempotent.
const (
	commitBatch = 200
	commitEvery = 100 * time.Millisecond
)

// errFatal wraps an error that stops the whole run (credentials refused, retries exhausted, state write).
type errFatal struct{ err error }

func (e *errFatal) Error() string { return e.err.Error() }
func (e *errFatal) Unwrap() error { return e.err }

// isRunFatal tells errors that concern the whole run from errors of one row: no token (refused, not the
// platform, retries exhausted), credentials refused, the platform unavailable, the checkpoint not writable.
func isRunFatal(err error) bool {
	var tokenErr *remote.TokenError
	return errors.As(err, &tokenErr) || remote.IsAuth(err) || errors.Is(err, remote.ErrRetriesExhausted) ||
		errors.Is(err, state.ErrWriteFailed) || errors.Is(err, state.ErrOtherTenant)
}

// heldDelete is a planned delete not made because of failures, for the result files.
type heldDelete struct {
	op     *op
	reason string
}

// runner applies a journaled plan.
type runner struct {
	st    *state.Store
	rc    *remote.Client
	opts  *Options
	runID int64

	outcomes chan state.Outcome
	commitWG stdsync.WaitGroup
	commitMu stdsync.Mutex
	commitEr error
	cancel   context.CancelCauseFunc

	mu     stdsync.Mutex
	failed map[mapping.Entity]map[string]string // ERP key -> reason, for dependants
	// unwritten are the records whose input row is invalid and that are not synced, for dependants.
	unwritten map[mapping.Entity]map[string]string
	// rowErrors are the row failures of the run, for the report (without their cells: the error file's rows
	// are in results).
	rowErrors []rowError
	// results keeps the rows of the result files as they fail or are applied; nil without --results.
	results *resultSpill
	holds   []DeleteHold // per entity whose deletes were held
	heldOps []heldDelete

	done, failures atomic.Int64
	counts         map[mapping.Entity]*Counts
	// resumes: the run took over the pending ops of an interrupted run, whose creates may have been made by
	// that run without its knowing (their answers lost when it stopped), so a create's "existed" is counted
	// as created, not merged.
	resumes bool
	// mergedKeys are the first maxMergedKeys keys per entity of the creates that met a record the platform had,
	// for the run's warning.
	mergedKeys map[mapping.Entity][]string
	// companyLocks serialise the links added to one company (linkLocation).
	companyLocks map[string]*stdsync.Mutex
	// sealer opens the logins of the journaled ops; logins counts the customers created with theirs.
	sealer *accountSealer
	logins atomic.Int64
	// adoptedIDs are the platform ids of records adopted in this run, by entity and ERP key
	// (withAdoptedRefs).
	adoptedIDs map[mapping.Entity]map[string]string
	// deletedCompanies are the platform ids of the companies this run deleted: their parents' deletes, later
	// (children first), may go ahead although the platform still lists them (keepsSubsidiaries).
	deletedCompanies map[string]bool
	// creation are the tenant's account flags for new customers, learned at the first create (writes.go), by
	// createCustomer and by the bulk import's setImportedFlags.
	creation creationDefaults
	// restoring is the run a restore puts back (0 in an import).
	restoring int64
	// creating counts, by platform id, the customer creates this run sent whose success the checkpoint does not
	// hold yet (in flight, awaiting the committer, or failed): a customer the run created for one row is not
	// adopted for another row that gives the same e-mail address (adoptByEmail). Committed creates leave it
	// (their SD mapping then tells), so it stays as small as the requests in flight and one commit batch.
	creating map[string]int
	// preImages journals the deletes' pre-images before their DELETEs are sent (deleteWithPreImage).
	preImages *preImageJournal
}

func newRunner(st *state.Store, rc *remote.Client, opts *Options, runID int64, sealer *accountSealer) *runner {
	return &runner{st: st, rc: rc, opts: opts, runID: runID, outcomes: make(chan state.Outcome, 4*commitBatch),
		failed: map[mapping.Entity]map[string]string{}, counts: map[mapping.Entity]*Counts{},
		mergedKeys: map[mapping.Entity][]string{}, deletedCompanies: map[string]bool{}, sealer: sealer,
		creating: map[string]int{}}
}

// sendingCreate notes a customer create about to be sent (see runner.creating).
func (r *runner) sendingCreate(id string) {
	r.mu.Lock()
	r.creating[id]++
	r.mu.Unlock()
}

// committedCreates takes the customer creates whose success a commit recorded out of runner.creating.
func (r *runner) committedCreates(batch []state.Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range batch {
		if o.Kind != string(mapping.Customers) || o.Action != state.ActionCreate || o.Error != "" {
			continue
		}
		if r.creating[o.RemoteID]--; r.creating[o.RemoteID] <= 0 {
			delete(r.creating, o.RemoteID)
		}
	}
}

// createdInRun reports whether this run created (or is creating) the customer id and the checkpoint does not
// show it yet.
func (r *runner) createdInRun(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.creating[id] > 0
}

func (r *runner) count(e mapping.Entity) *Counts {
	c := r.counts[e]
	if c == nil {
		c = &Counts{}
		r.counts[e] = c
	}
	return c
}

// startCommitter runs the single goroutine that records outcomes in the checkpoint. It uses a context that
// a SIGINT does not cancel, so that what already succeeded on the platform is recorded while the run stops.
func (r *runner) startCommitter(ctx context.Context) {
	commitCtx := context.WithoutCancel(ctx)
	r.preImages = startPreImageJournal(commitCtx, r.st, r.runID)
	r.commitWG.Add(1)
	go func() {
		defer r.commitWG.Done()
		var batch []state.Outcome
		tick := time.NewTicker(commitEvery)
		defer tick.Stop()
		flush := func() {
			if len(batch) == 0 {
				return
			}
			if r.commitError() == nil {
				if err := r.st.Commit(commitCtx, batch); err != nil {
					r.commitMu.Lock()
					r.commitEr = err
					r.commitMu.Unlock()
					r.cancel(&errFatal{err: fmt.Errorf("record outcomes in the checkpoint: %w", err)})
				} else {
					r.committedCreates(batch)
				}
			}
			batch = batch[:0]
		}
		for {
			select {
			case o, ok := <-r.outcomes:
				if !ok {
					flush()
					return
				}
				batch = append(batch, o)
				if len(batch) >= commitBatch {
					flush()
				}
			case <-tick.C:
				flush()
			}
		}
	}()
}

func (r *runner) commitError() error {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	return r.commitEr
}

// stopCommitter waits until every outcome is recorded.
func (r *runner) stopCommitter() error {
	r.preImages.stop()
	close(r.outcomes)
	r.commitWG.Wait()
	return r.commitError()
}

// applyFunc performs one op on the platform and returns the outcome to record.
type applyFunc func(ctx context.Context, o *op) (state.Outcome, error)

// runPhase applies ops with at most Writers in flight. A row failure is recorded and the phase goes on; a
// run-fatal error or a cancelled context stops it, leaving the remaining ops planned for the next run.
func (r *runner) runPhase(ctx context.Context, ops []*op, apply applyFunc) error {
	return r.runOps(ctx, func() (*op, error) {
		if len(ops) == 0 {
			return nil, nil
		}
		o := ops[0]
		ops = ops[1:]
		return o, nil
	}, apply)
}

// runOps is runPhase for ops that next hands out one by one until it returns nil: a read error from next
// stops the phase like a run-fatal error.
func (r *runner) runOps(ctx context.Context, next func() (*op, error), apply applyFunc) error {
	g, gctx := errgroup.WithContext(ctx)
	// Writers long-lived workers take the ops in turn: a goroutine per op grew a new stack to net/http's depth
	// for every request.
	ops := make(chan *op)
	for range max(r.opts.Writers, 1) {
		g.Go(func() error {
			for o := range ops {
				if err := r.runOp(gctx, o, apply); err != nil {
					return err
				}
			}
			return nil
		})
	}
	nextErr := func() error {
		defer close(ops)
		for gctx.Err() == nil {
			o, err := next()
			if err != nil || o == nil {
				return err
			}
			select {
			case ops <- o:
			case <-gctx.Done():
			}
		}
		return nil
	}()
	if nextErr != nil {
		g.Go(func() error { return nextErr })
	}
	err := g.Wait()
	if err == nil {
		err = context.Cause(ctx)
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// runOp applies one op and records its outcome; it returns only errors that stop the phase.
func (r *runner) runOp(ctx context.Context, o *op, apply applyFunc) error {
	if ctx.Err() != nil {
		return nil
	}
	if reason := r.blockedBy(o); reason != "" {
		r.fail(o, 0, reason)
		return nil
	}
	out, err := apply(ctx, o)
	if errors.Is(err, errLater) || errors.Is(err, errSettled) {
		return nil
	}
	var gone *goneFromPlatform
	if errors.As(err, &gone) {
		r.hold(o, gone.outcome)
		return nil
	}
	if err != nil {
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return nil // interrupted: the op stays planned and the next run resumes it
		}
		var tokenErr *remote.TokenError
		var fatal *errFatal
		switch {
		case errors.As(err, &fatal):
			return err // it names what it was about
		case errors.As(err, &tokenErr):
			return &errFatal{err: err} // about the run, not this row: no row to name
		case isRunFatal(err):
			return &errFatal{err: fmt.Errorf("%s %s %q: %w", o.Action, o.entity, o.ERPKey, err)}
		}
		r.fail(o, statusOf(err), err.Error())
		return nil
	}
	r.succeed(o, out)
	return nil
}

// blockedBy returns why an op cannot run because something it references failed in this run, or cannot be
// written because its row is invalid (see blockInvalid).
func (r *runner) blockedBy(o *op) string {
	if o.Action == state.ActionDelete {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range o.rec.Refs {
		if reason, ok := r.failed[ref.Entity][ref.Key]; ok {
			return fmt.Sprintf("%s %q failed in this run: %s", singular(ref.Entity), ref.Key, reason)
		}
		if reason, ok := r.unwritten[ref.Entity][ref.Key]; ok {
			return fmt.Sprintf("%s %q cannot be written: %s", singular(ref.Entity), ref.Key, reason)
		}
	}
	return ""
}

// blockInvalid makes the records that no row of the run writes block what references them: their key is not
// synced and the input's row of them is invalid. A dependant then fails naming that row, instead of with the
// platform's 404 for a record that does not exist.
func (r *runner) blockInvalid(p *plan) {
	for _, re := range p.invalid {
		if !p.firstOfUnsynced(re) || r.unwritten[re.entity][re.key] != "" {
			continue
		}
		if r.unwritten == nil {
			r.unwritten = map[mapping.Entity]map[string]string{}
		}
		if r.unwritten[re.entity] == nil {
			r.unwritten[re.entity] = map[string]string{}
		}
		r.unwritten[re.entity][re.key] = fmt.Sprintf("its row (%s) is invalid: %s", re.pos, re.reason)
	}
}

// singular names one record of an entity in messages.
func singular(e mapping.Entity) string {
	switch e {
	case mapping.Companies:
		return "company"
	case mapping.Addresses:
		return "address"
	case mapping.Contacts:
		return "contact assignment"
	}
	return strings.TrimSuffix(string(e), "s")
}

func statusOf(err error) int {
	var ae *remote.APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// fail records a row failure: in the journal (through the committer), for dependants and for the error file.
func (r *runner) fail(o *op, status int, reason string) {
	r.failures.Add(1)
	r.mu.Lock()
	if r.failed[o.entity] == nil {
		r.failed[o.entity] = map[string]string{}
	}
	r.failed[o.entity][o.ERPKey] = reason
	r.count(o.entity).Failed++
	re := rowError{src: o.src, pos: o.rec.Pos, entity: o.entity, key: o.ERPKey, action: string(o.Action),
		status: status, reason: reason}
	r.rowErrors = append(r.rowErrors, re)
	r.mu.Unlock()
	if r.results != nil {
		re.cells = o.cells
		r.results.addError(re)
	}
	r.outcomes <- state.Outcome{RunID: r.runID, Seq: o.seq, Kind: o.Kind, ERPKey: o.ERPKey, Action: o.Action,
		Error: reason, HTTPStatus: status, Attempts: 1}
}

// goneFromPlatform reports that an update found its record deleted on the platform, outside custsync: the
// outcome records that (deletion log, mapping flagged deletedInYaaS, checkpoint entity removed) instead of
// re-creating what someone deleted on purpose.
type goneFromPlatform struct{ outcome state.Outcome }

func (g *goneFromPlatform) Error() string { return "deleted on the platform outside custsync" }

// hold records a row held back because its record was deleted on the platform.
func (r *runner) hold(o *op, out state.Outcome) {
	out.RunID, out.Seq, out.Kind, out.ERPKey = r.runID, o.seq, o.Kind, o.ERPKey
	if out.RemoteID == "" {
		out.RemoteID = o.RemoteID
	}
	r.mu.Lock()
	r.count(o.entity).Held++
	r.mu.Unlock()
	r.done.Add(1)
	r.outcomes <- out
}

// succeed hands a successful outcome to the committer and counts it.
func (r *runner) succeed(o *op, out state.Outcome) {
	out.RunID, out.Seq, out.Kind, out.ERPKey, out.Action = r.runID, o.seq, o.Kind, o.ERPKey, o.Action
	if out.RemoteID == "" {
		out.RemoteID = o.RemoteID
	}
	r.done.Add(1)
	r.mu.Lock()
	c := r.count(o.entity)
	switch {
	case o.adopted:
		c.Adopted++
	case o.undo != nil && o.undo.putBackAlready:
		c.Unchanged++
	case o.Action == state.ActionCreate && out.HTTPStatus == http.StatusOK && !o.replayed && !r.resumes:
		c.Merged++
		if len(r.mergedKeys[o.entity]) < maxMergedKeys {
			r.mergedKeys[o.entity] = append(r.mergedKeys[o.entity], o.ERPKey)
		}
	case o.Action == state.ActionCreate:
		c.Created++
	case o.Action == state.ActionUpdate:
		c.Updated++
	case o.Action == state.ActionDelete:
		c.Deleted++
	}
	r.mu.Unlock()
	if r.results != nil {
		r.results.addSuccess(o)
	}
	r.outcomes <- out
}

// refresh records rows whose hash changed without changing anything on the platform.
func (r *runner) refresh(ops []*op) {
	for _, o := range ops {
		snap, _ := json.Marshal(o.rec.ApplyTo(o.prev))
		r.outcomes <- state.Outcome{RunID: r.runID, Seq: o.seq, Kind: o.Kind, ERPKey: o.ERPKey, Action: o.Action,
			RemoteID: o.RemoteID, RowHash: o.NewHash, RawHash: o.rawHash, Snapshot: snap, Mapping: sdMapping(o.rec, false)}
	}
}

// upsertOutcome is the checkpoint row of a created or updated record.
func upsertOutcome(o *op) (state.Outcome, error) {
	var snap []byte
	var err error
	if len(o.prev) == 0 {
		snap, err = o.rec.AppendAppliedJSON(make([]byte, 0, 512)) // a create: the row applied to nothing
	} else {
		snap, err = json.Marshal(o.rec.ApplyTo(o.prev))
	}
	if err != nil {
		return state.Outcome{}, fmt.Errorf("encode snapshot: %w", err)
	}
	return state.Outcome{RemoteID: o.RemoteID, RowHash: o.NewHash, RawHash: o.rawHash, Snapshot: snap, Mapping: sdMapping(o.rec, false)}, nil
}

func sdMapping(rec mapping.Record, deleted bool) *state.SDMapping {
	m, ok := mapping.SDMappingFor(rec)
	if !ok {
		return nil
	}
	return &state.SDMapping{CustomerNumber: m.CustomerNumber, SDCustomerNumber: m.SDCustomerNumber, DeletedInYaaS: deleted}
}

// written is what a write of a Customer Management resource applies to the record it reads first. Of an
// update, only the fields the row changes against its previous state (o.diff: the checkpoint snapshot, or the
// live record of an adopted or verified row), as a customer's PATCH: a field the row leaves as it was keeps
// what the platform holds, whoever changed it there. A create writes the whole row, and so does an update
// whose checkpoint has no snapshot (written by a version that kept none), which has no diff to go by.
func (o *op) written() mapping.Record {
	if o.Action != state.ActionUpdate || len(o.prev) == 0 {
		return o.rec
	}
	return o.rec.Changed(o.diff)
}

// updatedFields is what an update of a customer or address wrote, for its image (nil for a create, which has
// none).
func updatedFields(o *op, base map[string]any) map[string]any {
	if base == nil {
		return nil
	}
	return o.rec.Payload()
}

// applyCustomer creates or updates a customer; creates with a login go through the bulk import.
func (r *runner) applyCustomer(ctx context.Context, o *op) (state.Outcome, error) {
	switch {
	case o.batch != nil:
		return r.importLogins(ctx, o)
	case o.account != nil && o.Action == state.ActionCreate:
		return r.importLogins(ctx, &op{PlannedOp: o.PlannedOp, entity: o.entity, batch: []*op{o}})
	}
	var created bool
	var base map[string]any
	switch o.Action {
	case state.ActionCreate:
		up, err := r.createCustomer(ctx, o.RemoteID, o.rec)
		created, o.replayed = up.Created, up.Replayed
		if err != nil {
			switch {
			case !isDuplicateAccount(err):
			case r.opts.Adopt:
				return r.adoptByEmail(ctx, o, err)
			default:
				err = r.duplicateAccount(ctx, o, err)
			}
			return state.Outcome{}, err
		}
	case state.ActionUpdate:
		var err error
		base, err = imageBase(o, func() (remote.Doc, error) { return r.rc.GetCustomer(ctx, o.RemoteID, "mixin:*") })
		if err == nil {
			err = updateCustomerRow(ctx, r.rc, o.RemoteID, o.rec, o.diff)
		}
		if err != nil {
			if remote.IsNotFound(err) {
				pre, _ := json.Marshal(o.prev)
				return state.Outcome{}, &goneFromPlatform{outcome: state.Outcome{Action: state.ActionDelete,
					Reason: state.ReasonDeletedInPlatform, PreImage: pre, RemoteID: o.RemoteID,
					Dependents: dependentsOf(mapping.Customers, o.ERPKey),
					Mapping:    &state.SDMapping{CustomerNumber: o.RemoteID, SDCustomerNumber: o.ERPKey, DeletedInYaaS: true}}}
			}
			return state.Outcome{}, err
		}
	}
	return writtenOutcome(o, created, base, updatedFields(o, base), o.diff)
}

// applyAddress creates or updates an address of a customer.
func (r *runner) applyAddress(ctx context.Context, o *op) (state.Outcome, error) {
	adopted, err := r.adoptedAddress(ctx, o)
	if err != nil {
		return state.Outcome{}, err
	}
	customerID, addressID, ok := splitAddressID(o.RemoteID)
	if !ok {
		return state.Outcome{}, fmt.Errorf("address %q has no customer id", o.ERPKey)
	}
	if adopted {
		if len(o.diff) > 0 {
			if err := updateAddress(ctx, r.rc, customerID, addressID, o.rec.Changed(o.diff)); err != nil {
				return state.Outcome{}, err
			}
		}
		// Recorded as a create the platform did not make (200): a restore never deletes it.
		return writtenOutcome(o, false, nil, nil, nil)
	}
	var created bool
	var base map[string]any
	switch o.Action {
	case state.ActionCreate:
		var err error
		var body []byte
		if body, err = o.rec.AppendAppliedJSON(make([]byte, 0, 512)); err != nil {
			return state.Outcome{}, fmt.Errorf("encode the address: %w", err)
		}
		up, err := r.rc.UpsertAddressJSON(ctx, customerID, addressID, body)
		created, o.replayed = up.Created, up.Replayed
		if err != nil {
			if remote.IsNotFound(err) {
				return state.Outcome{}, fmt.Errorf("customer %s of this address does not exist on the platform: %w", customerID, err)
			}
			return state.Outcome{}, err
		}
	case state.ActionUpdate:
		var err error
		base, err = imageBase(o, func() (remote.Doc, error) { return r.rc.GetAddress(ctx, customerID, addressID) })
		if err == nil {
			err = updateAddress(ctx, r.rc, customerID, addressID, o.rec.Changed(o.diff))
		}
		if err != nil {
			return state.Outcome{}, err
		}
	}
	return writtenOutcome(o, created, base, updatedFields(o, base), o.diff)
}

// deleteCustomer deletes a customer after reading its pre-image for the deletion log. A customer already gone
// counts as deleted.
func (r *runner) deleteCustomer(ctx context.Context, o *op) (state.Outcome, error) {
	pre, err := r.deleteWithPreImage(ctx, o,
		func() (remote.Doc, error) { return r.rc.GetCustomer(ctx, o.RemoteID, "addresses", "mixin:*") },
		func() error { return r.rc.DeleteCustomer(ctx, o.RemoteID) })
	if err != nil {
		return state.Outcome{}, err
	}
	return deletedOutcome(o.entity, o.PlannedOp, pre), nil
}

// dependentsOf names the checkpoint rows of the records the platform deletes along with the record of entity e
// under key, as the sandbox does after the digest's reading of the platform: a customer's addresses and
// contact assignments, a company's contact assignments (and its subsidiaries', but custsync deletes those
// before it or refuses its delete, see orderCompanyDeletes and runner.keepsSubsidiaries). Locations stay:
// several companies may list one.
func dependentsOf(e mapping.Entity, key string) []state.Dependents {
	switch e {
	case mapping.Customers:
		return []state.Dependents{keyPartOf(mapping.Addresses, mapping.CustomerKeyColumn, key),
			keyPartOf(mapping.Contacts, mapping.CustomerKeyColumn, key)}
	case mapping.Companies:
		return []state.Dependents{keyPartOf(mapping.Contacts, mapping.CompanyKeyColumn, key)}
	}
	return nil
}

// keyPartOf selects the rows of entity e whose two-part key has key in the part of column: its first part is
// a prefix of the joined key, its last a suffix.
func keyPartOf(e mapping.Entity, column, key string) state.Dependents {
	cols := mapping.KeyColumns(e)
	parts := make([]string, len(cols))
	i := slices.Index(cols, column)
	parts[i] = key
	joined := mapping.JoinKey(parts...)
	if i == 0 {
		return state.Dependents{Kind: string(e), KeyPrefix: joined}
	}
	return state.Dependents{Kind: string(e), KeySuffix: joined}
}

// deleteAddress deletes an address after reading its pre-image.
func (r *runner) deleteAddress(ctx context.Context, o *op) (state.Outcome, error) {
	customerID, addressID, ok := splitAddressID(o.RemoteID)
	if !ok {
		return state.Outcome{}, fmt.Errorf("address %q has no customer id", o.ERPKey)
	}
	pre, err := r.deleteWithPreImage(ctx, o,
		func() (remote.Doc, error) { return r.rc.GetAddress(ctx, customerID, addressID) },
		func() error { return r.rc.DeleteAddress(ctx, customerID, addressID) })
	if err != nil {
		return state.Outcome{}, err
	}
	return deletedOutcome(o.entity, o.PlannedOp, pre), nil
}

// deletedOutcome is the checkpoint change of a delete: the deletion log entry with the pre-image, the rows of
// what the platform deleted along (dependentsOf) and, for a customer, its SD mapping flagged deleted.
func deletedOutcome(e mapping.Entity, o state.PlannedOp, pre json.RawMessage) state.Outcome {
	out := state.Outcome{Reason: o.Reason, PreImage: pre, Dependents: dependentsOf(e, o.ERPKey)}
	if e == mapping.Customers {
		out.Mapping = &state.SDMapping{CustomerNumber: o.RemoteID, SDCustomerNumber: o.ERPKey, DeletedInYaaS: true}
	}
	return out
}

// deleteWithPreImage reads a record for the deletion log, journals it on the op, then deletes the record. A
// record already gone (404 on either call) counts as deleted; its pre-image is then nil, or what the read found.
// The pre-image is journaled before the DELETE is sent, so that a delete whose outcome is never recorded keeps
// it (settleInterruptedDeletes); a run stopped between the two finds the record still there and deletes it.
func (r *runner) deleteWithPreImage(ctx context.Context, o *op, get func() (remote.Doc, error), del func() error) (json.RawMessage, error) {
	doc, err := get()
	if err != nil && !remote.IsNotFound(err) {
		return nil, err
	}
	if err != nil {
		return nil, nil
	}
	pre := encodePreImage(doc)
	if pre != nil && o.seq != 0 {
		if err := r.preImages.save(o.seq, pre); err != nil {
			return nil, &errFatal{err: err}
		}
	}
	if err := del(); err != nil && !remote.IsNotFound(err) {
		return nil, err
	}
	return pre, nil
}

func encodePreImage(doc remote.Doc) json.RawMessage {
	if doc == nil {
		return nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	return b
}

// upsertFunc and deleteFunc choose the remote calls of an entity.
func (r *runner) upsertFunc(e mapping.Entity) applyFunc {
	switch e {
	case mapping.Customers:
		return r.applyCustomer
	case mapping.Addresses:
		return r.applyAddress
	}
	return r.applyManagementEarly
}

func (r *runner) deleteFunc(e mapping.Entity) applyFunc {
	switch e {
	case mapping.Customers:
		return r.deleteCustomer
	case mapping.Addresses:
		return r.deleteAddress
	}
	return r.deleteManagement
}

// deleteDependents lists, per entity, the entities whose rows hang on its records: the inverse of
// referencedEntities. A customer's addresses and contact assignments hang on it; a company's subsidiaries,
// locations (companyKey) and contact assignments on the company; the companies that list a location on it.
var deleteDependents = func() map[mapping.Entity][]mapping.Entity {
	out := map[mapping.Entity][]mapping.Entity{}
	for _, e := range mapping.Entities() {
		for _, ref := range referencedEntities[e] {
			if !slices.Contains(out[ref], e) {
				out[ref] = append(out[ref], e)
			}
		}
	}
	return out
}()

// holdDeletes decides, per entity, whether its deletes are held: they are when a row of the entity itself, or of
// an entity whose rows hang on it (deleteDependents), failed in the run, unless despite (--delete-despite-failures).
//
// Why: a failed row is a record whose wanted state this run does not know. Deleting a record of the same kind
// may be deleting what the failed row meant to keep (a key that moved, a file read wrong), and deleting a
// record others hang on takes them along on the platform (a customer's addresses, a company's subsidiaries,
// locations and assignments) while their rows are failing. Entities with no failure in that family delete as
// planned, so one bad address row no longer stops the deletion of locations, night after night.
func holdDeletes(p *plan, failed map[mapping.Entity]int, despite bool) map[mapping.Entity]DeleteHold {
	holds := map[mapping.Entity]DeleteHold{}
	if despite {
		return holds
	}
	for e, ep := range p.entities {
		if len(ep.deletes) == 0 {
			continue
		}
		var parts []string
		for _, f := range append([]mapping.Entity{e}, deleteDependents[e]...) {
			if n := failed[f]; n > 0 && !slices.Contains(parts, fmt.Sprintf("%d %s", n, f)) {
				parts = append(parts, fmt.Sprintf("%d %s", n, f))
			}
		}
		if len(parts) == 0 {
			continue
		}
		reason := fmt.Sprintf("rows failed in this run (%s); deletes of %s wait for a run in which the failed rows of %s succeed (--delete-despite-failures deletes anyway)",
			strings.Join(parts, ", "), e, strings.Join(entityNames(append([]mapping.Entity{e}, deleteDependents[e]...)), ", "))
		holds[e] = DeleteHold{Entity: e, Deletes: len(ep.deletes), Reason: reason}
	}
	return holds
}

func entityNames(es []mapping.Entity) []string {
	var out []string
	for _, e := range es {
		if !slices.Contains(out, string(e)) {
			out = append(out, string(e))
		}
	}
	return out
}

// invalidRows counts the rows that failed before anything was sent, per entity. A row that could not be read
// far enough to tell its entity counts for every entity its table maps to.
func invalidRows(p *plan) map[mapping.Entity]int {
	seen := map[failedRow]bool{}
	out := map[mapping.Entity]int{}
	for _, re := range p.invalid {
		entities := []mapping.Entity{re.entity}
		if re.entity == "" && re.src != nil {
			entities = entities[:0]
			for _, m := range re.src.Mappers {
				entities = append(entities, m.Entity())
			}
		}
		for _, e := range entities {
			id := re.row(e)
			if !seen[id] {
				seen[id] = true
				out[e]++
			}
		}
	}
	return out
}

// failedRows counts the rows that failed in the run so far per entity: invalid (counted by invalidRows) or
// refused.
func (r *runner) failedRows(invalid map[mapping.Entity]int) map[mapping.Entity]int {
	out := maps.Clone(invalid)
	r.mu.Lock()
	defer r.mu.Unlock()
	for e, c := range r.counts {
		out[e] += c.Failed
	}
	return out
}

// holdDeletes records deletes held for the report and the result files.
func (r *runner) holdDeletes(ops []*op, hold DeleteHold) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds = append(r.holds, hold)
	r.count(hold.Entity).DeletesHeld += len(ops)
	for _, o := range ops {
		r.heldOps = append(r.heldOps, heldDelete{op: o, reason: "held: " + hold.Reason})
	}
}
