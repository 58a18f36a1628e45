package mapping_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/mapping"
)

// decode reads JSON as the remote client does (numbers as json.Number).
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// viaJSON re-encodes a value and decodes it as decode does, so payloads compare with platform documents.
func viaJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(b))
}

// TestMixinCellsRoundTrip renders every kind of mixin value as columns, maps the row back and compares the
// payload's mixins with the original: types, nesting, arrays and odd strings survive; only the empty string
// is left out (a blank cell keeps).
func TestMixinCellsRoundTrip(t *testing.T) {
	t.Parallel()
	remote := decode(t, `{
		"id": "C1",
		"metadata": {"version": 3, "mixins": {"loyalty": "https://schema.example/loyalty.json", "erp": "https://schema.example/erp.json", "gone": null}},
		"mixins": {
			"loyalty": {"level": "gold", "points": 1250, "ratio": 0.125, "big": 12345678901234567890, "vip": true,
				"since": "2019-04-01", "tags": ["a", "b,c"], "nested": {"deep": {"x": "y"}, "n": -3}, "empty": {},
				"blank": "", "padded": " spaced ", "sentinel": "#N/A", "nothing": null, "dotted": {"a.b": 1}, "quoted": "\"q\""},
			"erp": {"creditRating": "A", "blocked": false},
			"flag": true,
			"list": [1, {"k": "v"}]
		}
	}`)
	cells, err := mapping.MixinCells(remote)
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"sdCustomerNumber"}
	row := []string{"C1"}
	for i, c := range cells {
		if i > 0 && cells[i-1].Column >= c.Column {
			t.Fatalf("columns not sorted: %q before %q", cells[i-1].Column, c.Column)
		}
		header = append(header, c.Column)
		row = append(row, c.Text)
	}
	for _, want := range []string{"mixins.loyalty.points:number", "mixins.loyalty.vip:boolean", "mixins.loyalty.tags:json",
		"mixins.loyalty.nested.deep.x", "mixins.loyalty.empty:json", "mixins.loyalty.padded:json", "mixins.loyalty.sentinel:json",
		"mixins.loyalty.dotted:json", "mixins.flag:json", "mixins.list:json", "metadata.mixins.loyalty"} {
		if !slices.Contains(header, want) {
			t.Errorf("no column %q in %v", want, header)
		}
	}
	if slices.Contains(header, "mixins.loyalty.blank") || slices.Contains(header, "metadata.mixins.gone") {
		t.Errorf("empty values got columns: %v", header)
	}
	rec, errs := mapOne(t, mapping.Customers, header, row)
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	got := viaJSON(t, rec.Payload())
	wantMixins := remote["mixins"].(map[string]any)
	delete(wantMixins["loyalty"].(map[string]any), "blank")
	if !reflect.DeepEqual(got["mixins"], wantMixins) {
		t.Errorf("mixins changed:\n got %v\nwant %v", got["mixins"], wantMixins)
	}
	wantURLs := map[string]any{"loyalty": "https://schema.example/loyalty.json", "erp": "https://schema.example/erp.json"}
	if md, _ := got["metadata"].(map[string]any); !reflect.DeepEqual(md["mixins"], wantURLs) {
		t.Errorf("metadata.mixins: %v", got["metadata"])
	}
	// The platform's document and the row agree field by field, numbers compared by value.
	if d := mapping.DiffRemote(remote, rec); len(d) != 0 {
		t.Errorf("the row differs from the document it was exported from: %v", d)
	}
	// The same cells hash the same, and a changed number is a change.
	again, _ := mapOne(t, mapping.Customers, header, row)
	if again.Hash() != rec.Hash() {
		t.Error("hash not stable")
	}
	row[slices.Index(header, "mixins.loyalty.points:number")] = "1251"
	changed, _ := mapOne(t, mapping.Customers, header, row)
	if d := mapping.DiffRemote(remote, changed); len(d) != 1 || d[0].Path != "mixins.loyalty.points" {
		t.Errorf("diff after changing points: %v", d)
	}
}

func TestMixinCellsRefuseNamesThatCannotBeColumns(t *testing.T) {
	t.Parallel()
	_, err := mapping.MixinCells(decode(t, `{"mixins": {"a.b": {"x": 1}}, "metadata": {"mixins": {"": "u"}}}`))
	if err == nil || !strings.Contains(err.Error(), `mixins.a.b`) || !strings.Contains(err.Error(), "metadata.mixins.") {
		t.Fatalf("error %v", err)
	}
}

// TestTypedMixinColumns checks the typed mixin cells as a user writes them by hand.
func TestTypedMixinColumns(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "mixins.erp.rating:number", "Mixins.ERP.Blocked:BOOLEAN", "mixins.erp.codes:json", "mixins.erp.note"}
	rec, errs := mapOne(t, mapping.Customers, header, []string{"1", "2.50", "x", `["a", 1]`, "plain text"})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	got := viaJSON(t, rec.Payload())
	want := decode(t, `{"mixins": {"erp": {"rating": 2.50, "codes": ["a", 1], "note": "plain text"}, "ERP": {"Blocked": true}}}`)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload %v, want %v", got, want)
	}
	for _, c := range []struct{ col, cell, reason string }{
		{"mixins.erp.rating:number", "two", "not a number"},
		{"mixins.erp.codes:json", "[1,", "not a JSON value"},
		{"mixins.erp.codes:json", "plain", "not a JSON value"},
	} {
		_, errs := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", c.col}, []string{"1", c.cell})
		if len(errs) != 1 || !strings.Contains(errs[0].Reason, c.reason) {
			t.Errorf("%s %q: %v, want %q", c.col, c.cell, errs, c.reason)
		}
	}
	// Two columns for one path in the same row would silently replace each other.
	_, errs = mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "mixins.a.b", "mixins.a.b:number"}, []string{"1", "x", "2"})
	if len(errs) != 1 || !strings.Contains(errs[0].Reason, "two columns set mixins.a.b") {
		t.Errorf("same path twice: %v", errs)
	}
	_, errs = mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "mixins.a:json", "mixins.a.b"}, []string{"1", `{"b": 1}`, "x"})
	if len(errs) != 1 {
		t.Errorf("a path inside another: %v", errs)
	}
	// Either one alone is fine, and a blank one is no conflict.
	if _, errs = mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "mixins.a.b", "mixins.a.b:number"}, []string{"1", "", "2"}); len(errs) != 0 {
		t.Errorf("blank twin: %v", errs)
	}
	for _, bad := range []string{"mixins.a:number", "mixins.a.b:date", "metadata.mixins.a:json", "mixins.a..b", "mixins.a"} {
		if _, err := mapping.Resolve(nil, mapping.Table{File: "customers.csv"}, []string{"sdCustomerNumber", bad}); err == nil {
			t.Errorf("column %q accepted", bad)
		}
	}
}

// TestApprovalGroupAndLocationCompanies maps the company's approval group (members of its own and of another
// company) and a location linked to two companies, and renders them back.
func TestApprovalGroupAndLocationCompanies(t *testing.T) {
	t.Parallel()
	rec, errs := mapOne(t, mapping.Companies, []string{"companyKey", "name", "approvalGroup"}, []string{"C1", "One", "0001, C2/0002"})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	var keys, ids []string
	for _, r := range rec.Refs {
		if r.Column == mapping.ApprovalGroupColumn {
			keys, ids = append(keys, r.Key), append(ids, r.RemoteID)
		}
	}
	if strings.Join(keys, " ") != "C1/0001 C2/0002" || strings.Join(ids, " ") != "C1-0001 C2-0002" {
		t.Fatalf("approval group refs %v %v", keys, ids)
	}
	payload := viaJSON(t, rec.Payload())
	if got, _ := json.Marshal(payload["approvalGroup"]); string(got) != `[{"id":"C1-0001"},{"id":"C2-0002"}]` {
		t.Errorf("approvalGroup payload %s", got)
	}
	if _, errs := mapOne(t, mapping.Companies, []string{"companyKey", "approvalGroup"}, []string{"C1", "C2/"}); len(errs) != 1 {
		t.Errorf("half a member accepted: %v", errs)
	}

	// Rendered back from what the platform answers (the members expanded with their legal entity and customer).
	remote := decode(t, `{"id": "C1", "name": "One", "type": "COMPANY", "approvalGroup": [
		{"id": "C1-0001", "legalEntity": {"id": "C1"}, "customer": {"id": "0001", "name": "A"}},
		{"id": "C2-0002", "legalEntity": {"id": "C2"}, "customer": {"id": "0002"}}]}`)
	row := mapping.ExportRow(mapping.Companies, remote, map[string]string{"companyKey": "C1"}, nil, "")
	if got := row[slices.Index(mapping.Columns(mapping.Companies), "approvalGroup")]; got != "0001,C2/0002" {
		t.Errorf("approvalGroup cell %q", got)
	}

	loc, errs := mapOne(t, mapping.Locations, []string{"locationKey", "type", "companyKey"}, []string{"L1", "OFFICE", "C1,C2"})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	if len(loc.Refs) != 2 || loc.Refs[0].Key != "C1" || loc.Refs[1].Key != "C2" || loc.Refs[0].Path != "" {
		t.Errorf("location refs %+v", loc.Refs)
	}
	if _, ok := loc.Payload()["companyKey"]; ok {
		t.Error("companyKey in the location's payload")
	}
}

func TestCustomerPhotoURL(t *testing.T) {
	t.Parallel()
	rec, errs := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "photoUrl"}, []string{"1", "https://img.example/1.png"})
	if len(errs) > 0 || rec.Payload()["photoUrl"] != "https://img.example/1.png" {
		t.Fatalf("%v %v", rec.Payload(), errs)
	}
}

// TestBlankClearLeavesMixinPathsAnotherColumnGives: under blankCells: clear, an export's columns for one
// mixin field in other JSON types (or for the whole mixin) are blank in most rows; such a blank clears the
// field only when no other column of the row gives it, and once.
func TestBlankClearLeavesMixinPathsAnotherColumnGives(t *testing.T) {
	t.Parallel()
	spec, err := mapping.ParseMapping([]byte("options: {blankCells: clear}\nentity: customers\nfields: {}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"sdCustomerNumber", "middleName", "mixins.a:json", "mixins.a.b", "mixins.a.b:number", "mixins.c.d"}
	ms, err := mapping.Resolve(spec, mapping.Table{File: "customers.csv"}, header)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		row  []string
		want string // path=value, clears as path=clear
	}{
		{[]string{"1", "", "", "x", "", ""}, "middleName=clear mixins.a.b=x mixins.c.d=clear"},
		{[]string{"1", "M", "", "", "5", "y"}, "middleName=M mixins.a.b=5 mixins.c.d=y"},
		{[]string{"1", "", `{"b":"z"}`, "", "", "#N/A"}, "middleName=clear mixins.a={\"b\":\"z\"} mixins.c.d=clear"},
		{[]string{"1", "", "", "", "", ""}, "middleName=clear mixins.a=clear mixins.c.d=clear"},
	} {
		rec, errs := ms[0].Map(formats.Position{}, c.row)
		if len(errs) > 0 {
			t.Errorf("%q: %s", c.row, errText(errs))
			continue
		}
		var got []string
		for _, f := range rec.Fields {
			v := "clear"
			if !f.Value.IsClear() {
				b, _ := json.Marshal(f.Value.Interface())
				v = strings.Trim(string(b), `"`)
				if strings.HasPrefix(v, "{") {
					v = string(b)
				}
			}
			got = append(got, f.Path+"="+v)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != c.want {
			t.Errorf("%q: got %s, want %s", c.row, strings.Join(got, " "), c.want)
		}
	}
}

// TestTextFieldJSONColumn: FIELD:json holds a text field's value as a JSON string, so the clear sentinel's
// text can be a value; only text fields have such a column, and one row may not give both.
func TestTextFieldJSONColumn(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "lastName", "lastName:json"}
	for _, c := range []struct {
		row  []string
		want string // the lastName the record sets, or the error
	}{
		{[]string{"1", "", `"#N/A"`}, "#N/A"},
		{[]string{"1", "Huber", ""}, "Huber"},
		{[]string{"1", "", "N/A"}, "not a JSON string"},
		{[]string{"1", "", "#N/A"}, "<clear>"}, // the sentinel clears in any column
		{[]string{"1", "Huber", `"Lang"`}, "two columns set lastName"},
	} {
		rec, errs := mapOne(t, mapping.Customers, header, c.row)
		got := errText(errs)
		if v, ok := rec.Get("lastName"); len(errs) == 0 && ok {
			got = v.String()
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.row, got, c.want)
		}
	}
	for _, column := range []string{"sdCustomerNumber:json", "active:json", "parentCompanyKey:json"} {
		if _, err := mapping.Resolve(mapping.DefaultSpec(), mapping.Table{File: "customers.csv"}, []string{"sdCustomerNumber", column}); err == nil {
			t.Errorf("%s: accepted", column)
		}
	}
}

// TestExportedTextThatPlainCellsChange: text a plain cell would not bring back (the clear sentinel clears, a
// spreadsheet error's text fails its row) is exported as a JSON string, in FIELD:json for a text field and in
// the mixin field's :json column, and maps back to the same text.
func TestExportedTextThatPlainCellsChange(t *testing.T) {
	t.Parallel()
	remote := decode(t, `{"id": "1", "firstName": "#N/A", "lastName": "#REF!", "company": "Acme",
		"mixins": {"m": {"e": "#VALUE!", "s": "#N/A", "k": "v"}}}`)
	row := mapping.ExportRow(mapping.Customers, remote, map[string]string{"sdCustomerNumber": "1"}, nil, "")
	cells, err := mapping.ExportCells(mapping.Customers, remote)
	if err != nil {
		t.Fatal(err)
	}
	header := append([]string(nil), mapping.Columns(mapping.Customers)...)
	for _, c := range cells {
		header = append(header, c.Column)
		row = append(row, c.Text)
	}
	for _, want := range []string{"firstName:json", "lastName:json", "mixins.m.e:json", "mixins.m.s:json", "mixins.m.k"} {
		if !slices.Contains(header, want) {
			t.Fatalf("no column %s in %v", want, header)
		}
	}
	rec, errs := mapOne(t, mapping.Customers, header, row)
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	got := viaJSON(t, rec.Payload())
	for path, want := range map[string]any{"firstName": "#N/A", "lastName": "#REF!", "company": "Acme"} {
		if got[path] != want {
			t.Errorf("%s: %v, want %v", path, got[path], want)
		}
	}
	if m := got["mixins"].(map[string]any)["m"]; !reflect.DeepEqual(m, map[string]any{"e": "#VALUE!", "s": "#N/A", "k": "v"}) {
		t.Errorf("mixin m: %v", m)
	}
}
