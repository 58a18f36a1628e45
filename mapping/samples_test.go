package mapping_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"custsync/formats"
	"custsync/mapping"
)

func loadSample(t *testing.T, name string) []mapping.Record {
	t.Helper()
	path := filepath.Join(samplesDir, name)
	h, rows, lines := readCSVFile(t, path, ',')
	recs, errs := mapTable(t, mapping.DefaultSpec(), mapping.Table{File: path}, h, rows, lines)
	if len(errs) > 0 {
		t.Fatalf("%s: %d row errors:\n%s", name, len(errs), errText(errs))
	}
	if len(recs) == 0 {
		t.Fatalf("%s: no records", name)
	}
	return recs
}

// TestSamplesAreConsistent maps every plain sample with the default layout and checks that they are valid,
// free of duplicates, and that every reference resolves to a key in the referenced sample.
func TestSamplesAreConsistent(t *testing.T) {
	t.Parallel()
	byEntity := map[mapping.Entity][]mapping.Record{}
	keys := map[mapping.Entity]map[string]bool{}
	for _, e := range mapping.Entities() {
		recs := loadSample(t, string(e)+".csv")
		byEntity[e] = recs
		keys[e] = map[string]bool{}
		set := mapping.NewKeySet(0)
		for _, r := range recs {
			if r.Entity != e {
				t.Fatalf("%s.csv resolved to %s", e, r.Entity)
			}
			if fe := set.Check(r); fe != nil {
				t.Errorf("duplicate: %v", fe)
			}
			if !mapping.IsValidID(r.RemoteID) {
				t.Errorf("%s %s: invalid remote id %q", e, r.Key, r.RemoteID)
			}
			keys[e][r.Key] = true
		}
	}
	if n := len(byEntity[mapping.Customers]); n < 20 || n > 50 {
		t.Errorf("customers sample has %d rows, want 20-50", n)
	}
	for e, recs := range byEntity {
		for _, r := range recs {
			for _, ref := range r.Refs {
				if !keys[ref.Entity][ref.Key] {
					t.Errorf("%s %s: %s %q does not exist in %s.csv", e, r.Key, ref.Column, ref.Key, ref.Entity)
				}
			}
		}
	}
	// A three-level company hierarchy.
	parent := map[string]string{}
	for _, r := range byEntity[mapping.Companies] {
		for _, ref := range r.Refs {
			if ref.Column == mapping.ParentKeyColumn {
				parent[r.Key] = ref.Key
			}
		}
	}
	maxDepth := 0
	for k := range keys[mapping.Companies] {
		d := 1
		for p, ok := parent[k]; ok; p, ok = parent[p] {
			d++
			if d > 10 {
				t.Fatalf("cycle in company hierarchy at %s", k)
			}
		}
		maxDepth = max(maxDepth, d)
	}
	if maxDepth < 3 {
		t.Errorf("company hierarchy depth %d, want at least 3", maxDepth)
	}
	// Every customer referenced by a contact exists and every company has a contact.
	withContact := map[string]bool{}
	for _, r := range byEntity[mapping.Contacts] {
		withContact[r.KeyParts[0]] = true
	}
	for k := range keys[mapping.Companies] {
		if !withContact[k] {
			t.Errorf("company %s has no contact assignment", k)
		}
	}
}

// TestSAPSample maps samples/sap/KNA1.csv with samples/mappings/sap-sd.yaml: each row feeds a customer and
// its default address; LOEVM=X deletes both; leading zeros stay.
func TestSAPSample(t *testing.T) {
	t.Parallel()
	spec, err := mapping.LoadMappingFile(filepath.Join(samplesDir, "mappings", "sap-sd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(samplesDir, "sap", "KNA1.csv")
	h, rows, lines := readCSVFile(t, path, ';')
	mappers, err := mapping.Resolve(spec, mapping.Table{File: path}, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(mappers) != 2 || mappers[0].Entity() != mapping.Customers || mappers[1].Entity() != mapping.Addresses {
		t.Fatalf("want customers then addresses mappers, got %d", len(mappers))
	}
	col := func(name string) int {
		for i, c := range h {
			if c == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	kunnr, loevm, name1, name2, spras := col("KUNNR"), col("LOEVM"), col("NAME1"), col("NAME2"), col("SPRAS")
	langs := map[string]string{"D": "de_DE", "E": "en_US", "F": "fr_FR", "I": "it_IT", "S": "es_ES", "N": "nl_NL", "L": "pl_PL"}
	deletes := 0
	for i, row := range rows {
		pos := formats.Position{File: path, Line: lines[i]}
		cust, errs := mappers[0].Map(pos, row)
		addr, aerrs := mappers[1].Map(pos, row)
		if len(errs)+len(aerrs) > 0 {
			t.Fatalf("row %d: %s%s", lines[i], errText(errs), errText(aerrs))
		}
		if cust.Key != row[kunnr] || cust.RemoteID != row[kunnr] || row[kunnr][0] != '0' {
			t.Errorf("row %d: key %q id %q, want KUNNR %q with its zeros", lines[i], cust.Key, cust.RemoteID, row[kunnr])
		}
		if addr.RemoteID != row[kunnr]+"-main" || len(addr.Refs) != 1 || addr.Refs[0].Key != row[kunnr] {
			t.Errorf("row %d: address id %q refs %+v", lines[i], addr.RemoteID, addr.Refs)
		}
		if row[loevm] == "X" {
			deletes++
			if cust.Command != mapping.Delete || addr.Command != mapping.Delete || len(cust.Fields) != 0 {
				t.Errorf("row %d: LOEVM=X gives %v/%v", lines[i], cust.Command, addr.Command)
			}
			continue
		}
		if cust.Command != mapping.Upsert {
			t.Errorf("row %d: command %v", lines[i], cust.Command)
		}
		wantLast := row[name2]
		if wantLast == "" {
			wantLast = row[name1]
		}
		if v, _ := cust.Get("lastName"); v.String() != wantLast {
			t.Errorf("row %d: lastName %q want %q", lines[i], v, wantLast)
		}
		if v, _ := cust.Get("preferredLanguage"); v.String() != langs[row[spras]] {
			t.Errorf("row %d: SPRAS %s -> %q", lines[i], row[spras], v)
		}
		if v, _ := addr.Get("contactName"); v.String() != wantLast {
			t.Errorf("row %d: contactName %q", lines[i], v)
		}
		if v, ok := addr.Get("isDefault"); !ok || v.Interface() != true {
			t.Errorf("row %d: isDefault %v", lines[i], v)
		}
		sd, ok := mapping.SDMappingFor(cust)
		if !ok || sd.SDCustomerNumber != row[kunnr] || sd.CustomerNumber != row[kunnr] {
			t.Errorf("row %d: sd mapping %+v", lines[i], sd)
		}
	}
	if deletes != 1 {
		t.Errorf("want exactly one LOEVM=X row, got %d", deletes)
	}
}

// TestMessySamples maps the BOM/semicolon/blank-line file and the Windows-1252 file without row errors, and
// checks what the mess turns into.
func TestMessySamples(t *testing.T) {
	t.Parallel()
	path := filepath.Join(samplesDir, "messy", "customers-messy.csv")
	h, rows, lines := readCSVFile(t, path, ';')
	recs, errs := mapTable(t, mapping.DefaultSpec(), mapping.Table{File: path}, h, rows, lines)
	if len(errs) > 0 {
		t.Fatalf("messy: %s", errText(errs))
	}
	if len(recs) != 5 {
		t.Fatalf("messy: %d records, want 5 (blank lines skipped)", len(recs))
	}
	first := recs[0]
	if v, _ := first.Get("firstName"); v.String() != "Jürgen" {
		t.Errorf("trim: firstName %q", v)
	}
	if v, _ := first.Get("preferredCurrency"); v.String() != "EUR" {
		t.Errorf("currency upper-cased: %q", v)
	}
	if v, _ := first.Get("active"); v.Interface() != true {
		t.Errorf("X is true: %v", v)
	}
	if v, _ := recs[1].Get("company"); v.String() != "Atelier Lefèvre\nPoterie & Céramique" {
		t.Errorf("quoted newline: %q", v)
	}

	raw, err := os.ReadFile(filepath.Join(samplesDir, "messy", "customers-cp1252.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("ü")) || !bytes.Contains(raw, []byte{'M', 0xfc, 'l'}) {
		t.Fatal("customers-cp1252.csv is not Windows-1252 encoded")
	}
	utf8, err := charmap.Windows1252.NewDecoder().Bytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	h, rows, lines = readCSVBytes(t, utf8, ';')
	recs, errs = mapTable(t, mapping.DefaultSpec(), mapping.Table{File: "customers-cp1252.csv"}, h, rows, lines)
	if len(errs) > 0 {
		t.Fatalf("cp1252: %s", errText(errs))
	}
	if v, _ := recs[0].Get("lastName"); v.String() != "Müller" {
		t.Errorf("cp1252 lastName %q", v)
	}
}

// TestXLSXSampleMatchesCSV reads samples/customers.xlsx (sheet name selects the entity) and checks that
// every row hashes exactly like the same row of the CSV samples.
func TestXLSXSampleMatchesCSV(t *testing.T) {
	t.Parallel()
	f, err := excelize.OpenFile(filepath.Join(samplesDir, "customers.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, sheet := range []string{"customers", "addresses"} {
		want := map[string]uint64{}
		for _, r := range loadSample(t, sheet+".csv") {
			want[r.Key] = r.Hash()
		}
		rowsIter, err := f.Rows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		var header []string
		var mappers []*mapping.Mapper
		line := 0
		got := 0
		for rowsIter.Next() {
			line++
			cells, err := rowsIter.Columns()
			if err != nil {
				t.Fatal(err)
			}
			if header == nil {
				header = cells
				mappers, err = mapping.Resolve(mapping.DefaultSpec(), mapping.Table{File: "customers.xlsx", Sheet: sheet}, header)
				if err != nil {
					t.Fatal(err)
				}
				continue
			}
			rec, errs := mappers[0].Map(formats.Position{File: "customers.xlsx", Sheet: sheet, Line: line}, cells)
			if len(errs) > 0 {
				t.Fatalf("%s", errText(errs))
			}
			if h, ok := want[rec.Key]; !ok || h != rec.Hash() {
				t.Errorf("%s %s: XLSX hash differs from CSV hash", sheet, rec.Key)
			}
			got++
		}
		rowsIter.Close()
		if got != len(want) {
			t.Errorf("%s: %d XLSX rows, %d CSV rows", sheet, got, len(want))
		}
	}
}

// TestExportRowRoundTrip renders each sample record's payload back into the default layout with ExportRow
// and maps it again: the hash must not change, which is what lets an export re-import as "unchanged".
func TestExportRowRoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range mapping.Entities() {
		recs := loadSample(t, string(e)+".csv")
		cols := mapping.Columns(e)
		ms, err := mapping.Resolve(nil, mapping.Table{File: "export.csv", Entity: e}, cols)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			keys := map[string]string{}
			for i, k := range mapping.KeyColumns(e) {
				keys[k] = r.KeyParts[i]
			}
			remote := r.Payload()
			remote["id"] = r.RemoteID
			row := mapping.ExportRow(e, remote, keys, nil, "")
			back, errs := ms[0].Map(formats.Position{File: "export.csv"}, row)
			if len(errs) > 0 {
				t.Fatalf("%s %s: %s", e, r.Key, errText(errs))
			}
			if back.Hash() != r.Hash() || back.Key != r.Key || back.RemoteID != r.RemoteID {
				t.Errorf("%s %s: round trip changed the record:\n%v\n%v", e, r.Key, r.Fields, back.Fields)
			}
		}
	}
}
