package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	stdsync "sync"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// resultColumnPrefix starts the columns custsync adds to result files. They are dropped when a result file is
// read back as input, so a fixed error file can be imported as it is.
const resultColumnPrefix = "custsync_"

// applyOrder is the order in which upserts run: what is referenced goes first (locations before the companies
// that list them, customers before their addresses). Deletes run in reverse.
var applyOrder = mapping.Entities()

// op is one planned change.
type op struct {
	state.PlannedOp
	entity mapping.Entity
	rec    mapping.Record // zero for full-snapshot deletes
	src    *InputTable    // nil for full-snapshot deletes
	cells  []string       // the input row, for result files
	// rawHash is the hash of the input cells, recorded so that the next run recognises the row unmapped.
	rawHash uint64
	prev    map[string]any  // the checkpoint snapshot (updates)
	prevRaw json.RawMessage // prev as stored, for the journal record of a streamed update
	diff    []mapping.FieldChange
	// diffRefs are the references of rec when diff was taken (of a Customer Management op, whose apply takes
	// it again only when they moved since: resolved or adopted later in the plan or the run).
	diffRefs []mapping.Ref
	seq      int64
	// late ops finish after the other upserts (see links.go); createdEarly: the early write of a late create
	// made the record, which its late write then finds.
	late, createdEarly bool
	// account is the login a customer create brings (accounts.go); batch, set on an op the runner makes of
	// such creates, are the creates one bulk import request sends.
	account *mapping.Account
	batch   []*op
	// adopted is set when the run takes over a record the platform held already (adopt.go, adoptAssignment).
	adopted bool
	// merges marks a create that a --live dry run found the platform holding a record for under the id it
	// writes to (mergeInto): the real run merges the row into that record, so prev is that record.
	merges bool
	// replayed: the answer to the create came to a repeat of its request, so "existed" may mean that an
	// earlier attempt created it (remote.Upserted.Replayed): it is counted as created, not merged.
	replayed bool
	// verify: the row waits for its live record (verify.go); sameRow: its row hash is the checkpoint's. live:
	// prev is the live record (adopted or verified), not the checkpoint snapshot.
	verify, sameRow, live bool
	// undo is what a restore op puts back (restore.go).
	undo *undoChange
}

// rowError is a row that failed, at validation or when applied.
type rowError struct {
	src    *InputTable
	pos    formats.Position
	cells  []string
	entity mapping.Entity
	key    string
	action string
	column string
	status int
	reason string
}

// failedRow identifies the input row a rowError belongs to, so that the errors of one row count it once.
type failedRow struct {
	src    int
	line   int
	entity mapping.Entity
	key    string
}

// row returns the row of re counted under entity e. A rowError without a source row, such as a delete a
// full snapshot implies by a key's absence, is a row of its own named by its key.
func (re rowError) row(e mapping.Entity) failedRow {
	if re.src == nil {
		return failedRow{src: -1, entity: e, key: re.key}
	}
	return failedRow{src: re.src.ID, line: re.pos.Line, entity: e}
}

// entityPlan is the plan for one entity.
type entityPlan struct {
	entity     mapping.Entity
	inInput    bool
	rows       int // data rows of this entity's tables, also those that failed to read or validate
	checkpoint int // entities of this kind in the checkpoint before the run
	creates    []*op
	updates    []*op
	deletes    []*op
	unchanged  int
	ignored    int
	held       int // rows of customers deleted on the platform, waiting for the ERP's acknowledgement
	// levels are the upserts in dependency order (companies: parents first); nil means one level.
	levels [][]*op
	// deleteLevels are the deletes in order (companies: children first); nil means one level.
	deleteLevels [][]*op
	// refresh are rows whose hash changed but that change nothing on the platform (e.g. a cell blanked):
	// only the checkpoint hash is updated.
	refresh []*op
	// streamed counts the creates and updates of a streamed entity, which are in the journal, not in the
	// lists above (see stream.go).
	streamed streamCounts
}

// planned is the number of ops that change the platform, streamed or in memory.
func (ep *entityPlan) planned() int {
	return len(ep.creates) + len(ep.updates) + len(ep.deletes) + ep.streamed.creates + ep.streamed.updates + ep.streamed.adopted
}

// plan is everything the run will do.
type plan struct {
	ctx context.Context
	st  *state.Store
	// stream takes the creates and updates of streamed entities; dryRun: it only counts and lists them.
	stream    *opStream
	streamErr error
	// adopter looks streamed creates up on the platform before they are journaled (adopt.go); nil when the
	// run does not ask the platform. adoptedRefs are the Customer Management records it adopted, by entity
	// and ERP key (adopt_management.go).
	adopter     *adopter
	adoptedRefs map[mapping.Entity]map[string]string
	// verifier compares the rows the checkpoint knows with their live records (verify.go); nil without --verify.
	verifier *verifier
	// repairKeys are the only keys check --fix writes (Options.VerifyKeys), per entity; nil writes every row.
	// leftOut counts the rows it leaves alone because their key is not among them.
	repairKeys map[mapping.Entity]map[string]bool
	leftOut    int
	dryRun     bool
	// keepCells says whether rows keep their input cells: only result files need them, and on a large first
	// import they are a good part of the plan's memory.
	keepCells bool
	spec      *mapping.Spec
	adopted   *adoptedLookup    // ERP key -> platform customer number of adopted customers
	gone      map[string]string // ERP key -> customer number deleted on the platform, unacknowledged (lazy)
	// heldTwins is the customers' checkpoint with those customers, as the twin-key check reads it.
	heldTwins *heldKeys
	// planned are the new customers of the run whose id is not their template's: ERP key -> id (notePlannedID).
	planned  map[string]string
	lazyErr  error
	views    map[mapping.Entity]*checkpointView
	sources  []*InputTable
	entities map[mapping.Entity]*entityPlan
	invalid  []rowError
	// rows counts the data rows, also those the readers could not split.
	rows int
	// newKeys notes the new keys of the input that can have a twin, for the twin-key check (see inputKeys).
	newKeys *inputKeys
	// unknownKey holds, per entity, the first invalid row whose key could not be read.
	unknownKey map[mapping.Entity]formats.Position
	// warnings explain what the plan left out on purpose (full-mode deletes withheld).
	warnings []string
	// linkPlan gathers the links written after the records they need (links.go).
	linkPlan linkPlan
	// mapAll: ids of the tables whose rows are all mapped, no raw-hash fast path (see mapsLinksBothWays).
	mapAll map[int]bool
	// retention notes the rows with legacy hashes, which need an open retention window; loginsIgnored counts
	// rows with a login whose customer exists (a login comes only with a new customer).
	retention     *retentionCheck
	loginsIgnored int
	// heap keeps the memory limit above the checkpoint's index and marks and the new keys (see heapHold).
	heap *heapHold
}

func (p *plan) entity(e mapping.Entity) *entityPlan {
	ep := p.entities[e]
	if ep == nil {
		ep = &entityPlan{entity: e}
		p.entities[e] = ep
	}
	return ep
}

// checkpointView is the checkpoint of one entity kind as the planner sees it, plus which keys the input
// claimed (for duplicate detection, and in full mode for finding the keys that disappeared).
type checkpointView struct {
	idx *state.EntityIndex
	// first marks the checkpoint entities the input claimed, with the position of the first row.
	first claimMarks
	// fresh holds the keys of rows not in the checkpoint, with the packed position of their first row (as first).
	fresh *freshKeys
	// zeroLedLen is the length of the longest all-digit checkpoint key with a leading zero; -1 until needed.
	zeroLedLen int
	// nfc finds a checkpoint key encoded otherwise than a new key (see nfcTwins).
	nfc nfcTwins
	// digitLens are the lengths of the all-digit checkpoint keys, for zeroStrippedTwin, and the zeros after the
	// point of keys like 2004.0, for decimalTwin.
	digitLens digitKeyLengths
}

// newCheckpointView is the view of idx for an input of tables tables; its new keys go to a file in dir once
// they outgrow memory, and their memory is told to heap.
func newCheckpointView(idx *state.EntityIndex, dir string, tables int, heap *heapHold) *checkpointView {
	return &checkpointView{idx: idx, first: newClaimMarks(idx.Len(), tables), fresh: newFreshKeys(dir, heap), zeroLedLen: -1}
}

// claimMarks holds a packed position (see packPosition; 0: not claimed) per checkpoint entity in 32 bits, the
// table id in its top bits, as long as every line fits the rest (2^31 lines with one table): 40 MB at 10M
// entities instead of 80. A line past that turns them into 64-bit marks.
type claimMarks struct {
	narrow   []uint32
	wide     []uint64
	lineBits uint
}

// narrowMarkBytes is what a mark takes while the marks stay narrow.
const narrowMarkBytes = 4

// newClaimMarks makes the marks of n entities claimed by rows of tables tables.
func newClaimMarks(n, tables int) claimMarks {
	return claimMarks{narrow: make([]uint32, n), lineBits: uint(32 - bits.Len(uint(tables)))}
}

// get returns the packed position of entity i's claim, 0 if none.
func (m *claimMarks) get(i int) uint64 {
	if m.wide != nil {
		return m.wide[i]
	}
	v := uint64(m.narrow[i])
	return v>>m.lineBits<<32 | v&(1<<m.lineBits-1)
}

// set marks entity i claimed at packed position f.
func (m *claimMarks) set(i int, f uint64) {
	if m.wide == nil && uint32(f) < 1<<m.lineBits {
		m.narrow[i] = uint32(f>>32<<m.lineBits | uint64(uint32(f)))
		return
	}
	if m.wide == nil {
		wide := make([]uint64, len(m.narrow))
		for j := range m.narrow {
			wide[j] = m.get(j)
		}
		m.wide, m.narrow = wide, nil
	}
	m.wide[i] = f
}

// zeroPaddedTwin returns the checkpoint key that is key with leading zeros, if key is all digits and one
// exists: the sign of a key a spreadsheet stored as a number. It costs a few binary searches of the sorted
// index (one per possible number of zeros), and only rows that are not in the checkpoint ask.
func (v *checkpointView) zeroPaddedTwin(key string) (string, bool) {
	if !allDigits(key) {
		return "", false
	}
	if v.zeroLedLen < 0 {
		v.zeroLedLen = 0
		// Keys starting with '0' form one run of the sorted index.
		for i, _ := v.idx.Lookup("0"); i < v.idx.Len() && strings.HasPrefix(v.idx.Key(i), "0"); i++ {
			if k := v.idx.Key(i); len(k) > v.zeroLedLen && allDigits(k) {
				v.zeroLedLen = len(k)
			}
		}
	}
	return paddedTwin(key, v.zeroLedLen, v.has)
}

// zeroStrippedTwin returns the checkpoint key that is key with fewer leading zeros, if key is all digits with
// a leading zero and one exists: the sign of a synced key an earlier file stored as a number. The first such
// key walks the checkpoint's keys once for the lengths of its all-digit keys; after that a key costs a binary
// search per shorter length that exists, none in a first import or for keys of one width.
func (v *checkpointView) zeroStrippedTwin(key string) (string, bool) {
	return strippedTwin(key, func() lengthSet { return v.digitLens.get(v.idx.Keys()) }, v.has)
}

// decimalTwin returns the checkpoint key that is key followed by "." and zeros, if key is all digits and one
// exists: a synced key an older custsync read from an XLSX number stored as 2004.0. The first all-digit key
// learns, in the walk for digitLens, whether the checkpoint holds such keys; without them it looks nothing up.
func (v *checkpointView) decimalTwin(key string) (string, bool) {
	return decimalTwin(key, func() lengthSet { return v.digitLens.zerosAfterPoint(v.idx.Keys()) }, v.has)
}

// encodingTwin returns the checkpoint key other than key with key's Unicode NFC form, if one exists. The first
// question reads the checkpoint's keys once (nfcTwins), and only new keys that are not ASCII ask.
func (v *checkpointView) encodingTwin(key string) (string, bool) {
	return v.nfc.find(key, v.idx.Keys(), v.has)
}

// has reports whether the checkpoint holds key.
func (v *checkpointView) has(key string) bool {
	_, ok := v.idx.Lookup(key)
	return ok
}

// lookup returns the checkpoint entry of key.
func (v *checkpointView) lookup(key string) (state.EntityRef, bool) {
	i, ok := v.idx.Lookup(key)
	if !ok {
		return state.EntityRef{}, false
	}
	return v.idx.Ref(i), true
}

// claim records that a row of src at pos carries key. If an earlier row carried it, claim returns that row's
// position and true.
func (v *checkpointView) claim(p *plan, key string, src *InputTable, pos formats.Position) (formats.Position, bool) {
	if i, ok := v.idx.Lookup(key); ok {
		if f := v.first.get(i); f != 0 {
			return p.unpackPosition(f), true
		}
		v.claimIndex(i, src, pos)
		return formats.Position{}, false
	}
	if first, dup := v.fresh.Add(key, packPosition(src, pos)); dup {
		return p.unpackPosition(first), true
	}
	return formats.Position{}, false
}

// packPosition packs a row's table and line into 64 bits: table id + 1 << 32 | line.
func packPosition(src *InputTable, pos formats.Position) uint64 {
	return uint64(src.ID+1)<<32 | uint64(uint32(pos.Line))
}

// firstNewRow returns the first row of the input that carried key, a key of entity e the checkpoint lacks.
func (p *plan) firstNewRow(e mapping.Entity, key string) (formats.Position, bool) {
	v := p.views[e]
	if v == nil {
		return formats.Position{}, false
	}
	f, ok := v.fresh.Get(key)
	if !ok {
		return formats.Position{}, false
	}
	return p.unpackPosition(f), true
}

// unpackPosition reverses packPosition.
func (p *plan) unpackPosition(f uint64) formats.Position {
	first := p.sources[f>>32-1]
	return formats.Position{File: first.File, Sheet: first.Sheet, Line: int(uint32(f))}
}

// claimIndex claims checkpoint entity i for a row; false if an earlier row claimed it.
func (v *checkpointView) claimIndex(i int, src *InputTable, pos formats.Position) bool {
	if v.first.get(i) != 0 {
		return false
	}
	v.first.set(i, packPosition(src, pos))
	return true
}

// buildPlan reads every row, validates and hashes it, and compares it with the checkpoint.
func buildPlan(ctx context.Context, st *state.Store, rc *remote.Client, opts *Options, in *Input, stream *opStream, retention *retentionCheck) (*plan, error) {
	sources := in.Tables
	p := &plan{ctx: ctx, st: st, stream: stream, dryRun: opts.DryRun, spec: opts.Spec, keepCells: opts.ResultsDir != "", sources: sources, entities: map[mapping.Entity]*entityPlan{},
		mapAll: map[int]bool{}, repairKeys: opts.VerifyKeys, adopted: newAdoptedLookup(ctx, st, opts.Spec.IDTemplate(mapping.Customers)),
		unknownKey: map[mapping.Entity]formats.Position{}, retention: retention, heap: newHeapHold()}
	views := map[mapping.Entity]*checkpointView{}
	p.views = views // filled by the loader below before any row is planned
	p.newKeys = newInputKeys(p.firstNewRow)
	planned := false
	defer func() {
		if !planned {
			p.close()
		}
	}()
	var needed []mapping.Entity
	need := func(e mapping.Entity) {
		if !slices.Contains(needed, e) {
			needed = append(needed, e)
		}
	}
	bothWays := mapsLinksBothWays(sources)
	for _, src := range sources {
		for _, m := range src.Mappers {
			if bothWays && (m.Entity() == mapping.Locations || m.Entity() == mapping.Companies) {
				p.mapAll[src.ID] = true
			}
			p.entity(m.Entity()).inInput = true
			need(m.Entity())
			// References resolve through the checkpoint of the entities they point to.
			for _, dep := range referencedEntities[m.Entity()] {
				need(dep)
			}
		}
	}
	// The checkpoint loads while the first rows are read: on two cores the two overlap.
	ready := make(chan struct{})
	var loadErr error
	go func() {
		defer close(ready)
		// The heap holds the checkpoint from the first chunk loaded (see heapHold).
		share := heapShare{hold: p.heap}
		var loaded int64 // the indexes and marks of the entities before
		for _, e := range needed {
			idx, err := st.LoadEntityIndex(ctx, string(e), func(size int) { share.set(loaded + int64(size)) })
			if err != nil {
				loadErr = err
				return
			}
			loaded += int64(idx.Bytes()) + narrowMarkBytes*int64(idx.Len())
			share.set(loaded)
			// A first import of millions of keys moves them to a file beside the state file, on its disk.
			views[e] = newCheckpointView(idx, filepath.Dir(st.Path()), len(sources), p.heap)
		}
	}()
	waitLoaded := func() error {
		<-ready
		if loadErr != nil {
			return loadErr
		}
		for e, v := range views {
			p.entity(e).checkpoint = v.idx.Len()
		}
		return nil
	}
	if opts.asksPlatform() {
		addresses := p.entities[mapping.Addresses] != nil && p.entities[mapping.Addresses].inInput
		p.adopter = newAdopter(rc, st, opts, addresses)
	}
	if opts.Verify && (!opts.DryRun || opts.Live) {
		p.verifier = newVerifier(rc, opts)
	}
	// Customers first: an address's customer is decided (adopted, or given an explicit customerNumber, see
	// notePlannedID) before the address asks for its id.
	for _, src := range customersFirst(sources) {
		if err := readTable(ctx, p, src, views, ready, waitLoaded); err != nil {
			_ = waitLoaded()
			return nil, err
		}
	}
	if err := waitLoaded(); err != nil {
		return nil, err
	}
	if p.lazyErr != nil {
		return nil, p.lazyErr
	}
	if err := p.finishStream(); err != nil {
		return nil, err
	}
	resolveReferences(p)
	if opts.Mode == ModeFull {
		for e, v := range views {
			ep := p.entity(e)
			if !ep.inInput {
				continue
			}
			if why := p.fullDeleteBlocker(e); why != "" {
				p.warnings = append(p.warnings, fmt.Sprintf("--mode full deletes no %s in this run: %s", e, why))
				continue
			}
			for i := range v.idx.Len() {
				if v.first.get(i) != 0 {
					continue
				}
				key := v.idx.Key(i)
				ep.deletes = append(ep.deletes, &op{PlannedOp: state.PlannedOp{Kind: string(e), ERPKey: key,
					RemoteID: v.idx.Ref(i).RemoteID, Action: state.ActionDelete, Reason: state.ReasonFullSnapshot}, entity: e})
			}
		}
	}
	for _, ep := range p.entities {
		for _, list := range [][]*op{ep.creates, ep.updates, ep.deletes} {
			sort.SliceStable(list, func(a, b int) bool { return list[a].ERPKey < list[b].ERPKey })
		}
	}
	planned = true
	return p, nil
}

// keysErr returns the first error of the views' key files: a plan made while one failed is not applied.
func (p *plan) keysErr() error {
	for e, v := range p.views {
		if err := v.fresh.Err(); err != nil {
			return fmt.Errorf("planning the %s: %w", e, err)
		}
	}
	return nil
}

// close ends the plan: it removes the views' key files and gives back the heap it held.
func (p *plan) close() {
	p.closeKeys()
	p.heap.release()
}

// closeKeys removes the views' key files.
func (p *plan) closeKeys() {
	for _, v := range p.views {
		if v.fresh != nil {
			_ = v.fresh.Close()
		}
	}
}

// releaseKeys drops the views' key sets once nothing asks them any more (the last question is the runner's
// blockInvalid, as applying starts). A first import of millions of keys would otherwise keep their table, most
// of its heap, live for the whole apply, with the collector working against the heap's soft limit: at 10M
// keys that took over 40% of custsync's CPU while it sent the creates.
func (p *plan) releaseKeys() {
	p.closeKeys()
	for _, v := range p.views {
		v.fresh = nil
	}
}

// keyUnknown records that a row of entity e at pos carries a key nobody can read (the row could not be read,
// or its key cells are invalid): in full mode that row might be any synced key.
func (p *plan) keyUnknown(e mapping.Entity, pos formats.Position) {
	if _, seen := p.unknownKey[e]; !seen {
		p.unknownKey[e] = pos
	}
}

// fullDeleteBlocker says why full mode must not delete entities of kind e, or "" when it may: every table
// feeding e was read to its proper end and every row of it had a readable key, so a synced key missing from
// the input is really missing.
func (p *plan) fullDeleteBlocker(e mapping.Entity) string {
	for _, src := range p.sources {
		for _, m := range src.Mappers {
			if m.Entity() == e && !src.Complete() {
				return fmt.Sprintf("%s was not read to its end", src)
			}
		}
	}
	if pos, ok := p.unknownKey[e]; ok {
		return fmt.Sprintf("the key of the row at %s could not be read, so no missing key can be told apart from it (fix the row and re-run)", pos)
	}
	return ""
}

// rowCells returns the input cells of a row to keep with its op or error, or nil when no result file wants them.
// The secret columns are masked: the cells go to the journal and to result files.
func (p *plan) rowCells(src *InputTable, row *mappedRow) []string {
	if p.keepCells {
		return maskedCells(src, row.Cells)
	}
	return nil
}

// adoptedID returns the platform number of a customer adopted from the platform (`mappings pull`) or
// imported with an explicit customer number, if key has one. Only rows and references missing from the
// checkpoint ask, so a no-op re-run reads no mappings (adoptedLookup).
func (p *plan) adoptedID(key string) (string, bool) {
	id, ok, err := p.adopted.get(key)
	if err != nil && p.lazyErr == nil {
		p.lazyErr = err
	}
	return id, ok
}

// notePlannedID remembers the id of a new customer when it is not the one its id template gives (an explicit
// customerNumber), so that references to the customer from rows planned later in the run (its addresses,
// its contact assignments), which carry the template's id, point at it (see knownID). Customers with the
// template's id, nearly always all of them, cost nothing.
func (p *plan) notePlannedID(rec mapping.Record) {
	tmpl := p.spec.IDTemplate(mapping.Customers)
	if rec.RemoteID == rec.Key && tmpl == mapping.DefaultIDTemplates[mapping.Customers] {
		return
	}
	if id, err := mapping.RemoteID(tmpl, rec.Key); err == nil && id == rec.RemoteID {
		return
	}
	if p.planned == nil {
		p.planned = map[string]string{}
	}
	p.planned[rec.Key] = rec.RemoteID
}

// knownID returns the platform id the checkpoint knows for key, or for a customer the run creates under an
// explicit customerNumber, that number (notePlannedID), or the id of a Customer Management record the run
// adopted (adopt_management.go).
func (p *plan) knownID(e mapping.Entity, key string) (string, bool) {
	if id, ok := p.checkpointID(e, key); ok {
		return id, true
	}
	if e == mapping.Customers {
		id, ok := p.planned[key]
		return id, ok
	}
	id, ok := p.adoptedRefs[e][key]
	return id, ok
}

// invalidRow returns the error of the row that carries key first in the input, when that row is invalid and
// the key is not synced: no row of the run writes the record. (A later row with the key is a duplicate.)
func (p *plan) invalidRow(e mapping.Entity, key string) (rowError, bool) {
	for _, re := range p.invalid {
		if re.entity == e && re.key == key && p.firstOfUnsynced(re) {
			return re, true
		}
	}
	return rowError{}, false
}

// firstOfUnsynced reports whether a row error is of the first row carrying its key, a key not synced (see
// invalidRow).
func (p *plan) firstOfUnsynced(re rowError) bool {
	v := p.views[re.entity]
	if v == nil || re.key == "" || re.src == nil || v.has(re.key) {
		return false
	}
	first, ok := v.fresh.Get(re.key)
	return ok && first == packPosition(re.src, re.pos)
}

// checkpointID returns the platform id the checkpoint knows for key, if it knows one.
func (p *plan) checkpointID(e mapping.Entity, key string) (string, bool) {
	if v := p.views[e]; v != nil {
		if cp, ok := v.lookup(key); ok && cp.RemoteID != "" {
			return cp.RemoteID, true
		}
	}
	return "", false
}

// goneCustomers returns the customers deleted on the platform and not yet acknowledged, loaded on first need.
func (p *plan) goneCustomers() map[string]string {
	if p.gone == nil {
		var err error
		p.gone, err = DeletedInPlatformKeys(p.ctx, p.st)
		if err != nil && p.lazyErr == nil {
			p.lazyErr = err
		}
		if p.gone == nil {
			p.gone = map[string]string{}
		}
	}
	return p.gone
}

// customerKeyOf returns the ERP key of the customer a row belongs to, if any.
func customerKeyOf(rec mapping.Record) string {
	if rec.Entity == mapping.Customers {
		return rec.Key
	}
	return refKeyOf(rec, mapping.Customers)
}

// referencedEntities lists, per entity, the entities its rows reference.
var referencedEntities = map[mapping.Entity][]mapping.Entity{
	mapping.Addresses: {mapping.Customers},
	mapping.Companies: {mapping.Companies, mapping.Locations, mapping.Contacts},
	mapping.Locations: {mapping.Companies},
	mapping.Contacts:  {mapping.Companies, mapping.Customers},
}

// resolveReferences points every reference at the platform id the checkpoint knows for its key (an adopted or
// earlier id wins over the id template), and computes the ids that depend on references.
func resolveReferences(p *plan) {
	for _, ep := range p.entities {
		for _, list := range [][]*op{ep.creates, ep.updates} {
			for _, o := range list {
				resolveOpReferences(p, o)
			}
		}
	}
}

// resolveOpReferences resolves the references of one op (see resolveReferences).
func resolveOpReferences(p *plan, o *op) {
	for i := range o.rec.Refs {
		o.rec.Refs[i].RemoteID = referenceID(o.rec.Refs[i], p.knownID, p.adoptedID)
	}
	if o.entity == mapping.Addresses && o.Action == state.ActionCreate {
		o.RemoteID = addressRemoteID(o.rec)
	}
}

// Rows travel from the reader to the mappers and on to the planner in batches: big enough to amortise the
// channel hand-offs, small enough that a few batches in flight cost little memory.
const (
	batchRows     = 512
	batchesAhead  = 8
	mapperWorkers = 2
)

// mappedRow is one row of a batch after mapping: its cells, and per mapper of the table the raw hash and
// either the checkpoint entity it matched unchanged (fast) or the record, validation errors and row hash.
type mappedRow struct {
	InputRow
	raw    []uint64
	fast   []int32 // checkpoint index + 1 of an entity whose raw hash matched; 0: mapped
	recs   []mapping.Record
	errs   [][]mapping.FieldError
	hashes []uint64
}

type rowBatch struct {
	rows []mappedRow
	done chan struct{}
}

// readTable streams one table through its mappers into the plan: one goroutine reads, mapperWorkers map and
// hash, and this goroutine plans the rows in input order (so the first of two duplicate rows wins).
func readTable(ctx context.Context, p *plan, src *InputTable, views map[mapping.Entity]*checkpointView,
	ready <-chan struct{}, waitLoaded func() error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ordered := make(chan *rowBatch, batchesAhead)
	work := make(chan *rowBatch, batchesAhead)
	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(work)
		readErr <- readBatches(ctx, src, ordered, work)
	}()
	var wg stdsync.WaitGroup
	for w := 0; w < mapperWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			for b := range work {
				mapBatch(src, b, views, p.mapAll[src.ID], p.verifier)
				close(b.done)
			}
		}()
	}
	defer wg.Wait()
	for b := range ordered {
		// A batch the reader handed over as the context ended never reaches a mapper.
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := waitLoaded(); err != nil {
			cancel()
			return err
		}
		if p.streamErr != nil {
			cancel()
			return p.streamErr
		}
		for i := range b.rows {
			row := &b.rows[i]
			if row.ReadErr != "" {
				p.invalid = append(p.invalid, rowError{src: src, pos: row.Pos, reason: row.ReadErr, action: "read"})
				// The row counts for each of its entities, as a row that fails validation does: a table whose
				// every row failed is a partial run, not an empty input.
				for _, m := range src.Mappers {
					p.keyUnknown(m.Entity(), row.Pos)
					p.entity(m.Entity()).rows++
				}
				p.rows++
				continue
			}
			p.rows++
			for j, m := range src.Mappers {
				view := views[m.Entity()]
				if f := row.fast[j]; f != 0 {
					if view.claimIndex(int(f-1), src, row.Pos) {
						ep := p.entity(m.Entity())
						ep.rows++
						ep.unchanged++
						continue
					}
					// The same row again: map it so that it is reported like any other duplicate.
					if row.recs == nil {
						row.recs = make([]mapping.Record, len(src.Mappers))
						row.errs = make([][]mapping.FieldError, len(src.Mappers))
						row.hashes = make([]uint64, len(src.Mappers))
					}
					row.recs[j], row.errs[j] = src.MapRow(j, &row.InputRow)
				}
				planRow(p, src, m.Entity(), row, j, view)
			}
		}
	}
	return <-readErr
}

// readBatches reads the table into batches, handing each to the mappers and, in order, to the planner.
func readBatches(ctx context.Context, src *InputTable, ordered, work chan<- *rowBatch) error {
	b := &rowBatch{done: make(chan struct{})}
	send := func() bool {
		if len(b.rows) == 0 {
			return true
		}
		select {
		case ordered <- b:
		case <-ctx.Done():
			return false
		}
		select {
		case work <- b:
		case <-ctx.Done():
			return false
		}
		b = &rowBatch{done: make(chan struct{}), rows: make([]mappedRow, 0, batchRows)}
		return true
	}
	for {
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			if !send() {
				return ctx.Err()
			}
			return nil
		}
		if err != nil {
			return err
		}
		b.rows = append(b.rows, mappedRow{InputRow: row})
		if len(b.rows) == batchRows && !send() {
			return ctx.Err()
		}
	}
}

// mapBatch maps, validates and hashes every row of a batch. A row whose key is in the checkpoint with the same
// raw hash is unchanged and is not mapped at all: on a nightly re-run that is nearly every row.
func mapBatch(src *InputTable, b *rowBatch, views map[mapping.Entity]*checkpointView, mapAll bool, verify *verifier) {
	nm := len(src.Mappers)
	raw := make([]uint64, len(b.rows)*nm)
	fast := make([]int32, len(b.rows)*nm)
	for i := range b.rows {
		row := &b.rows[i]
		if row.ReadErr != "" {
			continue
		}
		row.raw, row.fast = raw[i*nm:(i+1)*nm:(i+1)*nm], fast[i*nm:(i+1)*nm:(i+1)*nm]
		for j, m := range src.Mappers {
			row.raw[j] = mapping.WithNumberCells(m.RawHash(row.Cells), row.Numbers)
			// No view when the checkpoint failed to load (the context ended): the plan stops at this batch anyway.
			if key, ok := m.Key(row.Cells); ok && !mapAll && views[m.Entity()] != nil && !verify.wants(m.Entity(), key) && (len(row.Bad) == 0 || !src.HasBad(j, &row.InputRow)) {
				idx := views[m.Entity()].idx
				if k, found := idx.Lookup(key); found && idx.RawHash(k) == row.raw[j] {
					row.fast[j] = int32(k) + 1
					continue
				}
			}
			if row.recs == nil {
				row.recs = make([]mapping.Record, nm)
				row.errs = make([][]mapping.FieldError, nm)
				row.hashes = make([]uint64, nm)
			}
			row.recs[j], row.errs[j] = src.MapRow(j, &row.InputRow)
			if len(row.errs[j]) == 0 && row.recs[j].Command == mapping.Upsert {
				row.hashes[j] = row.recs[j].Hash()
			}
		}
	}
}

// planRow decides what to do with one mapped row for one entity.
func planRow(p *plan, src *InputTable, e mapping.Entity, row *mappedRow, j int, view *checkpointView) {
	ep := p.entity(e)
	ep.rows++
	rec, ferrs := row.recs[j], row.errs[j]
	if rec.Key != "" {
		if first, dup := view.claim(p, rec.Key, src, row.Pos); dup && len(ferrs) == 0 && rec.Command != mapping.Ignore {
			col := mapping.KeyColumns(e)[len(mapping.KeyColumns(e))-1]
			ferrs = append(ferrs, mapping.FieldError{Pos: row.Pos, Column: col, Field: col, Value: rec.Key,
				Reason: fmt.Sprintf("duplicate %s key %q: first seen at %s; the later row is rejected", e, rec.Key, first)})
		}
		if notable(rec.Key) && !view.has(rec.Key) {
			p.newKeys.note(e, rec.Key, row.Pos)
		}
	}
	if len(ferrs) == 0 && rec.Key != "" && rec.Command != mapping.Ignore {
		ferrs = p.twinKeys(e, rec, src, row.Pos, view)
	}
	if len(ferrs) > 0 {
		// A claimed key is never a deletion candidate in full mode: the row exists, it is only invalid. A row
		// whose key could not be read might be any synced key, so full mode deletes nothing of its entity.
		if rec.Key == "" {
			p.keyUnknown(e, row.Pos)
		}
		for _, fe := range ferrs {
			p.invalid = append(p.invalid, rowError{src: src, pos: row.Pos, cells: p.rowCells(src, row), entity: e,
				key: rec.Key, action: "validate", column: fe.Column, reason: fe.Detail()})
		}
		return
	}
	ref, known := view.lookup(rec.Key)
	switch rec.Command {
	case mapping.Ignore:
		ep.ignored++
		if rec.Key == "" {
			p.keyUnknown(e, row.Pos)
		}
		return
	case mapping.Delete:
		if !known {
			// custsync deletes only what it synced: a key it never wrote may belong to someone else's data,
			// and a first run against a populated tenant must not turn into a mass deletion.
			ep.ignored++
			return
		}
		if p.leavesOut(e, rec.Key) {
			return
		}
		ep.deletes = append(ep.deletes, &op{PlannedOp: state.PlannedOp{Kind: string(e), ERPKey: rec.Key, RemoteID: ref.RemoteID,
			Action: state.ActionDelete, Reason: state.ReasonERPDeleted}, entity: e, rec: rec, src: src, cells: p.rowCells(src, row)})
		return
	}
	hash := row.hashes[j]
	unchanged := known && ref.RowHash == hash
	if !unchanged && p.leavesOut(e, rec.Key) {
		return
	}
	p.noteLinks(src, row, rec, unchanged)
	verify := known && p.verifier.wants(e, rec.Key)
	if unchanged && !verify {
		ep.unchanged++
		return
	}
	if !known {
		// Someone deleted this customer on the platform: re-creating it (or its addresses and assignments)
		// would undo that, so the row waits until the ERP acknowledges the deletion.
		if ck := customerKeyOf(rec); ck != "" {
			if _, gone := p.goneCustomers()[ck]; gone {
				ep.held++
				return
			}
		}
		if e == mapping.Customers {
			rec.RemoteID = adoptedCustomerID(rec.Key, rec.RemoteID, p.adoptedID)
			p.notePlannedID(rec)
		}
	}
	o := &op{PlannedOp: state.PlannedOp{Kind: string(e), ERPKey: rec.Key, NewHash: hash}, entity: e, rec: rec, src: src,
		cells: p.rowCells(src, row), rawHash: row.raw[j]}
	if e == mapping.Addresses {
		o.RemoteID = addressRemoteID(rec)
	} else {
		o.RemoteID = rec.RemoteID
	}
	if known {
		o.Action = state.ActionUpdate
		if ref.RemoteID != "" {
			o.RemoteID = ref.RemoteID
		}
		if rec.Account != nil {
			p.loginsIgnored++
		}
		o.verify, o.sameRow = verify, unchanged
	} else {
		o.Action = state.ActionCreate
		if rec.Account != nil {
			p.retention.note(rec.Account, row.Pos)
			o.account = rec.Account
		}
	}
	switch {
	case streamed(e):
		p.emit(o)
	case known:
		ep.updates = append(ep.updates, o)
	default:
		ep.creates = append(ep.creates, o)
	}
}

// leavesOut reports whether check --fix leaves the row of key alone, and counts it so (as ignored): the fix
// writes only the keys the check found different, so an only-in-file row or a delete the check did not list
// stays import's to make, whatever the rest of the files say.
func (p *plan) leavesOut(e mapping.Entity, key string) bool {
	if p.repairKeys == nil || p.repairKeys[e][key] {
		return false
	}
	p.entity(e).ignored++
	p.leftOut++
	return true
}

// twinKeys rejects a row whose key, or a key it references, is a synced key without its leading zeros or
// encoded otherwise, or an earlier key of the input with other leading zeros or encoded otherwise
// (twinKeyErrors); the synced twin of the row's own key counts as claimed by the row.
func (p *plan) twinKeys(e mapping.Entity, rec mapping.Record, src *InputTable, pos formats.Position, view *checkpointView) []mapping.FieldError {
	checkpoint := func(ent mapping.Entity) keyLookup {
		v := p.views[ent]
		switch {
		case v == nil:
			return nil
		case ent == mapping.Customers:
			if p.heldTwins == nil {
				p.heldTwins = &heldKeys{keyLookup: v, held: p.goneCustomers}
			}
			return p.heldTwins
		}
		return v
	}
	return twinKeyErrors(e, rec, pos, checkpoint, p.newKeys, func(twin string) {
		if view.has(twin) { // a held twin is not in the checkpoint: --mode full cannot delete it anyway
			view.claim(p, twin, src, pos)
		}
	})
}

// loadDiffs reads the checkpoint snapshots of updated rows and computes what each update changes. Updates that
// change nothing on the platform become checkpoint refreshes.
func loadDiffs(ctx context.Context, st *state.Store, p *plan) error {
	for _, ep := range p.entities {
		if len(ep.updates) == 0 {
			continue
		}
		keys := make([]string, 0, len(ep.updates))
		for _, o := range ep.updates {
			if !o.live {
				keys = append(keys, o.ERPKey)
			}
		}
		snaps, err := st.Snapshots(ctx, string(ep.entity), keys)
		if err != nil {
			return err
		}
		updates := ep.updates[:0]
		for _, o := range ep.updates {
			if o.live { // its previous state is the live record (adopt_management.go, verify.go)
				if len(o.diff) == 0 && !o.late {
					ep.refresh = append(ep.refresh, o)
				} else {
					updates = append(updates, o)
				}
				continue
			}
			o.prev = map[string]any{}
			if raw, ok := snaps[o.ERPKey]; ok && len(raw) > 0 {
				if err := json.Unmarshal(raw, &o.prev); err != nil {
					return fmt.Errorf("checkpoint snapshot of %s %q: %w", ep.entity, o.ERPKey, err)
				}
			}
			o.diffPrev()
			// A late op also writes links the snapshot does not show (a location's companyKey).
			if len(o.diff) == 0 && !o.late {
				ep.refresh = append(ep.refresh, o)
				continue
			}
			updates = append(updates, o)
		}
		ep.updates = updates
	}
	return nil
}

// checkGuards refuses a plan that deletes too much or comes from an empty input.
func checkGuards(p *plan, opts *Options) error {
	for _, e := range applyOrder {
		ep := p.entities[e]
		if ep == nil || !ep.inInput {
			continue
		}
		if ep.rows == 0 && !opts.AllowEmpty {
			return &GuardError{Entity: e, Reason: "the input has no data rows; refusing to run from an empty file (use --allow-empty if that is intended)"}
		}
		if n := len(ep.deletes); n > 0 {
			if allowed := opts.MaxDelete.Allowed(ep.checkpoint); n > allowed {
				return &GuardError{Entity: e, Reason: fmt.Sprintf("the plan deletes %d of %d synced %s, more than --max-delete %s allows (%d); nothing was deleted",
					n, ep.checkpoint, e, opts.MaxDelete, allowed)}
			}
		}
	}
	return nil
}
