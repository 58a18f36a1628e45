package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custsync/remote"
)

func TestCheckCommandReportsDriftAndFailsOnDiffWhenAsked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	report := filepath.Join(dir, "check.csv")
	code, out, errOut := runRecon(t, sandboxArgs(dir, append([]string{"check", "--report", report, "--fail-on-diff"}, sampleFiles...)...)...)
	if code != ExitOK || !strings.Contains(out, "customers  same 30, differs 0") {
		t.Fatalf("clean check: code %d\n%s%s", code, out, errOut)
	}
	withSandbox(t, dir, func(rc *remote.Client) {
		if err := rc.PatchCustomer(context.Background(), "0000200005", remote.Doc{"lastName": "Edited"}); err != nil {
			t.Fatal(err)
		}
	})
	before, err := os.ReadFile(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = runRecon(t, sandboxArgs(dir, append([]string{"check", "--report", report}, sampleFiles...)...)...)
	if code != ExitOK || !strings.Contains(out, "differs 1") || !strings.Contains(out, `lastName: "Edited" ->`) {
		t.Fatalf("drift check: code %d\n%s", code, out)
	}
	after, err := os.ReadFile(filepath.Join(dir, "state.db"))
	if err != nil || string(after) != string(before) {
		t.Fatalf("check changed the state file (%v)", err)
	}
	_, rows := readTable(t, report, "")
	found := false
	for _, r := range rows {
		if r[1] == "0000200005" && r[3] == "differs" && strings.HasPrefix(r[4], "lastName:") {
			found = true
		}
	}
	if !found {
		t.Errorf("report has no differs row for 0000200005: %v", rows)
	}
	code, _, errOut = runRecon(t, sandboxArgs(dir, append([]string{"check", "--report", report, "--fail-on-diff"}, sampleFiles...)...)...)
	if code != ExitFailure || !strings.Contains(errOut, "1 keys differ") {
		t.Fatalf("--fail-on-diff: code %d stderr %q", code, errOut)
	}
}

func TestCheckCommandInputErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeFile(t, dir, "customers.csv", "sdCustomerNumber,shoeSize\n1,42\n")
	if code, _, errOut := runRecon(t, sandboxArgs(dir, "check", bad)...); code != ExitUsage || !strings.Contains(errOut, "shoeSize") {
		t.Fatalf("bad header: code %d stderr %q", code, errOut)
	}
	if code, _, _ := runRecon(t, sandboxArgs(dir, "check")...); code != ExitUsage {
		t.Fatalf("no file: code %d", code)
	}
}
