package formats

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Excel's sheet limits.
const (
	xlsxMaxRows = 1 << 20
	xlsxMaxCols = 1 << 14
	// xlsxMaxRowText bounds the text of one row.
	xlsxMaxRowText = 64 << 20
)

// errNotWorksheet is returned for a sheet part that holds a chart or dialog
// sheet: such a sheet has no table.
var errNotWorksheet = errors.New("not a worksheet")

// sheetReader streams the rows of a worksheet part. It interprets just what
// a table needs (the rows and cells of sheetData, and the dimension) and
// checks the rest of the part for well-formedness only. Row and cell
// positions follow the r attributes, or count on from the previous row or
// cell where a writer left them out.
type sheetReader struct {
	sc    *xmlScanner
	sst   *sstReader   // nil when the workbook has no shared strings
	nums  numberStyles // by cell style
	inSD  bool         // inside sheetData
	inRow bool         // inside a row of sheetData
	isWS  bool         // the root element is a worksheet
	ended bool         // the part has been read to its end

	row        int // number of the current or last row
	lastRow    int // number of the last row element seen
	dimLastRow int // the last row of the dimension element, 0 if none

	// The row being read: the cells' text back to back, and where each
	// cell's text is.
	text  []byte
	cells []sheetCell

	// The cell being read.
	inCell    bool
	col       int // 0-based column of the cell being read, or of the last cell
	style     int
	typ       []byte
	vbuf      []byte
	collectV  bool
	vSeen     bool // the cell has a <v>, if an empty one
	formula   bool // the cell has an <f>
	inIS      bool
	inRun     bool
	collectIS bool
	isSeen    bool
	cellStart int
}

// sheetCell is a cell of the current row: text[start:end] of the reader.
type sheetCell struct {
	col        int // 0-based column
	start, end int
	kind       cellKind
}

// cellKind is what a cell's text is, where its meaning depends on it.
type cellKind uint8

const (
	cellText         cellKind = iota // text, a boolean, a date, or a formula's text
	cellNumber                       // a number, stored with a decimal point whatever the locale
	cellError                        // a spreadsheet error value (#N/A, ...)
	cellUncalculated                 // a formula without a computed value: no text, yet not blank
)

func newSheetReader(sc *xmlScanner, sst *sstReader, nums numberStyles) *sheetReader {
	return &sheetReader{sc: sc, sst: sst, nums: nums}
}

// sheetError is a problem at a known row of the sheet (0: none).
type sheetError struct {
	row int
	err error
}

func (e *sheetError) Error() string { return e.err.Error() }
func (e *sheetError) Unwrap() error { return e.err }

func (r *sheetReader) fail(format string, args ...any) error {
	return &sheetError{row: r.row, err: fmt.Errorf(format, args...)}
}

// nextRow reads the next row that has cells. ok is false once the part has
// been read to its end: then the whole part was well-formed and its rows
// reached its dimension.
func (r *sheetReader) nextRow() (ok bool, err error) {
	if r.ended {
		return false, nil
	}
	sc := r.sc
	for {
		tok, err := sc.next()
		if err != nil {
			return false, &sheetError{row: r.row, err: err}
		}
		switch tok {
		case tokText:
			if r.collectV {
				if len(r.vbuf)+len(sc.text) > xlsxMaxCellText {
					return false, r.fail("cell %s holds more than %d MiB of text", cellRef(r.col, r.row), xlsxMaxCellText>>20)
				}
				r.vbuf = append(r.vbuf, sc.text...)
			} else if r.collectIS {
				if len(r.text)-r.cellStart+len(sc.text) > xlsxMaxCellText {
					return false, r.fail("cell %s holds more than %d MiB of text", cellRef(r.col, r.row), xlsxMaxCellText>>20)
				}
				r.text = append(r.text, sc.text...)
			}
		case tokStart:
			if err := r.start(); err != nil {
				return false, err
			}
		case tokEnd:
			done, err := r.end()
			if err != nil || done {
				return done, err
			}
		case tokEOF:
			r.ended = true
			if !r.isWS {
				return false, errNotWorksheet
			}
			if r.dimLastRow > 1 && r.lastRow < r.dimLastRow {
				return false, &sheetError{err: fmt.Errorf("the sheet ends early: its dimension says the cells reach row %d, but the rows end at row %d; "+
					"the file is incomplete, or the program that wrote it declared more rows than it wrote (saving it again from a spreadsheet program fixes that)",
					r.dimLastRow, r.lastRow)}
			}
			return false, nil
		}
	}
}

// start handles a start tag.
func (r *sheetReader) start() error {
	sc := r.sc
	name := sc.local()
	switch sc.level {
	case 0:
		r.isWS = string(name) == "worksheet"
		if !r.isWS && string(name) != "chartsheet" && string(name) != "dialogsheet" {
			return r.fail("the root element is <%s>, not <worksheet>", sc.qname())
		}
	case 1:
		switch string(name) {
		case "sheetData":
			r.inSD = !sc.selfClosing
		case "dimension":
			if ref, ok := sc.attr("ref"); ok {
				last := ref
				if k := bytes.IndexByte(ref, ':'); k >= 0 {
					last = ref[k+1:]
				}
				_, row, err := parseCellRef(last)
				if err != nil {
					return r.fail("the sheet's dimension %q: %v", ref, err)
				}
				r.dimLastRow = row
			}
		}
	case 2:
		if r.inSD && string(name) == "row" {
			return r.startRow()
		}
	case 3:
		if r.inRow && string(name) == "c" {
			return r.startCell()
		}
	case 4:
		if !r.inCell {
			break
		}
		switch string(name) {
		case "v":
			r.collectV = !sc.selfClosing
			r.vSeen = true
		case "f":
			r.formula = true
		case "is":
			r.inIS = !sc.selfClosing
			r.isSeen = true
		}
	case 5:
		if r.inIS {
			switch string(name) {
			case "t":
				r.collectIS = !sc.selfClosing && string(r.typ) == "inlineStr"
			case "r":
				r.inRun = !sc.selfClosing
			}
		}
	case 6:
		if r.inRun && string(name) == "t" {
			r.collectIS = !sc.selfClosing && string(r.typ) == "inlineStr"
		}
	}
	return nil
}

func (r *sheetReader) startRow() error {
	n := r.lastRow + 1
	if v, ok := r.sc.attr("r"); ok {
		if n, ok = parseSmallUint(v); !ok || n < 1 {
			return r.fail("a row numbered %q", v)
		}
		if n <= r.lastRow {
			return r.fail("row %d follows row %d; rows must be in ascending order", n, r.lastRow)
		}
	}
	if n > xlsxMaxRows {
		return r.fail("row %d is beyond the last row a sheet can have (%d)", n, xlsxMaxRows)
	}
	r.row, r.lastRow = n, n
	r.text, r.cells, r.col = r.text[:0], r.cells[:0], -1
	r.inRow = !r.sc.selfClosing
	return nil
}

func (r *sheetReader) startCell() error {
	sc := r.sc
	col := r.col + 1
	var ref, style, typ []byte
	for i := range sc.attrs {
		a := &sc.attrs[i]
		if a.nameEnd-a.localAt == 1 {
			switch sc.buf[a.localAt] {
			case 'r':
				ref = sc.attrValue(a)
			case 's':
				style = sc.attrValue(a)
			case 't':
				typ = sc.attrValue(a)
			}
		}
	}
	if ref != nil {
		c, _, err := parseCellRef(ref)
		if err != nil {
			return r.fail("a cell with the reference %q: %v", ref, err)
		}
		if c <= r.col {
			return r.fail("cell %s follows cell %s; cells must be in column order", ref, cellRef(r.col, r.row))
		}
		col = c
	}
	if col >= xlsxMaxCols {
		return r.fail("a cell beyond the last column a sheet can have")
	}
	r.col = col
	r.style = 0
	if style != nil {
		v, ok := parseSmallUint(style)
		if !ok {
			return r.fail("cell %s has the style %q", cellRef(col, r.row), style)
		}
		r.style = v
	}
	r.typ = append(r.typ[:0], typ...) // attribute values do not outlive the tag
	r.vbuf = r.vbuf[:0]
	r.isSeen, r.vSeen, r.formula = false, false, false
	r.cellStart = len(r.text)
	r.inCell = !sc.selfClosing
	return nil
}

// hasUncalculated reports whether the current row holds a formula without a computed value.
func (r *sheetReader) hasUncalculated() bool {
	for _, c := range r.cells {
		if c.kind == cellUncalculated {
			return true
		}
	}
	return false
}

// parseSmallUint parses the decimal digits of a style index or row number
// (at most 9 of them).
func parseSmallUint(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// end handles an end tag; done is true when it completed a row with cells.
func (r *sheetReader) end() (done bool, err error) {
	switch r.sc.level {
	case 1:
		if r.inSD && string(r.sc.local()) == "sheetData" {
			r.inSD = false
		}
	case 2:
		if r.inRow {
			r.inRow = false
			return len(r.cells) > 0, nil
		}
	case 3:
		if r.inCell {
			r.inCell = false
			return false, r.finishCell()
		}
	case 4:
		r.collectV = false
		r.inIS = false
	case 5:
		r.collectIS = false
		r.inRun = false
	case 6:
		r.collectIS = false
	}
	return false, nil
}

// finishCell turns the collected value of a cell into its text.
func (r *sheetReader) finishCell() error {
	start := r.cellStart
	kind := cellText
	switch string(r.typ) {
	case "s":
		v := bytes.TrimSpace(r.vbuf)
		if len(v) == 0 {
			break
		}
		i, ok := parseSmallUint(v)
		if !ok {
			return r.fail("cell %s refers to the shared string %q", cellRef(r.col, r.row), r.vbuf)
		}
		if r.sst == nil {
			return r.fail("cell %s refers to shared string %d, but the workbook has no shared strings", cellRef(r.col, r.row), i)
		}
		var err error
		if r.text, ok, err = r.sst.appendString(r.text, i); err != nil {
			return &sheetError{row: r.row, err: err}
		}
		if !ok {
			return r.fail("cell %s refers to shared string %d, but the workbook has %d", cellRef(r.col, r.row), i, r.sst.sst.count)
		}
	case "inlineStr":
		if !r.isSeen {
			r.text = append(r.text, r.vbuf...)
			break
		}
		if bytes.Contains(r.text[start:], []byte("_x")) {
			r.vbuf = appendBstrDecoded(r.vbuf[:0], r.text[start:])
			r.text = append(r.text[:start], r.vbuf...)
		}
	case "", "n":
		kind = cellNumber
		if pad := r.nums.pad(r.style); pad != nil && len(r.vbuf) > 0 {
			var ok bool
			if r.text, ok = pad.appendDisplay(r.text, r.vbuf); ok {
				break
			}
		}
		if r.nums.isGeneral(r.style) && len(r.vbuf) > 0 {
			r.text = appendGeneral(r.text, r.vbuf)
			break
		}
		r.text = append(r.text, r.vbuf...)
	case "e":
		kind = cellError
		r.text = append(r.text, r.vbuf...)
	default: // "str" (a formula's text), "b" (0 or 1), "d" (ISO 8601): as stored
		r.text = append(r.text, r.vbuf...)
	}
	if len(r.text) > xlsxMaxRowText {
		return r.fail("row %d holds more than %d MiB of text", r.row, xlsxMaxRowText>>20)
	}
	if len(r.text) > start {
		r.cells = append(r.cells, sheetCell{col: r.col, start: start, end: len(r.text), kind: kind})
	} else if r.formula && !r.vSeen && !r.isSeen {
		// A program that writes formulas without calculating them (a report generator, a library) leaves the
		// value out; reading that as blank would keep the old value without a word.
		r.cells = append(r.cells, sheetCell{col: r.col, start: start, end: start, kind: cellUncalculated})
	}
	return nil
}

// parseCellRef parses a cell reference such as "C7" or "$C$7" into a 0-based
// column and a 1-based row.
func parseCellRef(ref []byte) (col, row int, err error) {
	i := 0
	if i < len(ref) && ref[i] == '$' {
		i++
	}
	col = 0
	start := i
	for i < len(ref) && i-start < 4 {
		c := ref[i] | 0x20
		if c < 'a' || c > 'z' {
			break
		}
		col = col*26 + int(c-'a'+1)
		i++
	}
	if i == start || col > xlsxMaxCols {
		return 0, 0, errors.New("not a cell reference")
	}
	if i < len(ref) && ref[i] == '$' {
		i++
	}
	row, ok := parseSmallUint(ref[i:])
	if !ok || row < 1 || row > xlsxMaxRows {
		return 0, 0, errors.New("not a cell reference")
	}
	return col - 1, row, nil
}

// cellRef names a cell: 0-based column, 1-based row.
func cellRef(col, row int) string {
	var b [8]byte
	i := len(b)
	for n := col + 1; n > 0; n = (n - 1) / 26 {
		i--
		b[i] = byte('A' + (n-1)%26)
	}
	return string(b[i:]) + strconv.Itoa(row)
}
