package sync

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"custsync/formats"
)

// Result file columns. They start with resultColumnPrefix, so an error file, once fixed, is read back as input
// with these columns ignored.
var (
	errorColumns   = []string{"custsync_line", "custsync_action", "custsync_status", "custsync_column", "custsync_error"}
	successColumns = []string{"custsync_line", "custsync_entity", "custsync_action", "custsync_remote_id"}
)

// resultRow is one line of a result file, ordered by input line.
type resultRow struct {
	line  int
	cells []string
}

// writeResults writes, per input table that has any, an error file (the failed rows as read, plus why) and a
// success file (the rows applied, plus what was done), from the rows the runner kept in r.results (see
// resultSpill). Rows of a table keep the table's header, so the error file can be fixed and imported again;
// CSV result files keep its delimiter and get a byte-order mark where it had one or was not UTF-8
// (formats.CSVStyleFor; bom overrides), so they open in Excel as it did.
func writeResults(dir, format string, bom *bool, p *plan, r *runner) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	// A held delete of a row is not applied: its row goes to the error file with why, and is applied when that
	// file goes back in once the failed rows are fixed. Full-snapshot deletes have no row: they get a file of
	// their own.
	var heldFull []resultRow
	r.mu.Lock()
	for _, h := range r.heldOps {
		o := h.op
		if o.src == nil {
			heldFull = append(heldFull, resultRow{cells: []string{string(o.entity), o.ERPKey, o.RemoteID, h.reason}})
			continue
		}
		r.results.addError(rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: o.entity, key: o.ERPKey, action: string(o.Action), reason: h.reason})
	}
	r.mu.Unlock()

	bases := resultBases(p.sources)
	var files []string
	var w formats.Writer
	var open resultKey // the table and file w writes, to path
	var path string
	closeFile := func() error {
		if w == nil {
			return nil
		}
		err := w.Close()
		w = nil
		if err == nil {
			files = append(files, path)
		}
		return err
	}
	defer func() {
		if w != nil {
			_ = w.Abort()
		}
	}()
	write := func(k resultKey, cells []string) error {
		if w == nil || k.table != open.table || k.file != open.file {
			if err := closeFile(); err != nil {
				return err
			}
			src := p.sources[k.table]
			suffix, extra := "errors", errorColumns
			if k.file == successFile {
				suffix, extra = "success", successColumns
			}
			path = filepath.Join(dir, bases[k.table]+"."+suffix+"."+format)
			opts := formats.WriteOptions{Format: format, Sheet: sheetName(bases[k.table]), CSV: src.CSVStyle(bom)}
			var err error
			if w, err = formats.CreateWith(path, opts); err != nil {
				return err
			}
			open = k
			if err := w.WriteHeader(append(slices.Clip(src.Header), extra...)); err != nil {
				return err
			}
		}
		return w.Write(cells)
	}
	// Several errors of one row make one line: the first gives the row's cells, the others add their column
	// and reason. They arrive one after the other, in the order they were found.
	var last resultKey
	var row []string
	err := r.results.each(func(k resultKey, cells []string) error {
		if row != nil && k.file == errorFile && last.file == errorFile && k.table == last.table && k.line == last.line {
			n := len(row)
			row[n-2] = joinNonEmpty(row[n-2], cells[len(cells)-2])
			row[n-1] = joinNonEmpty(row[n-1], cells[len(cells)-1])
			return nil
		}
		if row != nil {
			if err := write(last, row); err != nil {
				return err
			}
		}
		last, row = k, cells
		return nil
	})
	if err == nil && row != nil {
		err = write(last, row)
	}
	if err == nil {
		err = closeFile()
	}
	if err != nil {
		return files, err
	}
	if len(heldFull) > 0 {
		path := filepath.Join(dir, "deletes.held."+format)
		opts := formats.WriteOptions{Format: format, Sheet: "deletes held"}
		if bom != nil {
			opts.CSV.BOM = *bom
		}
		for i := range heldFull {
			heldFull[i].line = i // keep the plan's order
		}
		if err := writeResultFile(path, opts, heldDeleteColumns, heldFull); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

// resultBases names the result files of each input table: the file's name without its extension, the sheet
// after a dash, and a number from the second table of the same name on.
func resultBases(sources []*InputTable) []string {
	bases := make([]string, len(sources))
	names := map[string]int{}
	for i, src := range sources {
		base := strings.TrimSuffix(filepath.Base(src.File), filepath.Ext(src.File))
		if src.Sheet != "" {
			base += "-" + src.Sheet
		}
		if n := names[base]; n > 0 {
			base = fmt.Sprintf("%s-%d", base, n+1)
		}
		names[base]++
		bases[i] = base
	}
	return bases
}

// heldDeleteColumns are the columns of deletes.held.csv: full-snapshot deletes held because rows failed.
var heldDeleteColumns = []string{"entity", "erpKey", "remoteId", "reason"}

// maxSheetName is Excel's limit on worksheet names.
const maxSheetName = 31

// sheetName makes a worksheet name of a result file's base name: Excel allows at most 31 characters and none of
// : \ / ? * [ ], and no apostrophe at either end. The name of each result workbook's one sheet need not be
// unique beyond it, but a shortened name keeps the end of the base (which tells the tables of one export apart,
// "-2") behind an ellipsis.
func sheetName(base string) string {
	name := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, base)
	name = strings.Trim(name, "'")
	if name == "" {
		return "results"
	}
	runes := []rune(name)
	if len(runes) <= maxSheetName {
		return name
	}
	const keepEnd = 10
	return string(runes[:maxSheetName-keepEnd-1]) + "…" + string(runes[len(runes)-keepEnd:])
}

func writeResultFile(path string, opts formats.WriteOptions, header []string, rows []resultRow) error {
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].line < rows[j].line })
	w, err := formats.CreateWith(path, opts)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.WriteHeader(header); err != nil {
		return err
	}
	for _, row := range rows {
		if err := w.Write(row.cells); err != nil {
			return err
		}
	}
	return w.Close()
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || a == b:
		return a
	}
	return a + "; " + b
}
