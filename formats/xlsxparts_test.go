package formats

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Helpers that build workbooks from hand-written XML parts, and damage
// workbooks written by excelize, so tests can say exactly what the reader is
// given.

const (
	nsMain = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	nsRel  = `xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
)

// sheetXML wraps sheetData content (rows) in a worksheet part.
func sheetXML(dimension, rows string) string {
	dim := ""
	if dimension != "" {
		dim = `<dimension ref="` + dimension + `"/>`
	}
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet ` + nsMain + ` ` + nsRel + `>` + dim + `<sheetData>` + rows + `</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>`
}

// sstXML builds a shared-string part from raw <si> contents.
func sstXML(items ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<sst ` + nsMain + `>`)
	for _, it := range items {
		b.WriteString("<si>" + it + "</si>")
	}
	b.WriteString("</sst>")
	return b.String()
}

// stylesXML builds a style part with the given custom number formats (id ->
// code) and cell styles (the numFmtId of each xf, index = the s attribute).
func stylesXML(numFmts map[int]string, xfNumFmts ...int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<styleSheet ` + nsMain + `>`)
	if len(numFmts) > 0 {
		ids := make([]int, 0, len(numFmts))
		for id := range numFmts {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		b.WriteString(`<numFmts>`)
		for _, id := range ids {
			code := strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;").Replace(numFmts[id])
			b.WriteString(`<numFmt numFmtId="` + strconv.Itoa(id) + `" formatCode="` + code + `"/>`)
		}
		b.WriteString(`</numFmts>`)
	}
	b.WriteString(`<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs>`)
	b.WriteString(`<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>`)
	for _, id := range xfNumFmts {
		b.WriteString(`<xf numFmtId="` + strconv.Itoa(id) + `" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>`)
	}
	b.WriteString(`</cellXfs></styleSheet>`)
	return b.String()
}

// testSheet is one sheet of a hand-built workbook.
type testSheet struct {
	name   string
	state  string // "", "hidden"
	xml    string
	chart  bool // a chart sheet
	member string
}

// writeXLSXParts writes a workbook of the given sheets, with optional shared
// strings and styles ("" leaves the part out), the way Excel lays it out.
func writeXLSXParts(t testing.TB, sheets []testSheet, sst, styles string) string {
	t.Helper()
	parts := map[string]string{}
	var wbSheets, wbRels, types strings.Builder
	for i, s := range sheets {
		n := string(rune('1' + i))
		kind, dir := "worksheet", "worksheets"
		if s.chart {
			kind, dir = "chartsheet", "chartsheets"
		}
		member := s.member
		if member == "" {
			member = "xl/" + dir + "/sheet" + n + ".xml"
		}
		parts[member] = s.xml
		state := ""
		if s.state != "" {
			state = ` state="` + s.state + `"`
		}
		wbSheets.WriteString(`<sheet name="` + s.name + `" sheetId="` + n + `"` + state + ` r:id="rId` + n + `"/>`)
		wbRels.WriteString(`<Relationship Id="rId` + n + `" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/` + kind + `" Target="` + strings.TrimPrefix(member, "xl/") + `"/>`)
		types.WriteString(`<Override PartName="/` + member + `" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.` + kind + `+xml"/>`)
	}
	if sst != "" {
		parts["xl/sharedStrings.xml"] = sst
		wbRels.WriteString(`<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`)
	}
	if styles != "" {
		parts["xl/styles.xml"] = styles
		wbRels.WriteString(`<Relationship Id="rIdT" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>`)
	}
	parts["xl/workbook.xml"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<workbook ` + nsMain + ` ` + nsRel + `><sheets>` + wbSheets.String() + `</sheets></workbook>`
	parts["xl/_rels/workbook.xml.rels"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + wbRels.String() + `</Relationships>`
	parts["_rels/.rels"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	parts["[Content_Types].xml"] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` + types.String() + `</Types>`
	names := make([]string, 0, len(parts))
	for name := range parts {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, parts[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return writeTestFile(t, "book.xlsx", buf.Bytes())
}

// oneSheet builds a workbook with one worksheet "data".
func oneSheet(t testing.TB, xml, sst, styles string) string {
	t.Helper()
	return writeXLSXParts(t, []testSheet{{name: "data", xml: xml}}, sst, styles)
}

// rewriteMember copies the workbook at src with one member changed: edit
// gets its inflated content and returns the new one (recompressed, with a
// matching checksum).
func rewriteMember(t testing.TB, src, member string, edit func([]byte) []byte) string {
	t.Helper()
	return copyZip(t, src, func(zf *zip.File, zw *zip.Writer) bool {
		if zf.Name != member {
			return false
		}
		data := readMember(t, zf)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: zf.Name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(edit(data)); err != nil {
			t.Fatal(err)
		}
		return true
	})
}

// rewriteRaw copies the workbook at src with one member's header or
// compressed bytes changed, written as they are (no recompression, no new
// checksum).
func rewriteRaw(t testing.TB, src, member string, editHeader func(*zip.FileHeader), editRaw func([]byte) []byte) string {
	t.Helper()
	return copyZip(t, src, func(zf *zip.File, zw *zip.Writer) bool {
		if zf.Name != member {
			return false
		}
		r, err := zf.OpenRaw()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		fh := zf.FileHeader
		if editHeader != nil {
			editHeader(&fh)
		}
		if editRaw != nil {
			raw = editRaw(raw)
			fh.CompressedSize64 = uint64(len(raw))
		}
		w, err := zw.CreateRaw(&fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(raw); err != nil {
			t.Fatal(err)
		}
		return true
	})
}

func copyZip(t testing.TB, src string, override func(*zip.File, *zip.Writer) bool) string {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	found := false
	for _, zf := range zr.File {
		if override(zf, zw) {
			found = true
			continue
		}
		if err := zw.Copy(zf); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("%s has no member to change", src)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "damaged.xlsx")
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func readMember(t testing.TB, zf *zip.File) []byte {
	t.Helper()
	r, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readUntilError reads every table of path and returns the first error that
// is not a RowError: from Open, from Next, or nil when every table ended
// with io.EOF. rows counts the rows read before it.
func readUntilError(t testing.TB, path string, opts Options) (rows int, err error) {
	t.Helper()
	tables, err := Open(path, opts)
	if err != nil {
		return 0, err
	}
	defer CloseAll(tables)
	for _, tab := range tables {
		for {
			_, err := tab.Next()
			if err == io.EOF {
				break
			}
			var re *RowError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				return rows, err
			}
			rows++
		}
	}
	return rows, nil
}
