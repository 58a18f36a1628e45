package formats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func TestCSVDelimiterDetection(t *testing.T) {
	cases := []struct {
		name, content string
		want          [][]string
	}{
		{"comma", "id,name\n1,Anna\n", [][]string{{"1", "Anna"}}},
		{"semicolon with commas in cells", "KUNNR;NAME1;STRAS\n0001;Müller, Hans;Hauptstr. 1, Hinterhaus\n0002;Ab;C\n",
			[][]string{{"0001", "Müller, Hans", "Hauptstr. 1, Hinterhaus"}, {"0002", "Ab", "C"}}},
		{"tab", "id\tname\tcity\n1\tA, B\tX;Y\n", [][]string{{"1", "A, B", "X;Y"}}},
		{"quoted delimiter in header", "\"a;b\",c\n1,2\n", [][]string{{"1", "2"}}},
		{"single column", "id\n1\n2\n", [][]string{{"1"}, {"2"}}},
		// export --delimiter '|' writes it, so import must read it without --delimiter.
		{"pipe", "id|name|city\n1|A, B|X;Y\n2|\"C|D\"|Z\n", [][]string{{"1", "A, B", "X;Y"}, {"2", "C|D", "Z"}}},
		{"pipe in cells of a comma file", "id,name\n1,A|B\n2,C|D|E\n", [][]string{{"1", "A|B"}, {"2", "C|D|E"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := readOne(t, writeTestFile(t, "in.csv", []byte(c.content)), Options{})
			if !equalRows(got.rows, c.want) {
				t.Fatalf("rows = %q, want %q (header %q)", got.rows, c.want, got.header)
			}
		})
	}
}

func TestCSVExplicitDelimiterOverridesDetection(t *testing.T) {
	got := readOne(t, writeTestFile(t, "in.csv", []byte("a;b,c\n1;2,3\n")), Options{Delimiter: ','})
	if !equalStrings(got.header, []string{"a;b", "c"}) {
		t.Fatalf("header = %q", got.header)
	}
}

func TestCSVBOMAndCRLF(t *testing.T) {
	content := "\xEF\xBB\xBF id , name \r\n1,Anna\r\n2,\"multi\r\nline\"\r\n"
	got := readOne(t, writeTestFile(t, "people.csv", []byte(content)), Options{})
	if !equalStrings(got.header, []string{"id", "name"}) {
		t.Fatalf("header = %q", got.header)
	}
	want := [][]string{{"1", "Anna"}, {"2", "multi\r\nline"}}
	if !equalRows(got.rows, want) {
		t.Fatalf("rows = %q, want %q", got.rows, want)
	}
	if got.name != "people" {
		t.Fatalf("name = %q", got.name)
	}
}

func TestCSVWindows1252(t *testing.T) {
	content := []byte("name;city\nM\xfcller;K\xf6ln\nO\x92Brien;\x80 Stra\xdfe\n")
	for _, enc := range []string{"", "auto", "windows-1252"} {
		got := readOne(t, writeTestFile(t, "in.csv", content), Options{Encoding: enc})
		want := [][]string{{"Müller", "Köln"}, {"O’Brien", "€ Straße"}}
		if !equalRows(got.rows, want) {
			t.Fatalf("encoding %q: rows = %q, want %q", enc, got.rows, want)
		}
	}
	tables, err := Open(writeTestFile(t, "in.csv", content), Options{})
	if err != nil {
		t.Fatal(err)
	}
	readTable(t, tables[0])
	if d, e := tables[0].(CSVDialect).Dialect(); d != ';' || e != "windows-1252" {
		t.Fatalf("dialect = %q %q", d, e)
	}
	_ = CloseAll(tables)
	got := readOne(t, writeTestFile(t, "in.csv", content), Options{Encoding: "iso-8859-1"})
	if got.rows[0][0] != "Müller" || got.rows[1][1] != "\u0080 Straße" {
		t.Fatalf("iso-8859-1 rows = %q", got.rows)
	}
}

func TestCSVWindows1252AfterLongASCIIPrefix(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,name\n")
	for i := 0; i < 20000; i++ { // well past every read buffer
		fmt.Fprintf(&b, "%d,plain\n", i)
	}
	b.WriteString("20000,M\xfcller\n")
	got := readOne(t, writeTestFile(t, "in.csv", b.Bytes()), Options{})
	if last := got.rows[len(got.rows)-1]; last[1] != "Müller" {
		t.Fatalf("last row = %q", last)
	}
}

func TestCSVUTF8SplitAcrossReads(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,name\n")
	for b.Len() < 3*csvBufferSize {
		b.WriteString("1,Zoë Ünal ☃ 𝄞\n")
	}
	got := readOne(t, writeTestFile(t, "in.csv", b.Bytes()), Options{})
	for _, r := range got.rows {
		if r[1] != "Zoë Ünal ☃ 𝄞" {
			t.Fatalf("row = %q", r)
		}
	}
}

// TestCSVMixedEncodingIsFileError: a byte that is not UTF-8 after UTF-8 text is a FileError from Next that
// names the line of the last good record and sticks, in a small file (where the bad byte lies in the window
// delimiter detection peeks at) as in a large one.
func TestCSVMixedEncodingIsFileError(t *testing.T) {
	var large bytes.Buffer
	large.WriteString("name\nZoë\n")
	for large.Len() < 4*csvBufferSize {
		large.WriteString("plain\n")
	}
	large.WriteString("M\xfcller\n")
	for name, content := range map[string][]byte{
		"small": []byte("id,name\n1001,Jürgen\n1002,Fran\xe7ois\n1003,Carl\n"),
		"large": large.Bytes(),
	} {
		tables, err := Open(writeTestFile(t, "in.csv", content), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer CloseAll(tables)
		for err == nil {
			_, err = tables[0].Next()
		}
		// The bad byte is on the line that holds "\xfc" or "\xe7"; the error names the line before it, the last
		// good record.
		bad := bytes.IndexFunc(content, func(r rune) bool { return r == utf8.RuneError })
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrEncoding) || !strings.Contains(err.Error(), "mixes encodings") || fe.Line != bytes.Count(content[:bad], []byte("\n")) {
			t.Fatalf("%s: err = %v, want a FileError wrapping ErrEncoding at line %d", name, err, bytes.Count(content[:bad], []byte("\n")))
		}
		if _, again := tables[0].Next(); again != err {
			t.Fatalf("%s: FileError is not sticky: %v", name, again)
		}
	}
}

// A header or record whose quoted cell an encoding error cuts off before its first field ends is an error
// naming the file, not a panic, also where no delimiter detection peeked at the bytes first.
func TestCSVEncodingErrorInsideAQuotedCell(t *testing.T) {
	for _, content := range []string{"\"na\xffme\n", "name,city\n\"M\xfcller\n"} {
		tables, err := Open(writeTestFile(t, "in.csv", []byte(content)), Options{Encoding: "utf-8", Delimiter: ','})
		if err == nil {
			_, err = tables[0].Next()
			CloseAll(tables)
		}
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrEncoding) {
			t.Errorf("%q: err = %v, want a FileError wrapping ErrEncoding", content, err)
		}
	}
}

func TestCSVForcedUTF8RejectsLatin1(t *testing.T) {
	_, err := readUntilEnd(t, []byte("name\nM\xfcller\n"), Options{Encoding: "utf-8"})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 1 || !errors.Is(err, ErrEncoding) || !strings.Contains(err.Error(), "windows-1252") {
		t.Fatalf("err = %v, want ErrEncoding after line 1", err)
	}
}

func TestCSVUTF16(t *testing.T) {
	// Excel's "Unicode text": UTF-16LE with BOM, tab-separated.
	text := "id\tname\r\n1\tMüller\r\n"
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xFE})
	for _, r := range text {
		b.WriteByte(byte(r))
		b.WriteByte(byte(r >> 8))
	}
	got := readOne(t, writeTestFile(t, "in.txt", b.Bytes()), Options{})
	if !equalRows(got.rows, [][]string{{"1", "Müller"}}) {
		t.Fatalf("rows = %q", got.rows)
	}
}

func TestCSVBlankLinesAndLineNumbers(t *testing.T) {
	content := "\n\nid,note\n1,a\n\n,\n  ,  \n2,\"two\nlines\"\n3,c\n"
	got := readOne(t, writeTestFile(t, "in.csv", []byte(content)), Options{})
	wantRows := [][]string{{"1", "a"}, {"2", "two\nlines"}, {"3", "c"}}
	if !equalRows(got.rows, wantRows) {
		t.Fatalf("rows = %q", got.rows)
	}
	if want := []int{4, 8, 10}; fmt.Sprint(got.lines) != fmt.Sprint(want) {
		t.Fatalf("lines = %v, want %v", got.lines, want)
	}
}

// TestCSVRaggedRows: with LF and with CRLF line breaks (a CRLF inside quotes kept in the cell), rows with too
// many cells fail, and so does a row spanning lines with too few, named by its lines.
func TestCSVRaggedRows(t *testing.T) {
	for _, nl := range []string{"\n", "\r\n"} {
		content := strings.ReplaceAll("a,b,c\n1,2\n1,2,3,\n1,2,3,4\n5,6,7\n8,\"x\ny\"\n9,\"p\nq\",r\n", "\n", nl)
		got := readOne(t, writeTestFile(t, "in.csv", []byte(content)), Options{})
		wantRows := [][]string{{"1", "2", ""}, {"1", "2", "3"}, {"5", "6", "7"}, {"9", "p" + nl + "q", "r"}}
		if !equalRows(got.rows, wantRows) || fmt.Sprint(got.lines) != "[2 3 5 8]" {
			t.Fatalf("line break %q: rows = %q at lines %v", nl, got.rows, got.lines)
		}
		if len(got.rowErrs) != 2 {
			t.Fatalf("line break %q: row errors = %v", nl, got.rowErrs)
		}
		if e := got.rowErrs[0]; e.Pos.Line != 4 || !strings.Contains(e.Error(), "in.csv, line 4: row has 4 cells but the header has 3 columns") {
			t.Fatalf("line break %q: first row error = %q", nl, e)
		}
		if e := got.rowErrs[1]; e.Pos.Line != 6 || !strings.Contains(e.Error(), "row spans lines 6-7") || !strings.Contains(e.Error(), "unbalanced quote") {
			t.Fatalf("line break %q: second row error = %q", nl, e)
		}
	}
}

func TestCSVRunawayQuoteStopsReading(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name\n1,\"broken\n")
	for i := 0; i < 2*maxRecordLines; i++ {
		fmt.Fprintf(&b, "%d,x\n", i)
	}
	path := writeTestFile(t, "in.csv", []byte(b.String()))
	tables, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(tables)
	_, err = tables[0].Next()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), "unbalanced quote") {
		t.Fatalf("err = %v", err)
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	cases := map[string]string{
		"":                  "no header line",
		"\n\n":              "no header: only blank lines",
		"id,,name\n1,2,3\n": "column 2 has no name",
		"id,Name,NAME\n":    `"NAME" appears twice (columns 2 and 3)`,
	}
	for content, want := range cases {
		_, err := Open(writeTestFile(t, "bad.csv", []byte(content)), Options{})
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.csv") {
			t.Errorf("content %q: err = %v, want FileError containing %q", content, err, want)
		}
	}
}

func TestCSVTrailingEmptyHeaderCells(t *testing.T) {
	got := readOne(t, writeTestFile(t, "in.csv", []byte("a,b,,\n1,2,,\n")), Options{})
	if !equalStrings(got.header, []string{"a", "b"}) || !equalRows(got.rows, [][]string{{"1", "2"}}) {
		t.Fatalf("header %q rows %q", got.header, got.rows)
	}
}

func TestCSVHeaderOnly(t *testing.T) {
	got := readOne(t, writeTestFile(t, "in.csv", []byte("a,b\n")), Options{})
	if len(got.rows) != 0 || len(got.header) != 2 {
		t.Fatalf("got %+v", got)
	}
}

func TestCSVLazyQuotes(t *testing.T) {
	got := readOne(t, writeTestFile(t, "in.csv", []byte("a,b\n12\" pipe,x\"y\n")), Options{})
	if !equalRows(got.rows, [][]string{{"12\" pipe", "x\"y"}}) {
		t.Fatalf("rows = %q", got.rows)
	}
}

func TestOpenRejectsLegacyAndFakeWorkbooks(t *testing.T) {
	_, err := Open(writeTestFile(t, "old.xls", append(append([]byte{}, oleMagic...), make([]byte, 100)...)), Options{})
	if !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("xls: err = %v", err)
	}
	_, err = Open(writeTestFile(t, "fake.xlsx", []byte("id,name\n")), Options{})
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "not an XLSX") {
		t.Fatalf("fake xlsx: err = %v", err)
	}
	_, err = Open(writeTestFile(t, "broken.xlsx", []byte("PK\x03\x04garbage")), Options{})
	if !errors.As(err, &fe) {
		t.Fatalf("broken zip: err = %v", err)
	}
	_, err = Open(writeTestFile(t, "in.csv", []byte("a\n")), Options{Sheet: "X"})
	if !errors.As(err, &fe) {
		t.Fatalf("sheet on csv: err = %v", err)
	}
	_, err = Open(writeTestFile(t, "in.csv", []byte("a\n")), Options{Encoding: "ebcdic"})
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "unknown encoding") {
		t.Fatalf("bad encoding: err = %v", err)
	}
}

func TestCSVRowCellsReusedButStringsStable(t *testing.T) {
	tables, err := Open(writeTestFile(t, "in.csv", []byte("a,b\n1,2\n3,4\n")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(tables)
	r1, _ := tables[0].Next()
	kept := r1.Cells[0]
	r2, _ := tables[0].Next()
	if kept != "1" || r2.Cells[0] != "3" {
		t.Fatalf("kept %q, second %q", kept, r2.Cells[0])
	}
	if _, err := tables[0].Next(); err != io.EOF {
		t.Fatalf("err = %v, want io.EOF", err)
	}
}

func FuzzCSVReader(f *testing.F) {
	for _, seed := range []string{
		"id,name\n1,a\n", "a;b\r\n\"x;\"\"y\";z\r\n", "\xEF\xBB\xBFa\tb\n1\t2\n", "a,b\n\"unterminated\n",
		"name\nM\xfcller\n", "\xFF\xFEa\x00", "a,a\n", ",\n", "a\n\"\"\"\n", "x\n1,2,3\n",
		// cut-off files: the last record short and without a line break
		"a,b,c\n1,2,3\n4,5", "a;b;c\r\n1;2;3\r\n4;", "a,b,c\n1,\"x\ny", "a,b,c\n1,2\n",
		// a file ending inside quotes, a row of another delimiter, a row broken outside quotes
		"a,b\n1,\"x", "a,\"b\n", "a,b,c\n1;2;3\n", "a,b,c\n1,2\n3,4\n5,6,7\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := newCSVTable(bytes.NewReader(data), "fuzz.csv", Options{})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Open error is not a FileError: %v", err)
			}
			return
		}
		width := len(tab.Header())
		for i := 0; ; i++ {
			row, err := tab.Next()
			if err == io.EOF {
				break
			}
			var re *RowError
			if errors.As(err, &re) {
				continue
			}
			var fe *FileError
			if errors.As(err, &fe) {
				break
			}
			if err != nil {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if len(row.Cells) != width {
				t.Fatalf("row has %d cells, header %d", len(row.Cells), width)
			}
			if i > len(data) {
				t.Fatal("more rows than input bytes")
			}
		}
	})
}

func TestCSVExcelSepHint(t *testing.T) {
	got := readOne(t, writeTestFile(t, "in.csv", []byte("sep=;\r\nid;name\r\n1;A,B\r\n")), Options{})
	if !equalStrings(got.header, []string{"id", "name"}) || !equalRows(got.rows, [][]string{{"1", "A,B"}}) || got.lines[0] != 3 {
		t.Fatalf("got %+v", got)
	}
}

func TestUTF8CheckerReaderContract(t *testing.T) {
	valid := strings.Repeat("Zoë ☃ 𝄞 plain ascii ", 2000)
	c := &utf8Checker{r: iotest.HalfReader(strings.NewReader(valid))}
	if err := iotest.TestReader(c, []byte(valid)); err != nil {
		t.Fatal(err)
	}
	latin := strings.Repeat("abc ", 3000) + "M\xfcller \x80"
	c = &utf8Checker{r: iotest.OneByteReader(strings.NewReader(latin))}
	if err := iotest.TestReader(c, []byte(strings.Repeat("abc ", 3000)+"Müller €")); err != nil {
		t.Fatal(err)
	}
}

// readUntilEnd reads a CSV table to its end and returns the rows and the error that ended it (io.EOF or a
// FileError).
func readUntilEnd(t testing.TB, data []byte, opts Options) ([][]string, error) {
	t.Helper()
	tab, err := newCSVTable(bytes.NewReader(data), "cut.csv", opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	var rows [][]string
	for {
		row, err := tab.Next()
		var re *RowError
		switch {
		case errors.As(err, &re):
			continue
		case err != nil:
			return rows, err
		}
		rows = append(rows, append([]string(nil), row.Cells...))
	}
}

func TestCSVCutOffLastRecord(t *testing.T) {
	const noBreak, inQuotes = "no line break", "ends inside a quoted cell"
	cases := []struct {
		name, content string
		cut           bool
		line          int
		says          string
	}{
		{"cut in the last record", "a,b,c\n1,2,3\n4,5", true, 3, noBreak},
		{"cut right after a delimiter", "a;b;c\r\n1;2;3\r\n4;", true, 3, noBreak},
		{"cut inside a quoted cell that spans lines", "a,b,c\n1,2,3\n4,\"Haupt\nstr", true, 3, inQuotes},
		{"windows-1252 bytes, cut", "KUNNR;NAME1;ORT01\r\n0001;M\xfcller;K\xf6ln\r\n0002;B\xe4cker", true, 3, noBreak},
		{"a short record after a short one, cut", "a,b,c\n1,2\n4", true, 3, noBreak},
		{"short last record with a line break", "a,b,c\n1,2,3\n4,5\n", false, 0, ""},
		{"short last record with CRLF", "a;b;c\r\n1;2;3\r\n4;5\r\n", false, 0, ""},
		{"full last record without a line break", "a,b,c\n1,2,3\n4,5,6", false, 0, ""},
		{"header only without a line break", "a,b,c", false, 0, ""},
		{"short record, then blank lines", "a,b,c\n1,2\n\n\n", false, 0, ""},
		{"short record then white space only", "a,b,c\n1,2\n   ", false, 0, ""},
		{"short record after a short one, then a line break", "a,b,c\n1,2\n4\n", false, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := readUntilEnd(t, []byte(tc.content), Options{})
			if !tc.cut {
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF (rows %q)", err, rows)
				}
				return
			}
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrCutOff) || fe.Line != tc.line || fe.Path != "cut.csv" {
				t.Fatalf("err = %v, want a FileError at line %d wrapping ErrCutOff", err, tc.line)
			}
			if !strings.Contains(err.Error(), "cut.csv, line 3") || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("message does not say where and what: %v", err)
			}
			// Every later call says the same: the table never turns complete.
			if _, again := readUntilEnd(t, []byte(tc.content), Options{}); !errors.Is(again, ErrCutOff) {
				t.Fatalf("second read: %v", again)
			}
		})
	}
}

// TestCSVEndingInsideQuotesIsCutOff: LazyQuotes reads a quote that is never closed as a cell running to the
// end of the file; a complete file closes every quote it opens, so whatever the width of the record, the
// table ends with a FileError wrapping ErrCutOff naming the record's line and the quoted cell, never io.EOF.
func TestCSVEndingInsideQuotesIsCutOff(t *testing.T) {
	cases := []struct {
		name, content string
		line          int
		cell          string
	}{
		{"in the last cell of a full record", "a,b,c\n1,2,3\n4,5,\"si", 3, `column "c", from line 3`},
		{"with a line break after the open quote", "a,b,c\n1,2,3\n4,5,\"six\n", 3, `column "c", from line 3`},
		{"with CRLF", "a,b,c\r\n1,2,3\r\n4,5,\"six\r\n", 3, `column "c", from line 3`},
		{"in the first column", "a,b,c\n1,2,3\n\"4", 3, `column "a", from line 3`},
		{"opened a few lines before the end", "a,b,c\n1,2,3\n4,\"five\n6,7,8\n9,10,11\n", 3, `column "b", from line 3`},
		{"after a sep= line", "sep=;\na;b\n1;2\n3;\"4", 4, `column "b", from line 4`},
		{"in a cell beyond the header", "a,b\n1,2\n3,4,\"5", 3, "cell 3, from line 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := readUntilEnd(t, []byte(tc.content), Options{})
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrCutOff) || fe.Line != tc.line || len(rows) != 1 {
				t.Fatalf("after rows %q: err = %v, want a FileError at line %d wrapping ErrCutOff after 1 row", rows, err, tc.line)
			}
			if msg := err.Error(); !strings.Contains(msg, "cut.csv") || !strings.Contains(msg, "ends inside a quoted cell ("+tc.cell+")") {
				t.Fatalf("message does not name the file and the cell: %v", err)
			}
		})
	}
	_, err := Open(writeTestFile(t, "header.csv", []byte("a,\"b\n")), Options{})
	if !errors.Is(err, ErrCutOff) || !strings.Contains(err.Error(), "header.csv, line 1") || !strings.Contains(err.Error(), "cell 2, from line 1") {
		t.Fatalf("a header ending inside quotes: err = %v, want a cut-off FileError", err)
	}
	got := readOne(t, writeTestFile(t, "closed.csv", []byte("a,b\n1,\"two\"")), Options{})
	if !equalRows(got.rows, [][]string{{"1", "two"}}) {
		t.Fatalf("a file ending right after a closing quote: rows %q", got.rows)
	}
}

// TestCSVShortRowsPaddedUnlessDamaged: a record with fewer cells than the header is padded, as spreadsheets and
// ERP exporters drop trailing empty cells, except for two kinds of damage, which fail their rows: a single
// cell holding another delimiter, and two records on consecutive lines whose cells add up to one more than
// the header's (a cell split by a line break outside quotes).
func TestCSVShortRowsPaddedUnlessDamaged(t *testing.T) {
	content := "id,first,last,email\n" +
		"1,Ann,A,a@x.example\n" + // 2
		"2;Bob;B;b@x.example\n" + // 3: another delimiter
		"3,Carl\n" + // 4 and 5: one row broken in two
		"Jr,C,c@x.example\n" +
		"4,Dora\n" + // 6 and 7: short, but 2+2 cells are not 5
		"5,Eve\n" +
		"6,F,F,f@x.example\n" + // 8
		"7|B\n" + // 9: a single cell without another delimiter (a pipe is text: see misdelimiterCandidates)
		"8,G\n" + // 10 and 12: 2+3 cells, but a blank line between
		"\n" +
		"x,G,g@x.example\n"
	got := readOne(t, writeTestFile(t, "short.csv", []byte(content)), Options{})
	wantRows := [][]string{
		{"1", "Ann", "A", "a@x.example"}, {"4", "Dora", "", ""}, {"5", "Eve", "", ""}, {"6", "F", "F", "f@x.example"},
		{"7|B", "", "", ""}, {"8", "G", "", ""}, {"x", "G", "g@x.example", ""},
	}
	if !equalRows(got.rows, wantRows) || fmt.Sprint(got.lines) != "[2 6 7 8 9 10 12]" {
		t.Fatalf("rows %q at lines %v", got.rows, got.lines)
	}
	var failed []string
	for _, re := range got.rowErrs {
		failed = append(failed, fmt.Sprintf("%d: %s", re.Pos.Line, re.Err))
	}
	const broken = "lines 4-5 look like one row broken by a line break outside quotes: line 4 has 2 cells and line 5 has 3"
	if len(failed) != 3 || !strings.HasPrefix(failed[0], "3: the row is a single cell that holds a semicolon (;), though the file's delimiter is a comma (,)") ||
		!strings.Contains(failed[0], "another delimiter") || !strings.HasPrefix(failed[1], "4: "+broken) || !strings.HasPrefix(failed[2], "5: "+broken) {
		t.Fatalf("row errors:\n%s", strings.Join(failed, "\n"))
	}

	// A file that has left out a row's trailing empty cells once does so again: a later pair of short rows that
	// add up to one more than the header is two padded rows, not one broken (QA: 10 and 8 cells of 17).
	padding := "id,first,last,email\n" +
		"1,Ann\n" + // 2: padded alone (the next row is full)
		"2,Bob,B,b@x.example\n" +
		"3,Carl\n" + // 4 and 5: 2+3 cells, after a padded row
		"4,D,d@x.example\n"
	got = readOne(t, writeTestFile(t, "padding.csv", []byte(padding)), Options{})
	wantRows = [][]string{{"1", "Ann", "", ""}, {"2", "Bob", "B", "b@x.example"}, {"3", "Carl", "", ""}, {"4", "D", "d@x.example", ""}}
	if !equalRows(got.rows, wantRows) || len(got.rowErrs) != 0 {
		t.Fatalf("a file that pads: rows %q, errors %v", got.rows, got.rowErrs)
	}

	for _, tc := range []struct {
		delim      rune
		row, names string
	}{
		{';', "2,Bob,B", "a comma (,), though the file's delimiter is a semicolon (;)"},
		{'\t', "2;Bob", "a semicolon (;), though the file's delimiter is a tab"},
		{',', "2\tBob", "a tab, though the file's delimiter is a comma (,)"},
	} {
		header := strings.ReplaceAll("id,first,last", ",", string(tc.delim))
		got := readOne(t, writeTestFile(t, "delim.csv", []byte(header+"\n"+tc.row+"\n")), Options{Delimiter: tc.delim})
		if len(got.rows) != 0 || len(got.rowErrs) != 1 || !strings.Contains(got.rowErrs[0].Error(), "delim.csv, line 2: the row is a single cell that holds "+tc.names) {
			t.Errorf("delimiter %q, row %q: rows %q, errors %v", tc.delim, tc.row, got.rows, got.rowErrs)
		}
	}
}

// TestEmptyFileIsErrEmptyFile: a file without a header line is empty, and the message says what it holds
// instead, with its real size.
func TestEmptyFileIsErrEmptyFile(t *testing.T) {
	for _, tc := range []struct{ name, content, says string }{
		{"zero.csv", "", "0 bytes"},
		{"zero.xlsx", "", "0 bytes"},
		{"blank.csv", "\n\n  \n", "no header: only blank lines (5 bytes)"},
		{"delimiters.csv", ",,\r\n,,\r\n", "no header: only blank lines (8 bytes)"},
		{"bom.csv", "\xef\xbb\xbf", "no header: only a byte order mark (3 bytes)"},
		{"utf16bom.csv", "\xff\xfe", "no header: only a byte order mark (2 bytes)"},
		{"bomblank.csv", "\xef\xbb\xbf\n\n", "no header: only a byte order mark and blank lines (5 bytes)"},
		{"sep.csv", "sep=;\n", "no header: only a sep= line (6 bytes)"},
	} {
		_, err := Open(writeTestFile(t, tc.name, []byte(tc.content)), Options{})
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrEmptyFile) || !strings.Contains(err.Error(), tc.name+": the file is empty: "+tc.says) {
			t.Errorf("%s: err = %v, want a FileError wrapping ErrEmptyFile saying %q", tc.name, err, tc.says)
		}
	}
}

// FuzzCSVCutOff writes a well-formed CSV file from fuzzed cells (every cell non-blank), cuts it at a fuzzed
// byte, and reads it back. Where the cut leaves the last record shorter than the header and without a line
// break, the reader must say the file is cut off; it may never end with io.EOF after a padded last row.
func FuzzCSVCutOff(f *testing.F) {
	f.Add("Müller;Hauptstraße 5\nKöln", uint16(3), uint16(40))
	f.Add("a,b\"c\nd", uint16(2), uint16(17))
	f.Add("x\ty\r\nz", uint16(4), uint16(9))
	f.Fuzz(func(t *testing.T, text string, rows, cut uint16) {
		words := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' })
		if len(words) == 0 {
			words = []string{"w"}
		}
		const width = 4
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		cw := &csvWriter{w: w, width: width}
		if err := cw.writeRecord([]string{"k", "a", "b", "c"}); err != nil {
			t.Skip()
		}
		n := int(rows%50) + 1
		for i := 0; i < n; i++ {
			rec := make([]string, width)
			for j := range rec {
				rec[j] = fmt.Sprintf("v%d%s", i, words[(i*width+j)%len(words)])
			}
			if err := cw.writeRecord(rec); err != nil {
				t.Skip()
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		data = data[:int(cut)%(len(data)+1)]
		tab, err := newCSVTable(bytes.NewReader(data), "cut.csv", Options{Delimiter: ',', Encoding: "utf-8"})
		if err != nil {
			return // cut inside the header
		}
		var last []string
		for {
			row, err := tab.Next()
			var re *RowError
			if errors.As(err, &re) {
				last = nil
				continue
			}
			if err == io.EOF {
				ends := len(data) > 0 && (data[len(data)-1] == '\n' || data[len(data)-1] == '\r')
				// A padded cell before the last one means the record was short. (A record cut right after its
				// last delimiter has every cell and is legal CSV: only --expect-rows or --max-delete catch it.)
				if !ends && len(last) > 0 && slices.Contains(last[:len(last)-1], "") {
					t.Fatalf("read to io.EOF although the last row %q was cut off (file %q)", last, data)
				}
				return
			}
			if err != nil {
				// ErrCutOff, or another FileError such as a multi-byte character cut in half: never trusted.
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			last = append(last[:0], row.Cells...)
		}
	})
}
