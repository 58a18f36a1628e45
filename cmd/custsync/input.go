package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/formats"
	"custsync/mapping"
	syncer "custsync/sync"
)

// inputReadFlags are the flags that say how ERP files are read (import, check and mappings pull).
func inputReadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "mapping", Usage: "column mapping `FILE` (YAML or JSON); default: files use the default column names"},
		&cli.StringFlag{Name: "entity", Usage: "entity of every input table instead of detecting it from the file or sheet name"},
		&cli.StringFlag{Name: "sheet", Usage: "XLSX: read only this sheet"},
		&cli.StringFlag{Name: "delimiter", Usage: "CSV delimiter: , ; | or tab (default: detected)"},
		&cli.StringFlag{Name: "encoding", Usage: "CSV encoding: utf-8, windows-1252, iso-8859-1 (default: detected)"},
		&cli.BoolFlag{Name: "decimal-comma", Usage: "numbers use a decimal comma (1.234,50) instead of the mapping's setting"},
		&cli.StringFlag{Name: "date-format", Usage: "layout of date cells, e.g. DD.MM.YYYY or YYYYMMDD, instead of the mapping's (default ISO 8601)"},
		&cli.StringSliceFlag{Name: "expect-rows", Usage: "control total: stop (exit 2, nothing sent) unless every table has `N` data rows; TABLE=N for one table (file name without extension, or sheet name); repeat for several"},
	}
}

// inputOptions reads inputReadFlags; the files are the command's arguments.
func inputOptions(c *cli.Context) (syncer.InputOptions, error) {
	read, spec, entity, err := readFlags(c)
	if err != nil {
		return syncer.InputOptions{}, err
	}
	in := syncer.InputOptions{Files: c.Args().Slice(), Spec: spec, Entity: entity, Read: read}
	for _, v := range c.StringSlice("expect-rows") {
		rc, err := syncer.ParseRowCount(v)
		if err != nil {
			return in, usageErrorf("--expect-rows: %w", err)
		}
		in.ExpectRows = append(in.ExpectRows, rc)
	}
	return in, nil
}

// readFlags reads the flags that say how cells are read and mapped.
func readFlags(c *cli.Context) (formats.Options, *mapping.Spec, mapping.Entity, error) {
	var (
		read   formats.Options
		spec   *mapping.Spec
		entity mapping.Entity
		err    error
	)
	if p := c.String("mapping"); p != "" {
		if spec, err = mapping.LoadMappingFile(p); err != nil {
			return read, nil, "", usageErrorf("--mapping: %w", err)
		}
	}
	if e := c.String("entity"); e != "" {
		if entity, err = mapping.ParseEntity(e); err != nil {
			return read, nil, "", usageErrorf("--entity: %w", err)
		}
	}
	if read.Delimiter, err = parseDelimiter(c.String("delimiter")); err != nil {
		return read, nil, "", err
	}
	switch enc := strings.ToLower(c.String("encoding")); enc {
	case "", "auto", "utf-8", "utf8", "windows-1252", "cp1252", "iso-8859-1", "latin1":
		read.Encoding = enc
	default:
		return read, nil, "", usageErrorf("--encoding must be utf-8, windows-1252 or iso-8859-1, not %q", enc)
	}
	read.Sheet = c.String("sheet")
	if c.IsSet("decimal-comma") || c.String("date-format") != "" {
		if spec == nil {
			spec = mapping.DefaultSpec()
		}
		if c.IsSet("decimal-comma") {
			spec.Options.DecimalComma = c.Bool("decimal-comma")
		}
		if f := c.String("date-format"); f != "" {
			if _, err := mapping.DateLayout(f); err != nil {
				return read, nil, "", usageErrorf("--date-format: %w", err)
			}
			spec.Options.DateFormat = f
		}
	}
	return read, spec, entity, nil
}
