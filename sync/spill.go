package sync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"custsync/mapping"
)

// spill holds the rows of one exported table until its header is known. The mixin columns a table needs
// are known only once every record was read, while the header comes first in the file; keeping 100k
// records in memory for that would cost hundreds of MiB, reading the platform twice would double the
// requests (and could see other records the second time). So the rows go to a private temporary file next to
// the output, with their mixin cells keyed by a column number, and are replayed under the final header.
type spill struct {
	f     *os.File
	w     *bufio.Writer
	ids   map[string]uint64 // mixin column -> number, in order of first appearance
	names []string
	rows  int64
	buf   []byte
}

// newSpill creates the temporary file in dir (0600, as os.CreateTemp makes it).
func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, ".custsync-export-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("temporary file for the export: %w", err)
	}
	return &spill{f: f, w: bufio.NewWriterSize(f, 1<<16), ids: map[string]uint64{}}, nil
}

// add keeps one row: the cells of the entity's fixed columns and its mixin cells.
func (s *spill) add(fixed []string, mixins []mapping.MixinCell) error {
	b := binary.AppendUvarint(s.buf[:0], uint64(len(fixed)))
	for _, c := range fixed {
		b = appendString(b, c)
	}
	b = binary.AppendUvarint(b, uint64(len(mixins)))
	for _, m := range mixins {
		id, ok := s.ids[m.Column]
		if !ok {
			id = uint64(len(s.names))
			s.ids[m.Column] = id
			s.names = append(s.names, m.Column)
		}
		b = binary.AppendUvarint(b, id)
		b = appendString(b, m.Text)
	}
	s.buf = b
	s.rows++
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("temporary file for the export: %w", err)
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// mixinColumns returns the mixin columns seen, sorted.
func (s *spill) mixinColumns() []string {
	cols := slices.Clone(s.names)
	slices.Sort(cols)
	return cols
}

// replay writes every row in the layout header(base, mixins): the fixed cells with the mixin columns
// inserted at position at (before the command and deleted columns).
func (s *spill) replay(at int, w rowWriter) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("temporary file for the export: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("temporary file for the export: %w", err)
	}
	sorted := s.mixinColumns()
	pos := make([]int, len(s.names)) // column number -> index among the sorted mixin columns
	for i, name := range sorted {
		pos[s.ids[name]] = i
	}
	r := bufio.NewReaderSize(s.f, 1<<16)
	var row []string
	for n := int64(0); n < s.rows; n++ {
		nf, err := binary.ReadUvarint(r)
		if err != nil {
			return spillCorrupt(err)
		}
		width := int(nf) + len(sorted)
		row = slices.Grow(row[:0], width)[:width]
		for i := range row {
			row[i] = ""
		}
		for i := 0; i < int(nf); i++ {
			c, err := readString(r)
			if err != nil {
				return spillCorrupt(err)
			}
			if i < at {
				row[i] = c
			} else {
				row[i+len(sorted)] = c
			}
		}
		nm, err := binary.ReadUvarint(r)
		if err != nil {
			return spillCorrupt(err)
		}
		for i := uint64(0); i < nm; i++ {
			id, err := binary.ReadUvarint(r)
			if err != nil || id >= uint64(len(pos)) {
				return spillCorrupt(err)
			}
			c, err := readString(r)
			if err != nil {
				return spillCorrupt(err)
			}
			row[at+pos[id]] = c
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	return nil
}

func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func spillCorrupt(err error) error {
	if err == nil {
		err = errors.New("unknown column number")
	}
	return fmt.Errorf("temporary file for the export is damaged: %w", err)
}

// remove deletes the temporary file.
func (s *spill) remove() {
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}
