package formats

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// scanned is what a reader made of an input: every record with the line each field starts on, and how it
// ended.
type scanned struct {
	records [][]string
	lines   [][]int
	err     string
}

// collect reads records until an error, with the start line of every field.
func collect(read func() ([]string, error), fieldLine func(i int) int) scanned {
	var out scanned
	for {
		rec, err := read()
		if len(rec) > 0 {
			out.records = append(out.records, slices.Clone(rec))
			lines := make([]int, len(rec))
			for i := range rec {
				lines[i] = fieldLine(i)
			}
			out.lines = append(out.lines, lines)
		}
		if err != nil {
			out.err = err.Error()
			return out
		}
	}
}

func scanWithEncodingCSV(input string, comma rune) scanned {
	r := csv.NewReader(strings.NewReader(input))
	r.Comma, r.LazyQuotes, r.FieldsPerRecord, r.ReuseRecord = comma, true, -1, true
	return collect(r.Read, func(i int) int {
		line, _ := r.FieldPos(i)
		return line
	})
}

func scanWithScanner(t testing.TB, input string, comma rune, bufSize int) scanned {
	s, err := newCSVScanner(bufio.NewReaderSize(strings.NewReader(input), bufSize), comma)
	if err != nil {
		t.Fatalf("delimiter %q: %v", comma, err)
	}
	return collect(s.read, s.fieldLine)
}

// sameScan holds the scanner to encoding/csv, but for the one difference: a \r\n line break inside quotes stays
// in the cell, where encoding/csv turns it into \n.
func sameScan(t testing.TB, input string, comma rune) {
	t.Helper()
	want := scanWithEncodingCSV(input, comma)
	// 16 bytes, bufio's smallest buffer, makes lines longer than the buffer common.
	for _, size := range []int{16, csvBufferSize} {
		got := scanWithScanner(t, input, comma, size)
		kept := slices.Clone(got.records)
		for i, rec := range kept {
			kept[i] = slices.Clone(rec)
			for j, cell := range rec {
				kept[i][j] = strings.ReplaceAll(cell, "\r\n", "\n")
			}
		}
		if !slices.EqualFunc(kept, want.records, slices.Equal) || !slices.EqualFunc(got.lines, want.lines, slices.Equal) || got.err != want.err {
			t.Fatalf("input %q, delimiter %q, buffer %d:\n got records %q lines %v end %q\nwant records %q lines %v end %q",
				input, comma, size, got.records, got.lines, got.err, want.records, want.lines, want.err)
		}
	}
}

var scanDelimiters = []rune{',', ';', '\t', '§'}

var scanSeeds = []string{
	"", "\n", "\r\n", "a", "a\n", "a\r", "a\r\n", "a,b,c\nd,e,f\n", "a,b\n\n\nc,d", "a,,\n,,\n",
	`"a,b",c` + "\n", `"a""b",c`, `"a"b,c`, `a"b,c`, `"a` + "\n" + `b",c` + "\n" + "d,e\n", `"unterminated` + "\n" + "x,y\n",
	`"a"` + "\r\n" + `"b"`, "\"a\r\nb\"\r\n", `""`, `"""`, `""""`, `"a",`, `,"a"`, `"a"` + "\r", "a\rb,c\n",
	"x;y\t\"z;\"\tw\n", "§a§\"b§c\"§\n", "\"a\"§b\n", "\n\n\"\n\"\n", "a,\"b\nc\nd\",e\nf,g\n", "\"\"\"a,\"\"\"\n",
	"caf\xe9,b\n", "\"\xff\",b\n", strings.Repeat("x", 70) + ",\"" + strings.Repeat("y", 40) + "\n" + strings.Repeat("z", 30) + "\"\n",
}

func TestCSVScannerMatchesEncodingCSV(t *testing.T) {
	for _, in := range scanSeeds {
		for _, comma := range scanDelimiters {
			sameScan(t, in, comma)
		}
	}
	// Inputs made of the characters that matter to the parser, many of them.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", ",", ";", "\t", "\"", "\"", "\r", "\n", "\n", " ", "§", "\xff"}
	for range 20000 {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		sameScan(t, b.String(), scanDelimiters[rng.IntN(len(scanDelimiters))])
	}
}

func FuzzCSVScannerMatchesEncodingCSV(f *testing.F) {
	for _, in := range scanSeeds {
		f.Add(in, uint8(0))
	}
	f.Fuzz(func(t *testing.T, input string, delim uint8) {
		sameScan(t, input, scanDelimiters[int(delim)%len(scanDelimiters)])
	})
}

// TestCSVScannerKeepsCRLFInsideQuotes: a quoted cell keeps its \r\n line breaks as written, while \r\n after a
// record still ends it, and a record that spans lines starts its fields on the right lines.
func TestCSVScannerKeepsCRLFInsideQuotes(t *testing.T) {
	input := "id,street,note\r\n1,\"Main\r\nStreet\",\"a\nb\"\r\n2,\"x\r\n\r\ny\",plain\r\n\r\n3,\"\r\n\",\"end\r\n\""
	for _, size := range []int{16, csvBufferSize} {
		got := scanWithScanner(t, input, ',', size)
		want := scanned{
			records: [][]string{{"id", "street", "note"}, {"1", "Main\r\nStreet", "a\nb"}, {"2", "x\r\n\r\ny", "plain"}, {"3", "\r\n", "end\r\n"}},
			lines:   [][]int{{1, 1, 1}, {2, 2, 3}, {5, 5, 7}, {9, 9, 10}},
			err:     "EOF",
		}
		if !slices.EqualFunc(got.records, want.records, slices.Equal) || !slices.EqualFunc(got.lines, want.lines, slices.Equal) || got.err != want.err {
			t.Fatalf("buffer %d:\n got records %q lines %v end %q\nwant records %q lines %v end %q", size, got.records, got.lines, got.err, want.records, want.lines, want.err)
		}
	}
}

func TestCSVScannerRefusesInvalidDelimiters(t *testing.T) {
	for _, comma := range []rune{0, '"', '\r', '\n', 0xFFFD, -1} {
		if _, err := newCSVScanner(bufio.NewReader(strings.NewReader("a")), comma); err == nil {
			t.Errorf("delimiter %q accepted", comma)
		}
	}
}

// A read error in the middle of the input ends reading with that error, as with encoding/csv.
func TestCSVScannerPassesReadErrors(t *testing.T) {
	boom := errors.New("disk gone")
	s, err := newCSVScanner(bufio.NewReaderSize(io.MultiReader(strings.NewReader("a,b\n\"c"), errReader{boom}), 16), ',')
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := s.read(); err != nil || !slices.Equal(rec, []string{"a", "b"}) {
		t.Fatalf("first record %q, %v", rec, err)
	}
	if _, err := s.read(); !errors.Is(err, boom) {
		t.Fatalf("second read: %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
