package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestREADMEWalkthrough runs the walkthrough block of README.md as a shell script, on a free port, so that
// every command the documentation shows keeps working.
func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	runWalkthrough(t, "<!-- walkthrough -->", "127.0.0.1:8089", []string{
		"24 created",  // first import: 12 customers + 12 addresses
		"1 updated",   // the changed street
		"2 deleted",   // the deletion flag: customer and its address
		"safety stop", // the truncated file
		"exported",    // export
		"0000100081",  // the deletion log lists the deleted customer
	})
}

// TestREADMEMigrationWalkthrough runs the tenant migration block of README.md the same way.
func TestREADMEMigrationWalkthrough(t *testing.T) {
	t.Parallel()
	runWalkthrough(t, "<!-- migration walkthrough -->", "127.0.0.1:8090", []string{
		"customers  same 30, differs 0",              // check finds the tenants equal
		"4 rows carry a legacy password hash",        // refused before the window is open
		"password migration retention: open until",   // the window
		"5 customers created with their logins",      // the bulk import
		"+ grep -c 'hidden by custsync'",             // the success file masks the hashes
		"2 updates, 0 deletes",                       // state runs: what a restore can put back
		"lastName: \"Vogl\" -> \"Vogel\"",            // the dry run of the restore
		"restore: 0 created, 2 updated, 0 unchanged", // the restore
	})
}

// TestREADMEPopulatedWalkthrough runs the populated-tenant block of README.md the same way.
func TestREADMEPopulatedWalkthrough(t *testing.T) {
	t.Parallel()
	runWalkthrough(t, "<!-- populated walkthrough -->", "127.0.0.1:8091", []string{
		"adopt    customers 0000100001",                                             // the dry run lists the adoptions
		"import: 1 created, 0 updated, 0 unchanged, 0 deleted, 0 failed, 7 adopted", // the first import does them
		`"requests": 0`,                // the re-run asks nothing
		"contacts   same 2, differs 0", // check: nothing different
		"drift customers: 1 customer changed on the platform (firstName 1), sent the file's values", // --verify and check --fix
		"fix: repairing 1 key that differs",
	})
}

// runWalkthrough runs the shell block after marker in README.md on a free port in place of addr, and checks
// that its output holds every want.
func runWalkthrough(t *testing.T, marker, addr string, wants []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs a sandbox process")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), marker+"\n```sh\n")
	if !ok {
		t.Fatalf("README.md has no block after %s", marker)
	}
	script, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("the walkthrough block is not closed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	script = strings.ReplaceAll(script, addr, "127.0.0.1:"+port)

	root, _ := filepath.Abs("../..")
	cmd := exec.Command("bash", "-e", "-x", "-c", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	done := make(chan struct{})
	var out []byte
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the walkthrough did not finish:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	text := string(out)
	t.Logf("walkthrough output:\n%s", text)
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, text)
		}
	}
}

// TestREADMEExitCodesMatchTheBinary compares README's exit-code table with `custsync exit-codes` (exitCodeHelp),
// row by row: cron jobs are written against the README, and the binary is what they get.
func TestREADMEExitCodesMatchTheBinary(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "## Exit codes\n")
	if !ok {
		t.Fatal("README.md has no exit-code section")
	}
	documented := map[int]string{}
	var order []int
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 2 {
			continue
		}
		code, err := strconv.Atoi(strings.TrimSpace(cells[0]))
		if err != nil {
			continue
		}
		documented[code] = strings.TrimSpace(cells[1])
		order = append(order, code)
	}
	if len(order) != len(exitCodeHelp) {
		t.Errorf("README lists codes %v; the binary has %d codes", order, len(exitCodeHelp))
	}
	for i, e := range exitCodeHelp {
		if i < len(order) && order[i] != e.code {
			t.Errorf("row %d: README has code %d, the binary %d", i+1, order[i], e.code)
		}
		if got, ok := documented[e.code]; !ok || got != e.text {
			t.Errorf("code %d:\n  README:      %q\n  exit-codes:  %q", e.code, got, e.text)
		}
	}
}
