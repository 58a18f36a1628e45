package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sandboxArgs runs commands against an in-process sandbox persisted in dir, with the state file beside it.
func sandboxArgs(dir string, args ...string) []string {
	return append([]string{"--state", filepath.Join(dir, "state.db")}, append(args[:1:1],
		append([]string{"--sandbox", "--sandbox-data", filepath.Join(dir, "sandbox.db"), "--tps", "0"}, args[1:]...)...)...)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportCommandSamplesThenNoop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "../../samples/customers.csv", "../../samples/addresses.csv")...)
	if code != ExitOK || !strings.Contains(out, "64 created") {
		t.Fatalf("first import: code %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, sandboxArgs(dir, "import", "--json", "../../samples/customers.csv", "../../samples/addresses.csv")...)
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, out)
	}
	if code != ExitOK || rep["created"] != 0.0 || rep["unchanged"] != 64.0 || rep["failed"] != 0.0 {
		t.Fatalf("second import: code %d report %v", code, rep)
	}
}

func TestImportCommandExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,contactEmail\n1,Ann,ann@example.com\n2,Bob,bob@example.com\n3,Cy,cy@example.com\n")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", good)...); code != ExitOK {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	partial := writeFile(t, dir, "partial.csv", "sdCustomerNumber,firstName,contactEmail\n4,Dee,dee@example.com\n5,Eve,broken\n")
	if code, out, _ := runCLI(t, sandboxArgs(dir, "import", partial)...); code != ExitPartial || !strings.Contains(out, "partial.csv:3") {
		t.Fatalf("partial: code %d, want %d\n%s", code, ExitPartial, out)
	}
	truncated := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,contactEmail\n1,Ann,ann@example.com\n")
	if code, _, errOut := runCLI(t, sandboxArgs(dir, "import", "--mode", "full", truncated)...); code != ExitSafetyStop || !strings.Contains(errOut, "max-delete") {
		t.Fatalf("guard: code %d, want %d\n%s", code, ExitSafetyStop, errOut)
	}
	badHeader := writeFile(t, dir, "odd.csv", "sdCustomerNumber,shoeSize\n1,42\n")
	if code, _, errOut := runCLI(t, sandboxArgs(dir, "import", "--entity", "customers", badHeader)...); code != ExitUsage || !strings.Contains(errOut, "shoeSize") {
		t.Fatalf("bad header: code %d, want %d\n%s", code, ExitUsage, errOut)
	}
	if code, _, _ := runCLI(t, sandboxArgs(dir, "import", "--mode", "sometimes", good)...); code != ExitUsage {
		t.Fatalf("bad --mode: code %d", code)
	}
	if code, _, errOut := runCLI(t, append([]string{"--tenant", "othertenant"}, sandboxArgs(dir, "import", good)...)...); code != ExitState || !strings.Contains(errOut, "tenant") {
		t.Fatalf("other tenant: code %d, want %d\n%s", code, ExitState, errOut)
	}
}

func TestImportCommandResultsAndDryRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n2,Bob\n")
	code, out, _ := runCLI(t, sandboxArgs(dir, "import", "--dry-run", "-v", in)...)
	if code != ExitOK || !strings.Contains(out, `firstName: (none) -> "Ann"`) || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: code %d\n%s", code, out)
	}
	results := filepath.Join(dir, "results")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--results", results, "--format", "xlsx", in)...); code != ExitOK {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(results, "customers.success.xlsx")); err != nil {
		t.Fatalf("success file: %v", err)
	}
}

func TestImportDecimalCommaAndDateFormatFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "companies.csv", "companyKey,name,type,accountLimit.currency,accountLimit.value,legalInfo.registrationDate\nC1,Acme,COMPANY,EUR,\"1.234,50\",24.12.2019\n")
	// Without the flags the German number and date are row errors naming the columns.
	code, out, _ := runCLI(t, sandboxArgs(dir, "import", in)...)
	if code != ExitPartial || !strings.Contains(out, "accountLimit.value") {
		t.Fatalf("code %d\n%s", code, out)
	}
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--decimal-comma", "--date-format", "DD.MM.YYYY", "--json", in)...)
	if code != ExitOK || !strings.Contains(out, `"created": 1`) {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, sandboxArgs(dir, "import", "--date-format", "nonsense", in)...); code != ExitUsage {
		t.Fatalf("bad --date-format: code %d %s", code, errOut)
	}
}

// TestImportAdoptFlags: --dry-run --live lists the adoptions a populated tenant calls for, the real import
// --adopt makes them, and --live without --dry-run or --key-field without --adopt are usage errors.
func TestImportAdoptFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A shop's customer, made through another state file under a number custsync would not choose.
	shop := writeFile(t, dir, "shop.csv", "customerNumber,sdCustomerNumber,firstName,lastName,contactEmail\n70000001,S1,Ann,Shop,Ann@Example.com\n")
	args := func(state string, rest ...string) []string {
		a := sandboxArgs(dir, rest...)
		a[1] = filepath.Join(dir, state)
		return a
	}
	if code, out, errOut := runCLI(t, args("shop.db", "import", shop)...); code != ExitOK {
		t.Fatalf("shop: %d\n%s%s", code, out, errOut)
	}
	erp := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\nK1,Ann,Berg,ann@example.com\nK2,Bo,New,bo@example.com\n")
	code, out, errOut := runCLI(t, args("erp.db", "import", "--adopt", "--dry-run", "--live", "-v", erp)...)
	if code != ExitOK || !strings.Contains(out, "adopt    customers K1") || !strings.Contains(out, `lastName: "Shop" -> "Berg"`) ||
		!strings.Contains(out, "create   customers K2") || !strings.Contains(out, "1 adopted") {
		t.Fatalf("dry run: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, args("erp.db", "import", "--adopt", erp)...); code != ExitOK || !strings.Contains(out, "1 created") || !strings.Contains(out, "1 adopted") {
		t.Fatalf("import: %d\n%s%s", code, out, errOut)
	}
	for _, bad := range [][]string{{"--live"}, {"--key-field", "mixins.erp.customerNumber"}} {
		if code, _, errOut := runCLI(t, args("erp.db", append(append([]string{"import"}, bad...), erp)...)...); code != ExitUsage {
			t.Errorf("%v: code %d\n%s", bad, code, errOut)
		}
	}
}

// A result file that cannot be created after every row was written (its path is a directory here; /proc/self
// in the field) fails the run like the other I/O failures after writes, exit 1, with the JSON report, the
// metrics file and the run recorded as finished.
func TestResultFileFailureAfterWritesIsReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	if err := os.MkdirAll(filepath.Join(results, "customers.success.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(dir, "import.prom")
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--json", "--metrics-file", metrics, "--results", results, "../../samples/customers.csv")...)
	rep := validReport(t, "importReport", out)
	if code != ExitFailure || rep["exitCode"] != float64(ExitFailure) || rep["created"] != 30.0 ||
		!strings.Contains(fmt.Sprint(rep["stopped"]), "customers.success.csv") {
		t.Fatalf("code %d, report %v\n%s", code, rep, errOut)
	}
	if got := mustMetric(t, readMetrics(t, metrics), "custsync_last_run_exit_code", map[string]string{"command": "import"}); got != ExitFailure {
		t.Errorf("metrics file: exit code %v", got)
	}
	code, out, errOut = runCLI(t, "--state", filepath.Join(dir, "state.db"), "state", "runs", "--json")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(out), &runs); code != ExitOK || err != nil || len(runs) != 1 || runs[0]["status"] != "failed" {
		t.Fatalf("state runs: code %d, %v, %s%s", code, err, out, errOut)
	}
}

// A run stopped by --max-duration says so, not only "context deadline exceeded", and exits 130.
func TestMaxDurationStopSaysSo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, _, errOut := runCLI(t, sandboxArgs(dir, "import", "--max-duration", "1ns", "../../samples/customers.csv")...)
	if code != ExitInterrupted || !strings.Contains(errOut, "--max-duration 1ns ran out") {
		t.Fatalf("code %d\n%s", code, errOut)
	}
}

// A full snapshot of companies that lacks a parent still holding subsidiaries must not delete it (the platform
// would take the subsidiaries along): the key fails as a row of its own, although no input row carries it.
func TestImportFullSnapshotKeepsParentOfStayingSubsidiaries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	all := []string{"../../samples/locations.csv", "../../samples/companies.csv", "../../samples/customers.csv",
		"../../samples/addresses.csv", "../../samples/contacts.csv"}
	if code, out, errOut := runCLI(t, sandboxArgs(dir, append([]string{"import"}, all...)...)...); code != ExitOK {
		t.Fatalf("import: code %d\n%s%s", code, out, errOut)
	}
	companies, err := os.ReadFile("../../samples/companies.csv")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(companies), "\n") {
		if !strings.HasPrefix(line, "C1100,") {
			kept = append(kept, line)
		}
	}
	snapshot := writeFile(t, dir, "companies.csv", strings.Join(kept, ""))
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--mode", "full", "--json", snapshot)...)
	var rep struct {
		Deleted  int `json:"deleted"`
		Failed   int `json:"failed"`
		Failures []struct {
			Entity, Key, Reason string
		} `json:"failures"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s%s", err, out, errOut)
	}
	if code != ExitPartial || rep.Deleted != 0 || rep.Failed != 1 || len(rep.Failures) != 1 ||
		rep.Failures[0].Key != "C1100" || !strings.Contains(rep.Failures[0].Reason, "its subsidiaries C1110 stay") {
		t.Fatalf("code %d, report %+v\n%s", code, rep, errOut)
	}
}
