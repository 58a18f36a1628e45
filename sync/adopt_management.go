package sync

import (
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"custsync/mapping"
	"custsync/remote"
)

// The Customer Management entities (thousands of rows, planned in memory) are adopted in one pass after the
// rows are read and before the guards, parents before what hangs on them:
//
//   - companies level by level (a subsidiary is looked for under its parent as adopted): by the id the row
//     would be written to, by legalInfo.registrationId, then by exact name under the same parent (a company
//     with another registration id is not the same one);
//   - locations by the id they would be written to, then by name among the locations their company lists
//     (their company: the row's companyKey, or the company row whose locationKeys name it);
//   - contact assignments by customer and company (the platform keeps one per pair); these also without
//     --adopt in a --live dry run, since the real run adopts a pair it meets anyway (runner.adoptAssignment).
//
// An adopted row becomes an update whose previous state is the live record, as for customers (adopt.go); two
// candidates, or a record another row or the checkpoint has already, make a row error naming both, and a
// company's error fails its subsidiaries.

// adoptManagement runs the pass and points every reference at what was adopted.
func adoptManagement(p *plan) error {
	if p.adopter == nil {
		return nil
	}
	if p.adopter.take {
		if err := p.adoptCompanies(); err != nil {
			return err
		}
		if err := p.adoptLocations(); err != nil {
			return err
		}
	} else if err := p.findMerges(); err != nil {
		return err
	}
	resolveReferences(p)
	if err := p.adoptAssignments(); err != nil {
		return err
	}
	resolveReferences(p)
	for _, e := range []mapping.Entity{mapping.Companies, mapping.Locations, mapping.Contacts} {
		if ep := p.entities[e]; ep != nil {
			var creates []*op
			for _, o := range ep.creates {
				switch {
				case o.Action == "":
				case o.adopted:
					ep.updates = append(ep.updates, o)
				default:
					creates = append(creates, o)
				}
			}
			ep.creates = creates
		}
	}
	return nil
}

// findMerges is, for a --live dry run without --adopt, the lookup of the company and location creates by the
// id they write to: one the platform holds already is a create the real run merges into it (mergeInto).
func (p *plan) findMerges() error {
	rc := p.adopter.rc
	for _, lookup := range []struct {
		entity mapping.Entity
		where  func(ids []string) iter.Seq2[remote.Doc, error]
		shape  func(remote.Doc) remote.Doc
	}{
		{mapping.Companies, func(ids []string) iter.Seq2[remote.Doc, error] { return rc.LegalEntitiesWhere(p.ctx, "id", ids) }, withoutPlatformGroups},
		{mapping.Locations, func(ids []string) iter.Seq2[remote.Doc, error] { return rc.LocationsWhere(p.ctx, "id", ids) }, nil},
	} {
		ep := p.entities[lookup.entity]
		if ep == nil || len(ep.creates) == 0 {
			continue
		}
		var ids []string
		for _, o := range ep.creates {
			ids = append(ids, o.rec.RemoteID)
		}
		byID := map[string]remote.Doc{}
		if err := collectDocs(lookup.where(ids), "look up "+string(lookup.entity)+" by id", func(d remote.Doc) { byID[docID(d)] = d }); err != nil {
			return err
		}
		for _, o := range ep.creates {
			doc := byID[o.rec.RemoteID]
			if doc == nil {
				continue
			}
			if lookup.shape != nil {
				doc = lookup.shape(doc)
			}
			if err := mergeInto(o, doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// noteAdoptedRef records a record adopted in the pass, for the references to it.
func (p *plan) noteAdoptedRef(e mapping.Entity, key, id string) {
	if p.adoptedRefs == nil {
		p.adoptedRefs = map[mapping.Entity]map[string]string{}
	}
	if p.adoptedRefs[e] == nil {
		p.adoptedRefs[e] = map[string]string{}
	}
	p.adoptedRefs[e][key] = id
}

// owners maps the platform ids the checkpoint holds for an entity to their ERP keys: a record one key owns is
// not adopted by another.
func (p *plan) owners(e mapping.Entity) map[string]string {
	out := map[string]string{}
	if v := p.views[e]; v != nil {
		for i := range v.idx.Len() {
			if id := v.idx.Ref(i).RemoteID; id != "" {
				out[id] = v.idx.Key(i)
			}
		}
	}
	return out
}

// refuseAdoption makes op o a row error and drops it.
func (p *plan) refuseAdoption(o *op, why string) {
	p.invalid = append(p.invalid, rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: o.entity, key: o.ERPKey,
		action: "adopt", reason: why})
	o.Action = ""
}

// settleAdoption carries out what pickOne decided for the create o: a row error (why), the adoption of doc
// (recorded for the references to it and as owned by o's key), or nothing (o stays a create).
func (p *plan) settleAdoption(o *op, doc remote.Doc, why string, owners map[string]string) error {
	switch {
	case why != "":
		p.refuseAdoption(o, why)
	case doc != nil:
		owners[docID(doc)] = o.ERPKey
		p.noteAdoptedRef(o.entity, o.ERPKey, docID(doc))
		return adoptRecord(o, docID(doc), docID(doc), doc)
	}
	return nil
}

// pickOne decides among the candidates a lookup found for a row: one not owned by another key is adopted
// (nil, "": nothing found); two are an error naming both.
func pickOne(what string, cands []remote.Doc, key string, owners map[string]string) (remote.Doc, string) {
	switch {
	case len(cands) == 0:
		return nil, ""
	case len(cands) > 1:
		return nil, fmt.Sprintf("the platform holds %ss %s for this row: adopt one by hand or remove the other", what, strings.Join(docIDs(cands), " and "))
	}
	if other, ok := owners[docID(cands[0])]; ok && other != key {
		return nil, fmt.Sprintf("%s %s on the platform is the record of %q already", what, docID(cands[0]), other)
	}
	return cands[0], ""
}

// addUnique appends the docs not in list yet (by id).
func addUnique(list []remote.Doc, docs ...remote.Doc) []remote.Doc {
	for _, d := range docs {
		if d != nil && !slices.ContainsFunc(list, func(c remote.Doc) bool { return docID(c) == docID(d) }) {
			list = append(list, d)
		}
	}
	return list
}

// textField returns the text a row sets for path ("" when it sets none or clears it).
func textField(rec mapping.Record, path string) string {
	v, ok := rec.Get(path)
	if !ok || v.IsClear() {
		return ""
	}
	return v.String()
}

// adoptCompanies adopts the company creates level by level.
func (p *plan) adoptCompanies() error {
	ep := p.entities[mapping.Companies]
	if ep == nil || len(ep.creates) == 0 {
		return nil
	}
	owners := p.owners(mapping.Companies)
	failed := map[string]string{}
	pending := slices.Clone(ep.creates)
	for len(pending) > 0 {
		waiting := map[string]bool{}
		for _, o := range pending {
			waiting[o.ERPKey] = true
		}
		var level, later []*op
		for _, o := range pending {
			if waiting[parentKey(o.rec)] {
				later = append(later, o)
			} else {
				level = append(level, o)
			}
		}
		if len(level) == 0 {
			break // a cycle: orderCompanies names it
		}
		if err := p.adoptCompanyLevel(level, owners, failed); err != nil {
			return err
		}
		pending = later
	}
	return nil
}

// companyParentID is the platform id of the parent a company row names ("" for none).
func (p *plan) companyParentID(o *op) string {
	for _, ref := range o.rec.Refs {
		if ref.Entity == mapping.Companies && ref.Column == mapping.ParentKeyColumn {
			if id, ok := p.knownID(mapping.Companies, ref.Key); ok {
				return id
			}
			return ref.RemoteID
		}
	}
	return ""
}

// adoptCompanyLevel looks up one level of company creates, all lookups at once, and adopts what it finds.
func (p *plan) adoptCompanyLevel(level []*op, owners, failed map[string]string) error {
	ctx, rc := p.ctx, p.adopter.rc
	var ids, regs []string
	names := map[string][]string{} // parent id -> names
	for _, o := range level {
		ids = append(ids, o.rec.RemoteID)
		if reg := textField(o.rec, "legalInfo.registrationId"); reg != "" {
			regs = append(regs, reg)
		}
		if name := textField(o.rec, "name"); name != "" {
			parent := p.companyParentID(o)
			names[parent] = append(names[parent], name)
		}
	}
	byID := map[string]remote.Doc{}
	byReg := map[string][]remote.Doc{}
	byName := map[[2]string][]remote.Doc{} // parent id, name
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return collectDocs(rc.LegalEntitiesWhere(gctx, "id", ids), "look up companies by id", func(d remote.Doc) { byID[docID(d)] = d })
	})
	if len(regs) > 0 {
		g.Go(func() error {
			return collectDocs(rc.LegalEntitiesWhere(gctx, "legalInfo.registrationId", regs), "look up companies by registration id", func(d remote.Doc) {
				reg := textAt(d, "legalInfo.registrationId")
				byReg[reg] = append(byReg[reg], d)
			})
		})
	}
	parents := slices.Sorted(maps.Keys(names))
	nameDocs := make([][]remote.Doc, len(parents))
	for i, parent := range parents {
		g.Go(func() error {
			return collectDocs(rc.LegalEntitiesNamed(gctx, parent, names[parent]), "look up companies by name", func(d remote.Doc) {
				nameDocs[i] = append(nameDocs[i], d)
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, parent := range parents {
		for _, d := range nameDocs[i] {
			k := [2]string{parent, textAt(d, "name")}
			byName[k] = append(byName[k], d)
		}
	}
	for _, o := range level {
		if why, bad := failed[parentKey(o.rec)]; bad {
			failed[o.ERPKey] = why
			p.refuseAdoption(o, fmt.Sprintf("parent company %q: %s", parentKey(o.rec), why))
			continue
		}
		reg := textField(o.rec, "legalInfo.registrationId")
		cands := addUnique(nil, byID[o.rec.RemoteID])
		if reg != "" {
			cands = addUnique(cands, byReg[reg]...)
		}
		if len(cands) == 0 {
			for _, d := range byName[[2]string{p.companyParentID(o), textField(o.rec, "name")}] {
				if other := textAt(d, "legalInfo.registrationId"); reg == "" || other == "" || other == reg {
					cands = addUnique(cands, d)
				}
			}
		}
		doc, why := pickOne("company", cands, o.ERPKey, owners)
		if why != "" {
			failed[o.ERPKey] = why
		}
		if doc != nil {
			doc = withoutPlatformGroups(doc)
		}
		if err := p.settleAdoption(o, doc, why, owners); err != nil {
			return err
		}
	}
	return nil
}

// adoptLocations adopts the location creates: by id, then by name among the locations of their company.
func (p *plan) adoptLocations() error {
	ep := p.entities[mapping.Locations]
	if ep == nil || len(ep.creates) == 0 {
		return nil
	}
	ctx, rc := p.ctx, p.adopter.rc
	// The companies of each location row, by platform id, where the company existed before this run.
	companiesOf := map[string][]string{}
	addCompany := func(location, companyKey string) {
		if id, ok := p.knownID(mapping.Companies, companyKey); ok && !slices.Contains(companiesOf[location], id) {
			companiesOf[location] = append(companiesOf[location], id)
		}
	}
	for company, listed := range p.linkPlan.listed {
		for location := range listed {
			addCompany(location, company)
		}
	}
	var ids, companyIDs []string
	for _, o := range ep.creates {
		ids = append(ids, o.rec.RemoteID)
		for _, ref := range o.rec.Refs {
			if ref.Column == mapping.CompanyKeyColumn {
				addCompany(o.ERPKey, ref.Key)
			}
		}
		companyIDs = append(companyIDs, companiesOf[o.ERPKey]...)
	}
	listedBy := map[string][]string{} // company id -> location ids it lists
	if err := collectDocs(rc.LegalEntitiesWhere(ctx, "id", companyIDs), "look up the companies of locations", func(d remote.Doc) {
		for _, l := range idRefs(d["entitiesAddresses"]) {
			if id, _ := l.(map[string]any)["id"].(string); id != "" {
				listedBy[docID(d)] = append(listedBy[docID(d)], id)
				ids = append(ids, id)
			}
		}
	}); err != nil {
		return err
	}
	byID := map[string]remote.Doc{}
	if err := collectDocs(rc.LocationsWhere(ctx, "id", ids), "look up locations by id", func(d remote.Doc) { byID[docID(d)] = d }); err != nil {
		return err
	}
	owners := p.owners(mapping.Locations)
	for _, o := range ep.creates {
		cands := addUnique(nil, byID[o.rec.RemoteID])
		if name := textField(o.rec, "name"); len(cands) == 0 && name != "" {
			for _, company := range companiesOf[o.ERPKey] {
				for _, id := range listedBy[company] {
					if d := byID[id]; d != nil && textAt(d, "name") == name {
						cands = addUnique(cands, d)
					}
				}
			}
		}
		doc, why := pickOne("location", cands, o.ERPKey, owners)
		if err := p.settleAdoption(o, doc, why, owners); err != nil {
			return err
		}
	}
	return nil
}

// adoptAssignments adopts the contact assignment creates whose customer and company the platform assigned
// already (by hand, or by its propagation within the company hierarchy).
func (p *plan) adoptAssignments() error {
	ep := p.entities[mapping.Contacts]
	if ep == nil || len(ep.creates) == 0 {
		return nil
	}
	var customers []string
	for _, o := range ep.creates {
		// A customer this run creates has no assignment yet.
		if p.customerExisted(refKeyOf(o.rec, mapping.Customers)) {
			customers = append(customers, refRemoteID(o.rec, mapping.Customers))
		}
	}
	if len(customers) == 0 {
		return nil
	}
	byPair := map[string]remote.Doc{}
	err := collectDocs(p.adopter.rc.ContactAssignmentsWhere(p.ctx, "customer.id", customers), "look up contact assignments", func(d remote.Doc) {
		byPair[pairKey(remote.RefID(d["customer"]), remote.RefID(d["legalEntity"]))] = d
	})
	if err != nil {
		return err
	}
	owners := p.owners(mapping.Contacts)
	for _, o := range ep.creates {
		pair := pairKey(refRemoteID(o.rec, mapping.Customers), refRemoteID(o.rec, mapping.Companies))
		doc, why := pickOne("contact assignment", addUnique(nil, byPair[pair]), o.ERPKey, owners)
		if err := p.settleAdoption(o, doc, why, owners); err != nil {
			return err
		}
	}
	return nil
}

// countAdopted counts the adoptions among ops.
func countAdopted(ops []*op) int {
	return countOps(ops, func(o *op) bool { return o.adopted })
}

// countMerged counts the creates among ops that a --live dry run found merging into a record (mergeInto).
func countMerged(ops []*op) int {
	return countOps(ops, func(o *op) bool { return o.merges })
}

func countOps(ops []*op, match func(*op) bool) int {
	n := 0
	for _, o := range ops {
		if match(o) {
			n++
		}
	}
	return n
}
