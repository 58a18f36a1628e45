package formats

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// Memory the shared-string table may use before it moves to a temporary
// file: its text, and its index of 8 bytes per string. A workbook saved by a
// spreadsheet program keeps every text cell here (each distinct value once),
// so a million-row sheet of unique names and e-mails has a table of hundreds
// of megabytes; past these limits reading costs a few cached block reads per
// lookup instead of memory. Variables so that tests can exercise the spill.
var (
	sstMemText  = 16 << 20
	sstMemIndex = 4 << 20
)

// xlsxMaxSharedStrings bounds the shared-string part, which may move to a
// temporary file: a real table of a million rows of unique text is well
// under 1 GiB of XML, and the bound keeps a zip bomb from filling the disk.
const xlsxMaxSharedStrings = 2 << 30

// xlsxMaxCellText bounds the text of one cell or shared string. Spreadsheet
// programs allow 32,767 characters; more than this is a damaged or hostile
// file, and refusing it keeps a zip bomb of one huge cell out of memory.
const xlsxMaxCellText = 16 << 20

// sharedStrings is a workbook's shared-string table, immutable once parsed
// and read through one sstReader per table.
type sharedStrings struct {
	text  spillLog // the strings back to back
	index spillLog // the end offset in text of each string, uint64 little-endian
	count int
}

// parseSharedStrings reads a shared-string part to its end (so its zip
// checksum is verified) and checks it is well-formed XML.
func parseSharedStrings(r io.Reader) (_ *sharedStrings, err error) {
	sst := &sharedStrings{text: spillLog{limit: sstMemText}, index: spillLog{limit: sstMemIndex}}
	defer func() {
		if err != nil {
			_ = sst.close()
		}
	}()
	sc := newXMLScanner(r)
	var (
		item, decoded []byte
		inItem, inRun bool
		collect       bool
		end           [8]byte
	)
	for {
		tok, err := sc.next()
		if err != nil {
			return nil, err
		}
		switch tok {
		case tokEOF:
			if err := sst.text.seal(); err != nil {
				return nil, err
			}
			return sst, sst.index.seal()
		case tokStart:
			name := string(sc.local())
			switch {
			case sc.level == 0:
				if name != "sst" {
					return nil, fmt.Errorf("the root element is <%s>, not <sst>", sc.qname())
				}
			case sc.level == 1 && name == "si":
				inItem, item = true, item[:0]
				if sc.selfClosing {
					inItem = false
					if err := sst.add(nil, &end); err != nil {
						return nil, err
					}
				}
			case inItem && sc.level == 2 && name == "r":
				inRun = !sc.selfClosing
			case inItem && name == "t" && (sc.level == 2 || sc.level == 3 && inRun):
				collect = !sc.selfClosing
			}
		case tokEnd:
			switch {
			case sc.level == 1 && inItem:
				inItem = false
				decoded = appendBstrDecoded(decoded[:0], item)
				if err := sst.add(decoded, &end); err != nil {
					return nil, err
				}
			case sc.level == 2 && inRun:
				inRun = false
			case collect:
				collect = false
			}
		case tokText:
			if collect {
				if len(item)+len(sc.text) > xlsxMaxCellText {
					return nil, fmt.Errorf("shared string %d is longer than %d MiB", sst.count, xlsxMaxCellText>>20)
				}
				item = append(item, sc.text...)
			}
		}
	}
}

func (sst *sharedStrings) add(s []byte, end *[8]byte) error {
	if err := sst.text.append(s); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(end[:], uint64(sst.text.size))
	sst.count++
	return sst.index.append(end[:])
}

func (sst *sharedStrings) close() error {
	return errors.Join(sst.text.close(), sst.index.close())
}

// sstReader reads a sharedStrings table for one table (its caches are not
// shared, so tables may be read concurrently).
type sstReader struct {
	sst         *sharedStrings
	text, index spillView
	tmp         [16]byte
}

func (sst *sharedStrings) reader() *sstReader {
	return &sstReader{sst: sst, text: spillView{log: &sst.text, slots: 64}, index: spillView{log: &sst.index, slots: 16}}
}

// appendString appends shared string i to dst. ok is false when the table has
// no string i.
func (r *sstReader) appendString(dst []byte, i int) (out []byte, ok bool, err error) {
	if i < 0 || i >= r.sst.count {
		return dst, false, nil
	}
	var start, end uint64
	if i == 0 {
		b, err := r.index.read(r.tmp[:0], 0, 8)
		if err != nil {
			return dst, false, err
		}
		end = binary.LittleEndian.Uint64(b)
	} else {
		b, err := r.index.read(r.tmp[:0], int64(i-1)*8, 16)
		if err != nil {
			return dst, false, err
		}
		start, end = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	}
	if end < start || end > uint64(r.sst.text.size) {
		return dst, false, fmt.Errorf("shared-string index damaged at %d", i)
	}
	out, err = r.text.read(dst, int64(start), int(end-start))
	return out, err == nil, err
}

// appendBstrDecoded appends s with the escapes of OOXML's ST_Xstring decoded:
// _xHHHH_ stands for the character U+HHHH (how spreadsheet programs store
// control characters such as a carriage return, _x000D_), and _x005F_ for the
// underscore that starts a literal "_xHHHH_". It decodes exactly what
// excelize decodes, so text reads the same as it did through excelize.
func appendBstrDecoded(dst, s []byte) []byte {
	for {
		i := bytes.Index(s, []byte("_x"))
		if i < 0 || len(s)-i < 7 {
			return append(dst, s...)
		}
		v, ok := hex4(s[i+2 : i+6])
		if !ok || s[i+6] != '_' {
			dst = append(dst, s[:i+1]...)
			s = s[i+1:]
			continue
		}
		dst = append(dst, s[:i]...)
		if !(0xD800 <= v && v <= 0xDFFF) { // a lone surrogate is dropped, as excelize does
			dst = utf8.AppendRune(dst, rune(v))
		}
		s = s[i+7:]
	}
}

func hex4(b []byte) (uint32, bool) {
	var v uint32
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint32(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | uint32(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// spillLog is an append-only byte log that lives in memory, in blocks, up to
// limit bytes and then moves to a temporary file (private, and unlinked while
// open where the system allows it). Sealed, it is read through spillViews.
type spillLog struct {
	limit  int
	blocks [][]byte // in memory: full blocks of spillBlock bytes, the last one filling
	file   *os.File
	w      *bufio.Writer
	size   int64
	remove string // the file's path when it could not be unlinked while open
}

// spillBlock is the unit of a log's memory and of reading a spilled log.
const spillBlock = 64 << 10

func (l *spillLog) append(p []byte) error {
	l.size += int64(len(p))
	for l.file == nil && len(p) > 0 {
		last := len(l.blocks) - 1
		if last < 0 || len(l.blocks[last]) == spillBlock {
			if len(l.blocks)*spillBlock >= l.limit {
				if err := l.spill(); err != nil {
					return err
				}
				break
			}
			l.blocks = append(l.blocks, make([]byte, 0, spillBlock))
			last++
		}
		n := min(len(p), spillBlock-len(l.blocks[last]))
		l.blocks[last] = append(l.blocks[last], p[:n]...)
		p = p[n:]
	}
	if len(p) == 0 {
		return nil
	}
	_, err := l.w.Write(p)
	return err
}

func (l *spillLog) spill() error {
	f, path, err := CreateUnlinkedTemp("", "custsync-xlsx-*")
	if err != nil {
		return fmt.Errorf("moving the shared strings to a temporary file: %w", err)
	}
	l.remove = path
	l.file, l.w = f, bufio.NewWriterSize(f, spillBlock)
	for _, b := range l.blocks {
		if _, err := l.w.Write(b); err != nil {
			return fmt.Errorf("moving the shared strings to a temporary file: %w", err)
		}
	}
	l.blocks = nil
	return nil
}

func (l *spillLog) seal() error {
	if l.w == nil {
		return nil
	}
	return l.w.Flush()
}

func (l *spillLog) close() error {
	l.blocks = nil
	if l.file == nil {
		return nil
	}
	err := CloseUnlinkedTemp(l.file, l.remove)
	l.file, l.w = nil, nil
	return err
}

// spillView reads a sealed spillLog; a spilled log is read through a
// direct-mapped cache of blocks. Spreadsheet programs number shared strings
// in order of first use, so a sheet read top to bottom reads the table
// mostly forward, and the strings every row repeats sit in the first blocks.
type spillView struct {
	log    *spillLog
	slots  int
	blocks [][]byte
	ids    []int64
}

// read appends n bytes at off to dst.
func (v *spillView) read(dst []byte, off int64, n int) ([]byte, error) {
	for n > 0 {
		id := off / spillBlock
		block, err := v.block(id)
		if err != nil {
			return dst, err
		}
		in := int(off - id*spillBlock)
		take := min(n, spillBlock-in)
		dst = append(dst, block[in:in+take]...)
		off += int64(take)
		n -= take
	}
	return dst, nil
}

func (v *spillView) block(id int64) ([]byte, error) {
	if v.log.file == nil {
		return v.log.blocks[id], nil
	}
	if v.blocks == nil {
		v.blocks, v.ids = make([][]byte, v.slots), make([]int64, v.slots)
		for i := range v.ids {
			v.ids[i] = -1
		}
	}
	slot := int(id % int64(v.slots))
	if v.ids[slot] != id {
		if v.blocks[slot] == nil {
			v.blocks[slot] = make([]byte, spillBlock)
		}
		size := min(spillBlock, v.log.size-id*spillBlock)
		if _, err := v.log.file.ReadAt(v.blocks[slot][:size], id*spillBlock); err != nil {
			v.ids[slot] = -1
			return nil, fmt.Errorf("reading the shared strings back from their temporary file: %w", err)
		}
		v.ids[slot] = id
	}
	return v.blocks[slot], nil
}
