package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"custsync/formats"
	syncer "custsync/sync"
)

// assertGermanExcelCSV checks that a CSV file is what German Excel opens correctly: UTF-8 with a BOM,
// separated by ';', with the given header.
func assertGermanExcelCSV(t *testing.T, path string, header []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("\ufeff")) {
		t.Errorf("%s has no BOM", filepath.Base(path))
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(string(raw), "\ufeff"), "\n")
	if want := strings.Join(header, ";"); first != want {
		t.Errorf("%s header line %q, want %q", filepath.Base(path), first, want)
	}
}

// TestCSVOutputsRoundTripWithBOMAndSemicolon writes every kind of CSV output with --bom --delimiter ';'
// (exports, result files, the deletion log, the mappings, the check report) and reads each back with
// custsync: an export re-imports unchanged and migrates to another tenant, a fixed error file imports,
// the deletion log export is acknowledged, the mappings and the report read back as written.
func TestCSVOutputsRoundTripWithBOMAndSemicolon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	mustRun := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != want {
			t.Fatalf("%s: code %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out
	}
	excel := []string{"--bom", "--delimiter", ";"}

	// Exports, re-imported into the same tenant (no change) and into another one (everything created).
	var exports []string
	for _, e := range []string{"customers", "addresses"} {
		out := filepath.Join(dir, e+".csv")
		mustRun(ExitOK, sandboxArgs(dir, append([]string{"export", "--entity", e, "--out", out}, excel...)...)...)
		exports = append(exports, out)
	}
	custHeader, custRows := readTable(t, exports[0], "")
	assertGermanExcelCSV(t, exports[0], custHeader)
	if out := mustRun(ExitOK, sandboxArgs(dir, append([]string{"import"}, exports...)...)...); !strings.Contains(out, "0 created, 0 updated, 64 unchanged") {
		t.Fatalf("re-import of the export:\n%s", out)
	}
	other := t.TempDir()
	if out := mustRun(ExitOK, sandboxArgs(other, append([]string{"import"}, exports...)...)...); !strings.Contains(out, "64 created") {
		t.Fatalf("import into another tenant:\n%s", out)
	}

	// Result files: a row with a bad e-mail fails; its error file keeps the dialect and, fixed, imports.
	email := slices.Index(custHeader, "contactEmail")
	bad := slices.Clone(custRows[0])
	bad[email] = "not-an-email"
	input := filepath.Join(dir, "in", "customers.csv")
	writeCSV(t, input, formats.CSVStyle{Delimiter: ';', BOM: true}, custHeader, [][]string{bad})
	results := filepath.Join(dir, "results")
	mustRun(ExitPartial, sandboxArgs(dir, "import", "--results", results, "--bom", "--delimiter", ";", input)...)
	errFile := filepath.Join(results, "customers.errors.csv")
	errHeader, errRows := readTable(t, errFile, "")
	assertGermanExcelCSV(t, errFile, errHeader)
	if len(errRows) != 1 || !strings.Contains(errRows[0][len(errRows[0])-1], "contactEmail") {
		t.Fatalf("error file rows %q", errRows)
	}
	errRows[0][email] = custRows[0][email]
	writeCSV(t, errFile, formats.CSVStyle{Delimiter: ';', BOM: true}, errHeader, errRows)
	if out := mustRun(ExitOK, sandboxArgs(dir, "import", errFile)...); !strings.Contains(out, "0 failed") {
		t.Fatalf("fixed error file:\n%s", out)
	}

	// The deletion log: a full import without the last customer deletes it; the export is acknowledged.
	full := filepath.Join(dir, "full", "customers.csv")
	writeCSV(t, full, formats.CSVStyle{Delimiter: ';', BOM: true}, custHeader, custRows[:len(custRows)-1])
	mustRun(ExitOK, sandboxArgs(dir, "import", "--mode", "full", "--max-delete", "1", full)...)
	deletions := filepath.Join(dir, "deletions.csv")
	mustRun(ExitOK, append([]string{"--state", filepath.Join(dir, "state.db"), "deletions", "export", "--out", deletions}, excel...)...)
	assertGermanExcelCSV(t, deletions, syncer.DeletionColumns)
	if out := mustRun(ExitOK, "--state", filepath.Join(dir, "state.db"), "deletions", "ack", deletions); !strings.Contains(out, "1") {
		t.Fatalf("ack:\n%s", out)
	}
	if out := mustRun(ExitOK, "--state", filepath.Join(dir, "state.db"), "deletions", "list"); strings.Contains(out, custRows[len(custRows)-1][0]) {
		t.Fatalf("the acknowledged deletion is still listed:\n%s", out)
	}

	// The mappings read back as written.
	mappings := filepath.Join(dir, "mappings.csv")
	mustRun(ExitOK, append([]string{"--state", filepath.Join(dir, "state.db"), "mappings", "export", "--out", mappings}, excel...)...)
	assertGermanExcelCSV(t, mappings, syncer.MappingColumns)
	if _, rows := readTable(t, mappings, ""); len(rows) != len(custRows)-1 {
		t.Fatalf("%d mappings for %d customers", len(rows), len(custRows)-1)
	}

	// The check report follows its ';' input and takes the BOM.
	report := filepath.Join(dir, "check.csv")
	mustRun(ExitOK, sandboxArgs(dir, "check", "--report", report, "--bom", full)...)
	assertGermanExcelCSV(t, report, syncer.CheckColumns)
	if _, rows := readTable(t, report, ""); len(rows) != len(custRows)-1 {
		t.Fatalf("%d report rows", len(rows))
	}
}

// TestResultFilesFollowAWindows1252Input imports the cp1252, ';'-separated sample as German Excel saves it:
// without any flag the result file is UTF-8 with a BOM and ';', and its umlauts survive.
func TestResultFilesFollowAWindows1252Input(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--results", results, "../../samples/messy/customers-cp1252.csv")...)
	if code != ExitOK && code != ExitPartial {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	success := filepath.Join(results, "customers-cp1252.success.csv")
	header, rows := readTable(t, success, "")
	assertGermanExcelCSV(t, success, header)
	raw, _ := os.ReadFile(success)
	if !strings.Contains(string(raw), "Jürgen;Müller") || len(rows) == 0 {
		t.Fatalf("umlauts lost:\n%s", raw)
	}
	// --bom=false wins over the input (a fresh tenant, so that there is something to report).
	other := t.TempDir()
	code, _, errOut = runCLI(t, sandboxArgs(other, "import", "--results", other, "--bom=false", "../../samples/messy/customers-cp1252.csv")...)
	if code != ExitOK && code != ExitPartial {
		t.Fatalf("code %d %s", code, errOut)
	}
	raw, err := os.ReadFile(filepath.Join(other, "customers-cp1252.success.csv"))
	if err != nil || bytes.HasPrefix(raw, []byte("\ufeff")) || !strings.Contains(string(raw), "Jürgen;Müller") {
		t.Fatalf("--bom=false: %v\n%s", err, raw)
	}
}

// writeCSV writes a CSV file in the given style, creating its directory.
func writeCSV(t *testing.T, path string, style formats.CSVStyle, header []string, rows [][]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := formats.CreateWith(path, formats.WriteOptions{Format: "csv", CSV: style})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(header); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestXLSXResultFilesHaveAFrozenFilteredHeader: an XLSX error file opens in Excel with its header bold,
// frozen and filterable, like every XLSX custsync writes.
func TestXLSXResultFilesHaveAFrozenFilteredHeader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,contactEmail\n1,Ann,ann@example.com\n2,Bob,not-an-email\n")
	results := filepath.Join(dir, "results")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--results", results, "--format", "xlsx", in)...); code != ExitPartial {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	// Three input columns plus five error columns, or plus four success columns; one data row each.
	for name, ref := range map[string]string{"customers.errors.xlsx": "$A$1:$H$2", "customers.success.xlsx": "$A$1:$G$2"} {
		f, err := excelize.OpenFile(filepath.Join(results, name))
		if err != nil {
			t.Fatal(err)
		}
		sheet := f.GetSheetList()[0]
		if panes, _ := f.GetPanes(sheet); !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: header not frozen", name)
		}
		filtered := false
		for _, dn := range f.GetDefinedName() {
			filtered = filtered || (dn.Name == "_xlnm._FilterDatabase" && dn.Scope == sheet && strings.HasSuffix(dn.RefersTo, ref))
		}
		if !filtered {
			t.Errorf("%s: no autofilter over the rows: %v", name, f.GetDefinedName())
		}
		id, _ := f.GetCellStyle(sheet, "A1")
		if st, _ := f.GetStyle(id); st == nil || st.Font == nil || !st.Font.Bold {
			t.Errorf("%s: header not bold", name)
		}
		f.Close()
	}
}
