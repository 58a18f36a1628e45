package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// maxVersionRetries bounds how often an update re-reads a resource after a stale-version conflict (someone
// else changed it between our read and our write).
const maxVersionRetries = 3

// whileStale runs readAndWrite, which reads a record and writes it back under the version it read, again while it
// ends in a version conflict (the record changed in between), at most maxVersionRetries more times.
func whileStale(readAndWrite func() error) error {
	for attempt := 0; ; attempt++ {
		err := readAndWrite()
		if !remote.IsConflict(err) || attempt >= maxVersionRetries {
			return err
		}
	}
}

// parentKey returns the ERP key of a company row's parent, if any.
func parentKey(rec mapping.Record) string {
	for _, r := range rec.Refs {
		if r.Entity == mapping.Companies && r.Column == mapping.ParentKeyColumn {
			return r.Key
		}
	}
	return ""
}

// orderCompanies sorts the company upserts into levels, parents before children, so that a subsidiary is
// written only after its parent exists. Rows in a cycle, or whose parent is neither in the input nor synced
// before, or is not synced and its row is invalid, become row errors naming the chain, and so do their
// descendants.
func orderCompanies(p *plan) {
	ep := p.entities[mapping.Companies]
	if ep == nil || len(ep.creates)+len(ep.updates) == 0 {
		return
	}
	ops := append(append([]*op{}, ep.creates...), ep.updates...)
	byKey := make(map[string]*op, len(ops))
	for _, o := range ops {
		byKey[o.ERPKey] = o
	}
	// synced: the parent exists on the platform already (in the checkpoint, or adopted with nothing to write).
	synced := func(key string) bool {
		_, ok := p.knownID(mapping.Companies, key)
		return ok
	}
	const (
		unvisited = iota
		visiting
		done
	)
	status := map[string]int{}
	depth := map[string]int{}
	problem := map[string]string{}
	var visit func(key string, chain []string) (int, string)
	visit = func(key string, chain []string) (int, string) {
		switch status[key] {
		case done:
			return depth[key], problem[key]
		case visiting:
			i := slices.Index(chain, key)
			return 0, "parent cycle: " + strings.Join(append(chain[i:], key), " -> ")
		}
		status[key] = visiting
		chain = append(chain, key)
		o := byKey[key]
		d, why := 0, ""
		if parent := parentKey(o.rec); parent != "" {
			switch _, planned := byKey[parent]; {
			case planned:
				pd, pwhy := visit(parent, chain)
				d = pd + 1
				if pwhy != "" {
					why = pwhy
					if !strings.HasPrefix(pwhy, "parent cycle") {
						why = fmt.Sprintf("parent %q cannot be written: %s", parent, pwhy)
					}
				}
			default:
				if !synced(parent) {
					why = missingParent(p, parent, append(chain, parent))
				}
			}
		}
		status[key], depth[key], problem[key] = done, d, why
		return d, why
	}
	levels := [][]*op{}
	var creates, updates []*op
	for _, o := range ops {
		d, why := visit(o.ERPKey, nil)
		if why != "" {
			why = chainProblem(p, o.ERPKey, byKey)
			p.invalid = append(p.invalid, rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: mapping.Companies,
				key: o.ERPKey, action: string(o.Action), column: mapping.ParentKeyColumn, reason: why})
			continue
		}
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], o)
		if o.Action == state.ActionCreate {
			creates = append(creates, o)
		} else {
			updates = append(updates, o)
		}
	}
	ep.creates, ep.updates, ep.levels = creates, updates, levels
}

// chainProblem describes, from one row's point of view, why its parent chain does not resolve: the chain from
// the row up to the cycle or to the missing parent.
func chainProblem(p *plan, key string, byKey map[string]*op) string {
	chain := []string{key}
	for {
		o := byKey[key]
		parent := parentKey(o.rec)
		if i := slices.Index(chain, parent); i >= 0 {
			return "parent cycle: " + strings.Join(append(chain[i:], parent), " -> ")
		}
		chain = append(chain, parent)
		if _, planned := byKey[parent]; !planned {
			return missingParent(p, parent, chain)
		}
		key = parent
	}
}

// missingParent says why a parent company that no row of the run writes is missing: its row failed validation
// (naming the row), or it is neither in the input nor synced before.
func missingParent(p *plan, parent string, chain []string) string {
	if re, ok := p.invalidRow(mapping.Companies, parent); ok {
		return fmt.Sprintf("parent company %q failed validation at %s: %s (chain: %s)", parent, re.pos, re.reason, strings.Join(chain, " -> "))
	}
	return fmt.Sprintf("parent company %q is neither in the input nor synced before (chain: %s)", parent, strings.Join(chain, " -> "))
}

// orderCompanyDeletes puts company deletes children first and refuses to delete a company whose subsidiaries
// stay: the platform would delete them too, out of sight of the guard.
func orderCompanyDeletes(ctx context.Context, st *state.Store, p *plan) error {
	ep := p.entities[mapping.Companies]
	v := p.views[mapping.Companies]
	if ep == nil || len(ep.deletes) == 0 || v == nil {
		return nil
	}
	keys := make([]string, v.idx.Len())
	byRemote := make(map[string]string, len(keys))
	for i := range keys {
		keys[i] = v.idx.Key(i)
		byRemote[v.idx.Ref(i).RemoteID] = keys[i]
	}
	snaps, err := st.Snapshots(ctx, string(mapping.Companies), keys)
	if err != nil {
		return err
	}
	parent := map[string]string{}
	children := map[string][]string{}
	for k, raw := range snaps {
		var doc map[string]any
		if json.Unmarshal(raw, &doc) != nil {
			continue
		}
		if pid, _ := doc["parentId"].(string); pid != "" {
			if pk, ok := byRemote[pid]; ok {
				parent[k] = pk
				children[pk] = append(children[pk], k)
			}
		}
	}
	deleting := map[string]bool{}
	for _, o := range ep.deletes {
		deleting[o.ERPKey] = true
	}
	depth := func(k string) int {
		d := 0
		for seen := map[string]bool{}; parent[k] != "" && !seen[k]; k = parent[k] {
			seen[k] = true
			d++
		}
		return d
	}
	var kept []*op
	for _, o := range ep.deletes {
		var staying []string
		var walk func(string)
		walk = func(k string) {
			for _, c := range children[k] {
				if !deleting[c] {
					staying = append(staying, c)
				}
				walk(c)
			}
		}
		walk(o.ERPKey)
		if len(staying) > 0 {
			sort.Strings(staying)
			p.invalid = append(p.invalid, refusedDelete(o, subsidiariesStay(staying, "")))
			continue
		}
		kept = append(kept, o)
	}
	sort.SliceStable(kept, func(i, j int) bool { return depth(kept[i].ERPKey) > depth(kept[j].ERPKey) })
	ep.deletes = kept
	ep.deleteLevels = nil
	for i := 0; i < len(kept); {
		j := i
		for j < len(kept) && depth(kept[j].ERPKey) == depth(kept[i].ERPKey) {
			j++
		}
		ep.deleteLevels = append(ep.deleteLevels, kept[i:j])
		i = j
	}
	return nil
}

// refusedDelete is the row error of a delete the plan refuses.
func refusedDelete(o *op, reason string) rowError {
	return rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: o.entity, key: o.ERPKey,
		action: string(state.ActionDelete), reason: reason}
}

// subsidiariesStay is why a company delete is refused: subsidiaries that stay (where: "", or where they are)
// would go with it.
func subsidiariesStay(staying []string, where string) string {
	return fmt.Sprintf("not deleted: its subsidiaries %s stay%s, and the platform would delete them with it; delete them too or re-parent them first",
		strings.Join(staying, ", "), where)
}

// subsidiariesOnPlatform returns the ids of the subsidiaries the platform holds of company companyID, except
// those leaving says go anyway, sorted. The checkpoint does not know a subsidiary created on the platform (by
// a shop user, another tool), which a delete of its parent would take along all the same.
func subsidiariesOnPlatform(ctx context.Context, rc *remote.Client, companyID string, leaving func(id string) bool) ([]string, error) {
	var staying []string
	for d, err := range rc.Subsidiaries(ctx, companyID) {
		if err != nil {
			return nil, fmt.Errorf("list the subsidiaries of company %s on the platform: %w", companyID, err)
		}
		if id := docID(d); !leaving(id) {
			staying = append(staying, id)
		}
	}
	sort.Strings(staying)
	return staying, nil
}

// refuseLiveSubsidiaries is the platform's side of orderCompanyDeletes for a dry run that reads the platform
// (--dry-run --live): it refuses, as the run would (runner.keepsSubsidiaries), the deletes of the companies
// with a subsidiary the plan does not delete.
func refuseLiveSubsidiaries(ctx context.Context, rc *remote.Client, p *plan) error {
	ep := p.entities[mapping.Companies]
	if ep == nil || len(ep.deletes) == 0 {
		return nil
	}
	reasons, err := companiesKeepingSubsidiaries(ctx, rc, ep.deletes)
	if err != nil {
		return err
	}
	refused := map[*op]bool{}
	for _, o := range ep.deletes {
		if reason, ok := reasons[o]; ok {
			p.invalid = append(p.invalid, refusedDelete(o, reason))
			refused[o] = true
		}
	}
	ep.dropDeletes(refused)
	return nil
}

// companiesKeepingSubsidiaries predicts runner.keepsSubsidiaries for a plan's company deletes without
// sending one: it asks the platform for the subsidiaries of each company and returns, by op, why the deletes
// of those with a subsidiary that deletes does not hold are refused.
func companiesKeepingSubsidiaries(ctx context.Context, rc *remote.Client, deletes []*op) (map[*op]string, error) {
	deleting := map[string]bool{}
	for _, o := range deletes {
		deleting[o.RemoteID] = true
	}
	refused := map[*op]string{}
	for _, o := range deletes {
		staying, err := subsidiariesOnPlatform(ctx, rc, o.RemoteID, func(id string) bool { return deleting[id] })
		if err != nil {
			return nil, err
		}
		if len(staying) > 0 {
			refused[o] = subsidiariesStay(staying, " on the platform")
		}
	}
	return refused, nil
}

// dropDeletes takes the deletes the plan refused out of the entity's deletes and their levels.
func (ep *entityPlan) dropDeletes(refused map[*op]bool) {
	if len(refused) == 0 {
		return
	}
	drop := func(o *op) bool { return refused[o] }
	ep.deletes = slices.DeleteFunc(ep.deletes, drop)
	levels := ep.deleteLevels[:0]
	for _, level := range ep.deleteLevels {
		if level = slices.DeleteFunc(level, drop); len(level) > 0 {
			levels = append(levels, level)
		}
	}
	ep.deleteLevels = levels
}

// refuseListedLocations refuses the delete of a location that a company still lists in its locationKeys
// after the run: the platform would take the location out of the company's entitiesAddresses on its own, so
// the company would change while the run reports it unchanged and its checkpoint snapshot would be wrong. A
// company's list is its input row's locationKeys cell where the row sets one, else the checkpoint's snapshot
// of it; companies the run deletes (before the locations) list nothing any more.
func refuseListedLocations(ctx context.Context, st *state.Store, p *plan) error {
	ep := p.entities[mapping.Locations]
	if ep == nil || len(ep.deletes) == 0 {
		return nil
	}
	leaving := map[string]bool{}
	if cp := p.entities[mapping.Companies]; cp != nil {
		for _, o := range cp.deletes {
			leaving[o.ERPKey] = true
		}
	}
	// The input names locations by ERP key, the checkpoint's snapshots by platform id.
	listersByKey, listersByID := map[string][]string{}, map[string][]string{}
	for company, locations := range p.linkPlan.listed {
		if leaving[company] {
			continue
		}
		for location := range locations {
			listersByKey[location] = append(listersByKey[location], company)
		}
	}
	if v := p.views[mapping.Companies]; v != nil {
		var err error
		listersByID, err = checkpointListers(ctx, st, v.idx, func(k string) bool {
			_, inInput := p.linkPlan.listed[k]
			return leaving[k] || inInput
		})
		if err != nil {
			return err
		}
	}
	refused := map[*op]bool{}
	for _, o := range ep.deletes {
		companies := slices.Concat(listersByKey[o.ERPKey], listersByID[o.RemoteID])
		if len(companies) == 0 {
			continue
		}
		slices.Sort(companies)
		p.invalid = append(p.invalid, refusedDelete(o, companiesList(slices.Compact(companies))))
		refused[o] = true
	}
	ep.dropDeletes(refused)
	return nil
}

// checkpointListers maps location ids to the companies of the checkpoint (idx; but those skip names) whose
// snapshot lists them in entitiesAddresses.
func checkpointListers(ctx context.Context, st *state.Store, idx *state.EntityIndex, skip func(key string) bool) (map[string][]string, error) {
	var keys []string
	for i := range idx.Len() {
		if k := idx.Key(i); !skip(k) {
			keys = append(keys, k)
		}
	}
	return listersOf(ctx, st, keys)
}

// listersOf maps location ids to those of the companies keys (ERP keys) whose checkpoint snapshots list them.
func listersOf(ctx context.Context, st *state.Store, keys []string) (map[string][]string, error) {
	listers := map[string][]string{}
	if len(keys) == 0 {
		return listers, nil
	}
	snaps, err := st.Snapshots(ctx, string(mapping.Companies), keys)
	if err != nil {
		return nil, err
	}
	for company, raw := range snaps {
		var doc map[string]any
		if json.Unmarshal(raw, &doc) != nil {
			continue
		}
		for _, ref := range idRefs(doc["entitiesAddresses"]) {
			if id, _ := ref.(map[string]any)["id"].(string); id != "" {
				listers[id] = append(listers[id], company)
			}
		}
	}
	return listers, nil
}

// companiesList is why a location delete is refused: companies that still list it would lose it unseen.
func companiesList(companies []string) string {
	if len(companies) == 1 {
		return fmt.Sprintf("not deleted: company %s still lists it in locationKeys; remove it there first", companies[0])
	}
	return fmt.Sprintf("not deleted: companies %s still list it in locationKeys; remove it there first", strings.Join(companies, ", "))
}

// keepsSubsidiaries refuses, right before a company's delete, when the platform holds a subsidiary of it that
// this run did not delete (children go first, so those it deletes are gone by now): one list request per
// company delete.
func (r *runner) keepsSubsidiaries(ctx context.Context, o *op) error {
	staying, err := subsidiariesOnPlatform(ctx, r.rc, o.RemoteID, func(id string) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.deletedCompanies[id]
	})
	if err != nil {
		return err
	}
	if len(staying) > 0 {
		return errors.New(subsidiariesStay(staying, " on the platform"))
	}
	return nil
}

// requestShape turns a Customer Management response into a PUT body: references become {id} objects,
// read-only fields go.
func requestShape(doc map[string]any) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		switch k {
		case "id":
			continue
		case "entitiesAddresses", "approvalGroup", "customerGroups":
			out[k] = idRefs(v)
		case "legalEntity", "customer":
			if m, ok := v.(map[string]any); ok {
				out[k] = map[string]any{"id": m["id"]}
			} else {
				out[k] = v
			}
		case "metadata":
			if m, ok := v.(map[string]any); ok {
				md := map[string]any{}
				if ver, ok := m["version"]; ok {
					md["version"] = ver
				}
				if mx, ok := m["mixins"]; ok {
					md["mixins"] = mx
				}
				out[k] = md
			}
		default:
			out[k] = v
		}
	}
	return out
}

func idRefs(v any) []any {
	items, _ := v.([]any)
	out := make([]any, 0, len(items))
	for _, it := range items {
		switch t := it.(type) {
		case map[string]any:
			out = append(out, map[string]any{"id": t["id"]})
		case string:
			out = append(out, map[string]any{"id": t})
		}
	}
	return out
}

// keepPlatformGroups adds to body the customer groups the platform created for the legal entity (they carry a
// role): a PUT whose list omits them would delete them in IAM.
func keepPlatformGroups(body, current map[string]any) {
	groups, ok := body["customerGroups"].([]any)
	if !ok {
		return
	}
	have := map[any]bool{}
	for _, g := range groups {
		if m, ok := g.(map[string]any); ok {
			have[m["id"]] = true
		}
	}
	cur, _ := current["customerGroups"].([]any)
	for _, g := range cur {
		m, ok := g.(map[string]any)
		if !ok {
			continue
		}
		if role, _ := m["role"].(string); role != "" && !have[m["id"]] {
			groups = append(groups, map[string]any{"id": m["id"]})
		}
	}
	body["customerGroups"] = groups
}

// managementCalls are the remote calls of one Customer Management resource.
type managementCalls struct {
	get    func(ctx context.Context, id string) (remote.Doc, error)
	upsert func(ctx context.Context, id string, body remote.Doc) (bool, error)
	delete func(ctx context.Context, id string) error
	// defaults fills required fields a create needs when the row leaves them blank.
	defaults func(body map[string]any, rec mapping.Record)
}

func (r *runner) managementCalls(e mapping.Entity) managementCalls {
	switch e {
	case mapping.Companies:
		return managementCalls{get: r.rc.GetLegalEntity, upsert: r.rc.UpsertLegalEntity, delete: r.rc.DeleteLegalEntity,
			defaults: func(body map[string]any, rec mapping.Record) {
				if _, ok := body["type"]; !ok {
					body["type"] = "COMPANY"
					if parentKey(rec) != "" {
						body["type"] = "SUBSIDIARY"
					}
				}
			}}
	case mapping.Locations:
		return managementCalls{get: r.rc.GetLocation, upsert: r.rc.UpsertLocation, delete: r.rc.DeleteLocation,
			defaults: func(body map[string]any, _ mapping.Record) {
				if _, ok := body["contactDetails"]; !ok {
					body["contactDetails"] = map[string]any{}
				}
			}}
	default:
		return managementCalls{get: r.rc.GetContactAssignment, upsert: r.rc.UpsertContactAssignment, delete: r.rc.DeleteContactAssignment,
			defaults: func(body map[string]any, _ mapping.Record) {
				if _, ok := body["type"]; !ok {
					body["type"] = "CONTACT"
				}
			}}
	}
}

// applyManagement writes a Customer Management resource. These APIs have no PATCH and PUT replaces the whole
// resource, so every write reads the current resource, applies to it what the row changes (op.written: blank
// cells and unchanged fields keep the platform's values) and PUTs it back with its metadata.version; a stale
// version re-reads and tries again.
func (r *runner) applyManagement(ctx context.Context, o *op) (state.Outcome, error) {
	calls := r.managementCalls(o.entity)
	o.rec = r.withAdoptedRefs(o.rec)
	if len(o.prev) > 0 && !slices.Equal(o.diffRefs, o.rec.Refs) {
		// References resolved or adopted since the diff was taken may point elsewhere now.
		o.diffPrev()
	}
	written := o.written()
	var current, body map[string]any
	var createRefused error // a create has no version to be stale: its conflict is not read again
	err := whileStale(func() error {
		var err error
		current, err = calls.get(ctx, o.RemoteID)
		if err != nil && !remote.IsNotFound(err) {
			return err
		}
		if current == nil {
			body = o.rec.ApplyTo(nil) // a create: cleared fields are left out, never null
			calls.defaults(body, o.rec)
		} else {
			body = requestShape(written.ApplyTo(current))
			keepPlatformGroups(body, current)
		}
		_, err = calls.upsert(ctx, o.RemoteID, body)
		if current == nil && remote.IsConflict(err) {
			createRefused = err
			return nil
		}
		return err
	})
	switch {
	case createRefused != nil && o.entity == mapping.Contacts && !o.adopted:
		return r.adoptAssignment(ctx, o, createRefused)
	case createRefused != nil:
		return state.Outcome{}, createRefused
	case err != nil:
		return state.Outcome{}, err
	case current == nil || o.createdEarly:
		return writtenOutcome(o, true, nil, nil, nil)
	}
	var changes []mapping.FieldChange
	if o.Action != state.ActionCreate {
		// The PUT changes what the fields it applies differ from the record it read (an update's image).
		changes = mapping.DiffRemote(current, written)
	}
	return writtenOutcome(o, false, current, body, changes)
}

// adoptAssignment takes over the assignment the platform holds for the row's customer and company, after
// the create under custsync's own id was refused because the pair is assigned already: by hand, or by the
// platform itself, which copies a new assignment to the related companies of the hierarchy
// (companyContactPropagation, UPWARD by default: a contact of a subsidiary becomes one of its parents). The
// row is written onto that assignment (nothing is sent when it already says what the row says) and the
// checkpoint records it under the platform's id, so later runs update and delete that one.
func (r *runner) adoptAssignment(ctx context.Context, o *op, refused error) (state.Outcome, error) {
	customerID, companyID := refRemoteID(o.rec, mapping.Customers), refRemoteID(o.rec, mapping.Companies)
	existing, err := r.rc.ContactAssignmentOf(ctx, customerID, companyID)
	if err != nil {
		return state.Outcome{}, fmt.Errorf("look up the assignment of customer %q to company %q: %w",
			refKeyOf(o.rec, mapping.Customers), refKeyOf(o.rec, mapping.Companies), err)
	}
	id, _ := existing["id"].(string)
	if id == "" {
		return state.Outcome{}, fmt.Errorf("customer %q already has an assignment to company %q on the platform: %w",
			refKeyOf(o.rec, mapping.Customers), refKeyOf(o.rec, mapping.Companies), refused)
	}
	o.RemoteID, o.adopted = id, true
	r.mu.Lock()
	if r.adoptedIDs == nil {
		r.adoptedIDs = map[mapping.Entity]map[string]string{}
	}
	if r.adoptedIDs[o.entity] == nil {
		r.adoptedIDs[o.entity] = map[string]string{}
	}
	r.adoptedIDs[o.entity][o.ERPKey] = id
	r.mu.Unlock()
	if len(mapping.DiffRemote(existing, o.rec)) == 0 {
		return upsertOutcome(o)
	}
	return r.applyManagement(ctx, o)
}

// withAdoptedRefs points the references of rec at records adopted earlier in the run (a company's approval
// group naming an assignment that turned out to exist under the platform's id). Later runs find those ids
// in the checkpoint.
func (r *runner) withAdoptedRefs(rec mapping.Record) mapping.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	cloned := false
	for i, ref := range rec.Refs {
		id, ok := r.adoptedIDs[ref.Entity][ref.Key]
		if !ok || id == ref.RemoteID {
			continue
		}
		if !cloned {
			rec.Refs, cloned = slices.Clone(rec.Refs), true
		}
		rec.Refs[i].RemoteID = id
	}
	return rec
}

// refRemoteID is the platform id a record's reference to an entity points at.
func refRemoteID(rec mapping.Record, e mapping.Entity) string {
	for _, r := range rec.Refs {
		if r.Entity == e {
			return r.RemoteID
		}
	}
	return ""
}

func refKeyOf(rec mapping.Record, e mapping.Entity) string {
	for _, r := range rec.Refs {
		if r.Entity == e {
			return r.Key
		}
	}
	return ""
}

// deleteManagement deletes a Customer Management resource after reading its pre-image; a company only if the
// platform holds no subsidiary of it that would go with it (keepsSubsidiaries).
func (r *runner) deleteManagement(ctx context.Context, o *op) (state.Outcome, error) {
	calls := r.managementCalls(o.entity)
	if o.entity == mapping.Companies {
		if err := r.keepsSubsidiaries(ctx, o); err != nil {
			return state.Outcome{}, err
		}
	}
	pre, err := r.deleteWithPreImage(ctx, o,
		func() (remote.Doc, error) { return calls.get(ctx, o.RemoteID) },
		func() error { return calls.delete(ctx, o.RemoteID) })
	if err != nil {
		return state.Outcome{}, err
	}
	if o.entity == mapping.Companies {
		r.mu.Lock()
		r.deletedCompanies[o.RemoteID] = true
		r.mu.Unlock()
	}
	return deletedOutcome(o.entity, o.PlannedOp, pre), nil
}
