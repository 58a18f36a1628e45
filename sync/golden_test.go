package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"custsync/formats"
	"custsync/state"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenTime matches the timestamps of the fixed-schema tables; the golden files hold TIME in their place,
// since the state stamps entries with the clock.
var goldenTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// assertGolden compares the file at path byte for byte with testdata/golden/name, timestamps aside and the
// test's directory dir written DIR, and checks that it is private (0600); with -update it rewrites the golden
// file instead.
func assertGolden(t *testing.T, path, name, dir string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("%s: mode %v (%v), want 0600", name, fi.Mode().Perm(), err)
	}
	got = goldenTime.ReplaceAll(got, []byte("TIME"))
	got = bytes.ReplaceAll(got, []byte(dir), []byte("DIR"))
	want := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(want, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantBytes, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, wantBytes) {
		t.Errorf("%s differs from %s:\n--- got\n%q\n--- want\n%q", path, want, got, wantBytes)
	}
}

// TestLocalTablesGolden writes the SD mappings and the deletion log, the tables whose columns custsync itself
// defines, in the default CSV dialect and in a German Excel one (--delimiter ';' --bom), and compares each
// with its golden file; the XLSX export holds the same cells.
func TestLocalTablesGolden(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	st := p.state("golden")
	ctx := context.Background()
	if err := st.PutMappings(ctx, []state.SDMapping{
		{CustomerNumber: "0000100080", SDCustomerNumber: "0000100080"},
		{CustomerNumber: "webshop-7", SDCustomerNumber: "0000100081", DeletedInYaaS: true},
		{CustomerNumber: "M_ller___Co_3f0c1d2e3f4a5b6c", SDCustomerNumber: "Müller; \"& Co\", GmbH"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MarkMappingsPushed(ctx, []state.SDMapping{{CustomerNumber: "0000100080", SDCustomerNumber: "0000100080"}}); err != nil {
		t.Fatal(err)
	}
	run, err := st.BeginRun(ctx, "import", map[string]any{"files": []string{"KNA1.csv"}})
	if err != nil {
		t.Fatal(err)
	}
	entries := []state.DeletionEntry{
		{Kind: "customers", ERPKey: "0000100081", RemoteID: "webshop-7", Reason: state.ReasonDeletedInPlatform,
			PreImage: json.RawMessage(`{"firstName":"Zoë","lastName":"O'Neil, Jr.","note":"line one\nline two; \"quoted\""}`)},
		{Kind: "addresses", ERPKey: "0000100080/A1", RemoteID: "0000100080/0000100080-A1", Reason: state.ReasonERPDeleted, RunID: run},
		{Kind: "companies", ERPKey: "C9", RemoteID: "C9", Reason: state.ReasonFullSnapshot, RunID: run, PreImage: json.RawMessage(`{"name":"Acme"}`)},
	}
	for _, e := range entries {
		if _, err := st.LogDeletion(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.AckDeletions(ctx, []state.EntityKey{{Kind: "companies", ERPKey: "C9"}}); err != nil {
		t.Fatal(err)
	}

	german := formats.CSVStyle{Delimiter: ';', BOM: true}
	for _, c := range []struct {
		table string
		acked bool
		style formats.CSVStyle
		name  string
	}{
		{ExportMappings, false, formats.CSVStyle{}, "mappings.csv"},
		{ExportMappings, false, german, "mappings-excel.csv"},
		{ExportDeletions, false, formats.CSVStyle{}, "deletions.csv"},
		{ExportDeletions, true, german, "deletions-all-excel.csv"},
	} {
		out := filepath.Join(p.dir, c.name)
		if _, err := Export(ctx, st, nil, ExportOptions{Entities: []string{c.table}, Out: out, IncludeAcked: c.acked, CSV: c.style}); err != nil {
			t.Fatal(err)
		}
		assertGolden(t, out, c.name, p.dir)
	}

	book := filepath.Join(p.dir, "local.xlsx")
	if _, err := Export(ctx, st, nil, ExportOptions{Entities: []string{"mappings,deletions"}, Out: book}); err != nil {
		t.Fatal(err)
	}
	sheets := sheetCells(t, book)
	for table, name := range map[string]string{ExportMappings: "mappings.csv", ExportDeletions: "deletions.csv"} {
		want := sheetCells(t, filepath.Join(p.dir, name))[name[:len(name)-len(".csv")]]
		got := sheets[table]
		if len(got) != len(want) {
			t.Errorf("%s sheet: %d rows, the CSV export %d", table, len(got), len(want))
			continue
		}
		for i := range got {
			if g, w := goldenTime.ReplaceAllString(jsonOf(got[i]), "TIME"), goldenTime.ReplaceAllString(jsonOf(want[i]), "TIME"); g != w {
				t.Errorf("%s sheet row %d: %s, the CSV export %s", table, i, g, w)
			}
		}
	}
}

// TestCheckReportGolden writes the CSV check report of driftedPlatform, with and without a byte-order mark,
// and compares it with its golden file.
func TestCheckReportGolden(t *testing.T) {
	t.Parallel()
	p, rc, st, file := driftedPlatform(t)
	bom := true
	for _, c := range []struct {
		bom  *bool
		name string
	}{{nil, "check-report.csv"}, {&bom, "check-report-bom.csv"}} {
		report := filepath.Join(p.dir, c.name)
		if _, err := Check(context.Background(), st, rc, CheckOptions{Files: []string{file, "../samples/addresses.csv"}, Report: report, ReportBOM: c.bom}); err != nil {
			t.Fatal(err)
		}
		assertGolden(t, report, c.name, p.dir)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
