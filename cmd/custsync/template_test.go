package main

import (
	"path/filepath"
	"strings"
	"testing"

	"custsync/mapping"
)

func TestTemplateCommand(t *testing.T) {
	t.Parallel()
	code, out, _ := runRecon(t, "template", "--entity", "addresses")
	if code != ExitOK || strings.TrimSpace(out) != strings.Join(mapping.Columns(mapping.Addresses), ",") {
		t.Fatalf("CSV header on stdout: code %d %q", code, out)
	}
	path := filepath.Join(t.TempDir(), "companies.xlsx")
	if code, out, _ = runRecon(t, "template", "-e", "companies", "-o", path); code != ExitOK {
		t.Fatalf("xlsx: code %d %s", code, out)
	}
	header, rows := readTable(t, path, "companies")
	if strings.Join(header, ",") != strings.Join(mapping.Columns(mapping.Companies), ",") || len(rows) != 0 {
		t.Fatalf("xlsx template: %v %v", header, rows)
	}
	for _, args := range [][]string{{"template"}, {"template", "-e", "orders"}, {"template", "-e", "customers", "--format", "xlsx"}} {
		if code, _, _ := runRecon(t, args...); code != ExitUsage {
			t.Errorf("%v: code %d, want %d", args, code, ExitUsage)
		}
	}
}
