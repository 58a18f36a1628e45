package formats

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func writeTestFile(t testing.TB, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readResult is everything a table yields, copied.
type readResult struct {
	name    string
	header  []string
	rows    [][]string
	lines   []int
	rowErrs []*RowError
}

func readTable(t testing.TB, tab Table) readResult {
	t.Helper()
	res := readResult{name: tab.Name(), header: tab.Header()}
	for {
		row, err := tab.Next()
		if errors.Is(err, io.EOF) {
			return res
		}
		var re *RowError
		if errors.As(err, &re) {
			res.rowErrs = append(res.rowErrs, re)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		res.rows = append(res.rows, append([]string(nil), row.Cells...))
		res.lines = append(res.lines, row.Pos.Line)
	}
}

func readAll(t testing.TB, path string, opts Options) []readResult {
	t.Helper()
	tables, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	defer CloseAll(tables)
	var out []readResult
	for _, tab := range tables {
		out = append(out, readTable(t, tab))
	}
	return out
}

func readOne(t testing.TB, path string, opts Options) readResult {
	t.Helper()
	res := readAll(t, path, opts)
	if len(res) != 1 {
		t.Fatalf("got %d tables, want 1", len(res))
	}
	return res[0]
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalStrings(a[i], b[i]) {
			return false
		}
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
