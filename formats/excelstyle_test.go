package formats

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

// TestCSVStyleRoundTrip writes CSV with each delimiter, with and without a BOM, and reads it back with the
// auto-detecting reader: same header, same cells, and the dialect it was written in.
func TestCSVStyleRoundTrip(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "name", "note"}
	rows := [][]string{
		{"0000100001", "Müller; Söhne", "a,b"},
		{"0000100002", "Łódź | Kraków", "tab\there"},
		{"0000100003", " padded ", `say "hi"`},
	}
	for _, style := range []CSVStyle{{}, {Delimiter: ';', BOM: true}, {Delimiter: '\t'}, {Delimiter: '|', BOM: true}} {
		t.Run(fmt.Sprintf("%q-bom=%v", style.Delimiter, style.BOM), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.csv")
			writeTableWith(t, path, WriteOptions{CSV: style}, header, rows)
			raw, _ := os.ReadFile(path)
			if got := bytes.HasPrefix(raw, []byte("\ufeff")); got != style.BOM {
				t.Fatalf("BOM %v, want %v", got, style.BOM)
			}
			delim := style.Delimiter
			if delim == 0 {
				delim = ','
			}
			firstLine, _, _ := strings.Cut(strings.TrimPrefix(string(raw), "\ufeff"), "\n")
			if want := strings.Join(header, string(delim)); firstLine != want {
				t.Fatalf("header line %q, want %q", firstLine, want)
			}
			opts := Options{}
			if delim == '|' {
				opts.Delimiter = '|' // detection looks at , ; and tab only
			}
			tables, err := Open(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer CloseAll(tables)
			got := readTable(t, tables[0])
			if !slices.Equal(got.header, header) {
				t.Fatalf("header %q", got.header)
			}
			for i := range rows {
				if !slices.Equal(got.rows[i], rows[i]) {
					t.Errorf("row %d: %q, want %q", i, got.rows[i], rows[i])
				}
			}
			if d, _ := tables[0].(CSVDialect).Dialect(); d != delim {
				t.Errorf("read back with delimiter %q", d)
			}
			// Output made from this file keeps its dialect.
			if again := CSVStyleFor(tables[0], 0, nil); again.Delimiter != delim || again.BOM != style.BOM {
				t.Errorf("CSVStyleFor the written file: %+v, want %q bom=%v", again, delim, style.BOM)
			}
		})
	}
	if _, err := CreateWith(filepath.Join(t.TempDir(), "x.csv"), WriteOptions{CSV: CSVStyle{Delimiter: ':'}}); err == nil {
		t.Error("a colon delimiter was accepted")
	}
}

// TestCSVStyleForFollowsTheInput: a Windows-1252 file with ';' (what German Excel saves) makes output UTF-8
// with a BOM and ';', plain UTF-8 makes plain output, and the flags override.
func TestCSVStyleForFollowsTheInput(t *testing.T) {
	t.Parallel()
	cp1252, err := charmap.Windows1252.NewEncoder().String("kunnr;name1\n100;Müller GmbH\n")
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	cases := []struct {
		name    string
		content string
		delim   rune
		bom     *bool
		want    CSVStyle
	}{
		{"cp1252", cp1252, 0, nil, CSVStyle{Delimiter: ';', BOM: true}},
		{"utf8", "a,b\n1,Müller\n", 0, nil, CSVStyle{Delimiter: ','}},
		{"ascii", "a;b\n1;2\n", 0, nil, CSVStyle{Delimiter: ';'}},
		{"utf8bom", "\ufeffa,b\n1,2\n", 0, nil, CSVStyle{Delimiter: ',', BOM: true}},
		{"override", cp1252, '\t', &no, CSVStyle{Delimiter: '\t'}},
		{"force", "a,b\n1,2\n", 0, &yes, CSVStyle{Delimiter: ',', BOM: true}},
	}
	for _, tc := range cases {
		path := writeTestFile(t, tc.name+".csv", []byte(tc.content))
		tables, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		readTable(t, tables[0]) // the encoding is known once the file is read
		if got := CSVStyleFor(tables[0], tc.delim, tc.bom); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		CloseAll(tables)
	}
	if got := CSVStyleFor(nil, 0, nil); got != (CSVStyle{}) {
		t.Errorf("no input: %+v", got)
	}
}

// TestWorkbookHeaderTreatmentAndFills: every streamed sheet has a bold frozen header and an autofilter over
// all its rows; WriteFilled colours a row's cells.
func TestWorkbookHeaderTreatmentAndFills(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "book.xlsx")
	wb, err := CreateWorkbook(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := wb.AddSheet("customers", []string{"key", "status", "note"})
	b, _ := wb.AddSheet("addresses", []string{"key"})
	for i := range 5 {
		if err := a.WriteFilled([]string{fmt.Sprint(i), "differs", ""}, "FFEB9C"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Write([]string{"9", "same", "plain"}); err != nil {
		t.Fatal(err)
	}
	if err := wb.Close(); err != nil {
		t.Fatal(err)
	}
	_ = b
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	filters := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" {
			filters[dn.Scope] = dn.RefersTo
		}
	}
	if filters["customers"] != "'customers'!$A$1:$C$7" || filters["addresses"] != "'addresses'!$A$1:$A$2" {
		t.Fatalf("autofilters %v", filters)
	}
	for _, sheet := range []string{"customers", "addresses"} {
		panes, err := f.GetPanes(sheet)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: panes %+v %v", sheet, panes, err)
		}
		if style := cellStyle(t, f, sheet, "A1"); style.Font == nil || !style.Font.Bold {
			t.Errorf("%s: the header is not bold", sheet)
		}
		if !strings.Contains(storedSheetXML(t, f, sheet), "<autoFilter ") {
			t.Errorf("%s: no autoFilter element", sheet)
		}
	}
	if fill := cellStyle(t, f, "customers", "C4").Fill; !slices.Equal(fill.Color, []string{"FFEB9C"}) || fill.Pattern != 1 {
		t.Errorf("filled row: %+v", fill)
	}
	if fill := cellStyle(t, f, "customers", "A7").Fill; len(fill.Color) != 0 {
		t.Errorf("plain row has fill %+v", fill)
	}
	if v, _ := f.GetCellValue("customers", "A2"); v != "0" {
		t.Errorf("A2 = %q", v)
	}
}

func cellStyle(t *testing.T, f *excelize.File, sheet, cell string) *excelize.Style {
	t.Helper()
	id, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storedSheetXML returns the stored XML of a worksheet.
func storedSheetXML(t *testing.T, f *excelize.File, sheet string) string {
	t.Helper()
	idx, err := f.GetSheetIndex(sheet)
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := f.Pkg.Load(fmt.Sprintf("xl/worksheets/sheet%d.xml", idx+1))
	if !ok {
		t.Fatalf("no XML for sheet %s", sheet)
	}
	return string(raw.([]byte))
}

// chartXML is what TestAddCountSheet reads of a chart part.
type chartXML struct {
	BarChart struct {
		BarDir struct {
			Val string `xml:"val,attr"`
		} `xml:"barDir"`
		Series []struct {
			Tx struct {
				Ref string `xml:"strRef>f"`
			} `xml:"tx"`
			Fill struct {
				Val string `xml:"val,attr"`
			} `xml:"spPr>solidFill>srgbClr"`
			Cat string `xml:"cat>strRef>f"`
			Val string `xml:"val>numRef>f"`
		} `xml:"ser"`
	} `xml:"chart>plotArea>barChart"`
}

func TestAddCountSheet(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "report.xlsx")
	wb, err := CreateWorkbook(path)
	if err != nil {
		t.Fatal(err)
	}
	table := CountTable{Title: "verdicts", Category: "entity",
		Series: []CountSeries{{"same", "70AD47"}, {"differs", "FFC000"}},
		Rows:   []CountRow{{"customers", []int{10, 2}}, {"addresses", []int{7, 0}}}}
	if err := wb.AddCountSheet("summary", table); err != nil {
		t.Fatal(err)
	}
	s, _ := wb.AddSheet("customers", []string{"key"})
	_ = s.Write([]string{"1"})
	if err := wb.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{"summary", "customers"}) {
		t.Fatalf("sheets %v", got)
	}
	rows, _ := f.GetRows("summary")
	want := [][]string{{"entity", "same", "differs", "total"}, {"customers", "10", "2", "12"}, {"addresses", "7", "0", "7"}, {"total", "17", "2", "19"}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("summary rows %q, want %q", rows, want)
	}
	if typ, _ := f.GetCellType("summary", "B2"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("counts are not numbers: %v", typ)
	}
	raw, ok := f.Pkg.Load("xl/charts/chart1.xml")
	if !ok {
		t.Fatal("no chart in the workbook")
	}
	var chart chartXML
	if err := xml.Unmarshal(raw.([]byte), &chart); err != nil {
		t.Fatal(err)
	}
	if chart.BarChart.BarDir.Val != "bar" || len(chart.BarChart.Series) != 2 {
		t.Fatalf("chart %+v", chart.BarChart)
	}
	for i, ser := range chart.BarChart.Series {
		col := string(rune('B' + i))
		if ser.Tx.Ref != "'summary'!$"+col+"$1" || ser.Cat != "'summary'!$A$2:$A$3" || ser.Val != "'summary'!$"+col+"$2:$"+col+"$3" ||
			ser.Fill.Val != table.Series[i].Color {
			t.Errorf("series %d: %+v", i, ser)
		}
	}
}
