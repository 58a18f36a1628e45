package sync

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"custsync/formats"
	"custsync/mapping"
)

// The input stage is the one way ERP tables come in: import (plan.go), check, deletions ack and mappings pull
// all read through it. It opens the files, resolves each table's mappers before the first row is read (a wrong
// header stops everything with nothing sent), drops the custsync_ columns of result files, and streams rows
// with their formats.Position. The rules that make a file trustworthy live here once:
//
//   - a file is whole or it is an input error: the readers report a file that ends early (formats.FileError),
//     and every table must be read to its proper end (InputTable.Complete) before anything is planned from it;
//   - a 0-byte file is the same safety stop as a file without data rows, unless empty input is allowed;
//   - --expect-rows control totals are compared when a table ends;
//   - cells mean what the spreadsheet showed: a spreadsheet error value (#N/A, #REF!, ...), a cell longer
//     than MaxCellBytes or a control character (mapping.ControlCharAt) in a column a mapper reads makes the row
//     invalid for that mapper, never a clear and never text sent to the platform.
//
// The stage streams: a table yields one row per Next call, so a planner can consume it batch by batch.

// MaxCellBytes is the most a cell that a mapper reads may hold. The platform documents no limit for most text
// fields (it does for ids, country and currency codes, which their own validation checks), and nothing an ERP
// exports for a customer comes close; a larger cell is a damaged export or a pasted document, and it is a row
// error rather than something sent to the platform and kept in the checkpoint.
const MaxCellBytes = 64 << 10

// InputOptions say which ERP files the input stage reads and how.
type InputOptions struct {
	Files  []string
	Spec   *mapping.Spec  // nil: the default columns
	Entity mapping.Entity // optional: the entity of every table, overriding detection by name
	Read   formats.Options
	// Unmapped opens the tables without resolving mappers, for readers of fixed columns (deletions ack).
	Unmapped bool
	// AllowEmpty accepts a 0-byte file as a table without rows (it is skipped); otherwise it is a safety stop,
	// like a file with a header and no data rows.
	AllowEmpty bool
	// ExpectRows are control totals: the data rows each table must have (see RowCount).
	ExpectRows []RowCount
}

// RowCount is a control total: Table names a table (a CSV file's name without directory and extension, or an
// XLSX sheet's name, case-insensitive; "" means every table) and Rows the number of data rows it must have,
// counting rows that fail but not blank ones.
type RowCount struct {
	Table string
	Rows  int
}

// ParseRowCount parses an --expect-rows value: "N" for every table or "TABLE=N".
func ParseRowCount(s string) (RowCount, error) {
	name, num, named := strings.Cut(s, "=")
	if !named {
		name, num = "", s
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(num), &n); err != nil || n < 0 || strings.TrimSpace(num) != fmt.Sprint(n) {
		return RowCount{}, fmt.Errorf("%q is not N or TABLE=N with a row count N >= 0", s)
	}
	name = strings.TrimSpace(name)
	if named && name == "" {
		return RowCount{}, fmt.Errorf("%q names no table before =", s)
	}
	return RowCount{Table: name, Rows: n}, nil
}

// Input is the set of tables of one run's files, opened and resolved.
type Input struct {
	Tables []*InputTable
	files  [][]formats.Table
}

// InputTable is one table (a CSV file or an XLSX sheet) with its mappers.
type InputTable struct {
	// ID numbers the tables of an Input from 0, in file and sheet order.
	ID    int
	File  string
	Sheet string // the XLSX sheet, "" for CSV
	// Header is the table's header without the columns a result file added.
	Header  []string
	Mappers []*mapping.Mapper
	// Rows counts the data rows read so far, including rows that failed to read.
	Rows int

	t      formats.Table
	keep   []int // indexes of the kept columns in the raw rows; nil when nothing was dropped
	readBy []uint64
	// decimalComma marks the columns some mapper reads as decimal-comma numbers (nil when none does): only
	// there does a row need to say which cells are spreadsheet numbers.
	decimalComma []bool
	expect       int // control total, -1 for none
	complete     bool
	// cellSlab is carved into the rows' Cells: one allocation per cellSlabRows rows instead of one per row (a
	// fifth of the reader goroutine's time on a million rows, and the reader paces the whole planner).
	cellSlab []string
}

// cellSlabRows is how many rows share one allocation of cells. Small enough that a few rows kept for long (the
// cells of an op) keep little else alive.
const cellSlabRows = 64

// String names the table for messages: "file" or "file[sheet]".
func (t *InputTable) String() string {
	if t.Sheet != "" {
		return fmt.Sprintf("%s[%s]", t.File, t.Sheet)
	}
	return t.File
}

// CSVStyle is the style of CSV output made from this table, so that it opens in Excel as the table did
// (formats.CSVStyleFor); a non-nil bom overrides the byte-order mark.
func (t *InputTable) CSVStyle(bom *bool) formats.CSVStyle { return formats.CSVStyleFor(t.t, 0, bom) }

// Complete reports whether the table was read to its proper end: Next returned io.EOF.
func (t *InputTable) Complete() bool { return t.complete }

// InputRow is one data row.
type InputRow struct {
	Pos formats.Position
	// Cells holds one cell per Header column, as read; nil when the reader could not split the row. The slice
	// is the caller's to keep.
	Cells []string
	// ReadErr says why the reader rejected the row ("" when it did not). Such a row has no trustworthy cells:
	// its key is unknown.
	ReadErr string
	// Bad lists cells a mapper must not read as data: spreadsheet error values, formulas without a computed
	// value and over-long cells, in columns some mapper reads.
	Bad []BadCell
	// Numbers lists, ascending, the columns a mapper reads as decimal-comma numbers whose cells are spreadsheet
	// numbers (stored with a decimal point whatever the locale; see formats.Row.Numbers).
	Numbers []int
}

// BadCell is a cell whose content is not data.
type BadCell struct {
	Col    int // index into Header and InputRow.Cells
	Reason string
}

// OpenInput opens every file and resolves the mappers of every table before any row is read, so a wrong header
// or an unreadable file stops the run with nothing sent. Errors wrap ErrInput, or are a *GuardError for an
// empty file when empty input is not allowed.
func OpenInput(opts InputOptions) (*Input, error) {
	in := &Input{}
	fail := func(err error) (*Input, error) {
		_ = in.Close()
		var guard *GuardError
		if errors.As(err, &guard) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	used := make([]bool, len(opts.ExpectRows))
	for _, path := range opts.Files {
		ts, err := formats.Open(path, opts.Read)
		if errors.Is(err, formats.ErrEmptyFile) {
			if opts.AllowEmpty {
				continue
			}
			return fail(&GuardError{Reason: fmt.Sprintf("%v; refusing to run from an empty file (use --allow-empty if that is intended)", err)})
		}
		if err != nil {
			return fail(err)
		}
		in.files = append(in.files, ts)
		for _, ft := range ts {
			t := &InputTable{ID: len(in.Tables), File: path, t: ft, expect: -1}
			if formats.IsWorkbookPath(path) {
				t.Sheet = ft.Name()
			}
			t.Header, t.keep = dropResultColumns(ft.Header())
			for i, rc := range opts.ExpectRows {
				if rc.Table == "" || strings.EqualFold(rc.Table, ft.Name()) {
					t.expect, used[i] = rc.Rows, true
				}
			}
			if !opts.Unmapped {
				if t.Mappers, err = mapping.Resolve(opts.Spec, mapping.Table{File: path, Sheet: t.Sheet, Entity: opts.Entity}, t.Header); err != nil {
					return fail(err)
				}
				t.readBy = make([]uint64, len(t.Header))
				for j, m := range t.Mappers {
					for _, c := range m.SourceColumns() {
						t.readBy[c] |= 1 << j
					}
					for _, c := range m.DecimalCommaColumns() {
						if t.decimalComma == nil {
							t.decimalComma = make([]bool, len(t.Header))
						}
						t.decimalComma[c] = true
					}
				}
			}
			in.Tables = append(in.Tables, t)
		}
	}
	for i, rc := range opts.ExpectRows {
		if !used[i] && rc.Table != "" {
			names := make([]string, len(in.Tables))
			for j, t := range in.Tables {
				names[j] = t.t.Name()
			}
			return fail(fmt.Errorf("--expect-rows %s=%d: no table is named %q (the tables are %s)", rc.Table, rc.Rows, rc.Table, strings.Join(names, ", ")))
		}
	}
	return in, nil
}

// Close closes every table.
func (in *Input) Close() error {
	var first error
	for _, ts := range in.files {
		if err := formats.CloseAll(ts); err != nil && first == nil {
			first = err
		}
	}
	in.files = nil
	return first
}

// Next returns the next data row, io.EOF at the proper end of the table, or an error wrapping ErrInput when
// the rest of the table cannot be trusted (a damaged or cut-off file, a control total that does not match).
// A row the reader rejected is not an error of Next: it comes back with ReadErr set.
func (t *InputTable) Next() (InputRow, error) {
	row, err := t.t.Next()
	if errors.Is(err, io.EOF) {
		if t.expect >= 0 && t.Rows != t.expect {
			return InputRow{}, fmt.Errorf("%w: %s: %d data rows, but --expect-rows says %d; the export is incomplete or not the one expected",
				ErrInput, t, t.Rows, t.expect)
		}
		t.complete = true
		return InputRow{}, io.EOF
	}
	var rowErr *formats.RowError
	if errors.As(err, &rowErr) {
		t.Rows++
		return InputRow{Pos: rowErr.Pos, ReadErr: rowErr.Err.Error()}, nil
	}
	if err != nil {
		return InputRow{}, fmt.Errorf("%w: %w", ErrInput, err)
	}
	t.Rows++
	n := len(t.Header)
	if t.cellSlab == nil || len(t.cellSlab) < n {
		t.cellSlab = make([]string, n*cellSlabRows)
	}
	out := InputRow{Pos: row.Pos, Cells: t.cellSlab[:n:n]}
	t.cellSlab = t.cellSlab[n:]
	if t.keep != nil {
		for i, k := range t.keep {
			out.Cells[i] = row.Cells[k]
		}
	} else {
		copy(out.Cells, row.Cells)
	}
	if t.readBy == nil {
		return out, nil
	}
	for _, ce := range row.Errors {
		col := t.keptIndex(ce.Col)
		if col >= 0 && t.readBy[col] != 0 {
			out.Bad = append(out.Bad, BadCell{Col: col, Reason: ce.Reason()})
		}
	}
	if t.decimalComma != nil {
		for _, c := range row.Numbers {
			if col := t.keptIndex(c); col >= 0 && t.decimalComma[col] {
				out.Numbers = append(out.Numbers, col)
			}
		}
	}
	for col, c := range out.Cells {
		if t.readBy[col] == 0 {
			continue
		}
		if len(c) > MaxCellBytes {
			out.Bad = append(out.Bad, BadCell{Col: col, Reason: fmt.Sprintf("the cell holds %d bytes, more than the %d a cell may hold", len(c), MaxCellBytes)})
		} else if i := mapping.ControlCharAt(c); i >= 0 {
			out.Bad = append(out.Bad, BadCell{Col: col, Reason: fmt.Sprintf("the cell holds a control character U+%04X at position %d; the export is probably binary or damaged",
				c[i], utf8.RuneCountInString(c[:i])+1)})
		}
	}
	return out, nil
}

// keptIndex maps a column of the raw rows to its index in Header, -1 for a dropped result column.
func (t *InputTable) keptIndex(raw int) int {
	if t.keep == nil {
		return raw
	}
	for i, k := range t.keep {
		if k == raw {
			return i
		}
	}
	return -1
}

// MapRow maps a row with the table's j-th mapper. A row with bad cells in the mapper's columns is not mapped: the
// record carries only its key (when the key cells are sound), and the errors name the bad cells.
func (t *InputTable) MapRow(j int, row *InputRow) (mapping.Record, []mapping.FieldError) {
	m := t.Mappers[j]
	var errs []mapping.FieldError
	for _, b := range row.Bad {
		if t.readBy[b.Col]&(1<<j) != 0 {
			errs = append(errs, mapping.FieldError{Pos: row.Pos, Column: t.Header[b.Col], Reason: b.Reason})
		}
	}
	if len(errs) == 0 {
		return m.MapWithNumbers(row.Pos, row.Cells, row.Numbers)
	}
	sound := make([]string, len(row.Cells))
	copy(sound, row.Cells)
	for _, b := range row.Bad {
		sound[b.Col] = ""
	}
	rec := mapping.Record{Entity: m.Entity(), Pos: row.Pos}
	rec.Key, _ = m.Key(sound)
	return rec, errs
}

// HasBad reports whether a bad cell of the row lies in a column the j-th mapper reads.
func (t *InputTable) HasBad(j int, row *InputRow) bool {
	for _, b := range row.Bad {
		if t.readBy[b.Col]&(1<<j) != 0 {
			return true
		}
	}
	return false
}

// dropResultColumns removes the columns a result file added, so that an error file can be fed back.
func dropResultColumns(header []string) ([]string, []int) {
	drop := false
	for _, h := range header {
		if strings.HasPrefix(strings.ToLower(h), resultColumnPrefix) {
			drop = true
			break
		}
	}
	if !drop {
		return header, nil
	}
	var kept []string
	var keep []int
	for i, h := range header {
		if !strings.HasPrefix(strings.ToLower(h), resultColumnPrefix) {
			kept = append(kept, h)
			keep = append(keep, i)
		}
	}
	return kept, keep
}
