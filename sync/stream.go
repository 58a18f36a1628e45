package sync

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"custsync/mapping"
	"custsync/state"
)

// Customers and addresses, the entities with millions of rows, do not stay in memory between planning and
// applying: the planner writes each of their creates and updates to the journal as it decides it (with
// everything applying needs in the op's record), and the runner reads them back page by page. So a first
// import of millions of rows needs the memory of a few batches, not of its plan. The Customer Management
// entities (locations, companies, contact assignments: thousands, with the cross-row checks of links and
// company levels) are planned in memory as before, and so are deletes, which the guards bound.

// streamPhases are the journal phases of the streamed entities (see state.Journal.AddIn); the ops planned in
// memory are journaled in phase 0.
var streamPhases = map[mapping.Entity]int{mapping.Customers: 1, mapping.Addresses: 2}

func streamed(e mapping.Entity) bool {
	_, ok := streamPhases[e]
	return ok
}

// Streaming sizes: updates wait in groups for their checkpoint snapshots (one query a group); the runner
// reads ops in pages.
const (
	snapshotGroup = 500
	streamPage    = 1000
)

// maxListedChanges bounds the changes a dry run lists per entity and action (the first ones in key order);
// the others are counted in Report.ChangesNotListed. A dry run of a million creates thus stays small.
const maxListedChanges = 10_000

// streamCounts are the streamed ops of an entity, counted as they are planned.
type streamCounts struct {
	creates, updates, refresh int
	// adopted are records the platform held that the run writes to (see adopt.go); adoptedAsIs those it only
	// records, because they hold what the row says already; merged the creates a --live dry run found the
	// platform holding a record for under their id (mergeInto).
	adopted, adoptedAsIs, merged int
	// createChanges and updateChanges are what a dry run lists (see changeList).
	createChanges, updateChanges changeList
}

// changeList keeps the first maxListedChanges changes in key order, and counts the others.
type changeList struct {
	items   []PlannedChange
	dropped int
	// full says that a trim kept maxListedChanges changes, the last with key cutoff: a change of a key from
	// cutoff on can no longer be listed.
	full   bool
	cutoff string
}

// offer lists the change that build makes if its key can still be among those listed, and only counts it
// otherwise: a dry run of millions of creates builds the field list of few of them (it was a quarter of the
// dry run's CPU at 10M rows).
func (l *changeList) offer(key string, build func() PlannedChange) {
	if l.full && key >= l.cutoff {
		l.dropped++
		return
	}
	l.add(build())
}

func (l *changeList) add(c PlannedChange) {
	l.items = append(l.items, c)
	if len(l.items) >= 2*maxListedChanges {
		l.trim()
	}
}

// trim sorts by key and drops what is beyond the cap.
func (l *changeList) trim() {
	slices.SortStableFunc(l.items, func(a, b PlannedChange) int { return strings.Compare(a.Key, b.Key) })
	if n := len(l.items) - maxListedChanges; n > 0 {
		l.dropped += n
		clear(l.items[maxListedChanges:])
		l.items = l.items[:maxListedChanges]
	}
	if len(l.items) == maxListedChanges {
		l.full, l.cutoff = true, l.items[maxListedChanges-1].Key
	}
}

// opStream is where the planner puts streamed ops: the journal of the run (started at the first op), or for a
// dry run only the counts and the listed changes.
type opStream struct {
	st     *state.Store
	opts   *Options
	runID  int64
	j      *state.Journal
	buf    []byte
	update []*op // updates waiting for their snapshots
	// fetching is the group of updates whose snapshots are being read while the planner goes on (see
	// flushUpdates).
	fetching *snapshotFetch
	// sealer seals the logins of ops for the journal (accounts.go).
	sealer *accountSealer
}

func newOpStream(st *state.Store, opts *Options, sealer *accountSealer) *opStream {
	return &opStream{st: st, opts: opts, sealer: sealer}
}

// journal returns the journal of the run, starting the run at the first call.
func (s *opStream) journal(ctx context.Context) (*state.Journal, error) {
	if s.j != nil {
		return s.j, nil
	}
	runID, err := s.st.BeginRun(ctx, "import", s.opts.Args)
	if err != nil {
		return nil, err
	}
	j, err := s.st.BeginJournal(ctx, runID)
	if err != nil {
		return nil, err
	}
	s.runID, s.j = runID, j
	return j, nil
}

// abandon drops the journal of a run that stopped while it was planned (it is never resumed); Import records
// how the run ended.
func (s *opStream) abandon() {
	s.dropFetch()
	if s.j != nil {
		s.j.Abort()
	}
}

// restart drops what was journaled so far, for a plan made again in the same run (its run stays begun).
func (s *opStream) restart(ctx context.Context) error {
	if s.j == nil {
		return nil
	}
	s.j.Abort()
	if err := s.st.DropOps(ctx, s.runID); err != nil {
		return err
	}
	j, err := s.st.BeginJournal(ctx, s.runID)
	if err != nil {
		return err
	}
	s.dropFetch()
	s.j, s.update = j, nil
	return nil
}

// dropFetch waits for a snapshot read under way and forgets it, for a plan that stopped.
func (s *opStream) dropFetch() {
	if s.fetching != nil {
		<-s.fetching.done
		s.fetching = nil
	}
}

// shelve keeps the journal of a run whose plan a guard refused as a complete plan that was never applied: the
// run is recorded with status planned, which no later run resumes.
func (s *opStream) shelve(ctx context.Context, rep *Report) error {
	if s.j == nil {
		return nil
	}
	if err := s.j.Close(); err != nil {
		return err
	}
	return s.st.FinishRun(context.WithoutCancel(ctx), s.runID, state.RunPlanned, rep)
}

// emit takes a create or update of a streamed entity from the planner.
func (p *plan) emit(o *op) {
	if p.streamErr != nil {
		return
	}
	if o.verify {
		resolveOpReferences(p, o)
		p.emitVerified(o)
		return
	}
	if a := p.adopter; a != nil && a.waits(p, o) {
		a.pending = append(a.pending, o)
		if o.entity == mapping.Customers {
			a.pendingCustomers[o.ERPKey] = true
		}
		if len(a.pending) >= adoptGroup {
			p.streamErr = p.flushAdoptions()
		}
		return
	}
	p.route(o)
}

// route resolves an op's references and journals it, an update once its snapshot is read (an adopted
// record's previous state is the live one, read already).
func (p *plan) route(o *op) {
	resolveOpReferences(p, o)
	switch {
	case o.live:
		p.streamErr = p.put(o, len(o.diff) == 0)
	case o.Action == state.ActionUpdate:
		p.stream.update = append(p.stream.update, o)
		if len(p.stream.update) >= snapshotGroup {
			p.streamErr = p.flushUpdates()
		}
	default:
		p.streamErr = p.put(o, false)
	}
}

// flushUpdates starts reading the checkpoint snapshots of the waiting updates and puts the group whose
// snapshots were being read before: each as an update or, if it changes nothing on the platform, as a
// checkpoint refresh. The reads are random pages of the state file (disk reads on a cold nightly run), so
// they go on while the planner maps the next rows instead of stopping it.
func (p *plan) flushUpdates() error {
	prev := p.stream.fetching
	p.stream.fetching = nil
	if len(p.stream.update) > 0 {
		p.stream.fetching = p.fetchSnapshots(p.stream.update)
		p.stream.update = nil
	}
	if prev == nil {
		return nil
	}
	return p.putFetched(prev)
}

// snapshotFetch is a group of updates and, once done is closed, their checkpoint snapshots by entity and key.
type snapshotFetch struct {
	ops   []*op
	snaps map[mapping.Entity]map[string]json.RawMessage
	err   error
	done  chan struct{}
}

// fetchSnapshots reads the snapshots of ops on a reader connection of its own.
func (p *plan) fetchSnapshots(ops []*op) *snapshotFetch {
	f := &snapshotFetch{ops: ops, snaps: map[mapping.Entity]map[string]json.RawMessage{}, done: make(chan struct{})}
	keys := map[mapping.Entity][]string{}
	for _, o := range ops {
		keys[o.entity] = append(keys[o.entity], o.ERPKey)
	}
	go func() {
		defer close(f.done)
		for e, ks := range keys {
			snaps, err := p.st.Snapshots(p.ctx, string(e), ks)
			if err != nil {
				f.err = err
				return
			}
			f.snaps[e] = snaps
		}
	}()
	return f
}

// putFetched puts the updates of f once their snapshots are read, entity by entity in the order of applying.
func (p *plan) putFetched(f *snapshotFetch) error {
	<-f.done
	if f.err != nil {
		return f.err
	}
	for _, e := range applyOrder {
		for _, o := range f.ops {
			if o.entity != e {
				continue
			}
			if err := o.setPrev(f.snaps[e][o.ERPKey]); err != nil {
				return err
			}
			if err := p.put(o, len(o.diff) == 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// setPrev sets the checkpoint snapshot of an update and the changes it makes.
func (o *op) setPrev(raw json.RawMessage) error {
	o.prev, o.prevRaw = map[string]any{}, raw
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &o.prev); err != nil {
			return fmt.Errorf("checkpoint snapshot of %s %q: %w", o.entity, o.ERPKey, err)
		}
	}
	o.diffPrev()
	return nil
}

// diffPrev sets the changes the row makes to prev, and of a Customer Management op the references they were
// taken with (see runner.applyManagement).
func (o *op) diffPrev() {
	o.diff = mapping.DiffRemote(o.prev, o.rec)
	if putsWholeRecord(o.entity) {
		o.diffRefs = slices.Clone(o.rec.Refs)
	}
}

// put counts a streamed op and journals it (a dry run only lists it).
func (p *plan) put(o *op, refresh bool) error {
	sc := &p.entity(o.entity).streamed
	switch {
	case refresh && o.adopted:
		sc.adoptedAsIs++
	case refresh:
		sc.refresh++
	case o.adopted:
		sc.adopted++
	case o.merges:
		sc.merged++
	case o.Action == state.ActionCreate:
		sc.creates++
	default:
		sc.updates++
	}
	if p.dryRun {
		switch {
		case refresh && !o.adopted:
		case o.Action == state.ActionCreate && !o.adopted && !o.merges:
			sc.createChanges.offer(o.ERPKey, func() PlannedChange { return change(o, mapping.DiffRemote(map[string]any{}, o.rec)) })
		default:
			sc.updateChanges.offer(o.ERPKey, func() PlannedChange { return change(o, o.diff) })
		}
		return nil
	}
	j, err := p.stream.journal(p.ctx)
	if err != nil {
		return err
	}
	p.stream.buf = o.appendRecord(p.stream.buf[:0], refresh, p.stream.sealer)
	planned := o.PlannedOp
	planned.Record = p.stream.buf
	if _, err := j.AddIn(streamPhases[o.entity], planned); err != nil {
		return fmt.Errorf("journal the plan: %w", err)
	}
	return nil
}

// finishStream puts the updates still waiting; the planner calls it once every row is planned.
func (p *plan) finishStream() error {
	if p.streamErr != nil {
		return p.streamErr
	}
	if p.adopter != nil && len(p.adopter.pending) > 0 {
		if err := p.flushAdoptions(); err != nil {
			return err
		}
	}
	if p.verifier != nil && len(p.verifier.pending) > 0 {
		if err := p.flushVerified(); err != nil {
			return err
		}
	}
	for len(p.stream.update) > 0 || p.stream.fetching != nil {
		if err := p.flushUpdates(); err != nil {
			return err
		}
	}
	if p.stream.j != nil {
		// Commit what is journaled: the writer is free again for what runs before the plan is complete
		// (superseding an interrupted run, recording a refused plan).
		return p.stream.j.Flush()
	}
	return nil
}

// The record of a streamed op: a flags byte, the table id + 1 (0: none), the raw hash, the mapped record,
// then the input cells (flagCells), the checkpoint snapshot of an update (flagPrev) and the login of a create,
// sealed with the run's key (flagAccount). flagAdopted marks the update of a record adopted from the platform,
// whose previous state (flagPrev) is the live record.
const (
	flagRefresh = 1 << iota
	flagCells
	flagPrev
	flagAccount
	flagAdopted
)

func (o *op) appendRecord(b []byte, refresh bool, sealer *accountSealer) []byte {
	var flags byte
	if refresh {
		flags |= flagRefresh
	}
	if o.cells != nil {
		flags |= flagCells
	}
	if o.prevRaw != nil {
		flags |= flagPrev
	}
	if o.account != nil {
		flags |= flagAccount
	}
	if o.adopted {
		flags |= flagAdopted
	}
	b = append(b, flags)
	src := 0
	if o.src != nil {
		src = o.src.ID + 1
	}
	b = binary.AppendUvarint(b, uint64(src))
	b = binary.LittleEndian.AppendUint64(b, o.rawHash)
	b = o.rec.AppendBinary(b)
	if o.cells != nil {
		b = binary.AppendUvarint(b, uint64(len(o.cells)))
		for _, c := range o.cells {
			b = binary.AppendUvarint(b, uint64(len(c)))
			b = append(b, c...)
		}
	}
	if o.prevRaw != nil {
		b = binary.AppendUvarint(b, uint64(len(o.prevRaw)))
		b = append(b, o.prevRaw...)
	}
	if o.account != nil {
		sealed := sealer.seal(nil, o.account)
		b = binary.AppendUvarint(b, uint64(len(sealed)))
		b = append(b, sealed...)
	}
	return b
}

var errBadOpRecord = errors.New("damaged op record in the journal")

// decodeOp rebuilds a streamed op from the journal, opening its login with sealer; refresh says whether it only
// refreshes the checkpoint.
func decodeOp(j state.Op, sources []*InputTable, sealer *accountSealer) (o *op, refresh bool, err error) {
	b := j.Record
	if len(b) < 1 {
		return nil, false, errBadOpRecord
	}
	flags := b[0]
	src, n := binary.Uvarint(b[1:])
	if n <= 0 || src > uint64(len(sources)) || len(b) < 1+n+8 {
		return nil, false, errBadOpRecord
	}
	b = b[1+n:]
	o = &op{PlannedOp: j.PlannedOp, seq: j.Seq, entity: mapping.Entity(j.Kind), rawHash: binary.LittleEndian.Uint64(b),
		adopted: flags&flagAdopted != 0}
	o.PlannedOp.Record = nil
	if o.rec, b, err = mapping.DecodeRecord(b[8:]); err != nil {
		return nil, false, errBadOpRecord
	}
	if src > 0 {
		o.src = sources[src-1]
		o.rec.Pos.File, o.rec.Pos.Sheet = o.src.File, o.src.Sheet
	}
	field := func() ([]byte, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, false
		}
		v := b[n : n+int(l)]
		b = b[n+int(l):]
		return v, true
	}
	if flags&flagCells != 0 {
		count, n := binary.Uvarint(b)
		if n <= 0 || count > uint64(len(b)) {
			return nil, false, errBadOpRecord
		}
		b = b[n:]
		o.cells = make([]string, count)
		for i := range o.cells {
			c, ok := field()
			if !ok {
				return nil, false, errBadOpRecord
			}
			o.cells[i] = string(c)
		}
	}
	if flags&flagPrev != 0 {
		raw, ok := field()
		if !ok {
			return nil, false, errBadOpRecord
		}
		if err := o.setPrev(json.RawMessage(raw)); err != nil {
			return nil, false, err
		}
	} else if o.Action == state.ActionUpdate {
		if err := o.setPrev(nil); err != nil {
			return nil, false, err
		}
	}
	if flags&flagAccount != 0 {
		sealed, ok := field()
		if !ok || sealer == nil {
			return nil, false, errBadOpRecord
		}
		if o.account, err = sealer.open(sealed); err != nil {
			return nil, false, err
		}
	}
	return o, flags&flagRefresh != 0, nil
}

// runStreamed applies the streamed ops of an entity from the journal, page by page, with at most Writers in
// flight (see runPhase). Creates with a login are gathered into bulk import requests (see loginBatch).
func (r *runner) runStreamed(ctx context.Context, e mapping.Entity, sources []*InputTable, apply applyFunc) error {
	phase := streamPhases[e]
	after := int64(phase) << state.PhaseBits
	var page []state.Op
	var logins loginBatch
	// end hands out the last, partial batch of logins before the phase ends.
	end := func() (*op, error) {
		if ctx.Err() != nil {
			return nil, nil // interrupted: the batch's ops stay planned for the next run
		}
		return logins.flush(), nil
	}
	next := func() (*op, error) {
		for {
			if len(page) == 0 {
				if ctx.Err() != nil {
					return nil, nil
				}
				var err error
				if page, err = r.st.PlannedPage(ctx, r.runID, after, streamPage); err != nil {
					return nil, &errFatal{err: err}
				}
				if len(page) == 0 {
					return end()
				}
			}
			j := page[0]
			if state.PhaseOf(j.Seq) != phase {
				page = nil
				return end()
			}
			page = page[1:]
			after = j.Seq
			o, refresh, err := decodeOp(j, sources, r.sealer)
			if err != nil {
				return nil, &errFatal{err: fmt.Errorf("op %d of run %d: %w", j.Seq, r.runID, err)}
			}
			if refresh {
				r.refresh([]*op{o})
				continue
			}
			if o.account != nil {
				if batch := logins.add(o); batch != nil {
					return batch, nil
				}
				continue
			}
			return o, nil
		}
	}
	return r.runOps(ctx, next, apply)
}
