package main

import (
	"context"
	"errors"
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
	if code != ExitFailure || !strings.Contains(errOut, "1 key differs") {
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

// TestCheckFixRepairsWhatDiffers: a customer's last name and an address's city edited on the platform are
// repaired by check --fix (only those rows, only those fields), after which check finds no difference; the
// same repair started from a check report (--from-report) works without comparing again; and --fix refuses
// --fail-on-diff, --from-report needs --fix.
func TestCheckFixRepairsWhatDiffers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	edit := func(last, city string) {
		withSandbox(t, dir, func(rc *remote.Client) {
			ctx := context.Background()
			if err := rc.PatchCustomer(ctx, "0000200005", remote.Doc{"lastName": last}); err != nil {
				t.Fatal(err)
			}
			if err := rc.PatchAddress(ctx, "0000200007", "0000200007-A1", remote.Doc{"city": city}); err != nil {
				t.Fatal(err)
			}
		})
	}
	edit("Edited", "Elsewhere")
	check := func(extra ...string) (int, string, string) {
		return runRecon(t, sandboxArgs(dir, append(append([]string{"check"}, extra...), sampleFiles...)...)...)
	}
	code, out, errOut := check("--fix", "--report", filepath.Join(dir, "fix.csv"))
	if code != ExitOK || !strings.Contains(out, "fix: repairing 2 keys") || !strings.Contains(out, "2 updated") ||
		!strings.Contains(out, "drift customers: 1 customer changed on the platform (lastName 1), sent the file's values") ||
		!strings.Contains(out, "drift addresses: 1 address changed on the platform (city 1), sent the file's values") {
		t.Fatalf("check --fix: code %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "pruned the journal") {
		t.Fatalf("check --fix pruned journals within the default retention:\n%s", out)
	}
	if code, out, _ = check("--fail-on-diff", "--report", filepath.Join(dir, "after.csv")); code != ExitOK {
		t.Fatalf("check after the fix: code %d\n%s", code, out)
	}

	edit("Again", "Anywhere")
	report := filepath.Join(dir, "drift.xlsx")
	if code, out, _ = check("--report", report); code != ExitOK || !strings.Contains(out, "differs 1") {
		t.Fatalf("check: code %d\n%s", code, out)
	}
	// A repair is an import and prunes the older journals as one does: a nightly check --fix would otherwise
	// grow the state file without end.
	if code, out, errOut = check("--fix", "--from-report", report, "--report", "", "--journal-keep-runs", "1"); code != ExitOK || !strings.Contains(out, "2 updated") ||
		strings.Contains(out, "same 30") || !strings.Contains(out, "pruned the journals of ") {
		t.Fatalf("check --fix --from-report --journal-keep-runs 1: code %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runRecon(t, "--state", filepath.Join(dir, "state.db"), "state", "show"); code != ExitOK || !strings.Contains(out, "journals:     kept by 1 run,") {
		t.Fatalf("state show after check --fix --journal-keep-runs 1: code %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = check("--fail-on-diff", "--report", ""); code != ExitOK {
		t.Fatalf("check after the second fix: code %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"--from-report", report}, {"--fix", "--fail-on-diff"}} {
		if code, _, errOut := check(bad...); code != ExitUsage {
			t.Errorf("%v: code %d\n%s", bad, code, errOut)
		}
	}
}

// TestCheckFixWritesOnlyTheKeysThatDiffer: check --fix repairs the customer edited on the platform and writes
// nothing else: not the new row of the file (only-in-file, import's to create), and, repairing from a report
// that lists one key, not a row the file changed since; they are counted as ignored. The import after it
// writes both.
func TestCheckFixWritesOnlyTheKeysThatDiffer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	customers := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n"+
		"0000000001,Anna,Berg,anna@x.example\n0000000002,Bob,Kurz,bob@x.example\n")
	if code, out, errOut := runRecon(t, sandboxArgs(dir, "import", customers)...); code != ExitOK {
		t.Fatalf("import: code %d\n%s%s", code, out, errOut)
	}
	editFirstName := func(name string) {
		withSandbox(t, dir, func(rc *remote.Client) {
			if err := rc.PatchCustomer(context.Background(), "0000000001", remote.Doc{"firstName": name}); err != nil {
				t.Fatal(err)
			}
		})
	}
	platform := func() (first, bobLast string, carla bool) {
		withSandbox(t, dir, func(rc *remote.Client) {
			ctx := context.Background()
			anna, err := rc.GetCustomer(ctx, "0000000001")
			if err != nil {
				t.Fatal(err)
			}
			bob, err := rc.GetCustomer(ctx, "0000000002")
			if err != nil {
				t.Fatal(err)
			}
			_, err = rc.GetCustomer(ctx, "0000000003")
			if err != nil && !remote.IsNotFound(err) {
				t.Fatal(err)
			}
			first, bobLast, carla = anna["firstName"].(string), bob["lastName"].(string), err == nil
		})
		return first, bobLast, carla
	}
	editFirstName("Anne")
	file, err := os.OpenFile(customers, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = file.WriteString("0000000003,Carla,Neu,carla@x.example\n")
		err = errors.Join(err, file.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runRecon(t, sandboxArgs(dir, "check", "--fix", "--report", "", customers)...)
	if code != ExitOK || !strings.Contains(out, "fix: repairing 1 key that differs") ||
		!strings.Contains(out, "import: 0 created, 1 updated, 1 unchanged, 0 deleted, 0 failed, 1 ignored") ||
		!strings.Contains(out, "check --fix left alone 1 row the check did not find different") {
		t.Fatalf("check --fix: code %d\n%s%s", code, out, errOut)
	}
	if first, _, carla := platform(); first != "Anna" || carla {
		t.Fatalf("after check --fix: firstName %q (want Anna), customer 0000000003 created: %v", first, carla)
	}

	// The report lists 0000000001 only; the file changes 0000000002 after it was written.
	editFirstName("Annie")
	report := filepath.Join(dir, "drift.csv")
	if code, out, errOut := runRecon(t, sandboxArgs(dir, "check", "--report", report, customers)...); code != ExitOK || !strings.Contains(out, "differs 1") {
		t.Fatalf("check: code %d\n%s%s", code, out, errOut)
	}
	writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n"+
		"0000000001,Anna,Berg,anna@x.example\n0000000002,Bob,Kurz-Weil,bob@x.example\n0000000003,Carla,Neu,carla@x.example\n")
	code, out, errOut = runRecon(t, sandboxArgs(dir, "check", "--fix", "--from-report", report, customers)...)
	if code != ExitOK || !strings.Contains(out, "fix: repairing 1 key that differs") ||
		!strings.Contains(out, "import: 0 created, 1 updated, 0 unchanged, 0 deleted, 0 failed, 2 ignored") {
		t.Fatalf("check --fix --from-report: code %d\n%s%s", code, out, errOut)
	}
	if first, bobLast, carla := platform(); first != "Anna" || bobLast != "Kurz" || carla {
		t.Fatalf("after check --fix --from-report: firstName %q (want Anna), 0000000002 lastName %q (want Kurz), 0000000003 created: %v", first, bobLast, carla)
	}

	if code, out, errOut = runRecon(t, sandboxArgs(dir, "import", customers)...); code != ExitOK || !strings.Contains(out, "import: 1 created, 1 updated, 1 unchanged") {
		t.Fatalf("import after the fixes: code %d\n%s%s", code, out, errOut)
	}
	if _, bobLast, carla := platform(); bobLast != "Kurz-Weil" || !carla {
		t.Fatalf("after the import: 0000000002 lastName %q (want Kurz-Weil), 0000000003 created: %v", bobLast, carla)
	}
}
