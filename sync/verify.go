package sync

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Drift repair (import --verify): an import compares each row with the checkpoint, which holds what custsync
// last wrote, so a field someone changed on the platform since (a support agent, the storefront, another tool)
// stays changed. With --verify the rows the checkpoint knows are compared with the live records instead: read
// by id in batches (remote lookups, under the shared rate limit and --checkers), and a row is an update of
// exactly the fields in which the live record differs from the file. The checkpoint snapshot is read beside
// it only to tell drift (a field the platform no longer holds as custsync wrote it) from a change of the file;
// the report counts the drifted rows and fields per entity. A row whose record is gone from the platform is
// counted as missing and planned as without --verify (the update's 404 records the deletion). Without
// --verify nothing of this runs, and a no-op re-run still sends nothing.
//
// check --fix is the same repair for the keys a check found different (Options.VerifyKeys).

// Drift is what --verify found changed on the platform behind custsync's back, for one entity.
type Drift struct {
	// Rows are the rows with at least one drifted field; Fields counts the drifted rows per field path.
	Rows   int            `json:"rows"`
	Fields map[string]int `json:"fields"`
	// Missing are rows the checkpoint knows whose record is not on the platform; Recreated, those of them
	// planned as creates (Options.RecreateMissing).
	Missing   int `json:"missing"`
	Recreated int `json:"recreated,omitempty"`
}

// verifier holds the drift repair state of a run.
type verifier struct {
	rc *remote.Client
	// keys restricts verifying to these keys per entity (check --fix); nil verifies every row.
	keys    map[mapping.Entity]map[string]bool
	pending []*op
	drift   map[mapping.Entity]*Drift
	// recreate plans a missing record as a create (Options.RecreateMissing).
	recreate bool
}

func newVerifier(rc *remote.Client, opts *Options) *verifier {
	return &verifier{rc: rc, keys: opts.VerifyKeys, drift: map[mapping.Entity]*Drift{}, recreate: opts.RecreateMissing}
}

// wants reports whether the row of key is compared with its live record.
func (v *verifier) wants(e mapping.Entity, key string) bool {
	if v == nil {
		return false
	}
	return v.keys == nil || v.keys[e][key]
}

func (v *verifier) driftOf(e mapping.Entity) *Drift {
	d := v.drift[e]
	if d == nil {
		d = &Drift{Fields: map[string]int{}}
		v.drift[e] = d
	}
	return d
}

// emitVerified takes a streamed row waiting for its live record.
func (p *plan) emitVerified(o *op) {
	v := p.verifier
	v.pending = append(v.pending, o)
	if len(v.pending) >= snapshotGroup {
		p.streamErr = p.flushVerified()
	}
}

// flushVerified reads the live records and the snapshots of the waiting streamed rows and settles each.
func (p *plan) flushVerified() error {
	v := p.verifier
	waiting := v.pending
	v.pending = nil
	for _, e := range []mapping.Entity{mapping.Customers, mapping.Addresses} {
		ops := slices.DeleteFunc(slices.Clone(waiting), func(o *op) bool { return o.entity != e })
		if len(ops) == 0 {
			continue
		}
		if err := p.verifyOps(e, ops); err != nil {
			return err
		}
		for _, o := range ops {
			switch {
			case o.Action == "":
			case o.live:
				if err := p.put(o, len(o.diff) == 0); err != nil {
					return err
				}
			case o.Action == state.ActionCreate: // its record is missing and is created again
				if err := p.put(o, false); err != nil {
					return err
				}
			default: // its record is missing: an update as without --verify
				p.stream.update = append(p.stream.update, o)
			}
		}
	}
	if len(p.stream.update) >= snapshotGroup {
		return p.flushUpdates()
	}
	return nil
}

// verifyOps reads the live records of ops (all of entity e) and settles each (settleVerified).
func (p *plan) verifyOps(e mapping.Entity, ops []*op) error {
	live, err := p.liveRecords(e, ops)
	if err != nil {
		return err
	}
	return p.settleVerified(e, ops, live)
}

// liveRecords reads the platform records of ops (all of entity e) by id: ops' remote id -> record.
func (p *plan) liveRecords(e mapping.Entity, ops []*op) (map[string]remote.Doc, error) {
	rc := p.verifier.rc
	ids := make([]string, 0, len(ops))
	for _, o := range ops {
		id := o.RemoteID
		if e == mapping.Addresses {
			id, _, _ = splitAddressID(id)
		}
		ids = append(ids, id)
	}
	out := map[string]remote.Doc{}
	keep := func(d remote.Doc) { out[docID(d)] = d }
	what := fmt.Sprintf("read the %s of the file", e)
	var err error
	switch e {
	case mapping.Customers:
		err = collectDocs(rc.CustomersWhere(p.ctx, "id", ids, "mixin:*"), what, keep)
	case mapping.Addresses:
		err = collectDocs(rc.CustomersWhere(p.ctx, "id", ids, "addresses"), what, func(d remote.Doc) {
			list, _ := d["addresses"].([]any)
			for _, a := range list {
				if addr, ok := a.(map[string]any); ok {
					out[docID(d)+"/"+docID(addr)] = addr
				}
			}
		})
	case mapping.Companies:
		err = collectDocs(rc.LegalEntitiesWhere(p.ctx, "id", ids), what, func(d remote.Doc) { out[docID(d)] = withoutPlatformGroups(d) })
	case mapping.Locations:
		err = collectDocs(rc.LocationsWhere(p.ctx, "id", ids), what, keep)
	case mapping.Contacts:
		err = collectDocs(rc.ContactAssignmentsWhere(p.ctx, "id", ids), what, keep)
	}
	return out, err
}

// settleVerified compares each op (rows of entity e the checkpoint knows) with its live record: an update of
// what differs (o.live), a checkpoint refresh when nothing differs but the row changed, nothing (Action "")
// when neither; a row whose record is missing keeps its plan (o.live false).
func (p *plan) settleVerified(e mapping.Entity, ops []*op, live map[string]remote.Doc) error {
	keys := make([]string, len(ops))
	for i, o := range ops {
		keys[i] = o.ERPKey
	}
	snaps, err := p.st.Snapshots(p.ctx, string(e), keys)
	if err != nil {
		return err
	}
	drift := p.verifier.driftOf(e)
	ep := p.entity(e)
	for _, o := range ops {
		doc, ok := live[o.RemoteID]
		if !ok {
			drift.Missing++
			if p.verifier.recreate {
				drift.Recreated++
				o.Action, o.verify, o.sameRow, o.prev, o.prevRaw, o.diff = state.ActionCreate, false, false, nil, nil, nil
				continue
			}
			if o.sameRow {
				ep.unchanged++
				o.Action = ""
			}
			continue
		}
		raw, err := json.Marshal(liveView(doc, o.rec))
		if err != nil {
			return fmt.Errorf("%s %q: %w", e, o.ERPKey, err)
		}
		if err := o.setPrev(raw); err != nil {
			return err
		}
		o.live = true
		var snap map[string]any
		if len(snaps[o.ERPKey]) > 0 {
			if err := json.Unmarshal(snaps[o.ERPKey], &snap); err != nil {
				return fmt.Errorf("checkpoint snapshot of %s %q: %w", e, o.ERPKey, err)
			}
		}
		drifted := false
		for _, c := range o.diff {
			wrote, _ := mapping.PathValue(snap, c.Path)
			if !mapping.SameValue(wrote, c.Old) {
				drift.Fields[c.Path]++
				drifted = true
			}
		}
		if drifted {
			drift.Rows++
		}
		if len(o.diff) == 0 && o.sameRow && !o.late {
			ep.unchanged++
			o.Action = ""
		}
	}
	return nil
}

// verifyManagement settles the rows of the Customer Management entities that wait for their live records (in
// ep.updates, planned in memory); loadDiffs then leaves them as they are.
func verifyManagement(p *plan) error {
	if p.verifier == nil {
		return nil
	}
	for _, e := range []mapping.Entity{mapping.Locations, mapping.Companies, mapping.Contacts} {
		ep := p.entities[e]
		if ep == nil {
			continue
		}
		var ops []*op
		for _, o := range ep.updates {
			if o.verify {
				ops = append(ops, o)
			}
		}
		if len(ops) == 0 {
			continue
		}
		if err := p.verifyOps(e, ops); err != nil {
			return err
		}
		for _, o := range ops {
			if o.Action == state.ActionCreate {
				ep.creates = append(ep.creates, o)
			}
		}
		ep.updates = slices.DeleteFunc(ep.updates, func(o *op) bool { return o.Action == "" || o.Action == state.ActionCreate })
	}
	return nil
}

// driftReport copies what the verifier found into the report.
func driftReport(rep *Report, p *plan) {
	if p.verifier == nil {
		return
	}
	for e, d := range p.verifier.drift {
		if d.Rows > 0 || d.Missing > 0 {
			rep.Drift[e] = d
		}
	}
}

// driftText is the summary's account of the drift found.
func (r *Report) driftText() string {
	var b strings.Builder
	// The updates were sent, which is not yet the platform holding the file's values: a check says that.
	verb, recreated := "sent the file's values", "created again"
	if r.DryRun {
		verb, recreated = "to send the file's values", "to create again"
	}
	for _, e := range slices.Sorted(maps.Keys(r.Drift)) {
		d := r.Drift[e]
		if d.Rows > 0 {
			var fields []string
			for _, f := range slices.Sorted(maps.Keys(d.Fields)) {
				fields = append(fields, fmt.Sprintf("%s %d", f, d.Fields[f]))
			}
			fmt.Fprintf(&b, "\n  drift %s: %s changed on the platform (%s), %s", e, state.Count(d.Rows, singular(e), string(e)), strings.Join(fields, ", "), verb)
		}
		if d.Recreated > 0 {
			fmt.Fprintf(&b, "\n  drift %s: %d in the checkpoint but not on the platform, %s from the file", e, d.Recreated, recreated)
		}
		if n := d.Missing - d.Recreated; n > 0 {
			fmt.Fprintf(&b, "\n  drift %s: %d in the checkpoint but not on the platform (deleted outside custsync? --detect-deletions records them)", e, n)
		}
	}
	return b.String()
}

// FixKeys are the keys of the rows the check found different from the platform, per entity: what check --fix
// repairs (Options.VerifyKeys).
func (r CheckReport) FixKeys() map[mapping.Entity]map[string]bool { return r.differing }

// fixRow is what check --fix reads of a check report: the entity, key and verdict of a CSV report's row, or of
// a row of an XLSX report's entity sheet (the sheet names the entity).
type fixRow struct {
	Entity string `csv:"entity"`
	Key    string `csv:"key"`
	Status string `csv:"status"`
}

// ReadFixKeys reads the keys a check report (CSV, or XLSX with a sheet per entity) gives as differing.
func ReadFixKeys(path string, read formats.Options) (map[mapping.Entity]map[string]bool, error) {
	in, err := OpenInput(InputOptions{Files: []string{path}, Read: read, Unmapped: true, AllowEmpty: true})
	if err != nil {
		return nil, err
	}
	defer in.Close()
	keys := map[mapping.Entity]map[string]bool{}
	for _, t := range in.Tables {
		if strings.EqualFold(t.Sheet, CheckSummarySheet) {
			continue
		}
		for _, col := range missingColumns[fixRow](t.Header) {
			if col != "entity" || t.Sheet == "" {
				return nil, fmt.Errorf("%w: %s is not a check report: it has no %s column", ErrInput, t, col)
			}
		}
		rows, err := readFixedTable[fixRow](t)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInput, t, err)
		}
		for _, r := range rows {
			if strings.TrimSpace(r.Status) != string(CheckDiffers) || strings.TrimSpace(r.Key) == "" {
				continue
			}
			name := cmp.Or(strings.TrimSpace(r.Entity), t.Sheet)
			e, ok := mapping.EntityFromName(name)
			if !ok {
				return nil, fmt.Errorf("%w: %s: %q is not an entity", ErrInput, t, name)
			}
			if keys[e] == nil {
				keys[e] = map[string]bool{}
			}
			keys[e][strings.TrimSpace(r.Key)] = true
		}
	}
	return keys, nil
}
