package main

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// exportedColumn exports an entity from the platform the global flags reach and returns one column of it by
// the first column (the ERP key).
func exportedColumn(t *testing.T, global []string, dir, entity, column string) map[string]string {
	t.Helper()
	out := filepath.Join(dir, "export-"+entity+".csv")
	if code, stdout, errOut := runCLI(t, append(global, "export", "--entity", entity, "--out", out)...); code != ExitOK {
		t.Fatalf("export %s: code %d\n%s%s", entity, code, stdout, errOut)
	}
	header, rows := readTable(t, out, "")
	col := slices.Index(header, column)
	if col < 0 {
		t.Fatalf("the export has no column %s: %q", column, header)
	}
	values := map[string]string{}
	for _, r := range rows {
		values[r[0]] = r[col]
	}
	return values
}

// TestDecimalCommaTakesDotsOnlyAsThousands: with --decimal-comma a dot separates thousands in groups of three
// before the comma; a file written with decimal points (1.5, 12.50, 1,234.50) or with stray dots fails those
// rows naming column and value, instead of sending 15 or 1250.
func TestDecimalCommaTakesDotsOnlyAsThousands(t *testing.T) {
	t.Parallel()
	_, global, dir := servedTenant(t, "decimals")
	in := writeFile(t, dir, "companies.csv", "companyKey;name;type;accountLimit.currency;accountLimit.value\n"+
		"C1;One;COMPANY;EUR;1.5\nC2;Two;COMPANY;EUR;1,234.50\nC3;Three;COMPANY;EUR;12.50\nC4;Four;COMPANY;EUR;1..2\n"+
		"C5;Five;COMPANY;EUR;.5\nC6;Six;COMPANY;EUR;1.2345.6\nC7;Seven;COMPANY;EUR;1.234,5\nC8;Eight;COMPANY;EUR;12.345.678\n")
	code, out, errOut := runCLI(t, append(global, "import", "--decimal-comma", in)...)
	if code != ExitPartial {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	for _, bad := range []string{"1.5", "1,234.50", "12.50", "1..2", ".5", "1.2345.6"} {
		if want := `column accountLimit.value value "` + bad + `": with decimal comma`; !strings.Contains(out, want) ||
			!strings.Contains(out, "so "+bad+" is not a number; did the file use a decimal point?") {
			t.Errorf("no row error for %s\n%s", bad, out)
		}
	}
	got := exportedColumn(t, global, dir, "companies", "accountLimit.value")
	if want := map[string]string{"C7": "1234.5", "C8": "12345678"}; !maps.Equal(got, want) {
		t.Fatalf("the platform holds limits %v, want %v", got, want)
	}
}
