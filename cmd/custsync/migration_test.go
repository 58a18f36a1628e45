package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"custsync/sandbox"
)

func TestMigrationRetentionSetShowDelete(t *testing.T) {
	t.Parallel()
	_, url := platform(t, sandbox.Options{})
	global := []string{"--api-url", url, "--tenant", "retention", "--client-id", sandbox.DemoClientID, "--client-secret", sandbox.DemoClientSecret,
		"--state", filepath.Join(t.TempDir(), "state.db")}
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(append([]string{}, global...), args...)...)
	}

	code, out, errOut := cli("migration", "retention", "show")
	if code != ExitOK || !strings.Contains(out, "no password migration retention configuration") {
		t.Fatalf("show before set: code %d\n%s%s", code, out, errOut)
	}
	end := time.Now().UTC().AddDate(0, 3, 0).Format("2006-01-02")
	reminder := time.Now().UTC().AddDate(0, 2, 0).Format("2006-01-02")
	code, out, errOut = cli("migration", "retention", "set", "--end", end, "--reminder", reminder, "--email-notifications=false")
	if code != ExitOK || !strings.Contains(out, "open until "+end) || !strings.Contains(out, "reminder e-mail: "+reminder) ||
		!strings.Contains(out, "e-mail notifications: off") {
		t.Fatalf("set: code %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = cli("migration", "retention", "show", "--json")
	var got retentionJSON
	if code != ExitOK || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("show --json: code %d\n%s%s", code, out, errOut)
	}
	if !got.Configured || !got.Active || *got.RetentionEndDate != end || *got.EmailReminderDate != reminder || *got.EmailNotificationsEnabled {
		t.Errorf("show --json: %s", out)
	}
	// Without legacy hashes imported, the platform lets the configuration go.
	if code, out, errOut = cli("migration", "retention", "delete"); code != ExitOK {
		t.Fatalf("delete: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli("migration", "retention", "show", "--json")
	if code != ExitOK || !strings.Contains(out, `"configured": false`) {
		t.Errorf("show after delete: %s", out)
	}
}

func TestMigrationRetentionSetRefusesBadDates(t *testing.T) {
	t.Parallel()
	_, url := platform(t, sandbox.Options{})
	global := []string{"--api-url", url, "--tenant", "retention", "--client-id", sandbox.DemoClientID, "--client-secret", sandbox.DemoClientSecret,
		"--state", filepath.Join(t.TempDir(), "state.db")}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, ExitUsage, "--end is required"},
		{[]string{"--end", "31.01.2027"}, ExitUsage, "is not a date"},
		{[]string{"--end", "2027-01-31", "--reminder", "soon"}, ExitUsage, "is not a date"},
		// The platform judges the dates themselves: an end in the past is its 400.
		{[]string{"--end", time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")}, ExitFailure, "retentionEndDate must be a future date"},
	} {
		code, out, errOut := runCLI(t, append(append(append([]string{}, global...), "migration", "retention", "set"), tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("set %v: code %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
}

func TestRestoreFlags(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--run ID is required"},
		{[]string{"--run", "abc"}, "is not a run id"},
		{[]string{"--run", "0"}, "is not a run id"},
		{[]string{"--run", "1", "--max-delete", "lots"}, "--max-delete"},
		{[]string{"--run", "1", "extra"}, "takes no arguments"},
	} {
		code, _, errOut := runCLI(t, append([]string{"--state", state, "--tenant", "acme", "restore"}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("restore %v: code %d, stderr %q; want exit 2 with %q", tc.args, code, errOut, tc.want)
		}
	}
}

// A restore reports like an import (the same schema, mode restore), and state runs shows what each run can put
// back.
func TestRestoreJSONReportAndStateRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n2,Bob\n")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", in)...); code != ExitOK {
		t.Fatalf("import: %d\n%s%s", code, out, errOut)
	}
	writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Anna\n2,Bob\n")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", in)...); code != ExitOK {
		t.Fatalf("second import: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, "--state", filepath.Join(dir, "state.db"), "state", "runs", "--json")
	if code != ExitOK {
		t.Fatalf("state runs: %d %s", code, errOut)
	}
	validReport(t, "stateRuns", out)
	var runs []struct {
		ID      int64        `json:"id"`
		Restore *restoreJSON `json:"restore"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 || runs[0].Restore == nil || runs[0].Restore.Updates != 1 ||
		runs[1].Restore == nil || runs[1].Restore.Creates != 2 {
		t.Fatalf("state runs: %v %s", err, out)
	}
	code, out, errOut = runCLI(t, sandboxArgs(dir, "restore", "--run", "last", "--json")...)
	if code != ExitOK {
		t.Fatalf("restore: %d\n%s%s", code, out, errOut)
	}
	rep := validReport(t, "importReport", out)
	if rep["mode"] != "restore" || rep["updated"] != 1.0 || rep["exitCode"] != 0.0 {
		t.Errorf("restore report %s", out)
	}
	code, out, _ = runCLI(t, "--state", filepath.Join(dir, "state.db"), "state", "runs")
	if code != ExitOK || !strings.Contains(out, "RESTORABLE") || !strings.Contains(out, "2 creates only") {
		t.Errorf("state runs:\n%s", out)
	}
}

// A restore that completes prunes the older journals as an import does, under its --journal-keep-runs: here
// down to its own, after which the runs before it can no longer be restored.
func TestRestorePrunesOlderJournals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n2,Bob\n")
	for _, content := range []string{"sdCustomerNumber,firstName\n1,Ann\n2,Bob\n", "sdCustomerNumber,firstName\n1,Anna\n2,Bob\n"} {
		writeFile(t, dir, "customers.csv", content)
		if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", in)...); code != ExitOK {
			t.Fatalf("import: %d\n%s%s", code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, sandboxArgs(dir, "restore", "--run", "last", "--json", "--journal-keep-runs", "1")...)
	if code != ExitOK {
		t.Fatalf("restore: %d\n%s%s", code, out, errOut)
	}
	if rep := validReport(t, "importReport", out); rep["updated"] != 1.0 || rep["journalsPruned"] != 2.0 {
		t.Fatalf("restore --journal-keep-runs 1 report %s", out)
	}
	if code, _, errOut := runCLI(t, sandboxArgs(dir, "restore", "--run", "2")...); code != ExitUsage || !strings.Contains(errOut, "was pruned") {
		t.Fatalf("restore of a pruned run: %d\n%s", code, errOut)
	}
}
