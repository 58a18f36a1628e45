package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
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
)

// CheckColumns is the header of the check report.
var CheckColumns = []string{"entity", "key", "remoteId", "status", "fields", "detail"}

// CheckOptions configure a check.
type CheckOptions struct {
	Files  []string
	Spec   *mapping.Spec  // nil: the default columns
	Entity mapping.Entity // optional: the entity of every table
	Read   formats.Options
	// ExpectRows are control totals checked by the input stage (--expect-rows).
	ExpectRows []RowCount
	// Report is the report file (CSV or XLSX by Format or extension); "" writes none.
	Report string
	Format string
	// PageWorkers is how many customer pages are read at once (default 4).
	PageWorkers int
	// Progress, if set, is called with the number of platform records compared so far, after each page.
	Progress func(compared int64)
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
	// Problems are the first results that are not "same" (at most 1000), in report order.
	Problems []CheckResult
	Duration time.Duration
}

// ErrCheckInput marks an unreadable file or a wrong header given to check.
var ErrCheckInput = errors.New("check input error")

const maxCheckProblems = 1000

// Check compares the ERP files with the live platform and the checkpoint, key by key, and writes a report.
// It changes nothing anywhere: it only reads the files, the state file and the platform (GET requests).
//
// For each row: the record it maps to is looked up on the platform under the id an import would use (the
// checkpoint's remote id, else an explicit customerNumber, else an adopted mapping, else the id template).
// Equal in every field the row sets (or clears): same; else differs, with the fields (platform value -> file
// value); absent: only-in-file. A row flagged for deletion is same when the record is absent and differs when
// it still exists. Records of the checked entities that no row names are only-on-platform (the detail says
// whether custsync wrote them). The detail also compares the row with the checkpoint: "file changed since the
// last import" when its hash differs from the checkpoint's, so drift made on the platform (file and checkpoint
// agree, platform differs) stands out from changes still to be imported.
func Check(ctx context.Context, st *state.Store, rc *remote.Client, opts CheckOptions) (CheckReport, error) {
	start := time.Now()
	rep := CheckReport{Report: opts.Report, Totals: map[CheckStatus]int{}, Entities: map[mapping.Entity]map[CheckStatus]int{}}
	if opts.Spec == nil {
		opts.Spec = mapping.DefaultSpec()
	}
	if opts.PageWorkers <= 0 {
		opts.PageWorkers = 4
	}
	c := &checker{st: st, rc: rc, opts: opts, rep: &rep, wanted: map[mapping.Entity]map[string]*checkRow{},
		claimed: map[mapping.Entity]map[string]bool{}, checkpoint: map[mapping.Entity]map[string]state.EntityRef{}}
	if err := c.readFiles(ctx); err != nil {
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
}

type checker struct {
	st   *state.Store
	rc   *remote.Client
	opts CheckOptions
	rep  *CheckReport

	// wanted: entity -> remote id (addresses: "<customer>/<address>") -> row.
	wanted     map[mapping.Entity]map[string]*checkRow
	claimed    map[mapping.Entity]map[string]bool // remote ids of invalid rows
	checkpoint map[mapping.Entity]map[string]state.EntityRef
	// byCheckpointID: entity -> checkpoint remote id -> ERP key, to name platform-only records custsync wrote.
	byCheckpointID map[mapping.Entity]map[string]string
	adopted        map[string]string
	results        []CheckResult
	compared       int64
}

func (c *checker) readFiles(ctx context.Context) error {
	adopted, err := AdoptedIDs(ctx, c.st, c.opts.Spec.IDTemplate(mapping.Customers))
	if err != nil {
		return err
	}
	c.adopted = adopted
	in, err := OpenInput(InputOptions{Files: c.opts.Files, Spec: c.opts.Spec, Entity: c.opts.Entity, Read: c.opts.Read, ExpectRows: c.opts.ExpectRows})
	if err != nil {
		return checkInputError(err)
	}
	defer in.Close()
	keys := mapping.NewKeySet(0)
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

// checkInputError marks an input error as check's (exit 2); a safety stop (an empty file) stays one.
func checkInputError(err error) error {
	var guard *GuardError
	if errors.As(err, &guard) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCheckInput, err)
}

func (c *checker) readTable(ctx context.Context, t *InputTable, keys *mapping.KeySet) error {
	for _, m := range t.Mappers {
		e := m.Entity()
		if c.wanted[e] == nil {
			c.wanted[e] = map[string]*checkRow{}
			c.claimed[e] = map[string]bool{}
			refs, err := c.st.LoadEntities(ctx, string(e))
			if err != nil {
				return err
			}
			c.checkpoint[e] = refs
		}
	}
	for {
		row, err := t.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return checkInputError(err)
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
	if len(ferrs) > 0 {
		msgs := make([]string, len(ferrs))
		for i, fe := range ferrs {
			msgs[i] = fe.Error()
		}
		res := CheckResult{Entity: e, Key: rec.Key, Status: CheckError, Detail: strings.Join(msgs, "; ")}
		if rec.Key != "" && rec.RemoteID != "" {
			// The row exists, only badly: its platform record is not "only on the platform".
			ref, known := c.checkpoint[e][rec.Key]
			res.RemoteID = c.liveID(rec, ref, known)
			c.claimed[e][res.RemoteID] = true
		}
		c.add(res)
		return
	}
	if rec.Command == mapping.Ignore {
		return
	}
	ref, known := c.checkpoint[e][rec.Key]
	row := &checkRow{rec: rec, remoteID: c.liveID(rec, ref, known)}
	switch {
	case !known:
		row.detail = "not in the checkpoint"
	case rec.Command != mapping.Delete && ref.RowHash != rec.Hash():
		row.detail = "file changed since the last import"
	}
	c.wanted[e][row.remoteID] = row
}

// liveID is the platform id an import would write the record to.
func (c *checker) liveID(rec mapping.Record, ref state.EntityRef, known bool) string {
	if known && ref.RemoteID != "" {
		return ref.RemoteID
	}
	switch rec.Entity {
	case mapping.Customers:
		return c.customerID(rec.Key, rec.RemoteID)
	case mapping.Addresses:
		customer := ""
		for _, r := range rec.Refs {
			if r.Entity == mapping.Customers {
				customer = c.customerID(r.Key, r.RemoteID)
			}
		}
		if cref, ok := c.checkpoint[mapping.Customers][rec.KeyParts[0]]; ok && cref.RemoteID != "" {
			customer = cref.RemoteID
		}
		return customer + "/" + rec.RemoteID
	}
	return rec.RemoteID
}

// customerID is the platform id of a customer key: an adopted id when the record's id is the template's.
func (c *checker) customerID(key, templateID string) string {
	if id, ok := c.adopted[key]; ok {
		if det, err := mapping.RemoteID(c.opts.Spec.IDTemplate(mapping.Customers), key); err == nil && det == templateID {
			return id
		}
	}
	return templateID
}

func (c *checker) add(r CheckResult) {
	c.results = append(c.results, r)
}

// compare lists the platform records of every entity the files feed and compares them with the rows.
func (c *checker) compare(ctx context.Context) error {
	_, customers := c.wanted[mapping.Customers]
	_, addresses := c.wanted[mapping.Addresses]
	if customers || addresses {
		if err := c.compareCustomers(ctx, customers, addresses); err != nil {
			return err
		}
	}
	managed := []struct {
		e    mapping.Entity
		list func(context.Context, remote.ListOptions) iter.Seq2[remote.Doc, error]
	}{
		{mapping.Locations, c.rc.Locations},
		{mapping.Companies, c.rc.LegalEntities},
		{mapping.Contacts, c.rc.ContactAssignments},
	}
	for _, m := range managed {
		if _, ok := c.wanted[m.e]; !ok {
			continue
		}
		for d, err := range m.list(ctx, remote.ListOptions{}) {
			if err != nil {
				return fmt.Errorf("list %s: %w", m.e, err)
			}
			id, _ := d["id"].(string)
			c.comparePlatform(m.e, id, d)
		}
	}
	return nil
}

func (c *checker) compareCustomers(ctx context.Context, customers, addresses bool) error {
	size := remote.CustomersPageSize
	opts := remote.ListOptions{PageSize: size}
	if addresses {
		opts.Expand = []string{"addresses"}
	}
	seen := map[string]bool{}
	return fetchPagesInOrder(ctx, c.opts.PageWorkers, size, func(ctx context.Context, page int) ([]remote.Doc, error) {
		docs, err := customerPage(ctx, c.rc, opts, page)
		if err != nil || !addresses {
			return docs, err
		}
		x := &exporter{rc: c.rc, opts: ExportOptions{Workers: 8}}
		return docs, x.fillAddresses(ctx, docs)
	}, func(docs []remote.Doc) error {
		for _, d := range docs {
			id, _ := d["id"].(string)
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
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
		}
		if c.opts.Progress != nil {
			c.opts.Progress(c.compared)
		}
		return nil
	})
}

// comparePlatform compares one platform record with the row that names it, if any.
func (c *checker) comparePlatform(e mapping.Entity, remoteID string, doc map[string]any) {
	c.compared++
	row, ok := c.wanted[e][remoteID]
	if !ok && c.claimed[e][remoteID] {
		return
	}
	if !ok {
		key, wrote := c.byCheckpointID[e][remoteID]
		detail := "not written by custsync"
		if wrote {
			detail = "in the checkpoint but in no file row"
		}
		c.add(CheckResult{Entity: e, Key: key, RemoteID: remoteID, Status: CheckOnlyOnPlatform, Detail: detail})
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
	res.Fields = mapping.DiffRemote(doc, row.rec)
	res.Status = CheckSame
	if len(res.Fields) > 0 {
		res.Status = CheckDiffers
		if row.detail == "" {
			res.Detail = "changed on the platform since the last import"
		}
	}
	c.add(res)
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
		if r.Status != CheckSame && len(c.rep.Problems) < maxCheckProblems {
			c.rep.Problems = append(c.rep.Problems, r)
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
	w, err := formats.Create(c.opts.Report, format, "check")
	if err != nil {
		return fmt.Errorf("check report: %w", err)
	}
	defer w.Abort()
	if err := w.WriteHeader(CheckColumns); err != nil {
		return fmt.Errorf("check report: %w", err)
	}
	for _, r := range c.results {
		fields := make([]string, len(r.Fields))
		for i, f := range r.Fields {
			fields[i] = f.String()
		}
		if err := w.Write([]string{string(r.Entity), r.Key, r.RemoteID, string(r.Status), strings.Join(fields, "; "), r.Detail}); err != nil {
			return fmt.Errorf("check report: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("check report: %w", err)
	}
	return nil
}
