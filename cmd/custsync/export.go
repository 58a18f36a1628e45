package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"custsync/remote"
	"custsync/state"
	syncer "custsync/sync"
)

func exportCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "entity", Aliases: []string{"e"}, Usage: "what to export: customers, addresses, companies, locations, contacts, mappings, deletions (repeat or comma-separate; XLSX for several)"},
		&cli.StringFlag{Name: "format", Usage: "csv or xlsx (default: from the --out extension)"},
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output `FILE`, written atomically"},
		&cli.StringFlag{Name: "q", Usage: "platform `QUERY` selecting the records, e.g. 'active:true' (customers and their addresses, Customer Management lists)"},
		&cli.BoolFlag{Name: "include-acked", Usage: "deletions: include entries the ERP already acknowledged"},
		&cli.IntFlag{Name: "page-workers", Value: 4, Usage: "customer pages fetched at once (all requests share --tps)"},
	}
	return &cli.Command{
		Name:  "export",
		Usage: "export platform data, the SD mappings or the deletion log to CSV/XLSX",
		Description: "Pages through the platform with the largest page sizes under the shared rate limit, fills the ERP\n" +
			"number (sdCustomerNumber) from the SD mappings and the checkpoint, and writes the default column layout,\n" +
			"so the file re-imports unchanged: a tenant migration is `export` from A then `import` into B.\n" +
			"An XLSX export of several entities has one sheet per entity.\n\n" +
			"Examples:\n" +
			"  custsync export --tenant acme --entity customers --out customers.csv\n" +
			"  custsync export --tenant acme -e customers,addresses -o tenant-acme.xlsx\n" +
			"  custsync export --tenant acme --entity deletions --out deletions.xlsx",
		Flags:  append(append(flags, csvOutputFlags()...), platformFlags()...),
		Action: runExport,
	}
}

func runExport(c *cli.Context) error {
	opts, err := exportOptions(c)
	if err != nil {
		return err
	}
	localOnly := true
	for _, raw := range opts.Entities {
		for _, name := range strings.Split(raw, ",") {
			if n := strings.ToLower(strings.TrimSpace(name)); n != "" && n != syncer.ExportMappings && n != syncer.ExportDeletions {
				localOnly = false
			}
		}
	}
	var (
		st   *state.Store
		sess *session
	)
	if localOnly {
		// The local tables need no platform: open the state file for reading whatever it is bound to.
		if st, err = openState(c, state.Binding{}); err != nil {
			return err
		}
		defer st.Close()
	} else {
		if sess, err = connect(c, false); err != nil {
			return err
		}
		defer sess.Close()
		st = sess.Store
	}
	var client *remote.Client
	if sess != nil {
		client = sess.Client
	}
	rep, err := exportWithProgress(c.Context, c, st, client, opts)
	if err != nil && !errors.Is(err, syncer.ErrPartial) {
		return err
	}
	fmt.Fprintln(c.App.Writer, exportSummary(rep))
	printExportSkips(c, rep)
	return err
}

// printExportSkips lists the records an export left out, each with its column and what to do.
func printExportSkips(c *cli.Context, rep syncer.ExportReport) {
	for _, s := range rep.Skipped {
		fmt.Fprintf(c.App.Writer, "  not exported: %s\n", s)
	}
}

// exportWithProgress runs an export with a progress line on stderr; client is nil for the local tables only.
func exportWithProgress(ctx context.Context, c *cli.Context, st *state.Store, client *remote.Client, opts syncer.ExportOptions) (syncer.ExportReport, error) {
	progress := newLineProgress(c.App.ErrWriter)
	opts.Progress = func(p syncer.ExportProgress) { progress.show(p.String(), p.Done) }
	opts.ProgressEvery = progress.every
	rep, err := syncer.Export(ctx, st, client, opts)
	progress.finish()
	return rep, err
}

// exportSummary is the line that says what an export wrote.
func exportSummary(rep syncer.ExportReport) string {
	parts := make([]string, len(rep.Tables))
	for i, t := range rep.Tables {
		parts[i] = fmt.Sprintf("%d %s", t.Rows, t.Name)
	}
	return fmt.Sprintf("exported %s to %s (%s, %d requests, %s)", strings.Join(parts, ", "), rep.Out, rep.Format,
		rep.Requests, rep.Duration.Round(10*time.Millisecond))
}

// exportOptions turns the flags into engine options.
func exportOptions(c *cli.Context) (syncer.ExportOptions, error) {
	if c.NArg() > 0 {
		return syncer.ExportOptions{}, usageErrorf("export takes no arguments (got %q); name the output with --out", c.Args().First())
	}
	opts := syncer.ExportOptions{
		Entities:     c.StringSlice("entity"),
		Format:       c.String("format"),
		Out:          c.String("out"),
		Q:            c.String("q"),
		IncludeAcked: c.Bool("include-acked"),
		PageWorkers:  c.Int("page-workers"),
	}
	var err error
	if opts.CSV, err = csvOutputStyle(c); err != nil {
		return opts, err
	}
	if len(opts.Entities) == 0 {
		return opts, usageErrorf("--entity is required (customers, addresses, companies, locations, contacts, mappings, deletions)")
	}
	if opts.Out == "" {
		return opts, usageErrorf("--out is required")
	}
	if opts.PageWorkers < 1 {
		return opts, usageErrorf("--page-workers must be at least 1")
	}
	return opts, nil
}
