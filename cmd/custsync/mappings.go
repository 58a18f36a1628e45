package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"custsync/mapping"
	"custsync/state"
	syncer "custsync/sync"
)

func mappingsCommand() *cli.Command {
	return &cli.Command{
		Name:  "mappings",
		Usage: "list, export, push and pull the SD customer mappings (platform customer number <-> ERP number)",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "print the mappings of the state file",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "unpushed", Usage: "only mappings not yet sent to the remote endpoint"},
					&cli.BoolFlag{Name: "deleted", Usage: "only mappings of customers deleted on the platform (deletedInYaaS)"},
				},
				Action: runMappingsList,
			},
			{
				Name:  "export",
				Usage: "write the mappings to CSV/XLSX",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output `FILE`"},
					&cli.StringFlag{Name: "format", Usage: "csv or xlsx (default: from the extension)"},
				}, csvOutputFlags()...),
				Action: runMappingsExport,
			},
			{
				Name:   "push",
				Usage:  "send new and changed mappings to the remote sdCustomerMappings endpoint (--mappings-url)",
				Flags:  platformFlags(),
				Action: runMappingsPush,
			},
			{
				Name:      "pull",
				Usage:     "adopt existing platform customers by ERP number, so a first import does not duplicate them",
				ArgsUsage: "[ERP-FILE...]",
				Description: "Records an SD mapping for platform customers whose ERP number is known. Given ERP files, each\n" +
					"customer of them is looked up as import --adopt looks (by the number it would be written to, by\n" +
					"--key-field, by its e-mail address ignoring case; batched, the tenant is not listed), and so are the\n" +
					"remote sdCustomerMappings records of its number (--remote). Without files, the tenant is listed and\n" +
					"every customer whose ERP number the remote records or --key-field give is adopted. Nothing is written\n" +
					"to the platform. Import then writes to the adopted customer numbers instead of creating new customers.\n\n" +
					"Examples:\n" +
					"  custsync mappings pull --tenant acme --remote --mappings-url https://ec.example.com\n" +
					"  custsync mappings pull --tenant acme --key-field mixins.erp.customerNumber --dry-run\n" +
					"  custsync mappings pull --tenant acme customers.csv",
				Flags: append(append([]cli.Flag{
					&cli.BoolFlag{Name: "remote", Usage: "adopt the records of the remote sdCustomerMappings endpoint"},
					&cli.StringFlag{Name: "key-field", Usage: "dotted `PATH` of the customer field holding the ERP number"},
					&cli.BoolFlag{Name: "dry-run", Usage: "report what would be adopted; write nothing"},
				}, inputReadFlags()...), platformFlags()...),
				Action: runMappingsPull,
			},
		},
	}
}

func runMappingsList(c *cli.Context) error {
	st, err := openState(c, state.Binding{})
	if err != nil {
		return err
	}
	defer st.Close()
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CUSTOMER NUMBER\tSD CUSTOMER NUMBER\tDELETED IN PLATFORM\tPUSHED\tUPDATED")
	n := 0
	err = st.ScanMappings(c.Context, state.MappingFilter{OnlyUnpushed: c.Bool("unpushed"), OnlyDeletedInYaaS: c.Bool("deleted")},
		func(m state.SDMapping) error {
			n++
			_, err := fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%s\n", m.CustomerNumber, m.SDCustomerNumber, m.DeletedInYaaS, m.Pushed, shortTime(m.UpdatedAt))
			return err
		})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d mappings\n", n)
	return nil
}

func runMappingsPush(c *cli.Context) error {
	sess, err := connect(c, true)
	if err != nil {
		return err
	}
	defer sess.Close()
	if sess.Client.MappingsURL() == "" {
		return errNoMappingsURL("mappings push")
	}
	rep, err := syncer.PushMappings(sess.Ctx, sess.Store, sess.Client, flagInt(c, "writers", defaultWriters))
	fmt.Fprintf(c.App.Writer, "pushed %d mappings, %d failed\n", rep.Pushed, rep.Failed)
	for _, e := range rep.Errors {
		fmt.Fprintf(c.App.Writer, "  %s\n", e)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return &exitError{code: ExitPartial, err: fmt.Errorf("%d mappings were not pushed; they stay pending for the next push", rep.Failed)}
	}
	return nil
}

func runMappingsExport(c *cli.Context) error {
	return exportLocalTable(c, syncer.ExportMappings, false)
}

// exportLocalTable writes the mappings or the deletion log through the export engine.
func exportLocalTable(c *cli.Context, table string, includeAcked bool) error {
	if c.String("out") == "" {
		return usageErrorf("--out is required")
	}
	style, err := csvOutputStyle(c)
	if err != nil {
		return err
	}
	st, err := openState(c, state.Binding{})
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := syncer.Export(c.Context, st, nil, syncer.ExportOptions{Entities: []string{table}, Out: c.String("out"),
		Format: c.String("format"), IncludeAcked: includeAcked, CSV: style})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "exported %d %s to %s\n", rep.Rows(table), table, rep.Out)
	return nil
}

func runMappingsPull(c *cli.Context) error {
	in, err := inputOptions(c)
	if err != nil {
		return err
	}
	customers, err := erpCustomers(in)
	if err != nil {
		return err
	}
	sess, err := connect(c, !c.Bool("dry-run"))
	if err != nil {
		return err
	}
	defer sess.Close()
	if c.Bool("remote") && sess.Client.MappingsURL() == "" {
		return errNoMappingsURL("mappings pull --remote")
	}
	rep, err := syncer.PullMappings(sess.Ctx, sess.Store, sess.Client, syncer.PullOptions{
		Remote: c.Bool("remote"), KeyField: c.String("key-field"), Customers: customers,
		IDTemplate: in.Spec.IDTemplate(mapping.Customers), DryRun: c.Bool("dry-run"),
	})
	if err != nil {
		return err
	}
	verb := "adopted"
	if c.Bool("dry-run") {
		verb = "would adopt"
	}
	fmt.Fprintf(c.App.Writer, "%d platform customers read, %s %d, %d already mapped, %d conflicts\n",
		rep.Listed, verb, rep.Adopted, rep.Unchanged, len(rep.Conflicts))
	for _, conflict := range rep.Conflicts {
		fmt.Fprintf(c.App.Writer, "  conflict: %s\n", conflict)
	}
	return nil
}

// erpCustomers reads the customers of ERP files through the input stage: ERP number, the platform id an
// import would write to and e-mail address (rows that fail validation still give what they have).
func erpCustomers(opts syncer.InputOptions) ([]syncer.ERPCustomer, error) {
	if len(opts.Files) == 0 {
		return nil, nil
	}
	in, err := syncer.OpenInput(opts)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	var out []syncer.ERPCustomer
	for _, t := range in.Tables {
		for {
			row, err := t.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			if row.ReadErr != "" {
				continue
			}
			for j, m := range t.Mappers {
				if m.Entity() != mapping.Customers {
					continue
				}
				if rec, _ := t.MapRow(j, &row); rec.Key != "" {
					c := syncer.ERPCustomer{Key: rec.Key, ID: rec.RemoteID}
					if v, ok := rec.Get("contactEmail"); ok && !v.IsClear() {
						c.Email = v.String()
					}
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

// errNoMappingsURL is the usage error of a command that needs the SD customer mappings endpoint when none is
// configured.
func errNoMappingsURL(what string) error {
	return usageErrorf("%s needs the SD customer mappings endpoint: give --mappings-url (the platform itself has none)", what)
}

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
