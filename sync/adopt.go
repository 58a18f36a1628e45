package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Adoption (import --adopt) is how a first run on a populated tenant takes over the records the platform holds
// already instead of creating them twice. A customer row that is not in the checkpoint is looked up before it
// is journaled, by batched q lookups, in this order: the id it would be written to (its template id, an
// explicit customerNumber or an SD mapping's), the ERP number in a platform field (--key-field, mixins
// included), then its contactEmail ignoring case. An address row of a customer the platform held is matched
// with that customer's addresses: by its id, then by the same street, number, zip code, city and country.
//
// A record found is adopted: the row becomes an update whose previous state is the live record, so only the
// fields that differ are sent (nothing when none does), and the outcome lands in the checkpoint with the row's
// hash and the platform's id (and in the SD mappings), so the next run finds it unchanged without asking. Two
// candidates, or an e-mail address another customer holds, make a row error naming both; the addresses of a
// customer that failed so fail with it.
//
// The lookups wait in groups (adoptGroup ops), like updates wait for their snapshots (plan.flushUpdates). A
// --live dry run asks the same questions and predicts the same outcome; without --adopt it still finds the
// e-mail addresses a create would be refused for. q compares exactly, so the batch asks for each e-mail address
// as written and in lower case; one the platform keeps in another mix of cases is then asked for alone,
// ignoring case (remote.Client.CustomersByEmailFold), so that no create meets a 409. A tenant without customers
// is asked nothing (one request tells). Should a 409 Duplicate account come all the same (a customer created
// meanwhile), the create adopts then (runner.adoptByEmail).

// adoptGroup is how many streamed ops wait for one round of adoption lookups.
const adoptGroup = 500

// adopter holds the adoption state of a run's streamed entities.
type adopter struct {
	rc *remote.Client
	st *state.Store
	// take adopts what is found (--adopt); without it a --live dry run only finds the creates the platform
	// would refuse.
	take     bool
	keyField string
	// empty is whether the tenant has no customer at all (then nothing is looked up); nil until asked.
	empty *bool
	// emails are the tenant's e-mail addresses, lower-cased, with their customers, when a small tenant was
	// listed for them (foldEmails); listTried says the listing was considered.
	emails    map[string][]string
	listTried bool
	// expand is what customer lookups bring along: mixins (rows may set mixin fields), and addresses when the
	// input has address rows.
	expand []string

	pending []*op
	// pendingCustomers are the keys of the customer creates in pending.
	pendingCustomers map[string]bool
	// looked are customer keys only addresses name (no row in this run, not in the checkpoint), looked up.
	looked map[string]bool
	// takenBy maps a platform customer adopted in this run to the ERP key that took it; addressTaken holds the
	// addresses adopted ("customer/address").
	takenBy      map[string]string
	addressTaken map[string]bool
	// failed are the customer keys whose adoption failed, with why: their addresses fail too.
	failed map[string]string
}

func newAdopter(rc *remote.Client, st *state.Store, opts *Options, addresses bool) *adopter {
	a := &adopter{rc: rc, st: st, take: opts.Adopt, keyField: opts.KeyField,
		expand: []string{"mixin:*"}, pendingCustomers: map[string]bool{}, looked: map[string]bool{},
		takenBy: map[string]string{}, addressTaken: map[string]bool{}, failed: map[string]string{}}
	if addresses {
		a.expand = append(a.expand, "addresses")
	}
	return a
}

// asksPlatform reports whether planning looks records up on the platform: a real run with --adopt, or a dry
// run with --live.
func (o *Options) asksPlatform() bool {
	if o.DryRun {
		return o.Live
	}
	return o.Adopt
}

// customersFirst orders the tables so that those feeding customers are planned first: an address's customer
// is then decided (adopted or not) before the address asks for its id. The order within is kept.
func customersFirst(tables []*InputTable) []*InputTable {
	feeds := func(t *InputTable) bool {
		return slices.ContainsFunc(t.Mappers, func(m *mapping.Mapper) bool { return m.Entity() == mapping.Customers })
	}
	out := slices.Clone(tables)
	slices.SortStableFunc(out, func(a, b *InputTable) int {
		switch fa, fb := feeds(a), feeds(b); {
		case fa == fb:
			return 0
		case fa:
			return -1
		}
		return 1
	})
	return out
}

// waits reports whether a streamed op waits for adoption lookups: customer creates, and addresses whose
// customer is still undecided or may hold addresses on the platform already.
func (a *adopter) waits(p *plan, o *op) bool {
	switch o.entity {
	case mapping.Customers:
		return o.Action == state.ActionCreate
	case mapping.Addresses:
		k := refKeyOf(o.rec, mapping.Customers)
		if _, bad := a.failed[k]; bad || a.pendingCustomers[k] {
			return true
		}
		return o.Action == state.ActionCreate && p.customerExisted(k)
	}
	return false
}

// customerExisted reports whether the customer of key existed on the platform before this run (synced,
// adopted or only named), so that it may hold addresses a new address row should not duplicate. A customer a
// row of this run creates has none.
func (p *plan) customerExisted(key string) bool {
	v := p.views[mapping.Customers]
	if v == nil || v.has(key) {
		return true
	}
	if _, ok := p.adoptedID(key); ok {
		return true
	}
	_, claimed := v.fresh.Get(key)
	return !claimed
}

// customerFind is one customer to look for, and what the lookups found.
type customerFind struct {
	key string
	// id is the platform id the row writes to; pinned says it is not the template's (an explicit
	// customerNumber or an SD mapping), so an e-mail address held by another customer is a conflict, not that
	// customer.
	id     string
	pinned bool
	email  string
	op     *op // nil for a customer only addresses name

	byID           remote.Doc
	byKey, byEmail []remote.Doc
}

// flushAdoptions decides the waiting ops: the customers first (adopted, created or failed), then the
// addresses, which then know their customer's id; then each goes on as any streamed op.
func (p *plan) flushAdoptions() error {
	a := p.adopter
	pending := a.pending
	a.pending = nil
	clear(a.pendingCustomers)
	var finds []*customerFind
	named := map[string]bool{}
	for _, o := range pending {
		if o.entity == mapping.Customers {
			finds = append(finds, p.customerFindOf(o))
			named[o.ERPKey] = true
			continue
		}
		k := refKeyOf(o.rec, mapping.Customers)
		v := p.views[mapping.Customers]
		if named[k] || a.looked[k] || v.has(k) {
			continue
		}
		if _, claimed := v.fresh.Get(k); claimed {
			continue // a customer row of this run decided it
		}
		named[k], a.looked[k] = true, true
		for _, ref := range o.rec.Refs {
			if ref.Entity == mapping.Customers {
				id := referenceID(ref, p.checkpointID, p.adoptedID)
				finds = append(finds, &customerFind{key: k, id: id, pinned: p.pinnedID(k, id)})
			}
		}
	}
	docs, err := a.findCustomers(p.ctx, finds)
	if err != nil {
		return err
	}
	for _, f := range finds {
		if err := p.decideCustomer(f); err != nil {
			return err
		}
	}
	if err := p.decideAddresses(pending, docs); err != nil {
		return err
	}
	for _, o := range pending {
		if o.Action != "" && p.streamErr == nil {
			p.route(o)
		}
	}
	return p.streamErr
}

// customerFindOf is the lookup of a customer create.
func (p *plan) customerFindOf(o *op) *customerFind {
	f := &customerFind{key: o.ERPKey, id: o.rec.RemoteID, pinned: p.pinnedID(o.ERPKey, o.rec.RemoteID), op: o}
	if v, ok := o.rec.Get("contactEmail"); ok && !v.IsClear() {
		f.email = v.String()
	}
	return f
}

// pinnedID reports whether id is not the customers id template's id for key.
func (p *plan) pinnedID(key, id string) bool {
	tmpl, err := mapping.RemoteID(p.spec.IDTemplate(mapping.Customers), key)
	return err != nil || tmpl != id
}

// findCustomers runs the lookups of finds, the three kinds at once, and fills in what each found. It returns
// the customers found by id, which carry their addresses when the input has address rows.
func (a *adopter) findCustomers(ctx context.Context, finds []*customerFind) (map[string]remote.Doc, error) {
	if len(finds) == 0 {
		return nil, nil
	}
	if a.empty == nil {
		some, err := a.rc.HasAtLeast(ctx, remote.CollectionCustomers, 1)
		if err != nil {
			return nil, fmt.Errorf("look up customers: %w", err)
		}
		a.empty = new(bool)
		*a.empty = !some
	}
	if *a.empty {
		return nil, nil
	}
	var ids, keys, emails []string
	for _, f := range finds {
		ids = append(ids, f.id)
		keys = append(keys, f.key)
		if f.email != "" {
			emails = append(emails, f.email)
		}
	}
	byID := map[string]remote.Doc{}
	byKey := map[string][]remote.Doc{}
	byEmail := map[string][]remote.Doc{}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return collectDocs(a.rc.CustomersWhere(gctx, "id", ids, a.expand...), "look up customers by id", func(d remote.Doc) {
			byID[docID(d)] = d
		})
	})
	if a.take && a.keyField != "" {
		g.Go(func() error {
			return collectDocs(a.rc.CustomersWhere(gctx, a.keyField, keys, a.expand...), "look up customers by "+a.keyField, func(d remote.Doc) {
				k := strings.TrimSpace(textAt(d, a.keyField))
				byKey[k] = append(byKey[k], d)
			})
		})
	}
	if len(emails) > 0 {
		g.Go(func() error {
			return collectDocs(a.rc.CustomersByEmail(gctx, emails, a.expand...), "look up customers by contactEmail", func(d remote.Doc) {
				e := strings.ToLower(textAt(d, "contactEmail"))
				byEmail[e] = append(byEmail[e], d)
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := a.foldEmails(ctx, finds, byEmail); err != nil {
		return nil, err
	}
	for _, f := range finds {
		f.byID = byID[f.id]
		f.byKey = byKey[f.key]
		if f.email != "" {
			f.byEmail = byEmail[strings.ToLower(f.email)]
		}
	}
	return byID, nil
}

// Folding an e-mail address costs a request of its own. When a group has many to fold and the tenant is small,
// one listing of the tenant's addresses is cheaper than the requests (and lasts the run): at most
// foldListLimit customers, read once a group has foldListFloor addresses to fold.
const (
	foldListFloor = 25
	foldListLimit = 20_000
)

// foldEmails finds the e-mail addresses of finds that the batch did not find, in any mix of cases: one request
// each, or from the tenant's addresses listed once (see foldListLimit).
func (a *adopter) foldEmails(ctx context.Context, finds []*customerFind, byEmail map[string][]remote.Doc) error {
	var missing []string
	seen := map[string]bool{}
	for _, f := range finds {
		if e := strings.ToLower(f.email); e != "" && byEmail[e] == nil && !seen[e] {
			seen[e] = true
			missing = append(missing, e)
		}
	}
	if len(missing) >= foldListFloor && !a.listTried {
		a.listTried = true
		large, err := a.rc.HasAtLeast(ctx, remote.CollectionCustomers, foldListLimit)
		if err != nil {
			return fmt.Errorf("look up customers by contactEmail: %w", err)
		}
		if !large {
			if err := a.listEmails(ctx); err != nil {
				return err
			}
		}
	}
	if a.emails != nil {
		var ids []string
		for _, e := range missing {
			ids = append(ids, a.emails[e]...)
		}
		return collectDocs(a.rc.CustomersWhere(ctx, "id", ids, a.expand...), "look up customers by contactEmail", func(d remote.Doc) {
			if e := strings.ToLower(textAt(d, "contactEmail")); seen[e] {
				byEmail[e] = append(byEmail[e], d)
			}
		})
	}
	found := make([][]remote.Doc, len(missing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, e := range missing {
		g.Go(func() error {
			return collectDocs(a.rc.CustomersByEmailFold(gctx, e, a.expand...), "look up customers by contactEmail", func(d remote.Doc) {
				found[i] = append(found[i], d)
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, e := range missing {
		if found[i] != nil {
			byEmail[e] = found[i]
		}
	}
	return nil
}

// listEmails lists the tenant's customers once and keeps their e-mail addresses, lower-cased, with their ids.
func (a *adopter) listEmails(ctx context.Context) error {
	emails := map[string][]string{}
	err := collectDocs(a.rc.Customers(ctx, remote.ListOptions{Workers: 4}), "list the customers' e-mail addresses", func(d remote.Doc) {
		if e := strings.ToLower(textAt(d, "contactEmail")); e != "" {
			emails[e] = append(emails[e], docID(d))
		}
	})
	if err == nil {
		a.emails = emails
	}
	return err
}

// collectDocs hands every record of a lookup to add; an error says which lookup failed.
func collectDocs(all iter.Seq2[remote.Doc, error], what string, add func(remote.Doc)) error {
	for d, err := range all {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		add(d)
	}
	return nil
}

func docID(d map[string]any) string {
	id, _ := d["id"].(string)
	return id
}

// docIDs lists the ids of docs, without repeats, in order.
func docIDs(docs []remote.Doc) []string {
	var out []string
	for _, d := range docs {
		if id := docID(d); !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// decideCustomer adopts, keeps as a create or fails the customer of f (see the rules above).
func (p *plan) decideCustomer(f *customerFind) error {
	a := p.adopter
	chosen, why, err := a.choose(p.ctx, f)
	if err != nil {
		return err
	}
	switch {
	case why != "":
		a.failed[f.key] = why
		if o := f.op; o != nil {
			p.invalid = append(p.invalid, rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: o.entity, key: o.ERPKey,
				action: "adopt", reason: why})
			o.Action = "" // dropped
		}
	case chosen != nil && !a.take && f.op != nil && f.byID != nil && docID(chosen) == f.id:
		// A --live dry run without --adopt: the create would meet this record under its own id.
		return mergeInto(f.op, chosen)
	case chosen == nil || !a.take:
	case f.op == nil:
		a.takenBy[docID(chosen)] = f.key
		p.adopted.set(f.key, docID(chosen))
	default:
		a.takenBy[docID(chosen)] = f.key
		p.adopted.set(f.key, docID(chosen))
		if _, ok := p.planned[f.key]; ok {
			p.planned[f.key] = docID(chosen) // references of later rows go to the adopted customer
		}
		if f.op.account != nil {
			p.loginsIgnored++
			f.op.account = nil
		}
		return adoptRecord(f.op, docID(chosen), docID(chosen), chosen)
	}
	return nil
}

// choose picks the platform customer f names (nil: none, the row creates it) or says why there is none to pick:
// two candidates by id and key field, an e-mail address another customer holds, a number an SD mapping or a
// row of this run gives to another ERP key; without take (no --adopt), the e-mail address the create would be
// refused for.
func (a *adopter) choose(ctx context.Context, f *customerFind) (remote.Doc, string, error) {
	var cands []remote.Doc
	if f.byID != nil {
		cands = append(cands, f.byID)
	}
	for _, d := range f.byKey {
		if !slices.ContainsFunc(cands, func(c remote.Doc) bool { return docID(c) == docID(d) }) {
			cands = append(cands, d)
		}
	}
	owners := docIDs(f.byEmail)
	var chosen remote.Doc
	why := ""
	switch {
	case len(cands) > 1:
		ids := docIDs(cands)
		why = fmt.Sprintf("the platform holds customers %s for ERP customer %q (by id and by %s): adopt one by hand (custsync mappings pull) or merge them",
			strings.Join(ids, " and "), f.key, a.keyField)
	case len(cands) == 1:
		chosen = cands[0]
		if other := slices.DeleteFunc(owners, func(id string) bool { return id == docID(chosen) }); len(other) > 0 {
			why = fmt.Sprintf("contactEmail %q belongs to customer %s on the platform, but the row's customer is %s: the platform refuses one address on two customers",
				f.email, other[0], docID(chosen))
		}
	case len(owners) > 1:
		why = fmt.Sprintf("contactEmail %q matches customers %s on the platform", f.email, strings.Join(owners, " and "))
	case len(owners) == 1 && !a.take:
		why = fmt.Sprintf("the platform would refuse the create (409 Duplicate account): contactEmail %q belongs to customer %s (import --adopt takes it over)",
			f.email, owners[0])
	case len(owners) == 1 && f.pinned:
		why = fmt.Sprintf("contactEmail %q belongs to customer %s on the platform, but the row's customer number is %s", f.email, owners[0], f.id)
	case len(owners) == 1:
		chosen = f.byEmail[0]
	}
	if why == "" && chosen != nil && a.take {
		var err error
		if why, err = adoptionClash(ctx, a.st, a.takenBy, f.key, docID(chosen)); err != nil {
			return nil, "", err
		}
	}
	if why != "" {
		return nil, why, nil
	}
	return chosen, "", nil
}

// adoptionClash says why the platform customer id cannot be adopted for the ERP key: a row of this run took it,
// or an SD mapping gives it another ERP key. "" when nothing stands in the way.
func adoptionClash(ctx context.Context, st *state.Store, takenBy map[string]string, key, id string) (string, error) {
	if other, ok := takenBy[id]; ok && other != key {
		return fmt.Sprintf("customer %s on the platform was adopted by ERP customer %q in this run", id, other), nil
	}
	m, ok, err := st.GetMapping(ctx, id)
	if err != nil {
		return "", err
	}
	if ok && !m.DeletedInYaaS && m.SDCustomerNumber != key {
		return fmt.Sprintf("customer %s on the platform is ERP customer %q (SD mapping)", id, m.SDCustomerNumber), nil
	}
	return "", nil
}

// adoptRecord turns o into the update of the platform's record doc under remoteID (the record's own id rec
// keeps): its previous state is the live record as far as the row speaks of it.
func adoptRecord(o *op, remoteID, recID string, doc map[string]any) error {
	o.Action, o.adopted, o.live, o.RemoteID, o.rec.RemoteID = state.ActionUpdate, true, true, remoteID, recID
	raw, err := json.Marshal(liveView(doc, o.rec))
	if err != nil {
		return fmt.Errorf("adopt %s %q: %w", o.entity, o.ERPKey, err)
	}
	return o.setPrev(raw)
}

// mergeInto marks the create o as one that meets the platform's record doc under the id it writes to, which
// the real run's upsert merges the row into: a --live dry run then lists it as a merge with the fields that
// would change on doc (the real run reports it as merged, and can keep no pre-image of it).
func mergeInto(o *op, doc map[string]any) error {
	raw, err := json.Marshal(liveView(doc, o.rec))
	if err != nil {
		return fmt.Errorf("compare %s %q with the platform's record: %w", o.entity, o.ERPKey, err)
	}
	o.merges = true
	return o.setPrev(raw)
}

// liveView is the part of a platform record a row speaks of: the fields it sets or clears and its references,
// as the platform has them. It stands for the checkpoint snapshot of a record custsync did not write.
func liveView(doc map[string]any, rec mapping.Record) map[string]any {
	out := map[string]any{}
	put := func(path string) {
		if v, ok := mapping.PathValue(doc, path); ok {
			mapping.SetPath(out, path, v, false)
		}
	}
	for _, f := range rec.Fields {
		put(f.Path)
	}
	for _, r := range rec.Refs {
		if r.Path != "" {
			put(r.Path)
		}
	}
	return out
}

// decideAddresses resolves the waiting addresses' customers and matches the creates of customers that existed
// with the addresses the platform holds for them (docs: customers found by id, with addresses when expanded).
func (p *plan) decideAddresses(pending []*op, docs map[string]remote.Doc) error {
	a := p.adopter
	var lookup []string
	var creates []*op
	for _, o := range pending {
		if o.entity != mapping.Addresses {
			continue
		}
		k := refKeyOf(o.rec, mapping.Customers)
		if why, bad := a.failed[k]; bad {
			p.invalid = append(p.invalid, rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: o.entity, key: o.ERPKey,
				action: "adopt", reason: fmt.Sprintf("customer %q: %s", k, why)})
			o.Action = ""
			continue
		}
		resolveOpReferences(p, o)
		if o.Action != state.ActionCreate || !a.take || !p.customerExisted(k) {
			continue
		}
		creates = append(creates, o)
		if id := refRemoteID(o.rec, mapping.Customers); !hasAddresses(docs[id]) {
			lookup = append(lookup, id)
		}
	}
	if len(lookup) > 0 && (a.empty == nil || !*a.empty) {
		if docs == nil {
			docs = map[string]remote.Doc{}
		}
		err := collectDocs(a.rc.CustomersWhere(p.ctx, "id", lookup, "addresses"), "look up the addresses of customers", func(d remote.Doc) {
			docs[docID(d)] = d
		})
		if err != nil {
			return err
		}
	}
	for _, o := range creates {
		customerID := refRemoteID(o.rec, mapping.Customers)
		addr, why := matchAddress(docs[customerID], o, a.addressTaken)
		switch {
		case why != "":
			p.invalid = append(p.invalid, rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: o.entity, key: o.ERPKey,
				action: "adopt", reason: why})
			o.Action = ""
		case addr != nil:
			id := customerID + "/" + docID(addr)
			a.addressTaken[id] = true
			if err := adoptRecord(o, id, docID(addr), addr); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasAddresses(doc remote.Doc) bool {
	_, ok := doc["addresses"].([]any)
	return ok
}

// addressMatchFields are what tells two addresses of one customer apart when ids do not: a row that sets a
// street and a zip code or city matches a platform address equal in each of these the row sets.
var addressMatchFields = []string{"street", "streetNumber", "zipCode", "city", "country"}

// matchAddress picks the address of customer (a platform record with its addresses) that the address create
// o is: the one with its id, else the one at the same place (addressMatchFields, ignoring case and spacing)
// that no other row took. Two such addresses are an error naming both; none is nil, and o stays a create.
func matchAddress(customer remote.Doc, o *op, taken map[string]bool) (remote.Doc, string) {
	list, _ := customer["addresses"].([]any)
	_, addrID, _ := splitAddressID(o.RemoteID)
	var same []remote.Doc
	for _, item := range list {
		addr, ok := item.(map[string]any)
		if !ok {
			continue
		}
		if docID(addr) == addrID {
			return addr, ""
		}
		if !taken[docID(customer)+"/"+docID(addr)] && samePlace(addr, o.rec) {
			same = append(same, addr)
		}
	}
	switch len(same) {
	case 0:
		return nil, ""
	case 1:
		return same[0], ""
	}
	return nil, fmt.Sprintf("matches addresses %s of customer %s on the platform (same street, zip code, city and country): adopt one by hand or remove the other",
		strings.Join(docIDs(same), " and "), docID(customer))
}

// samePlace reports whether a platform address is where the row's address is (see addressMatchFields).
func samePlace(addr map[string]any, rec mapping.Record) bool {
	set := func(path string) (string, bool) {
		v, ok := rec.Get(path)
		if !ok || v.IsClear() {
			return "", false
		}
		return v.String(), true
	}
	_, street := set("street")
	_, zip := set("zipCode")
	_, city := set("city")
	if !street || !zip && !city {
		return false
	}
	for _, path := range addressMatchFields {
		want, ok := set(path)
		if !ok {
			continue
		}
		if foldSpace(textAt(addr, path)) != foldSpace(want) {
			return false
		}
	}
	return true
}

// foldSpace lowers s and collapses its white space, for comparing what people typed.
func foldSpace(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// isDuplicateAccount reports whether err is the platform refusing a customer because another one holds its
// e-mail address.
func isDuplicateAccount(err error) bool {
	var ae *remote.APIError
	return errors.As(err, &ae) && remote.IsConflict(err) && strings.Contains(strings.ToLower(ae.Message), "duplicate account")
}

// adoptByEmail takes over the customer holding the e-mail address a create was refused for (409 Duplicate
// account), found ignoring case: the row is written onto it (only what differs), recorded under its number,
// and later ops of the run (the customer's addresses and assignments) go to it.
func (r *runner) adoptByEmail(ctx context.Context, o *op, refused error) (state.Outcome, error) {
	email, found, err := r.emailHolders(ctx, o)
	if err != nil {
		return state.Outcome{}, err
	}
	if len(found) != 1 {
		return state.Outcome{}, fmt.Errorf("%w; %d customers hold contactEmail %q ignoring case, so none is adopted", refused, len(found), email)
	}
	id := docID(found[0])
	if r.pinned(o) {
		return state.Outcome{}, fmt.Errorf("%w: contactEmail %q belongs to customer %s, but the row's customer number is %s", refused, email, id, o.RemoteID)
	}
	why, err := r.emailTakenBy(ctx, o.ERPKey, id)
	if err != nil {
		return state.Outcome{}, err
	}
	if why != "" {
		return state.Outcome{}, fmt.Errorf("%w: %s", refused, why)
	}
	o.adopted, o.RemoteID, o.rec.RemoteID = true, id, id
	raw, err := json.Marshal(liveView(found[0], o.rec))
	if err == nil {
		err = o.setPrev(raw)
	}
	if err != nil {
		return state.Outcome{}, err
	}
	r.noteAdopted(o.entity, o.ERPKey, id)
	if len(o.diff) > 0 {
		if err := updateCustomerRow(ctx, r.rc, id, o.rec, o.diff); err != nil {
			return state.Outcome{}, err
		}
	}
	// Recorded as a create the platform did not make (200): a restore never deletes it.
	return writtenOutcome(o, false, nil, nil, nil)
}

// pinned reports whether a customer op writes to an id that is not its key's template id.
func (r *runner) pinned(o *op) bool {
	tmpl, err := mapping.RemoteID(r.opts.Spec.IDTemplate(mapping.Customers), o.ERPKey)
	return err != nil || tmpl != o.RemoteID
}

// emailHolders returns the row's contactEmail and the platform customers holding it, ignoring case.
func (r *runner) emailHolders(ctx context.Context, o *op) (string, []remote.Doc, error) {
	email := ""
	if v, ok := o.rec.Get("contactEmail"); ok {
		email = v.String()
	}
	var found []remote.Doc
	err := collectDocs(r.rc.CustomersByEmailFold(ctx, email, "mixin:*"), "look up the customer holding "+email, func(d remote.Doc) {
		found = append(found, d)
	})
	return email, found, err
}

// emailTakenBy says why the customer id that holds a row's e-mail address cannot be the row's (key's): this run
// created it for another row, another row of the run adopted it, or an SD mapping gives it another ERP key; ""
// when nothing stands in the way.
func (r *runner) emailTakenBy(ctx context.Context, key, id string) (string, error) {
	if r.createdInRun(id) {
		return fmt.Sprintf("customer %s, which holds it, was created in this run for another row of the input; the platform allows one customer per e-mail address, so give each ERP customer its own", id), nil
	}
	return adoptionClash(ctx, r.st, r.adoptedBy(mapping.Customers), key, id)
}

// duplicateAccount explains a create the platform refused for its e-mail address (409 Duplicate account) in a
// run without --adopt: adopting the customer that holds it is the way out only when that customer is nobody
// else's (one request asks who holds it).
func (r *runner) duplicateAccount(ctx context.Context, o *op, refused error) error {
	email, found, err := r.emailHolders(ctx, o)
	if err == nil && len(found) == 1 {
		why, err := r.emailTakenBy(ctx, o.ERPKey, docID(found[0]))
		if err == nil && why != "" {
			return fmt.Errorf("%w: contactEmail %q: %s", refused, email, why)
		}
	}
	return fmt.Errorf("%w (another customer on the platform holds this e-mail address: import --adopt takes it over)", refused)
}

// noteAdopted records that the run adopted the platform record id for an ERP key, so that the ops that refer
// to it go there (withAdoptedRefs, adoptedAddress).
func (r *runner) noteAdopted(e mapping.Entity, key, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.adoptedIDs == nil {
		r.adoptedIDs = map[mapping.Entity]map[string]string{}
	}
	if r.adoptedIDs[e] == nil {
		r.adoptedIDs[e] = map[string]string{}
	}
	r.adoptedIDs[e][key] = id
}

// adoptedBy returns the records of an entity the run adopted so far as platform id -> ERP key.
func (r *runner) adoptedBy(e mapping.Entity) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for key, id := range r.adoptedIDs[e] {
		out[id] = key
	}
	return out
}

// adoptedAddress points an address op at its customer when the run adopted that customer after the address
// was planned (adoptByEmail), and a create then takes over the address the customer holds at the same place.
// It reports whether the op became an adoption.
func (r *runner) adoptedAddress(ctx context.Context, o *op) (bool, error) {
	r.mu.Lock()
	id, ok := r.adoptedIDs[mapping.Customers][refKeyOf(o.rec, mapping.Customers)]
	r.mu.Unlock()
	customerID, addressID, _ := splitAddressID(o.RemoteID)
	if !ok || id == customerID {
		return false, nil
	}
	o.RemoteID = id + "/" + addressID
	for i := range o.rec.Refs {
		if o.rec.Refs[i].Entity == mapping.Customers {
			o.rec.Refs[i].RemoteID = id
		}
	}
	if o.Action != state.ActionCreate {
		return false, nil
	}
	addrs, err := r.rc.Addresses(ctx, id)
	if err != nil {
		return false, fmt.Errorf("read the addresses of customer %s: %w", id, err)
	}
	list := make([]any, len(addrs))
	for i, d := range addrs {
		list[i] = map[string]any(d)
	}
	addr, why := matchAddress(remote.Doc{"id": id, "addresses": list}, o, nil)
	switch {
	case why != "":
		return false, errors.New(why)
	case addr == nil:
		return false, nil
	}
	o.adopted, o.RemoteID, o.rec.RemoteID = true, id+"/"+docID(addr), docID(addr)
	raw, err := json.Marshal(liveView(addr, o.rec))
	if err == nil {
		err = o.setPrev(raw)
	}
	return true, err
}
