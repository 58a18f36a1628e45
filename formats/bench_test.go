package formats

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// Benchmark fixtures are large, so they are built once per process in a
// directory TestMain removes.
var (
	fixtureDir     string
	fixtureDirOnce sync.Once
	fixtureMu      sync.Mutex
	fixtures       = map[string]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		_ = os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func fixture(b *testing.B, name string, build func(path string) error) string {
	b.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if p, ok := fixtures[name]; ok {
		return p
	}
	fixtureDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "formats-bench-")
		if err != nil {
			b.Fatal(err)
		}
		fixtureDir = dir
	})
	p := filepath.Join(fixtureDir, name)
	if err := build(p); err != nil {
		b.Fatal(err)
	}
	fixtures[name] = p
	return p
}

var benchHeader = []string{"sdCustomerNumber", "firstName", "lastName", "contactEmail", "contactPhone", "company",
	"street", "zipCode", "city", "country", "preferredLanguage", "active"}

var (
	benchFirst = []string{"Anna", "Jürgen", "Marie", "Luca", "Sofia", "Jan", "Zoë", "Ole"}
	benchLast  = []string{"Müller", "Schmidt", "Dubois", "Rossi", "García", "Nowak", "Jensen", "O'Neil"}
	benchCity  = []string{"Berlin", "Köln", "Paris", "Milano", "Madrid", "Kraków", "Aarhus", "Dublin"}
)

func benchRow(i int, cells []string) []string {
	f, l, c := benchFirst[i%8], benchLast[(i/8)%8], benchCity[(i/64)%8]
	return append(cells[:0],
		fmt.Sprintf("%010d", i), f, l, fmt.Sprintf("customer%d@example.com", i), fmt.Sprintf("+49 30 %07d", i),
		fmt.Sprintf("Firma %d GmbH", i%5000), fmt.Sprintf("Hauptstraße %d", i%300+1), fmt.Sprintf("%05d", i%99999),
		c, "DE", "de-DE", "true")
}

func buildBenchCSV(rows int) func(string) error {
	return func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		cw := &csvWriter{w: w, width: len(benchHeader)}
		_ = cw.writeRecord(benchHeader)
		cells := make([]string, 0, len(benchHeader))
		for i := 0; i < rows; i++ {
			cells = benchRow(i, cells)
			if err := cw.writeRecord(cells); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return f.Close()
	}
}

func buildBenchXLSX(rows int) func(string) error {
	return func(path string) error {
		wb, err := CreateWorkbook(path)
		if err != nil {
			return err
		}
		defer wb.Abort()
		sw, err := wb.AddSheet("customers", benchHeader)
		if err != nil {
			return err
		}
		cells := make([]string, 0, len(benchHeader))
		for i := 0; i < rows; i++ {
			cells = benchRow(i, cells)
			if err := sw.Write(cells); err != nil {
				return err
			}
		}
		return wb.Close()
	}
}

// buildBenchXLSXShared writes the benchmark rows the way a spreadsheet
// program saves them: every text cell in the shared-string table (in order of
// first use, so a million rows of unique e-mails and phone numbers make a
// table of 3 million strings, 45 MB of text, past what the reader keeps in
// memory), the key a number formatted 0000000000, a dimension, r attributes
// everywhere.
func buildBenchXLSXShared(rows int) func(string) error {
	return func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zw := zip.NewWriter(bufio.NewWriterSize(f, 1<<20))
		small := map[string]string{
			"[Content_Types].xml":        `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>`,
			"_rels/.rels":                `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
			"xl/workbook.xml":            `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<workbook ` + nsMain + ` ` + nsRel + `><sheets><sheet name="customers" sheetId="1" r:id="rId1"/></sheets></workbook>`,
			"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`,
			"xl/styles.xml":              stylesXML(map[int]string{164: "0000000000"}, 164),
		}
		for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"} {
			w, err := zw.Create(name)
			if err != nil {
				return err
			}
			if _, err := io.WriteString(w, small[name]); err != nil {
				return err
			}
		}
		var sst bytes.Buffer
		index := map[string]int{}
		count := 0
		ref := func(s string) int {
			if i, ok := index[s]; ok {
				return i
			}
			xmlEscape(&sst, s)
			count++
			index[s] = count - 1
			return count - 1
		}
		unique := func(s string) int { // never repeats: not worth a map entry
			xmlEscape(&sst, s)
			count++
			return count - 1
		}
		w, err := zw.Create("xl/worksheets/sheet1.xml")
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+`<worksheet %s %s><dimension ref="A1:L%d"/><sheetData>`, nsMain, nsRel, rows+1)
		bw.WriteString(`<row r="1" spans="1:12">`)
		for c, name := range benchHeader {
			fmt.Fprintf(bw, `<c r="%s" t="s"><v>%d</v></c>`, cellRef(c, 1), ref(name))
		}
		bw.WriteString(`</row>`)
		cells := make([]string, 0, len(benchHeader))
		for i := 0; i < rows; i++ {
			cells = benchRow(i, cells)
			fmt.Fprintf(bw, `<row r="%d" spans="1:12"><c r="A%d" s="1"><v>%d</v></c>`, i+2, i+2, i)
			for c, v := range cells[1:] {
				var k int
				if c == 2 || c == 3 { // e-mail, phone
					k = unique(v)
				} else {
					k = ref(v)
				}
				fmt.Fprintf(bw, `<c r="%s" t="s"><v>%d</v></c>`, cellRef(c+1, i+2), k)
			}
			bw.WriteString(`</row>`)
		}
		bw.WriteString(`</sheetData></worksheet>`)
		if err := bw.Flush(); err != nil {
			return err
		}
		w, err = zw.Create("xl/sharedStrings.xml")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+`<sst %s count="%d" uniqueCount="%d">`, nsMain, rows*11+12, count)
		if _, err := sst.WriteTo(w); err != nil {
			return err
		}
		if _, err := io.WriteString(w, `</sst>`); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		return f.Close()
	}
}

// xmlEscape appends one <si> item holding s.
func xmlEscape(b *bytes.Buffer, s string) {
	b.WriteString("<si><t>")
	_ = xml.EscapeText(b, []byte(s))
	b.WriteString("</t></si>")
}

// heapPeak samples the heap objects (live plus garbage not yet collected)
// every 10 ms until stopped.
type heapPeak struct {
	stop chan struct{}
	done chan uint64
}

func startHeapPeak() *heapPeak {
	// Two cycles: sync.Pool contents (excelize and flate buffers left over
	// from building the fixture) survive the first in the victim cache.
	runtime.GC()
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{}), done: make(chan uint64)}
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-h.stop:
				h.done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) finish() uint64 {
	close(h.stop)
	return <-h.done
}

// readBench reads every row of path b.N times and reports rows/s (wall and
// per CPU-second), the peak heap sampled while reading (peak-heap-MB: live
// plus not yet collected objects, so it varies with GC pacing and machine
// load) and the largest live heap after a forced GC at each tenth of the file
// (max-live-MB), which is what shows memory does not grow with row count.
func readBench(b *testing.B, path string, wantRows int, opts Options) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var live uint64
	peak := startHeapPeak()
	cpuStart := processCPU()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		tables, err := Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			_, err := tables[0].Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
			if n == 0 && rows%(wantRows/10) == 0 {
				// The live heap at every tenth of the file: what the reader
				// really retains, independent of GC timing.
				b.StopTimer()
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				live = max(live, ms.HeapAlloc)
				b.StartTimer()
			}
		}
		if err := CloseAll(tables); err != nil {
			b.Fatal(err)
		}
		if rows != wantRows {
			b.Fatalf("read %d rows, want %d", rows, wantRows)
		}
	}
	b.StopTimer()
	cpu := processCPU() - cpuStart
	b.ReportMetric(float64(wantRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	// Rows per CPU-second of the whole process (reader plus GC): the
	// per-core figure, robust against other load on the machine.
	b.ReportMetric(float64(wantRows)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(peak.finish())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(live)/(1<<20), "max-live-MB")
}

func BenchmarkReadCSV1M(b *testing.B) {
	const rows = 1_000_000
	path := fixture(b, "customers-1m.csv", buildBenchCSV(rows))
	readBench(b, path, rows, Options{})
}

// BenchmarkCSVWholeFileCheck reads the same 1M-row file with and without the check that the file was not cut
// off (the last record short and without a line break): the difference between the two is what the check
// costs. Compare with benchstat over several -count runs; the target is at most 10% of the read time.
func BenchmarkCSVWholeFileCheck(b *testing.B) {
	const rows = 1_000_000
	path := fixture(b, "customers-1m.csv", buildBenchCSV(rows))
	b.Run("check=on", func(b *testing.B) { readBench(b, path, rows, Options{}) })
	b.Run("check=off", func(b *testing.B) { readBench(b, path, rows, Options{skipWholeCheck: true}) })
}

// BenchmarkReadXLSX1M is issue 13's XLSX target: 1M rows x 12 columns.
// Where the time goes (-cpuprofile, callgrind): the zip member is inflated
// (compress/flate, checksum included; about 1.3 s per GB of XML) on one
// goroutine and tokenised on another. Tokenising is the larger part, about
// 35 ns per tag: the tag itself (name, the three attributes of each cell,
// the end tag checked against its start), the sheet reader's handling of it,
// and copying cell text into one string per row. The checks that make a
// damaged file an error are under 1% of its instructions
// (BenchmarkXLSXChecks).
func BenchmarkReadXLSX1M(b *testing.B) {
	const rows = 1_000_000
	path := fixture(b, fmt.Sprintf("customers-%d.xlsx", rows), buildBenchXLSX(rows))
	readBench(b, path, rows, Options{})
}

// BenchmarkReadXLSX1MShared reads 1M rows saved the way spreadsheet
// programs save them (see buildBenchXLSXShared): a shared-string table past
// the reader's memory budget, read through the block caches of its temporary
// file, and a zero-padded key formatted on every row.
func BenchmarkReadXLSX1MShared(b *testing.B) {
	const rows = 1_000_000
	path := fixture(b, "customers-1m-shared.xlsx", buildBenchXLSXShared(rows))
	readBench(b, path, rows, Options{})
}

// xlsxRows sizes the XLSX fixture of the integrity benchmarks; a smaller one
// suits instruction counting (valgrind --tool=callgrind), e.g.
// -xlsx.rows 50000 -bench 'XLSXChecks/mode=checked'.
var xlsxRows = flag.Int("xlsx.rows", 1_000_000, "rows of the XLSX fixture of BenchmarkXLSXIntegrityCost and BenchmarkXLSXChecks")

// BenchmarkXLSXChecks reads the sheet in one mode per sub-benchmark, so each
// can be measured alone: checked (as Open reads), unchecked (see
// BenchmarkXLSXIntegrityCost) and none (builds the fixture, reads nothing: the
// base to subtract from instruction counts).
func BenchmarkXLSXChecks(b *testing.B) {
	rows := *xlsxRows
	path := fixture(b, fmt.Sprintf("customers-%d.xlsx", rows), buildBenchXLSX(rows))
	modes := []struct {
		name  string
		open  func(string) ([]Table, error)
		drain bool
	}{
		{"checked", func(p string) ([]Table, error) { return Open(p, Options{}) }, true},
		{"unchecked", openUnchecked, false},
		{"none", nil, false},
	}
	for _, m := range modes {
		b.Run("mode="+m.name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				if m.open != nil {
					readXLSXRows(b, path, rows, m.open, m.drain)
				}
			}
		})
	}
}

// readXLSXRows reads rows rows of path, then (drain) on to io.EOF.
func readXLSXRows(b *testing.B, path string, rows int, open func(string) ([]Table, error), drain bool) {
	tables, err := open(path)
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < rows || drain; n++ {
		_, err := tables[0].Next()
		if drain && errors.Is(err, io.EOF) && n == rows {
			break
		}
		if err != nil {
			b.Fatalf("row %d: %v", n, err)
		}
	}
	if err := CloseAll(tables); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkXLSXIntegrityCost reads the sheet (1M rows) twice per iteration,
// alternating the order: as Open reads it (checked: the zip member's
// checksum, well-formed XML with matching tags, valid characters and UTF-8,
// the part read to its end) and with those checks left out (unchecked:
// inflated without the checksum, a lax tokenizer, stopping after the last
// row). checks-% is what the checks add to the read time, from wall time and
// from process CPU time (the latter robust against other load).
func BenchmarkXLSXIntegrityCost(b *testing.B) {
	rows := *xlsxRows
	path := fixture(b, fmt.Sprintf("customers-%d.xlsx", rows), buildBenchXLSX(rows))
	read := func(open func(string) ([]Table, error), drain bool) (wall, cpu time.Duration) {
		start, cpuStart := time.Now(), processCPU()
		readXLSXRows(b, path, rows, open, drain)
		return time.Since(start), processCPU() - cpuStart
	}
	checked := func(p string) ([]Table, error) { return Open(p, Options{}) }
	var wall, cpu [2]time.Duration // [checked, unchecked]
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for k := range 2 {
			if (n+k)%2 == 0 {
				w, c := read(checked, true)
				wall[0], cpu[0] = wall[0]+w, cpu[0]+c
			} else {
				w, c := read(openUnchecked, false)
				wall[1], cpu[1] = wall[1]+w, cpu[1]+c
			}
		}
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(wall[0]), "checked-s")
	b.ReportMetric(per(wall[1]), "unchecked-s")
	b.ReportMetric(per(cpu[0]), "checked-cpu-s")
	b.ReportMetric(per(cpu[1]), "unchecked-cpu-s")
	b.ReportMetric(100*(wall[0]-wall[1]).Seconds()/wall[0].Seconds(), "checks-%")
	b.ReportMetric(100*(cpu[0]-cpu[1]).Seconds()/cpu[0].Seconds(), "checks-cpu-%")
}

// openUnchecked opens the first sheet the way Open does, but inflates it
// without verifying its checksum and tokenises it laxly.
func openUnchecked(path string) ([]Table, error) {
	pkg, err := openPackage(path)
	if err != nil {
		return nil, err
	}
	wb := &workbook{pkg: pkg}
	sheets, err := wb.describe()
	if err != nil {
		return nil, err
	}
	zf := pkg.part(sheets[0].part)
	raw, err := zf.OpenRaw()
	if err != nil {
		return nil, err
	}
	lax := func(r io.Reader) *xmlScanner {
		sc := newXMLScanner(r)
		sc.lax, sc.plain = true, &xmlLaxPlain
		return sc
	}
	t, err := wb.startTable(path, sheets[0].name, zf.Name, flate.NewReader(raw), lax)
	if err != nil {
		return nil, err
	}
	return []Table{t}, nil
}

func BenchmarkReadXLSX200k(b *testing.B) {
	for _, rows := range []int{50_000, 200_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			path := fixture(b, fmt.Sprintf("customers-%d.xlsx", rows), buildBenchXLSX(rows))
			readBench(b, path, rows, Options{})
		})
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	const rows = 100_000
	dir := b.TempDir()
	cells := make([]string, 0, len(benchHeader))
	var all [][]string
	for i := 0; i < rows; i++ {
		all = append(all, append([]string(nil), benchRow(i, cells)...))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		w, err := Create(filepath.Join(dir, "out.csv"), "csv", "")
		if err != nil {
			b.Fatal(err)
		}
		_ = w.WriteHeader(benchHeader)
		for _, r := range all {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
