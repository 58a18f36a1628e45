package mapping_test

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/mapping"
)

// checkPayloadJSON holds AppendPayloadJSON and AppendAppliedJSON to the bytes json.Marshal gives for the maps
// they stand for, with and without omitted members, appended after a prefix that must stay.
func checkPayloadJSON(t *testing.T, rec mapping.Record) {
	t.Helper()
	for _, omit := range [][]string{nil, {"active", "onHold"}, {"b2b"}} {
		p := rec.Payload()
		for _, k := range omit {
			delete(p, k)
		}
		want, wantErr := json.Marshal(p)
		got, err := rec.AppendPayloadJSON([]byte("prefix"), omit...)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("AppendPayloadJSON(omit %v) error %v, json.Marshal %v", omit, err, wantErr)
		}
		if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("AppendPayloadJSON(omit %v) of %+v\n got %s\nwant prefix%s", omit, rec, got, want)
		}
	}
	want, wantErr := json.Marshal(rec.ApplyTo(nil))
	got, err := rec.AppendAppliedJSON(nil)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendAppliedJSON error %v, json.Marshal %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("AppendAppliedJSON of %+v\n got %s\nwant %s", rec, got, want)
	}
}

// TestPayloadJSONIsMarshalOfPayload encodes every row of the sample files and records built to hit the
// encoder's corners: escaping, numbers at encoding/json's format cut-offs, nesting, lists, clears, references,
// and paths that overlap (a reference on a field's path, a field under another), which take the map's way.
func TestPayloadJSONIsMarshalOfPayload(t *testing.T) {
	t.Parallel()
	samples := 0
	for _, name := range []string{"customers.csv", "addresses.csv", "companies.csv", "locations.csv", "contacts.csv",
		"migration/hybris-customers.csv"} {
		path := filepath.Join(samplesDir, name)
		h, rows, _ := readCSVFile(t, path, ',')
		ms, err := mapping.Resolve(nil, mapping.Table{File: filepath.Base(name)}, h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range ms {
			for i, row := range rows {
				rec, _ := m.Map(formats.Position{File: name, Line: i + 2}, row)
				checkPayloadJSON(t, rec)
				samples++
			}
		}
	}
	if samples < 50 {
		t.Fatalf("only %d sample records", samples)
	}

	mixin, err := mapping.JSONValue(`{"z":1.50,"a":[true,null,"<x>"]}`)
	if err != nil {
		t.Fatal(err)
	}
	str := mapping.StringValue
	fields := func(fs ...mapping.Field) []mapping.Field { return fs }
	f := func(path string, v mapping.Value) mapping.Field { return mapping.Field{Path: path, Value: v} }
	for _, rec := range []mapping.Record{
		{Entity: mapping.Customers, Fields: fields(f("a\u2028b", str("<&>\"\\\b\f\n\r\t\x01\x7f\u2029 é\xff\xfe")),
			f("company", str("")), f("firstName", str("日本")))},
		{Entity: mapping.Customers, Fields: fields(f("active", mapping.BoolValue(false)), f("b2b.companyRegistrationId", str("HRB")),
			f("b2b.legalEntityId", mapping.ClearValue()), f("b2b-x", str("sorts before b2b's members in a flat sort")),
			f("mixins.m.n", mixin), f("mixins.m.o", mapping.ClearValue()), f("onHold", mapping.BoolValue(true)))},
		{Entity: mapping.Customers, Fields: fields(f("n0", mapping.NumberValue(0)), f("n1", mapping.NumberValue(math.Copysign(0, -1))),
			f("n2", mapping.NumberValue(1e21)), f("n3", mapping.NumberValue(999999999999999999999)), f("n4", mapping.NumberValue(1e-6)),
			f("n5", mapping.NumberValue(9.99e-7)), f("n6", mapping.NumberValue(-1.5e-9)), f("n7", mapping.NumberValue(123456.789)),
			f("n8", mapping.NumberValue(1e300)))},
		{Entity: mapping.Customers, Fields: fields(f("x", mapping.NumberValue(math.NaN())))},
		{Entity: mapping.Customers, Fields: fields(f("x", mapping.NumberValue(math.Inf(-1))))},
		{Entity: mapping.Companies, Fields: fields(f("customerGroups", mapping.ListValue([]string{"G1", "G&2"})),
			f("restrictions", mapping.ListValue([]string{"a", "<b>"})), f("z", mapping.ClearValue()))},
		{Entity: mapping.Companies, Fields: fields(f("customerGroups", mapping.ClearValue()), f("restrictions", mapping.ListValue(nil)))},
		{Entity: mapping.Addresses, Fields: fields(f("city", mapping.ClearValue()), f("tags", mapping.ClearValue()))},
		{Entity: mapping.Addresses, Fields: fields(f("tags", mapping.ListValue([]string{"x"})))},
		{Entity: mapping.Companies, Fields: fields(f("name", str("ACME"))), Refs: []mapping.Ref{
			{Entity: mapping.Companies, Path: "parentId", RemoteID: "P1"},
			{Entity: mapping.Locations, Path: "entitiesAddresses", RemoteID: "L1"},
			{Entity: mapping.Contacts, Path: "approvalGroup", RemoteID: "A1"},
			{Entity: mapping.Locations, Path: "entitiesAddresses", RemoteID: "L2"},
			{Entity: mapping.Locations, Path: "", RemoteID: "ignored"}}},
		// Overlapping paths: the map decides (a reference over a field, a field inside another field's value).
		{Entity: mapping.Companies, Fields: fields(f("parentId", str("field"))), Refs: []mapping.Ref{{Entity: mapping.Companies, Path: "parentId", RemoteID: "ref"}}},
		{Entity: mapping.Customers, Fields: fields(f("mixins", str("flat")), f("mixins.a", str("nested")))},
		{Entity: mapping.Customers, Fields: fields(f("mixins", mapping.ClearValue()), f("mixins.a", str("nested")))},
		{Entity: mapping.Customers, Fields: fields(f(strings.Repeat("deep.", 12)+"leaf", str("v")), f("deep.x", str("w")))},
		{Entity: mapping.Customers},
	} {
		checkPayloadJSON(t, rec)
	}
}
