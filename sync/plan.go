package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"custsync/formats"
	"custsync/mapping"
	"custsync/state"
)

// resultColumnPrefix starts the columns custsync adds to result files. They are dropped when a result file is
// read back as input, so a fixed error file can be imported as it is.
const resultColumnPrefix = "custsync_"

// applyOrder is the order in which upserts run: what is referenced goes first (locations before the companies
// that list them, customers before their addresses). Deletes run in reverse.
var applyOrder = mapping.Entities()

// source is one input table with its resolved mappers.
type source struct {
	id      int
	file    string
	sheet   string
	header  []string // the input header without custsync_ result columns
	keep    []int    // indexes of the kept columns in the raw rows; nil when nothing was dropped
	mappers []*mapping.Mapper
	rows    int
}

func (s *source) String() string {
	if s.sheet != "" {
		return fmt.Sprintf("%s[%s]", s.file, s.sheet)
	}
	return s.file
}

// op is one planned change.
type op struct {
	state.PlannedOp
	entity mapping.Entity
	rec    mapping.Record // zero for full-snapshot deletes
	src    *source        // nil for full-snapshot deletes
	cells  []string       // the input row, for result files
	prev   map[string]any // the checkpoint snapshot (updates)
	diff   []mapping.FieldChange
	seq    int64
}

// rowError is a row that failed, at validation or when applied.
type rowError struct {
	src    *source
	pos    mapping.Position
	cells  []string
	entity mapping.Entity
	key    string
	action string
	column string
	status int
	reason string
}

// entityPlan is the plan for one entity.
type entityPlan struct {
	entity     mapping.Entity
	inInput    bool
	rows       int // data rows mapped to this entity
	checkpoint int // entities of this kind in the checkpoint before the run
	creates    []*op
	updates    []*op
	deletes    []*op
	unchanged  int
	ignored    int
	// levels are the upserts in dependency order (companies: parents first); nil means one level.
	levels [][]*op
	// deleteLevels are the deletes in order (companies: children first); nil means one level.
	deleteLevels [][]*op
	// refresh are rows whose hash changed but that change nothing on the platform (e.g. a cell blanked):
	// only the checkpoint hash is updated.
	refresh []*op
}

// plan is everything the run will do.
type plan struct {
	views    map[mapping.Entity]*checkpointView
	sources  []*source
	entities map[mapping.Entity]*entityPlan
	invalid  []rowError
}

func (p *plan) entity(e mapping.Entity) *entityPlan {
	ep := p.entities[e]
	if ep == nil {
		ep = &entityPlan{entity: e}
		p.entities[e] = ep
	}
	return ep
}

// openSources opens every file and resolves the mappers of every table, before anything else happens, so a
// wrong header or an unreadable file stops the run with nothing sent.
func openSources(opts *Options) ([]*source, [][]formats.Table, error) {
	var sources []*source
	var tables [][]formats.Table
	fail := func(err error) ([]*source, [][]formats.Table, error) {
		for _, ts := range tables {
			_ = formats.CloseAll(ts)
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	for _, path := range opts.Files {
		ts, err := formats.Open(path, opts.Read)
		if err != nil {
			return fail(err)
		}
		tables = append(tables, ts)
		for _, t := range ts {
			src := &source{id: len(sources), file: path}
			if ext := strings.ToLower(filepath.Ext(path)); ext == ".xlsx" || ext == ".xlsm" {
				src.sheet = t.Name()
			}
			src.header, src.keep = dropResultColumns(t.Header())
			mappers, err := mapping.Resolve(opts.Spec, mapping.Table{File: path, Sheet: src.sheet, Entity: opts.Entity}, src.header)
			if err != nil {
				return fail(err)
			}
			src.mappers = mappers
			sources = append(sources, src)
		}
	}
	return sources, tables, nil
}

// dropResultColumns removes the columns a result file added, so that an error file can be fed back.
func dropResultColumns(header []string) ([]string, []int) {
	drop := false
	for _, h := range header {
		if strings.HasPrefix(strings.ToLower(h), resultColumnPrefix) {
			drop = true
			break
		}
	}
	if !drop {
		return header, nil
	}
	var kept []string
	var keep []int
	for i, h := range header {
		if !strings.HasPrefix(strings.ToLower(h), resultColumnPrefix) {
			kept = append(kept, h)
			keep = append(keep, i)
		}
	}
	return kept, keep
}

// checkpointView is the checkpoint of one entity kind as the planner sees it. In full mode it also records
// which keys the input claimed, so that the others are the deletion candidates.
type checkpointView struct {
	refs map[string]state.EntityRef
	seen map[string]struct{} // nil unless in full mode
}

func (v *checkpointView) claim(key string) {
	if v.seen != nil {
		v.seen[key] = struct{}{}
	}
}

// buildPlan reads every row, validates and hashes it, and compares it with the checkpoint.
func buildPlan(ctx context.Context, st *state.Store, opts *Options, sources []*source, tables [][]formats.Table) (*plan, error) {
	p := &plan{sources: sources, entities: map[mapping.Entity]*entityPlan{}}
	views := map[mapping.Entity]*checkpointView{}
	load := func(e mapping.Entity) error {
		if views[e] != nil {
			return nil
		}
		refs, err := st.LoadEntities(ctx, string(e))
		if err != nil {
			return err
		}
		views[e] = &checkpointView{refs: refs}
		p.entity(e).checkpoint = len(refs)
		return nil
	}
	for _, src := range sources {
		for _, m := range src.mappers {
			e := m.Entity()
			p.entity(e).inInput = true
			if err := load(e); err != nil {
				return nil, err
			}
			if opts.Mode == ModeFull {
				views[e].seen = map[string]struct{}{}
			}
			// References resolve through the checkpoint of the entities they point to.
			for _, dep := range referencedEntities[e] {
				if err := load(dep); err != nil {
					return nil, err
				}
			}
		}
	}
	keys := mapping.NewKeySet(0)
	i := 0
	for _, ts := range tables {
		for _, t := range ts {
			src := sources[i]
			i++
			if err := readTable(ctx, p, src, t, views, keys); err != nil {
				return nil, err
			}
		}
	}
	resolveReferences(p, views)
	if opts.Mode == ModeFull {
		for e, v := range views {
			if v.seen == nil {
				continue
			}
			ep := p.entity(e)
			for key, ref := range v.refs {
				if _, ok := v.seen[key]; ok {
					continue
				}
				ep.deletes = append(ep.deletes, &op{PlannedOp: state.PlannedOp{Kind: string(e), ERPKey: key,
					RemoteID: ref.RemoteID, Action: state.ActionDelete, Reason: state.ReasonFullSnapshot}, entity: e})
			}
		}
	}
	for _, ep := range p.entities {
		for _, list := range [][]*op{ep.creates, ep.updates, ep.deletes} {
			sort.SliceStable(list, func(a, b int) bool { return list[a].ERPKey < list[b].ERPKey })
		}
	}
	p.views = views
	return p, nil
}

// referencedEntities lists, per entity, the entities its rows reference.
var referencedEntities = map[mapping.Entity][]mapping.Entity{
	mapping.Addresses: {mapping.Customers},
	mapping.Companies: {mapping.Companies, mapping.Locations},
	mapping.Locations: {mapping.Companies},
	mapping.Contacts:  {mapping.Companies, mapping.Customers},
}

// resolveReferences points every reference at the platform id the checkpoint knows for its key (an adopted or
// earlier id wins over the id template), and computes the ids that depend on references.
func resolveReferences(p *plan, views map[mapping.Entity]*checkpointView) {
	for _, ep := range p.entities {
		for _, list := range [][]*op{ep.creates, ep.updates} {
			for _, o := range list {
				for i := range o.rec.Refs {
					ref := &o.rec.Refs[i]
					if v := views[ref.Entity]; v != nil {
						if cp, ok := v.refs[ref.Key]; ok && cp.RemoteID != "" {
							ref.RemoteID = cp.RemoteID
						}
					}
				}
				if o.entity == mapping.Addresses && o.Action == state.ActionCreate {
					o.RemoteID = addressRemoteID(o.rec)
				}
			}
		}
	}
}

// readTable streams one table through its mappers into the plan.
func readTable(ctx context.Context, p *plan, src *source, t formats.Table, views map[mapping.Entity]*checkpointView, keys *mapping.KeySet) error {
	var kept []string
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		row, err := t.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var rowErr *formats.RowError
		if errors.As(err, &rowErr) {
			pos := mapping.Position{File: rowErr.Pos.File, Sheet: rowErr.Pos.Sheet, Line: rowErr.Pos.Line}
			p.invalid = append(p.invalid, rowError{src: src, pos: pos, reason: rowErr.Err.Error(), action: "read"})
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInput, err)
		}
		src.rows++
		cells := row.Cells
		if src.keep != nil {
			kept = kept[:0]
			for _, i := range src.keep {
				kept = append(kept, cells[i])
			}
			cells = kept
		}
		pos := mapping.Position{File: row.Pos.File, Sheet: row.Pos.Sheet, Line: row.Pos.Line}
		for _, m := range src.mappers {
			planRow(p, src, m, pos, cells, views[m.Entity()], keys)
		}
	}
}

// planRow maps one row for one entity and decides what to do with it.
func planRow(p *plan, src *source, m *mapping.Mapper, pos mapping.Position, cells []string, view *checkpointView, keys *mapping.KeySet) {
	e := m.Entity()
	ep := p.entity(e)
	ep.rows++
	rec, ferrs := m.Map(pos, cells)
	if len(ferrs) == 0 {
		if dup := keys.Check(rec); dup != nil {
			ferrs = append(ferrs, *dup)
		}
	}
	if len(ferrs) > 0 {
		// A row that exists but is invalid must never look like a deletion in full mode.
		if rec.Key != "" {
			view.claim(rec.Key)
		}
		for _, fe := range ferrs {
			p.invalid = append(p.invalid, rowError{src: src, pos: pos, cells: append([]string(nil), cells...), entity: e,
				key: rec.Key, action: "validate", column: fe.Column, reason: fe.Error()})
		}
		return
	}
	ref, known := view.refs[rec.Key]
	view.claim(rec.Key)
	switch rec.Command {
	case mapping.Ignore:
		ep.ignored++
		return
	case mapping.Delete:
		if !known {
			// custsync deletes only what it synced: a key it never wrote may belong to someone else's data,
			// and a first run against a populated tenant must not turn into a mass deletion.
			ep.ignored++
			return
		}
		ep.deletes = append(ep.deletes, &op{PlannedOp: state.PlannedOp{Kind: string(e), ERPKey: rec.Key, RemoteID: ref.RemoteID,
			Action: state.ActionDelete, Reason: state.ReasonERPDeleted}, entity: e, rec: rec, src: src,
			cells: append([]string(nil), cells...)})
		return
	}
	hash := rec.Hash()
	if known && ref.RowHash == hash {
		ep.unchanged++
		return
	}
	o := &op{PlannedOp: state.PlannedOp{Kind: string(e), ERPKey: rec.Key, NewHash: hash}, entity: e, rec: rec, src: src,
		cells: append([]string(nil), cells...)}
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
		ep.updates = append(ep.updates, o)
	} else {
		o.Action = state.ActionCreate
		ep.creates = append(ep.creates, o)
	}
}

// addressRemoteID is the checkpoint id of an address: the customer's platform id and the address id, since an
// address is only reachable through its customer.
func addressRemoteID(rec mapping.Record) string {
	customer := ""
	for _, r := range rec.Refs {
		if r.Entity == mapping.Customers {
			customer = r.RemoteID
		}
	}
	return customer + "/" + rec.RemoteID
}

// splitAddressID reverses addressRemoteID.
func splitAddressID(id string) (customerID, addressID string, ok bool) {
	customerID, addressID, ok = strings.Cut(id, "/")
	return customerID, addressID, ok && customerID != "" && addressID != ""
}

// loadDiffs reads the checkpoint snapshots of updated rows and computes what each update changes. Updates that
// change nothing on the platform become checkpoint refreshes.
func loadDiffs(ctx context.Context, st *state.Store, p *plan) error {
	for _, ep := range p.entities {
		if len(ep.updates) == 0 {
			continue
		}
		keys := make([]string, len(ep.updates))
		for i, o := range ep.updates {
			keys[i] = o.ERPKey
		}
		snaps, err := st.Snapshots(ctx, string(ep.entity), keys)
		if err != nil {
			return err
		}
		updates := ep.updates[:0]
		for _, o := range ep.updates {
			o.prev = map[string]any{}
			if raw, ok := snaps[o.ERPKey]; ok && len(raw) > 0 {
				if err := json.Unmarshal(raw, &o.prev); err != nil {
					return fmt.Errorf("checkpoint snapshot of %s %q: %w", ep.entity, o.ERPKey, err)
				}
			}
			o.diff = mapping.DiffRemote(o.prev, o.rec)
			if len(o.diff) == 0 {
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
