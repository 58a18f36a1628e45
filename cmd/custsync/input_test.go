package main

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custsync/sandbox"
)

// servedTenant serves a sandbox for the rest of the test and returns it with the global flags that reach it
// (the demo client, the tenant, a state file in the returned directory).
func servedTenant(t *testing.T, tenant string) (*sandbox.Server, []string, string) {
	t.Helper()
	srv, url := platform(t, sandbox.Options{})
	dir := t.TempDir()
	return srv, []string{"--api-url", url, "--tenant", tenant, "--client-id", "sandbox", "--client-secret", "sandbox",
		"--state", filepath.Join(dir, "state.db")}, dir
}

// syncedPlatform serves a sandbox, imports five customers into it through the CLI, and forgets the requests
// that took: what a later run sends is then all the request log holds. It returns the sandbox, the global
// flags that reach it, and the directory of the test's files.
func syncedPlatform(t *testing.T) (*sandbox.Server, []string, string) {
	t.Helper()
	var rows strings.Builder
	rows.WriteString("sdCustomerNumber,firstName,lastName,contactEmail\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&rows, "%d,Name%d,Last%d,c%d@example.com\n", i, i, i, i)
	}
	return tenantHolding(t, "damaged", rows.String())
}

// tenantHolding serves a sandbox for tenant, imports customers (a customers.csv file's content) into it through
// the CLI, and forgets the requests that took. It returns what servedTenant does.
func tenantHolding(t *testing.T, tenant, customers string) (*sandbox.Server, []string, string) {
	t.Helper()
	srv, global, dir := servedTenant(t, tenant)
	first := writeFile(t, dir, "customers.csv", customers)
	if code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", first)...); code != ExitOK {
		t.Fatalf("first import: code %d\n%s%s", code, out, errOut)
	}
	srv.ResetRequests()
	return srv, global, dir
}

// TestDamagedCSVStopsWithNothingSent feeds files that are not whole, or not what the control total says, to a
// tenant that holds their customers: each is an input error (exit 2) naming the file, in delta and in full
// mode, also with --detect-deletions (which lists the platform's customers only once the input was read), and
// the platform sees no request at all.
func TestDamagedCSVStopsWithNothingSent(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	header := "sdCustomerNumber,firstName,lastName,contactEmail\n"
	cases := []struct {
		name, content string
		flags         []string
		want          string
	}{
		{"cut in the last row", header + "1,Name1,Last1,c1@example.com\n2,Name2,Last2,c2@example.com\n3,Na", nil, "cut off"},
		{"cut after a delimiter, CRLF", strings.ReplaceAll(header, "\n", "\r\n") + "1,Name1,Last1,c1@example.com\r\n2,", nil, "cut off"},
		{"cut inside a quoted cell", header + "1,Name1,Last1,c1@example.com\n2,\"Name\n2", nil, "cut off"},
		{"cut inside the quoted last cell of a full row", header + "1,Name1,Last1,c1@example.com\n2,Name2,Last2,\"c2@exa", nil, "ends inside a quoted cell"},
		{"cut inside a quoted cell, then a line break", header + "1,Name1,Last1,c1@example.com\n2,Name2,Last2,\"c2@exa\n", nil, "ends inside a quoted cell"},
		{"cut inside a quoted first cell", header + "1,Name1,Last1,c1@example.com\n\"2", nil, "ends inside a quoted cell"},
		{"fewer rows than --expect-rows", header + "1,Name1,Last1,c1@example.com\n2,Name2,Last2,c2@example.com\n", []string{"--expect-rows", "5"}, "--expect-rows says 5"},
		{"more rows than TABLE=N", header + "1,N,L,c1@example.com\n2,N,L,c2@example.com\n", []string{"--expect-rows", "customers=1"}, "--expect-rows says 1"},
	}
	for _, tc := range cases {
		path := writeFile(t, t.TempDir(), "customers.csv", tc.content)
		for _, mode := range []string{"delta", "full", "delta --detect-deletions", "full --detect-deletions"} {
			args := append(append([]string{}, global...), "import", "--tps", "0", "--max-delete", "100%", "--mode")
			args = append(append(args, strings.Fields(mode)...), tc.flags...)
			code, out, errOut := runCLI(t, append(args, path)...)
			if code != ExitUsage || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "customers.csv") {
				t.Errorf("%s, --mode %s: code %d, want %d naming the file and %q\n%s%s", tc.name, mode, code, ExitUsage, tc.want, out, errOut)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%s, --mode %s: %d requests reached the platform, want none", tc.name, mode, n)
				srv.ResetRequests()
			}
		}
	}
	// The same file with the count it really has goes through, so the flag itself is not what stopped it.
	whole := writeFile(t, dir, "customers.csv", header+"1,Name1,Last1,c1@example.com\n2,Name2,Last2,c2@example.com\n")
	if code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--expect-rows", "customers=2", whole)...); code != ExitOK {
		t.Fatalf("matching --expect-rows: code %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, append(global, "import", "--expect-rows", "kna1=2", whole)...); code != ExitUsage || !strings.Contains(errOut, `no table is named "kna1"`) {
		t.Fatalf("--expect-rows naming no table: code %d %s", code, errOut)
	}
}

// TestEmptyFilesAreOneSafetyStop: a 0-byte file stops like a file with only a header (exit 6, nothing sent),
// and --allow-empty lets both through.
func TestEmptyFilesAreOneSafetyStop(t *testing.T) {
	t.Parallel()
	srv, global, _ := syncedPlatform(t)
	dir := t.TempDir()
	zero := writeFile(t, dir, "customers.csv", "")
	headerOnly := writeFile(t, t.TempDir(), "customers.csv", "sdCustomerNumber,firstName\n")
	zeroXLSX := writeFile(t, dir, "customers.xlsx", "")
	for _, path := range []string{zero, headerOnly, zeroXLSX} {
		for _, mode := range []string{"delta", "full"} {
			code, out, errOut := runCLI(t, append(global, "import", "--mode", mode, path)...)
			if code != ExitSafetyStop || !strings.Contains(errOut, "empty") || !strings.Contains(errOut, "--allow-empty") {
				t.Errorf("%s --mode %s: code %d, want %d\n%s%s", path, mode, code, ExitSafetyStop, out, errOut)
			}
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests reached the platform, want none", n)
	}
	for _, path := range []string{zero, headerOnly} {
		if code, out, errOut := runCLI(t, append(global, "import", "--allow-empty", path)...); code != ExitOK {
			t.Errorf("%s --allow-empty: code %d\n%s%s", path, code, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, append(global, "check", zero)...); code != ExitSafetyStop {
		t.Errorf("check of a 0-byte file: code %d %s", code, errOut)
	}
	// A file with bytes but no header is as empty, and the stop says what the bytes are.
	for content, says := range map[string]string{
		"\n\n":         "customers.csv: the file is empty: no header: only blank lines (2 bytes)",
		"\xef\xbb\xbf": "customers.csv: the file is empty: no header: only a byte order mark (3 bytes)",
	} {
		path := writeFile(t, t.TempDir(), "customers.csv", content)
		if code, out, errOut := runCLI(t, append(global, "import", path)...); code != ExitSafetyStop || !strings.Contains(errOut, says) || !strings.Contains(errOut, "--allow-empty") {
			t.Errorf("%q: code %d, want %d saying %q\n%s%s", content, code, ExitSafetyStop, says, out, errOut)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests reached the platform, want none", n)
	}
}

// TestUnreadableRowNeverBecomesAFullModeDelete: a row the reader cannot split (more cells than the header) has
// no key anyone can trust, so --mode full plans no deletion of its entity, says why, and the run exits 3; the
// dry run of the same file exits 3 too and says so.
func TestUnreadableRowNeverBecomesAFullModeDelete(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	var rows strings.Builder
	rows.WriteString("sdCustomerNumber,firstName,lastName,contactEmail\n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&rows, "%d,Name%d,Last%d,c%d@example.com\n", i, i, i, i)
	}
	rows.WriteString("5,Name5,Müller, Sohn,c5@example.com\n") // an unquoted comma: five cells
	path := writeFile(t, dir, "customers.csv", rows.String())

	code, out, errOut := runCLI(t, append(global, "import", "--mode", "full", "--max-delete", "100%", "--dry-run", path)...)
	if code != ExitPartial || strings.Contains(out, "delete") && strings.Contains(out, "customers 5") ||
		!strings.Contains(out, "deletes no customers") || !strings.Contains(errOut, "dry run: 1 of 5 rows are invalid") {
		t.Fatalf("dry run: code %d, want %d without a delete of customer 5\n%s%s", code, ExitPartial, out, errOut)
	}
	code, out, errOut = runCLI(t, append(global, "import", "--mode", "full", "--max-delete", "100%", "--json", path)...)
	if code != ExitPartial || !strings.Contains(out, `"deleted": 0`) || !strings.Contains(out, "customers.csv:6") {
		t.Fatalf("import: code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	for _, r := range srv.Requests() {
		if r.Method == "DELETE" {
			t.Fatalf("a DELETE reached the platform: %+v", r)
		}
	}
}

// TestMisdelimitedAndBrokenRowsFailInsteadOfPadding: a row written with another delimiter reads as one cell
// and a row broken by a line break outside quotes as two short records; padded with blanks, they would
// create customers named after junk. Each fails its row with a message naming its lines, its key counts as
// unknown so --mode full deletes nothing, and the platform gets no write. Short rows that are neither (a
// spreadsheet dropped their trailing empty cells) still go through, their blanks keeping the platform's
// values.
func TestMisdelimitedAndBrokenRowsFailInsteadOfPadding(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	header := "sdCustomerNumber,firstName,lastName,contactEmail\n"
	damaged := writeFile(t, dir, "customers.csv", header+
		"1,Name1,Last1,c1@example.com\n"+
		"2;Name2;Last2;c2@example.com\n"+
		"3,Name3\nJr,Last3,c3@example.com\n"+
		"4,Name4\n") // customer 5 is missing: full mode would delete it if every key were known
	code, out, errOut := runCLI(t, append(global, "import", "--mode", "full", "--max-delete", "100%", "--json", damaged)...)
	wantInOut := []string{
		`"deleted": 0`, `"failed": 3`,
		"customers.csv:3", "it looks written with another delimiter",
		"customers.csv:4", "customers.csv:5", "lines 4-5 look like one row broken by a line break outside quotes",
	}
	for _, want := range wantInOut {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != ExitPartial || t.Failed() {
		t.Fatalf("import: code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	for _, r := range srv.Requests() {
		if r.Method != "GET" {
			t.Errorf("a %s %s reached the platform, want no write", r.Method, r.Path)
		}
	}

	padded := writeFile(t, t.TempDir(), "customers.csv", header+"1,Name1\n2,Name2\n3\n4,Name4,Last4\n5,Name5,Last5,c5@example.com\n")
	if code, out, errOut := runCLI(t, append(global, "import", "--mode", "full", "--max-delete", "100%", padded)...); code != ExitOK || !strings.Contains(out, "0 failed") || !strings.Contains(out, "5 unchanged") {
		t.Fatalf("rows without their trailing empty cells: code %d, want %d with 5 unchanged\n%s%s", code, ExitOK, out, errOut)
	}
}

// TestRowsNoneCouldReadAreFailuresNotAnEmptyInput: a table whose every row the reader cannot split (more
// cells than the header) has data rows, all of them failed. The run exits 3 naming the rows, as when every
// row fails validation, instead of the empty-input safety stop and its advice to pass --allow-empty; the rows
// count for --expect-rows, and --mode full still deletes nothing, since their keys are unknown.
func TestRowsNoneCouldReadAreFailuresNotAnEmptyInput(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	header := "sdCustomerNumber,firstName,lastName,contactEmail\n"
	unreadable := writeFile(t, dir, "customers.csv", header+"1,Name1,Last1,c1@example.com,EXTRA\n2,Name2,Müller, Sohn,c2@example.com\n")
	invalid := writeFile(t, t.TempDir(), "customers.csv", header+"1,Name1,Last1,broken\n2,Name2,Last2,broken\n")
	cases := []struct {
		name, path string
		flags      []string
		want       string
	}{
		{"unreadable rows", unreadable, nil, "customers.csv:2: row has 5 cells but the header has 4 columns"},
		{"unreadable rows, dry run", unreadable, []string{"--dry-run"}, "customers.csv:3: row has 5 cells"},
		{"unreadable rows, --mode full", unreadable, []string{"--mode", "full", "--max-delete", "100%"}, "deletes no customers"},
		{"unreadable rows, --expect-rows 2", unreadable, []string{"--expect-rows", "customers=2"}, "customers.csv:3: row has 5 cells"},
		{"invalid rows", invalid, nil, "customers.csv:2"},
	}
	for _, tc := range cases {
		args := append(append(append([]string{}, global...), "import", "--tps", "0"), tc.flags...)
		code, out, errOut := runCLI(t, append(args, tc.path)...)
		if code != ExitPartial || !strings.Contains(out+errOut, tc.want) || strings.Contains(out+errOut, "--allow-empty") {
			t.Errorf("%s: code %d, want %d naming %q and no empty-input stop\n%s%s", tc.name, code, ExitPartial, tc.want, out, errOut)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests reached the platform, want none: %+v", n, srv.Requests())
	}
	if code, _, errOut := runCLI(t, append(global, "import", "--expect-rows", "customers=0", unreadable)...); code != ExitUsage || !strings.Contains(errOut, "2 data rows") {
		t.Fatalf("--expect-rows 0 of a file with two unreadable rows: code %d, want %d\n%s", code, ExitUsage, errOut)
	}
}

// TestDryRunWithInvalidRowsExits3 rehearses a file with a bad e-mail: the dry run answers 3 like the real run.
func TestDryRunWithInvalidRowsExits3(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,contactEmail\n1,Ann,ann@example.com\n2,Bob,broken\n")
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--dry-run", in)...)
	if code != ExitPartial || !strings.Contains(out, "1 failed") || !strings.Contains(errOut, "the real run would fail them too") {
		t.Fatalf("dry run: code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	code, _, _ = runCLI(t, sandboxArgs(dir, "import", in)...)
	if code != ExitPartial {
		t.Fatalf("real run: code %d, want %d", code, ExitPartial)
	}
}

// TestKeyWithoutItsZerosIsNotANewCustomer: a spreadsheet that stored 0008000002 as the number 8000002 would
// create a second customer. Against a checkpoint that holds the zero-padded key the row is an error that
// says so, no request creates the short key, and --mode full keeps the synced customer.
func TestKeyWithoutItsZerosIsNotANewCustomer(t *testing.T) {
	t.Parallel()
	header := "sdCustomerNumber,firstName\n"
	srv, global, _ := tenantHolding(t, "zeros", header+"0008000002,Ann\n0008000003,Bob\n")
	mangled := writeFile(t, t.TempDir(), "customers.csv", header+"8000002,Ann\n0008000003,Bob\n8000004,Cy\n")
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--mode", "full", "--max-delete", "100%", mangled)...)
	if code != ExitPartial || !strings.Contains(out, `"8000002" is the synced key "0008000002" without its leading zeros`) ||
		!strings.Contains(out, "pad: 10") || !strings.Contains(out, "1 created") || !strings.Contains(out, "0 deleted") {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/8000002") || r.Method == "DELETE" {
			t.Errorf("request %s %s reached the platform", r.Method, r.Path)
		}
	}
}

// TestKeyEncodedOtherwiseIsNotANewCustomer: a day-two file that spells the synced key Müller01 with "u" and a
// combining diaeresis (NFD) instead of "ü" (NFC) would create a second customer both shown as Müller01, and
// --mode full would delete the first. The row is an error saying so, and nothing is created or deleted.
func TestKeyEncodedOtherwiseIsNotANewCustomer(t *testing.T) {
	t.Parallel()
	header := "sdCustomerNumber,firstName,lastName\n"
	srv, global, dir := tenantHolding(t, "encodings", header+"M\xc3\xbcller01,Ann,A\n")
	day2 := writeFile(t, dir, "customers_day2.csv", header+"Mu\xcc\x88ller01,Ann,A\n")
	for _, mode := range []string{"delta", "full"} {
		code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--entity", "customers", "--mode", mode, "--max-delete", "100%", day2)...)
		if code != ExitPartial || !strings.Contains(out, `"Mu\u0308ller01" differs from the synced key "Müller01" only in how its accented letters are encoded (Unicode NFD vs NFC)`) ||
			!strings.Contains(out, "0 created") || !strings.Contains(out, "0 deleted") {
			t.Errorf("--mode %s: code %d, want %d\n%s%s", mode, code, ExitPartial, out, errOut)
		}
	}
	if got := srv.Requests(); len(got) != 0 {
		t.Errorf("%d requests reached the platform, want none: %+v", len(got), got)
	}
}

// TestOverLongCellIsARowError: a cell beyond sync.MaxCellBytes in a column a mapper reads fails its row and
// is never sent; the same cell in a column nobody reads does no harm.
func TestOverLongCellIsARowError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	huge := strings.Repeat("x", 5<<20)
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,lastName\n1,Ann,Lee\n2,"+huge+",Doe\n")
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", in)...)
	if code != ExitPartial || !strings.Contains(out, "1 created") || !strings.Contains(out, "customers.csv:3: column firstName: the cell holds 5242880 bytes, more than the 65536") {
		t.Fatalf("code %d, want %d\n%.2000s%s", code, ExitPartial, out, errOut)
	}
	mapping := writeFile(t, dir, "m.yaml", "entity: customers\nfields:\n  sdCustomerNumber: KNR\nignore: [NOTES]\n")
	ignored := writeFile(t, dir, "kunden.csv", "KNR,NOTES\n3,"+huge+"\n")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--mapping", mapping, ignored)...); code != ExitOK {
		t.Fatalf("over-long ignored column: code %d\n%.2000s%s", code, out, errOut)
	}
}

// TestControlCharacterIsARowError: a NUL or another C0 control character (not tab, CR or LF) in a cell, CSV
// or XLSX (written as _x0000_), fails its row naming the column and the character's position, and is never
// sent; tabs and line breaks stay text.
func TestControlCharacterIsARowError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,lastName\n1,Ann,Lee\n2,Bob,Doe-Smith-Jones\x00e\n3,\"Cy\tX\r\nY\",Poe\n4,Dan,\x1bFox\n")
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", in)...)
	for _, want := range []string{"2 created",
		"customers.csv:3: column lastName: the cell holds a control character U+0000 at position 16; the export is probably binary or damaged",
		"customers.csv:6: column lastName: the cell holds a control character U+001B at position 1"} {
		if code != ExitPartial || !strings.Contains(out, want) {
			t.Errorf("CSV: code %d, want %d and %q\n%.2000s%s", code, ExitPartial, want, out, errOut)
		}
	}
	book := filepath.Join(dir, "kunden.xlsx")
	writeRawXLSX(t, book, "customers", [][]string{{"sdCustomerNumber", "firstName", "lastName"}, {"5", "Zoë_x0000_", "Lee"}, {"6", "Eve", "Fox"}})
	code, out, errOut = runCLI(t, sandboxArgs(dir, "import", book)...)
	if code != ExitPartial || !strings.Contains(out, "1 created") || !strings.Contains(out, "column firstName: the cell holds a control character U+0000 at position 4") {
		t.Errorf("XLSX: code %d, want %d\n%.2000s%s", code, ExitPartial, out, errOut)
	}
}

// TestJSONEscapedControlCharacterIsARowError: a FIELD:json or mixin :json cell whose escape decodes to a
// control character (here ESC and NUL) fails its row like a plain cell holding one, and nothing is sent, so
// export never meets a record it must refuse; tab, CR and LF escapes import and export.
func TestJSONEscapedControlCharacterIsARowError(t *testing.T) {
	t.Parallel()
	srv, global, dir := servedTenant(t, "jsoncontrol")
	header := "sdCustomerNumber,lastName:json,contactEmail,mixins.erp.note:json\n"
	bad := writeFile(t, dir, "zc.csv", header+`Z1,"""a\u001bb""",z1@x.example,`+"\n"+`Z2,,z2@x.example,"""n\u0000x"""`+"\n")
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--entity", "customers", bad)...)
	for _, want := range []string{"0 created",
		`zc.csv:2: column lastName:json value "\"a\\u001bb\"": the JSON value decodes to a control character U+001B at position 2`,
		`zc.csv:3: column mixins.erp.note:json value "\"n\\u0000x\"": the JSON value decodes to a control character U+0000 at position 2`} {
		if code != ExitPartial || !strings.Contains(out, want) {
			t.Errorf("code %d, want %d and %q\n%.2000s%s", code, ExitPartial, want, out, errOut)
		}
	}
	for _, r := range srv.Requests() {
		if r.Method != "GET" {
			t.Errorf("request %s %s reached the platform", r.Method, r.Path)
		}
	}
	good := writeFile(t, dir, "zt.csv", header+`Z3,"""a\tb\r\nc""",z3@x.example,"{""n"":[""x\ty""]}"`+"\n")
	if code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--entity", "customers", good)...); code != ExitOK || !strings.Contains(out, "1 created") {
		t.Fatalf("tab, CR and LF escapes: code %d\n%s%s", code, out, errOut)
	}
	exported := filepath.Join(dir, "z.csv")
	if code, out, errOut := runCLI(t, append(global, "export", "-e", "customers", "-o", exported)...); code != ExitOK {
		t.Fatalf("export: code %d\n%s%s", code, out, errOut)
	}
}

// writeRawXLSX writes a one-sheet workbook by hand, so that cells can be what a spreadsheet program leaves
// behind: rows[r][c] is a cell's text, stored as an inline string, or as an error cell (t="e") when it
// starts with "#" and ends with "!" or is "#N/A".
func writeRawXLSX(t *testing.T, path, sheet string, rows [][]string) {
	t.Helper()
	writeDamagedXLSX(t, path, sheet, rows, len(rows), nil)
}

// writeDamagedXLSX is writeRawXLSX with the damage real files show: the dimension may claim more rows than
// the sheet has (dimRows), and damage may rewrite the sheet part's XML. Parts are stored uncompressed, so a
// damage that changes the stored bytes after the checksum was taken (see corruptStored) is possible too.
func writeDamagedXLSX(t *testing.T, path, sheet string, rows [][]string, dimRows int, damage func(sheetXML string) string) {
	t.Helper()
	var data strings.Builder
	for r, row := range rows {
		fmt.Fprintf(&data, `<row r="%d">`, r+1)
		for c, v := range row {
			ref := string(rune('A'+c)) + fmt.Sprint(r+1)
			if v == "#N/A" || strings.HasPrefix(v, "#") && strings.HasSuffix(v, "!") {
				fmt.Fprintf(&data, `<c r="%s" t="e"><v>%s</v></c>`, ref, v)
				continue
			}
			var esc strings.Builder
			_ = xml.EscapeText(&esc, []byte(v))
			fmt.Fprintf(&data, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, esc.String())
		}
		data.WriteString(`</row>`)
	}
	parts := map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`,
		"_rels/.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
		"xl/workbook.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ` +
			`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="` + sheet + `" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
		"xl/worksheets/sheet1.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
			`<dimension ref="A1:` + string(rune('A'+len(rows[0])-1)) + fmt.Sprint(dimRows) + `"/><sheetData>` + data.String() + `</sheetData></worksheet>`,
	}
	if damage != nil {
		parts["xl/worksheets/sheet1.xml"] = damage(parts["xl/worksheets/sheet1.xml"])
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, parts[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSpreadsheetErrorCellsFailTheirRow: error cells (a failed VLOOKUP's #N/A, #REF!) in columns the import
// reads fail their rows naming the cell; nothing is cleared or sent as text, and a row whose key cell is an
// error keeps --mode full from deleting anything. An error cell in a column the mapping ignores is harmless.
func TestSpreadsheetErrorCellsFailTheirRow(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	book := filepath.Join(dir, "customers.xlsx")
	writeRawXLSX(t, book, "customers", [][]string{
		{"sdCustomerNumber", "firstName", "lastName", "contactEmail"},
		{"1", "Name1", "#N/A", "c1@example.com"},
		{"2", "#REF!", "Last2", "c2@example.com"},
		{"3", "Name3", "Last3", "c3@example.com"},
		{"#N/A", "Name4", "Last4", "c4@example.com"},
	})
	code, out, errOut := runCLI(t, append(global, "import", "--mode", "full", "--max-delete", "100%", book)...)
	if code != ExitPartial || !strings.Contains(out, "C2: the cell holds the spreadsheet error #N/A") ||
		!strings.Contains(out, "B3: the cell holds the spreadsheet error #REF!") || !strings.Contains(out, "A5: the cell holds the spreadsheet error #N/A") ||
		!strings.Contains(out, "deletes no customers") {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	if n, paths := writes(srv); n != 0 {
		t.Fatalf("%d writes reached the platform: %v", n, paths)
	}

	mapping := writeFile(t, dir, "m.yaml", "entity: customers\nfields:\n  sdCustomerNumber: KNR\n  firstName: VORNAME\nignore: [LOOKUP]\n")
	ignored := filepath.Join(dir, "kunden.xlsx")
	writeRawXLSX(t, ignored, "kunden", [][]string{{"KNR", "VORNAME", "LOOKUP"}, {"1", "Name1", "#N/A"}})
	if code, out, errOut := runCLI(t, append(global, "import", "--mapping", mapping, ignored)...); code != ExitOK {
		t.Fatalf("error cell in an ignored column: code %d\n%s%s", code, out, errOut)
	}
}

// TestDamagedXLSXStopsWithNothingSent: workbooks damaged the ways real files are (XML that is not well-formed,
// a sheet part that ends early, rows that end before the sheet's dimension, a part whose bytes no longer
// match its checksum) are input errors naming the file, in delta and in full mode, with no request sent.
func TestDamagedXLSXStopsWithNothingSent(t *testing.T) {
	t.Parallel()
	srv, global, _ := syncedPlatform(t)
	rows := [][]string{{"sdCustomerNumber", "firstName", "lastName", "contactEmail"}}
	for i := 1; i <= 5; i++ {
		rows = append(rows, []string{fmt.Sprint(i), fmt.Sprintf("Name%d", i), fmt.Sprintf("Last%d", i), fmt.Sprintf("c%d@example.com", i)})
	}
	cases := []struct {
		name    string
		dimRows int
		damage  func(string) string
		corrupt bool
		want    string
	}{
		{"a raw & in a cell", len(rows), func(x string) string { return strings.Replace(x, "Last3", "Last & Co", 1) }, false, "not well-formed"},
		{"the sheet part ends early", len(rows), func(x string) string { return x[:strings.Index(x, `<row r="4"`)+40] }, false, "ends early"},
		{"rows end before the dimension", len(rows) + 7, nil, false, "its dimension says the cells reach row 13"},
		{"a stored part that fails its checksum", len(rows), nil, true, "checksum"},
	}
	for _, tc := range cases {
		path := filepath.Join(t.TempDir(), "customers.xlsx")
		writeDamagedXLSX(t, path, "customers", rows, tc.dimRows, tc.damage)
		if tc.corrupt {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Same length, well-formed XML, wrong bytes: only the checksum can tell.
			i := strings.Index(string(data), "Last3")
			data[i+4] = '4'
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, mode := range []string{"delta", "full"} {
			code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--mode", mode, "--max-delete", "100%", path)...)
			if code != ExitUsage || !strings.Contains(errOut, "customers.xlsx") || !strings.Contains(errOut, tc.want) {
				t.Errorf("%s, --mode %s: code %d, want %d naming the file and %q\n%s%s", tc.name, mode, code, ExitUsage, tc.want, out, errOut)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%s, --mode %s: %d requests reached the platform, want none", tc.name, mode, n)
				srv.ResetRequests()
			}
		}
	}
}

// TestIgnoredRowKeepsItsKeyInFullMode marks one synced customer IGNORE in a complete snapshot: the row says
// "leave this one alone", so --mode full must neither update nor delete it, and the run is clean.
func TestIgnoredRowKeepsItsKeyInFullMode(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	var rows strings.Builder
	rows.WriteString("sdCustomerNumber,firstName,lastName,contactEmail,command\n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&rows, "%d,Name%d,Last%d,c%d@example.com,\n", i, i, i, i)
	}
	rows.WriteString("5,Changed,Last5,c5@example.com,IGNORE\n")
	path := writeFile(t, dir, "customers.csv", rows.String())

	code, out, errOut := runCLI(t, append(global, "import", "--mode", "full", "--max-delete", "100%", "--json", path)...)
	if code != ExitOK || !strings.Contains(out, `"deleted": 0`) || !strings.Contains(out, `"ignored": 1`) {
		t.Fatalf("import: code %d, want %d with nothing deleted and one row ignored\n%s%s", code, ExitOK, out, errOut)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Fatalf("an ignored row and four unchanged ones sent %d requests, first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
	}
}
