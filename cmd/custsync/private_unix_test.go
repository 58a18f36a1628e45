//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Every file custsync writes holds names, e-mails and addresses: the state file with its -wal and -shm, result
// files, exports and check reports are 0600 even under a umask that lets everyone read. Not parallel: the umask
// is the process's.
func TestFilesWithCustomerDataArePrivate(t *testing.T) {
	// Not t.Parallel(): the umask is the process's, and parallel tests would create their files under it.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,contactEmail\n1,Ann,ann@example.com\n2,Bob,broken\n")
	results := filepath.Join(dir, "results")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--results", results, in)...); code != ExitPartial {
		t.Fatalf("import: code %d\n%s%s", code, out, errOut)
	}
	files := []string{filepath.Join(dir, "state.db"), filepath.Join(results, "customers.errors.csv"), filepath.Join(results, "customers.success.csv")}
	for _, args := range [][]string{
		{"export", "--entity", "customers", "--out", filepath.Join(dir, "export.xlsx")},
		{"check", "--report", filepath.Join(dir, "report.csv"), in},
	} {
		if code, out, errOut := runCLI(t, sandboxArgs(dir, args...)...); code != ExitOK {
			t.Fatalf("%v: code %d\n%s%s", args, code, out, errOut)
		}
		files = append(files, args[len(args)-1])
	}
	files[len(files)-1] = filepath.Join(dir, "report.csv")
	code, out, errOut := runCLI(t, "--state", filepath.Join(dir, "state.db"), "deletions", "export", "--out", filepath.Join(dir, "deletions.csv"))
	if code != ExitOK {
		t.Fatalf("deletions export: code %d\n%s%s", code, out, errOut)
	}
	files = append(files, filepath.Join(dir, "deletions.csv"))
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(f), info.Mode().Perm())
		}
	}
	// The state file's -wal and -shm exist while it is open; SQLite gives them the database's mode, which
	// the state package's own test checks.
}
