package sync

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"custsync/formats"
	"custsync/mapping"
)

// spilledRows adds rows (table, file, line; the cells name their line and arrival) to a spill of runBytes and
// returns what each gives back, one string per row.
func spilledRows(t *testing.T, runBytes int, sources []*InputTable, rows []resultKey) []string {
	t.Helper()
	s := newResultSpill(t.TempDir(), sources, runBytes)
	defer s.remove()
	for i, k := range rows {
		s.add(sources[k.table], k.file, k.line, []string{fmt.Sprint(k.line), strings.Repeat("x", i%7)}, fmt.Sprint(i))
	}
	var out []string
	err := s.each(func(k resultKey, cells []string) error {
		out = append(out, fmt.Sprint(k.table, k.file, k.line, cells))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestResultSpillMergesRunsInLineOrder(t *testing.T) {
	t.Parallel()
	sources := []*InputTable{{Header: []string{"a", "b", "c"}}, {Header: []string{"k"}}}
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []resultKey
	for i := 0; i < 5000; i++ {
		// Few distinct lines, so that many rows share one and must keep their arrival order.
		rows = append(rows, resultKey{table: rng.IntN(2), file: resultFile(rng.IntN(2)), line: 2 + rng.IntN(800)})
	}
	inMemory := spilledRows(t, 1<<30, sources, rows)
	if len(inMemory) != len(rows) {
		t.Fatalf("%d rows back, want %d", len(inMemory), len(rows))
	}
	// The reference: a stable sort of the rows as they came, by table, file and line.
	var want []string
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ka, kb := rows[a], rows[b]
		ka.seq, kb.seq = 0, 0
		return ka.compare(kb)
	})
	for _, i := range order {
		k := rows[i]
		cells := padded(sources[k.table].Header, fmt.Sprint(k.line), strings.Repeat("x", i%7))
		want = append(want, fmt.Sprint(k.table, k.file, k.line, append(cells, fmt.Sprint(i))))
	}
	if !slices.Equal(inMemory, want) {
		t.Fatalf("in memory: rows not in (table, file, line, arrival) order:\n%v\nwant\n%v", inMemory[:20], want[:20])
	}
	for _, runBytes := range []int{1, 100, 4096} {
		if got := spilledRows(t, runBytes, sources, rows); !slices.Equal(got, want) {
			t.Fatalf("runs of %d bytes: the merge differs from the sort in memory", runBytes)
		}
	}
}

// padded is what the spill makes of two cells for a table of header: as many cells as it has columns.
func padded(header []string, a, b string) []string {
	out := make([]string, len(header))
	copy(out, []string{a, b})
	return out
}

func TestResultSpillTakesRowsFromConcurrentWriters(t *testing.T) {
	t.Parallel()
	src := &InputTable{Header: []string{"key"}}
	dir := t.TempDir()
	s := newResultSpill(dir, []*InputTable{src}, 512)
	const writers, each = 8, 500
	var wg stdsync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				line := 2 + i*writers + w
				s.add(src, successFile, line, []string{fmt.Sprint(line)})
			}
		}()
	}
	wg.Wait()
	// The rows spilled to a private file that has no name in the results directory, where the system allows
	// it: a run killed now leaves none of them behind.
	if info, err := s.f.Stat(); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("temporary file mode %v (%v), want 0600", info.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	switch {
	case runtime.GOOS == "windows":
		if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".custsync-results-") {
			t.Fatalf("want one temporary file in the results directory, have %v", entries)
		}
	case len(entries) != 0:
		t.Fatalf("the open temporary file has a name in the results directory: %v", entries)
	}
	next := 2
	err := s.each(func(k resultKey, cells []string) error {
		if k.line != next || !slices.Equal(cells, []string{fmt.Sprint(next)}) {
			return fmt.Errorf("row %v %v, want line %d", k, cells, next)
		}
		next++
		return nil
	})
	if err != nil || next != 2+writers*each {
		t.Fatalf("%v; %d rows back, want %d", err, next-2, writers*each)
	}
	s.remove()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
}

func TestResultSpillReportsADamagedFile(t *testing.T) {
	t.Parallel()
	src := &InputTable{Header: []string{"key"}}
	s := newResultSpill(t.TempDir(), []*InputTable{src}, 1)
	defer s.remove()
	for i := 0; i < 10; i++ {
		s.add(src, successFile, i+2, []string{"some cell"})
	}
	if err := s.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.f.Truncate(s.size - 3); err != nil {
		t.Fatal(err)
	}
	err := s.each(func(resultKey, []string) error { return nil })
	if !errors.Is(err, errResultSpillDamaged) {
		t.Fatalf("err = %v, want the temporary file reported damaged", err)
	}
}

// A first import whose rows are applied out of input order by concurrent writers, some refused by the platform
// and some invalid, with the result rows in many runs on disk: the result files list every row once, in input
// order, with the row's cells as read, and are the same bytes as when every row stayed in memory.
func TestResultFilesKeepInputOrderWhenRowsSpill(t *testing.T) {
	t.Parallel()
	const n = 1500
	refused := func(key string) bool { return strings.HasSuffix(key, "7") }
	var csv strings.Builder
	csv.WriteString("sdCustomerNumber,firstName,lastName,contactEmail,preferredCurrency,active\n")
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("c%d@example.com", i)
		if i%97 == 5 {
			email = "not-an-email"
		}
		fmt.Fprintf(&csv, "%010d,First%d,Last%d,%s,EUR,true\n", 100000+i, i, i, email)
	}
	input := csv.String()

	run := func(runBytes int) (dir string, completed []string) {
		var mu stdsync.Mutex
		e := newEnvWith(t, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/customers/") {
					h.ServeHTTP(w, r)
					return
				}
				key := filepath.Base(r.URL.Path)
				hash := fnv.New32a()
				hash.Write([]byte(key))
				time.Sleep(time.Duration(hash.Sum32()%1500) * time.Microsecond)
				if refused(key) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"code":400,"status":"Bad Request","message":"refused %s"}`, key)
				} else {
					h.ServeHTTP(w, r)
				}
				mu.Lock()
				completed = append(completed, key)
				mu.Unlock()
			})
		})
		dir = filepath.Join(e.dir, "results")
		rep, err := e.run(context.Background(), Options{ResultsDir: dir, Writers: 16, resultRunBytes: runBytes}, e.file("customers.csv", input))
		if !errors.Is(err, ErrPartial) {
			t.Fatalf("runs of %d bytes: err = %v, want ErrPartial\n%s", runBytes, err, rep.Summary())
		}
		return dir, completed
	}
	spilled, completed := run(2048)
	if slices.IsSorted(completed) {
		t.Fatal("the writers applied the rows in input order: the test proves nothing")
	}
	inMemory, _ := run(0)

	header, rows, _ := strings.Cut(input, "\n")
	lines := strings.Split(strings.TrimSuffix(rows, "\n"), "\n")
	var wantOK strings.Builder
	wantOK.WriteString(header + ",custsync_line,custsync_entity,custsync_action,custsync_remote_id\n")
	var errLines []string
	for i, row := range lines {
		line := i + 2
		key := strings.Split(row, ",")[0]
		switch {
		case strings.Contains(row, "not-an-email"), refused(key):
			errLines = append(errLines, row+","+fmt.Sprint(line))
		default:
			fmt.Fprintf(&wantOK, "%s,%d,%s,create,%s\n", row, line, mapping.Customers, key)
		}
	}
	for _, dir := range []string{spilled, inMemory} {
		if got := readFile(t, filepath.Join(dir, "customers.success.csv")); got != wantOK.String() {
			t.Fatalf("%s: success file differs from the input's rows in order", dir)
		}
		tables, err := formats.Open(filepath.Join(dir, "customers.errors.csv"), formats.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			row, err := tables[0].Next()
			if err != nil {
				break
			}
			got = append(got, strings.Join(row.Cells[:7], ","))
			status, reason := row.Cells[8], row.Cells[10]
			sent := row.Cells[3] != "not-an-email"
			if (sent && refused(row.Cells[0])) != (status == "400") || reason == "" {
				t.Errorf("error row %v: status %q, reason %q", row.Cells[:7], status, reason)
			}
		}
		formats.CloseAll(tables)
		if !slices.Equal(got, errLines) {
			t.Fatalf("%s: error file rows\n%v\nwant\n%v", dir, got, errLines)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Fatalf("%s holds %v, want the two result files only", dir, entries)
		}
	}
	for _, name := range []string{"customers.success.csv", "customers.errors.csv"} {
		if readFile(t, filepath.Join(spilled, name)) != readFile(t, filepath.Join(inMemory, name)) {
			t.Fatalf("%s: spilled to disk and kept in memory differ", name)
		}
	}
}

// A run killed where an open file cannot be unlinked (Windows), or by a version that did not unlink it, left
// its result rows in the results directory: the next run with --results removes them, even when it needs no
// temporary file of its own.
func TestImportWithResultsRemovesALeftoverSpill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := filepath.Join(e.dir, "results")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, ".custsync-results-5551234.tmp")
	if err := os.WriteFile(leftover, []byte("0000100001,First1,Last1,c1@example.com"), 0o600); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(leftover, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(context.Background(), Options{ResultsDir: dir}, e.file("customers.csv", customersCSV(3, nil))); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	if !slices.Equal(names, []string{"customers.success.csv"}) {
		t.Fatalf("results directory after the run: %q, want the success file alone", names)
	}
}
