package sync

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"custsync/formats"
	"custsync/mapping"
)

// spill holds the rows of one exported table until its header is known, and puts them in key order. The
// mixin columns a table needs are known only once every record was read, while the header comes first in
// the file; keeping 100k records in memory for that would cost hundreds of MiB, and reading the platform
// twice would double the requests (and could see other records the second time). So the rows go to a
// private temporary file next to the output, their mixin cells keyed by a column number; only each row's
// key, offset and length stay in memory. Replayed sorted by ERP key, two exports of the same data are the
// same file whatever order the platform lists it in.
type spill struct {
	f     *os.File
	path  string // what remove deletes: "" when the file was unlinked at creation (see formats.CreateUnlinkedTemp)
	w     *bufio.Writer
	off   int64
	index []spillRow
	keys  []byte            // every row's key, back to back: one allocation instead of one per row
	ids   map[string]uint64 // mixin column -> number, in order of first appearance
	names []string
	buf   []byte
	// block holds the bytes of the file from blockOff on that readAt read last.
	block    []byte
	blockOff int64
}

// spillRow locates one row: its key in spill.keys, its bytes in the file (24 bytes a row in memory).
type spillRow struct {
	off    int64
	keyOff uint32
	keyLen uint32
	size   uint32
}

func (s *spill) key(r spillRow) []byte { return s.keys[r.keyOff : r.keyOff+r.keyLen] }

// newSpill creates the temporary file in dir (see formats.CreateUnlinkedTemp).
func newSpill(dir string) (*spill, error) {
	f, path, err := formats.CreateUnlinkedTemp(dir, ".custsync-export-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("temporary file for the export: %w", err)
	}
	return &spill{f: f, path: path, w: bufio.NewWriterSize(f, 1<<16), ids: map[string]uint64{}}, nil
}

// add keeps one row: its sort key, the cells of the entity's fixed columns and its mixin cells.
func (s *spill) add(key string, fixed []string, mixins []mapping.MixinCell) error {
	b := binary.AppendUvarint(s.buf[:0], uint64(len(fixed)))
	for _, c := range fixed {
		b = appendString(b, c)
	}
	b = binary.AppendUvarint(b, uint64(len(mixins)))
	for _, m := range mixins {
		b = binary.AppendUvarint(b, s.columnID(m.Column))
		b = appendString(b, m.Text)
	}
	s.buf = b
	if uint64(len(b)) > math.MaxUint32 || uint64(len(s.keys)+len(key)) > math.MaxUint32 {
		return errors.New("export table too large for its temporary file")
	}
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("temporary file for the export: %w", err)
	}
	s.index = append(s.index, spillRow{off: s.off, keyOff: uint32(len(s.keys)), keyLen: uint32(len(key)), size: uint32(len(b))})
	s.keys = append(s.keys, key...)
	s.off += int64(len(b))
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// columnID numbers a mixin column, adding it to the table's columns the first time.
func (s *spill) columnID(column string) uint64 {
	id, ok := s.ids[column]
	if !ok {
		id = uint64(len(s.names))
		s.ids[column] = id
		s.names = append(s.names, column)
	}
	return id
}

// declareColumns adds mixin columns the table has even when no row fills them.
func (s *spill) declareColumns(columns []string) {
	for _, c := range columns {
		s.columnID(c)
	}
}

// mixinColumns returns the mixin columns seen, sorted.
func (s *spill) mixinColumns() []string {
	cols := slices.Clone(s.names)
	slices.Sort(cols)
	return cols
}

// replay writes every row in key order, the mixin columns (sorted) inserted at position at of the fixed
// cells (before the command and deleted columns).
func (s *spill) replay(at int, w rowWriter) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("temporary file for the export: %w", err)
	}
	byKey := func(a, b spillRow) int { return bytes.Compare(s.key(a), s.key(b)) }
	// Rows listed in key order already (common: platform ids follow the ERP keys) are read back in one
	// sequential pass; others one read each.
	sequential := slices.IsSortedFunc(s.index, byKey)
	if !sequential {
		slices.SortStableFunc(s.index, byKey)
	}
	var seq *bufio.Reader
	if sequential {
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return spillCorrupt(err)
		}
		seq = bufio.NewReaderSize(s.f, 1<<16)
	}
	sorted := s.mixinColumns()
	pos := make([]int, len(s.names)) // column number -> index among the sorted mixin columns
	for i, name := range sorted {
		pos[s.ids[name]] = i
	}
	var row []string
	for _, r := range s.index {
		buf := slices.Grow(s.buf[:0], int(r.size))[:r.size]
		s.buf = buf
		var err error
		if seq != nil {
			_, err = io.ReadFull(seq, buf)
		} else {
			err = s.readAt(buf, r.off)
		}
		if err != nil {
			return spillCorrupt(err)
		}
		// One string per row; the cells are substrings of it (the writers do not keep them).
		d := spillDecoder{s: string(buf)}
		nf := int(d.uvarint())
		width := nf + len(sorted)
		row = slices.Grow(row[:0], width)[:width]
		clear(row)
		for i := 0; i < nf; i++ {
			c := d.string()
			if i < at {
				row[i] = c
			} else {
				row[i+len(sorted)] = c
			}
		}
		for nm := d.uvarint(); nm > 0 && d.err == nil; nm-- {
			id := d.uvarint()
			c := d.string()
			if id >= uint64(len(pos)) {
				d.err = errors.New("unknown column number")
				break
			}
			row[at+pos[id]] = c
		}
		if d.err != nil {
			return spillCorrupt(d.err)
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	return nil
}

// spillBlock is how much of the temporary file readAt reads at once.
const spillBlock = 1 << 20

// readAt fills buf from the temporary file at off. Rows the platform listed nearly in key order (pages
// fetched concurrently, records created by several writers) are read back from the block the previous rows
// came from: one read per block instead of a system call per row.
func (s *spill) readAt(buf []byte, off int64) error {
	if off >= s.blockOff && off+int64(len(buf)) <= s.blockOff+int64(len(s.block)) {
		copy(buf, s.block[off-s.blockOff:])
		return nil
	}
	if len(buf) > spillBlock {
		_, err := s.f.ReadAt(buf, off)
		return err
	}
	if s.block == nil {
		s.block = make([]byte, spillBlock)
	}
	n, err := s.f.ReadAt(s.block[:min(int64(spillBlock), s.off-off)], off)
	s.block, s.blockOff = s.block[:n], off
	if n < len(buf) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	copy(buf, s.block)
	return nil
}

// spillDecoder reads one spilled row; the first error sticks.
type spillDecoder struct {
	s   string
	err error
}

func (d *spillDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for i, shift := 0, uint(0); i < len(d.s) && i < binary.MaxVarintLen64; i, shift = i+1, shift+7 {
		c := d.s[i]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			d.s = d.s[i+1:]
			return v
		}
	}
	d.err = errors.New("truncated number")
	return 0
}

func (d *spillDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)) {
		d.err = errors.New("truncated text")
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func spillCorrupt(err error) error {
	return fmt.Errorf("temporary file for the export is damaged: %w", err)
}

// remove deletes the temporary file.
func (s *spill) remove() {
	_ = formats.CloseUnlinkedTemp(s.f, s.path)
}
