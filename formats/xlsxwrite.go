package formats

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
)

// Workbook writes a multi-sheet XLSX file atomically. Sheets are streamed
// (excelize's StreamWriter spills to temporary files past 16 MiB), written
// in the order they were added, and committed together by Close.
//
// Every cell is written as an inline string, so leading zeros and long
// numbers stay text. Each sheet gets a bold, frozen header row with an
// autofilter over its columns, and its columns are formatted as Text ("@") so
// values a user types into a template in Excel keep their leading zeros too.
type Workbook struct {
	file   *atomicFile
	f      *excelize.File
	sheets []*SheetWriter
	// names are the sheets in the order they were added, streamed or not.
	names []string
	// fills caches the cell style of each row fill colour.
	fills  map[string]int
	err    error
	closed bool
}

// SheetWriter streams the rows of one worksheet of a Workbook.
type SheetWriter struct {
	wb    *Workbook
	name  string
	sw    *excelize.StreamWriter
	width int
	row   int // last written worksheet row
	vals  []interface{}
}

// CreateWorkbook starts an atomic XLSX workbook at path.
func CreateWorkbook(path string) (*Workbook, error) {
	file, err := createAtomic(path)
	if err != nil {
		return nil, err
	}
	return &Workbook{file: file, f: excelize.NewFile()}, nil
}

// AddSheet adds a worksheet with the given header row and returns its writer.
// Rows may be written to several sheets in any interleaving.
func (wb *Workbook) AddSheet(name string, header []string) (*SheetWriter, error) {
	if wb.err != nil {
		return nil, wb.err
	}
	if wb.closed {
		return nil, errors.New("workbook is closed")
	}
	if err := checkHeaderForWrite(header); err != nil {
		return nil, fmt.Errorf("sheet %q header: %w", name, err)
	}
	if err := wb.newSheet(name); err != nil {
		return nil, err
	}
	sw, err := wb.f.NewStreamWriter(name)
	if err != nil {
		return nil, wb.fail(fmt.Errorf("sheet %q: %w", name, err))
	}
	s := &SheetWriter{wb: wb, name: name, sw: sw, width: len(header), vals: make([]interface{}, len(header))}
	if err := s.writePreamble(header); err != nil {
		return nil, wb.fail(fmt.Errorf("sheet %q: %w", name, err))
	}
	wb.sheets = append(wb.sheets, s)
	return s, nil
}

// newSheet adds an empty worksheet named name.
func (wb *Workbook) newSheet(name string) error {
	for _, n := range wb.names {
		if strings.EqualFold(n, name) {
			return fmt.Errorf("sheet %q added twice", name)
		}
	}
	if len(wb.names) == 0 {
		// A new workbook has "Sheet1"; rename it rather than leave it empty.
		if err := wb.f.SetSheetName("Sheet1", name); err != nil {
			return wb.fail(fmt.Errorf("naming sheet %q: %w", name, err))
		}
	} else if _, err := wb.f.NewSheet(name); err != nil {
		return wb.fail(fmt.Errorf("adding sheet %q: %w", name, err))
	}
	wb.names = append(wb.names, name)
	return nil
}

func (s *SheetWriter) writePreamble(header []string) error {
	f := s.wb.f
	textStyle, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@", Text
	if err != nil {
		return err
	}
	boldText, err := f.NewStyle(&excelize.Style{NumFmt: 49, Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	if err := s.sw.SetColStyle(1, len(header), textStyle); err != nil {
		return err
	}
	if err := s.sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	cells := make([]interface{}, len(header))
	for i, h := range header {
		cells[i] = excelize.Cell{StyleID: boldText, Value: h}
	}
	s.row = 1
	return s.sw.SetRow("A1", cells)
}

// Write appends one row; see Writer.Write for the rules on cells.
func (s *SheetWriter) Write(cells []string) error { return s.WriteFilled(cells, "") }

// WriteFilled appends one row whose cells have the background colour fill, an RGB hex colour such as
// "FFEB9C" ("" means none, like Write). The colour belongs to the cells, so it stays with the row when
// the reader sorts or filters.
func (s *SheetWriter) WriteFilled(cells []string, fill string) error {
	wb := s.wb
	if wb.err != nil {
		return wb.err
	}
	if wb.closed {
		return errors.New("workbook is closed")
	}
	if err := checkRow(cells, s.width, s.row); err != nil {
		return wb.fail(fmt.Errorf("sheet %q: %w", s.name, err))
	}
	style := 0
	if fill != "" {
		var err error
		if style, err = wb.fillStyle(fill); err != nil {
			return wb.fail(fmt.Errorf("sheet %q: fill %q: %w", s.name, fill, err))
		}
	}
	for i, c := range cells {
		if err := CheckXLSXCell(c); err != nil {
			return wb.fail(fmt.Errorf("sheet %q, data row %d, column %d: %w", s.name, s.row, i+1, err))
		}
		if style != 0 {
			s.vals[i] = excelize.Cell{StyleID: style, Value: c}
		} else {
			s.vals[i] = c
		}
	}
	if s.row >= excelize.TotalRows {
		return wb.fail(fmt.Errorf("sheet %q: more than %d rows, the XLSX limit; export CSV instead", s.name, excelize.TotalRows-1))
	}
	s.row++
	cell, err := excelize.CoordinatesToCellName(1, s.row)
	if err == nil {
		err = s.sw.SetRow(cell, s.vals)
	}
	if err != nil {
		return wb.fail(fmt.Errorf("sheet %q, row %d: %w", s.name, s.row, err))
	}
	return nil
}

// fillStyle returns the style of text cells with a solid background colour.
func (wb *Workbook) fillStyle(rgb string) (int, error) {
	if id, ok := wb.fills[rgb]; ok {
		return id, nil
	}
	id, err := wb.f.NewStyle(&excelize.Style{NumFmt: 49, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{rgb}}})
	if err != nil {
		return 0, err
	}
	if wb.fills == nil {
		wb.fills = map[string]int{}
	}
	wb.fills[rgb] = id
	return id, nil
}

// CheckXLSXCell rejects what excelize would silently alter: characters XML
// 1.0 cannot carry and text beyond Excel's cell limit. An export checks its
// cells with it before writing, so that one cell skips its record instead of
// failing the whole workbook.
func CheckXLSXCell(c string) error {
	for _, r := range c {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("the cell contains control character %U, which XLSX cannot store", r)
		}
	}
	if len(c) > excelize.TotalCellChars {
		if n := utf16Len(c); n > excelize.TotalCellChars {
			return fmt.Errorf("the cell has %d characters; XLSX cells hold at most %d", n, excelize.TotalCellChars)
		}
	}
	return nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func (wb *Workbook) fail(err error) error {
	if wb.err == nil {
		wb.err = err
	}
	return err
}

// Close flushes every sheet and commits the workbook. If any write failed,
// nothing is committed and that error is returned.
func (wb *Workbook) Close() error {
	if wb.closed {
		return errors.New("workbook is already closed")
	}
	if wb.err != nil {
		_ = wb.Abort()
		return wb.err
	}
	if len(wb.sheets) == 0 {
		_ = wb.Abort()
		return errors.New("closing a workbook without sheets")
	}
	wb.closed = true
	for _, s := range wb.sheets {
		// The filter covers the header and every row written; excelize keeps it in the worksheet the
		// stream writer flushes, so it is set before Flush.
		ref, err := excelize.CoordinatesToCellName(s.width, max(s.row, 2))
		if err == nil {
			err = wb.f.AutoFilter(s.name, "A1:"+ref, nil)
		}
		if err == nil {
			err = s.sw.Flush()
		}
		if err != nil {
			_ = wb.f.Close()
			_ = wb.file.abort()
			return fmt.Errorf("sheet %q: %w", s.name, err)
		}
	}
	_, err := wb.f.WriteTo(wb.file)
	if cerr := wb.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = wb.file.abort()
		return fmt.Errorf("writing %s: %w", wb.file.target, err)
	}
	return wb.file.commit()
}

// Abort discards the workbook; the target is left untouched. It is a no-op
// after Close.
func (wb *Workbook) Abort() error {
	if wb.closed {
		return nil
	}
	wb.closed = true
	_ = wb.f.Close()
	return wb.file.abort()
}

// xlsxWriter adapts a one-sheet Workbook to Writer.
type xlsxWriter struct {
	wb    *Workbook
	sheet string
	sw    *SheetWriter
}

func createXLSXWriter(path, sheet string) (*xlsxWriter, error) {
	if sheet == "" {
		sheet = "Sheet1"
	}
	wb, err := CreateWorkbook(path)
	if err != nil {
		return nil, err
	}
	return &xlsxWriter{wb: wb, sheet: sheet}, nil
}

func (w *xlsxWriter) WriteHeader(header []string) error {
	if w.sw != nil {
		return errors.New("WriteHeader called twice")
	}
	sw, err := w.wb.AddSheet(w.sheet, header)
	if err != nil {
		return w.wb.fail(err)
	}
	w.sw = sw
	return nil
}

func (w *xlsxWriter) Write(cells []string) error {
	if w.sw == nil {
		return w.wb.fail(errors.New("Write called before WriteHeader"))
	}
	return w.sw.Write(cells)
}

func (w *xlsxWriter) Close() error { return w.wb.Close() }
func (w *xlsxWriter) Abort() error { return w.wb.Abort() }

// CountTable is a small table of counts for a summary sheet: one row per category (e.g. an entity), one
// column per series (e.g. a verdict).
type CountTable struct {
	// Title heads the chart.
	Title string
	// Category is the header of the label column.
	Category string
	// Series are the count columns, each with the chart colour of its bars (RGB hex).
	Series []CountSeries
	// Rows are the categories with one count per series.
	Rows []CountRow
}

// CountSeries is one column of a CountTable.
type CountSeries struct {
	Name  string
	Color string
}

// CountRow is one category of a CountTable.
type CountRow struct {
	Label  string
	Counts []int
}

// AddCountSheet adds a sheet holding t as numbers, with a total column and a total row, and beside it a
// clustered bar chart of the counts per category and series. Totals are numbers, not formulas: viewers
// that do not calculate (previews, mail clients) show them too.
func (wb *Workbook) AddCountSheet(name string, t CountTable) error {
	if wb.err != nil {
		return wb.err
	}
	if wb.closed {
		return errors.New("workbook is closed")
	}
	if len(t.Rows) == 0 || len(t.Series) == 0 {
		return fmt.Errorf("sheet %q: no counts", name)
	}
	if err := wb.newSheet(name); err != nil {
		return err
	}
	f := wb.f
	fail := func(err error) error { return wb.fail(fmt.Errorf("sheet %q: %w", name, err)) }
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fail(err)
	}
	cell := func(col, row int) string {
		c, _ := excelize.CoordinatesToCellName(col, row)
		return c
	}
	nSeries, nRows := len(t.Series), len(t.Rows)
	header := []any{t.Category}
	for _, s := range t.Series {
		header = append(header, s.Name)
	}
	header = append(header, "total")
	if err := f.SetSheetRow(name, "A1", &header); err != nil {
		return fail(err)
	}
	totalCol := nSeries + 2
	totals := make([]int, nSeries+1)
	for i, r := range t.Rows {
		if len(r.Counts) != nSeries {
			return fail(fmt.Errorf("row %q has %d counts for %d series", r.Label, len(r.Counts), nSeries))
		}
		values, sum := []any{r.Label}, 0
		for j, n := range r.Counts {
			values = append(values, n)
			sum += n
			totals[j] += n
		}
		values = append(values, sum)
		totals[nSeries] += sum
		if err := f.SetSheetRow(name, cell(1, i+2), &values); err != nil {
			return fail(err)
		}
	}
	totalRow := nRows + 2
	last := []any{"total"}
	for _, n := range totals {
		last = append(last, n)
	}
	if err := f.SetSheetRow(name, cell(1, totalRow), &last); err != nil {
		return fail(err)
	}
	for _, ref := range [][2]string{{"A1", cell(totalCol, 1)}, {cell(1, totalRow), cell(totalCol, totalRow)}} {
		if err := f.SetCellStyle(name, ref[0], ref[1], bold); err != nil {
			return fail(err)
		}
	}
	if err := f.SetColWidth(name, "A", "A", 18); err != nil {
		return fail(err)
	}
	if err := f.SetPanes(name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fail(err)
	}
	varyColors := false // one colour per series, not per bar
	chart := &excelize.Chart{
		Type:       excelize.Bar,
		VaryColors: &varyColors,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: t.Title}}},
		Legend:     excelize.ChartLegend{Position: "bottom"},
		Format:     excelize.GraphicOptions{OffsetX: 10, OffsetY: 10},
		Dimension: excelize.ChartDimension{
			Width:  640,
			Height: uint(max(320, 60*nRows+120)),
		},
	}
	quoted := "'" + strings.ReplaceAll(name, "'", "''") + "'"
	for i, s := range t.Series {
		col := i + 2
		chart.Series = append(chart.Series, excelize.ChartSeries{
			Name:       fmt.Sprintf("%s!$%s$1", quoted, columnName(col)),
			Categories: fmt.Sprintf("%s!$A$2:$A$%d", quoted, nRows+1),
			Values:     fmt.Sprintf("%s!$%s$2:$%s$%d", quoted, columnName(col), columnName(col), nRows+1),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{s.Color}},
		})
	}
	if err := f.AddChart(name, cell(totalCol+2, 1), chart); err != nil {
		return fail(err)
	}
	return nil
}

func columnName(col int) string {
	n, _ := excelize.ColumnNumberToName(col)
	return n
}
