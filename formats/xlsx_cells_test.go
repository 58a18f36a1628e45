package formats

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// readRows reads every row of a one-table file, with its errors.
func readRows(t *testing.T, path string) (header []string, rows []Row, rowErrs []*RowError) {
	t.Helper()
	tables, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer CloseAll(tables)
	if len(tables) != 1 {
		t.Fatalf("%d tables", len(tables))
	}
	for {
		row, err := tables[0].Next()
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				rowErrs = append(rowErrs, re)
				continue
			}
			if err.Error() == "EOF" {
				return tables[0].Header(), rows, rowErrs
			}
			t.Fatalf("Next: %v", err)
		}
		row.Cells = append([]string(nil), row.Cells...)
		row.Errors = append([]CellError(nil), row.Errors...)
		row.Numbers = append([]int(nil), row.Numbers...)
		rows = append(rows, row)
	}
}

func inline(ref, text string) string {
	return `<c r="` + ref + `" t="inlineStr"><is><t>` + text + `</t></is></c>`
}

// Error cells (t="e") are reported with their reference, the header offset
// taken into account; their text stays in Cells.
func TestXLSXErrorCells(t *testing.T) {
	t.Parallel()
	// The table starts in column B; row 3 holds two errors, row 4 none.
	rows := `<row r="1">` + inline("B1", "id") + inline("C1", "name") + inline("D1", "amount") + inline("E1", "note") + `</row>` +
		`<row r="3">` + inline("B3", "0001") + `<c r="C3" t="e"><f>VLOOKUP(A3,X!A:B,2,0)</f><v>#N/A</v></c>` + inline("D3", "5") + `<c r="E3" t="e"><v>#DIV/0!</v></c></row>` +
		`<row r="4">` + inline("B4", "0002") + inline("C4", "#N/A") + `</row>`
	path := oneSheet(t, sheetXML("B1:E4", rows), "", "")
	header, got, rowErrs := readRows(t, path)
	if !reflect.DeepEqual(header, []string{"id", "name", "amount", "note"}) || len(rowErrs) != 0 || len(got) != 2 {
		t.Fatalf("header %q, rows %+v, row errors %v", header, got, rowErrs)
	}
	want := []CellError{{Col: 1, Ref: "C3", Value: "#N/A"}, {Col: 3, Ref: "E3", Value: "#DIV/0!"}}
	if !reflect.DeepEqual(got[0].Errors, want) || !reflect.DeepEqual(got[0].Cells, []string{"0001", "#N/A", "5", "#DIV/0!"}) {
		t.Fatalf("row 3: cells %q errors %+v, want errors %+v", got[0].Cells, got[0].Errors, want)
	}
	// "#N/A" typed as text is text (the mapping's clear token), not an error.
	if got[1].Errors != nil || got[1].Cells[1] != "#N/A" {
		t.Fatalf("row 4: %+v", got[1])
	}

	// An error in the header row is a damaged header.
	rows = `<row r="1">` + inline("A1", "id") + `<c r="B1" t="e"><v>#REF!</v></c></row>`
	_, err := Open(oneSheet(t, sheetXML("", rows), "", ""), Options{})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 1 || !strings.Contains(err.Error(), "header cell B1 holds the spreadsheet error #REF!") {
		t.Fatalf("error in the header: %v", err)
	}
}

// A formula the writing program did not calculate (an <f> without a <v>) is reported like an error cell, even
// in a row it leaves otherwise blank, while a formula whose computed value is empty text is a blank cell. Number
// cells are listed in Row.Numbers, text cells are not.
func TestXLSXUncalculatedFormulasAndNumberCells(t *testing.T) {
	t.Parallel()
	rows := `<row r="1">` + inline("B1", "id") + inline("C1", "name") + inline("D1", "amount") + `</row>` +
		`<row r="2">` + inline("B2", "0001") + `<c r="C2"><f>UPPER("new")</f></c>` + `<c r="D2" s="0"><v>1234.5</v></c></row>` +
		`<row r="3">` + `<c r="B3" t="n"><f t="shared" si="0"/></c>` + `</row>` +
		`<row r="4">` + inline("B4", "0002") + `<c r="C4" t="str"><f>""</f><v></v></c>` + inline("D4", "1234.5") + `</row>`
	path := oneSheet(t, sheetXML("B1:D4", rows), "", "")
	_, got, rowErrs := readRows(t, path)
	if len(rowErrs) != 0 || len(got) != 3 {
		t.Fatalf("rows %+v, row errors %v", got, rowErrs)
	}
	if want := []CellError{{Col: 1, Ref: "C2", Uncalculated: true}}; !reflect.DeepEqual(got[0].Errors, want) ||
		!reflect.DeepEqual(got[0].Cells, []string{"0001", "", "1234.5"}) || !reflect.DeepEqual(got[0].Numbers, []int{2}) {
		t.Fatalf("row 2: cells %q errors %+v numbers %v", got[0].Cells, got[0].Errors, got[0].Numbers)
	}
	if want := "C2 holds a formula without a computed value; open and save the workbook in a spreadsheet program so it calculates"; got[0].Errors[0].Reason() != want {
		t.Fatalf("reason %q, want %q", got[0].Errors[0].Reason(), want)
	}
	if want := []CellError{{Col: 0, Ref: "B3", Uncalculated: true}}; got[1].Pos.Line != 3 || !reflect.DeepEqual(got[1].Errors, want) {
		t.Fatalf("row 3, only a formula: %+v", got[1])
	}
	if len(got[2].Errors) != 0 || len(got[2].Numbers) != 0 || got[2].Cells[1] != "" {
		t.Fatalf("row 4: a formula computed to empty text and a number typed as text: %+v", got[2])
	}

	rows = `<row r="1">` + inline("A1", "id") + `<c r="B1"><f>A1&amp;"x"</f></c></row>`
	_, err := Open(oneSheet(t, sheetXML("", rows), "", ""), Options{})
	if err == nil || !strings.Contains(err.Error(), "header cell B1 holds a formula without a computed value") {
		t.Fatalf("uncalculated formula in the header: %v", err)
	}
}

// A number formatted as a zero-padded integer reads as the text the
// spreadsheet shows; every other format keeps the stored value.
func TestXLSXZeroPaddedNumbers(t *testing.T) {
	t.Parallel()
	styles := stylesXML(map[int]string{
		164: "0000000000", 165: `"DE"00000`, 166: `00000;[Red]-00000`, 167: "0.00", 168: "#,##0", 169: `\K000000`,
		// a numFmt element may redefine a built-in id
		1: "0.0",
	},
		164, 165, 166, 167, 168, 14, 49, 169, 1) // s = 1..9
	cases := []struct {
		cell string // <c> content after r
		want string
	}{
		{`s="1"><v>8000002</v>`, "0008000002"},
		{`s="1"><v>12345678901</v>`, "12345678901"}, // wider than the format
		{`s="1"><v>8000002.5</v>`, "8000002.5"},     // not an integer: as stored
		{`s="1"><v>8.000002E6</v>`, "0008000002"},
		{`s="1" t="s"><v>0</v>`, "00123"}, // text keeps its text
		{`s="2"><v>1234</v>`, "DE01234"},
		{`s="3"><v>42</v>`, "00042"},
		{`s="3"><v>-42</v>`, "-42"}, // its own section for negatives: as stored
		{`s="4"><v>1234.5</v>`, "1234.5"},
		{`s="5"><v>1234567</v>`, "1234567"},
		{`s="6"><v>45292</v>`, "45292"}, // a date stays a serial number
		{`s="7"><v>17</v>`, "17"},
		{`s="8"><v>77</v>`, "K000077"},
		{`s="9"><v>5</v>`, "5"},  // built-in 1 ("0") redefined as 0.0
		{`s="99"><v>5</v>`, "5"}, // no such style
		{`><v>0000123</v>`, "0000123"},
	}
	var rows strings.Builder
	rows.WriteString(`<row r="1">` + inline("A1", "value") + `</row>`)
	for i, c := range cases {
		fmt.Fprintf(&rows, `<row r="%d"><c r="A%d" %s</c></row>`, i+2, i+2, c.cell)
	}
	path := oneSheet(t, sheetXML("", rows.String()), sstXML("<t>00123</t>"), styles)
	_, got, _ := readRows(t, path)
	if len(got) != len(cases) {
		t.Fatalf("%d rows", len(got))
	}
	for i, c := range cases {
		if got[i].Cells[0] != c.want {
			t.Errorf("<c %s: %q, want %q", c.cell, got[i].Cells[0], c.want)
		}
	}
}

// A number in the General format reads as a spreadsheet shows it, in its
// shortest form: a writer other than Excel may store the key 1004 as 1004.0,
// which must not become a key of its own next to the 1004 Excel stores.
// Other formats, and numbers General would round or show in scientific
// notation, keep the stored value.
func TestXLSXGeneralNumbersReadInTheirShortestForm(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cell string // <c> content after r
		want string
	}{
		{`><v>1004.0</v>`, "1004"},
		{`s="0"><v>1004.000</v>`, "1004"},
		{`s="3"><v>1004.0</v>`, "1004"}, // a numFmt element named General
		{`><v>1.50</v>`, "1.5"},
		{`><v>1E+3</v>`, "1000"},
		{`><v>1.004e3</v>`, "1004"},
		{`><v>-7.0</v>`, "-7"},
		{`><v>1.5E-3</v>`, "0.0015"},
		{`><v>1004</v>`, "1004"},
		{`><v>0.30000000000000004</v>`, "0.30000000000000004"}, // full precision stays
		{`><v>1.5E-5</v>`, "1.5E-5"},                           // General would show 1.5E-05
		{`><v>1.2E+20</v>`, "1.2E+20"},                         // beyond float64's integers
		{`s="1"><v>1004.0</v>`, "1004.0"},                      // 0.0: as stored
		{`s="2"><v>45292.0</v>`, "45292.0"},                    // a date: as stored
	}
	var rows strings.Builder
	rows.WriteString(`<row r="1">` + inline("A1", "value") + `</row>`)
	for i, c := range cases {
		fmt.Fprintf(&rows, `<row r="%d"><c r="A%d" %s</c></row>`, i+2, i+2, c.cell)
	}
	styles := stylesXML(map[int]string{164: "0.0", 165: "General"}, 164, 14, 165) // s = 1..3
	_, got, _ := readRows(t, oneSheet(t, sheetXML("", rows.String()), "", styles))
	if len(got) != len(cases) {
		t.Fatalf("%d rows", len(got))
	}
	for i, c := range cases {
		if got[i].Cells[0] != c.want {
			t.Errorf("<c %s: %q, want %q", c.cell, got[i].Cells[0], c.want)
		}
	}
	// A workbook without a style part shows every number in General.
	_, got, _ = readRows(t, oneSheet(t, sheetXML("", `<row r="1">`+inline("A1", "id")+`</row><row r="2"><c r="A2"><v>1004.0</v></c></row>`), "", ""))
	if len(got) != 1 || got[0].Cells[0] != "1004" {
		t.Errorf("without styles: %+v, want 1004", got)
	}
}

// The same through a workbook excelize writes, as a spreadsheet program
// would save keys typed as numbers and formatted to keep their zeros.
func TestXLSXZeroPaddedKeysFromExcelize(t *testing.T) {
	t.Parallel()
	f := excelize.NewFile()
	defer f.Close()
	padded := "0000000000"
	kunnr, err := f.NewStyle(&excelize.Style{CustomNumFmt: &padded})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := f.NewStyle(&excelize.Style{NumFmt: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = f.SetSheetRow("Sheet1", "A1", &[]interface{}{"KUNNR", "NAME1", "count"})
	_ = f.SetSheetRow("Sheet1", "A2", &[]interface{}{8000002, "Müller GmbH", 7})
	_ = f.SetSheetRow("Sheet1", "A3", &[]interface{}{"0008000003", "Schmidt AG", 8})
	_ = f.SetCellStyle("Sheet1", "A2", "A3", kunnr)
	_ = f.SetCellStyle("Sheet1", "C2", "C3", plain)
	path := filepath.Join(t.TempDir(), "kna1.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	_, got, _ := readRows(t, path)
	want := [][]string{{"0008000002", "Müller GmbH", "7"}, {"0008000003", "Schmidt AG", "8"}}
	if len(got) != 2 || !reflect.DeepEqual(got[0].Cells, want[0]) || !reflect.DeepEqual(got[1].Cells, want[1]) {
		t.Fatalf("rows = %+v, want %q", got, want)
	}
}

func TestParseZeroPadFormat(t *testing.T) {
	t.Parallel()
	cases := map[string]*zeroPadFormat{
		"0000000000":          {width: 10, sections: 1},
		"0":                   {width: 1, sections: 1},
		`"DE"00000`:           {width: 5, prefix: "DE", sections: 1},
		`\K00000`:             {width: 5, prefix: "K", sections: 1},
		`00000" kg"`:          {width: 5, suffix: " kg", sections: 1},
		`[Red]00000`:          {width: 5, sections: 1},
		`[$-407]00000`:        {width: 5, sections: 1},
		`[$€-407]0000`:        {width: 4, prefix: "€", sections: 1},
		`00000;-00000`:        {width: 5, sections: 2},
		`00000;-00000;"zero"`: {width: 5, sections: 3},
		"(000)":               {width: 3, prefix: "(", suffix: ")", sections: 1},
		"0.00":                nil,
		"#,##0":               nil,
		"000-000":             nil,
		"@":                   nil,
		"General":             nil,
		"yyyy-mm-dd":          nil,
		"[>100]0000":          nil,
		"0000_)":              nil,
		"00%":                 nil,
		"0.0E+00":             nil,
		`"unterminated`:       nil,
		"":                    nil,
		`"only text"`:         nil,
		"[h]:mm":              nil,
	}
	for code, want := range cases {
		got := parseZeroPadFormat(code)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseZeroPadFormat(%q) = %+v, want %+v", code, got, want)
		}
	}
}

// The shapes of cells that spreadsheet programs and libraries write.
func TestXLSXCellShapes(t *testing.T) {
	t.Parallel()
	sst := sstXML(
		`<t>shared</t>`,
		`<r><rPr><b/></rPr><t>Rich </t></r><r><t xml:space="preserve">text</t></r><rPh sb="0" eb="1"><t>ふりがな</t></rPh>`,
		`<t>line_x000D_break_x005F_x000D_</t>`,
		`<t/>`,
		`<t xml:space="preserve">  padded  </t>`,
	)
	rows := `<row r="1">` + inline("A1", "a") + inline("B1", "b") + inline("C1", "c") + inline("D1", "d") + `</row>` +
		// shared strings, rich text with a phonetic run (not text), escapes
		`<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v> 1 </v></c><c r="C2" t="s"><v>2</v></c><c r="D2" t="s"><v>4</v></c></row>` +
		// inline rich text, entities and character references, CR LF
		`<row r="3"><c r="A3" t="inlineStr"><is><r><t>In</t></r><r><t>line</t></r></is></c>` + inline("B3", "A &amp; B &lt;&gt; &quot;&apos; &#10;&#x41;&#13;") +
		"<c r=\"C3\" t=\"inlineStr\"><is><t>two\r\nlines\rthree</t></is></c>" + `<c r="D3" t="inlineStr"><is><t><![CDATA[<raw> & text]]></t></is></c></row>` +
		// formula text, booleans, ISO dates, a cell without a value, an empty string
		`<row r="4"><c r="A4" t="str"><f>A1&amp;"x"</f><v>ax_x000D_</v></c><c r="B4" t="b"><v>1</v></c><c r="C4" t="d"><v>2026-12-01T00:00:00Z</v></c><c r="D4" s="0"/></row>` +
		// rows and cells without r: counted on from the previous one
		`<row><c><v>1</v></c><c r="C5"><v>3</v></c><c><v>4</v></c></row>` +
		// sparse: only D, after a gap of rows; a blank row is skipped
		`<row r="9"><c r="A9" t="s"><v>3</v></c></row><row r="10"><c r="D10"><v>10</v></c></row><row r="11" spans="1:4"/>`
	path := oneSheet(t, `<?xml version="1.0" encoding="UTF-8"?><!-- written by hand --><?custom pi?>`+
		sheetXML("A1:D11", rows)[len(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`)+1:], sst, "")
	_, got, rowErrs := readRows(t, path)
	want := []struct {
		line  int
		cells []string
	}{
		{2, []string{"shared", "Rich text", "line\rbreak_x000D_", "  padded  "}},
		{3, []string{"Inline", "A & B <> \"' \nA\r", "two\nlines\nthree", "<raw> & text"}},
		{4, []string{"ax_x000D_", "1", "2026-12-01T00:00:00Z", ""}},
		{5, []string{"1", "", "3", "4"}},
		{10, []string{"", "", "", "10"}},
	}
	if len(rowErrs) != 0 || len(got) != len(want) {
		t.Fatalf("rows %+v, errors %v", got, rowErrs)
	}
	for i, w := range want {
		if got[i].Pos.Line != w.line || !reflect.DeepEqual(got[i].Cells, w.cells) {
			t.Errorf("row %d: line %d cells %q, want line %d %q", i, got[i].Pos.Line, got[i].Cells, w.line, w.cells)
		}
	}
}

// Namespace prefixes (as some .NET libraries write them) and elements the
// reader does not know are fine.
func TestXLSXPrefixedNamespace(t *testing.T) {
	t.Parallel()
	xml := `<?xml version="1.0" encoding="utf-8"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
		`<x:sheetPr><x:outlinePr summaryBelow="1"/></x:sheetPr><x:dimension ref="A1:B2"/><x:sheetData>` +
		`<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>id</x:t></x:is></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>name</x:t></x:is></x:c></x:row>` +
		`<x:row r="2"><x:c r="A2"><x:v>7</x:v></x:c><x:c r="B2" t="inlineStr"><x:is><x:t>Zoë</x:t></x:is></x:c><x:extLst><x:ext uri="x"><x:c><x:v>9</x:v></x:c></x:ext></x:extLst></x:row>` +
		`</x:sheetData><x:extLst><x:ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}"/></x:extLst></x:worksheet>`
	header, got, _ := readRows(t, oneSheet(t, xml, "", ""))
	if !reflect.DeepEqual(header, []string{"id", "name"}) || len(got) != 1 || !reflect.DeepEqual(got[0].Cells, []string{"7", "Zoë"}) {
		t.Fatalf("header %q rows %+v", header, got)
	}
}

// Chart sheets and hidden sheets are not tables; a chart sheet asked for by
// name is an empty sheet.
func TestXLSXChartAndHiddenSheets(t *testing.T) {
	t.Parallel()
	data := sheetXML("", `<row r="1">`+inline("A1", "id")+`</row><row r="2"><c r="A2"><v>1</v></c></row>`)
	chart := `<?xml version="1.0"?><chartsheet ` + nsMain + ` ` + nsRel + `><sheetViews><sheetView workbookViewId="0"/></sheetViews><drawing r:id="rId1"/></chartsheet>`
	path := writeXLSXParts(t, []testSheet{{name: "Chart1", xml: chart, chart: true}, {name: "lookup", state: "hidden", xml: data}, {name: "data", xml: data}}, "", "")
	res := readAll(t, path, Options{})
	if len(res) != 1 || res[0].name != "data" || len(res[0].rows) != 1 {
		t.Fatalf("tables = %+v", res)
	}
	if _, err := Open(path, Options{Sheet: "chart1"}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("chart sheet by name: %v", err)
	}
	if got := readOne(t, path, Options{Sheet: "LOOKUP"}); len(got.rows) != 1 {
		t.Fatalf("hidden sheet by name: %+v", got)
	}
}

// For everything but error cells, zero-padded numbers and General numbers
// not stored in their shortest form, the reader yields what excelize's own
// reader yields with raw cell values, as the reader did before it streamed
// the sheets itself.
func TestXLSXReadsLikeExcelize(t *testing.T) {
	t.Parallel()
	shapes := oneSheet(t, sheetXML("", `<row r="1">`+inline("A1", "a")+inline("B1", "b")+inline("C1", "c")+`</row>`+
		`<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" t="s"><v>2</v></c><c r="C2" t="str"><v>x_x000D_y</v></c></row>`+
		`<row><c t="inlineStr"><is><r><t>a</t></r><rPh><t>p</t></rPh><r><t xml:space="preserve"> b&#13;</t></r></is></c><c t="b"><v>0</v></c><c><v>1.5E-5</v></c></row>`+
		"<row r=\"7\"><c r=\"B7\" t=\"inlineStr\"><is><t>c\r\nd_x0041__x005f_x0041_</t></is></c><c r=\"C7\" t=\"d\"><v>2026-01-02</v></c></row>"),
		sstXML("<t>s0</t>", `<r><t>r1</t></r><r><t>_xD800_x</t></r>`, "<t>tab\there</t>"), "")
	for _, path := range []string{buildWorkbook(t), "testdata/customers.golden.xlsx", "../samples/customers.xlsx", shapes} {
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		compared := 0
		for _, res := range readAll(t, path, Options{}) {
			want, err := f.GetRows(res.name, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range res.lines {
				exp := want[line-1]
				got := res.rows[i]
				for len(got) > 0 && got[len(got)-1] == "" {
					got = got[:len(got)-1]
				}
				for len(exp) > 0 && exp[0] == "" && len(got) < len(exp) {
					exp = exp[1:] // the header offset
				}
				if !reflect.DeepEqual(got, exp) {
					t.Errorf("%s, sheet %s, row %d: %q, excelize %q", path, res.name, line, got, exp)
				}
				compared++
			}
		}
		_ = f.Close()
		if compared < 3 {
			t.Errorf("%s: only %d rows compared", path, compared)
		}
	}
}
