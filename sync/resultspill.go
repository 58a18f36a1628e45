package sync

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	stdsync "sync"

	"custsync/formats"
)

// Result rows wait on disk, not in memory. A first import of a million rows applies a million rows, and
// keeping every row's cells until the result files were written made its memory grow with the input. So the
// rows are gathered in a buffer of bounded size; a full buffer is sorted and written as one sorted run to a
// private temporary file in the results directory, and at the end the runs are merged: the files come out in
// input-line order, as they would from memory, with the memory of one buffer and one read buffer per run.
// Runs that never fill the buffer (most imports) never touch the disk.

// resultFile tells the two result files of a table apart; errors sort first, as writeResults writes them.
type resultFile uint8

const (
	errorFile resultFile = iota
	successFile
)

// resultKey orders result rows: by table (its index in the plan's sources), file and input line, then by
// arrival, so that the rows of one line keep the order they came in (the first error of a row gives the
// line its cells, later ones add their reasons).
type resultKey struct {
	table int
	file  resultFile
	line  int
	seq   uint64
}

func (a resultKey) compare(b resultKey) int {
	return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.file, b.file), cmp.Compare(a.line, b.line), cmp.Compare(a.seq, b.seq))
}

// bufferedResult is a result row in the buffer: its cells are resultSpill.buf[off:end].
type bufferedResult struct {
	key      resultKey
	off, end int
}

// Memory of the spill: resultRunBytes of rows wait in the buffer before they are sorted into a run, and the
// merge reads the runs with resultMergeBytes of buffers in all (within resultReadMin and resultReadMax each).
const (
	resultRunBytes   = 4 << 20
	resultMergeBytes = 8 << 20
	resultReadMin    = 4 << 10
	resultReadMax    = 64 << 10
)

// resultSpill gathers the result rows of a run, from any goroutine, and gives them back sorted (each).
type resultSpill struct {
	dir    string
	tables map[*InputTable]int
	// runBytes is resultRunBytes; tests make it small to exercise the runs and their merge.
	runBytes int

	mu      stdsync.Mutex
	pending []bufferedResult
	buf     []byte
	seq     uint64
	f       *os.File
	path    string // see formats.CreateUnlinkedTemp
	w       *bufio.Writer
	size    int64
	runEnds []int64 // where each run ends in f
	err     error   // the first failure; the rows after it are dropped and each reports it
}

// resultSpillPattern names the temporary file of the result rows in the results directory (os.CreateTemp).
const resultSpillPattern = ".custsync-results-*.tmp"

func newResultSpill(dir string, sources []*InputTable, runBytes int) *resultSpill {
	tables := make(map[*InputTable]int, len(sources))
	for i, src := range sources {
		tables[src] = i
	}
	if runBytes <= 0 {
		runBytes = resultRunBytes
	}
	// A run that needs no temporary file still clears what a killed one left in the directory.
	formats.RemoveLeftoverTemps(dir, resultSpillPattern)
	return &resultSpill{dir: dir, tables: tables, runBytes: runBytes}
}

// addError keeps the error file row of re: the row's cells as read, then line, action, status, column and
// reason (the last two are what merging several errors of one row joins). Errors without a table have no row.
func (s *resultSpill) addError(re rowError) {
	if re.src == nil {
		return
	}
	status := ""
	if re.status != 0 {
		status = strconv.Itoa(re.status)
	}
	s.add(re.src, errorFile, re.pos.Line, re.cells, strconv.Itoa(re.pos.Line), re.action, status, re.column, re.reason)
}

// addSuccess keeps the success file row of an applied op: the row's cells, then line, entity, action and id.
func (s *resultSpill) addSuccess(o *op) {
	if o.src == nil {
		return
	}
	s.add(o.src, successFile, o.rec.Pos.Line, o.cells, strconv.Itoa(o.rec.Pos.Line), string(o.entity), string(o.Action), o.RemoteID)
}

// add keeps one row: cells fitted to the table's header (rows that could not be read have none), then extra.
func (s *resultSpill) add(src *InputTable, file resultFile, line int, cells []string, extra ...string) {
	table, ok := s.tables[src]
	if !ok {
		return
	}
	width := len(src.Header)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	off := len(s.buf)
	s.buf = binary.AppendUvarint(s.buf, uint64(width+len(extra)))
	for i := 0; i < width; i++ {
		c := ""
		if i < len(cells) {
			c = cells[i]
		}
		s.buf = appendString(s.buf, c)
	}
	for _, c := range extra {
		s.buf = appendString(s.buf, c)
	}
	s.pending = append(s.pending, bufferedResult{key: resultKey{table: table, file: file, line: line, seq: s.seq}, off: off, end: len(s.buf)})
	s.seq++
	if len(s.buf) >= s.runBytes {
		s.err = s.spillRun()
	}
}

// spillRun writes the buffer, sorted, as one run to the temporary file (made at the first run).
func (s *resultSpill) spillRun() error {
	if s.f == nil {
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return fmt.Errorf("results directory: %w", err)
		}
		f, path, err := formats.CreateUnlinkedTemp(s.dir, resultSpillPattern)
		if err != nil {
			return fmt.Errorf("temporary file for the result files: %w", err)
		}
		s.f, s.path, s.w = f, path, bufio.NewWriterSize(f, 1<<16)
	}
	slices.SortFunc(s.pending, func(a, b bufferedResult) int { return a.key.compare(b.key) })
	var head []byte
	for _, r := range s.pending {
		head = binary.AppendUvarint(head[:0], uint64(r.key.table))
		head = append(head, byte(r.key.file))
		head = binary.AppendUvarint(head, uint64(r.key.line))
		head = binary.AppendUvarint(head, r.key.seq)
		head = binary.AppendUvarint(head, uint64(r.end-r.off))
		if _, err := s.w.Write(head); err != nil {
			return fmt.Errorf("temporary file for the result files: %w", err)
		}
		if _, err := s.w.Write(s.buf[r.off:r.end]); err != nil {
			return fmt.Errorf("temporary file for the result files: %w", err)
		}
		s.size += int64(len(head) + r.end - r.off)
	}
	s.runEnds = append(s.runEnds, s.size)
	s.pending, s.buf = s.pending[:0], s.buf[:0]
	return nil
}

// each calls fn with every row in key order. The cells passed are fn's to keep. Call it once every row was
// added.
func (s *resultSpill) each(fn func(k resultKey, cells []string) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	var rows uint64
	count := func(k resultKey, cells []string) error {
		rows++
		return fn(k, cells)
	}
	if s.f == nil {
		slices.SortFunc(s.pending, func(a, b bufferedResult) int { return a.key.compare(b.key) })
		for _, r := range s.pending {
			cells, err := decodeResultCells(string(s.buf[r.off:r.end]))
			if err != nil {
				return err
			}
			if err := count(r.key, cells); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.pending) > 0 {
		if err := s.spillRun(); err != nil {
			return err
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("temporary file for the result files: %w", err)
	}
	readSize := min(max(resultMergeBytes/len(s.runEnds), resultReadMin), resultReadMax)
	runs := make(resultRuns, 0, len(s.runEnds))
	var start int64
	for _, end := range s.runEnds {
		rr := &resultRun{r: bufio.NewReaderSize(io.NewSectionReader(s.f, start, end-start), readSize)}
		start = end
		ok, err := rr.next()
		if err != nil {
			return err
		}
		if ok {
			runs = append(runs, rr)
		}
	}
	heap.Init(&runs)
	for len(runs) > 0 {
		rr := runs[0]
		cells, err := decodeResultCells(string(rr.cells))
		if err != nil {
			return err
		}
		if err := count(rr.key, cells); err != nil {
			return err
		}
		ok, err := rr.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&runs, 0)
		} else {
			heap.Pop(&runs)
		}
	}
	if rows != s.seq {
		// A run cut short at a row's end reads as a shorter run.
		return fmt.Errorf("%w: %d of %d rows read back", errResultSpillDamaged, rows, s.seq)
	}
	return nil
}

// remove deletes the temporary file, if there is one.
func (s *resultSpill) remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_ = formats.CloseUnlinkedTemp(s.f, s.path)
		s.f = nil
	}
}

// resultRun reads one sorted run back; key and cells are its current row.
type resultRun struct {
	r     *bufio.Reader
	key   resultKey
	cells []byte
}

var errResultSpillDamaged = errors.New("temporary file for the result files is damaged")

// maxResultRowBytes bounds what a damaged length in the temporary file can make next allocate.
const maxResultRowBytes = 1 << 30

// next reads the next row of the run; false at its end.
func (rr *resultRun) next() (bool, error) {
	table, err := binary.ReadUvarint(rr.r)
	if err == io.EOF {
		return false, nil
	}
	var file byte
	var line, seq, size uint64
	if err == nil {
		file, err = rr.r.ReadByte()
	}
	if err == nil {
		line, err = binary.ReadUvarint(rr.r)
	}
	if err == nil {
		seq, err = binary.ReadUvarint(rr.r)
	}
	if err == nil {
		size, err = binary.ReadUvarint(rr.r)
	}
	if err == nil && size > maxResultRowBytes {
		err = fmt.Errorf("row of %d bytes", size)
	}
	if err == nil {
		rr.cells = slices.Grow(rr.cells[:0], int(size))[:size]
		_, err = io.ReadFull(rr.r, rr.cells)
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", errResultSpillDamaged, err)
	}
	rr.key = resultKey{table: int(table), file: resultFile(file), line: int(line), seq: seq}
	return true, nil
}

// resultRuns is a min-heap of runs by their current row (container/heap).
type resultRuns []*resultRun

func (h resultRuns) Len() int           { return len(h) }
func (h resultRuns) Less(i, j int) bool { return h[i].key.compare(h[j].key) < 0 }
func (h resultRuns) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *resultRuns) Push(x any)        { *h = append(*h, x.(*resultRun)) }
func (h *resultRuns) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// decodeResultCells reads the cells of one row (one string; the cells are substrings of it).
func decodeResultCells(b string) ([]string, error) {
	d := spillDecoder{s: b}
	n := d.uvarint()
	if n > uint64(len(b)) {
		return nil, errResultSpillDamaged
	}
	cells := make([]string, n)
	for i := range cells {
		cells[i] = d.string()
	}
	if d.err != nil || d.s != "" {
		return nil, errResultSpillDamaged
	}
	return cells, nil
}
