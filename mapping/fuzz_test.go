package mapping_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/mapping"
)

// FuzzMap feeds random headers, table names and cells through Resolve, Map and everything a Record offers.
// Nothing may panic, and a clean upsert or delete always carries a valid remote id.
func FuzzMap(f *testing.F) {
	f.Add("customers", "sdCustomerNumber\x1ffirstName\x1fcontactEmail\x1factive", "0001\x1fAnna\x1fa@b.de\x1fX")
	f.Add("addresses", "sdCustomerNumber\x1faddressKey\x1ftags\x1fcountry", "1\x1fA/B\x1f,,x,\x1fde")
	f.Add("companies", "companyKey\x1ftype\x1fparentCompanyKey\x1flocationKeys\x1faccountLimit.value", "C\x1fSUBSIDIARY\x1f#N/A\x1fL1,L1\x1f1e308")
	f.Add("x", "locationKey\x1fcompanyKey\x1fcontactDetails.emails", "Ä ö\x1f1.2E+3\x1f@")
	f.Add("contacts", "companyKey\x1fsdCustomerNumber\x1fcommand\x1fdeleted\x1fmixins.a.b", "C\x1f\x1fdelete\x1fyes\x1f#N/A")
	f.Fuzz(func(t *testing.T, table, header, row string) {
		hdr := strings.Split(header, "\x1f")
		cells := strings.Split(row, "\x1f")
		ms, err := mapping.Resolve(nil, mapping.Table{File: table + ".csv"}, hdr)
		if err != nil {
			return
		}
		for _, m := range ms {
			rec, errs := m.Map(formats.Position{File: table, Line: 2}, cells)
			_ = rec.Hash()
			for i := 1; i < len(rec.Fields); i++ {
				if rec.Fields[i-1].Path >= rec.Fields[i].Path {
					t.Fatalf("fields not sorted or duplicated: %q, %q", rec.Fields[i-1].Path, rec.Fields[i].Path)
				}
			}
			p := rec.Payload()
			if _, err := json.Marshal(p); err != nil {
				t.Fatalf("payload does not marshal: %v", err)
			}
			checkPayloadJSON(t, rec)
			_ = rec.ApplyTo(map[string]any{"a": []any{1.0}, "mixins": "x"})
			_ = mapping.DiffFields(rec, rec)
			_ = mapping.DiffRemote(p, rec)
			_, _ = mapping.SDMappingFor(rec)
			for _, e := range errs {
				_ = e.Error()
			}
			if len(errs) == 0 && rec.Command != mapping.Ignore && !mapping.IsValidID(rec.RemoteID) {
				t.Fatalf("clean row with invalid remote id %q", rec.RemoteID)
			}
		}
	})
}

// FuzzLoadMappingFile parses random mapping files as YAML and JSON; a spec that parses must resolve and map
// without panicking.
func FuzzLoadMappingFile(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(samplesDir, "mappings", "sap-sd.yaml")); err == nil {
		f.Add(string(data))
	}
	f.Add(transformsYAML)
	f.Add(`{"entity":"customers","fields":{"sdCustomerNumber":{"column":["A","B"]}},"ids":{"customers":"X{key}"}}`)
	f.Add("options: {blankCells: clear, dateFormat: YYYYMMDD}\nmappings:\n  - entity: addresses\n    table: '*'\n    fields: {addressKey: {const: a}}\n")
	f.Add("a: &x {b: *x}\n")
	f.Fuzz(func(t *testing.T, content string) {
		for _, name := range []string{"m.yaml", "m.json"} {
			spec, err := mapping.ParseMapping([]byte(content), name)
			if err != nil {
				_ = err.Error()
				continue
			}
			header := []string{"A", "B", "KUNNR", "sdCustomerNumber", "addressKey", "companyKey", "locationKey"}
			ms, err := mapping.Resolve(spec, mapping.Table{File: "KNA1.csv"}, header)
			if err != nil {
				continue
			}
			for _, m := range ms {
				rec, _ := m.Map(formats.Position{}, []string{"1", "2", "3", "4", "5", "6", "7"})
				_ = rec.Payload()
				_ = rec.Hash()
			}
		}
	})
}
