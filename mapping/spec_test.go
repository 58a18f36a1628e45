package mapping_test

import (
	"errors"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/mapping"
)

const transformsYAML = `
options:
  decimalComma: true
  dateFormat: DD.MM.YYYY
  clearSentinel: "<leer>"
entity: companies
fields:
  companyKey:
    column: NR
    stripLeadingZeros: true
  name: { column: NAME, trim: false }
  type: { column: ART, map: { F: COMPANY, T: SUBSIDIARY }, strictMap: true }
  parentCompanyKey: { column: MUTTER, stripLeadingZeros: true }
  legalInfo.legalName: { column: [FIRMA, NAME] }
  legalInfo.registrationDate: GRUENDUNG
  legalInfo.countryOfRegistration: { column: LAND, upper: true }
  legalInfo.registrationAgency: { column: AMT, lower: true, default: "unbekannt" }
  accountLimit.currency: { const: eur }
  accountLimit.value: LIMIT
  restrictions: { column: REGION, optional: true }
  mixins.erp.segment: SEGMENT
ignore: [BEMERKUNG]
`

func TestTransforms(t *testing.T) {
	t.Parallel()
	spec, err := mapping.LoadMappingFile(writeFile(t, "firmen.yaml", transformsYAML))
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"NR", "NAME", "ART", "MUTTER", "FIRMA", "GRUENDUNG", "LAND", "AMT", "LIMIT", "SEGMENT", "BEMERKUNG"}
	mappers, err := mapping.Resolve(spec, mapping.Table{File: "export.csv"}, header)
	if err != nil {
		t.Fatal(err)
	}
	m := mappers[0]
	rec, errs := m.Map(formats.Position{File: "export.csv", Line: 2},
		[]string{"000420", "  Acme  ", "t", "0000041", "", "31.12.1999", " de ", "", "1.250,75", "A", "egal"})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	want := map[string]string{
		"name":                            "  Acme  ", // trim off for this field
		"type":                            "SUBSIDIARY",
		"legalInfo.legalName":             "Acme", // FIRMA blank, falls back to NAME (trimmed)
		"legalInfo.registrationDate":      "1999-12-31",
		"legalInfo.countryOfRegistration": "DE",
		"legalInfo.registrationAgency":    "unbekannt",
		"accountLimit.currency":           "EUR",
		"accountLimit.value":              "1250.75",
		"mixins.erp.segment":              "A",
	}
	for path, w := range want {
		if v, ok := rec.Get(path); !ok || v.String() != w {
			t.Errorf("%s = %q (set %v), want %q", path, v, ok, w)
		}
	}
	if rec.Key != "420" || rec.RemoteID != "420" || len(rec.Refs) != 1 || rec.Refs[0].Key != "41" {
		t.Errorf("key %q id %q refs %+v", rec.Key, rec.RemoteID, rec.Refs)
	}
	// The custom sentinel clears; "#N/A" is then an ordinary value (and not a valid type).
	rec, errs = m.Map(formats.Position{Line: 3}, []string{"1", "<leer>", "F", "", "", "", "", "", "", "", ""})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	if v, ok := rec.Get("name"); !ok || !v.IsClear() {
		t.Errorf("custom sentinel did not clear: %v %v", v, ok)
	}
	if _, errs = m.Map(formats.Position{Line: 4}, []string{"1", "", "X", "", "", "", "", "", "", "", ""}); len(errs) != 1 || !strings.Contains(errs[0].Reason, "map") {
		t.Errorf("strictMap: %v", errs)
	}
	if _, errs = m.Map(formats.Position{Line: 5}, []string{"1", "", "", "", "", "1999-12-31", "", "", "", "", ""}); len(errs) != 1 || errs[0].Column != "GRUENDUNG" {
		t.Errorf("date layout: %v", errs)
	}
	// Leading zeros are kept unless asked: the default layout keeps them.
	rec, _ = mapOne(t, mapping.Companies, []string{"companyKey"}, []string{"000420"})
	if rec.Key != "000420" {
		t.Errorf("default layout stripped zeros: %q", rec.Key)
	}
}

func TestBlankCellsAndClear(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "firstName", "lastName", "middleName", "active"}
	rec, errs := mapOne(t, mapping.Customers, header, []string{"1", "Anna", "  ", "#N/A", ""})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	if _, ok := rec.Get("lastName"); ok {
		t.Error("blank cell must be absent (keep remote value)")
	}
	if v, ok := rec.Get("middleName"); !ok || !v.IsClear() {
		t.Error("sentinel must clear")
	}
	if v, ok := rec.Get("firstName"); !ok || v.Interface() != "Anna" {
		t.Error("value must be set")
	}
	// Short rows: missing trailing cells are blank.
	rec, errs = mapOne(t, mapping.Customers, header, []string{"1"})
	if len(errs) > 0 || len(rec.Fields) != 0 {
		t.Errorf("short row: %v %v", rec.Fields, errs)
	}
	spec, err := mapping.ParseMapping([]byte("options: {blankCells: clear}\nentity: customers\nfields: {}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mapping.Resolve(spec, mapping.Table{File: "x.csv"}, header)
	if err != nil {
		t.Fatal(err)
	}
	rec, errs = ms[0].Map(formats.Position{}, []string{"1", "Anna", "", "", "true"})
	for _, p := range []string{"lastName", "middleName"} {
		if v, ok := rec.Get(p); !ok || !v.IsClear() {
			t.Errorf("blankCells clear: %s not cleared", p)
		}
	}
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	// The account flags cannot be cleared on the platform (no request schema takes null for them): a blank
	// one is a row error that says so, under blankCells: clear as with the sentinel.
	for _, cells := range [][]string{{"1", "Anna", "", "", ""}, {"1", "Anna", "x", "y", "#N/A"}} {
		_, errs = ms[0].Map(formats.Position{}, cells)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "cannot unset active; write true or false") {
			t.Errorf("clearing active: %v", errText(errs))
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	def := mapping.DefaultSpec()
	cases := []struct {
		name   string
		table  mapping.Table
		header []string
		want   mapping.Entity
		errHas []string
	}{
		{"sheet name", mapping.Table{File: "book.xlsx", Sheet: "Addresses"}, []string{"sdCustomerNumber", "addressKey"}, mapping.Addresses, nil},
		{"singular file name", mapping.Table{File: "/tmp/in/Company.CSV"}, []string{"companyKey", "name"}, mapping.Companies, nil},
		{"synonym", mapping.Table{File: "legal-entities.csv"}, []string{"companyKey"}, mapping.Companies, nil},
		{"header shape contacts", mapping.Table{File: "export1.csv"}, []string{"companyKey", "sdCustomerNumber", "type"}, mapping.Contacts, nil},
		{"header shape locations", mapping.Table{File: "export2.csv"}, []string{"locationKey", "companyKey", "name"}, mapping.Locations, nil},
		{"header shape customers", mapping.Table{File: "x.csv"}, []string{"SDCUSTOMERNUMBER", " firstName ", ""}, mapping.Customers, nil},
		{"entity hint beats name", mapping.Table{File: "customers.csv", Entity: "locations"}, []string{"locationKey"}, mapping.Locations, nil},
		{"unknown column", mapping.Table{File: "customers.csv"}, []string{"sdCustomerNumber", "fristName", "Telefon"}, "", []string{`"fristName"`, `"Telefon"`}},
		{"missing key", mapping.Table{File: "addresses.csv"}, []string{"sdCustomerNumber", "city"}, "", []string{"addressKey", "missing"}},
		{"duplicate column", mapping.Table{File: "customers.csv"}, []string{"sdCustomerNumber", "firstName", "FirstName"}, "", []string{"twice"}},
		{"no entity", mapping.Table{File: "data.csv"}, []string{"KUNNR", "NAME1"}, "", []string{"cannot tell", "closest"}},
		{"mixin without field", mapping.Table{File: "customers.csv"}, []string{"sdCustomerNumber", "mixins.loyalty", "metadata.mixins.a.b"}, "", []string{`"mixins.loyalty"`, `"metadata.mixins.a.b"`}},
		{"bad hint", mapping.Table{File: "x.csv", Entity: "orders"}, []string{"a"}, "", []string{"unknown entity"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms, err := mapping.Resolve(def, c.table, c.header)
			if c.errHas != nil {
				if err == nil || !errors.Is(err, mapping.ErrHeader) {
					t.Fatalf("want ErrHeader, got %v", err)
				}
				for _, s := range c.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 1 || ms[0].Entity() != c.want {
				t.Fatalf("got %d mappers, first %v; want %s", len(ms), ms[0].Entity(), c.want)
			}
		})
	}
}

func TestResolveMappingFile(t *testing.T) {
	t.Parallel()
	spec, err := mapping.ParseMapping([]byte(`
mappings:
  - entity: customers
    fields: {sdCustomerNumber: KUNDE, lastName: NAME}
  - entity: addresses
    table: "ADR*"
    fields: {sdCustomerNumber: KUNDE, addressKey: {const: main}, city: ORT}
`), "multi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Identity columns (contactEmail) are picked up besides the mapped ones.
	ms, err := mapping.Resolve(spec, mapping.Table{File: "customers.csv"}, []string{"KUNDE", "NAME", "contactEmail"})
	if err != nil || len(ms) != 1 || ms[0].Entity() != mapping.Customers {
		t.Fatalf("by entity name: %v", err)
	}
	rec, errs := ms[0].Map(formats.Position{}, []string{"9", "Huber", "h@x.de"})
	if v, _ := rec.Get("contactEmail"); len(errs) > 0 || v.String() != "h@x.de" || rec.Key != "9" {
		t.Errorf("identity column: %v %v", rec, errs)
	}
	ms, err = mapping.Resolve(spec, mapping.Table{File: "book.xlsx", Sheet: "adr_2026"}, []string{"KUNDE", "ORT"})
	if err != nil || len(ms) != 1 || ms[0].Entity() != mapping.Addresses {
		t.Fatalf("by table glob: %v", err)
	}
	// Only one generic mapping (customers): a table with another name uses it.
	ms, err = mapping.Resolve(spec, mapping.Table{File: "export.csv"}, []string{"KUNDE", "NAME"})
	if err != nil || ms[0].Entity() != mapping.Customers {
		t.Fatalf("single generic mapping: %v", err)
	}
	_, err = mapping.Resolve(spec, mapping.Table{File: "export.csv"}, []string{"NAME"})
	if err == nil || !strings.Contains(err.Error(), `"KUNDE"`) {
		t.Fatalf("missing mapped key column: %v", err)
	}
}

func TestLoadMappingFileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, content string
		want                []string
	}{
		{"unknown top key", "m.yaml", "entity: customers\nfeilds: {}\n", []string{"m.yaml:2", `"feilds"`}},
		{"unknown entity", "m.yaml", "entity: orders\n", []string{"m.yaml:1", "orders"}},
		{"unknown field", "m.yaml", "entity: customers\nfields:\n  fristName: X\n", []string{"m.yaml:3", "fristName"}},
		{"column and const", "m.yaml", "entity: customers\nfields:\n  firstName: {column: A, const: B}\n", []string{"m.yaml:3", "either column or const"}},
		{"bad option", "m.yaml", "options:\n  decimalComma: maybe\n", []string{"m.yaml:2", "decimalComma"}},
		{"bad blank policy", "m.yaml", "options:\n  blankCells: ignore\n", []string{"m.yaml:2", "blankCells"}},
		{"bad date", "m.yaml", "entity: companies\nfields:\n  legalInfo.registrationDate: {column: D, date: QQ}\n", []string{"m.yaml:3", "date"}},
		{"bad id template", "m.yaml", "ids:\n  customers: \"C#{key}\"\n", []string{"m.yaml:2", "not allowed"}},
		{"unknown placeholder", "m.yaml", "ids:\n  addresses: \"{company}-{key}\"\n", []string{"m.yaml:2", "{company}"}},
		{"fields without entity", "m.yaml", "fields: {firstName: A}\n", []string{"without entity"}},
		{"mapping without entity", "m.yaml", "mappings:\n  - table: X\n", []string{"m.yaml:2", "entity"}},
		{"yaml syntax", "m.yaml", "entity: [customers\n", []string{"m.yaml"}},
		{"json syntax", "m.json", "{\n  \"entity\": \"customers\",\n  \"fields\": {\"firstName\": }\n}\n", []string{"m.json:3", "JSON"}},
		{"json unknown key", "m.json", "{\n\t\"entity\": \"customers\",\n\t\"colums\": {}\n}\n", []string{"m.json:3", `"colums"`}},
		{"empty", "m.yaml", "", []string{"empty"}},
		{"top level list", "m.yaml", "- a\n", []string{"top level"}},
		{"mapped twice", "m.yaml", "entity: customers\nfields:\n  firstName: A\n  firstName: B\n", []string{"m.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := mapping.LoadMappingFile(writeFile(t, c.file, c.content))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, mapping.ErrMappingFile) {
				t.Errorf("not ErrMappingFile: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := mapping.LoadMappingFile("/nonexistent/m.yaml"); err == nil || errors.Is(err, mapping.ErrMappingFile) {
		t.Errorf("missing file: %v", err)
	}
}

// TestJSONMappingEqualsYAML parses the same mapping in both syntaxes and expects identical records.
func TestJSONMappingEqualsYAML(t *testing.T) {
	t.Parallel()
	yamlSpec, err := mapping.ParseMapping([]byte("entity: customers\nfields:\n  sdCustomerNumber: {column: KNR, stripLeadingZeros: true}\n  preferredLanguage: {column: SPR, map: {D: de_DE}}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jsonSpec, err := mapping.ParseMapping([]byte("{\n\t\"entity\": \"customers\",\n\t\"fields\": {\n\t\t\"sdCustomerNumber\": {\"column\": \"KNR\", \"stripLeadingZeros\": true},\n\t\t\"preferredLanguage\": {\"column\": \"SPR\", \"map\": {\"D\": \"de_DE\"}}\n\t}\n}"), "m.json")
	if err != nil {
		t.Fatal(err)
	}
	var hashes []uint64
	for _, s := range []*mapping.Spec{yamlSpec, jsonSpec} {
		ms, err := mapping.Resolve(s, mapping.Table{File: "k.csv"}, []string{"KNR", "SPR"})
		if err != nil {
			t.Fatal(err)
		}
		rec, errs := ms[0].Map(formats.Position{}, []string{"007", "D"})
		if len(errs) > 0 || rec.Key != "7" {
			t.Fatalf("%v %v", rec, errs)
		}
		hashes = append(hashes, rec.Hash())
	}
	if hashes[0] != hashes[1] {
		t.Error("YAML and JSON mappings give different records")
	}
}

// TestResolveTableBoundMappings: a mapping bound to KNA1 does not capture a default-layout customers.csv,
// but the --entity hint applies it to a differently named file with the key columns.
func TestResolveTableBoundMappings(t *testing.T) {
	t.Parallel()
	spec, err := mapping.LoadMappingFile("../samples/mappings/sap-sd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mapping.Resolve(spec, mapping.Table{File: "customers.csv"}, mapping.Columns(mapping.Customers))
	if err != nil || len(ms) != 1 || ms[0].Entity() != mapping.Customers {
		t.Fatalf("default layout next to a SAP mapping: %v", err)
	}
	h, _, _ := readCSVFile(t, "../samples/sap/KNA1.csv", ';')
	// The hint selects the customers mapping only. The sample reads past the columns it does not map (a real
	// KNA1 export has a hundred more), so the address columns are ignored ...
	ms, err = mapping.Resolve(spec, mapping.Table{File: "export-2026.csv", Entity: mapping.Customers}, h)
	if err != nil || len(ms) != 1 || ms[0].Entity() != mapping.Customers {
		t.Fatalf("hinted SAP export: %v", err)
	}
	// ... and a mapping that does not ignore unknown columns names them.
	strict := *spec
	strict.Options.IgnoreUnknownColumns = false
	_, err = mapping.Resolve(&strict, mapping.Table{File: "export-2026.csv", Entity: mapping.Customers}, h)
	if err == nil || !strings.Contains(err.Error(), `"LAND1"`) || !strings.Contains(err.Error(), "for customers") {
		t.Fatalf("hinted SAP export, strict mapping: %v", err)
	}
	ms, err = mapping.Resolve(spec, mapping.Table{File: "export-2026.csv", Entity: mapping.Customers}, []string{"KUNNR", "NAME1", "NAME2", "TELF1", "SMTP_ADDR", "SPRAS", "LOEVM"})
	if err != nil || len(ms) != 1 || ms[0].Entity() != mapping.Customers {
		t.Fatalf("hinted customer columns of KNA1: %v", err)
	}
	if _, err = mapping.Resolve(spec, mapping.Table{File: "export-2026.csv"}, h); err == nil ||
		!strings.Contains(err.Error(), "the mapping's tables are KNA1*") || !strings.Contains(err.Error(), `"export-2026.csv"`) {
		t.Fatalf("an unnamed SAP export without hint must not resolve, and the error names the tables and the file: %v", err)
	}
}

// TestPadIsSAPAlphaConversion: `pad: 10` gives digit-only keys their zeros back and leaves other keys alone;
// a key and the reference to it pad alike, so an address finds its customer.
func TestPadIsSAPAlphaConversion(t *testing.T) {
	t.Parallel()
	spec, err := mapping.ParseMapping([]byte("mappings:\n"+
		"  - {entity: customers, fields: {sdCustomerNumber: {column: KUNNR, pad: 10}}}\n"+
		"  - {entity: addresses, fields: {sdCustomerNumber: {column: KUNNR, pad: 10}, addressKey: {const: main}}}\n"), "pad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mapping.Resolve(spec, mapping.Table{File: "KNA1.csv", Entity: mapping.Customers}, []string{"KUNNR"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"8000002": "0008000002", "0008000002": "0008000002", " 100080 ": "0000100080",
		"12345678901": "12345678901", "CPD-01": "CPD-01", "0": "0000000000"} {
		rec, errs := ms[0].Map(formats.Position{}, []string{in})
		if len(errs) > 0 || rec.Key != want {
			t.Errorf("KUNNR %q: key %q %v, want %q", in, rec.Key, errs, want)
		}
	}
	ms, err = mapping.Resolve(spec, mapping.Table{File: "KNA1.csv", Entity: mapping.Addresses}, []string{"KUNNR"})
	if err != nil {
		t.Fatal(err)
	}
	rec, errs := ms[0].Map(formats.Position{}, []string{"100080"})
	if len(errs) > 0 || rec.KeyParts[0] != "0000100080" || rec.Refs[0].Key != "0000100080" {
		t.Fatalf("address of 100080: %+v %v", rec, errs)
	}
	for _, bad := range []string{"pad: 0", "pad: 67", "pad: ten", "pad: 10, stripLeadingZeros: true"} {
		_, err := mapping.ParseMapping([]byte("entity: customers\nfields:\n  sdCustomerNumber: {column: KUNNR, "+bad+"}\n"), "bad.yaml")
		if !errors.Is(err, mapping.ErrMappingFile) || !strings.Contains(err.Error(), "bad.yaml:3") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestTablePatternsMatchRealExportNames: `table:` matches file and sheet names in any case, with a date stamp
// after the name, and the error file of a run; not a different table that merely starts alike without *.
func TestTablePatternsMatchRealExportNames(t *testing.T) {
	t.Parallel()
	for _, pattern := range []string{"KNA1", "KNA1*", "kna1"} {
		spec, err := mapping.ParseMapping([]byte("entity: customers\ntable: \""+pattern+"\"\nfields:\n  sdCustomerNumber: KUNNR\n"), "m.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []mapping.Table{
			{File: "KNA1.csv"}, {File: "/exports/kna1_20261201.csv"}, {File: "KNA1-2026-12-01.CSV"}, {File: "KNA1_20261201_2330.csv"},
			{File: "KNA1_20261201.errors.csv"}, {File: "KNA1.errors.xlsx", Sheet: "KNA1"}, {File: "Debitoren.xlsx", Sheet: "KNA1 20261201"},
		} {
			if ms, err := mapping.Resolve(spec, table, []string{"KUNNR"}); err != nil || len(ms) != 1 {
				t.Errorf("table: %s does not match %s: %v", pattern, table, err)
			}
		}
		for _, table := range []mapping.Table{{File: "KNA1_backup.csv"}, {File: "KNA1_2026.csv"}, {File: "Debitoren_Export.xlsx", Sheet: "Tabelle1"}} {
			if pattern == "KNA1*" && table.File == "KNA1_backup.csv" || pattern == "KNA1*" && table.File == "KNA1_2026.csv" {
				continue // the wildcard takes any suffix, by design
			}
			_, err := mapping.Resolve(spec, table, []string{"KUNNR"})
			if !errors.Is(err, mapping.ErrHeader) || !strings.Contains(err.Error(), "the mapping's tables are "+pattern) {
				t.Errorf("table: %s matched %s or said the wrong thing: %v", pattern, table, err)
			}
		}
	}
	// Default-layout files may carry a date stamp too.
	if ms, err := mapping.Resolve(nil, mapping.Table{File: "customers_20261201.csv"}, []string{"sdCustomerNumber", "firstName"}); err != nil || ms[0].Entity() != mapping.Customers {
		t.Fatalf("customers_20261201.csv: %v", err)
	}
}
