package sync

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Names of the local tables export writes besides the platform entities.
const (
	// ExportMappings is the SD customer mapping table of the checkpoint.
	ExportMappings = "mappings"
	// ExportDeletions is the deletion log of the checkpoint (unacknowledged entries unless IncludeAcked).
	ExportDeletions = "deletions"
)

// ExportOptions configure one export.
type ExportOptions struct {
	// Entities are entity names (customers, addresses, companies, locations, contacts) and/or the local tables
	// "mappings" and "deletions". Entities are written in dependency order, then mappings, then deletions.
	Entities []string
	// Format is "csv" or "xlsx"; "" picks by the extension of Out. A CSV export holds one entity; an XLSX
	// export holds one sheet per entity, named after it, so that import recognises each sheet.
	Format string
	// Out is the output file, written atomically: it appears only when the export is complete.
	Out string
	// Q is the platform query applied to customers (and so to the customers whose addresses are exported)
	// and to the Customer Management lists.
	Q string
	// IncludeAcked also exports deletion log entries the ERP already acknowledged.
	IncludeAcked bool
	// CSV is the delimiter and byte-order mark of a CSV export.
	CSV formats.CSVStyle
	// PageWorkers is how many pages of a list are fetched at once (default 4); every request still goes
	// through the client's shared rate limiter and read concurrency limit.
	PageWorkers int
	// PageSize overrides the page size (default: the largest the client uses, remote.CustomersPageSize and
	// remote.CustomerManagementPageSize).
	PageSize int
	// MixinColumns are mixin columns, by table name, that the table has even when no record fills them: a
	// migration copy carries those of its previous file, so that a mixin field no record of the source has
	// any more is a blank cell, which the copy's import clears, not a missing column, which keeps.
	MixinColumns map[string][]string
	// Progress, if set, is called about every ProgressEvery (default 1 s) and once per entity at its end.
	Progress      func(ExportProgress)
	ProgressEvery time.Duration
}

// ExportProgress is a progress report of a running export.
type ExportProgress struct {
	Table   string // entity or local table being exported
	Rows    int64  // rows written for it so far
	Pages   int64  // pages read for it so far
	Elapsed time.Duration
	Done    bool // the table is complete
}

// String renders "customers: 12000 rows, 60 pages, 3.2s".
func (p ExportProgress) String() string {
	s := fmt.Sprintf("%s: %d rows, %d pages, %s", p.Table, p.Rows, p.Pages, p.Elapsed.Round(100*time.Millisecond))
	if p.Done {
		s += " (done)"
	}
	return s
}

// ExportTable is what an export wrote for one entity or local table.
type ExportTable struct {
	Name  string
	Rows  int64
	Pages int64
}

// ExportReport summarises an export.
type ExportReport struct {
	Out      string
	Format   string
	Tables   []ExportTable
	Requests int64 // HTTP requests, retries included
	Duration time.Duration
	// Skipped are the records left out of the file because a cell of theirs cannot be written in its format
	// or would not import (Export then returns ErrPartial).
	Skipped []ExportSkip
}

// ExportSkip is a record an export left out: which record, which column, and why.
type ExportSkip struct {
	Table  string // the entity
	Record string // "customer C100": the entity's singular and the platform id
	Column string
	Reason string // what is wrong with the cell and what to do
}

// String renders `customer C100, column "mixins.erp.note": the cell holds ...`.
func (s ExportSkip) String() string {
	return fmt.Sprintf("%s, column %q: %s", s.Record, s.Column, s.Reason)
}

// unwritableCell says why a cell cannot go into an export of format, or "" when it can. What import refuses
// (a cell larger than MaxCellBytes, or with a control character, fails its row) is never written, in either
// format, so that an export re-imports; an XLSX cell must also be one XLSX can hold (formats.CheckXLSXCell).
func unwritableCell(format, cell string) string {
	if len(cell) > MaxCellBytes {
		return fmt.Sprintf("the value holds %d bytes, more than the %d import reads from a cell; shorten it on the platform, then export again",
			len(cell), MaxCellBytes)
	}
	if format == "xlsx" {
		if err := formats.CheckXLSXCell(cell); err != nil {
			return fmt.Sprintf("%v; export the entity to CSV (--format csv), which holds it, or change the value on the platform", err)
		}
	}
	if i := mapping.ControlCharAt(cell); i >= 0 {
		return fmt.Sprintf("the value holds a control character U+%04X at position %d, which import refuses; change the value on the platform, then export again",
			cell[i], utf8.RuneCountInString(cell[:i])+1)
	}
	return ""
}

// Rows returns the rows written for a table (0 if it was not exported).
func (r ExportReport) Rows(name string) int64 {
	for _, t := range r.Tables {
		if t.Name == name {
			return t.Rows
		}
	}
	return 0
}

// Export writes platform data (and/or the local mapping and deletion tables) to a CSV or XLSX file in the
// default column layout of each entity (mapping.Columns), so that the file re-imports unchanged: importing it
// into another tenant re-creates the same records with the same ids, and importing it again sends nothing.
//
// ERP keys. The platform does not know the ERP keys, so export joins what the checkpoint knows:
//   - a customer's sdCustomerNumber is its SD mapping's ERP number, else the checkpoint's ERP key for that
//     platform id, else the platform id itself (the default id template is the key itself, so a customer
//     custsync never saw re-imports under its own id);
//   - an address's addressKey is the checkpoint's, else the address id without the "<sdCustomerNumber>-"
//     prefix of the default address template, else the address id;
//   - companies, locations and contacts use the checkpoint's keys, else the platform ids.
//
// The customerNumber column always carries the platform id, so a migration keeps the customer numbers.
// The company <-> location link is written on the company's side (locationKeys, where the platform keeps it;
// a location's companyKey stays blank), a company's approval group as its members' keys, and a company's
// customerGroups leave out the groups the platform creates for every legal entity (roles ADMIN, BUYER,
// REQUESTER): the target tenant makes its own.
// Mixins are written as one column per field (mixins.NAME.FIELD, typed by a :number, :boolean or :json
// suffix where the value is not a string) plus the schema URL (metadata.mixins.NAME), sorted, after the
// default columns: since that set is known only after the last record, rows wait in a private temporary
// file next to the output until the table is complete; they are written in ERP key order, so exports of the
// same data are the same file. st may be nil: every key is then derived from the platform ids.
func Export(ctx context.Context, st *state.Store, rc *remote.Client, opts ExportOptions) (ExportReport, error) {
	start := time.Now()
	rep := ExportReport{Out: opts.Out}
	tables, format, err := exportPlan(opts)
	if err != nil {
		return rep, err
	}
	rep.Format = format
	needsRemote := false
	for _, t := range tables {
		if t != ExportMappings && t != ExportDeletions {
			needsRemote = true
		}
	}
	if needsRemote && rc == nil {
		return rep, fmt.Errorf("%w: exporting platform entities needs a platform client", ErrInput)
	}
	if !needsRemote && st == nil {
		return rep, fmt.Errorf("%w: exporting mappings or deletions needs the state file", ErrInput)
	}
	var before remote.Stats
	if rc != nil {
		before = rc.Stats()
	}

	out, err := newExportSink(opts.Out, format, opts.CSV)
	if err != nil {
		return rep, err
	}
	defer out.abort()

	ex := &exporter{st: st, rc: rc, opts: opts, start: start, format: format}
	ex.normalise()
	if needsRemote {
		if ex.keys, err = loadKeyIndex(ctx, st, tables); err != nil {
			return rep, err
		}
	}
	for _, name := range tables {
		t, err := ex.exportTable(ctx, name, out)
		rep.Tables = append(rep.Tables, t)
		if err != nil {
			return rep, fmt.Errorf("export %s: %w", name, err)
		}
	}
	if err := out.commit(); err != nil {
		return rep, fmt.Errorf("write %s: %w", opts.Out, err)
	}
	if rc != nil {
		rep.Requests = rc.Stats().Requests - before.Requests
	}
	rep.Duration = time.Since(start)
	if rep.Skipped = ex.skipped; len(rep.Skipped) > 0 {
		return rep, fmt.Errorf("%w: %s left out of %s, each for a cell the file cannot hold (see the list)", ErrPartial,
			state.Count(len(rep.Skipped), "record", "records"), opts.Out)
	}
	return rep, nil
}

// exportPlan validates the options and returns the tables in output order and the format.
func exportPlan(opts ExportOptions) ([]string, string, error) {
	if strings.TrimSpace(opts.Out) == "" {
		return nil, "", fmt.Errorf("%w: no output file", ErrInput)
	}
	format := strings.ToLower(strings.TrimSpace(opts.Format))
	if format == "" {
		format = "csv"
		if formats.IsWorkbookPath(opts.Out) {
			format = "xlsx"
		}
	}
	if format != "csv" && format != "xlsx" {
		return nil, "", fmt.Errorf("%w: format %q: use csv or xlsx", ErrInput, opts.Format)
	}
	want := map[string]bool{}
	for _, raw := range opts.Entities {
		for _, name := range strings.Split(raw, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			switch name {
			case "":
				continue
			case ExportMappings, ExportDeletions:
				want[name] = true
				continue
			}
			e, err := mapping.ParseEntity(name)
			if err != nil {
				return nil, "", fmt.Errorf("%w: %v (or mappings, deletions)", ErrInput, err)
			}
			want[string(e)] = true
		}
	}
	var tables []string
	for _, e := range mapping.Entities() {
		if want[string(e)] {
			tables = append(tables, string(e))
		}
	}
	for _, t := range []string{ExportMappings, ExportDeletions} {
		if want[t] {
			tables = append(tables, t)
		}
	}
	if len(tables) == 0 {
		return nil, "", fmt.Errorf("%w: name at least one entity to export", ErrInput)
	}
	if format == "csv" && len(tables) > 1 {
		return nil, "", fmt.Errorf("%w: a CSV file holds one entity, not %s; export to XLSX (one sheet each) or run one export per entity",
			ErrInput, strings.Join(tables, ", "))
	}
	return tables, format, nil
}

// entityHeader is the header of an entity's export: its default columns with the mixin columns, sorted,
// before the command and deleted columns. at is where the mixin columns start.
func entityHeader(e mapping.Entity, mixins []string) (header []string, at int) {
	cols := mapping.Columns(e)
	at = len(cols)
	for at > 0 && (cols[at-1] == mapping.CommandColumn || cols[at-1] == mapping.DeletedColumn) {
		at--
	}
	header = make([]string, 0, len(cols)+len(mixins))
	header = append(header, cols[:at]...)
	header = append(header, mixins...)
	return append(header, cols[at:]...), at
}

// exportSink is the output file: one CSV table or an XLSX workbook with one sheet per table.
type exportSink struct {
	csv formats.Writer
	wb  *formats.Workbook
}

type rowWriter interface{ Write([]string) error }

func newExportSink(path, format string, style formats.CSVStyle) (*exportSink, error) {
	if format == "xlsx" {
		wb, err := formats.CreateWorkbook(path)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		return &exportSink{wb: wb}, nil
	}
	w, err := formats.CreateWith(path, formats.WriteOptions{Format: "csv", CSV: style})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &exportSink{csv: w}, nil
}

func (s *exportSink) table(name string, header []string) (rowWriter, error) {
	if s.wb != nil {
		return s.wb.AddSheet(name, header)
	}
	if err := s.csv.WriteHeader(header); err != nil {
		return nil, err
	}
	return s.csv, nil
}

func (s *exportSink) commit() error {
	if s.wb != nil {
		return s.wb.Close()
	}
	return s.csv.Close()
}

func (s *exportSink) abort() {
	if s.wb != nil {
		_ = s.wb.Abort()
		return
	}
	_ = s.csv.Abort()
}

// keyIndex translates platform ids to ERP keys from the checkpoint and the SD mappings. The maps of
// customers, companies, locations and contacts hold only ids that are not their own key: a lookup that misses
// gives the id itself, so the default id templates (the id is the key) need no entry, and an export of a
// million customers does not load a million of them.
type keyIndex struct {
	customers map[string]string // customer number -> sdCustomerNumber
	addresses map[string]string // "<customer number>/<address id>" -> addressKey
	companies map[string]string // legal entity id -> companyKey
	locations map[string]string // location id -> locationKey
	contacts  map[string]string // contact assignment id -> its key (companyKey/sdCustomerNumber)
}

// loadKeyIndex reads the keys the tables need: customers and addresses need the customers' (and their
// own), the Customer Management entities everything but the addresses (their references and approval
// groups name the others).
func loadKeyIndex(ctx context.Context, st *state.Store, tables []string) (*keyIndex, error) {
	k := &keyIndex{customers: map[string]string{}, addresses: map[string]string{}, companies: map[string]string{},
		locations: map[string]string{}, contacts: map[string]string{}}
	if st == nil {
		return k, nil
	}
	simple := map[mapping.Entity]map[string]string{mapping.Customers: k.customers}
	for _, t := range tables {
		switch mapping.Entity(t) {
		case mapping.Addresses:
			err := st.ScanEntities(ctx, string(mapping.Addresses), func(en state.Entity) error {
				if parts := mapping.SplitKey(en.ERPKey, 2); len(parts) == 2 && en.RemoteID != "" {
					k.addresses[en.RemoteID] = parts[1]
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		case mapping.Companies, mapping.Locations, mapping.Contacts:
			simple[mapping.Companies], simple[mapping.Locations], simple[mapping.Contacts] = k.companies, k.locations, k.contacts
		}
	}
	for e, m := range simple {
		err := st.ScanRenamedEntities(ctx, string(e), func(key, id string) error {
			m[id] = key
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// The SD mappings are the declared ERP relation and win over the checkpoint; one that names the customer's
	// own number matters only where the checkpoint says otherwise.
	err := st.ScanMappedNumbers(ctx, len(k.customers) == 0, func(number, sdNumber string) error {
		if sdNumber == number {
			delete(k.customers, number)
		} else {
			k.customers[number] = sdNumber
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyIndex) customer(id string) string {
	if key, ok := k.customers[id]; ok {
		return key
	}
	return id
}

func (k *keyIndex) address(customerID, customerKey, addressID string) string {
	if key, ok := k.addresses[customerID+"/"+addressID]; ok {
		return key
	}
	if rest, ok := strings.CutPrefix(addressID, customerKey+"-"); ok && rest != "" {
		return rest
	}
	return addressID
}

func (k *keyIndex) ref(e mapping.Entity, id string) string {
	var m map[string]string
	switch e {
	case mapping.Customers:
		m = k.customers
	case mapping.Companies:
		m = k.companies
	case mapping.Locations:
		m = k.locations
	case mapping.Contacts:
		m = k.contacts
	}
	if key, ok := m[id]; ok {
		return key
	}
	return id
}

// exporter runs one export.
type exporter struct {
	st    *state.Store
	rc    *remote.Client
	opts  ExportOptions
	keys  *keyIndex
	start time.Time
	// format is the output's, for the cells it cannot hold; skipped lists the records left out for them.
	format  string
	skipped []ExportSkip
	// keyMap, sortEntity and sortCols are reused from record to record (keyCells, record).
	keyMap     map[string]string
	sortEntity mapping.Entity
	sortCols   []int

	rows, pages atomic.Int64
}

func (x *exporter) normalise() {
	if x.opts.PageWorkers <= 0 {
		x.opts.PageWorkers = 4
	}
	if x.opts.ProgressEvery <= 0 {
		x.opts.ProgressEvery = time.Second
	}
}

// exportTable writes one table and reports it, with progress while it runs.
func (x *exporter) exportTable(ctx context.Context, name string, out *exportSink) (ExportTable, error) {
	x.rows.Store(0)
	x.pages.Store(0)
	stop := x.startProgress(name)
	err := x.writeTable(ctx, name, out)
	stop(err == nil)
	return ExportTable{Name: name, Rows: x.rows.Load(), Pages: x.pages.Load()}, err
}

func (x *exporter) writeTable(ctx context.Context, name string, out *exportSink) error {
	switch name {
	case ExportMappings:
		w, err := out.table(name, MappingColumns)
		if err != nil {
			return err
		}
		return x.exportMappings(ctx, tableWriter[mappingRow]{w})
	case ExportDeletions:
		w, err := out.table(name, DeletionColumns)
		if err != nil {
			return err
		}
		return x.exportDeletions(ctx, tableWriter[deletionRow]{w})
	}
	e, ok := mapping.EntityFromName(name)
	if !ok {
		return fmt.Errorf("%w: unknown table %q", ErrInput, name)
	}
	sp, err := newSpill(filepath.Dir(x.opts.Out))
	if err != nil {
		return err
	}
	defer sp.remove()
	switch e {
	case mapping.Customers, mapping.Addresses:
		err = x.exportCustomers(ctx, e, sp)
	case mapping.Companies:
		err = x.exportManaged(ctx, mapping.Companies, x.rc.LegalEntities, sp)
	case mapping.Locations:
		err = x.exportManaged(ctx, mapping.Locations, x.rc.Locations, sp)
	case mapping.Contacts:
		err = x.exportManaged(ctx, mapping.Contacts, x.rc.ContactAssignments, sp)
	}
	if err != nil {
		return err
	}
	sp.declareColumns(x.opts.MixinColumns[name])
	header, at := entityHeader(e, sp.mixinColumns())
	w, err := out.table(name, header)
	if err != nil {
		return err
	}
	return sp.replay(at, w)
}

func (x *exporter) startProgress(name string) func(done bool) {
	if x.opts.Progress == nil {
		return func(bool) {}
	}
	report := func(done bool) {
		x.opts.Progress(ExportProgress{Table: name, Rows: x.rows.Load(), Pages: x.pages.Load(), Elapsed: time.Since(x.start), Done: done})
	}
	return startTicker(x.opts.ProgressEvery, report)
}

// keyCells returns the key columns of the record being exported (column, value, column, value, ...) in the
// one map the exporter reuses for every record: the map lives only until the record is rendered.
func (x *exporter) keyCells(columnValues ...string) map[string]string {
	if x.keyMap == nil {
		x.keyMap = map[string]string{}
	}
	clear(x.keyMap)
	for i := 0; i+1 < len(columnValues); i += 2 {
		x.keyMap[columnValues[i]] = columnValues[i+1]
	}
	return x.keyMap
}

// record keeps one exported platform record: its default columns and its mixin columns.
func (x *exporter) record(sp *spill, e mapping.Entity, doc map[string]any, keys map[string]string) error {
	mixins, err := mapping.ExportCells(e, doc)
	if err != nil {
		id, _ := doc["id"].(string)
		return fmt.Errorf("%s %s: %w", singular(e), id, err)
	}
	row := mapping.ExportRow(e, doc, keys, x.keys.ref, "")
	if skip, ok := x.unwritable(e, doc, row, mixins); ok {
		// One record the format cannot hold must not cost the file every other record: it is left out and
		// reported, and the export ends partial.
		x.skipped = append(x.skipped, skip)
		return nil
	}
	if x.sortCols == nil || x.sortEntity != e {
		x.sortEntity, x.sortCols = e, sortColumns(e)
	}
	if err := sp.add(sortKey(x.sortCols, row), row, mixins); err != nil {
		return err
	}
	x.rows.Add(1)
	return nil
}

// unwritable finds the first cell of a record that the export's format cannot hold (unwritableCell).
func (x *exporter) unwritable(e mapping.Entity, doc map[string]any, row []string, mixins []mapping.MixinCell) (ExportSkip, bool) {
	skip := func(column, reason string) (ExportSkip, bool) {
		id, _ := doc["id"].(string)
		return ExportSkip{Table: string(e), Record: singular(e) + " " + id, Column: column, Reason: reason}, true
	}
	columns := mapping.Columns(e)
	for i, cell := range row {
		if reason := unwritableCell(x.format, cell); reason != "" {
			return skip(columns[i], reason)
		}
	}
	for _, m := range mixins {
		if reason := unwritableCell(x.format, m.Text); reason != "" {
			return skip(m.Column, reason)
		}
	}
	return ExportSkip{}, false
}

// exportCustomers writes customers or their addresses. Customer pages are read PageWorkers at once with
// their addresses expanded, so addresses cost no request per customer.
func (x *exporter) exportCustomers(ctx context.Context, e mapping.Entity, sp *spill) error {
	size := x.opts.PageSize
	if size <= 0 {
		size = remote.CustomersPageSize
	}
	// Mixins come only when asked for; an address's mixins come with the address.
	list := remote.ListOptions{Q: x.opts.Q, PageSize: size, Expand: []string{"mixin:*"}, Workers: x.opts.PageWorkers}
	if e == mapping.Addresses {
		list.Expand = []string{"addresses"}
	}
	n := 0
	for d, err := range x.rc.Customers(ctx, list) {
		if err != nil {
			return err
		}
		if n%size == 0 {
			x.pages.Add(1)
		}
		n++
		id, _ := d["id"].(string)
		if id == "" {
			continue
		}
		key := x.keys.customer(id)
		if e == mapping.Customers {
			if err := x.record(sp, e, d, x.keyCells(mapping.CustomerKeyColumn, key)); err != nil {
				return err
			}
			continue
		}
		addrs, _ := d["addresses"].([]any)
		for _, a := range addrs {
			addr, ok := a.(map[string]any)
			if !ok {
				continue
			}
			addrID, _ := addr["id"].(string)
			if addrID == "" {
				continue
			}
			keys := x.keyCells(mapping.CustomerKeyColumn, key, mapping.AddressKeyColumn, x.keys.address(id, key, addrID))
			if err := x.record(sp, e, addr, keys); err != nil {
				return err
			}
		}
	}
	return nil
}

// exportManaged writes legal entities, locations or contact assignments, PageWorkers pages at once.
func (x *exporter) exportManaged(ctx context.Context, e mapping.Entity, list func(context.Context, remote.ListOptions) iter.Seq2[remote.Doc, error], sp *spill) error {
	size := x.managedPageSize()
	n := 0
	for d, err := range list(ctx, remote.ListOptions{Q: x.opts.Q, PageSize: size, Workers: x.opts.PageWorkers}) {
		if err != nil {
			return err
		}
		if n%size == 0 {
			x.pages.Add(1)
		}
		n++
		id, _ := d["id"].(string)
		keys := x.keyCells()
		switch e {
		case mapping.Companies:
			keys[mapping.CompanyKeyColumn] = x.keys.ref(mapping.Companies, id)
			d = withoutPlatformGroups(d)
		case mapping.Locations:
			// companyKey stays blank: the platform keeps the link on the company (entitiesAddresses), and the
			// company's locationKeys column carries all of it, also a location listed by several companies.
			keys[mapping.LocationKeyColumn] = x.keys.ref(mapping.Locations, id)
		}
		if err := x.record(sp, e, d, keys); err != nil {
			return err
		}
	}
	return nil
}

// sortColumns are the positions of an entity's key columns in its export row, outermost first.
func sortColumns(e mapping.Entity) []int {
	cols := mapping.Columns(e)
	var at []int
	for _, k := range mapping.KeyColumns(e) {
		if i := slices.Index(cols, k); i >= 0 {
			at = append(at, i)
		}
	}
	return at
}

// sortKey is the ERP key of an exported row (its cells at the sortColumns), which orders the rows of its table.
func sortKey(at []int, row []string) string {
	if len(at) == 1 && at[0] < len(row) {
		return row[at[0]]
	}
	parts := make([]string, 0, len(at))
	for _, i := range at {
		if i < len(row) {
			parts = append(parts, row[i])
		}
	}
	return mapping.JoinKey(parts...)
}

// platformGroupRoles are the roles of the customer groups the platform creates itself for every legal entity.
var platformGroupRoles = map[string]bool{"ADMIN": true, "BUYER": true, "REQUESTER": true}

// withoutPlatformGroups drops the customer groups the platform created with the legal entity: their ids are
// the platform's own and differ per tenant, so exporting them would make a migration reference groups that
// do not exist in the target tenant (which creates its own when the company is created there).
func withoutPlatformGroups(d remote.Doc) remote.Doc {
	groups, ok := d["customerGroups"].([]any)
	if !ok {
		return d
	}
	kept := make([]any, 0, len(groups))
	for _, g := range groups {
		if m, ok := g.(map[string]any); ok {
			if role, _ := m["role"].(string); platformGroupRoles[strings.ToUpper(role)] {
				continue
			}
		}
		kept = append(kept, g)
	}
	out := make(remote.Doc, len(d))
	for k, v := range d {
		out[k] = v
	}
	out["customerGroups"] = kept
	return out
}

func (x *exporter) managedPageSize() int {
	if x.opts.PageSize > 0 {
		return x.opts.PageSize
	}
	return remote.CustomerManagementPageSize
}

func (x *exporter) exportMappings(ctx context.Context, w tableWriter[mappingRow]) error {
	return x.st.ScanMappings(ctx, state.MappingFilter{}, func(m state.SDMapping) error {
		x.rows.Add(1)
		return w.Write(mappingRow{CustomerNumber: m.CustomerNumber, SDCustomerNumber: m.SDCustomerNumber,
			DeletedInYaaS: m.DeletedInYaaS, Pushed: m.Pushed, UpdatedAt: csvTime(m.UpdatedAt)})
	})
}

func (x *exporter) exportDeletions(ctx context.Context, w tableWriter[deletionRow]) error {
	return x.st.ScanDeletions(ctx, state.DeletionFilter{IncludeAcked: x.opts.IncludeAcked}, func(d state.DeletionEntry) error {
		x.rows.Add(1)
		return w.Write(deletionRow{Kind: d.Kind, ERPKey: d.ERPKey, RemoteID: d.RemoteID, Reason: string(d.Reason),
			RunID: runID(d.RunID), CreatedAt: csvTime(d.CreatedAt), AckedAt: csvTime(d.AckedAt), PreImage: string(d.PreImage)})
	})
}
