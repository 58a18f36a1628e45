package formats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/xuri/excelize/v2"
)

// workbook is shared by the tables of one XLSX file; the file is closed (and
// a spilled shared-string table removed) when the last of them is.
type workbook struct {
	mu   sync.Mutex
	pkg  *xlsxPackage
	sst  *sharedStrings // nil without shared strings
	nums numberStyles
	open int
}

func (wb *workbook) release() error {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	wb.open--
	if wb.open > 0 {
		return nil
	}
	var err error
	if wb.sst != nil {
		err = wb.sst.close()
	}
	return errors.Join(err, wb.pkg.close())
}

// xlsxTable streams one worksheet.
type xlsxTable struct {
	path   string
	sheet  string
	part   string // the sheet's zip member, for messages
	header []string
	wb     *workbook
	member io.ReadCloser
	ahead  *prefetchReader // inflates member ahead of rows
	rows   *sheetReader
	offset int // empty columns left of the header (a table starting in column B)
	cells  []string
	buf    []string
	errs   []CellError
	nums   []int
	err    error
	closed bool
}

// openXLSX opens a workbook: excelize reads what describes it (sheet names
// and visibility, styles) from a copy of just those parts, and each sheet's
// rows stream from its zip member through sheetReader, which also verifies
// the member to its end (see sheetReader and xmlScanner).
func openXLSX(path string, opts Options) (tables []Table, err error) {
	// Parsing untrusted XML must end in an input error, never a crash.
	defer func() {
		if p := recover(); p != nil {
			_ = CloseAll(tables)
			tables, err = nil, &FileError{Path: path, Err: fmt.Errorf("the workbook could not be parsed (%v)", p)}
		}
	}()
	pkg, err := openPackage(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	wb := &workbook{pkg: pkg, open: 1} // the extra reference is dropped below
	defer func() {
		if err != nil {
			_ = CloseAll(tables)
			tables = nil
		}
		if rerr := wb.release(); rerr != nil && err == nil {
			err = &FileError{Path: path, Err: rerr}
		}
	}()
	sheets, err := wb.describe()
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	var selected []xlsxSheet
	if opts.Sheet != "" {
		for _, s := range sheets {
			if strings.EqualFold(s.name, opts.Sheet) {
				selected = append(selected, s)
				break
			}
		}
		if len(selected) == 0 {
			names := make([]string, len(sheets))
			for i, s := range sheets {
				names[i] = s.name
			}
			return nil, &FileError{Path: path, Err: fmt.Errorf("no sheet named %q (the workbook has %s)", opts.Sheet, quoteList(names))}
		}
	} else {
		for _, s := range sheets {
			if s.hidden {
				continue // hidden sheets usually hold lookup lists, not data
			}
			selected = append(selected, s)
		}
	}
	for _, s := range selected {
		t, terr := wb.openSheet(path, s)
		if terr != nil {
			return tables, terr
		}
		if t == nil { // an empty sheet, or a chart
			if opts.Sheet != "" {
				return tables, &FileError{Path: path, Sheet: s.name, Err: errors.New("the sheet is empty: no header row")}
			}
			continue
		}
		tables = append(tables, t)
	}
	if len(tables) == 0 {
		return nil, &FileError{Path: path, Err: errors.New("the workbook has no sheet with a header row")}
	}
	return tables, nil
}

// xlsxSheet is a sheet as the workbook lists it.
type xlsxSheet struct {
	name   string
	hidden bool
	part   string // "" when it is not a worksheet (a chart sheet)
}

// describe lists the sheets, reads the styles and the shared strings.
func (wb *workbook) describe() ([]xlsxSheet, error) {
	wbPart, err := wb.pkg.workbookPart()
	if err != nil {
		return nil, err
	}
	meta, err := wb.pkg.metadataPackage(wbPart)
	if err != nil {
		return nil, err
	}
	f, err := excelize.OpenReader(bytes.NewReader(meta), excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("not a readable XLSX workbook: %w", err)
	}
	defer f.Close()
	if f.WorkBook == nil {
		return nil, errors.New("not a readable XLSX workbook: it has no workbook part")
	}
	rels, err := wb.pkg.relationships(wbPart)
	if err != nil {
		return nil, err
	}
	var sheets []xlsxSheet
	for _, s := range f.WorkBook.Sheets.Sheet {
		sh := xlsxSheet{name: s.Name, hidden: s.State != "" && s.State != "visible"}
		rel, ok := rels[s.ID]
		if !ok || wb.pkg.part(rel.Target) == nil {
			return nil, fmt.Errorf("the workbook lists the sheet %q, but the archive does not hold it", s.Name)
		}
		if rel.Type == "worksheet" {
			sh.part = wb.pkg.part(rel.Target).Name
		}
		sheets = append(sheets, sh)
	}
	wb.nums = cellNumberStyles(f)
	for _, rel := range rels {
		if rel.Type != "sharedStrings" {
			continue
		}
		zf := wb.pkg.part(rel.Target)
		if zf == nil {
			return nil, fmt.Errorf("the workbook's shared strings (%s) are missing from the archive", rel.Target)
		}
		if zf.UncompressedSize64 > xlsxMaxSharedStrings {
			return nil, fmt.Errorf("the shared-string table (%s) is %d MiB, more than the %d MiB this reader accepts", zf.Name, zf.UncompressedSize64>>20, xlsxMaxSharedStrings>>20)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, memberError(zf.Name, err)
		}
		wb.sst, err = parseSharedStrings(rc)
		_ = rc.Close()
		if err != nil {
			return nil, partError(fmt.Sprintf("the shared-string table (%s)", zf.Name), zf.Name, err)
		}
		break
	}
	return sheets, nil
}

// partError describes a damaged part: not well-formed, cut off, or a zip
// member that does not inflate to what its checksum says. subject names the
// part for the user, e.g. `the sheet's XML (xl/worksheets/sheet1.xml)`.
func partError(subject, member string, err error) error {
	var se *xmlSyntaxError
	var re *xmlReadError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s is not well-formed: %w", subject, err)
	case errors.Is(err, errXMLTruncated):
		return fmt.Errorf("%s %w; the file is incomplete", subject, err)
	case errors.As(err, &re):
		return memberError(member, re.err)
	}
	return err
}

// openSheet positions a table after the sheet's header, its first non-blank
// row. It returns nil, nil for a sheet without any content, or a chart sheet.
func (wb *workbook) openSheet(path string, s xlsxSheet) (*xlsxTable, error) {
	if s.part == "" {
		return nil, nil
	}
	zf := wb.pkg.part(s.part)
	member, err := zf.Open()
	if err != nil {
		return nil, &FileError{Path: path, Sheet: s.name, Err: memberError(zf.Name, err)}
	}
	return wb.startTable(path, s.name, zf.Name, member, newXMLScanner)
}

// startTable reads a sheet's rows from member up to its header; the table
// owns member from here on. newScanner is newXMLScanner except in the
// benchmark that measures what the integrity checks cost.
func (wb *workbook) startTable(path, sheet, part string, member io.ReadCloser, newScanner func(io.Reader) *xmlScanner) (*xlsxTable, error) {
	var sst *sstReader
	if wb.sst != nil {
		sst = wb.sst.reader()
	}
	wb.mu.Lock()
	wb.open++
	wb.mu.Unlock()
	ahead := newPrefetchReader(member)
	t := &xlsxTable{path: path, sheet: sheet, part: part, wb: wb, member: member, ahead: ahead,
		rows: newSheetReader(newScanner(ahead), sst, wb.nums)}
	for {
		ok, err := t.nextRow()
		if err != nil {
			_ = t.Close()
			if errors.Is(err, errNotWorksheet) {
				return nil, nil
			}
			return nil, err
		}
		if !ok {
			_ = t.Close()
			return nil, nil
		}
		cells := t.rowCells()
		if isBlank(cells) {
			continue
		}
		for _, c := range t.rows.cells {
			switch c.kind {
			case cellError:
				return nil, t.closeWith(&FileError{Path: path, Sheet: sheet, Line: t.rows.row,
					Err: fmt.Errorf("header cell %s holds the spreadsheet error %s", cellRef(c.col, t.rows.row), cells[c.col])})
			case cellUncalculated:
				ce := CellError{Ref: cellRef(c.col, t.rows.row), Uncalculated: true}
				return nil, t.closeWith(&FileError{Path: path, Sheet: sheet, Line: t.rows.row, Err: fmt.Errorf("header cell %s", ce.Reason())})
			}
		}
		for t.offset < len(cells) && strings.TrimSpace(cells[t.offset]) == "" {
			t.offset++
		}
		if t.header, err = normalizeHeader(cells[t.offset:]); err != nil {
			return nil, t.closeWith(&FileError{Path: path, Sheet: sheet, Line: t.rows.row, Err: err})
		}
		return t, nil
	}
}

func (t *xlsxTable) closeWith(err error) error {
	_ = t.Close()
	return err
}

// nextRow reads the next row with cells; ok is false at the end of the
// sheet, which has then been verified to its end.
func (t *xlsxTable) nextRow() (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, &FileError{Path: t.path, Sheet: t.sheet, Line: t.rows.row, Err: fmt.Errorf("the sheet could not be parsed (%v)", p)}
		}
	}()
	ok, err = t.rows.nextRow()
	if err != nil && !errors.Is(err, errNotWorksheet) {
		line := t.rows.row
		var se *sheetError
		if errors.As(err, &se) {
			line, err = se.row, se.err
		}
		var re *xmlReadError
		if errors.As(err, &re) {
			line = 0 // the zip member as a whole is damaged, not this row
		}
		return false, &FileError{Path: t.path, Sheet: t.sheet, Line: line, Err: partError(fmt.Sprintf("the sheet's XML (%s)", t.part), t.part, err)}
	}
	return ok, err
}

// rowCells spreads the current row's cells over their columns. The strings
// share one allocation per row, as encoding/csv's fields do.
func (t *xlsxTable) rowCells() []string {
	r := t.rows
	width := 0
	if n := len(r.cells); n > 0 {
		width = r.cells[n-1].col + 1
	}
	cells := t.cells[:0]
	for len(cells) < width {
		cells = append(cells, "")
	}
	text := string(r.text)
	for _, c := range r.cells {
		cells[c.col] = text[c.start:c.end]
	}
	t.cells = cells
	return cells
}

func (t *xlsxTable) Name() string     { return t.sheet }
func (t *xlsxTable) Header() []string { return t.header }

func (t *xlsxTable) Next() (Row, error) {
	for t.err == nil {
		ok, err := t.nextRow()
		if err != nil {
			t.err = err
			break
		}
		if !ok {
			t.err = io.EOF
			break
		}
		cells := t.rowCells()
		if isBlank(cells) && !t.rows.hasUncalculated() {
			continue
		}
		pos := Position{File: t.path, Sheet: t.sheet, Line: t.rows.row}
		if t.offset > 0 {
			lead := cells[:min(t.offset, len(cells))]
			if !isBlank(lead) {
				return Row{}, &RowError{Pos: pos, Err: fmt.Errorf("a cell left of the header's first column holds %q", truncateForMessage(strings.Join(lead, " ")))}
			}
			cells = cells[len(lead):]
		}
		fitted, ok := fitToHeader(cells, len(t.header), &t.buf)
		if !ok {
			return Row{}, &RowError{Pos: pos, Err: errTooManyCells(cells, len(t.header))}
		}
		t.errs, t.nums = t.errs[:0], t.nums[:0]
		for _, c := range t.rows.cells {
			col := c.col - t.offset
			if c.kind == cellText || col < 0 || col >= len(fitted) {
				continue
			}
			switch c.kind {
			case cellNumber:
				t.nums = append(t.nums, col)
			case cellError:
				t.errs = append(t.errs, CellError{Col: col, Ref: cellRef(c.col, pos.Line), Value: fitted[col]})
			case cellUncalculated:
				t.errs = append(t.errs, CellError{Col: col, Ref: cellRef(c.col, pos.Line), Uncalculated: true})
			}
		}
		row := Row{Pos: pos, Cells: fitted}
		if len(t.errs) > 0 {
			row.Errors = t.errs
		}
		if len(t.nums) > 0 {
			row.Numbers = t.nums
		}
		return row, nil
	}
	return Row{}, t.err
}

func (t *xlsxTable) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	if t.err == nil {
		t.err = &FileError{Path: t.path, Sheet: t.sheet, Err: errors.New("read after Close")}
	}
	_ = t.ahead.Close()
	err := t.member.Close()
	return errors.Join(err, t.wb.release())
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "no sheets"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
