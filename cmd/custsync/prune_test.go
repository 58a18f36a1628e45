package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// customerRows renders n customers with first names prefixed by tag, so that each import changes them all.
func customerRows(n int, tag string) string {
	var b strings.Builder
	b.WriteString("sdCustomerNumber,firstName,lastName,contactEmail,preferredCurrency,active\n")
	for i := range n {
		fmt.Fprintf(&b, "%010d,%s%d,Last%d,c%d@example.com,EUR,true\n", 200000+i, tag, i, i, i)
	}
	return b.String()
}

// state prune says what it removes (or with --dry-run would), state runs and state runs --json mark the
// pruned runs, restore refuses them with exit 2, and a profile's journal-keep-runs applies to import.
func TestStatePruneRunsAndRestoreOfAPrunedRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.db")
	file := filepath.Join(dir, "customers.csv")
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("%s: code %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	for _, tag := range []string{"A", "B", "C"} {
		writeFile(t, dir, "customers.csv", customerRows(400, tag))
		mustRun(sandboxArgs(dir, "import", "--journal-keep-runs", "0", file)...)
	}

	for _, args := range [][]string{{"state", "prune", "--keep-runs", "0"}, {"state", "prune", "--keep-days", "-1"}} {
		if code, _, errOut := runCLI(t, append([]string{"--state", stateFile}, args...)...); code != ExitUsage || !strings.Contains(errOut, "must be") {
			t.Fatalf("%v: code %d\n%s", args, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, sandboxArgs(dir, "import", "--journal-keep-runs", "-1", file)...); code != ExitUsage || !strings.Contains(errOut, "--journal-keep-runs must be at least 0") {
		t.Fatalf("import --journal-keep-runs -1: code %d\n%s", code, errOut)
	}

	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun("--state", stateFile, "state", "prune", "--keep-runs", "1", "--dry-run")
	for _, want := range []string{
		"would prune the journal of run 1 (import, completed, started ",
		"): 400 ops, 0 update images",
		"would prune the journal of run 2 (import, completed, started ",
		"): 400 ops, 400 update images",
		"would prune 2 journals (800 ops, 400 update images); kept 1 by the retention (the last run)",
		"dry run: nothing was removed",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("prune --dry-run does not say %q:\n%s", want, out)
		}
	}
	if after, _ := os.ReadFile(stateFile); string(after) != string(before) {
		t.Fatal("prune --dry-run changed the state file")
	}
	if out := mustRun("--state", stateFile, "state", "runs"); strings.Contains(out, "journal pruned") {
		t.Fatalf("state runs after a dry run:\n%s", out)
	}

	out = mustRun("--state", stateFile, "state", "prune", "--keep-runs", "1", "--vacuum")
	m := regexp.MustCompile(`vacuumed: the file is ([\d.]+) kB, was ([\d.]+) (k|M)B`).FindStringSubmatch(out)
	if !strings.Contains(out, "pruned 2 journals (800 ops, 400 update images)") || m == nil {
		t.Fatalf("prune --vacuum:\n%s", out)
	}
	if fi, err := os.Stat(stateFile); err != nil || fi.Size() >= int64(len(before)) {
		t.Fatalf("the vacuumed file has %d bytes, had %d", fi.Size(), len(before))
	}

	if out := mustRun("--state", stateFile, "state", "show"); !strings.Contains(out, "journals:     kept by 1 run, pruned of 2 (custsync state prune)") {
		t.Fatalf("state show after the prune:\n%s", out)
	}
	out = mustRun("--state", stateFile, "state", "runs")
	for _, id := range []string{"1", "2"} {
		if !regexp.MustCompile(`(?m)^` + id + ` +import +completed .*journal pruned`).MatchString(out) {
			t.Fatalf("state runs does not mark run %s pruned:\n%s", id, out)
		}
	}
	if regexp.MustCompile(`(?m)^3 .*journal pruned`).MatchString(out) {
		t.Fatalf("state runs marks the kept run 3 pruned:\n%s", out)
	}
	out = mustRun("--state", stateFile, "state", "runs", "--json")
	validReport(t, "stateRuns", out)
	var runs []struct {
		ID              int64   `json:"id"`
		JournalPrunedAt *string `json:"journalPrunedAt"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 3 {
		t.Fatalf("state runs --json: %v\n%s", err, out)
	}
	for _, r := range runs {
		if (r.JournalPrunedAt != nil) != (r.ID < 3) {
			t.Fatalf("state runs --json: run %d has journalPrunedAt %v\n%s", r.ID, r.JournalPrunedAt, out)
		}
	}

	code, out, errOut := runCLI(t, sandboxArgs(dir, "restore", "--run", "2")...)
	if code != ExitUsage || !strings.Contains(errOut, "run 2 cannot be restored: its journal (what it created and updated) was pruned on ") {
		t.Fatalf("restore of a pruned run: code %d\n%s%s", code, out, errOut)
	}

	// A profile's retention: journal-keep-runs 1 prunes run 3 once run 4 has completed.
	cfg := writeFile(t, dir, "custsync.yaml", "profiles:\n  nightly:\n    journal-keep-runs: 1\n")
	writeFile(t, dir, "customers.csv", customerRows(400, "D"))
	out = mustRun(append([]string{"--config", cfg, "--profile", "nightly"}, sandboxArgs(dir, "import", "--json", file)...)...)
	if rep := validReport(t, "importReport", out); rep["journalsPruned"] != 1.0 {
		t.Fatalf("import with the profile's journal-keep-runs 1 pruned %v journals, want 1", rep["journalsPruned"])
	}
}
