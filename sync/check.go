package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// CheckStatus is the verdict of check for one key.
type CheckStatus string

// Check verdicts.
const (
	CheckSame           CheckStatus = "same"             // the platform has what the file says
	CheckDiffers        CheckStatus = "differs"          // the platform differs in the listed fields
	CheckOnlyInFile     CheckStatus = "only-in-file"     // the file has the key, the platform does not
	CheckOnlyOnPlatform CheckStatus = "only-on-platform" // the platform has a record no file row names
	CheckError          CheckStatus = "error"            // the row is invalid (the reason is in the detail)
	// CheckPropagated is a contact assignment no file row names that the platform made itself: it copies a
	// new assignment to the related companies of the hierarchy (companyContactPropagation). Not a difference.
	CheckPropagated CheckStatus = "propagated"
)

// IsDifference reports whether a verdict is a difference between the files and the platform: everything
// but same and propagated.
func (s CheckStatus) IsDifference() bool { return s != CheckSame && s != CheckPropagated }

// CheckOptions configure a check.
type CheckOptions struct {
	Files  []string
	Spec   *mapping.Spec  // nil: the default columns
	Entity mapping.Entity // optional: the entity of every table
	Read   formats.Options
	// ExpectRows are control totals checked by the input stage (--expect-rows).
	ExpectRows []RowCount
	// Report is the report file (CSV or XLSX by Format or extension); "" writes none. A CSV report has
	// one row per key; an XLSX report has a summary sheet with a chart, and a sheet per entity with the
	// differing fields in columns of their own.
	Report string
	Format string
	// ReportBOM says whether a CSV report starts with a UTF-8 byte-order mark; nil follows the first CSV
	// input, whose delimiter it uses too (formats.CSVStyleFor).
	ReportBOM *bool
	// PageWorkers is how many pages of a list are read at once (default 4).
	PageWorkers int
	// Progress, if set, is called with the number of platform records compared so far, after each page of
	// customers.
	Progress func(compared int64)
	// KeysRatio decides how the platform is read: an entity whose file rows are fewer than the tenant's
	// records divided by KeysRatio is read by key (batched q lookups of the rows' ids) instead of listed
	// whole; 0 means 10 (a file under a tenth of the tenant). Records no row names are then reported only
	// where a row's key reaches them (the addresses and assignments of the file's customers).
	KeysRatio int
}

// CheckResult is the verdict for one key.
type CheckResult struct {
	Entity   mapping.Entity
	Key      string // ERP key ("" for platform records no row names and custsync never wrote)
	RemoteID string
	Status   CheckStatus
	// Fields are the differences, Old being the platform's value and New the file's.
	Fields []mapping.FieldChange
	Detail string
}

// CheckReport summarises a check.
type CheckReport struct {
	Report string
	Totals map[CheckStatus]int
	// Entities counts the verdicts per entity.
	Entities map[mapping.Entity]map[CheckStatus]int
	// Problems are the first results that are differences (at most 1000), in report order.
	Problems []CheckResult
	// ByKey lists the entities that were read by key rather than listed whole (see CheckOptions.KeysRatio).
	ByKey    []mapping.Entity
	Duration time.Duration
	// differing are the keys whose verdict is differs (FixKeys).
	differing map[mapping.Entity]map[string]bool
}

// Differences counts the results that are differences (CheckStatus.IsDifference).
func (r CheckReport) Differences() int {
	n := 0
	for s, c := range r.Totals {
		if s.IsDifference() {
			n += c
		}
	}
	return n
}

const maxCheckProblems = 1000

// Check compares the ERP files with the live platform and the checkpoint, key by key, and writes a report.
// It changes nothing anywhere: it only reads the files, the state file and the platform (GET requests).
//
// For each row: the record it maps to is looked up on the platform under the id an import would use, resolved
// as the planner resolves it (ids.go): the checkpoint's remote id, else an adopted customer's number, else the
// record's own (an explicit customerNumber, or the id template's).
// Equal in every field the row sets (or clears): same; else differs, with the fields (platform value -> file
// value); absent: only-in-file. A row whose key, or a key it references, is a synced key without its leading
// zeros or encoded otherwise (or another key of the file encoded otherwise) is an error with import's reason
// (twinKeyErrors), and the synced record its own key names is not only-on-platform. A row flagged for
// deletion is same when the record is absent and differs when it still exists. Records of the checked
// entities that no row names are only-on-platform (the detail says whether custsync wrote them). The detail
// also compares the row with the checkpoint, field by field (fieldOrigins): a differing field whose file
// value is not what custsync last wrote is "file changed since the last import", one the file leaves as
// custsync wrote it "changed on the platform since the last import", so drift made on the platform stands
// out from changes still to be imported.
func Check(ctx context.Context, st *state.Store, rc *remote.Client, opts CheckOptions) (CheckReport, error) {
	start := time.Now()
	rep := CheckReport{Report: opts.Report, Totals: map[CheckStatus]int{}, Entities: map[mapping.Entity]map[CheckStatus]int{}}
	if opts.Spec == nil {
		opts.Spec = mapping.DefaultSpec()
	}
	if opts.PageWorkers <= 0 {
		opts.PageWorkers = 4
	}
	if opts.KeysRatio <= 0 {
		opts.KeysRatio = 10
	}
	c := &checker{st: st, rc: rc, opts: opts, rep: &rep, wanted: map[mapping.Entity]map[string]*checkRow{},
		claimed: map[mapping.Entity]map[string]bool{}, checkpoint: map[mapping.Entity]map[string]state.EntityRef{}, zeroKeys: map[mapping.Entity]*keyMap{}}
	if err := c.readFiles(ctx); err != nil {
		return rep, err
	}
	if err := c.loadFileChanges(ctx); err != nil {
		return rep, err
	}
	if err := c.compare(ctx); err != nil {
		return rep, err
	}
	c.finish()
	if opts.Report != "" {
		if err := c.writeReport(); err != nil {
			return rep, err
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// checkRow is one file row waiting for its platform record.
type checkRow struct {
	rec      mapping.Record
	remoteID string
	seen     bool
	detail   string // checkpoint comparison
	// synced says the checkpoint knows the row's key; changed, that the row differs from what custsync last
	// imported, and fileChanged, in which fields (loadFileChanges).
	synced      bool
	changed     bool
	fileChanged map[string]bool
}

// The checkpoint comparison of a row, and of each differing field of a synced one (fieldOrigins).
const (
	notInCheckpoint   = "not in the checkpoint"
	fileChangedDetail = "file changed since the last import"
	// platformChangedDetail is drift: the platform no longer holds what custsync wrote there, and the file did
	// not change it ("Drift on the platform" in README.md).
	platformChangedDetail = "changed on the platform since the last import"
)

type checker struct {
	st   *state.Store
	rc   *remote.Client
	opts CheckOptions
	rep  *CheckReport

	// wanted: entity -> remote id (addresses: "<customer>/<address>"; contacts: the customer and company
	// pair, see pairKey) -> row.
	wanted     map[mapping.Entity]map[string]*checkRow
	claimed    map[mapping.Entity]map[string]bool // remote ids of invalid rows
	checkpoint map[mapping.Entity]map[string]state.EntityRef
	zeroKeys   map[mapping.Entity]*keyMap // the checkpoint as the twin-key check reads it (keyLookup)
	newKeys    *inputKeys                 // the file's keys the checkpoint lacks, for the twin-key check
	// byCheckpointID: entity -> checkpoint remote id -> ERP key, to name platform-only records custsync wrote.
	byCheckpointID map[mapping.Entity]map[string]string
	adopted        map[string]string
	// listedBy: location id -> ids of the companies listing it (only when a location row has a companyKey).
	listedBy map[string][]string
	results  []CheckResult
	compared int64
	// byKey marks the entities read by key (see CheckOptions.KeysRatio).
	byKey map[mapping.Entity]bool
	// assignments are the facts about the platform's contact assignments the propagation verdict needs.
	assignments *assignmentFacts
	// firstTable is the first input table, whose dialect a CSV report follows.
	firstTable *InputTable
}

func (c *checker) readFiles(ctx context.Context) error {
	adopted, err := AdoptedIDs(ctx, c.st, c.opts.Spec.IDTemplate(mapping.Customers))
	if err != nil {
		return err
	}
	c.adopted = adopted
	in, err := OpenInput(InputOptions{Files: c.opts.Files, Spec: c.opts.Spec, Entity: c.opts.Entity, Read: c.opts.Read, ExpectRows: c.opts.ExpectRows})
	if err != nil {
		return err
	}
	defer in.Close()
	keys := mapping.NewKeySet(0)
	c.newKeys = newInputKeys(func(e mapping.Entity, key string) (formats.Position, bool) {
		if _, synced := c.checkpoint[e][key]; synced {
			return formats.Position{}, false // as the planner's: only the keys the checkpoint lacks
		}
		return keys.First(e, key)
	})
	if len(in.Tables) > 0 {
		c.firstTable = in.Tables[0]
	}
	for _, t := range in.Tables {
		if err := c.readTable(ctx, t, keys); err != nil {
			return err
		}
	}
	c.byCheckpointID = map[mapping.Entity]map[string]string{}
	for e, refs := range c.checkpoint {
		m := make(map[string]string, len(refs))
		for key, ref := range refs {
			m[ref.RemoteID] = key
		}
		c.byCheckpointID[e] = m
	}
	return nil
}

func (c *checker) readTable(ctx context.Context, t *InputTable, keys *mapping.KeySet) error {
	for _, m := range t.Mappers {
		e := m.Entity()
		if c.wanted[e] == nil {
			c.wanted[e] = map[string]*checkRow{}
			c.claimed[e] = map[string]bool{}
		}
		// References resolve through the checkpoint of the entities they point to, as in the planner.
		for _, k := range append([]mapping.Entity{e}, referencedEntities[e]...) {
			if c.checkpoint[k] != nil {
				continue
			}
			refs, err := c.st.LoadEntities(ctx, string(k))
			if err != nil {
				return err
			}
			c.checkpoint[k] = refs
		}
	}
	for {
		row, err := t.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if row.ReadErr != "" {
			c.add(CheckResult{Entity: t.Mappers[0].Entity(), Status: CheckError, Detail: row.Pos.Words() + ": " + row.ReadErr})
			continue
		}
		for j := range t.Mappers {
			c.addRow(t, j, &row, keys)
		}
	}
}

func (c *checker) addRow(t *InputTable, j int, in *InputRow, keys *mapping.KeySet) {
	e := t.Mappers[j].Entity()
	rec, ferrs := t.MapRow(j, in)
	if len(ferrs) == 0 {
		if dup := keys.Check(rec); dup != nil {
			ferrs = append(ferrs, *dup)
		}
	}
	if _, synced := c.checkpoint[e][rec.Key]; notable(rec.Key) && !synced {
		c.newKeys.note(e, rec.Key, in.Pos)
	}
	var twinID string // the platform id of the synced key this row's key is a disguise of (twinKeyErrors)
	if len(ferrs) == 0 && rec.Key != "" && rec.Command != mapping.Ignore {
		ferrs = twinKeyErrors(e, rec, in.Pos, c.keyLookup, c.newKeys, func(twin string) { twinID, _ = c.checkpointID(e, twin) })
	}
	if len(ferrs) > 0 {
		msgs := make([]string, len(ferrs))
		for i, fe := range ferrs {
			msgs[i] = fe.Error()
		}
		res := CheckResult{Entity: e, Key: rec.Key, Status: CheckError, Detail: strings.Join(msgs, "; ")}
		if twinID != "" {
			// The row is that synced record, only with a damaged key: the record is not "only on the platform".
			res.RemoteID = twinID
			c.claimed[e][twinID] = true
		} else if rec.Key != "" && rec.RemoteID != "" {
			// The row exists, only badly: its platform record is not "only on the platform".
			ref, known := c.checkpoint[e][rec.Key]
			res.RemoteID = c.liveID(rec, ref, known)
			c.claimed[e][c.matchKey(c.resolveRefs(rec), res.RemoteID)] = true
		}
		c.add(res)
		return
	}
	if rec.Command == mapping.Ignore {
		return
	}
	rec = c.resolveRefs(rec)
	ref, known := c.checkpoint[e][rec.Key]
	row := &checkRow{rec: rec, remoteID: c.liveID(rec, ref, known), synced: known}
	switch {
	case !known:
		row.detail = notInCheckpoint
	case rec.Command != mapping.Delete && ref.RowHash != rec.Hash():
		row.detail, row.changed = fileChangedDetail, true
	}
	c.wanted[e][c.matchKey(rec, row.remoteID)] = row
}

// matchKey is what a row and its platform record are matched by: the platform id, or for a contact
// assignment its customer and company (the platform keeps one per pair, and the one for the pair may have an
// id custsync did not choose: made by hand or by the platform's propagation).
func (c *checker) matchKey(rec mapping.Record, remoteID string) string {
	if rec.Entity == mapping.Contacts {
		return pairKey(refRemoteID(rec, mapping.Customers), refRemoteID(rec, mapping.Companies))
	}
	return remoteID
}

// pairKey identifies a contact assignment by its customer and company platform ids.
func pairKey(customerID, companyID string) string { return mapping.JoinKey(customerID, companyID) }

// adoptedID returns the adopted platform number of a customer key (AdoptedIDs), if it has one.
func (c *checker) adoptedID(key string) (string, bool) {
	id, ok := c.adopted[key]
	return id, ok
}

// liveID is the platform id an import would write the record to, resolved as the planner resolves it
// (ids.go): the checkpoint's id, else an adopted customer's, else the record's own.
func (c *checker) liveID(rec mapping.Record, ref state.EntityRef, known bool) string {
	if known && ref.RemoteID != "" {
		return ref.RemoteID
	}
	switch rec.Entity {
	case mapping.Customers:
		return adoptedCustomerID(rec.Key, rec.RemoteID, c.adoptedID)
	case mapping.Addresses:
		return addressRemoteID(c.resolveRefs(rec))
	}
	return rec.RemoteID
}

// resolveRefs points a record's references at the platform ids an import would write (referenceID), so that
// a company's approval group naming an adopted assignment compares with the platform's id.
func (c *checker) resolveRefs(rec mapping.Record) mapping.Record {
	rec.Refs = slices.Clone(rec.Refs)
	for i := range rec.Refs {
		rec.Refs[i].RemoteID = referenceID(rec.Refs[i], c.checkpointID, c.adoptedID)
	}
	return rec
}

// keyLookup is the checkpoint of an entity kind for the twin-key check (twinKeyErrors); nil where it was
// not loaded.
func (c *checker) keyLookup(e mapping.Entity) keyLookup {
	refs, ok := c.checkpoint[e]
	if !ok {
		return nil
	}
	if c.zeroKeys[e] == nil {
		c.zeroKeys[e] = newKeyMap(refs)
	}
	return c.zeroKeys[e]
}

// checkpointID returns the platform id the checkpoint knows for key, if it knows one.
func (c *checker) checkpointID(e mapping.Entity, key string) (string, bool) {
	ref, ok := c.checkpoint[e][key]
	return ref.RemoteID, ok && ref.RemoteID != ""
}

func (c *checker) add(r CheckResult) {
	c.results = append(c.results, r)
}

// compare reads the platform records of every entity the files feed and compares them with the rows: the
// whole entity, or only the records the rows' keys name when the file is small against the tenant (chooseScope).
func (c *checker) compare(ctx context.Context) error {
	if err := c.chooseScope(ctx); err != nil {
		return err
	}
	_, customers := c.wanted[mapping.Customers]
	_, addresses := c.wanted[mapping.Addresses]
	if customers || addresses {
		if err := c.compareCustomers(ctx, customers, addresses); err != nil {
			return err
		}
	}
	if err := c.loadLocationLinks(ctx); err != nil {
		return err
	}
	for _, e := range []mapping.Entity{mapping.Locations, mapping.Companies, mapping.Contacts} {
		if _, ok := c.wanted[e]; !ok {
			continue
		}
		if e == mapping.Contacts {
			c.assignments = newAssignmentFacts()
		}
		for d, err := range c.managementRecords(ctx, e) {
			if err != nil {
				return fmt.Errorf("read %s: %w", e, err)
			}
			id, _ := d["id"].(string)
			c.comparePlatform(e, id, d)
		}
	}
	if c.assignments != nil {
		return c.finishAssignments(ctx)
	}
	return nil
}

// chooseScope decides, per group of entities read together, whether to list the tenant or read the rows'
// keys: by key when the rows are fewer than the tenant's records divided by KeysRatio, which one request per
// group tells (remote.Client.HasAtLeast).
func (c *checker) chooseScope(ctx context.Context) error {
	c.byKey = map[mapping.Entity]bool{}
	groups := []struct {
		collection string
		entities   []mapping.Entity
	}{
		{remote.CollectionCustomers, []mapping.Entity{mapping.Customers, mapping.Addresses}},
		{remote.CollectionLocations, []mapping.Entity{mapping.Locations}},
		{remote.CollectionLegalEntities, []mapping.Entity{mapping.Companies}},
		{remote.CollectionContactAssignments, []mapping.Entity{mapping.Contacts}},
	}
	for _, g := range groups {
		rows := 0
		for _, e := range g.entities {
			rows += len(c.wanted[e])
		}
		if rows == 0 {
			continue
		}
		large, err := c.rc.HasAtLeast(ctx, g.collection, rows*c.opts.KeysRatio+1)
		if err != nil {
			return fmt.Errorf("count the %s of the tenant: %w", g.collection, err)
		}
		for _, e := range g.entities {
			if large && c.wanted[e] != nil {
				c.byKey[e] = true
				c.rep.ByKey = append(c.rep.ByKey, e)
			}
		}
	}
	return nil
}

// wantedIDs returns the platform ids the rows of an entity name (for addresses and contacts: their customers').
func (c *checker) wantedIDs(e mapping.Entity) []string {
	var ids []string
	for _, row := range c.wanted[e] {
		switch e {
		case mapping.Addresses, mapping.Contacts:
			ids = append(ids, refRemoteID(row.rec, mapping.Customers))
		default:
			ids = append(ids, row.remoteID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// managementRecords reads the platform records of a Customer Management entity: all of them, or those the
// rows name (contacts: every assignment of the rows' customers, so that those of them no row names are seen).
func (c *checker) managementRecords(ctx context.Context, e mapping.Entity) iter.Seq2[remote.Doc, error] {
	switch {
	case !c.byKey[e]:
		list := map[mapping.Entity]func(context.Context, remote.ListOptions) iter.Seq2[remote.Doc, error]{
			mapping.Locations: c.rc.Locations, mapping.Companies: c.rc.LegalEntities, mapping.Contacts: c.rc.ContactAssignments}[e]
		return list(ctx, remote.ListOptions{Workers: c.opts.PageWorkers})
	case e == mapping.Locations:
		return c.rc.LocationsWhere(ctx, "id", c.wantedIDs(e))
	case e == mapping.Companies:
		return c.rc.LegalEntitiesWhere(ctx, "id", c.wantedIDs(e))
	}
	return c.rc.ContactAssignmentsWhere(ctx, "customer.id", c.wantedIDs(e))
}

func (c *checker) compareCustomers(ctx context.Context, customers, addresses bool) error {
	size := remote.CustomersPageSize
	// Mixins come only when asked for; without them every mixin column would read as lost.
	opts := remote.ListOptions{PageSize: size, Expand: []string{"mixin:*"}, Workers: c.opts.PageWorkers}
	if addresses {
		opts.Expand = append(opts.Expand, "addresses")
	}
	all := c.rc.Customers(ctx, opts)
	if c.byKey[mapping.Customers] || c.byKey[mapping.Addresses] {
		ids := c.wantedIDs(mapping.Customers)
		if addresses {
			ids = append(ids, c.wantedIDs(mapping.Addresses)...)
		}
		all = c.rc.CustomersWhere(ctx, "id", ids, opts.Expand...)
	}
	n := 0
	for d, err := range all {
		if err != nil {
			return err
		}
		id, _ := d["id"].(string)
		if id == "" {
			continue
		}
		if customers {
			c.comparePlatform(mapping.Customers, id, d)
		}
		if addresses {
			list, _ := d["addresses"].([]any)
			for _, a := range list {
				if addr, ok := a.(map[string]any); ok {
					addrID, _ := addr["id"].(string)
					c.comparePlatform(mapping.Addresses, id+"/"+addrID, addr)
				}
			}
		}
		if n++; n%size == 0 && c.opts.Progress != nil {
			c.opts.Progress(c.compared)
		}
	}
	if c.opts.Progress != nil {
		c.opts.Progress(c.compared)
	}
	return nil
}

// comparePlatform compares one platform record with the row that names it, if any.
func (c *checker) comparePlatform(e mapping.Entity, remoteID string, doc map[string]any) {
	c.compared++
	key := remoteID
	if e == mapping.Contacts {
		customerID, companyID := remote.RefID(doc["customer"]), remote.RefID(doc["legalEntity"])
		c.assignments.add(remoteID, customerID, companyID, doc["legalEntity"])
		key = pairKey(customerID, companyID)
	}
	row, ok := c.wanted[e][key]
	if !ok && c.claimed[e][key] {
		return
	}
	if !ok {
		if e == mapping.Contacts {
			c.assignments.unnamed = append(c.assignments.unnamed, remoteID)
			return
		}
		c.add(c.onlyOnPlatform(e, remoteID))
		return
	}
	row.seen = true
	res := CheckResult{Entity: e, Key: row.rec.Key, RemoteID: remoteID, Detail: row.detail}
	if row.rec.Command == mapping.Delete {
		res.Status = CheckDiffers
		res.Detail = joinDetail("the file deletes it but the platform still has it", row.detail)
		c.add(res)
		return
	}
	if e == mapping.Companies {
		// The groups the platform made for the company are no file's business: export leaves them out and
		// import keeps them.
		doc = withoutPlatformGroups(doc)
	}
	res.Fields = mapping.DiffRemote(doc, row.rec)
	if e == mapping.Locations {
		res.Fields = append(res.Fields, c.linkChanges(remoteID, row.rec)...)
	}
	res.Status = CheckSame
	if len(res.Fields) > 0 {
		res.Status = CheckDiffers
		if row.synced {
			res.Detail = fieldOrigins(row, res.Fields)
		}
	}
	c.add(res)
}

// loadFileChanges reads the checkpoint snapshots of the synced rows the file changed and notes the fields the
// file changed in each: the fields the row sets that differ from what custsync last wrote, which are the
// fields an import sends (mapping.DiffRemote against the snapshot, as the planner diffs an update).
func (c *checker) loadFileChanges(ctx context.Context) error {
	for e, rows := range c.wanted {
		byKey := map[string]*checkRow{}
		for _, row := range rows {
			if row.changed {
				byKey[row.rec.Key] = row
			}
		}
		if len(byKey) == 0 {
			continue
		}
		snaps, err := c.st.Snapshots(ctx, string(e), slices.Collect(maps.Keys(byKey)))
		if err != nil {
			return err
		}
		for key, row := range byKey {
			snap := map[string]any{}
			if raw := snaps[key]; len(raw) > 0 {
				if err := json.Unmarshal(raw, &snap); err != nil {
					return fmt.Errorf("checkpoint snapshot of %s %q: %w", e, key, err)
				}
			}
			row.fileChanged = map[string]bool{}
			for _, f := range mapping.DiffRemote(snap, row.rec) {
				row.fileChanged[f.Path] = true
			}
			if e == mapping.Locations {
				// The snapshot does not hold a location's companyKey (the platform keeps that link on the
				// company), and the import of a changed location row writes the link.
				row.fileChanged[mapping.CompanyKeyColumn] = true
			}
		}
	}
	return nil
}

// fieldOrigins is the detail of a synced row that differs: which of the differing fields the file changed
// since the last import (the import sends them) and which were changed on the platform, and what an import
// does with those: every record is written only the fields the file changed (a Customer Management record gets
// them applied to it as read, op.written), so the import leaves the platform's edits and import --verify or
// check --fix repairs them.
func fieldOrigins(row *checkRow, fields []mapping.FieldChange) string {
	var inFile, onPlatform []string
	for _, f := range fields {
		if row.fileChanged[f.Path] {
			inFile = append(inFile, f.Path)
		} else {
			onPlatform = append(onPlatform, f.Path)
		}
	}
	const fate = "which import leaves and import --verify or check --fix repairs"
	switch {
	case len(onPlatform) == 0:
		return fileChangedDetail
	case len(inFile) == 0:
		return platformChangedDetail + ", " + fate
	}
	return fmt.Sprintf("%s: %s; %s: %s, %s", fileChangedDetail, strings.Join(inFile, ", "),
		platformChangedDetail, strings.Join(onPlatform, ", "), fate)
}

// onlyOnPlatform is the verdict on a platform record no row names.
func (c *checker) onlyOnPlatform(e mapping.Entity, remoteID string) CheckResult {
	key, wrote := c.byCheckpointID[e][remoteID]
	detail := "not written by custsync"
	if wrote {
		detail = "in the checkpoint but in no file row"
	}
	return CheckResult{Entity: e, Key: key, RemoteID: remoteID, Status: CheckOnlyOnPlatform, Detail: detail}
}

// loadLocationLinks reads which companies list which locations, when a location row names its companies
// (companyKey): the platform keeps that link on the company.
func (c *checker) loadLocationLinks(ctx context.Context) error {
	needed := false
	for _, row := range c.wanted[mapping.Locations] {
		for _, ref := range row.rec.Refs {
			needed = needed || ref.Column == mapping.CompanyKeyColumn
		}
	}
	if !needed {
		return nil
	}
	c.listedBy = map[string][]string{}
	companies := c.rc.LegalEntities(ctx, remote.ListOptions{Workers: c.opts.PageWorkers})
	if c.byKey[mapping.Locations] {
		companies = c.rc.LegalEntitiesWhere(ctx, "entitiesAddresses.id", c.wantedIDs(mapping.Locations))
	}
	for d, err := range companies {
		if err != nil {
			return fmt.Errorf("read the companies for the locations' companyKey: %w", err)
		}
		id, _ := d["id"].(string)
		locs, _ := d["entitiesAddresses"].([]any)
		for _, l := range locs {
			if m, ok := l.(map[string]any); ok {
				if lid, _ := m["id"].(string); lid != "" {
					c.listedBy[lid] = append(c.listedBy[lid], id)
				}
			}
		}
	}
	return nil
}

// linkChanges compares a location row's companyKey with the companies that list the location: a company the
// row names that does not list it is a difference (companies may list it besides: companyKey only adds).
func (c *checker) linkChanges(locationID string, rec mapping.Record) []mapping.FieldChange {
	var want []string
	missing := false
	for _, ref := range rec.Refs {
		if ref.Column != mapping.CompanyKeyColumn {
			continue
		}
		want = append(want, ref.Key)
		id := ref.RemoteID
		if cp, ok := c.checkpoint[mapping.Companies][ref.Key]; ok && cp.RemoteID != "" {
			id = cp.RemoteID
		}
		missing = missing || !slices.Contains(c.listedBy[locationID], id)
	}
	if !missing {
		return nil
	}
	var have []string
	for _, id := range c.listedBy[locationID] {
		if key, ok := c.byCheckpointID[mapping.Companies][id]; ok {
			id = key
		}
		have = append(have, id)
	}
	slices.Sort(have)
	return []mapping.FieldChange{{Path: mapping.CompanyKeyColumn, Old: have, New: want}}
}

// finish adds the rows no platform record matched.
func (c *checker) finish() {
	for e, rows := range c.wanted {
		for id, row := range rows {
			if row.seen {
				continue
			}
			res := CheckResult{Entity: e, Key: row.rec.Key, RemoteID: id, Status: CheckOnlyInFile, Detail: row.detail}
			if row.rec.Command == mapping.Delete {
				res.Status, res.Detail = CheckSame, "deleted as the file says"
			} else if _, known := c.checkpoint[e][row.rec.Key]; known {
				res.Detail = joinDetail("in the checkpoint but not on the platform (deleted outside custsync?)", row.detail)
			}
			c.add(res)
		}
	}
	order := map[mapping.Entity]int{}
	for i, e := range mapping.Entities() {
		order[e] = i
	}
	sort.SliceStable(c.results, func(i, j int) bool {
		a, b := c.results[i], c.results[j]
		if a.Entity != b.Entity {
			return order[a.Entity] < order[b.Entity]
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.RemoteID < b.RemoteID
	})
	for _, r := range c.results {
		c.rep.Totals[r.Status]++
		if c.rep.Entities[r.Entity] == nil {
			c.rep.Entities[r.Entity] = map[CheckStatus]int{}
		}
		c.rep.Entities[r.Entity][r.Status]++
		if r.Status.IsDifference() && len(c.rep.Problems) < maxCheckProblems {
			c.rep.Problems = append(c.rep.Problems, r)
		}
		if r.Status == CheckDiffers && r.Key != "" {
			if c.rep.differing == nil {
				c.rep.differing = map[mapping.Entity]map[string]bool{}
			}
			if c.rep.differing[r.Entity] == nil {
				c.rep.differing[r.Entity] = map[string]bool{}
			}
			c.rep.differing[r.Entity][r.Key] = true
		}
	}
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

func (c *checker) writeReport() error {
	format := strings.ToLower(c.opts.Format)
	if format == "" {
		format = "csv"
		if formats.IsWorkbookPath(c.opts.Report) {
			format = "xlsx"
		}
	}
	var err error
	if format == "xlsx" {
		err = c.writeWorkbookReport()
	} else {
		err = c.writeCSVReport(format)
	}
	if err != nil {
		return fmt.Errorf("check report: %w", err)
	}
	return nil
}

// writeCSVReport writes one row per key, the differing fields joined in one column.
func (c *checker) writeCSVReport(format string) error {
	style := formats.CSVStyleFor(nil, 0, c.opts.ReportBOM)
	if c.firstTable != nil {
		style = c.firstTable.CSVStyle(c.opts.ReportBOM)
	}
	w, err := formats.CreateWith(c.opts.Report, formats.WriteOptions{Format: format, CSV: style})
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.WriteHeader(CheckColumns); err != nil {
		return err
	}
	rows := tableWriter[checkReportRow]{w}
	for _, r := range c.results {
		fields := make([]string, len(r.Fields))
		for i, f := range r.Fields {
			fields[i] = f.String()
		}
		if err := rows.Write(checkReportRow{Entity: string(r.Entity), Key: r.Key, RemoteID: r.RemoteID, Status: string(r.Status),
			Fields: strings.Join(fields, "; "), Detail: r.Detail}); err != nil {
			return err
		}
	}
	return w.Close()
}

// checkStatuses are the verdicts in report order.
var checkStatuses = []CheckStatus{CheckSame, CheckDiffers, CheckOnlyInFile, CheckOnlyOnPlatform, CheckError, CheckPropagated}

// statuses are the verdicts a report shows: checkStatuses, propagated only when there is one (most checks
// have none).
func (r *CheckReport) statuses() []CheckStatus {
	return slices.DeleteFunc(slices.Clone(checkStatuses), func(s CheckStatus) bool {
		return s == CheckPropagated && r.Totals[s] == 0
	})
}

// verdictColors are the chart colour and the (lighter) row colour of each verdict, in Excel's palette:
// green for same, amber for differs, blue and purple for the one-sided keys, red for errors, grey for what
// the platform made itself.
var verdictColors = map[CheckStatus][2]string{
	CheckSame:           {"70AD47", "E2EFDA"},
	CheckDiffers:        {"FFC000", "FFEB9C"},
	CheckOnlyInFile:     {"5B9BD5", "DDEBF7"},
	CheckOnlyOnPlatform: {"8064A2", "E4DFEC"},
	CheckError:          {"C00000", "FFC7CE"},
	CheckPropagated:     {"A5A5A5", "EDEDED"},
}

// CheckSummarySheet is the first sheet of an XLSX check report.
const CheckSummarySheet = "summary"

// checkEntityColumns start every entity sheet of an XLSX check report; the differing fields follow, each
// as two columns "<field> (platform)" and "<field> (file)".
var checkEntityColumns = []string{"key", "remoteId", "status", "detail"}

// writeWorkbookReport writes the summary sheet (verdict counts per entity and a bar chart of them) and
// one sheet per entity: a row per key, coloured by verdict, with a pair of columns per differing field.
func (c *checker) writeWorkbookReport() error {
	wb, err := formats.CreateWorkbook(c.opts.Report)
	if err != nil {
		return err
	}
	defer wb.Abort()
	byEntity := map[mapping.Entity][]CheckResult{}
	var entities []mapping.Entity
	for _, r := range c.results {
		if byEntity[r.Entity] == nil {
			entities = append(entities, r.Entity)
		}
		byEntity[r.Entity] = append(byEntity[r.Entity], r)
	}
	if len(entities) == 0 {
		// Nothing was compared: the summary still says so, with one empty row per input entity.
		for e := range c.wanted {
			entities = append(entities, e)
		}
		slices.Sort(entities)
	}
	statuses := c.rep.statuses()
	summary := formats.CountTable{Title: "check: verdicts per entity", Category: "entity"}
	for _, s := range statuses {
		summary.Series = append(summary.Series, formats.CountSeries{Name: string(s), Color: verdictColors[s][0]})
	}
	for _, e := range entities {
		row := formats.CountRow{Label: string(e)}
		for _, s := range statuses {
			row.Counts = append(row.Counts, c.rep.Entities[e][s])
		}
		summary.Rows = append(summary.Rows, row)
	}
	if len(summary.Rows) > 0 {
		if err := wb.AddCountSheet(CheckSummarySheet, summary); err != nil {
			return err
		}
	}
	for _, e := range entities {
		results := byEntity[e]
		var paths []string
		for _, r := range results {
			for _, f := range r.Fields {
				if !slices.Contains(paths, f.Path) {
					paths = append(paths, f.Path)
				}
			}
		}
		slices.Sort(paths)
		header := slices.Clone(checkEntityColumns)
		for _, p := range paths {
			header = append(header, p+" (platform)", p+" (file)")
		}
		sheet, err := wb.AddSheet(string(e), header)
		if err != nil {
			return err
		}
		cells := make([]string, len(header))
		for _, r := range results {
			clear(cells)
			cells[0], cells[1], cells[2], cells[3] = r.Key, r.RemoteID, string(r.Status), r.Detail
			for _, f := range r.Fields {
				i := len(checkEntityColumns) + 2*slices.Index(paths, f.Path)
				cells[i], cells[i+1] = fieldText(f.Old, "(none)"), fieldText(f.New, "(cleared)")
			}
			if err := sheet.WriteFilled(cells, verdictColors[r.Status][1]); err != nil {
				return err
			}
		}
	}
	return wb.Close()
}

// fieldText renders one side of a field difference for a cell: strings as they are, lists comma-separated,
// other values as JSON, and absent ones as none.
func fieldText(v any, none string) string {
	switch t := v.(type) {
	case nil:
		return none
	case string:
		return t
	case []string:
		return strings.Join(t, ", ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
