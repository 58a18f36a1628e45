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
// the XLSX worksheet ("" means "Sheet1") and is ignored for CSV.
//
// CSV output is UTF-8 without a byte-order mark, comma-separated, with "\n"
// line endings and RFC 4180 quoting. Fields are quoted when they contain a
// comma, quote, CR, LF, semicolon or tab, or begin or end with white space:
// quoting the other candidate delimiters keeps delimiter auto-detection
// unambiguous when the file is read back. There is deliberately no BOM (ERP
// import tools often choke on one); Excel, however, guesses a legacy code page
// for BOM-less CSV on double-click, so files meant for people should be XLSX.
// Cells starting with "=", "+", "-" or "@" are written as they are (no
// formula-injection escaping), because escaping would change the values on
// re-import.
func Create(path, format, sheet string) (Writer, error) {
	switch strings.ToLower(format) {
	case "":
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".xlsx" || ext == ".xlsm" {
			return createXLSXWriter(path, sheet)
		}
		return createCSVWriter(path)
	case "csv":
		return createCSVWriter(path)
	case "xlsx":
		return createXLSXWriter(path, sheet)
	}
	return nil, fmt.Errorf("unknown output format %q (use csv or xlsx)", format)
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
