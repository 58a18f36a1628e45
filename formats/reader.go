package formats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Options controls how input files are decoded. The zero value auto-detects
// everything and reads every visible sheet.
type Options struct {
	// Delimiter is the CSV field separator. 0 auto-detects among ',', ';' and
	// tab from the first lines of the file, respecting quotes; an Excel
	// "sep=X" first line is honoured (and skipped) when no delimiter is set.
	Delimiter rune
	// Encoding of CSV input: "" or "auto" reads UTF-8 and switches to
	// Windows-1252 if the first non-ASCII byte of the file is not valid UTF-8
	// (a later invalid byte in a file already seen as UTF-8 is a FileError);
	// "utf-8", "windows-1252" (alias "cp1252") and "iso-8859-1" (alias
	// "latin1") force an encoding. A byte-order mark always wins: UTF-8 BOMs
	// are stripped and UTF-16 files (Excel's "Unicode text") are decoded.
	Encoding string
	// Sheet selects one XLSX worksheet by name (case-insensitive); "" reads
	// every visible, non-empty sheet in workbook order.
	Sheet string

	// skipWholeCheck turns off the check that a CSV file was not cut off, only
	// for the benchmark that measures what the check costs.
	skipWholeCheck bool
}

// Row is one data row of a table.
type Row struct {
	Pos Position
	// Cells has exactly one entry per header column: short rows are padded
	// with "", cells beyond the header must be blank (else Next returns a
	// RowError). Cells are raw text, not trimmed.
	//
	// The slice is only valid until the next call to Next (the reader reuses
	// it); the strings in it are immutable and may be retained.
	Cells []string
	// Errors lists the cells of an XLSX row that hold a spreadsheet error value (a cell of type "e", such as a
	// failed VLOOKUP's #N/A, #DIV/0!, #REF!, #VALUE!) or a formula without a computed value, in column order;
	// Cells[Col] holds the error text ("" for the formula). Such a cell is not data: whoever reads the column
	// must treat the row as invalid, never as a clear or a blank. Always empty for CSV, where "#N/A" is text.
	// Like Cells, only valid until the next call to Next.
	Errors []CellError
	// Numbers lists, ascending, the columns (indexes into Cells) whose XLSX cells are numbers: their text is
	// the stored value, written with a decimal point whatever the locale, so a decimal-comma reading must not
	// apply to them. Always empty for CSV. Like Cells, only valid until the next call to Next.
	Numbers []int
}

// CellError is a cell of a row whose content is not data: a spreadsheet error value, or a formula the
// program that wrote the workbook did not calculate.
type CellError struct {
	Col   int    // index into Row.Cells
	Ref   string // the cell's reference as the spreadsheet names it, e.g. "C7"
	Value string // the error text, e.g. "#N/A"; "" for an uncalculated formula
	// Uncalculated marks a formula cell without a computed value.
	Uncalculated bool
}

// Reason says what is wrong with the cell and, where the user can act on it, what to do.
func (e CellError) Reason() string {
	if e.Uncalculated {
		return e.Ref + " holds a formula without a computed value; open and save the workbook in a spreadsheet program so it calculates"
	}
	return e.Ref + ": the cell holds the spreadsheet error " + e.Value
}

// Table is a stream of rows under one header: a CSV file or an XLSX sheet.
type Table interface {
	// Name is the sheet name for XLSX and the file's base name without its
	// extension for CSV.
	Name() string
	// Header returns the column names: trimmed, BOM stripped, trailing empty
	// names dropped, guaranteed non-empty and unique (case-insensitively).
	Header() []string
	// Next returns the next non-blank row, io.EOF at the end, a *RowError for
	// a bad row (call Next again to continue) or a *FileError when the rest
	// of the input cannot be read (every later call returns it too). A file
	// that ends early returns a *FileError (wrapping ErrCutOff for a CSV
	// file) where io.EOF would come: only io.EOF means the table was read to
	// its proper end. Rows whose cells are all empty or white space are
	// skipped.
	Next() (Row, error)
	// Close releases the table. For XLSX the workbook is closed (and its
	// temporary files removed) when its last table is closed.
	Close() error
}

// CSVDialect is implemented by the tables of CSV files, for logging what was
// detected. Encoding is "utf-8", "utf-16", "windows-1252", "iso-8859-1", or
// "ascii" while auto-detection has seen only ASCII; it reflects what has been
// read so far, since detection can switch to Windows-1252 later in the file.
type CSVDialect interface {
	Dialect() (delimiter rune, encoding string)
}

// ErrEmptyFile is wrapped by the FileError Open returns for a file without any content: 0 bytes, or for CSV
// nothing but blank lines. Callers treat it like a table without data rows (custsync stops unless empty input
// is allowed), not like damage.
var ErrEmptyFile = errors.New("the file is empty")

// ErrCutOff is wrapped by the FileError a table returns, instead of io.EOF,
// when the file ends in the middle of its last record: a CSV file whose last
// record has fewer cells than the header and no line break after it. Rows read
// before it are not to be trusted as a complete table.
var ErrCutOff = errors.New("the file is cut off")

// ErrUnsupportedFormat is wrapped by the FileError Open returns for files that
// are neither CSV nor XLSX, such as legacy .xls workbooks.
var ErrUnsupportedFormat = errors.New("unsupported file format")

// Open opens a CSV or XLSX file for streaming. The format is recognised from
// the content (a ZIP archive is XLSX), not the extension. A CSV file yields
// one table; a workbook yields one table per visible, non-empty worksheet in
// workbook order, or only opts.Sheet. Each returned table must be closed
// (CloseAll does it). All errors are *FileError.
func Open(path string, opts Options) ([]Table, error) {
	kind, err := sniff(path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case kindXLSX:
		return openXLSX(path, opts)
	case kindOLE:
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: a legacy Excel 97-2003 (.xls) or password-protected workbook; save it as .xlsx or CSV", ErrUnsupportedFormat)}
	}
	if opts.Sheet != "" {
		return nil, &FileError{Path: path, Err: fmt.Errorf("a sheet (%q) was selected but the file is CSV, not XLSX", opts.Sheet)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	t, err := newCSVTable(f, path, opts)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	t.closer = f
	return []Table{t}, nil
}

// CloseAll closes every table and returns the first error.
func CloseAll(tables []Table) error {
	var first error
	for _, t := range tables {
		if err := t.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

type fileKind int

const (
	kindCSV fileKind = iota
	kindXLSX
	kindOLE
)

var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

func sniff(path string) (fileKind, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, &FileError{Path: path, Err: err}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return 0, &FileError{Path: path, Err: errors.New("is a directory, not a file")}
	}
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, &FileError{Path: path, Err: err}
	}
	head = head[:n]
	if n == 0 {
		return 0, &FileError{Path: path, Err: fmt.Errorf("%w: 0 bytes, no header line", ErrEmptyFile)}
	}
	switch {
	case bytes.HasPrefix(head, zipMagic):
		return kindXLSX, nil
	case bytes.Equal(head, oleMagic):
		return kindOLE, nil
	}
	if IsWorkbookPath(path) {
		return 0, &FileError{Path: path, Err: errors.New("has an Excel extension but is not an XLSX workbook (not a ZIP archive)")}
	}
	return kindCSV, nil
}

// normalizeHeader trims the header cells and checks that every column has a
// unique name, so later layers can address columns by name.
func normalizeHeader(cells []string) ([]string, error) {
	header := make([]string, len(cells))
	for i, c := range cells {
		if i == 0 {
			c = strings.TrimPrefix(c, "\ufeff")
		}
		header[i] = strings.TrimSpace(c)
	}
	for len(header) > 0 && header[len(header)-1] == "" {
		header = header[:len(header)-1]
	}
	if len(header) == 0 {
		return nil, errors.New("the header row is empty")
	}
	seen := make(map[string]int, len(header))
	for i, name := range header {
		if name == "" {
			return nil, fmt.Errorf("header column %d has no name (only trailing header cells may be empty)", i+1)
		}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("header column %q appears twice (columns %d and %d)", name, prev+1, i+1)
		}
		seen[key] = i
	}
	return header, nil
}

// isBlank reports whether every cell is empty or white space.
func isBlank(cells []string) bool {
	for _, c := range cells {
		if c != "" && strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// errTooManyCells builds the reason for a row longer than its header.
func errTooManyCells(cells []string, width int) error {
	last := len(cells)
	for last > width && strings.TrimSpace(cells[last-1]) == "" {
		last--
	}
	return fmt.Errorf("row has %d cells but the header has %d columns (column %d holds %q)", last, width, last, truncateForMessage(cells[last-1]))
}

func truncateForMessage(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// fitToHeader aligns cells to the header width: extra cells must be blank,
// missing ones are padded into buf. ok is false when a non-blank cell lies
// beyond the header.
func fitToHeader(cells []string, width int, buf *[]string) (fitted []string, ok bool) {
	switch {
	case len(cells) == width:
		return cells, true
	case len(cells) > width:
		for _, c := range cells[width:] {
			if strings.TrimSpace(c) != "" {
				return nil, false
			}
		}
		return cells[:width], true
	}
	b := (*buf)[:0]
	b = append(b, cells...)
	for len(b) < width {
		b = append(b, "")
	}
	*buf = b
	return b, true
}
