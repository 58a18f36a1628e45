package formats

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestCreateUnlinkedTempRemovesWhatEarlierRunsLeft(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mtime time.Time) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("0000100001,Anna,Muster"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(".custsync-results-1234567.tmp", old)        // a killed run's: removed
	write(".custsync-results-7654321.tmp", time.Now()) // too new to be sure: kept
	write(".custsync-results-backup.tmp", old)         // not a name the pattern makes: kept
	write(".custsync-export-1234567.tmp", old)         // another pattern: kept
	write("customers.csv", old)
	if err := os.Mkdir(filepath.Join(dir, ".custsync-results-999.tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, ".custsync-results-999.tmp"), old, old); err != nil {
		t.Fatal(err)
	}

	f, path, err := CreateUnlinkedTemp(dir, ".custsync-results-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("row"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{".custsync-export-1234567.tmp", ".custsync-results-7654321.tmp", ".custsync-results-999.tmp", ".custsync-results-backup.tmp", "customers.csv"}
	if runtime.GOOS == "windows" {
		want = append(want, filepath.Base(path)) // open files keep their names there
		slices.Sort(want)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("after CreateUnlinkedTemp the directory holds %q, want %q", names, want)
	}
	if err := CloseUnlinkedTemp(f, path); err != nil {
		t.Fatal(err)
	}
}

// A file created just now may belong to a run in the instant between its creation and its unlinking: never
// removed, whatever its name.
func TestRemoveLeftoversKeepsRecentFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "custsync-xlsx-42")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	RemoveLeftoverTemps(dir, "custsync-xlsx-*")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a file of this minute was removed: %v", err)
	}
	past := time.Now().Add(-leftoverAge - time.Second)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	RemoveLeftoverTemps(dir, "custsync-xlsx-*")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a file older than %v is still there: %v", leftoverAge, err)
	}
}
