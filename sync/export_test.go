package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
)

// reconPlatform is one sandbox served over real HTTP; every tenant gets its own client and state file.
type reconPlatform struct {
	t    *testing.T
	srv  *sandbox.Server
	http *httptest.Server
	dir  string
}

func newReconPlatform(t *testing.T) *reconPlatform {
	t.Helper()
	srv, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &reconPlatform{t: t, srv: srv, http: hs, dir: t.TempDir()}
}

func (p *reconPlatform) client(tenant string) *remote.Client {
	p.t.Helper()
	rc, err := remote.New(remote.Config{BaseURL: p.http.URL, MappingsURL: p.http.URL, Tenant: tenant, ClientID: sandbox.DemoClientID,
		ClientSecret: sandbox.DemoClientSecret, Writers: 8, Readers: 8, BaseBackoff: time.Millisecond,
		MaxBackoff: 20 * time.Millisecond, MaxRetryAfter: 50 * time.Millisecond})
	if err != nil {
		p.t.Fatal(err)
	}
	return rc
}

func (p *reconPlatform) state(tenant string) *state.Store {
	p.t.Helper()
	st, err := state.Open(context.Background(), filepath.Join(p.dir, tenant+".db"), state.Binding{APIURL: p.http.URL, Tenant: tenant})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { st.Close() })
	return st
}

// writeRequests lists the non-GET API requests the sandbox logged (token requests excluded).
func (p *reconPlatform) writeRequests() []string {
	var out []string
	for _, r := range p.srv.Requests() {
		if r.Method == http.MethodGet || strings.HasPrefix(r.Path, "/oauth/") {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// loadRecords maps every row of a default-layout file.
func loadRecords(t testing.TB, path string, e mapping.Entity) []mapping.Record {
	t.Helper()
	tables, err := formats.Open(path, formats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer formats.CloseAll(tables)
	var out []mapping.Record
	for _, tb := range tables {
		sheet := ""
		if strings.HasSuffix(path, ".xlsx") {
			sheet = tb.Name()
		}
		ms, err := mapping.Resolve(nil, mapping.Table{File: path, Sheet: sheet}, tb.Header())
		if err != nil {
			t.Fatal(err)
		}
		if ms[0].Entity() != e {
			continue
		}
		for {
			row, err := tb.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rec, ferrs := ms[0].Map(formats.Position{File: path, Line: row.Pos.Line}, row.Cells)
			if len(ferrs) > 0 {
				t.Fatalf("%s line %d: %v", path, row.Pos.Line, ferrs)
			}
			out = append(out, rec)
		}
	}
	return out
}

func customerOf(rec mapping.Record) string {
	for _, r := range rec.Refs {
		if r.Entity == mapping.Customers {
			return r.RemoteID
		}
	}
	return ""
}

// seedSynced writes records to the platform directly and records them in the checkpoint as an import would
// (remote id, row hash, snapshot, SD mapping), without going through the import.
func seedSynced(t *testing.T, st *state.Store, rc *remote.Client, recs []mapping.Record) {
	t.Helper()
	ctx := context.Background()
	var outcomes []state.Outcome
	for _, rec := range recs {
		var remoteID string
		var err error
		switch rec.Entity {
		case mapping.Customers:
			remoteID = rec.RemoteID
			_, err = rc.UpsertCustomer(ctx, remoteID, rec.Payload())
		case mapping.Addresses:
			remoteID = customerOf(rec) + "/" + rec.RemoteID
			_, err = rc.UpsertAddress(ctx, customerOf(rec), rec.RemoteID, rec.Payload())
		default:
			t.Fatalf("seedSynced: %s", rec.Entity)
		}
		if err != nil {
			t.Fatalf("seed %s %s: %v", rec.Entity, rec.Key, err)
		}
		snap, _ := json.Marshal(rec.Payload())
		o := state.Outcome{Kind: string(rec.Entity), ERPKey: rec.Key, Action: state.ActionCreate, RemoteID: remoteID,
			RowHash: rec.Hash(), Snapshot: snap}
		if m, ok := mapping.SDMappingFor(rec); ok {
			o.Mapping = &state.SDMapping{CustomerNumber: m.CustomerNumber, SDCustomerNumber: m.SDCustomerNumber}
		}
		outcomes = append(outcomes, o)
	}
	if err := st.Commit(ctx, outcomes); err != nil {
		t.Fatal(err)
	}
}

// seedCustomers creates n customers directly on the platform, concurrently.
func seedCustomers(tb testing.TB, rc *remote.Client, n int) {
	tb.Helper()
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(16)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			id := fmt.Sprintf("%010d", 500000+i)
			// No contactEmail: the sandbox checks e-mail uniqueness by scanning every customer.
			_, err := rc.UpsertCustomer(ctx, id, remote.Doc{"firstName": fmt.Sprintf("F%d", i), "lastName": "Seed", "company": "Bench"})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
}

func hashesByKey(recs []mapping.Record) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range recs {
		out[r.Key] = r.Hash()
	}
	return out
}

// TestExportRoundTripReMapsToTheSameRecords writes the sample customers and addresses to a tenant, exports
// them to XLSX (a sheet per entity) and CSV, and maps the export again: every record must hash as the original,
// which is what makes an export re-import as "unchanged". A customer whose platform id is not the key's
// deterministic id gets its ERP number from the SD mapping.
func TestExportRoundTripReMapsToTheSameRecords(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	rc, st := p.client("tenanta"), p.state("tenanta")
	ctx := context.Background()
	custs := loadRecords(t, "../samples/customers.csv", mapping.Customers)
	addrs := loadRecords(t, "../samples/addresses.csv", mapping.Addresses)
	seedSynced(t, st, rc, custs)
	seedSynced(t, st, rc, addrs)
	// A shop-created customer adopted under ERP number 0000999999.
	if _, err := rc.UpsertCustomer(ctx, "shop-77", remote.Doc{"firstName": "Adopted", "lastName": "Shopper", "contactEmail": "shop77@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMappings(ctx, []state.SDMapping{{CustomerNumber: "shop-77", SDCustomerNumber: "0000999999"}}); err != nil {
		t.Fatal(err)
	}

	var progress []ExportProgress
	out := filepath.Join(p.dir, "export.xlsx")
	rep, err := Export(ctx, st, rc, ExportOptions{Entities: []string{"addresses", "customers"}, Out: out, PageSize: 7,
		Progress: func(pr ExportProgress) { progress = append(progress, pr) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "xlsx" || len(rep.Tables) != 2 || rep.Tables[0].Name != "customers" || rep.Tables[1].Name != "addresses" {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Rows("customers") != int64(len(custs)+1) || rep.Rows("addresses") != int64(len(addrs)) {
		t.Fatalf("rows: %+v, want %d customers and %d addresses", rep.Tables, len(custs)+1, len(addrs))
	}
	if rep.Tables[0].Pages < 5 {
		t.Errorf("customers read in %d pages of 7, want at least 5", rep.Tables[0].Pages)
	}
	if len(progress) < 2 || !progress[len(progress)-1].Done || progress[len(progress)-1].Table != "addresses" {
		t.Errorf("progress: %+v", progress)
	}

	gotCust := loadRecords(t, out, mapping.Customers)
	gotAddr := loadRecords(t, out, mapping.Addresses)
	for name, pair := range map[string][2][]mapping.Record{"customers": {custs, gotCust}, "addresses": {addrs, gotAddr}} {
		want, got := hashesByKey(pair[0]), hashesByKey(pair[1])
		for k, h := range want {
			if got[k] != h {
				t.Errorf("%s %s: exported row does not re-map to the original record", name, k)
			}
		}
	}
	adopted := false
	for _, r := range gotCust {
		if r.Key == "0000999999" {
			adopted = r.RemoteID == "shop-77"
		}
	}
	if !adopted {
		t.Errorf("customer shop-77 was not exported under its mapped ERP number with its platform id")
	}

	// The CSV export of one entity holds the same rows.
	csvOut := filepath.Join(p.dir, "customers.csv")
	if _, err := Export(ctx, st, rc, ExportOptions{Entities: []string{"customers"}, Out: csvOut}); err != nil {
		t.Fatal(err)
	}
	if got := hashesByKey(loadRecords(t, csvOut, mapping.Customers)); len(got) != len(custs)+1 {
		t.Errorf("CSV export has %d customers, want %d", len(got), len(custs)+1)
	}
	if w := p.writeRequests(); len(w) != len(custs)+len(addrs)+1 {
		t.Errorf("export sent writes: %d write requests in the log, want only the %d of the seeding", len(w), len(custs)+len(addrs)+1)
	}
}

// TestExportMigrationImportsUnchanged is the tenant migration: export tenant A, import the file into tenant B,
// import it again: the second import sends nothing, and B holds A's customers under the same ids.
func TestExportMigrationImportsUnchanged(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	rcA, stA := p.client("tenanta"), p.state("tenanta")
	seedSynced(t, stA, rcA, loadRecords(t, "../samples/customers.csv", mapping.Customers))
	seedSynced(t, stA, rcA, loadRecords(t, "../samples/addresses.csv", mapping.Addresses))
	out := filepath.Join(p.dir, "tenanta.xlsx")
	if _, err := Export(ctx, stA, rcA, ExportOptions{Entities: []string{"customers", "addresses"}, Out: out}); err != nil {
		t.Fatal(err)
	}

	rcB, stB := p.client("tenantb"), p.state("tenantb")
	rep, err := Import(ctx, stB, rcB, Options{Files: []string{out}})
	if err != nil {
		t.Fatalf("import into B: %v\n%s", err, rep.Summary())
	}
	if rep.Created != 64 || rep.Failed != 0 {
		t.Fatalf("import into B: %s", rep.Summary())
	}
	p.srv.ResetRequests()
	rep, err = Import(ctx, stB, rcB, Options{Files: []string{out}})
	if err != nil {
		t.Fatalf("second import into B: %v", err)
	}
	if w := p.writeRequests(); len(w) != 0 || rep.Unchanged != 64 {
		t.Fatalf("second import sent %v; %s", w, rep.Summary())
	}
	b, err := rcB.GetCustomer(ctx, "0000200001")
	if err != nil || b["firstName"] != "Stefan" {
		t.Fatalf("tenant B customer 0000200001: %v %v", b, err)
	}
}

// TestExportPagesConcurrentlyEveryCustomerOnce reads many pages with several page workers: every customer is
// written exactly once, and the requests past the last page stay bounded by the number of workers.
func TestExportPagesConcurrentlyEveryCustomerOnce(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	rc := p.client("pages")
	seedCustomers(t, rc, 430)
	p.srv.ResetRequests()
	out := filepath.Join(p.dir, "customers.csv")
	rep, err := Export(context.Background(), nil, rc, ExportOptions{Entities: []string{"customers"}, Out: out, PageSize: 20, PageWorkers: 4})
	if err != nil {
		t.Fatal(err)
	}
	recs := loadRecords(t, out, mapping.Customers)
	keys := map[string]bool{}
	for _, r := range recs {
		if keys[r.Key] {
			t.Fatalf("customer %s exported twice", r.Key)
		}
		keys[r.Key] = true
	}
	if len(keys) != 430 || rep.Rows("customers") != 430 {
		t.Fatalf("exported %d customers (report %d), want 430", len(keys), rep.Rows("customers"))
	}
	lists := 0
	for _, r := range p.srv.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/customers") {
			lists++
		}
	}
	// 22 pages hold the 430 customers; at most 4 more were asked for before the short page was seen.
	if lists < 22 || lists > 22+4+1 {
		t.Errorf("%d list requests for 22 pages", lists)
	}
}

func TestExportOptionsAreChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []ExportOptions{
		{Entities: []string{"customers", "addresses"}, Out: filepath.Join(dir, "two.csv")},
		{Entities: []string{"orders"}, Out: filepath.Join(dir, "x.csv")},
		{Entities: []string{"customers"}, Out: filepath.Join(dir, "x.csv"), Format: "json"},
		{Entities: nil, Out: filepath.Join(dir, "x.csv")},
	}
	for _, opts := range cases {
		if _, err := Export(context.Background(), nil, nil, opts); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: error %v, want ErrInput", opts, err)
		}
	}
}

// TestExportLocalTables exports the mapping table and the deletion log into one workbook.
func TestExportLocalTables(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	st := p.state("local")
	ctx := context.Background()
	if err := st.PutMappings(ctx, []state.SDMapping{{CustomerNumber: "C1", SDCustomerNumber: "0001"}, {CustomerNumber: "C2", SDCustomerNumber: "0002", DeletedInYaaS: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LogDeletion(ctx, state.DeletionEntry{Kind: "customers", ERPKey: "0002", RemoteID: "C2", Reason: state.ReasonDeletedInPlatform, PreImage: json.RawMessage(`{"firstName":"X"}`)}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(p.dir, "local.xlsx")
	rep, err := Export(ctx, st, nil, ExportOptions{Entities: []string{"deletions,mappings"}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows("mappings") != 2 || rep.Rows("deletions") != 1 {
		t.Fatalf("report %+v", rep)
	}
	got := sheetCells(t, out) // the header first
	if m := got["mappings"][1:]; len(m) != 2 || m[1][0] != "C2" || m[1][1] != "0002" || m[1][2] != "true" {
		t.Errorf("mappings sheet: %v", m)
	}
	if d := got["deletions"][1:]; len(d) != 1 || d[0][0] != "customers" || d[0][1] != "0002" || d[0][3] != "deleted-in-platform" || d[0][7] != `{"firstName":"X"}` {
		t.Errorf("deletions sheet: %v", d)
	}
}

// BenchmarkExport100k exports 100k customers (CUSTSYNC_BENCH_CUSTOMERS overrides the count) seeded directly
// into an in-process sandbox, and reports rows/s, pages/s and the heap growth during the export (the
// sandbox's own data is in the same process, so the baseline is taken after seeding).
func BenchmarkExport100k(b *testing.B) {
	n := 100000
	if v := os.Getenv("CUSTSYNC_BENCH_CUSTOMERS"); v != "" {
		fmt.Sscan(v, &n)
	}
	srv, err := sandbox.New(sandbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	rc, err := remote.New(remote.Config{BaseURL: hs.URL, Tenant: "bench", ClientID: sandbox.DemoClientID,
		ClientSecret: sandbox.DemoClientSecret, Readers: 8, Writers: 16})
	if err != nil {
		b.Fatal(err)
	}
	seedStart := time.Now()
	seedCustomers(b, rc, n)
	b.Logf("seeded %d customers in %s", n, time.Since(seedStart).Round(time.Millisecond))
	out := filepath.Join(b.TempDir(), "customers.csv")
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			}
		}()
		rep, err := Export(context.Background(), nil, rc, ExportOptions{Entities: []string{"customers"}, Out: out})
		close(stop)
		<-sampled
		if err != nil {
			b.Fatal(err)
		}
		if rep.Rows("customers") != int64(n) {
			b.Fatalf("exported %d customers, want %d", rep.Rows("customers"), n)
		}
		secs := rep.Duration.Seconds()
		growth := float64(0)
		if p := peak.Load(); p > base.HeapInuse {
			growth = float64(p-base.HeapInuse) / (1 << 20)
		}
		b.ReportMetric(float64(rep.Tables[0].Rows)/secs, "rows/s")
		b.ReportMetric(float64(rep.Tables[0].Pages)/secs, "pages/s")
		b.ReportMetric(growth, "peak-heap-growth-MiB")
		b.Logf("%d customers, %d pages, %d requests in %s", rep.Tables[0].Rows, rep.Tables[0].Pages, rep.Requests, rep.Duration.Round(time.Millisecond))
	}
}

// TestExportCustomerManagementReMapsToTheSameRecords does for locations, companies and contact assignments
// what the customers round trip does: written to the platform directly, exported, mapped again, same hash.
// The locations' companyKey stays blank: the companies' locationKeys carry the link.
func TestExportCustomerManagementReMapsToTheSameRecords(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	rc, st := p.client("cmtenant"), p.state("cmtenant")
	locs := loadRecords(t, "../samples/locations.csv", mapping.Locations)
	comps := loadRecords(t, "../samples/companies.csv", mapping.Companies)
	contacts := loadRecords(t, "../samples/contacts.csv", mapping.Contacts)
	for _, r := range locs {
		if _, err := rc.UpsertLocation(ctx, r.RemoteID, r.Payload()); err != nil {
			t.Fatalf("location %s: %v", r.Key, err)
		}
	}
	for _, r := range comps {
		if _, err := rc.UpsertLegalEntity(ctx, r.RemoteID, r.Payload()); err != nil {
			t.Fatalf("company %s: %v", r.Key, err)
		}
	}
	seedSynced(t, st, rc, loadRecords(t, "../samples/customers.csv", mapping.Customers))
	for _, r := range contacts {
		if _, err := rc.UpsertContactAssignment(ctx, r.RemoteID, r.Payload()); err != nil {
			t.Fatalf("contact %s: %v", r.Key, err)
		}
	}
	out := filepath.Join(p.dir, "cm.xlsx")
	rep, err := Export(ctx, st, rc, ExportOptions{Entities: []string{"contacts", "companies", "locations"}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if names := []string{rep.Tables[0].Name, rep.Tables[1].Name, rep.Tables[2].Name}; strings.Join(names, ",") != "locations,companies,contacts" {
		t.Fatalf("tables %v", names)
	}
	// The platform propagated every assignment to a subsidiary up to its parents (UPWARD, the default), so the
	// export has those too: 0000200003, 0000200004 and 0000200006 at C1000, 0000200005 at C1100 and C1000,
	// 0000200011 at C3000 (0000200010 is in the file at C3000 already).
	propagated := []string{"C1000/0000200003", "C1000/0000200004", "C1000/0000200006", "C1100/0000200005", "C1000/0000200005", "C3000/0000200011"}
	for _, c := range []struct {
		e     mapping.Entity
		want  []mapping.Record
		extra []string
	}{{mapping.Locations, locs, nil}, {mapping.Companies, comps, nil}, {mapping.Contacts, contacts, propagated}} {
		got := hashesByKey(loadRecords(t, out, c.e))
		if len(got) != len(c.want)+len(c.extra) {
			t.Errorf("%s: %d exported, want %d", c.e, len(got), len(c.want)+len(c.extra))
		}
		for _, k := range c.extra {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: the propagated %s is not exported", c.e, k)
			}
		}
		for k, h := range hashesByKey(c.want) {
			if got[k] != h {
				t.Errorf("%s %s: exported row does not re-map to the original record", c.e, k)
			}
		}
	}
}

// TestExportReadsThroughAServerThatCapsThePageSize puts a proxy in front of the sandbox that answers at most 7
// customers per page whatever was asked: the export must notice and still read every customer.
func TestExportReadsThroughAServerThatCapsThePageSize(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	seedCustomers(t, p.client("capped"), 45)
	capped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if n, err := strconv.Atoi(q.Get("pageSize")); err == nil && n > 7 {
			q.Set("pageSize", "7")
			r.URL.RawQuery = q.Encode()
		}
		p.srv.ServeHTTP(w, r)
	}))
	defer capped.Close()
	rc, err := remote.New(remote.Config{BaseURL: capped.URL, Tenant: "capped", ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(p.dir, "capped.csv")
	rep, err := Export(context.Background(), nil, rc, ExportOptions{Entities: []string{"customers"}, Out: out, PageSize: 20, PageWorkers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(hashesByKey(loadRecords(t, out, mapping.Customers))); got != 45 || rep.Rows("customers") != 45 {
		t.Fatalf("exported %d customers (report %d), want 45", got, rep.Rows("customers"))
	}
}

// TestExportKeyIndexJoinsIDsAsTheCheckpointAndMappingsSay: the key index holds only ids that are not their
// own key, and still gives every id the key it had when it held them all: the SD mapping's number first,
// else the checkpoint's key, else the id itself; a mapping naming the customer's own number overrules a
// checkpoint that says otherwise.
func TestExportKeyIndexJoinsIDsAsTheCheckpointAndMappingsSay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := func(name string) *state.Store {
		st, err := state.Open(ctx, filepath.Join(t.TempDir(), name+".db"), state.Binding{APIURL: "http://127.0.0.1:1", Tenant: "keys"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	synced := func(st *state.Store, keyAndID ...string) {
		var outcomes []state.Outcome
		for i := 0; i < len(keyAndID); i += 2 {
			outcomes = append(outcomes, state.Outcome{Kind: string(mapping.Customers), ERPKey: keyAndID[i], Action: state.ActionCreate,
				RemoteID: keyAndID[i+1], RowHash: uint64(i + 1), Snapshot: []byte(`{}`)})
		}
		if err := st.Commit(ctx, outcomes); err != nil {
			t.Fatal(err)
		}
	}
	mapped := func(st *state.Store, numberAndSD ...string) {
		var ms []state.SDMapping
		for i := 0; i < len(numberAndSD); i += 2 {
			ms = append(ms, state.SDMapping{CustomerNumber: numberAndSD[i], SDCustomerNumber: numberAndSD[i+1]})
		}
		if err := st.PutMappings(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	check := func(st *state.Store, held int, want map[string]string) {
		t.Helper()
		k, err := loadKeyIndex(ctx, st, []string{string(mapping.Customers)})
		if err != nil {
			t.Fatal(err)
		}
		for id, key := range want {
			if got := k.customer(id); got != key {
				t.Errorf("customer %s: key %q, want %q", id, got, key)
			}
		}
		if len(k.customers) != held {
			t.Errorf("the index holds %d customers: %v; only ids that are not their key belong there", len(k.customers), k.customers)
		}
	}

	renamed := open("renamed")
	synced(renamed, "K1", "shop-1", "K2", "shop-2", "K3", "K3", "K5", "shop-5")
	mapped(renamed, "shop-2", "shop-2", "K3", "SD-3", "web-4", "SD-4", "shop-5", "SD-5", "K6", "K6")
	check(renamed, 4, map[string]string{"shop-1": "K1", "shop-2": "shop-2", "K3": "SD-3", "web-4": "SD-4", "shop-5": "SD-5",
		"K6": "K6", "nobody": "nobody"})

	// Every id its own key in the checkpoint: only the mappings that rename are read.
	plain := open("plain")
	synced(plain, "K1", "K1", "K2", "K2")
	mapped(plain, "K1", "K1", "K2", "SD-2")
	check(plain, 1, map[string]string{"K1": "K1", "K2": "SD-2", "K9": "K9"})
}
