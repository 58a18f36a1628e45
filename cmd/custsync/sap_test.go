package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"custsync/formats"
	"custsync/sandbox"
)

const (
	sapMapping = "../../samples/mappings/sap-sd.yaml"
	sapExport  = "../../samples/sap/KNA1_20261201.csv"
)

// saveLikeASpreadsheet writes the rows of a KNA1 CSV export into an XLSX workbook the way a spreadsheet program
// saves a CSV it opened: one sheet named after the file, numbers stored as numbers (so KUNNR 0000100080 becomes
// the number 100080 and loses its zeros, KLIMK 50.000,00 becomes 50000), dates as date serials with a date
// format, everything else as text.
func saveLikeASpreadsheet(t *testing.T, csvPath, xlsxPath string) {
	t.Helper()
	tables, err := formats.Open(csvPath, formats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer formats.CloseAll(tables)
	tab := tables[0]
	f := excelize.NewFile()
	defer f.Close()
	sheet := strings.TrimSuffix(filepath.Base(xlsxPath), filepath.Ext(xlsxPath))
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		t.Fatal(err)
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	header := tab.Header()
	for c, name := range header {
		cell, _ := excelize.CoordinatesToCellName(c+1, 1)
		if err := f.SetCellStr(sheet, cell, name); err != nil {
			t.Fatal(err)
		}
	}
	for r := 2; ; r++ {
		row, err := tab.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for c, v := range row.Cells {
			cell, _ := excelize.CoordinatesToCellName(c+1, r)
			switch name := header[c]; {
			case name == "KLIMK":
				n, err := strconv.ParseFloat(strings.ReplaceAll(strings.ReplaceAll(v, ".", ""), ",", "."), 64)
				if err != nil {
					t.Fatal(err)
				}
				err = f.SetCellFloat(sheet, cell, n, -1, 64)
				if err != nil {
					t.Fatal(err)
				}
			case name == "ERDAT":
				d, err := time.Parse("02.01.2006", v)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.SetCellValue(sheet, cell, d); err != nil {
					t.Fatal(err)
				}
				if err := f.SetCellStyle(sheet, cell, cell, dateStyle); err != nil {
					t.Fatal(err)
				}
			case v != "" && strings.Trim(v, "0123456789") == "" && len(v) < 16:
				n, _ := strconv.Atoi(v) // digits only: the spreadsheet makes it a number
				if err := f.SetCellInt(sheet, cell, int64(n)); err != nil {
					t.Fatal(err)
				}
			default:
				if err := f.SetCellStr(sheet, cell, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := f.SaveAs(xlsxPath); err != nil {
		t.Fatal(err)
	}
}

// importReport runs an import with --json (added before the last argument, the file) and returns its exit
// code and report.
func importReport(t *testing.T, args ...string) (int, map[string]any, string) {
	t.Helper()
	last := len(args) - 1
	code, out, errOut := runCLI(t, append(append(args[:last:last], "--json"), args[last])...)
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("code %d, no JSON report: %v\n%s%s", code, err, out, errOut)
	}
	return code, rep, out + errOut
}

// writes counts the requests that change the platform.
func writes(srv *sandbox.Server) (n int, paths []string) {
	for _, r := range srv.Requests() {
		switch r.Method {
		case "PUT", "POST", "PATCH", "DELETE":
			if r.Path == "/oauth/token" {
				continue
			}
			n++
			paths = append(paths, r.Method+" "+r.Path)
		}
	}
	return n, paths
}

// TestSAPSampleReadsRealExports imports a dated, wider, Windows-1252 KNA1 export with the shipped SAP mapping,
// then the same export as a spreadsheet program saves it (KUNNR as numbers without their zeros): the second
// and third runs write nothing, no request ever names a customer without its zeros, and the error file of
// the first run, fixed, imports with the same mapping.
func TestSAPSampleReadsRealExports(t *testing.T) {
	t.Parallel()
	srv, global, dir := servedTenant(t, "sap")
	results := filepath.Join(dir, "results")
	importArgs := append(append([]string{}, global...), "import", "--tps", "0", "--mapping", sapMapping)

	// The export has a bad country (row 9) and a duplicate KUNNR (row 11): both are row errors, the rest lands.
	code, rep, out := importReport(t, append(importArgs, "--results", results, sapExport)...)
	if code != ExitPartial || rep["created"] != 15.0 || rep["failed"] != 3.0 || rep["ignored"] != 2.0 ||
		!strings.Contains(out, `value \"XY\": not an ISO 3166-1`) || !strings.Contains(out, `duplicate customers key \"0000100094\"`) {
		t.Fatalf("first import: code %d\n%s", code, out)
	}

	srv.ResetRequests()
	code, rep, out = importReport(t, append(importArgs, sapExport)...)
	if n, paths := writes(srv); code != ExitPartial || rep["unchanged"] != 15.0 || n != 0 {
		t.Fatalf("second import of the same export: code %d, %d writes %v\n%s", code, n, paths, out)
	}

	xlsx := filepath.Join(dir, "KNA1_20261201.xlsx")
	saveLikeASpreadsheet(t, sapExport, xlsx)
	srv.ResetRequests()
	code, rep, out = importReport(t, append(importArgs, xlsx)...)
	if n, paths := writes(srv); code != ExitPartial || rep["unchanged"] != 15.0 || rep["created"] != 0.0 || n != 0 {
		t.Fatalf("spreadsheet-saved export: code %d, %d writes %v\n%s", code, n, paths, out)
	}
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "/1000") && !strings.Contains(r.Path, "/00001000") {
			t.Errorf("a request names a customer without its zeros: %s %s", r.Method, r.Path)
		}
	}

	// The error file, fixed (the country corrected, the duplicate dropped), goes back in with the same mapping.
	// It keeps the export's ';' (and, the export being Windows-1252, is UTF-8 with a BOM).
	errFile := filepath.Join(results, "KNA1_20261201.errors.csv")
	data, err := os.ReadFile(errFile)
	if err != nil {
		t.Fatal(err)
	}
	var fixed []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.Contains(line, "Dublette") {
			continue
		}
		fixed = append(fixed, strings.Replace(line, ";XY;", ";DE;", 1))
	}
	if len(fixed) != 2 {
		t.Fatalf("error file:\n%s", data)
	}
	if err := os.WriteFile(errFile, []byte(strings.Join(fixed, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	code, rep, out = importReport(t, append(importArgs, errFile)...)
	if n, _ := writes(srv); code != ExitOK || rep["created"] != 1.0 || rep["unchanged"] != 1.0 || n != 1 {
		t.Fatalf("fixed error file: code %d, %d writes\n%s", code, n, out)
	}
}

// TestSAPMappingNamesItsTablesWhenNoneMatch: a KNA1 export under another name stops before anything is sent,
// and the message names the mapping's tables, the file and the fix.
func TestSAPMappingNamesItsTablesWhenNoneMatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, err := os.ReadFile(sapExport)
	if err != nil {
		t.Fatal(err)
	}
	renamed := filepath.Join(dir, "Debitoren_Export.csv")
	if err := os.WriteFile(renamed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, sandboxArgs(dir, "import", "--mapping", sapMapping, renamed)...)
	if code != ExitUsage || !strings.Contains(errOut, "the mapping's tables are KNA1*") || !strings.Contains(errOut, `"Debitoren_Export.csv"`) ||
		!strings.Contains(errOut, "rename the file") {
		t.Fatalf("code %d, want %d\n%s", code, ExitUsage, errOut)
	}
}
