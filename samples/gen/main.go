// Command gen regenerates samples/customers.xlsx from samples/customers.csv and samples/addresses.csv:
// one sheet per entity, every cell written as text so ERP numbers keep their leading zeros. The output is
// byte-for-byte deterministic, so the committed file only changes when the CSVs do.
//
//	go run ./samples/gen            (from the repository root)
package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xuri/excelize/v2"
)

func main() {
	if err := run("samples"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	f := excelize.NewFile()
	defer f.Close()
	// Fixed document dates: excelize would otherwise stamp the current time.
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	if err := f.SetDocProps(&excelize.DocProperties{Created: fixed, Modified: fixed, Creator: "custsync samples/gen", LastModifiedBy: "custsync samples/gen"}); err != nil {
		return fmt.Errorf("set doc props: %w", err)
	}
	for i, sheet := range []string{"customers", "addresses"} {
		rows, err := readCSV(filepath.Join(dir, sheet+".csv"))
		if err != nil {
			return err
		}
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sheet); err != nil {
				return fmt.Errorf("rename sheet: %w", err)
			}
		} else if _, err := f.NewSheet(sheet); err != nil {
			return fmt.Errorf("new sheet %s: %w", sheet, err)
		}
		sw, err := f.NewStreamWriter(sheet)
		if err != nil {
			return fmt.Errorf("stream writer %s: %w", sheet, err)
		}
		for r, row := range rows {
			cells := make([]any, len(row))
			for c, v := range row {
				if v == "" {
					continue // a blank cell is left out, as Excel does
				}
				// A string value is stored as an inline string, never as a number.
				cells[c] = excelize.Cell{Value: v}
			}
			cell, err := excelize.CoordinatesToCellName(1, r+1)
			if err != nil {
				return err
			}
			if err := sw.SetRow(cell, cells); err != nil {
				return fmt.Errorf("%s row %d: %w", sheet, r+1, err)
			}
		}
		if err := sw.Flush(); err != nil {
			return fmt.Errorf("flush %s: %w", sheet, err)
		}
	}
	out := filepath.Join(dir, "customers.xlsx")
	if err := f.SaveAs(out); err != nil {
		return fmt.Errorf("save %s: %w", out, err)
	}
	return nil
}

func readCSV(path string) ([][]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rows, nil
}
