package formats

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

var goldenHeader = []string{"sdCustomerNumber", "firstName", "lastName", "contactEmail", "street", "note", "gtin"}

var goldenRows = [][]string{
	{"0000123", "Anna", "Müller", "anna@example.com", "Hauptstr. 1", "", "0000123456789012345"},
	{"0000124", "Jean-Luc", "O'Neil, Jr.", "jl@example.com", "Rue \"Haute\" 2", "line one\nline two", "4006381333931"},
	{"0000125", " padded ", "Zoë 🎉", "", "Av. 3; piso 2", "tab\there", "1.23E+15"},
	{"0000126", "=1+2", "#N/A", "x@example.com", "", "", "007"},
}

func writeTable(t *testing.T, path, format string, header []string, rows [][]string) {
	t.Helper()
	writeTableWith(t, path, WriteOptions{Format: format, Sheet: "customers"}, header, rows)
}

func writeTableWith(t *testing.T, path string, opts WriteOptions, header []string, rows [][]string) {
	t.Helper()
	w, err := CreateWith(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
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

func TestCSVWriterGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	writeTable(t, path, "", goldenHeader, goldenRows)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "customers.golden.csv")
	if *updateGolden {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("CSV output differs from %s:\n got: %q\nwant: %q", golden, got, want)
	}
	back := readOne(t, path, Options{})
	if !equalStrings(back.header, goldenHeader) || !equalRows(back.rows, goldenRows) {
		t.Fatalf("read back header %q rows %q", back.header, back.rows)
	}
}

func TestXLSXWriterGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.xlsx")
	writeTable(t, path, "", goldenHeader, goldenRows)
	golden := filepath.Join("testdata", "customers.golden.xlsx")
	if *updateGolden {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// XLSX bytes carry timestamps and zip details; compare cell values.
	for _, p := range []string{path, golden} {
		back := readOne(t, p, Options{})
		if back.name != "customers" || !equalStrings(back.header, goldenHeader) || !equalRows(back.rows, goldenRows) {
			t.Fatalf("%s read back as %q %q %q", p, back.name, back.header, back.rows)
		}
	}
}

func TestRoundTripBothFormats(t *testing.T) {
	header := []string{"id", "text"}
	cells := []string{
		"0001", "a,b", `say "hi"`, "multi\nline", "semi;colon", "tab\tcell", " lead", "trail ",
		"0000123456789012345", "1.5", "-0", "Ünïcödé ✓ 漢字", "#N/A", "TRUE", "2024-01-31", "1E5", "=SUM(A1)",
		"\"", "'quoted'", "€", strings.Repeat("x", 5000),
	}
	var rows [][]string
	for i, c := range cells {
		rows = append(rows, []string{strings.Repeat("0", i%3) + string(rune('A'+i)), c})
	}
	for _, format := range []string{"csv", "xlsx"} {
		path := filepath.Join(t.TempDir(), "round."+format)
		writeTable(t, path, format, header, rows)
		back := readOne(t, path, Options{})
		if !equalStrings(back.header, header) {
			t.Fatalf("%s header %q", format, back.header)
		}
		if !equalRows(back.rows, rows) {
			for i := range rows {
				if i >= len(back.rows) || !equalStrings(rows[i], back.rows[i]) {
					t.Fatalf("%s row %d: wrote %q, read %q", format, i, rows[i], back.rows[min(i, len(back.rows)-1)])
				}
			}
			t.Fatalf("%s: %d rows written, %d read", format, len(rows), len(back.rows))
		}
	}
}

func TestXLSXRoundTripCarriageReturn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cr.xlsx")
	rows := [][]string{{"1", "a\r\nb"}}
	writeTable(t, path, "xlsx", []string{"id", "v"}, rows)
	if back := readOne(t, path, Options{}); !equalRows(back.rows, rows) {
		t.Fatalf("read %q", back.rows)
	}
}

func TestWorkbookMultiSheet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.xlsx")
	wb, err := CreateWorkbook(path)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Abort()
	cust, err := wb.AddSheet("customers", []string{"sdCustomerNumber", "lastName"})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := wb.AddSheet("addresses", []string{"customerKey", "zipCode"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wb.AddSheet("Customers", []string{"x"}); err == nil {
		t.Fatal("duplicate sheet name accepted")
	}
	for _, step := range []struct {
		sw    *SheetWriter
		cells []string
	}{{cust, []string{"001", "A"}}, {addr, []string{"001", "01067"}}, {cust, []string{"002", "B"}}} {
		if err := step.sw.Write(step.cells); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Close(); err != nil {
		t.Fatal(err)
	}
	res := readAll(t, path, Options{})
	if len(res) != 2 || res[0].name != "customers" || res[1].name != "addresses" ||
		!equalRows(res[0].rows, [][]string{{"001", "A"}, {"002", "B"}}) || !equalRows(res[1].rows, [][]string{{"001", "01067"}}) {
		t.Fatalf("read back %+v", res)
	}
}

func TestAtomicWriteAbortAndFailure(t *testing.T) {
	for _, format := range []string{"csv", "xlsx"} {
		dir := t.TempDir()
		target := filepath.Join(dir, "out."+format)
		// A world-readable file from an older custsync: its replacement is private.
		if err := os.WriteFile(target, []byte("previous"), 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := Create(target, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteHeader([]string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Write([]string{"1", "2"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		assertOnlyTarget(t, dir, target, "previous")

		// A failed write poisons the writer: Close reports it and commits nothing.
		w, err = Create(target, "", "")
		if err != nil {
			t.Fatal(err)
		}
		_ = w.WriteHeader([]string{"a", "b"})
		if err := w.Write([]string{"only one"}); err == nil {
			t.Fatal("short row accepted")
		}
		if err := w.Close(); err == nil {
			t.Fatal("Close after a failed Write succeeded")
		}
		assertOnlyTarget(t, dir, target, "previous")

		// A successful Close replaces the target with a private file.
		writeTable(t, target, format, []string{"a"}, [][]string{{"x"}})
		st, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode = %v, want 0600", format, st.Mode().Perm())
		}
		if got := readOne(t, target, Options{}); !equalRows(got.rows, [][]string{{"x"}}) {
			t.Fatalf("%s read back %q", format, got.rows)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("%s: leftover files %v", format, entries)
		}
	}
}

func assertOnlyTarget(t *testing.T, dir, target, content string) {
	t.Helper()
	got, err := os.ReadFile(target)
	if err != nil || string(got) != content {
		t.Fatalf("target = %q, %v; want it untouched", got, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only the target", names)
	}
}

func TestWriterRejectsWhatWouldNotReadBack(t *testing.T) {
	cases := []struct {
		name   string
		format string
		header []string
		row    []string
		want   string
	}{
		{"duplicate header", "csv", []string{"a", "A"}, nil, "appears twice"},
		{"empty header name", "csv", []string{"a", ""}, nil, "no name"},
		{"padded header", "xlsx", []string{" a"}, nil, "white space"},
		{"invalid utf8", "csv", []string{"a"}, []string{"\xff"}, "not valid UTF-8"},
		{"control char", "xlsx", []string{"a"}, []string{"bell\a"}, "control character"},
		{"too long", "xlsx", []string{"a"}, []string{strings.Repeat("é", 32768)}, "at most 32767"},
		{"width", "csv", []string{"a", "b"}, []string{"1", "2", "3"}, "has 3 cells"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Create(filepath.Join(dir, "out"), c.format, "")
			if err != nil {
				t.Fatal(err)
			}
			err = w.WriteHeader(c.header)
			if err == nil && c.row != nil {
				err = w.Write(c.row)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if cerr := w.Close(); cerr == nil {
				t.Fatal("Close committed after an error")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("leftover files: %v", entries)
			}
		})
	}
}

func TestCreateUnknownFormat(t *testing.T) {
	if _, err := Create(filepath.Join(t.TempDir(), "x"), "ods", ""); err == nil {
		t.Fatal("unknown format accepted")
	}
	if _, err := Create(filepath.Join(t.TempDir(), "missing", "x.csv"), "", ""); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing directory: err = %v", err)
	}
}

func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("a", "b,c", "\"q\"")
	f.Add(" ", "x\ny", "0001")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		row := []string{a, b, c}
		for _, s := range row {
			if !strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && r != '\t' && r != '\n' && r != '\r' }) {
				return // all-blank rows are skipped by design
			}
		}
		path := filepath.Join(t.TempDir(), "f.csv")
		w, err := Create(path, "csv", "")
		if err != nil {
			t.Fatal(err)
		}
		_ = w.WriteHeader([]string{"h1", "h2", "h3"})
		if err := w.Write(row); err != nil {
			_ = w.Abort()
			return // invalid UTF-8 is rejected, which is the contract
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		back := readOne(t, path, Options{})
		want := make([]string, 3)
		for i, s := range row {
			want[i] = strings.ReplaceAll(s, "\r\n", "\n") // documented CSV normalisation
		}
		if len(back.rows) != 1 || !equalStrings(back.rows[0], want) {
			t.Fatalf("wrote %q, read %q (errors %v)", row, back.rows, back.rowErrs)
		}
	})
}
