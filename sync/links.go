package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	stdsync "sync"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Links that the platform keeps on the other side of a row, or that point at records written later in the
// same run, are written after the records they need:
//
//   - A location's companyKey: the platform keeps the link on the company (entitiesAddresses). When the
//     input gives that company's row with a locationKeys cell, that cell is the company's list and the
//     location's companyKey must agree with it (a row error otherwise: two cells of one input contradict each
//     other). Else custsync adds the location to the company's list after the companies are written (the
//     location op runs late), and never removes one there: to unlink, edit the company's locationKeys.
//   - A company's approvalGroup names contact assignments, which need the company first. A company whose
//     group names an assignment the checkpoint does not know is written twice: without its approval group
//     with the other companies, then in full once the contact assignments are written; only the second write
//     is recorded, so an interruption between the two makes the next run repeat both.

// errLater tells runPhase that an op was started (or skipped) in its entity's phase and finishes in the late
// phase: nothing is recorded for it yet.
var errLater = errors.New("finished in the late phase")

// locationLink is a location row's companyKey reference.
type locationLink struct {
	company   string // ERP key of the company
	location  string // ERP key of the location
	src       *InputTable
	pos       formats.Position
	cells     []string
	unchanged bool // the row matched the checkpoint, so it has no op
}

// linkPlan collects, while rows are planned, what the links need.
type linkPlan struct {
	links []locationLink
	// listed: company ERP key -> the location keys its row's locationKeys cell sets (nil map entry: cleared).
	listed map[string]map[string]bool
}

// mapsLinksBothWays reports whether the input gives the company <-> location link from both sides, which
// makes every row of those tables matter for the agreement check: their raw-hash fast path is then off.
func mapsLinksBothWays(sources []*InputTable) bool {
	var fromLocations, fromCompanies bool
	for _, src := range sources {
		for _, m := range src.Mappers {
			switch targets := m.Targets(); m.Entity() {
			case mapping.Locations:
				fromLocations = fromLocations || slices.Contains(targets, mapping.CompanyKeyColumn)
			case mapping.Companies:
				fromCompanies = fromCompanies || slices.Contains(targets, mapping.LocationKeysColumn)
			}
		}
	}
	return fromLocations && fromCompanies
}

// noteLinks records the link cells of a valid upsert row (also an unchanged one).
func (p *plan) noteLinks(src *InputTable, row *mappedRow, rec mapping.Record, unchanged bool) {
	if rec.Command != mapping.Upsert {
		return
	}
	switch rec.Entity {
	case mapping.Locations:
		for _, ref := range rec.Refs {
			if ref.Column == mapping.CompanyKeyColumn {
				p.linkPlan.links = append(p.linkPlan.links, locationLink{company: ref.Key, location: rec.Key, src: src,
					pos: row.Pos, cells: p.rowCells(src, row), unchanged: unchanged})
			}
		}
	case mapping.Companies:
		set := map[string]bool{}
		sets := false
		for _, ref := range rec.Refs {
			if ref.Column == mapping.LocationKeysColumn {
				set[ref.Key], sets = true, true
			}
		}
		if v, ok := rec.Get("entitiesAddresses"); ok && v.IsClear() {
			sets = true
		}
		if sets {
			if p.linkPlan.listed == nil {
				p.linkPlan.listed = map[string]map[string]bool{}
			}
			p.linkPlan.listed[rec.Key] = set
		}
	}
}

// planLinks checks the locations' companyKey links against the companies of the input and decides which ops
// run late: locations whose link custsync writes on the company, companies whose approval group names
// assignments not written yet.
func planLinks(p *plan) {
	ops := map[string]*op{}
	if ep := p.entities[mapping.Locations]; ep != nil {
		for _, o := range append(slices.Clone(ep.creates), ep.updates...) {
			ops[o.ERPKey] = o
		}
	}
	bad := map[string]bool{}
	for _, l := range p.linkPlan.links {
		if listed, ok := p.linkPlan.listed[l.company]; ok {
			if !listed[l.location] {
				p.rejectLink(l, fmt.Sprintf("companyKey %q: the locationKeys of company %q in this input do not list location %q; list it there or leave companyKey blank",
					l.company, l.company, l.location))
				bad[l.location] = true
			}
			continue
		}
		if !p.known(mapping.Companies, l.company) {
			p.rejectLink(l, fmt.Sprintf("companyKey %q: the company is neither in the input nor synced before", l.company))
			bad[l.location] = true
			continue
		}
		if o := ops[l.location]; o != nil {
			o.late = true
		}
	}
	if len(bad) > 0 {
		ep := p.entities[mapping.Locations]
		drop := func(o *op) bool { return bad[o.ERPKey] }
		ep.creates = slices.DeleteFunc(ep.creates, drop)
		ep.updates = slices.DeleteFunc(ep.updates, drop)
	}

	ep := p.entities[mapping.Companies]
	if ep == nil {
		return
	}
	var invalid []string
	for _, list := range [][]*op{ep.creates, ep.updates} {
		for _, o := range list {
			for _, ref := range o.rec.Refs {
				if ref.Column != mapping.ApprovalGroupColumn {
					continue
				}
				if v := p.views[mapping.Contacts]; v != nil {
					if _, synced := v.lookup(ref.Key); synced {
						continue
					}
				}
				if !p.known(mapping.Contacts, ref.Key) {
					p.invalid = append(p.invalid, rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: mapping.Companies,
						key: o.ERPKey, action: string(o.Action), column: mapping.ApprovalGroupColumn, reason: fmt.Sprintf(
							"approvalGroup names the contact assignment %s, which is neither in the input nor synced before", contactLabel(ref.Key))})
					invalid = append(invalid, o.ERPKey)
					break
				}
				o.late = true
			}
		}
	}
	if len(invalid) > 0 {
		drop := func(o *op) bool { return slices.Contains(invalid, o.ERPKey) }
		ep.creates = slices.DeleteFunc(ep.creates, drop)
		ep.updates = slices.DeleteFunc(ep.updates, drop)
	}
}

// contactLabel names a contact assignment key as "company/customer" for messages.
func contactLabel(key string) string {
	parts := mapping.SplitKey(key, 2)
	return fmt.Sprintf("%q (company %q, customer %q)", key, parts[0], parts[len(parts)-1])
}

// known reports whether a key is in the checkpoint or claimed by a row of the input.
func (p *plan) known(e mapping.Entity, key string) bool {
	v := p.views[e]
	if v == nil {
		return false
	}
	if _, ok := v.lookup(key); ok {
		return true
	}
	_, ok := v.fresh.Get(key)
	return ok
}

// rejectLink turns a location row into a row error because of its companyKey.
func (p *plan) rejectLink(l locationLink, reason string) {
	if l.unchanged {
		p.entity(mapping.Locations).unchanged--
	}
	p.invalid = append(p.invalid, rowError{src: l.src, pos: l.pos, cells: l.cells, entity: mapping.Locations, key: l.location,
		action: "validate", column: mapping.CompanyKeyColumn, reason: reason})
}

// withoutRefs returns rec without its references of one column: a payload built from it keeps whatever the
// platform has there.
func withoutRefs(rec mapping.Record, column string) mapping.Record {
	out := rec
	out.Refs = slices.DeleteFunc(slices.Clone(rec.Refs), func(r mapping.Ref) bool { return r.Column == column })
	return out
}

// applyManagementEarly is the Customer Management write of an entity's own phase: late locations wait, and a
// late company is written without its approval group.
func (r *runner) applyManagementEarly(ctx context.Context, o *op) (state.Outcome, error) {
	if !o.late {
		return r.applyManagement(ctx, o)
	}
	if o.entity == mapping.Companies {
		first := *o
		first.rec = withoutRefs(o.rec, mapping.ApprovalGroupColumn)
		out, err := r.applyManagement(ctx, &first)
		if err != nil {
			return state.Outcome{}, err
		}
		o.createdEarly = out.HTTPStatus == http.StatusCreated

	}
	return state.Outcome{}, errLater
}

// applyLate finishes a late op: the company with its approval group, the location and then its links.
func (r *runner) applyLate(ctx context.Context, o *op) (state.Outcome, error) {
	out, err := r.applyManagement(ctx, o)
	if err != nil || o.entity != mapping.Locations {
		return out, err
	}
	for _, ref := range o.rec.Refs {
		if ref.Column != mapping.CompanyKeyColumn {
			continue
		}
		if err := r.linkLocation(ctx, ref, o.RemoteID); err != nil {
			return state.Outcome{}, err
		}
	}
	return out, nil
}

// runLate runs the late ops: companies first (their approval groups), then locations (their links).
func (r *runner) runLate(ctx context.Context, p *plan) error {
	for _, e := range []mapping.Entity{mapping.Companies, mapping.Locations} {
		ep := p.entities[e]
		if ep == nil {
			continue
		}
		var late []*op
		for _, o := range append(slices.Clone(ep.creates), ep.updates...) {
			if o.late && !r.failedAlready(o) {
				late = append(late, o)
			}
		}
		if err := r.runPhase(ctx, late, r.applyLate); err != nil {
			return err
		}
	}
	return nil
}

// failedAlready reports whether an op failed in its entity's phase (blocked by what it references): its late
// part is not tried.
func (r *runner) failedAlready(o *op) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, failed := r.failed[o.entity][o.ERPKey]
	return failed
}

// linkLocation adds a location to a company's entitiesAddresses unless it is listed already. Links to one
// company are added one at a time, so they do not race each other's metadata.version.
func (r *runner) linkLocation(ctx context.Context, company mapping.Ref, locationID string) error {
	mu := r.companyLock(company.RemoteID)
	mu.Lock()
	defer mu.Unlock()
	return whileStale(func() error {
		current, err := r.rc.GetLegalEntity(ctx, company.RemoteID)
		if remote.IsNotFound(err) {
			return fmt.Errorf("companyKey %q: company %s does not exist on the platform: %w", company.Key, company.RemoteID, err)
		}
		if err != nil {
			return err
		}
		ids, _ := current["entitiesAddresses"].([]any)
		if slices.ContainsFunc(ids, func(l any) bool { m, _ := l.(map[string]any); return m["id"] == locationID }) {
			return nil
		}
		body := requestShape(current)
		body["entitiesAddresses"] = append(idRefs(current["entitiesAddresses"]), map[string]any{"id": locationID})
		if _, err := r.rc.UpsertLegalEntity(ctx, company.RemoteID, body); err != nil {
			return fmt.Errorf("list the location in company %q (companyKey): %w", company.Key, err)
		}
		return nil
	})
}

func (r *runner) companyLock(id string) *stdsync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.companyLocks == nil {
		r.companyLocks = map[string]*stdsync.Mutex{}
	}
	mu := r.companyLocks[id]
	if mu == nil {
		mu = &stdsync.Mutex{}
		r.companyLocks[id] = mu
	}
	return mu
}
