package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// DetectReport is what DetectDeletedInPlatform found.
type DetectReport struct {
	// Checked is how many platform customers the checkpoint and the mappings know.
	Checked int
	// Deleted are the ERP keys of the customers found deleted on the platform by this call.
	Deleted []string
	// Addresses and Contacts are how many checkpoint addresses and contact assignments of those customers were
	// removed with them (the platform deletes them with their customer).
	Addresses, Contacts int
}

// DetectDeletedInPlatform finds customers that custsync knows (in the checkpoint or the SD mappings) but that
// no longer exist on the platform, because someone deleted them outside custsync. It lists every customer
// once (paged, concurrently) and confirms each missing one with a GET that answers 404, so a customer that
// merely moved between pages during the listing is never reported.
//
// For each deleted customer, in the state file:
//   - its SD mapping gets deletedInYaaS=true (a mapping is created if there was none), and is marked for
//     pushing to the remote mappings endpoint;
//   - a deletion log entry with reason deleted-in-platform is written, with the checkpoint snapshot (the fields
//     custsync last wrote) as the pre-image, for the ERP team (`deletions list|export`);
//   - the checkpoint entity is removed, and so are the checkpoint rows of that customer's addresses and
//     contact assignments (the platform deletes them with it), in the same transaction and without log
//     entries of their own, as an import's delete does (dependentsOf).
//
// Semantics for the next import: the checkpoint no longer claims the customer exists, so nothing will be
// skipped as "unchanged" against a record that is gone. Whether the import re-creates it is decided by the
// mapping: while the mapping says deletedInYaaS (until `deletions ack` drops it) the import must hold the key
// back (see DeletedInPlatformKeys) rather than undo a deliberate deletion on the platform; after the ERP
// acknowledged the entry, a row the ERP still has is created again. Calling it again finds nothing new: known
// deletions are no longer candidates.
func DetectDeletedInPlatform(ctx context.Context, st *state.Store, rc *remote.Client) (DetectReport, error) {
	var rep DetectReport
	// candidates: platform customer number -> ERP key.
	candidates := map[string]string{}
	inCheckpoint := map[string]bool{}
	err := st.ScanEntities(ctx, string(mapping.Customers), func(e state.Entity) error {
		if e.RemoteID != "" {
			candidates[e.RemoteID] = e.ERPKey
			inCheckpoint[e.RemoteID] = true
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	mapped := map[string]state.SDMapping{}
	err = st.ScanMappings(ctx, state.MappingFilter{}, func(m state.SDMapping) error {
		mapped[m.CustomerNumber] = m
		if m.DeletedInYaaS {
			if !inCheckpoint[m.CustomerNumber] {
				delete(candidates, m.CustomerNumber)
			}
			return nil
		}
		if _, ok := candidates[m.CustomerNumber]; !ok {
			candidates[m.CustomerNumber] = m.SDCustomerNumber
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Checked = len(candidates)
	if len(candidates) == 0 {
		return rep, nil
	}

	present, err := listCustomerIDs(ctx, rc, "", 4)
	if err != nil {
		return rep, fmt.Errorf("list platform customers: %w", err)
	}
	var missing []string
	for id := range candidates {
		if !present[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	gone, err := confirmGone(ctx, rc, missing)
	if err != nil {
		return rep, err
	}
	if len(gone) == 0 {
		return rep, nil
	}

	keys := make([]string, 0, len(gone))
	for _, id := range gone {
		keys = append(keys, candidates[id])
	}
	snaps, err := st.Snapshots(ctx, string(mapping.Customers), keys)
	if err != nil {
		return rep, err
	}
	// Each customer leaves the checkpoint as a delete of an import does (one transaction with its mapping, its
	// deletion log entry and the checkpoint rows of the addresses and contact assignments the platform deleted
	// with it): a row of those left behind would count as unchanged, never be sent again, once the ERP
	// acknowledged the deletion and the customer is created again.
	outcomes := make([]state.Outcome, 0, len(gone))
	for _, id := range gone {
		key := candidates[id]
		outcomes = append(outcomes, state.Outcome{Kind: string(mapping.Customers), ERPKey: key, Action: state.ActionDelete,
			RemoteID: id, Reason: state.ReasonDeletedInPlatform, PreImage: snaps[key],
			Dependents: dependentsOf(mapping.Customers, key),
			Mapping:    &state.SDMapping{CustomerNumber: id, SDCustomerNumber: key, DeletedInYaaS: true}})
	}
	for chunk := range slices.Chunk(outcomes, commitBatch) {
		if err := st.Commit(ctx, chunk); err != nil {
			return rep, fmt.Errorf("record the customers deleted on the platform: %w", err)
		}
		for _, o := range chunk {
			rep.Deleted = append(rep.Deleted, o.ERPKey)
			for _, d := range o.Dependents {
				switch mapping.Entity(d.Kind) {
				case mapping.Addresses:
					rep.Addresses += d.Removed
				case mapping.Contacts:
					rep.Contacts += d.Removed
				}
			}
		}
	}
	sort.Strings(rep.Deleted)
	return rep, nil
}

// listCustomerIDs lists the ids of the platform customers matching q.
func listCustomerIDs(ctx context.Context, rc *remote.Client, q string, workers int) (map[string]bool, error) {
	ids := map[string]bool{}
	for d, err := range rc.Customers(ctx, remote.ListOptions{Q: q, Workers: workers}) {
		if err != nil {
			return nil, err
		}
		if id, _ := d["id"].(string); id != "" {
			ids[id] = true
		}
	}
	return ids, nil
}

// confirmGone returns the ids for which the platform answers 404, asking with bounded concurrency.
func confirmGone(ctx context.Context, rc *remote.Client, ids []string) ([]string, error) {
	found := make([]bool, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			_, err := rc.GetCustomer(gctx, id)
			switch {
			case remote.IsNotFound(err):
				found[i] = true
			case err != nil:
				return fmt.Errorf("get customer %s: %w", id, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []string
	for i, id := range ids {
		if found[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

// DeletedInPlatformKeys returns the ERP keys of customers whose mapping says deletedInYaaS: deleted on the
// platform and not yet acknowledged by the ERP. An import should not re-create them until `deletions ack`.
func DeletedInPlatformKeys(ctx context.Context, st *state.Store) (map[string]string, error) {
	out := map[string]string{}
	err := st.ScanMappings(ctx, state.MappingFilter{OnlyDeletedInYaaS: true}, func(m state.SDMapping) error {
		out[m.SDCustomerNumber] = m.CustomerNumber
		return nil
	})
	return out, err
}

// AdoptedIDs returns, per ERP key, the platform customer number of every live mapping whose customer number
// is not the deterministic id the customers id template gives for that key (idTemplate "" means the default
// template): customers adopted by `mappings pull` or imported with an explicit customerNumber. The import
// must write to (and point addresses and contact assignments at) these ids instead of the template's, or it
// would create a duplicate customer. A key mapped to several customer numbers is left out and reported by
// `mappings list`; that conflict needs a person.
func AdoptedIDs(ctx context.Context, st *state.Store, idTemplate string) (map[string]string, error) {
	set := newAdoptedSet(idTemplate)
	if err := st.ScanMappings(ctx, state.MappingFilter{}, func(m state.SDMapping) error {
		set.add(m)
		return nil
	}); err != nil {
		return nil, err
	}
	return set.result(), nil
}

// adoptedSet gathers mappings into AdoptedIDs' answer.
type adoptedSet struct {
	idTemplate string
	ids        map[string]string
	ambiguous  map[string]bool
}

func newAdoptedSet(idTemplate string) *adoptedSet {
	if idTemplate == "" {
		idTemplate = mapping.DefaultIDTemplates[mapping.Customers]
	}
	return &adoptedSet{idTemplate: idTemplate, ids: map[string]string{}, ambiguous: map[string]bool{}}
}

func (a *adoptedSet) add(m state.SDMapping) {
	if m.DeletedInYaaS {
		return
	}
	if id, err := mapping.RemoteID(a.idTemplate, m.SDCustomerNumber); err == nil && id == m.CustomerNumber {
		return
	}
	if prev, dup := a.ids[m.SDCustomerNumber]; dup && prev != m.CustomerNumber {
		a.ambiguous[m.SDCustomerNumber] = true
	}
	a.ids[m.SDCustomerNumber] = m.CustomerNumber
}

func (a *adoptedSet) result() map[string]string {
	for k := range a.ambiguous {
		delete(a.ids, k)
	}
	return a.ids
}

// adoptedLookupsBeforeScan is how many keys adoptedLookup looks up one by one before it reads every mapping
// instead: an index lookup costs about what reading a few thousand mappings does, so a nightly delta with a
// few new customers reads a handful of mappings rather than the million of a large tenant (1.3 s of a 2.3 s
// dry run there), and a first import of new keys reads them all once, as before.
const adoptedLookupsBeforeScan = 256

// adoptedLookup answers AdoptedIDs' question for one ERP key at a time, for the planner: by the mappings of
// that key (the sd_customer_number index) for the first keys that ask, then by one AdoptedIDs scan. Records
// the run adopts (set) win over what the mappings say, as they did over the scan.
type adoptedLookup struct {
	ctx        context.Context
	st         *state.Store
	idTemplate string
	ids        map[string]string // keys known adopted, with their platform number
	none       map[string]bool   // keys looked up that have no adopted number
	lookups    int
	scanned    bool
}

func newAdoptedLookup(ctx context.Context, st *state.Store, idTemplate string) *adoptedLookup {
	return &adoptedLookup{ctx: ctx, st: st, idTemplate: idTemplate, ids: map[string]string{}, none: map[string]bool{}}
}

// get returns the adopted platform number of key, if it has one.
func (a *adoptedLookup) get(key string) (string, bool, error) {
	if id, ok := a.ids[key]; ok {
		return id, true, nil
	}
	if a.scanned || a.none[key] {
		return "", false, nil
	}
	if a.lookups < adoptedLookupsBeforeScan {
		a.lookups++
		ms, err := a.st.MappingsBySDNumber(a.ctx, key)
		if err != nil {
			return "", false, err
		}
		set := newAdoptedSet(a.idTemplate)
		for _, m := range ms {
			set.add(m)
		}
		if id, ok := set.result()[key]; ok {
			a.ids[key] = id
			return id, true, nil
		}
		a.none[key] = true
		return "", false, nil
	}
	all, err := AdoptedIDs(a.ctx, a.st, a.idTemplate)
	if err != nil {
		return "", false, err
	}
	maps.Copy(all, a.ids) // what the run adopted stays
	a.ids, a.none, a.scanned = all, nil, true
	id, ok := a.ids[key]
	return id, ok, nil
}

// set records that the run adopted the platform customer id for key.
func (a *adoptedLookup) set(key, id string) { a.ids[key] = id }

// PullOptions configure PullMappings.
type PullOptions struct {
	// Remote reads the remote sdCustomerMappings endpoint: its records of existing customers are adopted.
	Remote bool
	// KeyField is the dotted path of a platform customer field that holds the ERP customer number (e.g.
	// "b2b.companyRegistrationId" or "mixins.erp.customerNumber"); "" disables it.
	KeyField string
	// Customers are the customer rows of ERP files: each is looked for on the platform as import --adopt looks
	// (by the id it would be written to, by KeyField, by its e-mail address ignoring case), and only these are
	// adopted (with the remote records that name them). Without them the tenant is listed and every customer
	// the remote records or KeyField give an ERP number is adopted.
	Customers []ERPCustomer
	// IDTemplate is the customers id template; "" means the default.
	IDTemplate string
	// DryRun reports what would be adopted without writing the state file.
	DryRun bool
}

// ERPCustomer is a customer row of an ERP file as PullMappings looks for it: its ERP key, the platform id an
// import would write it to (its id template's, or an explicit customerNumber) and its contactEmail ("" for
// none).
type ERPCustomer struct {
	Key, ID, Email string
}

// PullReport is what PullMappings did.
type PullReport struct {
	Listed    int // platform customers read (listed, or found by the lookups)
	Adopted   int // new or changed local mappings
	Unchanged int // mappings already known as they are
	// Conflicts describe customers not adopted: their ERP key is claimed by another customer, two customers
	// match one row, or the row's e-mail address belongs to another customer than the one it matches.
	Conflicts []string
}

// PullMappings adopts existing platform customers by ERP key, so that a first run against a tenant that
// already holds customers updates them instead of creating duplicates.
//
// "Adopt" means: record the SD mapping {customerNumber: platform id, sdCustomerNumber: ERP key} in the state
// file, nothing more; no platform record and no checkpoint entity is written (the checkpoint only holds what
// custsync itself wrote, with the row hash of the ERP row). Given ERP customers (Customers), each is looked up
// with import --adopt's rules and batched lookups (adopter.choose); otherwise the tenant is listed and a
// customer's ERP key comes from, in order, a remote sdCustomerMappings record (Remote) or its KeyField. A
// customer whose key is already mapped to another live customer, or whose key two customers claim, is not
// adopted and is listed under Conflicts.
//
// How import uses it: with the default id template the import PUTs to the deterministic id, which lands on
// the same record anyway; the mapping matters when the platform id is not deterministic (created by a shop,
// another tool or a migration). Import then writes to AdoptedIDs' customer number instead of the template's.
func PullMappings(ctx context.Context, st *state.Store, rc *remote.Client, opts PullOptions) (PullReport, error) {
	var rep PullReport
	template := opts.IDTemplate
	if template == "" {
		template = mapping.DefaultIDTemplates[mapping.Customers]
	}
	remoteKeys := map[string]string{}
	if opts.Remote {
		for m, err := range rc.SDMappings(ctx, "") {
			if err != nil {
				return rep, fmt.Errorf("read remote SD mappings: %w", err)
			}
			if m.CustomerNumber != "" && m.SDCustomerNumber != "" {
				remoteKeys[m.CustomerNumber] = m.SDCustomerNumber
			}
		}
	}
	// claims: ERP key -> platform customer numbers claiming it.
	claims := map[string][]string{}
	var err error
	if len(opts.Customers) > 0 {
		err = pullByLookups(ctx, st, rc, opts, template, remoteKeys, claims, &rep)
	} else {
		err = pullByListing(ctx, rc, opts, remoteKeys, claims, &rep)
	}
	if err != nil {
		return rep, err
	}

	var adopt []state.SDMapping
	for _, key := range slices.Sorted(maps.Keys(claims)) {
		ids := claims[key]
		if len(ids) > 1 {
			rep.Conflicts = append(rep.Conflicts, fmt.Sprintf("ERP key %s is claimed by customers %s", key, strings.Join(ids, ", ")))
			continue
		}
		id := ids[0]
		existing, err := st.MappingsBySDNumber(ctx, key)
		if err != nil {
			return rep, err
		}
		same, other := false, ""
		for _, m := range existing {
			switch {
			case m.CustomerNumber == id && !m.DeletedInYaaS:
				same = true
			case m.CustomerNumber != id && !m.DeletedInYaaS:
				other = m.CustomerNumber
			}
		}
		if same {
			rep.Unchanged++
			continue
		}
		if other != "" {
			rep.Conflicts = append(rep.Conflicts, fmt.Sprintf("ERP key %s is mapped to customer %s, not adopting customer %s", key, other, id))
			continue
		}
		adopt = append(adopt, state.SDMapping{CustomerNumber: id, SDCustomerNumber: key})
	}
	rep.Adopted = len(adopt)
	if opts.DryRun || len(adopt) == 0 {
		return rep, nil
	}
	return rep, st.PutMappings(ctx, adopt)
}

// pullByListing lists the tenant and claims each customer for the ERP key its remote mapping record or its
// KeyField gives.
func pullByListing(ctx context.Context, rc *remote.Client, opts PullOptions, remoteKeys map[string]string, claims map[string][]string, rep *PullReport) error {
	list := remote.ListOptions{Workers: 4}
	if strings.HasPrefix(opts.KeyField, "mixins.") {
		list.Expand = []string{"mixin:*"} // the platform leaves mixins out of a customer unless asked
	}
	for d, err := range rc.Customers(ctx, list) {
		if err != nil {
			return fmt.Errorf("list platform customers: %w", err)
		}
		id, _ := d["id"].(string)
		if id == "" {
			continue
		}
		rep.Listed++
		key := remoteKeys[id]
		if key == "" && opts.KeyField != "" {
			key = strings.TrimSpace(textAt(d, opts.KeyField))
		}
		if key != "" {
			claims[key] = append(claims[key], id)
		}
	}
	return nil
}

// pullByLookups looks the ERP customers up as import --adopt does and claims each for the customer it finds;
// a remote mapping record of one of their keys claims its customer too, if it exists.
func pullByLookups(ctx context.Context, st *state.Store, rc *remote.Client, opts PullOptions, template string,
	remoteKeys map[string]string, claims map[string][]string, rep *PullReport) error {
	a := &adopter{rc: rc, st: st, take: true, keyField: opts.KeyField, expand: []string{"mixin:*"}, takenBy: map[string]string{}}
	finds := make([]*customerFind, 0, len(opts.Customers))
	wanted := map[string]bool{}
	for _, c := range opts.Customers {
		if c.Key == "" || wanted[c.Key] {
			continue
		}
		wanted[c.Key] = true
		tmpl, err := mapping.RemoteID(template, c.Key)
		id := cmp.Or(c.ID, tmpl)
		finds = append(finds, &customerFind{key: c.Key, id: id, pinned: err != nil || tmpl != id, email: c.Email})
	}
	for start := 0; start < len(finds); start += adoptGroup {
		group := finds[start:min(start+adoptGroup, len(finds))]
		if _, err := a.findCustomers(ctx, group); err != nil {
			return err
		}
		for _, f := range group {
			doc, why, err := a.choose(ctx, f)
			switch {
			case err != nil:
				return err
			case why != "":
				rep.Conflicts = append(rep.Conflicts, fmt.Sprintf("ERP key %s: %s", f.key, why))
			case doc != nil:
				rep.Listed++
				a.takenBy[docID(doc)] = f.key
				claims[f.key] = append(claims[f.key], docID(doc))
			}
		}
	}
	var named []string
	for id, key := range remoteKeys {
		if wanted[key] && !slices.Contains(claims[key], id) {
			named = append(named, id)
		}
	}
	return collectDocs(rc.CustomersWhere(ctx, "id", named), "look up the customers of remote SD mappings", func(d remote.Doc) {
		rep.Listed++
		claims[remoteKeys[docID(d)]] = append(claims[remoteKeys[docID(d)]], docID(d))
	})
}

// textAt returns the scalar at a dotted path of a JSON document as text.
func textAt(doc map[string]any, path string) string {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[part]
	}
	switch v := cur.(type) {
	case string:
		return v
	case nil:
		return ""
	case fmt.Stringer:
		return v.String()
	case map[string]any, []any:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// PushReport is what PushMappings did.
type PushReport struct {
	Pushed int
	Failed int
	// Errors are the first failures (at most 20), one per mapping.
	Errors []string
}

// PushMappings sends every mapping not yet pushed (new, changed, or flagged deletedInYaaS since) to the remote
// sdCustomerMappings endpoint, with bounded concurrency, and marks what the endpoint accepted. Failed mappings
// stay unpushed for the next push. A run-level failure (credentials, retries exhausted) is returned as error.
func PushMappings(ctx context.Context, st *state.Store, rc *remote.Client, workers int) (PushReport, error) {
	var rep PushReport
	if workers <= 0 {
		workers = 8
	}
	pending, err := st.ListMappings(ctx, state.MappingFilter{OnlyUnpushed: true})
	if err != nil {
		return rep, err
	}
	ok := make([]bool, len(pending))
	fails := make([]string, len(pending))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, m := range pending {
		g.Go(func() error {
			err := rc.CreateSDMapping(gctx, remote.SDMapping{CustomerNumber: m.CustomerNumber, SDCustomerNumber: m.SDCustomerNumber, DeletedInYaaS: m.DeletedInYaaS})
			switch {
			case err == nil:
				ok[i] = true
			case remote.IsFinal(err):
				fails[i] = fmt.Sprintf("mapping %s -> %s: %v", m.CustomerNumber, m.SDCustomerNumber, err)
			default:
				return fmt.Errorf("push mapping %s: %w", m.CustomerNumber, err)
			}
			return nil
		})
	}
	runErr := g.Wait()
	var sent []state.SDMapping
	for i, m := range pending {
		switch {
		case ok[i]:
			sent = append(sent, m)
		case fails[i] != "":
			rep.Failed++
			if len(rep.Errors) < 20 {
				rep.Errors = append(rep.Errors, fails[i])
			}
		}
	}
	if len(sent) > 0 {
		n, err := st.MarkMappingsPushed(context.WithoutCancel(ctx), sent)
		rep.Pushed = int(n)
		if err != nil {
			return rep, err
		}
	}
	return rep, runErr
}

// AckOptions select the deletion log entries the ERP processed.
type AckOptions struct {
	// All acknowledges every unacknowledged entry.
	All bool
	// Keys are entries to acknowledge by kind and ERP key.
	Keys []state.EntityKey
	// Files are CSV/XLSX files with a "kind" and an "erpKey" column (e.g. a deletions export the ERP team
	// kept the processed rows of); their rows are added to Keys.
	Files []string
	Read  formats.Options
	// RemoteMappings also deletes the acknowledged customers' mappings on the remote sdCustomerMappings
	// endpoint (set it when one is configured).
	RemoteMappings bool
}

// AckReport is what AckDeletions did.
type AckReport struct {
	Acked          int // log entries acknowledged
	NotFound       []state.EntityKey
	MappingsLocal  int // local mappings dropped
	MappingsRemote int // remote mappings deleted
}

// AckDeletions acknowledges deletion log entries the ERP processed. The entries stay in the log with their
// acknowledgement time (`deletions list --all`). For acknowledged customer deletions, the customer's mapping,
// if it is flagged deletedInYaaS, is dropped locally and, with RemoteMappings, on the remote endpoint (a
// remote 404 counts as done): the ERP has taken note, so a later import may create the key again if the ERP
// still sends it. Keys with no unacknowledged entry are reported in NotFound. rc may be nil without
// RemoteMappings.
func AckDeletions(ctx context.Context, st *state.Store, rc *remote.Client, opts AckOptions) (AckReport, error) {
	var rep AckReport
	keys := append([]state.EntityKey(nil), opts.Keys...)
	for _, f := range opts.Files {
		ks, err := readAckFile(f, opts.Read)
		if err != nil {
			return rep, err
		}
		keys = append(keys, ks...)
	}
	if !opts.All && len(keys) == 0 {
		return rep, fmt.Errorf("%w: nothing to acknowledge (give keys, a file or --all)", ErrInput)
	}
	if opts.RemoteMappings && rc == nil {
		return rep, errors.New("acknowledge deletions: the remote mappings endpoint needs a platform client")
	}
	pending, err := st.ListDeletions(ctx, state.DeletionFilter{})
	if err != nil {
		return rep, err
	}
	want := map[state.EntityKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var acked []state.DeletionEntry
	found := map[state.EntityKey]bool{}
	for _, e := range pending {
		k := state.EntityKey{Kind: e.Kind, ERPKey: e.ERPKey}
		if opts.All || want[k] {
			acked = append(acked, e)
			found[k] = true
		}
	}
	for _, k := range keys {
		if !found[k] {
			rep.NotFound = append(rep.NotFound, k)
			found[k] = true // report once
		}
	}
	var n int64
	if opts.All {
		n, err = st.AckAllDeletions(ctx)
	} else {
		n, err = st.AckDeletions(ctx, keys)
	}
	rep.Acked = int(n)
	if err != nil {
		return rep, err
	}

	var drop []string
	for _, e := range acked {
		if e.Kind != string(mapping.Customers) || e.RemoteID == "" {
			continue
		}
		m, ok, err := st.GetMapping(ctx, e.RemoteID)
		if err != nil {
			return rep, err
		}
		if ok && m.DeletedInYaaS && m.SDCustomerNumber == e.ERPKey {
			drop = append(drop, m.CustomerNumber)
		}
	}
	if opts.RemoteMappings {
		for _, cn := range drop {
			err := rc.DeleteSDMapping(ctx, cn)
			if err != nil && !remote.IsNotFound(err) {
				return rep, fmt.Errorf("delete remote SD mapping %s: %w", cn, err)
			}
			rep.MappingsRemote++
		}
	}
	if len(drop) > 0 {
		n, err := st.DeleteMappings(ctx, drop)
		rep.MappingsLocal = int(n)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// readAckFile reads the kind and erpKey columns of every table of a CSV/XLSX file. An empty file acknowledges
// nothing.
func readAckFile(path string, opts formats.Options) ([]state.EntityKey, error) {
	in, err := OpenInput(InputOptions{Files: []string{path}, Read: opts, Unmapped: true, AllowEmpty: true})
	if err != nil {
		return nil, err
	}
	defer in.Close()
	var out []state.EntityKey
	for _, t := range in.Tables {
		if missing := missingColumns[ackRow](t.Header); len(missing) > 0 {
			return nil, fmt.Errorf("%w: %s: needs the columns kind and erpKey (as in a deletions export)", ErrInput, t)
		}
		rows, err := readFixedTable[ackRow](t)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			kind, key := strings.TrimSpace(r.Kind), strings.TrimSpace(r.ERPKey)
			if kind == "" || key == "" {
				continue
			}
			if e, ok := mapping.EntityFromName(kind); ok {
				kind = string(e)
			}
			out = append(out, state.EntityKey{Kind: kind, ERPKey: key})
		}
	}
	return out, nil
}
