//go:build unix

package formats

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// A writer killed before it could commit leaves its hidden temporary file next to the target. The next writer
// of the same target removes it, and leaves alone what may still be in use: a file another writer holds
// locked, one too fresh to tell, and the temporary files of other targets.
func TestWriterRemovesTheTemporaryFilesOfKilledWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	file := func(name string, age time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("0001,Anna,anna@example.com\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file(".out.csv.tmp-1001", old) // a killed writer's
	held := file(".out.csv.tmp-1002", old)
	file(".out.csv.tmp-1003", time.Now())
	file(".other.csv.tmp-1004", old)
	file(".out[1].csv.tmp-1005", old) // another target's, whose name holds pattern characters
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	// The writer's own temporary file is locked while it writes: another writer of the target keeps it.
	w, err := CreateWith(filepath.Join(dir, "out.csv"), WriteOptions{Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	own := w.(*csvWriter).file.Name()
	if err := os.Chtimes(own, old, old); err != nil {
		t.Fatal(err)
	}
	second, err := CreateWith(filepath.Join(dir, "out.csv"), WriteOptions{Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	second.Abort()
	if _, err := os.Stat(own); err != nil {
		t.Fatalf("another writer removed a temporary file being written: %v", err)
	}
	if err := w.WriteHeader([]string{"sdCustomerNumber"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// A target whose name holds pattern characters finds its own leftovers, and only those.
	writeTableWith(t, filepath.Join(dir, "out[1].csv"), WriteOptions{Format: "csv"}, []string{"sdCustomerNumber"}, nil)

	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{".other.csv.tmp-1004", ".out.csv.tmp-1002", ".out.csv.tmp-1003", "out.csv", "out[1].csv"}
	if !slices.Equal(names, want) {
		t.Fatalf("directory after the writes: %v, want %v", names, want)
	}
}
