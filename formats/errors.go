package formats

import (
	"fmt"
	"strconv"
	"strings"
)

// Position says where a row came from, for error messages a user can act on. It is the one position type of
// custsync: the readers set it, the input stage and the mappers carry it (mapping.Record.Pos,
// mapping.FieldError.Pos), and result files and reports print it. mapping uses this type rather than one of
// its own, so a row's position crosses no conversion between reading, mapping and planning.
type Position struct {
	// File is the path as given to Open.
	File string
	// Sheet is the worksheet name for XLSX input and empty for CSV.
	Sheet string
	// Line is the 1-based physical line where a CSV record starts (so a text
	// editor finds it even when earlier cells span lines), or the 1-based row
	// number of an XLSX worksheet. Zero means "the file as a whole".
	Line int
}

// String renders the compact form row-level messages, reports and result files use: "file:line" or
// "file[sheet]:line" (just the file or file[sheet] when Line is zero).
func (p Position) String() string {
	s := p.File
	if p.Sheet != "" {
		s += "[" + p.Sheet + "]"
	}
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	return s
}

// Words renders the position spelled out for the readers' own errors: `file, sheet "S", row N` or
// `file, line N`.
func (p Position) Words() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Sheet != "" {
		fmt.Fprintf(&b, ", sheet %q", p.Sheet)
		if p.Line > 0 {
			fmt.Fprintf(&b, ", row %d", p.Line)
		}
	} else if p.Line > 0 {
		fmt.Fprintf(&b, ", line %d", p.Line)
	}
	return b.String()
}

// FileError reports a problem that makes a whole file (or sheet) unusable: it
// cannot be opened or decoded, or its header is wrong. Callers should stop
// before sending anything (the CLI exits with code 2). Once a Table has
// returned a FileError, every later Next returns the same error.
type FileError struct {
	Path  string
	Sheet string // empty for CSV or when the problem concerns the whole workbook
	Line  int    // 0 when the problem is not tied to a line
	Err   error
}

// Error states the file, where in it, and why.
func (e *FileError) Error() string {
	return Position{File: e.Path, Sheet: e.Sheet, Line: e.Line}.Words() + ": " + e.Err.Error()
}

// Unwrap returns the underlying cause.
func (e *FileError) Unwrap() error { return e.Err }

// RowError reports a single bad row (for example more cells than the header
// has columns). The table stays usable: the caller records the error and calls
// Next again, so bad rows never stop good ones.
type RowError struct {
	Pos Position
	Err error
}

// Error states the row's position and the reason.
func (e *RowError) Error() string { return e.Pos.Words() + ": " + e.Err.Error() }

// Unwrap returns the underlying cause.
func (e *RowError) Unwrap() error { return e.Err }
