package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/formats"
	"custsync/mapping"
	syncer "custsync/sync"
)

func checkCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "report", Value: "check-report.csv", Usage: "write the verdict of every key to `FILE` (CSV or XLSX by extension or --format)"},
		&cli.StringFlag{Name: "format", Usage: "report format: csv or xlsx (default: from the --report extension)"},
		&cli.BoolFlag{Name: "fail-on-diff", Usage: "exit 1 when any key is not the same on the platform (for monitoring)"},
		&cli.IntFlag{Name: "page-workers", Value: 4, Usage: "customer pages fetched at once (all requests share --tps)"},
		&cli.BoolFlag{Name: "record-deletions", Usage: "also record mapped customers deleted on the platform in the deletion log (the one thing that writes: the state file)"},
	}
	flags = append(flags, inputReadFlags()...)
	return &cli.Command{
		Name:      "check",
		Usage:     "compare ERP files, the checkpoint and the live platform; change nothing",
		ArgsUsage: "FILE...",
		Description: "Reports each key as same, differs (with the fields: platform value -> file value), only-in-file,\n" +
			"only-on-platform or error, and says whether the file changed since the last import or the platform\n" +
			"changed behind custsync's back. Nothing is written to the platform or the state file.\n\n" +
			"Examples:\n" +
			"  custsync check --tenant acme customers.csv addresses.csv\n" +
			"  custsync check --tenant acme --report drift.xlsx --fail-on-diff customers.xlsx",
		Flags:  append(flags, platformFlags()...),
		Action: runCheck,
	}
}

// inputReadFlags are the flags that say how ERP files are read (shared by check and mappings pull).
func inputReadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "mapping", Usage: "column mapping `FILE` (YAML or JSON); default: files use the default column names"},
		&cli.StringFlag{Name: "entity", Usage: "entity of every input table instead of detecting it from the file or sheet name"},
		&cli.StringFlag{Name: "sheet", Usage: "XLSX: read only this sheet"},
		&cli.StringFlag{Name: "delimiter", Usage: "CSV delimiter: , ; | or tab (default: detected)"},
		&cli.StringFlag{Name: "encoding", Usage: "CSV encoding: utf-8, windows-1252, iso-8859-1 (default: detected)"},
	}
}

// inputOptions reads inputReadFlags.
func inputOptions(c *cli.Context) (formats.Options, *mapping.Spec, mapping.Entity, error) {
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
	switch d := c.String("delimiter"); strings.ToLower(d) {
	case "":
	case "tab", `\t`, "\t":
		read.Delimiter = '\t'
	case ",", ";", "|":
		read.Delimiter = rune(d[0])
	default:
		return read, nil, "", usageErrorf("--delimiter must be , ; | or tab, not %q", d)
	}
	switch enc := strings.ToLower(c.String("encoding")); enc {
	case "", "auto", "utf-8", "utf8", "windows-1252", "cp1252", "iso-8859-1", "latin1":
		read.Encoding = enc
	default:
		return read, nil, "", usageErrorf("--encoding must be utf-8, windows-1252 or iso-8859-1, not %q", enc)
	}
	read.Sheet = c.String("sheet")
	return read, spec, entity, nil
}

func runCheck(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErrorf("check needs at least one FILE")
	}
	read, spec, entity, err := inputOptions(c)
	if err != nil {
		return err
	}
	if f := strings.ToLower(c.String("format")); f != "" && f != "csv" && f != "xlsx" {
		return usageErrorf("--format must be csv or xlsx, not %q", f)
	}
	sess, err := connect(c, c.Bool("record-deletions"))
	if err != nil {
		return err
	}
	defer sess.Close()
	if c.Bool("record-deletions") {
		if err := detectDeletions(c, sess); err != nil {
			return err
		}
	}
	rep, err := syncer.Check(c.Context, sess.Store, sess.Client, syncer.CheckOptions{
		Files: c.Args().Slice(), Spec: spec, Entity: entity, Read: read,
		Report: c.String("report"), Format: c.String("format"), PageWorkers: c.Int("page-workers"),
	})
	if errors.Is(err, syncer.ErrCheckInput) {
		return &UsageError{Err: err}
	}
	if err != nil {
		return err
	}
	out := c.App.Writer
	entities := make([]string, 0, len(rep.Entities))
	for e := range rep.Entities {
		entities = append(entities, string(e))
	}
	sort.Strings(entities)
	for _, e := range entities {
		fmt.Fprintf(out, "%-10s %s\n", e, verdictLine(rep.Entities[mapping.Entity(e)]))
	}
	shown := rep.Problems
	if c.Count("verbose") == 0 && len(shown) > 20 {
		shown = shown[:20]
	}
	for _, p := range shown {
		fields := make([]string, len(p.Fields))
		for i, f := range p.Fields {
			fields[i] = f.String()
		}
		line := fmt.Sprintf("  %-16s %s %s", p.Status, p.Entity, firstNonBlank(p.Key, p.RemoteID))
		if len(fields) > 0 {
			line += ": " + strings.Join(fields, "; ")
		}
		if p.Detail != "" {
			line += " (" + p.Detail + ")"
		}
		fmt.Fprintln(out, line)
	}
	if len(shown) < len(rep.Problems) {
		fmt.Fprintf(out, "  ... %d more (see the report or use -v)\n", len(rep.Problems)-len(shown))
	}
	if rep.Report != "" {
		fmt.Fprintf(out, "report: %s\n", rep.Report)
	}
	if c.Bool("fail-on-diff") && rep.Totals[syncer.CheckSame] != sumVerdicts(rep.Totals) {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%d keys differ between the files and the platform", sumVerdicts(rep.Totals)-rep.Totals[syncer.CheckSame])}
	}
	return nil
}

func verdictLine(counts map[syncer.CheckStatus]int) string {
	order := []syncer.CheckStatus{syncer.CheckSame, syncer.CheckDiffers, syncer.CheckOnlyInFile, syncer.CheckOnlyOnPlatform, syncer.CheckError}
	parts := make([]string, 0, len(order))
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
	}
	return strings.Join(parts, ", ")
}

func sumVerdicts(m map[syncer.CheckStatus]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func firstNonBlank(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// detectDeletions runs the deleted-in-platform detection and prints what it found.
func detectDeletions(c *cli.Context, sess *session) error {
	rep, err := syncer.DetectDeletedInPlatform(c.Context, sess.Store, sess.Client)
	if err != nil {
		return fmt.Errorf("detect customers deleted on the platform: %w", err)
	}
	if len(rep.Deleted) == 0 {
		fmt.Fprintf(c.App.Writer, "no customer deleted on the platform (%d checked)\n", rep.Checked)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "%d customers deleted on the platform, now in the deletion log (with %d addresses): %s\n",
		len(rep.Deleted), rep.Addresses, strings.Join(rep.Deleted, ", "))
	return nil
}
