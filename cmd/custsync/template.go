package main

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/formats"
	"custsync/mapping"
)

func templateCommand() *cli.Command {
	return &cli.Command{
		Name:  "template",
		Usage: "write an empty ERP file with the default columns of an entity",
		Description: "The header is the default layout import reads without a mapping file (and export writes).\n" +
			"XLSX templates format every column as text, so ERP numbers keep their leading zeros.\n\n" +
			"Examples:\n" +
			"  custsync template --entity customers --out customers.xlsx\n" +
			"  custsync template --entity addresses --format csv --out addresses.csv",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "entity", Aliases: []string{"e"}, Usage: "customers, addresses, companies, locations or contacts"},
			&cli.StringFlag{Name: "format", Usage: "csv or xlsx (default: from the --out extension)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output `FILE` (default: the CSV header on stdout)"},
		}, csvOutputFlags()...),
		Action: runTemplate,
	}
}

func runTemplate(c *cli.Context) error {
	if c.String("entity") == "" {
		return usageErrorf("--entity is required")
	}
	e, err := mapping.ParseEntity(c.String("entity"))
	if err != nil {
		return usageErrorf("--entity: %w", err)
	}
	format := strings.ToLower(c.String("format"))
	if format != "" && format != "csv" && format != "xlsx" {
		return usageErrorf("--format must be csv or xlsx, not %q", format)
	}
	style, err := csvOutputStyle(c)
	if err != nil {
		return err
	}
	cols := mapping.Columns(e)
	out := c.String("out")
	if out == "" || out == "-" {
		if format == "xlsx" {
			return usageErrorf("an XLSX template needs --out FILE")
		}
		_, err := fmt.Fprintln(c.App.Writer, strings.Join(cols, string(cmp.Or(style.Delimiter, ','))))
		return err
	}
	w, err := formats.CreateWith(out, formats.WriteOptions{Format: format, Sheet: string(e), CSV: style})
	if err != nil {
		return usageErrorf("%w", err)
	}
	defer w.Abort()
	if err := w.WriteHeader(cols); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(c.App.Writer, "wrote the %s template (%d columns) to %s\n", e, len(cols), out)
	return nil
}
