package formats

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

const damageRows = 60

// inlineWorkbook is written by our own writer: inline strings, one sheet
// "customers" in xl/worksheets/sheet1.xml.
func inlineWorkbook(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inline.xlsx")
	var rows [][]string
	for i := 1; i <= damageRows; i++ {
		rows = append(rows, []string{fmt.Sprintf("%04d", i), fmt.Sprintf("Name %04d", i)})
	}
	writeTable(t, path, "xlsx", []string{"id", "name"}, rows)
	return path
}

// sharedWorkbook is written the way spreadsheet programs save: shared
// strings, numbers, and a dimension element that covers every row.
func sharedWorkbook(t testing.TB) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "customers"); err != nil {
		t.Fatal(err)
	}
	_ = f.SetSheetRow("customers", "A1", &[]interface{}{"id", "name", "credit"})
	for i := 1; i <= damageRows; i++ {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("customers", cell, &[]interface{}{fmt.Sprintf("%04d", i), fmt.Sprintf("Name %04d", i), i * 10}); err != nil {
			t.Fatal(err)
		}
	}
	// excelize leaves the dimension at A1; Excel writes the used range.
	if err := f.SetSheetDimension("customers", fmt.Sprintf("A1:C%d", damageRows+1)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shared.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

const sheetMember = "xl/worksheets/sheet1.xml"

// Every kind of damage is a FileError that names the file, the sheet (when
// it concerns one) and what is wrong, and a damaged file never ends in
// io.EOF: a caller can never take its rows for the whole file. (Rows before
// the damage may come first: a checksum can only be verified at the end of
// its member.)
func TestXLSXDamagedFiles(t *testing.T) {
	t.Parallel()
	inline, shared := inlineWorkbook(t), sharedWorkbook(t)
	if rows, err := readUntilError(t, inline, Options{}); err != nil || rows != damageRows {
		t.Fatalf("undamaged inline workbook: %d rows, %v", rows, err)
	}
	if rows, err := readUntilError(t, shared, Options{}); err != nil || rows != damageRows {
		t.Fatalf("undamaged shared workbook: %d rows, %v", rows, err)
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte {
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("%q not in the part", old)
			}
			return bytes.Replace(b, []byte(old), []byte(new), 1)
		}
	}
	cut := func(frac float64) func([]byte) []byte {
		return func(b []byte) []byte { return b[:int(float64(len(b))*frac)] }
	}
	dropLastRow := func(b []byte) []byte {
		i := bytes.LastIndex(b, []byte("<row "))
		j := bytes.Index(b[i:], []byte("</row>"))
		return append(b[:i:i], b[i+j+len("</row>"):]...)
	}
	flipMiddle := func(raw []byte) []byte {
		out := append([]byte(nil), raw...)
		for i := len(out) / 2; i < len(out)/2+16; i++ {
			out[i] ^= 0x55
		}
		return out
	}
	cases := []struct {
		name      string
		path      func() string
		sheet     string // the FileError's sheet ("" for the workbook)
		wantParts []string
	}{
		{"raw ampersand in a sheet cell", func() string {
			return rewriteMember(t, inline, sheetMember, replace("Name 0030", "Smith & Sons"))
		}, "customers", []string{sheetMember, "not well-formed", "'&'", "row 31"}},
		{"sheet XML cut off mid-row", func() string { return rewriteMember(t, inline, sheetMember, cut(0.6)) }, "customers",
			[]string{sheetMember, "ends early", "incomplete"}},
		{"sheet XML cut off inside a tag", func() string {
			return rewriteMember(t, inline, sheetMember, func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("<row "))+3] })
		}, "customers", []string{sheetMember, "incomplete"}},
		{"rows end before the dimension", func() string { return rewriteMember(t, shared, sheetMember, dropLastRow) }, "customers",
			[]string{"its dimension says the cells reach row 61", "end at row 60", "incomplete"}},
		{"sheet checksum mismatch", func() string {
			return rewriteRaw(t, inline, sheetMember, func(fh *zip.FileHeader) { fh.CRC32 ^= 0xdeadbeef }, nil)
		}, "customers", []string{sheetMember, "checksum"}},
		{"sheet deflate data damaged", func() string { return rewriteRaw(t, inline, sheetMember, nil, flipMiddle) }, "customers",
			[]string{sheetMember, "damaged"}},
		{"sheet deflate data cut off", func() string { return rewriteRaw(t, inline, sheetMember, nil, cut(0.5)) }, "customers",
			[]string{sheetMember, "damaged"}},
		{"sheet longer than its declared size", func() string {
			return rewriteRaw(t, inline, sheetMember, func(fh *zip.FileHeader) { fh.UncompressedSize64 /= 2 }, nil)
		}, "customers", []string{sheetMember, "damaged"}},
		{"shared strings with a raw ampersand", func() string {
			return rewriteMember(t, shared, "xl/sharedStrings.xml", replace("Name 0030", "Smith & Sons"))
		}, "", []string{"shared-string table", "xl/sharedStrings.xml", "not well-formed"}},
		{"shared strings cut off", func() string { return rewriteMember(t, shared, "xl/sharedStrings.xml", cut(0.7)) }, "",
			[]string{"shared-string table", "ends early"}},
		{"shared strings checksum mismatch", func() string {
			return rewriteRaw(t, shared, "xl/sharedStrings.xml", func(fh *zip.FileHeader) { fh.CRC32++ }, nil)
		}, "", []string{"xl/sharedStrings.xml", "checksum"}},
		{"cell refers past the shared strings", func() string {
			return rewriteMember(t, shared, sheetMember, func(b []byte) []byte {
				i := bytes.LastIndex(b, []byte(`t="s"><v>`)) + len(`t="s"><v>`)
				return append(append(b[:i:i], "99999"...), b[bytes.IndexByte(b[i:], '<')+i:]...)
			})
		}, "customers", []string{"shared string 99999", "row 61"}},
		{"shared strings declared larger than accepted", func() string {
			return rewriteRaw(t, shared, "xl/sharedStrings.xml", func(fh *zip.FileHeader) { fh.UncompressedSize64 = 3 << 30 }, nil)
		}, "", []string{"xl/sharedStrings.xml", "3072 MiB", "more than the 2048 MiB"}},
		{"workbook part checksum mismatch", func() string {
			return rewriteRaw(t, inline, "xl/workbook.xml", func(fh *zip.FileHeader) { fh.CRC32++ }, nil)
		}, "", []string{"xl/workbook.xml", "checksum"}},
		{"styles not well-formed", func() string {
			return rewriteMember(t, shared, "xl/styles.xml", cut(0.5))
		}, "", []string{"xl/styles.xml", "ends early"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path()
			rows, err := readUntilError(t, path, Options{})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("after %d rows: %v (%T), want a FileError", rows, err, err)
			}
			if fe.Sheet != c.sheet {
				t.Errorf("FileError sheet %q, want %q: %v", fe.Sheet, c.sheet, err)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, filepath.Base(fe.Path)) {
				t.Errorf("message does not name the file: %s", msg)
			}
			for _, part := range c.wantParts {
				if !strings.Contains(msg, part) {
					t.Errorf("message lacks %q: %s", part, msg)
				}
			}
		})
	}
}

// A FileError from Next is sticky: the table never recovers into io.EOF.
func TestXLSXDamageIsSticky(t *testing.T) {
	t.Parallel()
	path := rewriteMember(t, inlineWorkbook(t), sheetMember, func(b []byte) []byte { return b[:len(b)*3/4] })
	tables, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(tables)
	var first error
	for first == nil {
		_, first = tables[0].Next()
	}
	if first == io.EOF {
		t.Fatal("a cut-off sheet ended in io.EOF")
	}
	for i := 0; i < 3; i++ {
		if _, err := tables[0].Next(); err != first {
			t.Fatalf("Next after a FileError: %v, want %v", err, first)
		}
	}
}

// Malformed structure that a spreadsheet program never writes and that would
// put data in the wrong place is an error, not a guess.
func TestXLSXStructureErrors(t *testing.T) {
	t.Parallel()
	header := `<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>`
	cases := map[string]struct{ rows, want string }{
		"rows out of order":       {header + `<row r="3"><c r="A3"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>`, "row 2 follows row 3"},
		"cells out of order":      {header + `<row r="2"><c r="B2"><v>1</v></c><c r="A2"><v>2</v></c></row>`, "cell A2 follows cell B2"},
		"bad cell reference":      {header + `<row r="2"><c r="2A"><v>1</v></c></row>`, `reference "2A"`},
		"row beyond the sheet":    {header + `<row r="1048577"><c><v>1</v></c></row>`, "beyond the last row"},
		"mismatched tags":         {header + `<row r="2"><c r="A2"><v>1</c></v></row>`, "<v> is closed by </c>"},
		"unknown entity":          {header + `<row r="2"><c r="A2" t="inlineStr"><is><t>a&nbsp;b</t></is></c></row>`, "&nbsp;"},
		"control character":       {header + "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>a\x01b</t></is></c></row>", "control character"},
		"invalid UTF-8":           {header + "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>a\xffb</t></is></c></row>", "invalid UTF-8"},
		"bad character reference": {header + `<row r="2"><c r="A2" t="inlineStr"><is><t>&#0;</t></is></c></row>`, "character reference"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := oneSheet(t, sheetXML("", c.rows), "", "")
			_, err := readUntilError(t, path, Options{})
			var fe *FileError
			if !errors.As(err, &fe) || fe.Sheet != "data" || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a FileError containing %q", err, c.want)
			}
		})
	}
	// A DTD (entity expansion) is refused outright.
	path := oneSheet(t, `<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaa">]>`+sheetXML("", header)[len(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`)+1:], "", "")
	if _, err := readUntilError(t, path, Options{}); err == nil || !strings.Contains(err.Error(), "DTD") {
		t.Fatalf("DTD: %v", err)
	}
}
