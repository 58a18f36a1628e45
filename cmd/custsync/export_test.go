package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/remote"
	"custsync/sandbox"
)

var sampleFiles = []string{"../../samples/customers.csv", "../../samples/addresses.csv"}

// importSamples imports the sample customers and addresses into the persisted sandbox of dir.
func importSamples(t *testing.T, dir string) {
	t.Helper()
	if code, out, errOut := runRecon(t, sandboxArgs(dir, append([]string{"import"}, sampleFiles...)...)...); code != ExitOK {
		t.Fatalf("import: code %d\n%s%s", code, out, errOut)
	}
}

// withSandbox opens the persisted sandbox of dir (while no command runs) and hands a client of tenant demo
// to fn, to change the platform behind custsync's back.
func withSandbox(t *testing.T, dir string, fn func(rc *remote.Client)) {
	t.Helper()
	srv, err := sandbox.New(sandbox.Options{DataFile: filepath.Join(dir, "sandbox.db")})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer func() {
		hs.Close()
		srv.Close()
	}()
	rc, err := remote.New(remote.Config{BaseURL: hs.URL, MappingsURL: hs.URL, Tenant: defaultSandboxTenant, ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	fn(rc)
}

// readTable reads every row of the named sheet (or the CSV file, name "").
func readTable(t *testing.T, path, name string) ([]string, [][]string) {
	t.Helper()
	tables, err := formats.Open(path, formats.Options{Sheet: name})
	if err != nil {
		t.Fatal(err)
	}
	defer formats.CloseAll(tables)
	var rows [][]string
	for {
		row, err := tables[0].Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, append([]string(nil), row.Cells...))
	}
	return tables[0].Header(), rows
}

// TestEveryExportDelimiterImportsWithoutDelimiter exports with each --delimiter export offers and imports the
// file into another tenant without --delimiter: detection finds it. Read with a wrong --delimiter, the header is
// one cell, and the error says which delimiter the file seems to use instead of only that key columns are missing.
func TestEveryExportDelimiterImportsWithoutDelimiter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	for _, delim := range []string{",", ";", "|", "tab"} {
		out := filepath.Join(t.TempDir(), "customers.csv")
		if code, stdout, errOut := runRecon(t, sandboxArgs(dir, "export", "--entity", "customers", "--delimiter", delim, "--out", out)...); code != ExitOK {
			t.Fatalf("export --delimiter %s: code %d\n%s%s", delim, code, stdout, errOut)
		}
		other := t.TempDir()
		if code, stdout, errOut := runRecon(t, sandboxArgs(other, "import", out)...); code != ExitOK || !strings.Contains(stdout, "30 created") {
			t.Fatalf("import of the export --delimiter %s without --delimiter: code %d\n%s%s", delim, code, stdout, errOut)
		}
	}

	piped := filepath.Join(t.TempDir(), "customers.csv")
	if code, stdout, errOut := runRecon(t, sandboxArgs(dir, "export", "--entity", "customers", "--delimiter", "|", "--out", piped)...); code != ExitOK {
		t.Fatalf("export: code %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut := runRecon(t, sandboxArgs(t.TempDir(), "import", "--delimiter", ";", piped)...)
	want := `the header is a single cell in which column "sdCustomerNumber" is followed by a pipe (|): the file seems to use a pipe (|) as its delimiter; pass --delimiter '|'`
	if code != ExitUsage || !strings.Contains(errOut, want) {
		t.Fatalf("import --delimiter ';' of a '|' file: code %d, want %d and %q\n%s%s", code, ExitUsage, want, stdout, errOut)
	}
}

func TestExportCommandWritesAWorkbookThatReimportsUnchanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	out := filepath.Join(dir, "demo.xlsx")
	code, stdout, errOut := runRecon(t, sandboxArgs(dir, "export", "-e", "customers,addresses", "-o", out)...)
	if code != ExitOK || !strings.Contains(stdout, "exported 30 customers, 34 addresses") {
		t.Fatalf("export: code %d\n%s%s", code, stdout, errOut)
	}
	header, rows := readTable(t, out, "customers")
	keys := map[string]bool{}
	for _, r := range rows {
		keys[r[0]] = true
	}
	if header[0] != "sdCustomerNumber" || len(rows) != 30 || !keys["0000200001"] || !keys["0000200030"] {
		t.Fatalf("customers sheet: %v, %d rows", header, len(rows))
	}
	// The export re-imports as unchanged into the same tenant.
	code, stdout, _ = runRecon(t, sandboxArgs(dir, "import", "--json", out)...)
	if code != ExitOK || !strings.Contains(stdout, `"unchanged": 64`) {
		t.Fatalf("re-import of the export: code %d\n%s", code, stdout)
	}
}

func TestExportCommandUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := [][]string{
		sandboxArgs(dir, "export", "-e", "customers,addresses", "-o", filepath.Join(dir, "two.csv")),
		sandboxArgs(dir, "export", "-e", "orders", "-o", filepath.Join(dir, "x.csv")),
		sandboxArgs(dir, "export", "-e", "customers"),
		sandboxArgs(dir, "export", "-o", filepath.Join(dir, "x.csv")),
	}
	for _, args := range cases {
		if code, _, errOut := runRecon(t, args...); code != ExitUsage {
			t.Errorf("%v: code %d, want %d (%s)", args, code, ExitUsage, errOut)
		}
	}
}

func TestExportCommandLocalTablesNeedNoPlatform(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	out := filepath.Join(dir, "mappings.csv")
	// No --sandbox and no credentials: the mappings live in the state file.
	code, stdout, errOut := runRecon(t, "--state", filepath.Join(dir, "state.db"), "export", "-e", "mappings", "-o", out)
	if code != ExitOK || !strings.Contains(stdout, "exported 30 mappings") {
		t.Fatalf("code %d\n%s%s", code, stdout, errOut)
	}
	header, rows := readTable(t, out, "")
	if strings.Join(header, ",") != "customerNumber,sdCustomerNumber,deletedInYaaS,pushed,updatedAt" || len(rows) != 30 {
		t.Fatalf("mappings export: %v, %d rows", header, len(rows))
	}
}

// A --sandbox command whose data file another process holds (a `sandbox serve` on it, or a run on the same
// state file) stops with exit 7 and says so, instead of waiting on the other's writes or blocking them.
func TestSandboxDataFileInUseExitsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	withSandbox(t, dir, func(*remote.Client) {
		code, _, errOut := runRecon(t, sandboxArgs(dir, "export", "--entity", "customers", "--out", filepath.Join(dir, "c.csv"))...)
		if code != ExitState || !strings.Contains(errOut, "sandbox.db is in use by another process") {
			t.Fatalf("export while the sandbox data file is held: code %d\n%s", code, errOut)
		}
	})
	if code, _, errOut := runRecon(t, sandboxArgs(dir, "export", "--entity", "customers", "--out", filepath.Join(dir, "c.csv"))...); code != ExitOK {
		t.Fatalf("export once the data file is free: code %d\n%s", code, errOut)
	}
}

// TestExportLeavesOutRecordsItsFileCannotHold: a customer whose mixin holds more than import reads from a
// cell (70,000 characters), one with a cell longer than XLSX holds (40,000) and one with a control character
// that XLSX cannot store and import refuses. Each export writes every other record, lists the ones it left out with their column and
// what to do, and exits 3; what it wrote imports into another tenant without a failed row.
func TestExportLeavesOutRecordsItsFileCannotHold(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	withSandbox(t, dir, func(rc *remote.Client) {
		for id, text := range map[string]string{"BIG": strings.Repeat("x", 70_000), "WIDE": strings.Repeat("y", 40_000), "CTRL": "a\x01b"} {
			doc := remote.Doc{"lastName": id, "metadata": map[string]any{"mixins": map[string]any{"note": "https://schema.example/note.json"}},
				"mixins": map[string]any{"note": map[string]any{"text": text}}}
			if _, err := rc.UpsertCustomer(context.Background(), id, doc); err != nil {
				t.Fatal(err)
			}
		}
	})
	big := `not exported: customer BIG, column "mixins.note.text": the value holds 70000 bytes, more than the 65536 import reads from a cell`
	for _, tc := range []struct {
		format string
		want   []string
		rows   int
	}{
		{"csv", []string{big, `not exported: customer CTRL, column "mixins.note.text": the value holds a control character U+0001 at position 2, which import refuses`}, 31},
		{"xlsx", []string{big, `not exported: customer WIDE, column "mixins.note.text": the cell has 40000 characters; XLSX cells hold at most 32767; export the entity to CSV (--format csv)`,
			`not exported: customer CTRL, column "mixins.note.text": the cell contains control character U+0001, which XLSX cannot store`}, 30},
	} {
		out := filepath.Join(t.TempDir(), "customers."+tc.format)
		code, stdout, errOut := runRecon(t, sandboxArgs(dir, "export", "--entity", "customers", "--out", out)...)
		for _, want := range tc.want {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s export does not say %q", tc.format, want)
			}
		}
		if code != ExitPartial || strings.Count(stdout, "not exported:") != len(tc.want) || !strings.Contains(errOut, "left out of") || t.Failed() {
			t.Fatalf("%s export: code %d, want %d\n%s%s", tc.format, code, ExitPartial, stdout, errOut)
		}
		sheet := ""
		if tc.format == "xlsx" {
			sheet = "customers"
		}
		if _, rows := readTable(t, out, sheet); len(rows) != tc.rows {
			t.Fatalf("%s export holds %d rows, want %d", tc.format, len(rows), tc.rows)
		}
		if code, stdout, errOut := runRecon(t, sandboxArgs(t.TempDir(), "import", out)...); code != ExitOK || !strings.Contains(stdout, fmt.Sprintf("%d created", tc.rows)) {
			t.Fatalf("import of the %s export: code %d\n%s%s", tc.format, code, stdout, errOut)
		}
	}
}
