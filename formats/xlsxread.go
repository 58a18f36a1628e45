package formats

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/xuri/excelize/v2"
)

// xlsxUnzipXMLLimit is the size above which excelize extracts a worksheet or
// the shared-string table to a temporary file instead of memory (its default
// is 16 MiB per part). Keeping it small is what makes reading a sheet use the
// same memory for 50 thousand rows as for a million (excelize#845, #1581).
const xlsxUnzipXMLLimit = 1 << 20

// workbook is shared by the tables of one XLSX file; the file is closed when
// the last of them is.
type workbook struct {
	mu   sync.Mutex
	f    *excelize.File
	open int
}

func (wb *workbook) release() error {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	wb.open--
	if wb.open == 0 {
		return wb.f.Close()
	}
	return nil
}

// xlsxTable streams one worksheet with excelize's row iterator.
type xlsxTable struct {
	path   string
	sheet  string
	header []string
	wb     *workbook
	rows   *excelize.Rows
	rowNum int // 1-based number of the row the iterator is on
	offset int // empty columns left of the header (a table starting in column B)
	buf    []string
	err    error
	closed bool
}

func openXLSX(path string, opts Options) (tables []Table, err error) {
	// excelize parses untrusted XML; a panic inside it must become an input
	// error, not a crash of the run.
	defer func() {
		if p := recover(); p != nil {
			_ = CloseAll(tables)
			tables, err = nil, &FileError{Path: path, Err: fmt.Errorf("the workbook could not be parsed (excelize: %v)", p)}
		}
	}()
	f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true, UnzipXMLSizeLimit: xlsxUnzipXMLLimit})
	if err != nil {
		return nil, &FileError{Path: path, Err: fmt.Errorf("not a readable XLSX workbook: %w", err)}
	}
	wb := &workbook{f: f, open: 1} // the extra reference is dropped below
	defer func() {
		if err != nil {
			_ = CloseAll(tables)
			tables = nil
		}
		if rerr := wb.release(); rerr != nil && err == nil {
			err = &FileError{Path: path, Err: rerr}
		}
	}()
	sheets := f.GetSheetList()
	var selected []string
	if opts.Sheet != "" {
		for _, s := range sheets {
			if strings.EqualFold(s, opts.Sheet) {
				selected = append(selected, s)
				break
			}
		}
		if len(selected) == 0 {
			return nil, &FileError{Path: path, Err: fmt.Errorf("no sheet named %q (the workbook has %s)", opts.Sheet, quoteList(sheets))}
		}
	} else {
		for _, s := range sheets {
			if visible, verr := f.GetSheetVisible(s); verr == nil && !visible {
				continue // hidden sheets usually hold lookup lists, not data
			}
			selected = append(selected, s)
		}
	}
	for _, s := range selected {
		t, terr := openSheet(wb, path, s)
		if terr != nil {
			return tables, terr
		}
		if t == nil { // an empty sheet
			if opts.Sheet != "" {
				return tables, &FileError{Path: path, Sheet: s, Err: errors.New("the sheet is empty: no header row")}
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

// openSheet positions a row iterator after the sheet's header, the first
// non-blank row. It returns nil, nil for a sheet without any content.
func openSheet(wb *workbook, path, sheet string) (*xlsxTable, error) {
	rows, err := wb.f.Rows(sheet)
	if err != nil {
		return nil, &FileError{Path: path, Sheet: sheet, Err: err}
	}
	wb.mu.Lock()
	wb.open++
	wb.mu.Unlock()
	t := &xlsxTable{path: path, sheet: sheet, wb: wb, rows: rows}
	for {
		cells, ok, err := t.nextCells()
		if err != nil {
			_ = t.Close()
			return nil, err
		}
		if !ok {
			_ = t.Close()
			return nil, nil
		}
		if isBlank(cells) {
			continue
		}
		for t.offset < len(cells) && strings.TrimSpace(cells[t.offset]) == "" {
			t.offset++
		}
		if t.header, err = normalizeHeader(cells[t.offset:]); err != nil {
			_ = t.Close()
			return nil, &FileError{Path: path, Sheet: sheet, Line: t.rowNum, Err: err}
		}
		return t, nil
	}
}

// nextCells advances the iterator; ok is false at the end of the sheet.
func (t *xlsxTable) nextCells() (cells []string, ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			cells, ok = nil, false
			err = &FileError{Path: t.path, Sheet: t.sheet, Line: t.rowNum, Err: fmt.Errorf("the sheet could not be parsed (excelize: %v)", p)}
		}
	}()
	if !t.rows.Next() {
		if err := t.rows.Error(); err != nil {
			return nil, false, &FileError{Path: t.path, Sheet: t.sheet, Line: t.rowNum + 1, Err: err}
		}
		return nil, false, nil
	}
	// The iterator yields every row number, including rows absent from the
	// file, so counting calls gives the row number Excel shows.
	t.rowNum++
	cells, err = t.rows.Columns()
	if err != nil {
		return nil, false, &FileError{Path: t.path, Sheet: t.sheet, Line: t.rowNum, Err: err}
	}
	return cells, true, nil
}

func (t *xlsxTable) Name() string     { return t.sheet }
func (t *xlsxTable) Header() []string { return t.header }

func (t *xlsxTable) Next() (Row, error) {
	for t.err == nil {
		cells, ok, err := t.nextCells()
		if err != nil {
			t.err = err
			break
		}
		if !ok {
			t.err = io.EOF
			break
		}
		if isBlank(cells) {
			continue
		}
		pos := Position{File: t.path, Sheet: t.sheet, Line: t.rowNum}
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
		return Row{Pos: pos, Cells: fitted}, nil
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
	err := t.rows.Close()
	if rerr := t.wb.release(); err == nil {
		err = rerr
	}
	return err
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
