package mapping_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/mapping"
)

const samplesDir = "../samples"

// readCSVFile reads a whole CSV file with encoding/csv (the formats package is not imported here, to keep
// mapping's tests independent of it).
func readCSVFile(t testing.TB, path string, comma rune) (header []string, rows [][]string, lines []int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readCSVBytes(t, data, comma)
}

func readCSVBytes(t testing.TB, data []byte, comma rune) (header []string, rows [][]string, lines []int) {
	t.Helper()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	r.FieldsPerRecord = -1
	first := true
	for {
		rec, err := r.Read()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatal(err)
		}
		line, _ := r.FieldPos(0)
		if first {
			header, first = rec, false
			continue
		}
		rows = append(rows, rec)
		lines = append(lines, line)
	}
	return header, rows, lines
}

// mapTable resolves a table and maps all its rows, failing the test on header errors.
func mapTable(t testing.TB, spec *mapping.Spec, table mapping.Table, header []string, rows [][]string, lines []int) ([]mapping.Record, []mapping.FieldError) {
	t.Helper()
	mappers, err := mapping.Resolve(spec, table, header)
	if err != nil {
		t.Fatalf("resolve %s: %v", table, err)
	}
	var recs []mapping.Record
	var errs []mapping.FieldError
	for i, row := range rows {
		for _, m := range mappers {
			rec, fe := m.Map(formats.Position{File: table.File, Sheet: table.Sheet, Line: lines[i]}, row)
			recs = append(recs, rec)
			errs = append(errs, fe...)
		}
	}
	return recs, errs
}

// mapOne maps a single row of a default-layout table named after the entity.
func mapOne(t testing.TB, e mapping.Entity, header, row []string) (mapping.Record, []mapping.FieldError) {
	t.Helper()
	mappers, err := mapping.Resolve(mapping.DefaultSpec(), mapping.Table{File: string(e) + ".csv"}, header)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if len(mappers) != 1 {
		t.Fatalf("want 1 mapper, got %d", len(mappers))
	}
	return mappers[0].Map(formats.Position{File: string(e) + ".csv", Line: 2}, row)
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func errText(errs []mapping.FieldError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error())
		b.WriteString("\n")
	}
	return b.String()
}
