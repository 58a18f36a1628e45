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

// TestDecimalCommaLeavesSpreadsheetNumbersAlone: an XLSX number cell is stored with a decimal point whatever
// the locale, so --decimal-comma applies only to text cells: 1234.5 and 0.75 stay what they are, while the
// text cell "1.234,5" beside them reads as 1234.5.
func TestDecimalCommaLeavesSpreadsheetNumbersAlone(t *testing.T) {
	t.Parallel()
	_, global, dir := servedTenant(t, "sheetnums")
	book := filepath.Join(dir, "companies.xlsx")
	writeDamagedXLSX(t, book, "companies", [][]string{
		{"companyKey", "name", "type", "accountLimit.currency", "accountLimit.value"},
		{"C1", "One", "COMPANY", "EUR", "1234.5"},
		{"C2", "Two", "COMPANY", "EUR", "0.75"},
		{"C3", "Three", "COMPANY", "EUR", "1.234,5"},
	}, 4, func(x string) string {
		for _, c := range []struct{ ref, v string }{{"E2", "1234.5"}, {"E3", "0.75"}} {
			x = strings.Replace(x, `<c r="`+c.ref+`" t="inlineStr"><is><t>`+c.v+`</t></is></c>`, `<c r="`+c.ref+`"><v>`+c.v+`</v></c>`, 1)
		}
		return x
	})
	if code, out, errOut := runCLI(t, append(global, "import", "--decimal-comma", book)...); code != ExitOK {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	got := exportedColumn(t, global, dir, "companies", "accountLimit.value")
	if want := map[string]string{"C1": "1234.5", "C2": "0.75", "C3": "1234.5"}; !maps.Equal(got, want) {
		t.Fatalf("the platform holds limits %v, want %v", got, want)
	}
	// The same text in a CSV file is decimal-comma text, not the row synced from the number cell.
	csvFile := writeFile(t, dir, "companies.csv", "companyKey;name;type;accountLimit.currency;accountLimit.value\nC2;Two;COMPANY;EUR;0.75\n")
	if code, out, errOut := runCLI(t, append(global, "import", "--decimal-comma", csvFile)...); code != ExitPartial ||
		!strings.Contains(out, "so 0.75 is not a number; did the file use a decimal point?") {
		t.Fatalf("the CSV row: code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
}

// TestSpreadsheetErrorTextInCSVCells: a CSV export of a spreadsheet writes what failed formulas showed as
// text. #REF! in the key is an unreadable key (the row fails, --mode full deletes nothing, no customer
// "#REF!"); #VALUE! in another column fails its row instead of being sent; #N/A stays the clear sentinel.
func TestSpreadsheetErrorTextInCSVCells(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	day2 := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n"+
		"1,Name1,Last1,c1@example.com\n2,Name2,#VALUE!,c2@example.com\n#REF!,Name3,Last3,\n4,Name4,Last4,c4@example.com\n5,Name5,Last5,c5@example.com\n")
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--mode", "full", "--max-delete", "100%", day2)...)
	if code != ExitPartial ||
		!strings.Contains(out, `column sdCustomerNumber value "#REF!": the cell holds the spreadsheet error #REF!; the export wrote a formula's error as text`) ||
		!strings.Contains(out, `column lastName value "#VALUE!": the cell holds the spreadsheet error #VALUE!`) ||
		!strings.Contains(out, "deletes no customers") {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	if n, paths := writes(srv); n != 0 {
		t.Fatalf("%d writes reached the platform: %v", n, paths)
	}

	cleared := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n2,Name2,#N/A,c2@example.com\n")
	if code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", cleared)...); code != ExitOK || !strings.Contains(out, "1 updated") {
		t.Fatalf("#N/A as the clear sentinel: code %d\n%s%s", code, out, errOut)
	}
	if got := exportedColumn(t, global, dir, "customers", "lastName"); got["2"] != "" || got["1"] != "Last1" {
		t.Fatalf("last names after the clear: %v", got)
	}
}

// TestUncalculatedFormulaFailsItsRow: a workbook written by a program that does not calculate holds formulas
// without values. Such a cell fails its row with a message saying how to fix the workbook, instead of reading
// as blank (which keeps the old value and exits 0); in the key column it is an unreadable key, so --mode full
// deletes nothing. A formula whose computed value is empty text is a blank cell.
func TestUncalculatedFormulaFailsItsRow(t *testing.T) {
	t.Parallel()
	srv, global, dir := syncedPlatform(t)
	book := filepath.Join(dir, "customers.xlsx")
	writeDamagedXLSX(t, book, "customers", [][]string{
		{"sdCustomerNumber", "firstName", "lastName", "contactEmail"},
		{"1", "Name1", "New1", "c1@example.com"},
		{"2", "Name2", "Last2", "c2@example.com"},
		{"3", "Name3", "Last3", "c3@example.com"},
		{"4", "Name4", "Last4", "c4@example.com"},
		{"5", "Name5", "Last5", "c5@example.com"},
	}, 6, func(x string) string {
		x = strings.Replace(x, `<c r="C2" t="inlineStr"><is><t>New1</t></is></c>`, `<c r="C2"><f>UPPER("new1")</f></c>`, 1)
		x = strings.Replace(x, `<c r="A4" t="inlineStr"><is><t>3</t></is></c>`, `<c r="A4"><f>TEXT(3,"0")</f></c>`, 1)
		return strings.Replace(x, `<c r="C3" t="inlineStr"><is><t>Last2</t></is></c>`, `<c r="C3" t="str"><f>""</f><v></v></c>`, 1)
	})
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--mode", "full", "--max-delete", "100%", book)...)
	if code != ExitPartial ||
		!strings.Contains(out, "column lastName: C2 holds a formula without a computed value; open and save the workbook in a spreadsheet program so it calculates") ||
		!strings.Contains(out, "column sdCustomerNumber: A4 holds a formula without a computed value") ||
		strings.Contains(out, "missing key sdCustomerNumber") || !strings.Contains(out, "deletes no customers") {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	if n, paths := writes(srv); n != 0 {
		t.Fatalf("%d writes reached the platform: %v", n, paths)
	}
}
