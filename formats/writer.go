package formats

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Writer writes one table to a file atomically: nothing appears at the
// target path until Close succeeds.
type Writer interface {
	// WriteHeader writes the column names. It must be called once, first.
	// Names must be non-empty, free of surrounding white space and unique
	// (case-insensitively), so that the file reads back with the same header.
	WriteHeader(header []string) error
	// Write writes one row with exactly one cell per header column. Cells
	// must be valid UTF-8; XLSX cells must also be valid XML characters and at
	// most 32767 characters long. The first error is sticky.
	Write(cells []string) error
	// Close commits: it flushes, syncs and renames the temporary file over
	// the target. If an earlier Write failed, Close aborts and returns that
	// error.
	Close() error
	// Abort discards the output; the target is left untouched. Abort after
	// Close is a no-op, so `defer w.Abort()` is safe.
	Abort() error
}

// Create starts an atomic writer for path. format is "csv" or "xlsx"; ""
// picks by extension (.xlsx/.xlsm are XLSX, anything else CSV). sheet names
// the XLSX worksheet ("" means "Sheet1") and is ignored for CSV. CSV output
// has the default CSVStyle; CreateWith chooses another.
//
// CSV output is UTF-8, "\n" line endings and RFC 4180 quoting. Fields are
// quoted when they contain a comma, quote, CR, LF, semicolon or tab, or begin
// or end with white space: quoting every candidate delimiter keeps delimiter
// auto-detection unambiguous when the file is read back. By default there is
// no byte-order mark (ERP import tools often choke on one) and the delimiter is
// a comma; Excel, however, guesses a legacy code page for BOM-less CSV on
// double-click and splits on the regional list separator (";" in Germany), so
// files meant for people get a BOM and the reader's delimiter (CSVStyle).
// Cells starting with "=", "+", "-" or "@" are written as they are (no
// formula-injection escaping), because escaping would change the values on
// re-import.
func Create(path, format, sheet string) (Writer, error) {
	return CreateWith(path, WriteOptions{Format: format, Sheet: sheet})
}

// WriteOptions say how CreateWith writes a table.
type WriteOptions struct {
	// Format is "csv", "xlsx" or "" (by the extension of the path).
	Format string
	// Sheet names the XLSX worksheet ("" means "Sheet1").
	Sheet string
	// CSV is the delimiter and byte-order mark of CSV output.
	CSV CSVStyle
}

// CSVStyle is how a CSV file is written for its reader: the delimiter and whether a UTF-8 byte-order mark
// leads the file. The zero value is comma-separated UTF-8 without a BOM.
type CSVStyle struct {
	// Delimiter separates fields: ',', ';', '|' or '\t'; 0 means ','.
	Delimiter rune
	// BOM starts the file with the UTF-8 byte-order mark, which makes Excel read it as UTF-8.
	BOM bool
}

// CreateWith starts an atomic writer for path as o says; see Create.
func CreateWith(path string, o WriteOptions) (Writer, error) {
	switch strings.ToLower(o.Format) {
	case "":
		if IsWorkbookPath(path) {
			return writerOrNil(createXLSXWriter(path, o.Sheet))
		}
		return writerOrNil(createCSVWriter(path, o.CSV))
	case "csv":
		return writerOrNil(createCSVWriter(path, o.CSV))
	case "xlsx":
		return writerOrNil(createXLSXWriter(path, o.Sheet))
	}
	return nil, fmt.Errorf("unknown output format %q (use csv or xlsx)", o.Format)
}

// writerOrNil returns a nil Writer on error: a nil *csvWriter in the interface is not nil, and a caller's
// deferred Abort would call it.
func writerOrNil[W Writer](w W, err error) (Writer, error) {
	if err != nil {
		return nil, err
	}
	return w, nil
}

// IsWorkbookPath reports whether path ends in an Excel workbook's extension, .xlsx or .xlsm in any case: such
// a file is XLSX wherever no format is named.
func IsWorkbookPath(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".xlsx" || ext == ".xlsm"
}

// CSVStyleFor is the style of CSV output made from an input table, so that it opens in Excel as the
// input did: the input's delimiter, and a byte-order mark when the input had one or was not UTF-8.
// Windows-1252, ISO-8859-1 and UTF-16 input thus becomes UTF-8 with a BOM rather than its own encoding:
// Excel opens that correctly on double-click in every locale, and no character is lost (Windows-1252
// cannot hold a Polish "Ś" or a euro sign in ISO-8859-1). An XLSX or nil input gives the zero style.
// A non-zero delimiter and a non-nil bom override what the input says.
func CSVStyleFor(input Table, delimiter rune, bom *bool) CSVStyle {
	var style CSVStyle
	if t, ok := input.(*csvTable); ok {
		style.Delimiter = t.delim
		switch enc := t.encoding(); {
		case t.bom:
			style.BOM = true
		case enc != "utf-8" && enc != "ascii":
			style.BOM = true
		}
	}
	if delimiter != 0 {
		style.Delimiter = delimiter
	}
	if bom != nil {
		style.BOM = *bom
	}
	return style
}

// checkHeaderForWrite applies the reader's header rules, so that whatever is
// written reads back with an identical header.
func checkHeaderForWrite(header []string) error {
	for i, name := range header {
		if name != strings.TrimSpace(name) || (i == 0 && strings.HasPrefix(name, "\ufeff")) {
			return fmt.Errorf("header column %d (%q) has surrounding white space", i+1, name)
		}
		if !utf8.ValidString(name) {
			return fmt.Errorf("header column %d is not valid UTF-8", i+1)
		}
	}
	if len(header) > 0 && header[len(header)-1] == "" {
		return fmt.Errorf("header column %d has no name", len(header))
	}
	_, err := normalizeHeader(header)
	return err
}

// checkRow validates a row's width and encoding; rowNum is the 1-based data
// row (the header is row 0) for the message.
func checkRow(cells []string, width, rowNum int) error {
	if width == 0 {
		return errors.New("Write called before WriteHeader")
	}
	if len(cells) != width {
		return fmt.Errorf("data row %d has %d cells but the header has %d columns", rowNum, len(cells), width)
	}
	for i, c := range cells {
		if !utf8.ValidString(c) {
			return fmt.Errorf("data row %d, column %d: the cell is not valid UTF-8", rowNum, i+1)
		}
	}
	return nil
}
