package sync

import (
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// stateFingerprint hashes the state file and its WAL, to prove a command wrote nothing.
func stateFingerprint(t *testing.T, path string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		h.Write(data)
		fmt.Fprintf(h, "|%d|", len(data))
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func readReport(t *testing.T, path string) map[string][]string {
	t.Helper()
	tables, err := formats.Open(path, formats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer formats.CloseAll(tables)
	if got := strings.Join(tables[0].Header(), ","); got != strings.Join(CheckColumns, ",") {
		t.Fatalf("report header %s", got)
	}
	out := map[string][]string{}
	for {
		row, err := tables[0].Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out[row.Cells[0]+" "+row.Cells[1]+" "+row.Cells[2]] = append([]string(nil), row.Cells...)
	}
	return out
}

// driftedPlatform synchronises the sample customers and addresses, then changes the platform behind
// custsync's back (a field edited, a customer deleted, a customer added) and the customers file (one row
// edited, one invalid). It returns the platform, its client and state, and the edited customers file.
func driftedPlatform(t *testing.T) (*reconPlatform, *remote.Client, *state.Store, string) {
	t.Helper()
	p := newReconPlatform(t)
	ctx := context.Background()
	rc, st := p.client("drift"), p.state("drift")
	seedSynced(t, st, rc, loadRecords(t, "../samples/customers.csv", mapping.Customers))
	seedSynced(t, st, rc, loadRecords(t, "../samples/addresses.csv", mapping.Addresses))

	// Drift on the platform.
	if err := rc.PatchCustomer(ctx, "0000200002", remote.Doc{"firstName": "Kathrin"}); err != nil {
		t.Fatal(err)
	}
	if err := rc.PatchAddress(ctx, "0000200001", "0000200001-A1", remote.Doc{"city": "Munich"}); err != nil {
		t.Fatal(err)
	}
	if err := rc.DeleteCustomer(ctx, "0000200003"); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.UpsertCustomer(ctx, "shop-1", remote.Doc{"firstName": "Only", "lastName": "Platform", "contactEmail": "only@example.com"}); err != nil {
		t.Fatal(err)
	}
	// Changes in the file: one row edited, one row invalid.
	raw, err := os.ReadFile("../samples/customers.csv")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(raw), "0000200004,,MRS,Sabine,", "0000200004,,MRS,Sabina,", 1)
	text = strings.Replace(text, "julia.fischer@alpenwerk.example", "not-an-email", 1)
	if text == string(raw) {
		t.Fatal("sample edit did not apply")
	}
	file := filepath.Join(p.dir, "customers.csv")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, rc, st, file
}

// TestCheckFindsDriftAndChangesNothing runs check on driftedPlatform: check reports each case and writes
// nothing, neither to the platform nor to the state file.
func TestCheckFindsDriftAndChangesNothing(t *testing.T) {
	t.Parallel()
	p, rc, st, file := driftedPlatform(t)
	ctx := context.Background()
	before := stateFingerprint(t, st.Path())
	p.srv.ResetRequests()
	report := filepath.Join(p.dir, "check.csv")
	rep, err := Check(ctx, st, rc, CheckOptions{Files: []string{file, "../samples/addresses.csv"}, Report: report})
	if err != nil {
		t.Fatal(err)
	}
	if w := p.writeRequests(); len(w) != 0 {
		t.Fatalf("check sent writes: %v", w)
	}
	if after := stateFingerprint(t, st.Path()); after != before {
		t.Fatal("check changed the state file")
	}

	cust := rep.Entities[mapping.Customers]
	if cust[CheckDiffers] != 2 || cust[CheckOnlyInFile] != 1 || cust[CheckOnlyOnPlatform] != 1 || cust[CheckError] != 1 || cust[CheckSame] != 26 {
		t.Errorf("customer verdicts %v", cust)
	}
	addr := rep.Entities[mapping.Addresses]
	// Customer 0000200003 is gone with its two addresses.
	if addr[CheckDiffers] != 1 || addr[CheckOnlyInFile] != 2 || addr[CheckSame] != 31 {
		t.Errorf("address verdicts %v", addr)
	}

	rows := readReport(t, report)
	drift := rows["customers 0000200002 0000200002"]
	if drift == nil || drift[3] != "differs" || drift[4] != `firstName: "Kathrin" -> "Katrin"` || !strings.Contains(drift[5], "changed on the platform") {
		t.Errorf("platform drift row: %q", drift)
	}
	edited := rows["customers 0000200004 0000200004"]
	if edited == nil || edited[3] != "differs" || edited[4] != `firstName: "Sabine" -> "Sabina"` || !strings.Contains(edited[5], "file changed since the last import") {
		t.Errorf("edited row: %q", edited)
	}
	gone := rows["addresses 0000200003/A1 0000200003/0000200003-A1"]
	if gone == nil || gone[3] != "only-in-file" || !strings.Contains(gone[5], "in the checkpoint but not on the platform") {
		t.Errorf("deleted customer's address: %q", gone)
	}
	city := rows["addresses 0000200001/A1 0000200001/0000200001-A1"]
	if city == nil || city[3] != "differs" || !strings.Contains(city[4], `city: "Munich" -> "München"`) {
		t.Errorf("address drift: %q", city)
	}
	if extra := rows["customers  shop-1"]; extra == nil || extra[3] != "only-on-platform" || extra[5] != "not written by custsync" {
		t.Errorf("platform-only customer: %q", extra)
	}
	if gone := rows["customers 0000200003 0000200003"]; gone == nil || gone[3] != "only-in-file" {
		t.Errorf("customer deleted on the platform: %q", gone)
	}
	if bad := rows["customers 0000200006 0000200006"]; bad == nil || bad[3] != "error" || !strings.Contains(bad[5], "contactEmail") {
		t.Errorf("invalid row: %q", bad)
	}

	// The same check as a workbook for the ERP team.
	book := filepath.Join(p.dir, "check.xlsx")
	if _, err := Check(ctx, st, rc, CheckOptions{Files: []string{file, "../samples/addresses.csv"}, Report: book}); err != nil {
		t.Fatal(err)
	}
	assertCheckWorkbook(t, book)
}

// assertCheckWorkbook opens the XLSX report of TestCheckFindsDriftAndChangesNothing with excelize: a summary
// sheet with the counts and a bar chart of them, then a sheet per entity with a frozen, filtered header,
// a colour per verdict and the differing fields in columns of their own.
func assertCheckWorkbook(t *testing.T, path string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{CheckSummarySheet, "customers", "addresses"}) {
		t.Fatalf("sheets %v", got)
	}
	summary, _ := f.GetRows(CheckSummarySheet)
	want := [][]string{
		{"entity", "same", "differs", "only-in-file", "only-on-platform", "error", "total"},
		{"customers", "26", "2", "1", "1", "1", "31"},
		{"addresses", "31", "1", "2", "0", "0", "34"},
		{"total", "57", "3", "3", "1", "1", "65"},
	}
	if fmt.Sprint(summary) != fmt.Sprint(want) {
		t.Errorf("summary %q, want %q", summary, want)
	}
	chart, ok := f.Pkg.Load("xl/charts/chart1.xml")
	if !ok {
		t.Fatal("the summary has no chart")
	}
	var bars struct {
		Dir struct {
			Val string `xml:"val,attr"`
		} `xml:"chart>plotArea>barChart>barDir"`
		Series []struct {
			Name  string `xml:"tx>strRef>f"`
			Value string `xml:"val>numRef>f"`
			Color struct {
				Val string `xml:"val,attr"`
			} `xml:"spPr>solidFill>srgbClr"`
		} `xml:"chart>plotArea>barChart>ser"`
	}
	if err := xml.Unmarshal(chart.([]byte), &bars); err != nil {
		t.Fatal(err)
	}
	// A check without propagated assignments has no series for them.
	shown := checkStatuses[:len(checkStatuses)-1]
	if bars.Dir.Val != "bar" || len(bars.Series) != len(shown) {
		t.Fatalf("chart series %+v", bars.Series)
	}
	for i, s := range shown {
		col := string(rune('B' + i))
		ser := bars.Series[i]
		if ser.Name != "'summary'!$"+col+"$1" || ser.Value != "'summary'!$"+col+"$2:$"+col+"$3" || ser.Color.Val != verdictColors[s][0] {
			t.Errorf("series %s: %+v", s, ser)
		}
	}
	filters := map[string]bool{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" {
			filters[dn.Scope] = true
		}
	}
	for _, sheet := range []string{"customers", "addresses"} {
		if panes, _ := f.GetPanes(sheet); !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: header not frozen: %+v", sheet, panes)
		}
		if !filters[sheet] {
			t.Errorf("%s: no autofilter", sheet)
		}
	}
	rowsOf := func(sheet string) (map[string]int, []string, [][]string) {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]int{}
		for i, r := range rows[1:] {
			byKey[r[0]+"|"+r[1]] = i + 2 // worksheet row
		}
		return byKey, rows[0], rows
	}
	fill := func(sheet string, row, col int) string {
		cell, _ := excelize.CoordinatesToCellName(col, row)
		id, _ := f.GetCellStyle(sheet, cell)
		st, _ := f.GetStyle(id)
		if st == nil || len(st.Fill.Color) == 0 {
			return ""
		}
		return st.Fill.Color[0]
	}
	byKey, header, rows := rowsOf("customers")
	if !slices.Equal(header[:4], checkEntityColumns) {
		t.Fatalf("customers header %q", header)
	}
	pc, fc := slices.Index(header, "firstName (platform)"), slices.Index(header, "firstName (file)")
	if pc < 0 || fc != pc+1 {
		t.Fatalf("no firstName columns in %q", header)
	}
	r := byKey["0000200002|0000200002"]
	if got := rows[r-1]; got[2] != "differs" || got[pc] != "Kathrin" || got[fc] != "Katrin" {
		t.Errorf("drift row %q", got)
	}
	for status, key := range map[CheckStatus]string{CheckDiffers: "0000200002|0000200002", CheckSame: "0000200001|0000200001",
		CheckOnlyOnPlatform: "|shop-1", CheckError: "0000200006|0000200006", CheckOnlyInFile: "0000200003|0000200003"} {
		row := byKey[key]
		if row == 0 {
			t.Errorf("no row %s", key)
			continue
		}
		if got := fill("customers", row, 1); got != verdictColors[status][1] || fill("customers", row, len(header)) != got {
			t.Errorf("%s row %s: fill %q, want %q across the row", status, key, got, verdictColors[status][1])
		}
	}
	byKey, header, rows = rowsOf("addresses")
	pc = slices.Index(header, "city (platform)")
	if r := byKey["0000200001/A1|0000200001/0000200001-A1"]; pc < 0 || rows[r-1][pc] != "Munich" || rows[r-1][pc+1] != "München" {
		t.Errorf("address drift: header %q row %q", header, rows[r-1])
	}
}

func TestCheckWrongHeaderIsInputError(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	file := filepath.Join(p.dir, "customers.csv")
	if err := os.WriteFile(file, []byte("sdCustomerNumber,frstName\n1,A\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Check(context.Background(), p.state("hdr"), p.client("hdr"), CheckOptions{Files: []string{file}})
	if !errors.Is(err, ErrInput) || !errors.Is(err, mapping.ErrHeader) {
		t.Fatalf("error %v, want ErrInput wrapping mapping.ErrHeader", err)
	}
}

// TestCheckResolvesIDsAsImportDoes: a customer adopted from the platform (shop-7, by `mappings pull`) whose
// ERP row names another customerNumber. Import writes to the adopted customer, so check must compare that
// one (the planner's resolution, ids.go), not report the row's customerNumber as missing from the platform.
func TestCheckResolvesIDsAsImportDoes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.rc.UpsertCustomer(ctx, "shop-7", remote.Doc{"firstName": "Ada", "lastName": "Lovelace", "contactEmail": "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutMappings(ctx, []state.SDMapping{{CustomerNumber: "shop-7", SDCustomerNumber: "0000300001"}}); err != nil {
		t.Fatal(err)
	}
	file := e.file("customers.csv", "sdCustomerNumber,customerNumber,firstName,lastName,contactEmail\n0000300001,other-1,Ada,Lovelace,ada@example.com\n")
	rep, err := Check(ctx, e.st, e.rc, CheckOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Entities[mapping.Customers]; got[CheckSame] != 1 || len(rep.Problems) != 0 {
		t.Fatalf("customer verdicts %v, problems %+v; want the adopted customer the same", got, rep.Problems)
	}
	if r, err := e.run(ctx, Options{}, file); err != nil {
		t.Fatal(err, r.Failures)
	}
	if _, err := e.rc.GetCustomer(ctx, "other-1"); !remote.IsNotFound(err) {
		t.Fatalf("import wrote elsewhere than the adopted customer: GET other-1: %v", err)
	}
}

// TestCheckReportsKeysWithoutTheirZerosAsImportDoes: a spreadsheet that stored 0008000002 as the number
// 8000002 makes import reject the row (twinKeyErrors) instead of creating a second customer. check must say
// the same of the row, an error with import's reason, not "only in the file"; and the synced record the row
// really is must not come out as "only on the platform". The same holds for a key a row references.
func TestCheckReportsKeysWithoutTheirZerosAsImportDoes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName\n0008000002,Ann,Lee\n0008000003,Bob,Ray\n")
	addresses := e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,city,country\n0008000003,A1,Bob Ray,Bonn,DE\n")
	if r, err := e.run(ctx, Options{}, customers, addresses); err != nil {
		t.Fatal(err, r.Failures)
	}
	mangled := e.file("mangled-customers.csv", "sdCustomerNumber,firstName,lastName\n8000002,Ann,Lee\n0008000003,Bob,Ray\n8000004,Cy,Doe\n")
	mangledAddr := e.file("mangled-addresses.csv", "sdCustomerNumber,addressKey,contactName,city,country\n8000003,A1,Bob Ray,Bonn,DE\n")
	report := filepath.Join(e.dir, "check.csv")
	rep, err := Check(ctx, e.st, e.rc, CheckOptions{Files: []string{mangled, mangledAddr}, Report: report})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]CheckResult{}
	for _, p := range rep.Problems {
		byKey[string(p.Entity)+" "+p.Key] = p
	}
	ownKey := byKey["customers 8000002"]
	if ownKey.Status != CheckError || !strings.Contains(ownKey.Detail, `customers key "8000002" is the synced key "0008000002" without its leading zeros`) ||
		!strings.Contains(ownKey.Detail, "pad: 10") || ownKey.RemoteID != "0008000002" {
		t.Errorf("customer 8000002: %+v, want an error naming the synced key 0008000002", ownKey)
	}
	refKey := byKey["addresses "+mapping.JoinKey("8000003", "A1")]
	if refKey.Status != CheckError || !strings.Contains(refKey.Detail, `customers key "8000003" is the synced key "0008000003" without its leading zeros`) {
		t.Errorf("address of 8000003: %+v, want an error naming the synced customer 0008000003", refKey)
	}
	if got := byKey["customers 8000004"]; got.Status != CheckOnlyInFile {
		t.Errorf("customer 8000004, a key with no synced twin: %+v, want only-in-file", got)
	}
	if got := rep.Entities[mapping.Customers]; got[CheckError] != 1 || got[CheckSame] != 1 || got[CheckOnlyInFile] != 1 || got[CheckOnlyOnPlatform] != 0 {
		t.Errorf("customer verdicts %v, want 1 error, 1 same, 1 only-in-file and 0008000002 not only on the platform", got)
	}
	// As in the planner, only a row's own key claims its synced twin: the address the damaged row would
	// have named is in no valid row, which is what import sees too (it holds that entity's deletes).
	if got := rep.Entities[mapping.Addresses]; got[CheckError] != 1 {
		t.Errorf("address verdicts %v, want 1 error", got)
	}
	// Import makes the same verdict of the same rows: both rejected, the new key created, nothing else sent.
	e.srv.ResetRequests()
	r, err := e.run(ctx, Options{}, mangled, mangledAddr)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("import of the mangled files: %v, want a partial run", err)
	}
	if r.Failed != 2 || r.Created != 1 {
		t.Errorf("import: %+v, want 2 failed and 1 created", r.Counts)
	}
}

// TestCheckLabelsEachDifferingFieldByWhoChangedIt: of a row whose file changed one field while someone changed
// another on the platform, check labels each field by who changed it and says what an import does with the
// platform's edit, and the import then does that: a customer is sent only the field the file changed, and a
// company gets only that field applied to it as read, so the platform's last name and registration id stay
// (and check says so again).
func TestCheckLabelsEachDifferingFieldByWhoChangedIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n0000000001,Anna,Berg,anna@x.example\n")
	companies := e.file("companies.csv", "companyKey,name,type,legalInfo.registrationId\nC1,Alpenwerk,COMPANY,HRB 1\n")
	if _, err := e.run(ctx, Options{}, companies, customers); err != nil {
		t.Fatal(err)
	}
	if err := e.rc.PatchCustomer(ctx, "0000000001", remote.Doc{"lastName": "Berg-PLATFORM"}); err != nil {
		t.Fatal(err)
	}
	synced, err := e.st.LoadEntities(ctx, string(mapping.Companies))
	if err != nil {
		t.Fatal(err)
	}
	companyID := synced["C1"].RemoteID
	company, err := e.rc.GetLegalEntity(ctx, companyID)
	if err != nil {
		t.Fatal(err)
	}
	company["legalInfo"] = map[string]any{"registrationId": "HRB 999"}
	if _, err := e.rc.UpsertLegalEntity(ctx, companyID, requestShape(company)); err != nil {
		t.Fatal(err)
	}
	e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n0000000001,Anne,Berg,anna@x.example\n")
	e.file("companies.csv", "companyKey,name,type,legalInfo.registrationId\nC1,Alpenwerk AG,COMPANY,HRB 1\n")
	details := func() map[mapping.Entity]string {
		t.Helper()
		rep, err := Check(ctx, e.st, e.rc, CheckOptions{Files: []string{companies, customers}})
		if err != nil {
			t.Fatal(err)
		}
		out := map[mapping.Entity]string{}
		for _, p := range rep.Problems {
			out[p.Entity] = p.Detail
		}
		return out
	}
	got := details()
	if want := "file changed since the last import: firstName; changed on the platform since the last import: lastName, " +
		"which import leaves and import --verify or check --fix repairs"; got[mapping.Customers] != want {
		t.Errorf("customer detail\n got %q\nwant %q", got[mapping.Customers], want)
	}
	if want := "file changed since the last import: name; changed on the platform since the last import: legalInfo.registrationId, " +
		"which import leaves and import --verify or check --fix repairs"; got[mapping.Companies] != want {
		t.Errorf("company detail\n got %q\nwant %q", got[mapping.Companies], want)
	}

	if _, err := e.run(ctx, Options{}, companies, customers); err != nil {
		t.Fatal(err)
	}
	anna, err := e.rc.GetCustomer(ctx, "0000000001")
	if err != nil {
		t.Fatal(err)
	}
	if anna["firstName"] != "Anne" || anna["lastName"] != "Berg-PLATFORM" {
		t.Errorf("customer after the import: firstName %v, lastName %v; want Anne, Berg-PLATFORM", anna["firstName"], anna["lastName"])
	}
	got = details()
	if want := platformChangedDetail + ", which import leaves and import --verify or check --fix repairs"; got[mapping.Customers] != want {
		t.Errorf("customer detail after the import\n got %q\nwant %q", got[mapping.Customers], want)
	}
	if want := platformChangedDetail + ", which import leaves and import --verify or check --fix repairs"; got[mapping.Companies] != want {
		t.Errorf("company detail after the import\n got %q\nwant %q", got[mapping.Companies], want)
	}
}

// TestKeysWithLeadingZerosAddedAreTheSyncedKey: the file synced first came from a spreadsheet that stored
// KUNNR as a number (8000002); a later file keeps the column as text (0008000002). The padded key is the synced
// customer, not a new one: check reports the row (and a row referencing such a key) as an error naming the
// synced key, not the synced customer as only on the platform; import rejects them with the same reason, and
// --mode full deletes nothing. A new key of the checkpoint's width with its zeros is created as usual.
func TestKeysWithLeadingZerosAddedAreTheSyncedKey(t *testing.T) {
	t.Parallel()
	zerosAdded := func(key, synced string) string {
		return fmt.Sprintf("customers key %q is the synced key %q with leading zeros added, not a new one: the earlier file stored it as a number; "+
			"custsync does not move a record to another key, so the synced record keeps the key %q", key, synced, synced)
	}
	verdicts, after := checkSyncedTwinsRejected(t, syncedTwinCase{
		synced:          "8000002,Ann,Lee\n8000003,Bob,Ray\n0000000004,Cy,Doe\n",
		syncedAddresses: "8000003,A1,Bob Ray,Bonn,DE\n",
		later:           "0008000002,Ann,Lee\n8000003,Bob,Ray\n0000000004,Cy,Doe\n0000000005,Dan,Poe\n",
		laterAddresses:  "0008000003,A1,Bob Ray,Bonn,DE\n",
		want: map[string]string{
			"customers 0008000002":                             zerosAdded("0008000002", "8000002"),
			"addresses " + mapping.JoinKey("0008000003", "A1"): zerosAdded("0008000003", "8000003"),
		},
		twins: 1, same: 2,
	})
	if got := verdicts["customers 0008000002"].RemoteID; got != "8000002" {
		t.Errorf("check of 0008000002 names platform id %q, want the synced customer 8000002", got)
	}
	if _, ok := after["0008000002"]; ok {
		t.Errorf("platform customers hold 0008000002, want only the synced 8000002")
	}
}

// syncedTwinCase is a checkpoint synced from customer and address rows, and a later input whose new keys are
// synced keys spelled otherwise, besides one new customer.
type syncedTwinCase struct {
	synced, syncedAddresses, later, laterAddresses string // CSV rows, under the default header
	// want: the reason each "entity key" of the later input fails with.
	want map[string]string
	// twins and same: the customer rows of the later input check calls an error, and the same.
	twins, same int
}

// checkSyncedTwinsRejected syncs c.synced, then checks c.later (the twins are errors with want's reasons, the
// one other new customer only in the file, and no synced customer only on the platform) and imports it in
// --mode full (the twins fail, the new customer is created, no synced customer is deleted and only the synced
// address no valid row carries is held). It returns check's problems by "entity key" and the platform's
// customers after the import.
func checkSyncedTwinsRejected(t *testing.T, c syncedTwinCase) (map[string]CheckResult, map[string]remote.Doc) {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	const (
		header        = "sdCustomerNumber,firstName,lastName\n"
		addressHeader = "sdCustomerNumber,addressKey,contactName,city,country\n"
	)
	customers := e.file("customers.csv", header+c.synced)
	addresses := e.file("addresses.csv", addressHeader+c.syncedAddresses)
	if r, err := e.run(ctx, Options{}, customers, addresses); err != nil {
		t.Fatal(err, r.Failures)
	}
	before := e.platformCustomers()

	later := e.file("later-customers.csv", header+c.later)
	laterAddr := e.file("later-addresses.csv", addressHeader+c.laterAddresses)
	rep, verdicts := wantCheckErrors(ctx, t, e, []string{later, laterAddr}, c.want)
	if got := rep.Entities[mapping.Customers]; got[CheckError] != c.twins || got[CheckSame] != c.same || got[CheckOnlyInFile] != 1 || got[CheckOnlyOnPlatform] != 0 {
		t.Errorf("customer verdicts %v, want %d errors, %d same, 1 only-in-file and no synced customer only on the platform", got, c.twins, c.same)
	}

	r, err := e.run(ctx, Options{Mode: ModeFull, MaxDelete: DeleteLimit{Percent: 100, IsPct: true}}, later, laterAddr)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("full import of the later file: %v, want a partial run", err)
	}
	wantFailures(t, r, c.want)
	// The synced customers the failed rows are count as present: the only delete the run holds for its
	// failures is the synced address, which no valid row carries.
	if r.Failed != len(c.want) || r.Created != 1 || r.Deleted != 0 || r.DeletesHeld != 1 {
		t.Errorf("import: %+v, want %d failed, 1 created, nothing deleted and 1 delete held (the address)", r.Counts, len(c.want))
	}
	after := wantKept(t, e, before)
	if len(after) != len(before)+1 {
		t.Errorf("platform customers %d, want %d: the synced ones and the new one", len(after), len(before)+1)
	}
	return verdicts, after
}

// TestKeysAnOlderVersionReadWithAPointZeroAreTheSyncedKey: custsync before 2026-12-03 read an XLSX number in
// the General format stored as 2004.0 as the key "2004.0"; it reads "2004" since. The checkpoint of such a
// run (seeded here by a CSV whose key cell is literally 2004.0, as the old reading was) holds "2004.0", so the
// unchanged file's "2004" is the synced customer, not a new one: check and import reject the row (and a row
// referencing the key) naming the synced key, and --mode full deletes nothing.
func TestKeysAnOlderVersionReadWithAPointZeroAreTheSyncedKey(t *testing.T) {
	t.Parallel()
	pointZero := func(key, synced string) string {
		return fmt.Sprintf("customers key %q is the synced key %q: custsync built before 2026-12-03 read the spreadsheet's number %s as %s; "+
			"custsync does not move a record to another key, so the synced record keeps its key %q and syncs while the file gives it so "+
			"(a text cell, or a CSV); to re-key it, delete %q (a DELETE row) and import %q in a later run", key, synced, key, synced, synced, synced, key)
	}
	checkSyncedTwinsRejected(t, syncedTwinCase{
		synced:          "2004.0,Ann,Lee\n2005.00,Bob,Ray\n2006,Cy,Doe\n",
		syncedAddresses: "2005.00,A1,Bob Ray,Bonn,DE\n",
		later:           "2004,Ann,Lee\n2005,Bob,Ray\n2006,Cy,Doe\n2007,Dan,Poe\n",
		laterAddresses:  "2005,A1,Bob Ray,Bonn,DE\n",
		want: map[string]string{
			"customers 2004": pointZero("2004", "2004.0"),
			"customers 2005": pointZero("2005", "2005.00"),
			"addresses " + mapping.JoinKey("2005", "A1"): pointZero("2005", "2005.00"),
		},
		twins: 2, same: 1,
	})
}

// TestDecimalTwinLooksNothingUpWithoutPointKeys: a new all-digit key looks up its point-zero spellings only
// when the checkpoint holds keys like 2004.0, learnt in the one walk that reads the digit keys' lengths.
func TestDecimalTwinLooksNothingUpWithoutPointKeys(t *testing.T) {
	c := &countedCheckpoint{keys: map[string]bool{"0000000001": true, "1.5": true, "A.0": true}}
	pointZeros := func() lengthSet { return c.lens.zerosAfterPoint(c.walk) }
	for _, key := range []string{"2004", "1", "A"} {
		if twin, ok := decimalTwin(key, pointZeros, c.has); ok {
			t.Errorf("%s: twin %s in a checkpoint without point-zero keys", key, twin)
		}
	}
	if len(c.lookups) != 0 || c.walks != 1 {
		t.Errorf("lookups %q and %d walks of the checkpoint, want none and 1", c.lookups, c.walks)
	}
	c.keys["2004.00"] = true
	c.lens = digitKeyLengths{}
	if twin, ok := decimalTwin("2004", pointZeros, c.has); !ok || twin != "2004.00" || !slices.Equal(c.lookups, []string{"2004.00"}) {
		t.Errorf("2004: twin %q (%v) after lookups %q, want 2004.00 after looking up only that form", twin, ok, c.lookups)
	}
}

// countedCheckpoint is a checkpoint's keys that counts the keys looked up and the walks of them, with the
// digitKeyLengths read from them.
type countedCheckpoint struct {
	keys    map[string]bool
	lookups []string
	walks   int
	lens    digitKeyLengths
}

// has looks key up, counting it.
func (c *countedCheckpoint) has(key string) bool {
	c.lookups = append(c.lookups, key)
	return c.keys[key]
}

// walk yields the keys, counting the walk.
func (c *countedCheckpoint) walk(yield func([]byte) bool) {
	c.walks++
	for key := range c.keys {
		if !yield([]byte(key)) {
			return
		}
	}
}

// TestStrippedTwinLooksUpOnlyWidthsTheCheckpointHolds: a first import of an ERP's fixed-width numbers
// (0000000001 ...) into a checkpoint of that width must not look every new key up without its zeros; only the
// widths of all-digit keys the checkpoint holds are looked up, and the checkpoint's keys are walked once.
func TestStrippedTwinLooksUpOnlyWidthsTheCheckpointHolds(t *testing.T) {
	c := &countedCheckpoint{keys: map[string]bool{"0000000001": true, "0000000002": true, "ABC": true}}
	digitLens := func() lengthSet { return c.lens.get(c.walk) }
	for _, key := range []string{"0000000003", "0000000004", "0000000123", "00123"} {
		if twin, ok := strippedTwin(key, digitLens, c.has); ok {
			t.Errorf("%s: twin %s in a checkpoint of 10-digit keys", key, twin)
		}
	}
	if len(c.lookups) != 0 || c.walks != 1 {
		t.Errorf("new keys of the checkpoint's width: lookups %q and %d walks of the checkpoint, want none and 1", c.lookups, c.walks)
	}
	c.keys["8000002"] = true
	c.lens = digitKeyLengths{}
	if twin, ok := strippedTwin("0008000002", digitLens, c.has); !ok || twin != "8000002" || !slices.Equal(c.lookups, []string{"8000002"}) {
		t.Errorf("0008000002: twin %q (%v) after lookups %q, want 8000002 after looking up only the 7-digit form", twin, ok, c.lookups)
	}
}

// TestKeysEncodedOtherwiseAreNotNewRecords: a file re-saved on another system may spell the accented letters
// of a key otherwise, "ü" as one code point (NFC) or as "u" and a combining diaeresis (NFD). Such a key is the
// synced key, not a new one: import rejects the row saying so (either way round, and for a key a row
// references) instead of creating a second customer, --mode full does not delete the synced one, two
// spellings within one file are rejected (the later), and check gives each row the verdict import does.
func TestKeysEncodedOtherwiseAreNotNewRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const (
		mullerNFC = "M\u00fcller01"
		mullerNFD = "Mu\u0308ller01"
		jurgenNFC = "J\u00fcrgen02"
		jurgenNFD = "Ju\u0308rgen02"
		joseNFC   = "Jos\u00e903"
		joseNFD   = "Jose\u030103"
	)
	header := "sdCustomerNumber,firstName,lastName\n"
	// Müller was synced in NFC, Jürgen in NFD: the twin is found by its NFC form (a lookup) and by a walk of
	// the checkpoint's keys that are not ASCII (the NFD key's NFC form is not itself).
	customers := e.file("customers.csv", header+mullerNFC+",Ann,Lee\n"+jurgenNFD+",Bob,Ray\n0000000004,Cy,Doe\n")
	if r, err := e.run(ctx, Options{}, customers); err != nil {
		t.Fatal(err, r.Failures)
	}
	before := e.platformCustomers()
	e.srv.ResetRequests()

	resaved := e.file("resaved-customers.csv", header+mullerNFD+",Ann,Lee\n"+jurgenNFC+",Bob,Ray\n0000000004,Cy,Doe\n"+
		joseNFC+",Dan,Poe\n"+joseNFD+",Dan,Poe\n")
	addresses := e.file("resaved-addresses.csv", "sdCustomerNumber,addressKey,contactName,city,country\n"+mullerNFD+",A1,Ann Lee,Bonn,DE\n")
	r, err := e.run(ctx, Options{Mode: ModeFull, MaxDelete: DeleteLimit{Percent: 100, IsPct: true}}, resaved, addresses)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("import of the re-saved files: %v, want a partial run", err)
	}
	want := map[string]string{
		"customers " + mullerNFD:                        `customers key "Mu\u0308ller01" differs from the synced key "Müller01" only in how its accented letters are encoded (Unicode NFD vs NFC); the file's encoding changed`,
		"customers " + jurgenNFC:                        `customers key "Jürgen02" differs from the synced key "Ju\u0308rgen02" only in how its accented letters are encoded (Unicode NFC vs NFD); the file's encoding changed`,
		"customers " + joseNFD:                          `customers key "Jose\u030103" differs from the key "José03" of the row at ` + resaved + `:5 only in how its accented letters are encoded (Unicode NFD vs NFC); the input mixes two encodings`,
		"addresses " + mapping.JoinKey(mullerNFD, "A1"): `customers key "Mu\u0308ller01" differs from the synced key "Müller01"`,
	}
	wantFailures(t, r, want)
	if r.Failed != len(want) || r.Created != 1 || r.Deleted != 0 {
		t.Errorf("import: %+v, want %d failed, 1 created (José, first spelling) and nothing deleted", r.Counts, len(want))
	}
	after := wantKept(t, e, before)
	if len(after) != len(before)+1 {
		t.Errorf("%d customers on the platform, want %d: the synced ones and José", len(after), len(before)+1)
	}

	// check, of a file whose synced keys come back encoded otherwise: errors with import's reasons (José's
	// first spelling is synced now), and the synced records the rows really are not only on the platform.
	want["customers "+joseNFD] = `customers key "Jose\u030103" differs from the synced key "José03" only in how its accented letters are encoded (Unicode NFD vs NFC)`
	rep, _ := wantCheckErrors(ctx, t, e, []string{resaved, addresses}, want)
	if got := rep.Entities[mapping.Customers]; got[CheckError] != 3 || got[CheckSame] != 2 || got[CheckOnlyOnPlatform] != 0 {
		t.Errorf("customer verdicts %v, want 3 errors, 2 same (customer 4 and José) and none only on the platform", got)
	}
	checkTwoSpellingsOfANewKey(ctx, t, e, header+"Zo\u00eb05,Eve,Fox\nZoe\u030805,Eve,Fox\n", func(path string) string {
		return `customers key "Zoe\u030805" differs from the key "Zoë05" of the row at ` + path + `:2`
	})
}

// wantFailures fails the test for each "entity key" of want whose failures in r do not give want's reason.
func wantFailures(t *testing.T, r *Report, want map[string]string) {
	t.Helper()
	reasons := map[string]string{}
	for _, f := range r.Failures {
		reasons[f.Entity+" "+f.Key] += f.Reason
	}
	for key, reason := range want {
		if !strings.Contains(reasons[key], reason) {
			t.Errorf("%s failed with %q, want %q", key, reasons[key], reason)
		}
	}
}

// wantCheckErrors checks files and fails the test for each "entity key" of want whose verdict is not an error
// giving want's reason; it returns the report and its problems by "entity key".
func wantCheckErrors(ctx context.Context, t *testing.T, e *env, files []string, want map[string]string) (CheckReport, map[string]CheckResult) {
	t.Helper()
	rep, err := Check(ctx, e.st, e.rc, CheckOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]CheckResult{}
	for _, p := range rep.Problems {
		verdicts[string(p.Entity)+" "+p.Key] = p
	}
	for key, reason := range want {
		if got := verdicts[key]; got.Status != CheckError || !strings.Contains(got.Detail, reason) {
			t.Errorf("check of %s: %+v, want an error saying %q", key, got, reason)
		}
	}
	return rep, verdicts
}

// wantKept fails the test for each customer of before that the platform no longer has, and returns the
// platform's customers.
func wantKept(t *testing.T, e *env, before map[string]remote.Doc) map[string]remote.Doc {
	t.Helper()
	after := e.platformCustomers()
	for id := range before {
		if _, ok := after[id]; !ok {
			t.Errorf("customer %s was deleted", id)
		}
	}
	return after
}

// checkTwoSpellingsOfANewKey checks a customer file of two spellings of one key the checkpoint lacks: the
// later row is an error whose detail holds want(the file's path), the earlier only in the file.
func checkTwoSpellingsOfANewKey(ctx context.Context, t *testing.T, e *env, content string, want func(path string) string) {
	t.Helper()
	mixed := e.file("mixed-customers.csv", content)
	rep, err := Check(ctx, e.st, e.rc, CheckOptions{Files: []string{mixed}})
	if err != nil {
		t.Fatal(err)
	}
	var details strings.Builder
	for _, p := range rep.Problems {
		if p.Status == CheckError {
			details.WriteString(p.Detail)
		}
	}
	if got := rep.Entities[mapping.Customers]; got[CheckError] != 1 || got[CheckOnlyInFile] != 1 || !strings.Contains(details.String(), want(mixed)) {
		t.Errorf("check of two spellings of a new key: verdicts %v, problems %+v; want the later an error", got, rep.Problems)
	}
}

// TestKeysWithOtherLeadingZerosInOneInputAreOneKey: a spreadsheet that stored some of a column's keys as
// numbers mixes 00123 and 123 in one file. Without a synced key to compare with, the two rows must not become
// two customers: the later row is rejected naming the earlier (either way round), a key that differs from a
// rejected one names the key that stayed, a row referencing such a key is rejected too, and check gives a
// file of new keys the same verdicts. Keys of one width look nothing up, so an ERP's fixed-width numbers cost
// the check nothing.
func TestKeysWithOtherLeadingZerosInOneInputAreOneKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	header := "sdCustomerNumber,firstName,lastName\n"
	customers := e.file("customers.csv", header+"00123,Ann,Lee\n123,Ann,Lee\n456,Bob,Ray\n00456,Bob,Ray\n0123,Ann,Lee\n789,Cy,Doe\n")
	addresses := e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,city,country\n"+
		"123,A1,Ann Lee,Bonn,DE\n0456,A2,Bob Ray,Kiel,DE\n789,A3,Cy Doe,Ulm,DE\n")
	r, err := e.run(ctx, Options{}, customers, addresses)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("import: %v, want a partial run", err)
	}
	twinOf := func(key, first string, line, pad int) string {
		return fmt.Sprintf("customers key %q differs from the key %q of the row at %s:%d only in its leading zeros: the spreadsheet stored one of them as a number; "+
			"format the column as text, or declare `pad: %d` for it in the mapping", key, first, customers, line, pad)
	}
	want := map[string]string{
		"customers 123":   twinOf("123", "00123", 2, 5),
		"customers 00456": twinOf("00456", "456", 4, 5),
		"customers 0123":  twinOf("0123", "00123", 2, 5),
		"addresses " + mapping.JoinKey("123", "A1"):  twinOf("123", "00123", 2, 5),
		"addresses " + mapping.JoinKey("0456", "A2"): twinOf("0456", "456", 4, 4),
	}
	wantFailures(t, r, want)
	if r.Failed != len(want) || r.Created != 4 {
		t.Errorf("import: %+v, want %d failed and 4 created (00123, 456, 789 and 789's address)", r.Counts, len(want))
	}
	if got := len(e.platformCustomers()); got != 3 {
		t.Errorf("%d customers on the platform, want 3", got)
	}

	// --mode full of a file that has 00123 only without its zeros does not delete it.
	again := e.file("again-customers.csv", header+"123,Ann,Lee\n456,Bob,Ray\n789,Cy,Doe\n")
	r, err = e.run(ctx, Options{Mode: ModeFull, MaxDelete: DeleteLimit{Percent: 100, IsPct: true}}, again)
	if !errors.Is(err, ErrPartial) || r.Failed != 1 || r.Deleted != 0 || r.Created != 0 {
		t.Fatalf("full import of the synced keys and one without its zeros: %v, %+v; want 1 failed, nothing created or deleted", err, r.Counts)
	}

	checkTwoSpellingsOfANewKey(ctx, t, e, header+"0999,Eve,Fox\n999,Eve,Fox\n", func(path string) string {
		return fmt.Sprintf(`customers key "999" differs from the key "0999" of the row at %s:2 only in its leading zeros`, path)
	})
}
