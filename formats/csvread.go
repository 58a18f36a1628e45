package formats

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

const (
	// csvBufferSize is the read buffer and the window delimiter detection
	// looks at.
	csvBufferSize = 64 << 10
	// detectRecords bounds how many records delimiter detection parses.
	detectRecords = 50
	// maxRecordLines is how many physical lines one CSV record may span. A
	// record longer than this almost certainly comes from an unbalanced
	// quote that swallowed the following rows, so reading stops.
	maxRecordLines = 100
)

// csvTable streams one CSV file.
type csvTable struct {
	path   string
	name   string
	header []string
	r      *csvScanner
	closer io.Closer
	buf    []string // padded cells of short rows
	err    error    // sticky: io.EOF or a *FileError
	// held keeps the cells of a short record while the record after it is read, since the scanner reuses its
	// record slice.
	held []string
	// ahead is the record read after a short one, to be returned by the next call to Next unless the two
	// turned out to be halves of one broken row; aheadErr is the error that read returned.
	ahead    csvRecord
	aheadErr error
	hasAhead bool
	// brokenSecond is the RowError of the second half of a broken row, returned by the next call to Next.
	brokenSecond error
	line         int // start line of the last record, for read errors
	// lineOffset counts lines consumed before the scanner started (a
	// "sep=" hint), so reported lines match the file.
	lineOffset int
	delim      rune
	encoding   func() string
	// tail sees the decoded bytes on their way to the CSV parser, so that at the end of the file the table
	// knows whether the last record ended with a line break; nil when the check is off.
	tail *tailReader
	// lastShort says the last data record had fewer cells than the header.
	lastShort bool
	// paddedShort says a short record of this file was padded as a whole row: the file leaves out trailing
	// empty cells (Excel's CSV does past its first rows), so two short rows next to each other are as likely
	// two such rows as one broken in two, and shortRow no longer takes them for a broken line.
	paddedShort bool
	// bom is whether the file started with a byte-order mark (UTF-8 or UTF-16).
	bom bool
}

// byteCounter counts the bytes read through it.
type byteCounter struct {
	r io.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// headerlessContent says what a CSV file without a header line holds instead, for the message that calls it
// empty although it has bytes: a byte-order mark, an Excel "sep=" line, blank lines (empty, white space or
// delimiters only), and its size.
func headerlessContent(bom, sepHint, blankLines bool, size int64) string {
	var parts []string
	if bom {
		parts = append(parts, "a byte order mark")
	}
	if sepHint {
		parts = append(parts, "a sep= line")
	}
	if blankLines || len(parts) == 0 {
		parts = append(parts, "blank lines")
	}
	return fmt.Sprintf("only %s (%d bytes)", strings.Join(parts, " and "), size)
}

// tailReader remembers the last byte that passed through it.
type tailReader struct {
	r    io.Reader
	last byte
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.last = p[n-1]
	}
	return n, err
}

// cutOff reports whether the file ended inside its last record: the record has fewer cells than the header
// and no line break follows it. That is what a transfer or export that stopped early leaves behind; a
// complete file either ends with a line break or with a full record.
func (t *csvTable) cutOff() bool {
	return t.tail != nil && t.lastShort && t.tail.last != '\n' && t.tail.last != '\r'
}

// Dialect implements CSVDialect.
func (t *csvTable) Dialect() (delimiter rune, encoding string) { return t.delim, t.encoding() }

// startLine is the physical line where the last record read starts.
func (t *csvTable) startLine() int {
	return t.r.recordLine + t.lineOffset
}

// readSepHint consumes a first line of the form "sep=X" and returns X.
func readSepHint(br *bufio.Reader) (rune, bool) {
	head, _ := br.Peek(16)
	if !bytes.HasPrefix(bytes.ToLower(head), []byte("sep=")) {
		return 0, false
	}
	end := bytes.IndexByte(head, '\n')
	if end < 0 {
		return 0, false
	}
	value := strings.TrimSuffix(string(head[4:end]), "\r")
	r := []rune(value)
	if len(r) != 1 {
		return 0, false
	}
	_, _ = br.Discard(end + 1)
	return r[0], true
}

// newCSVTable reads the header from r. path is only used in messages.
func newCSVTable(r io.Reader, path string, opts Options) (*csvTable, error) {
	fail := func(line int, err error) (*csvTable, error) {
		return nil, &FileError{Path: path, Line: line, Err: err}
	}
	counted := &byteCounter{r: r}
	src := bufio.NewReaderSize(counted, csvBufferSize)
	head, _ := src.Peek(3)
	bom := bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) || bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF})
	decoded, encodingName, err := decodeInput(src, opts.Encoding)
	if err != nil {
		return fail(0, err)
	}
	var tail *tailReader
	if !opts.skipWholeCheck {
		tail = &tailReader{r: decoded}
		decoded = tail
	}
	br := bufio.NewReaderSize(decoded, csvBufferSize)
	delim := opts.Delimiter
	lineOffset := 0
	if hinted, ok := readSepHint(br); ok {
		// Excel's "sep=;" first line names the delimiter and is not data.
		lineOffset = 1
		if delim == 0 {
			delim = hinted
		}
	}
	if delim == 0 {
		prefix, perr := br.Peek(csvBufferSize)
		// An encoding error in the window is left for the records to meet (the decoder repeats it), so that the
		// error names its line as it does beyond the window; the text before the bad byte is enough to detect.
		if perr != nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, bufio.ErrBufferFull) && !errors.Is(perr, ErrEncoding) {
			return fail(0, perr)
		}
		delim = detectDelimiter(prefix, errors.Is(perr, io.EOF))
	}
	cr, err := newCSVScanner(br, delim)
	if err != nil {
		return fail(0, err)
	}
	t := &csvTable{path: path, name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), r: cr, lineOffset: lineOffset, delim: delim, encoding: encodingName, tail: tail, bom: bom}
	for {
		rec, err := cr.read()
		if errors.Is(err, io.EOF) {
			return fail(0, fmt.Errorf("%w: no header: %s", ErrEmptyFile, headerlessContent(bom, lineOffset > 0, cr.numLine > 1, counted.n)))
		}
		line := t.startLine()
		if err != nil {
			return fail(line, fmt.Errorf("reading the header: %w", err))
		}
		if cr.endedInQuotes {
			return fail(line, errEndedInQuotes(nil, rec, cr.fieldLine(len(rec)-1)+lineOffset))
		}
		if isBlank(rec) {
			continue
		}
		if t.header, err = normalizeHeader(rec); err != nil {
			return fail(line, err)
		}
		t.line = line
		return t, nil
	}
}

func (t *csvTable) Name() string     { return t.name }
func (t *csvTable) Header() []string { return t.header }

func (t *csvTable) Close() error {
	if t.err == nil {
		t.err = &FileError{Path: t.path, Err: errors.New("read after Close")}
	}
	if t.closer == nil {
		return nil
	}
	c := t.closer
	t.closer = nil
	return c.Close()
}

// csvRecord is one record as the scanner split it, with where it lies in the file.
type csvRecord struct {
	cells []string
	line  int // the physical line it starts on
	span  int // how many physical lines it covers
	// openQuoteLine is the line where the quoted cell starts inside which the file ended, 0 when it did not.
	openQuoteLine int
}

func (t *csvTable) Next() (Row, error) {
	if err := t.brokenSecond; err != nil {
		t.brokenSecond = nil
		return Row{}, err
	}
	for t.err == nil {
		// The record held back by a lookahead, or else the scanner's next one; this path is taken for every
		// record, so it calls nothing more than the scanner and locate.
		var rec csvRecord
		var err error
		if t.hasAhead {
			rec, err, t.hasAhead = t.ahead, t.aheadErr, false
		} else {
			rec.cells, err = t.r.read()
			t.locate(&rec)
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(rec.cells) == 0 {
				t.err = io.EOF
				if t.cutOff() {
					t.err = &FileError{Path: t.path, Line: t.line, Err: fmt.Errorf("%w: its last record has fewer cells than the header's %d and no line break ends it; the export or transfer stopped early",
						ErrCutOff, len(t.header))}
				}
				break
			}
			// The record that failed is the one after the last good one.
			t.err = &FileError{Path: t.path, Line: t.line, Err: fmt.Errorf("reading the record after this line: %w", err)}
			break
		}
		t.line = rec.line
		if rec.span > maxRecordLines {
			t.err = &FileError{Path: t.path, Line: rec.line, Err: fmt.Errorf("a quoted cell runs over %d lines; the file probably has an unbalanced quote (\") here", rec.span)}
			break
		}
		if rec.openQuoteLine > 0 {
			t.err = &FileError{Path: t.path, Line: rec.line, Err: errEndedInQuotes(t.header, rec.cells, rec.openQuoteLine)}
			break
		}
		if isBlank(rec.cells) {
			t.lastShort = false
			continue
		}
		t.lastShort = len(rec.cells) < len(t.header)
		pos := Position{File: t.path, Line: rec.line}
		if rec.span > 1 && len(rec.cells) != len(t.header) {
			return Row{}, &RowError{Pos: pos, Err: fmt.Errorf("row spans lines %d-%d and has %d cells but the header has %d columns; check for an unbalanced quote (\")", rec.line, rec.line+rec.span-1, len(rec.cells), len(t.header))}
		}
		if t.lastShort {
			return t.shortRow(rec)
		}
		cells, ok := fitToHeader(rec.cells, len(t.header), &t.buf)
		if !ok {
			return Row{}, &RowError{Pos: pos, Err: errTooManyCells(rec.cells, len(t.header))}
		}
		return Row{Pos: pos, Cells: cells}, nil
	}
	return Row{}, t.err
}

// errEndedInQuotes says that the file ends inside the last quoted cell of a record: the closing quote never
// came, so the file was cut off there (a complete file closes every quote it opens), whatever the record's
// width. header is nil for the header record itself.
func errEndedInQuotes(header, cells []string, quoteLine int) error {
	last := len(cells) - 1
	column := fmt.Sprintf("cell %d", last+1)
	if last < len(header) {
		column = fmt.Sprintf("column %q", header[last])
	}
	return fmt.Errorf("%w: the file ends inside a quoted cell (%s, from line %d) whose closing quote (\") never comes; the export or transfer stopped early",
		ErrCutOff, column, quoteLine)
}

// shortRow returns a record with fewer cells than the header. Spreadsheet programs and ERP exporters leave
// out trailing empty cells, so such a record is padded with blanks (a blank keeps the platform's value),
// unless it shows one of two kinds of damage: a record of one cell holding another delimiter (the row was
// written with a different delimiter), or two records on consecutive lines whose cells add up to one more
// than the header's (a line break outside quotes split one cell of a row in two). The second needs the next
// record: it is read ahead and held for the next call, so the table looks at most one record ahead.
func (t *csvTable) shortRow(rec csvRecord) (Row, error) {
	width := len(t.header)
	pos := Position{File: t.path, Line: rec.line}
	if len(rec.cells) == 1 && width > 1 {
		if other := otherDelimiterIn(rec.cells[0], t.delim); other != 0 {
			return Row{}, &RowError{Pos: pos, Err: fmt.Errorf("the row is a single cell that holds %s, though the file's delimiter is %s and the header has %d columns: it looks written with another delimiter; write the row with the file's delimiter",
				DelimiterName(other), DelimiterName(t.delim), width)}
		}
	}
	t.held = append(t.held[:0], rec.cells...)
	var next csvRecord
	var err error
	next.cells, err = t.r.read()
	t.locate(&next)
	if !t.paddedShort && err == nil && next.openQuoteLine == 0 && next.line == rec.line+rec.span && !isBlank(next.cells) &&
		len(next.cells) < width && len(t.held)+len(next.cells) == width+1 {
		broken := fmt.Errorf("lines %d-%d look like one row broken by a line break outside quotes: line %d has %d cells and line %d has %d, one more together than the header's %d columns, as when a cell is split in two; join the lines or quote the cell",
			rec.line, next.line, rec.line, len(t.held), next.line, len(next.cells), width)
		t.line, t.lastShort = next.line, true
		t.brokenSecond = &RowError{Pos: Position{File: t.path, Line: next.line}, Err: broken}
		return Row{}, &RowError{Pos: pos, Err: broken}
	}
	t.ahead, t.aheadErr, t.hasAhead = next, err, true
	t.paddedShort = true
	cells, _ := fitToHeader(t.held, width, &t.buf)
	return Row{Pos: pos, Cells: cells}, nil
}

// locate sets where the record the scanner just read lies: its start line, how many physical lines it spans
// (only the last cell needs scanning: the start line of every other cell is known) and, when the file ended
// inside its quotes, the line where that quoted cell starts.
func (t *csvTable) locate(rec *csvRecord) {
	rec.line = t.startLine()
	if len(rec.cells) == 0 {
		return
	}
	last := len(rec.cells) - 1
	rec.span = t.r.fieldLine(last) - t.r.fieldLine(0) + 1 + strings.Count(rec.cells[last], "\n")
	if t.r.endedInQuotes {
		rec.openQuoteLine = t.r.fieldLine(last) + t.lineOffset
	}
}

// delimiterCandidates are the delimiters detection chooses from: the ones ERP exports and spreadsheets write,
// and every delimiter export offers (cmd/custsync/csvout.go parseDelimiter), so that whatever export writes,
// import reads without --delimiter.
var delimiterCandidates = []rune{',', ';', '\t', '|'}

// misdelimiterCandidates are the delimiters whose presence in a one-cell row of a file with another delimiter
// makes the row look written with that delimiter (csvTable.shortRow). A pipe is not one of them: unlike a comma,
// semicolon or tab it is ordinary text in a name or street cell ("Müller | Lager 2"), and files written with it
// are rare, so a one-cell row holding it is more likely a row of padded trailing blanks than a damaged one.
var misdelimiterCandidates = []rune{',', ';', '\t'}

// otherDelimiterIn returns a delimiter of misdelimiterCandidates other than delim that text holds, or 0.
func otherDelimiterIn(text string, delim rune) rune {
	for _, cand := range misdelimiterCandidates {
		if cand != delim && strings.ContainsRune(text, cand) {
			return cand
		}
	}
	return 0
}

// DelimiterName names a delimiter for messages: "a comma (,)", "a pipe (|)", "a tab", or the quoted rune.
func DelimiterName(delim rune) string {
	switch delim {
	case ',':
		return "a comma (,)"
	case ';':
		return "a semicolon (;)"
	case '\t':
		return "a tab"
	case '|':
		return "a pipe (|)"
	}
	return fmt.Sprintf("%q", delim)
}

// detectDelimiter picks the candidate that splits the sample into the most
// consistent records: the most records with the header's field count, then
// the widest header. It parses with the real CSV rules so delimiters inside
// quotes are ignored. A file no candidate splits is read as one column.
func detectDelimiter(prefix []byte, atEOF bool) rune {
	best, bestConsistent, bestWidth := ',', -1, 1
	for _, cand := range delimiterCandidates {
		r := csv.NewReader(bytes.NewReader(prefix))
		r.Comma = cand
		r.LazyQuotes = true
		r.FieldsPerRecord = -1
		var counts []int
		for len(counts) < detectRecords {
			rec, err := r.Read()
			if err != nil && len(rec) == 0 {
				break
			}
			if !isBlank(rec) {
				counts = append(counts, len(rec))
			}
			if err != nil {
				break
			}
		}
		if !atEOF && len(counts) > 1 {
			counts = counts[:len(counts)-1] // the window may cut the last record
		}
		if len(counts) == 0 || counts[0] < 2 {
			continue
		}
		consistent := 0
		for _, n := range counts[1:] {
			if n == counts[0] {
				consistent++
			}
		}
		if consistent > bestConsistent || (consistent == bestConsistent && counts[0] > bestWidth) {
			best, bestConsistent, bestWidth = cand, consistent, counts[0]
		}
	}
	return best
}
