package sync

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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
// success file (the rows applied, plus what was done). Rows of a table keep the table's header, so the error
// file can be fixed and imported again; CSV result files keep its delimiter and get a byte-order mark where
// it had one or was not UTF-8 (formats.CSVStyleFor; bom overrides), so they open in Excel as it did.
func writeResults(dir, format string, bom *bool, p *plan, r *runner) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	errs := map[*InputTable][]resultRow{}
	merged := map[*InputTable]map[int]int{} // line -> index in errs, so several problems of a row make one line
	addErr := func(re rowError) {
		if re.src == nil {
			return
		}
		if merged[re.src] == nil {
			merged[re.src] = map[int]int{}
		}
		if i, ok := merged[re.src][re.pos.Line]; ok {
			row := errs[re.src][i].cells
			n := len(row)
			row[n-2] = joinNonEmpty(row[n-2], re.column)
			row[n-1] = joinNonEmpty(row[n-1], re.reason)
			return
		}
		cells := fit(re.cells, len(re.src.Header))
		status := ""
		if re.status != 0 {
			status = strconv.Itoa(re.status)
		}
		cells = append(cells, strconv.Itoa(re.pos.Line), re.action, status, re.column, re.reason)
		merged[re.src][re.pos.Line] = len(errs[re.src])
		errs[re.src] = append(errs[re.src], resultRow{line: re.pos.Line, cells: cells})
	}
	for _, re := range p.invalid {
		addErr(re)
	}
	r.mu.Lock()
	for _, re := range r.rowErrors {
		addErr(re)
	}
	// A held delete of a row is not applied: its row goes to the error file with why, and is applied when that
	// file goes back in once the failed rows are fixed. Full-snapshot deletes have no row: they get a file of
	// their own.
	var heldFull []resultRow
	for _, h := range r.heldOps {
		o := h.op
		if o.src == nil {
			heldFull = append(heldFull, resultRow{cells: []string{string(o.entity), o.ERPKey, o.RemoteID, h.reason}})
			continue
		}
		addErr(rowError{src: o.src, pos: o.rec.Pos, cells: o.cells, entity: o.entity, key: o.ERPKey, action: string(o.Action), reason: h.reason})
	}
	oks := map[*InputTable][]resultRow{}
	for _, s := range r.successes {
		cells := append(fit(s.cells, len(s.src.Header)), strconv.Itoa(s.pos.Line), string(s.entity), string(s.action), s.remoteID)
		oks[s.src] = append(oks[s.src], resultRow{line: s.pos.Line, cells: cells})
	}
	r.mu.Unlock()

	var files []string
	names := map[string]int{}
	for _, src := range p.sources {
		base := strings.TrimSuffix(filepath.Base(src.File), filepath.Ext(src.File))
		if src.Sheet != "" {
			base += "-" + src.Sheet
		}
		if n := names[base]; n > 0 {
			base = fmt.Sprintf("%s-%d", base, n+1)
		}
		names[base]++
		for _, out := range []struct {
			suffix string
			extra  []string
			rows   []resultRow
		}{{"errors", errorColumns, errs[src]}, {"success", successColumns, oks[src]}} {
			if len(out.rows) == 0 {
				continue
			}
			path := filepath.Join(dir, base+"."+out.suffix+"."+format)
			opts := formats.WriteOptions{Format: format, Sheet: sheetName(base), CSV: src.CSVStyle(bom)}
			if err := writeResultFile(path, opts, append(append([]string(nil), src.Header...), out.extra...), out.rows); err != nil {
				return files, err
			}
			files = append(files, path)
		}
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

// fit copies cells to exactly n entries (rows that could not be read have none).
func fit(cells []string, n int) []string {
	out := make([]string, n, n+len(errorColumns))
	copy(out, cells)
	return out
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
