package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/formats"
)

// bomUsage describes --bom. Where a command reads input, the default follows the input (a BOM when the
// input had one or was not UTF-8), so --bom=false is meaningful too.
const bomUsage = "start CSV output with a UTF-8 byte-order mark, so Excel reads it as UTF-8 (default: as the input, or none)"

// csvOutputFlags are the CSV output flags of commands that read no input (export, mappings export,
// deletions export, template): a German Excel opens files written with --bom --delimiter ';' correctly.
func csvOutputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "bom", Usage: bomUsage},
		&cli.StringFlag{Name: "delimiter", Usage: "CSV output delimiter: , ; | or tab (default ,)"},
	}
}

// bomFlag is --bom for commands that read input (import, check): their --delimiter already names the
// input's delimiter, which their CSV outputs keep.
func bomFlag() cli.Flag { return &cli.BoolFlag{Name: "bom", Usage: bomUsage} }

// bomChoice is --bom as given: nil when not given, so the default can follow the input.
func bomChoice(c *cli.Context) *bool {
	if !c.IsSet("bom") {
		return nil
	}
	v := c.Bool("bom")
	return &v
}

// parseDelimiter reads a --delimiter value: "" (none given), , ; | or tab.
func parseDelimiter(d string) (rune, error) {
	switch strings.ToLower(d) {
	case "":
		return 0, nil
	case "tab", `\t`, "\t":
		return '\t', nil
	case ",", ";", "|":
		return rune(d[0]), nil
	}
	return 0, usageErrorf("--delimiter must be , ; | or tab, not %q", d)
}

// csvOutputStyle reads csvOutputFlags.
func csvOutputStyle(c *cli.Context) (formats.CSVStyle, error) {
	d, err := parseDelimiter(c.String("delimiter"))
	return formats.CSVStyle{Delimiter: d, BOM: c.Bool("bom")}, err
}
