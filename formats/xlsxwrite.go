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
// numbers stay text. Each sheet gets a bold, frozen header row, and its
// columns are formatted as Text ("@") so values a user types into a template
// in Excel keep their leading zeros too.
type Workbook struct {
	file   *atomicFile
	f      *excelize.File
	sheets []*SheetWriter
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
	for _, s := range wb.sheets {
		if strings.EqualFold(s.name, name) {
			return nil, fmt.Errorf("sheet %q added twice", name)
		}
	}
	if len(wb.sheets) == 0 {
		// A new workbook has "Sheet1"; rename it rather than leave it empty.
		if err := wb.f.SetSheetName("Sheet1", name); err != nil {
			return nil, wb.fail(fmt.Errorf("naming sheet %q: %w", name, err))
		}
	} else if _, err := wb.f.NewSheet(name); err != nil {
		return nil, wb.fail(fmt.Errorf("adding sheet %q: %w", name, err))
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
func (s *SheetWriter) Write(cells []string) error {
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
	for i, c := range cells {
		if err := checkXLSXCell(c); err != nil {
			return wb.fail(fmt.Errorf("sheet %q, data row %d, column %d: %w", s.name, s.row, i+1, err))
		}
		s.vals[i] = c
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

// checkXLSXCell rejects what excelize would silently alter: characters XML
// 1.0 cannot carry and text beyond Excel's cell limit.
func checkXLSXCell(c string) error {
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
		if err := s.sw.Flush(); err != nil {
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
