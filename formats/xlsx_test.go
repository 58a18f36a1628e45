package formats

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// buildWorkbook writes a workbook the way other tools do (not through our
// writer): shared strings, typed numbers, gaps, hidden and empty sheets.
func buildWorkbook(t *testing.T) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "customers"))
	must(f.SetSheetRow("customers", "A1", &[]interface{}{"sdCustomerNumber", " firstName ", "amount", "zip"}))
	must(f.SetSheetRow("customers", "A2", &[]interface{}{"0000123", "Anna", 1234.5, "01067"}))
	// Row 3 missing entirely, row 4 blank cells only, then a number Excel
	// stores as a double and a long numeric text.
	must(f.SetCellValue("customers", "A4", ""))
	must(f.SetSheetRow("customers", "A5", &[]interface{}{"0000123456789012345", "Zoë\nTwo lines", int64(12345678901234567), nil}))
	must(f.SetSheetRow("customers", "A6", &[]interface{}{"7", "extra", "", "", "boom"}))
	must(f.SetSheetRow("customers", "A7", &[]interface{}{"8", "short"}))
	_, err := f.NewSheet("Empty")
	must(err)
	_, err = f.NewSheet("lists")
	must(err)
	must(f.SetSheetRow("lists", "A1", &[]interface{}{"code"}))
	must(f.SetSheetVisible("lists", false))
	_, err = f.NewSheet("addresses")
	must(err)
	must(f.SetSheetRow("addresses", "B3", &[]interface{}{"customerKey", "city"}))
	must(f.SetSheetRow("addresses", "B4", &[]interface{}{"0000123", "Köln"}))
	path := filepath.Join(t.TempDir(), "book.xlsx")
	must(f.SaveAs(path))
	return path
}

func TestXLSXMultiSheet(t *testing.T) {
	path := buildWorkbook(t)
	res := readAll(t, path, Options{})
	if len(res) != 2 || res[0].name != "customers" || res[1].name != "addresses" {
		t.Fatalf("tables = %+v", res)
	}
	c := res[0]
	if !equalStrings(c.header, []string{"sdCustomerNumber", "firstName", "amount", "zip"}) {
		t.Fatalf("header = %q", c.header)
	}
	wantRows := [][]string{
		{"0000123", "Anna", "1234.5", "01067"},
		{"0000123456789012345", "Zoë\nTwo lines", "12345678901234567", ""},
		{"8", "short", "", ""},
	}
	if !equalRows(c.rows, wantRows) {
		t.Fatalf("rows = %q, want %q", c.rows, wantRows)
	}
	if fmt.Sprint(c.lines) != "[2 5 7]" {
		t.Fatalf("lines = %v", c.lines)
	}
	if len(c.rowErrs) != 1 || c.rowErrs[0].Pos.Line != 6 ||
		!strings.Contains(c.rowErrs[0].Error(), `book.xlsx, sheet "customers", row 6: row has 5 cells but the header has 4 columns`) {
		t.Fatalf("row errors = %v", c.rowErrs)
	}
	a := res[1]
	if !equalStrings(a.header, []string{"customerKey", "city"}) || !equalRows(a.rows, [][]string{{"0000123", "Köln"}}) || a.lines[0] != 4 {
		t.Fatalf("addresses = %+v", a)
	}
}

func TestXLSXSheetSelection(t *testing.T) {
	path := buildWorkbook(t)
	got := readOne(t, path, Options{Sheet: "ADDRESSES"})
	if got.name != "addresses" {
		t.Fatalf("name = %q", got.name)
	}
	got = readOne(t, path, Options{Sheet: "lists"}) // hidden, but asked for
	if !equalStrings(got.header, []string{"code"}) {
		t.Fatalf("header = %q", got.header)
	}
	var fe *FileError
	_, err := Open(path, Options{Sheet: "nope"})
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `no sheet named "nope"`) || !strings.Contains(err.Error(), `"customers"`) {
		t.Fatalf("err = %v", err)
	}
	_, err = Open(path, Options{Sheet: "Empty"})
	if !errors.As(err, &fe) || fe.Sheet != "Empty" {
		t.Fatalf("err = %v", err)
	}
}

func TestXLSXHeaderError(t *testing.T) {
	f := excelize.NewFile()
	if err := f.SetSheetRow("Sheet1", "A1", &[]interface{}{"id", "name", "ID"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dup.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	_, err := Open(path, Options{})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Sheet != "Sheet1" || fe.Line != 1 || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("err = %v", err)
	}
}

func TestXLSXAllSheetsEmpty(t *testing.T) {
	f := excelize.NewFile()
	path := filepath.Join(t.TempDir(), "empty.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	_, err := Open(path, Options{})
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "no sheet with a header row") {
		t.Fatalf("err = %v", err)
	}
}

func TestXLSXTablesCloseIndependently(t *testing.T) {
	tables, err := Open(buildWorkbook(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Read the second sheet before the first and close them out of order.
	second := readTable(t, tables[1])
	if err := tables[1].Close(); err != nil {
		t.Fatal(err)
	}
	first := readTable(t, tables[0])
	if len(second.rows) != 1 || len(first.rows) != 3 {
		t.Fatalf("first %d rows, second %d rows", len(first.rows), len(second.rows))
	}
	if err := tables[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tables[0].Next(); err == nil {
		t.Fatal("Next after Close succeeded")
	}
}

func TestTemplateHeaderOnly(t *testing.T) {
	header := []string{"sdCustomerNumber", "b2b.companyRegistrationId", "mixins.loyalty.level"}
	for _, format := range []string{"csv", "xlsx"} {
		path := filepath.Join(t.TempDir(), "template."+format)
		writeTable(t, path, format, header, nil)
		got := readOne(t, path, Options{})
		if !equalStrings(got.header, header) || len(got.rows) != 0 {
			t.Fatalf("%s: header %q rows %q", format, got.header, got.rows)
		}
	}
}

func FuzzXLSXReader(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.xlsx")
	w, err := Create(seed, "xlsx", "customers")
	if err != nil {
		f.Fatal(err)
	}
	_ = w.WriteHeader([]string{"id", "name"})
	_ = w.Write([]string{"0001", "Anna"})
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	// Damaged shapes: a raw '&', a cut-off sheet, a checksum that does not
	// match, a cell past the shared strings.
	damaged := []string{
		seed,
		rewriteMember(f, seed, sheetMember, func(b []byte) []byte { return bytes.Replace(b, []byte("Anna"), []byte("A & B"), 1) }),
		rewriteMember(f, seed, sheetMember, func(b []byte) []byte { return b[:len(b)*2/3] }),
		rewriteRaw(f, seed, sheetMember, func(fh *zip.FileHeader) { fh.CRC32++ }, nil),
		rewriteMember(f, seed, sheetMember, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`t="inlineStr"><is><t>Anna</t></is>`), []byte(`t="s"><v>3</v>`), 1)
		}),
	}
	for _, path := range damaged {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.xlsx")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		tables, err := Open(path, Options{})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Open error is not a FileError: %v", err)
			}
			return
		}
		defer CloseAll(tables)
		for _, tab := range tables {
			for {
				row, err := tab.Next()
				if err != nil {
					var re *RowError
					if errors.As(err, &re) {
						continue
					}
					var fe *FileError
					if err != io.EOF && !errors.As(err, &fe) {
						t.Fatalf("Next error is neither io.EOF, a RowError nor a FileError: %v", err)
					}
					break
				}
				if len(row.Cells) != len(tab.Header()) {
					t.Fatalf("row has %d cells, header %d", len(row.Cells), len(tab.Header()))
				}
			}
		}
	})
}

func TestTemplateColumnsAreText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "template.xlsx")
	writeTable(t, path, "xlsx", []string{"sdCustomerNumber", "zipCode"}, nil)
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, col := range []string{"A", "B"} {
		id, err := f.GetColStyle("customers", col)
		if err != nil {
			t.Fatal(err)
		}
		style, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		if style.NumFmt != 49 {
			t.Fatalf("column %s number format = %d, want 49 (Text)", col, style.NumFmt)
		}
	}
}

// Large parts stream through many refills of the tokenizer's buffer, and a
// shared-string table larger than its memory budget moves to a temporary
// file that is gone once the workbook is closed. (Not parallel: it lowers
// the package's memory budget and sets TMPDIR.)
func TestXLSXLargeParts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds multi-megabyte workbooks")
	}
	const rows = 12000
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SetRow("A1", []interface{}{"id", "name", "note"}); err != nil {
		t.Fatal(err)
	}
	f2 := excelize.NewFile()
	_ = f2.SetSheetRow("Sheet1", "A1", &[]interface{}{"id", "name"})
	for i := 1; i <= rows; i++ {
		id := fmt.Sprintf("%08d", i)
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := sw.SetRow(cell, []interface{}{id, "Name " + id, strings.Repeat("n", 80)}); err != nil {
			t.Fatal(err)
		}
		// Non-streaming SetSheetRow puts strings into the shared-string table.
		if err := f2.SetSheetRow("Sheet1", cell, &[]interface{}{id, "Unique name number " + id + strings.Repeat("x", 60)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	inline, shared := filepath.Join(dir, "inline.xlsx"), filepath.Join(dir, "shared.xlsx")
	if err := f.SaveAs(inline); err != nil {
		t.Fatal(err)
	}
	if err := f2.SaveAs(shared); err != nil {
		t.Fatal(err)
	}
	_, _ = f.Close(), f2.Close()
	for path, part := range map[string]string{inline: "xl/worksheets/sheet1.xml", shared: "xl/sharedStrings.xml"} {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, zf := range zr.File {
			if zf.Name == part && zf.UncompressedSize64 <= 4*xmlReadBuffer {
				t.Fatalf("%s in %s is only %d bytes; the test would not cover buffer refills", part, path, zf.UncompressedSize64)
			}
		}
		_ = zr.Close()
	}
	check := func(path string) [][]string {
		t.Helper()
		got := readOne(t, path, Options{})
		if len(got.rows) != rows {
			t.Fatalf("%s: %d rows", path, len(got.rows))
		}
		for _, i := range []int{0, rows / 2, rows - 1} {
			if want := fmt.Sprintf("%08d", i+1); got.rows[i][0] != want || !strings.Contains(got.rows[i][1], want) || got.lines[i] != i+2 {
				t.Fatalf("%s row %d = %q at line %d", path, i, got.rows[i], got.lines[i])
			}
		}
		return got.rows
	}
	check(inline)
	inMemory := check(shared)

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	text, index := sstMemText, sstMemIndex
	sstMemText, sstMemIndex = 4096, 256
	defer func() { sstMemText, sstMemIndex = text, index }()
	tables, err := Open(shared, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sst := tables[0].(*xlsxTable).wb.sst
	if sst.text.file == nil || sst.index.file == nil {
		t.Fatal("the shared strings did not move to a temporary file")
	}
	if err := CloseAll(tables); err != nil {
		t.Fatal(err)
	}
	if !equalRows(check(shared), inMemory) {
		t.Fatal("the spilled shared strings read differently")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// The spreadsheet-saved benchmark workbook (shared strings, a padded numeric
// key) reads exactly like the one custsync writes, also when its shared
// strings are read back from a temporary file. (Not parallel: it lowers the
// memory budget.)
func TestXLSXSharedBenchFixture(t *testing.T) {
	const rows = 3000
	dir := t.TempDir()
	inline, shared := filepath.Join(dir, "inline.xlsx"), filepath.Join(dir, "shared.xlsx")
	if err := buildBenchXLSX(rows)(inline); err != nil {
		t.Fatal(err)
	}
	if err := buildBenchXLSXShared(rows)(shared); err != nil {
		t.Fatal(err)
	}
	want := readOne(t, inline, Options{})
	text, index := sstMemText, sstMemIndex
	defer func() { sstMemText, sstMemIndex = text, index }()
	for _, limit := range []int{text, 1024} {
		sstMemText, sstMemIndex = limit, limit/4
		got := readOne(t, shared, Options{})
		if !equalStrings(got.header, want.header) || !equalRows(got.rows, want.rows) || len(got.rows) != rows {
			t.Fatalf("memory limit %d: %d rows, first %q, want %q", limit, len(got.rows), got.rows[:1], want.rows[:1])
		}
	}
}
