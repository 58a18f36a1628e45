package sync

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/remote"
	"custsync/state"
)

// doc decodes a JSON literal of the test data.
func doc(t *testing.T, s string) remote.Doc {
	t.Helper()
	var d remote.Doc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("test data %s: %v", s, err)
	}
	return d
}

// populateEveryField fills a tenant by direct API calls with records that use every writable field the
// specs define for customers, addresses, legal entities, locations and contact assignments: mixins (nested,
// typed, with schema URLs), arrays, a three-level company hierarchy, locations shared by two companies,
// approval groups naming assignments of the company and of its parent, non-platform customer groups. Ids
// follow custsync's default templates, so nothing differs between tenants but what the platform makes.
func populateEveryField(t *testing.T, rc *remote.Client) {
	t.Helper()
	ctx := context.Background()
	must := func(_ bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	customers := map[string]string{
		"C100": `{"title": "MR", "firstName": "Stefan", "middleName": "Maria", "lastName": "Huber", "contactEmail": "stefan@alpen.example",
			"contactPhone": "+49 89 1", "company": "Alpenwerk AG", "preferredLanguage": "de_DE", "preferredCurrency": "EUR",
			"preferredSite": "main", "type": "CUSTOMER", "photoUrl": "https://img.example/c100.png",
			"b2b": {"companyRegistrationId": "HRB 151234"}, "restriction": "DE", "active": true, "onHold": false,
			"metadata": {"mixins": {"loyalty": "https://schema.example/loyalty.json", "erp": "https://schema.example/erp.json"}},
			"mixins": {"loyalty": {"level": "gold", "points": 1250, "ratio": 0.25, "vip": true, "tags": ["early", "b,c"],
				"home": {"city": "Berlin", "since": "2019-04-01"}, "note": " padded ", "memo": "line1\r\nline2"}, "erp": {"creditRating": "A", "blocked": false}}}`,
		"C200": `{"title": "MRS", "firstName": "Katrin", "lastName": "Bauer", "contactEmail": "katrin@alpen.example",
			"preferredLanguage": "en_US", "preferredCurrency": "CHF", "preferredSite": "ch", "type": "CONTACT", "active": false, "onHold": true,
			"metadata": {"mixins": {"loyalty": "https://schema.example/loyalty.json"}}, "mixins": {"loyalty": {"level": "silver", "points": 10}}}`,
		"C300": `{"firstName": "Eva", "lastName": "Privat", "contactEmail": "eva@privat.example", "active": true}`,
	}
	for id, body := range customers {
		must(rc.UpsertCustomer(ctx, id, doc(t, body)))
	}
	addresses := []struct{ customer, id, body string }{
		{"C100", "C100-HOME", `{"contactName": "Stefan Huber", "companyName": "Alpenwerk AG", "street": "Leopoldstraße", "streetNumber": "144",
			"streetAppendix": "Hinterhaus", "extraLine1": "c/o Empfang", "extraLine2": "2. OG", "extraLine3": "Tor 3", "extraLine4": "Rampe B",
			"zipCode": "80804", "city": "München", "country": "DE", "state": "BY", "contactPhone": "+49 89 2", "isDefault": true,
			"tags": ["BILLING", "SHIPPING", "PRIMARY_CONTACT"], "metadata": {"mixins": {"delivery": "https://schema.example/delivery.json"}},
			"mixins": {"delivery": {"window": "8-12", "floor": 3, "lift": true}}}`},
		{"C100", "C100-WORK", `{"contactName": "Stefan Huber", "street": "Werkstraße\r\nHof 2", "zipCode": "86161", "city": "Augsburg", "country": "DE", "isDefault": false, "tags": ["SHIPPING"]}`},
		{"C200", "C200-MAIN", `{"contactName": "Katrin Bauer", "city": "Zürich", "country": "CH", "isDefault": true}`},
	}
	for _, a := range addresses {
		must(rc.UpsertAddress(ctx, a.customer, a.id, doc(t, a.body)))
	}
	locations := map[string]string{
		"L-HQ": `{"name": "Alpenwerk HQ", "type": "HEADQUARTER", "contactDetails": {"emails": ["info@alpen.example", "hq@alpen.example"],
			"phones": ["+49 89 0", "+49 89 9"], "addressLine1": "Leopoldstraße 144", "addressLine2": "Empfang", "city": "München", "state": "BY",
			"postcode": "80804", "countryCode": "DE", "tags": ["billing", "shipping"]},
			"metadata": {"mixins": {"site": "https://schema.example/site.json"}}, "mixins": {"site": {"dock": 4, "hazmat": false}}}`,
		"L-WH":     `{"name": "Lager", "type": "WAREHOUSE", "contactDetails": {"city": "Gersthofen", "countryCode": "DE"}}`,
		"L-OF":     `{"type": "OFFICE", "contactDetails": {"city": "Kempten", "countryCode": "DE", "tags": ["service"]}}`,
		"L-SHARED": `{"name": "Shared depot", "type": "WAREHOUSE", "contactDetails": {"emails": ["depot@alpen.example"], "countryCode": "AT"}}`,
	}
	for id, body := range locations {
		must(rc.UpsertLocation(ctx, id, doc(t, body)))
	}
	companies := []struct{ id, body, approvers string }{
		{"K1", `{"name": "Alpenwerk Holding", "type": "COMPANY", "legalInfo": {"legalName": "Alpenwerk Holding AG",
			"registrationDate": "2004-05-12T00:00:00.000Z", "taxRegistrationNumber": "DE811234567", "registrationAgency": "Amtsgericht München",
			"countryOfRegistration": "DE", "registrationId": "HRB 151234"}, "accountLimit": {"currency": "EUR", "value": 250000.5},
			"customerGroups": [{"id": "grp-vip"}, {"id": "grp-north"}], "entitiesAddresses": [{"id": "L-HQ"}, {"id": "L-SHARED"}],
			"restrictions": ["DE"], "metadata": {"mixins": {"erp": "https://schema.example/erp.json"}},
			"mixins": {"erp": {"segment": "A", "rank": 2, "regions": ["north", "south"]}}}`, `[{"id": "K1-C100"}]`},
		{"K2", `{"name": "Alpenwerk Maschinenbau", "type": "SUBSIDIARY", "parentId": "K1", "legalInfo": {"legalName": "Alpenwerk Maschinenbau GmbH",
			"registrationDate": "2009-11-02"}, "accountLimit": {"currency": "EUR", "value": 120000}, "entitiesAddresses": [{"id": "L-WH"}, {"id": "L-SHARED"}]}`,
			`[{"id": "K2-C200"}, {"id": "K1-C100"}]`},
		{"K3", `{"name": "Alpenwerk Service Süd", "type": "SUBSIDIARY", "parentId": "K2", "entitiesAddresses": [{"id": "L-OF"}]}`, ""},
	}
	for _, c := range companies {
		must(rc.UpsertLegalEntity(ctx, c.id, doc(t, c.body)))
	}
	// The platform propagates each new assignment to the parents (UPWARD): K2-C200 adds C200 to K1, K3-C100
	// adds C100 to K2 (K1 has it already), under ids the platform makes.
	contacts := []struct{ id, body string }{
		{"K1-C100", `{"legalEntity": {"id": "K1"}, "customer": {"id": "C100"}, "type": "PRIMARY", "primary": true,
			"metadata": {"mixins": {"role": "https://schema.example/role.json"}}, "mixins": {"role": {"title": "CFO", "budget": 50000}}}`},
		{"K2-C200", `{"legalEntity": {"id": "K2"}, "customer": {"id": "C200"}, "type": "BILLING", "primary": false}`},
		{"K3-C100", `{"legalEntity": {"id": "K3"}, "customer": {"id": "C100"}, "type": "LOGISTICS", "primary": false}`},
	}
	for _, c := range contacts {
		must(rc.UpsertContactAssignment(ctx, c.id, doc(t, c.body)))
	}
	// The approval groups name assignments, which exist only now.
	for _, c := range companies {
		if c.approvers == "" {
			continue
		}
		body := doc(t, c.body)
		body["approvalGroup"] = json.RawMessage(c.approvers)
		current, err := rc.GetLegalEntity(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		body["customerGroups"] = idRefs(current["customerGroups"]) // keep the platform's own groups
		must(rc.UpsertLegalEntity(ctx, c.id, body))
	}
}

var migrationEntities = []string{"locations", "companies", "customers", "addresses", "contacts"}

// exportCSVs exports every entity of a tenant to one CSV each and returns the paths.
func exportCSVs(t *testing.T, st *state.Store, rc *remote.Client, dir string) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range migrationEntities {
		out := filepath.Join(dir, e+".csv")
		if _, err := Export(context.Background(), st, rc, ExportOptions{Entities: []string{e}, Out: out, PageSize: 2}); err != nil {
			t.Fatalf("export %s: %v", e, err)
		}
		paths = append(paths, out)
	}
	return paths
}

// sheetCells reads every sheet of a workbook as rows of cells, the header first.
func sheetCells(t *testing.T, path string) map[string][][]string {
	t.Helper()
	tables, err := formats.Open(path, formats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer formats.CloseAll(tables)
	out := map[string][][]string{}
	for _, tb := range tables {
		rows := [][]string{slices.Clone(tb.Header())}
		for {
			row, err := tb.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, slices.Clone(row.Cells))
		}
		out[tb.Name()] = rows
	}
	return out
}

// TestMigrationRoundTripsEveryField is the tenant migration of issue #16: tenant A, populated by direct API
// calls with every field the specs define, is exported to CSV and to XLSX; the XLSX is imported into tenant
// B and the CSVs into tenant C. The exports of B and C are byte for byte the exports of A, check finds
// nothing, a second import sends nothing, and a mixin lost on the platform shows up in check.
func TestMigrationRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	rcA := p.client("tenanta")
	populateEveryField(t, rcA)
	// A was not written by custsync: no state, every key comes from the platform ids.
	csvA := exportCSVs(t, nil, rcA, filepath.Join(p.dir, "a"))
	xlsxA := filepath.Join(p.dir, "a.xlsx")
	if _, err := Export(ctx, nil, rcA, ExportOptions{Entities: migrationEntities, Out: xlsxA}); err != nil {
		t.Fatal(err)
	}

	// Every field of the specs is in the export (a column per field, one per mixin path).
	header := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.SplitN(string(b), "\n", 2)[0]
	}
	for path, want := range map[string][]string{
		csvA[0]: {"contactDetails.emails", "contactDetails.tags", "metadata.mixins.site", "mixins.site.dock:number", "mixins.site.hazmat:boolean"},
		csvA[1]: {"legalInfo.registrationDate", "accountLimit.value", "customerGroups", "locationKeys", "approvalGroup", "restrictions", "mixins.erp.regions:json", "mixins.erp.rank:number"},
		csvA[2]: {"photoUrl", "restriction", "b2b.companyRegistrationId", "onHold", "mixins.loyalty.home.city", "mixins.loyalty.note:json", "metadata.mixins.erp"},
		csvA[3]: {"extraLine4", "tags", "isDefault", "mixins.delivery.floor:number", "metadata.mixins.delivery"},
		csvA[4]: {"type", "primary", "mixins.role.budget:number", "metadata.mixins.role"},
	} {
		h := strings.Split(header(path), ",")
		for _, col := range want {
			if !slices.Contains(h, col) {
				t.Errorf("%s: no column %q in %v", filepath.Base(path), col, h)
			}
		}
	}
	// A CR LF inside a value is written as it is, inside quotes, and must come back so (not as LF).
	if addressesA, _ := os.ReadFile(csvA[3]); !strings.Contains(string(addressesA), "\"Werkstraße\r\nHof 2\"") {
		t.Errorf("the CSV export does not hold the street's CR LF:\n%q", addressesA)
	}
	customersA, _ := os.ReadFile(csvA[2])
	companiesA, _ := os.ReadFile(csvA[1])
	// Members of the company's own approval group by customer, of another company's as company/customer; a
	// location listed by two companies is in both companies' locationKeys; a string a plain cell would trim is
	// written as JSON.
	if !strings.Contains(string(companiesA), `"C200,K1/C100"`) || !strings.Contains(string(companiesA), `"L-HQ,L-SHARED"`) ||
		!strings.Contains(string(companiesA), `"L-WH,L-SHARED"`) || !strings.Contains(string(customersA), `""" padded """`) {
		t.Errorf("unexpected export:\n%s\n%s", companiesA, customersA)
	}

	// B from the workbook, C from the five CSV files.
	for _, target := range []struct {
		tenant string
		files  []string
	}{{"tenantb", []string{xlsxA}}, {"tenantc", csvA}} {
		rc, st := p.client(target.tenant), p.state(target.tenant)
		rep, err := Import(ctx, st, rc, Options{Files: target.files})
		// 18 records: 3 customers, 3 addresses, 4 locations, 3 companies and 5 assignments, 2 of which A's
		// platform propagated and B's propagates too: those rows adopt what B made, in whichever order the
		// writers get to them.
		if err != nil || rep.Failed != 0 || rep.Created+rep.Adopted != 18 {
			t.Fatalf("import into %s: %v\n%s\n%+v", target.tenant, err, rep.Summary(), rep.Failures)
		}
		got := exportCSVs(t, st, rc, filepath.Join(p.dir, target.tenant))
		for i, path := range got {
			a, _ := os.ReadFile(csvA[i])
			b, _ := os.ReadFile(path)
			if string(a) != string(b) {
				t.Errorf("%s: the export of %s differs from the export of A:\nA:\n%s\n%s:\n%s", migrationEntities[i], target.tenant, a, target.tenant, b)
			}
		}
		xlsx := filepath.Join(p.dir, target.tenant+".xlsx")
		if _, err := Export(ctx, st, rc, ExportOptions{Entities: migrationEntities, Out: xlsx}); err != nil {
			t.Fatal(err)
		}
		want, have := sheetCells(t, xlsxA), sheetCells(t, xlsx)
		for _, e := range migrationEntities {
			if !slices.EqualFunc(want[e], have[e], slices.Equal) {
				t.Errorf("%s sheet of %s differs from A's:\n%v\n%v", e, target.tenant, want[e], have[e])
			}
		}
		chk, err := Check(ctx, st, rc, CheckOptions{Files: target.files})
		if err != nil || len(chk.Problems) != 0 || chk.Totals[CheckSame] != 18 {
			t.Fatalf("check of %s: %v %+v %+v", target.tenant, err, chk.Totals, chk.Problems)
		}
		p.srv.ResetRequests()
		rep, err = Import(ctx, st, rc, Options{Files: target.files})
		if err != nil || rep.Unchanged != 18 || len(p.writeRequests()) != 0 {
			t.Fatalf("second import into %s: %v %v\n%s", target.tenant, err, p.writeRequests(), rep.Summary())
		}
	}

	// A mixin lost on B's platform is a difference, named by its path.
	rcB, stB := p.client("tenantb"), p.state("tenantb")
	if err := rcB.PatchCustomer(ctx, "C100", remote.Doc{"mixins": map[string]any{"erp": nil}}); err != nil {
		t.Fatal(err)
	}
	chk, err := Check(ctx, stB, rcB, CheckOptions{Files: []string{xlsxA}})
	if err != nil || len(chk.Problems) != 1 || chk.Problems[0].Key != "C100" {
		t.Fatalf("check after losing a mixin: %v %+v", err, chk.Problems)
	}
	var paths []string
	for _, f := range chk.Problems[0].Fields {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, ",") != "mixins.erp.blocked,mixins.erp.creditRating" {
		t.Errorf("differences %v", paths)
	}
}

// TestExportRowsAreInKeyOrderWhateverThePlatformOrder: two tenants holding the same customers, created in
// opposite orders, export the same file.
func TestExportRowsAreInKeyOrderWhateverThePlatformOrder(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	ids := []string{"0003", "0001", "0010", "0002"}
	var outs []string
	for i, tenant := range []string{"forward", "backward"} {
		rc := p.client(tenant)
		order := slices.Clone(ids)
		if i == 1 {
			slices.Reverse(order)
		}
		for _, id := range order {
			if _, err := rc.UpsertCustomer(ctx, id, remote.Doc{"lastName": "L" + id, "mixins": map[string]any{"m" + id: map[string]any{"x": id}}}); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(p.dir, tenant+".csv")
		if _, err := Export(ctx, nil, rc, ExportOptions{Entities: []string{"customers"}, Out: out, PageSize: 3}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, readFile(t, out))
	}
	if outs[0] != outs[1] {
		t.Fatalf("exports differ:\n%s\n%s", outs[0], outs[1])
	}
	lines := strings.Split(strings.TrimSpace(outs[0]), "\n")
	var keys []string
	for _, l := range lines[1:] {
		keys = append(keys, strings.SplitN(l, ",", 2)[0])
	}
	if strings.Join(keys, " ") != "0001 0002 0003 0010" {
		t.Errorf("row order %v", keys)
	}
	if !strings.HasSuffix(lines[0], ",restriction,mixins.m0001.x,mixins.m0002.x,mixins.m0003.x,mixins.m0010.x,command,deleted") {
		t.Errorf("header %s", lines[0])
	}
	if entries, _ := os.ReadDir(p.dir); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), ".tmp") }) {
		t.Errorf("a temporary file was left behind: %v", entries)
	}
}

// TestMigrationErrorFileRoundTrip: a migration file with a damaged mixin cell and a damaged approval group
// imports its good rows; the error file keeps every column (mixins included), and once fixed it imports as it
// is, after which the target exports exactly what the source did.
func TestMigrationErrorFileRoundTrip(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	rcA := p.client("source")
	populateEveryField(t, rcA)
	csvA := exportCSVs(t, nil, rcA, filepath.Join(p.dir, "a"))
	good := map[string]string{}
	for _, path := range csvA {
		good[path] = readFile(t, path)
	}
	damaged := map[string][2]string{
		csvA[2]: {",silver,,,10,", ",silver,,,ten,"}, // C200's mixins.loyalty.points:number
		csvA[1]: {`"C200,K1/C100"`, `"C200,K1/"`},    // K2's approval group member without a customer
	}
	for path, r := range damaged {
		if !strings.Contains(good[path], r[0]) {
			t.Fatalf("%s does not contain %q:\n%s", path, r[0], good[path])
		}
		if err := os.WriteFile(path, []byte(strings.Replace(good[path], r[0], r[1], 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rc, st := p.client("target"), p.state("target")
	results := filepath.Join(p.dir, "results")
	rep, err := Import(ctx, st, rc, Options{Files: csvA, ResultsDir: results})
	if !errors.Is(err, ErrPartial) || rep.Failed < 2 {
		t.Fatalf("import of the damaged files: %v\n%s", err, rep.Summary())
	}
	var errorFiles []string
	for _, e := range []string{"customers", "companies"} {
		path := filepath.Join(results, e+".errors.csv")
		text := readFile(t, path)
		header := strings.SplitN(text, "\n", 2)[0]
		if !strings.Contains(header, "mixins.loyalty.points:number") && e == "customers" || !strings.Contains(header, "custsync_error") {
			t.Errorf("%s header %s", path, header)
		}
		fixed := strings.NewReplacer(",silver,,,ten,", ",silver,,,10,", `"C200,K1/"`, `"C200,K1/C100"`).Replace(text)
		fixedPath := filepath.Join(p.dir, e+".fixed.csv")
		if err := os.WriteFile(fixedPath, []byte(fixed), 0o600); err != nil {
			t.Fatal(err)
		}
		errorFiles = append(errorFiles, fixedPath)
	}
	// The rows that depended on the failed ones (C200's address and assignment, K2's subsidiary K3 and their
	// assignments) are in their error files too, unchanged: import all of them with the fixed ones.
	for _, e := range []string{"addresses", "contacts", "locations"} {
		if path := filepath.Join(results, e+".errors.csv"); fileExists(path) {
			errorFiles = append(errorFiles, path)
		}
	}
	rep, err = Import(ctx, st, rc, Options{Files: errorFiles})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("import of the fixed error files: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	for i, path := range exportCSVs(t, st, rc, filepath.Join(p.dir, "target")) {
		if got := readFile(t, path); got != good[csvA[i]] {
			t.Errorf("%s after the fixed error files:\n%s\nwant\n%s", migrationEntities[i], got, good[csvA[i]])
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
