package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"custsync/mapping"
	"custsync/state"
	syncer "custsync/sync"
)

func deletionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "deletions",
		Usage: "the deletion log for the ERP team: list, export, acknowledge",
		Description: "Every delete custsync makes, and every mapped customer found deleted on the platform (check,\n" +
			"import), is logged with the record as it was. The ERP team processes the log and acknowledges it.",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "print the unacknowledged entries",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "also acknowledged entries"},
					&cli.StringFlag{Name: "entity", Usage: "only this entity"},
				},
				Action: runDeletionsList,
			},
			{
				Name:  "detect",
				Usage: "find mapped customers deleted on the platform outside custsync and log them for the ERP",
				Description: "Lists the platform's customers once and confirms each missing one with a 404. A customer found\n" +
					"deleted gets deletedInYaaS=true in its mapping, a deletion log entry, and leaves the checkpoint\n" +
					"(with its addresses). Import does not re-create it until the entry is acknowledged.",
				Flags: platformFlags(),
				Action: func(c *cli.Context) error {
					sess, err := connect(c, true)
					if err != nil {
						return err
					}
					defer sess.Close()
					return detectDeletions(sess.Ctx, c, sess)
				},
			},
			{
				Name:  "export",
				Usage: "write the unacknowledged entries to CSV/XLSX (the ERP team's worklist; `deletions ack` reads it back)",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output `FILE`"},
					&cli.StringFlag{Name: "format", Usage: "csv or xlsx (default: from the extension)"},
					&cli.BoolFlag{Name: "all", Usage: "also acknowledged entries"},
				}, csvOutputFlags()...),
				Action: func(c *cli.Context) error { return exportLocalTable(c, syncer.ExportDeletions, c.Bool("all")) },
			},
			{
				Name:      "ack",
				Usage:     "acknowledge entries the ERP processed",
				ArgsUsage: "[FILE...]",
				Description: "FILE is CSV/XLSX with the columns kind and erpKey, e.g. a `deletions export` reduced to the rows\n" +
					"the ERP processed. For acknowledged customers the mapping flagged deletedInYaaS is dropped, locally and,\n" +
					"when a mappings URL is given or remembered with the state file, on the remote sdCustomerMappings endpoint.\n\n" +
					"Examples:\n" +
					"  custsync deletions ack processed.xlsx\n" +
					"  custsync deletions ack --key customers:0000100080\n" +
					"  custsync deletions ack --all",
				Flags: append([]cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "acknowledge every entry"},
					&cli.StringSliceFlag{Name: "key", Usage: "acknowledge `ENTITY:ERPKEY` (repeatable)"},
					&cli.BoolFlag{Name: "remote", Usage: "also delete the mappings on the remote endpoint (default: when a mappings URL is given or remembered)"},
				}, platformFlags()...),
				Action: runDeletionsAck,
			},
		},
	}
}

func runDeletionsList(c *cli.Context) error {
	filter := state.DeletionFilter{IncludeAcked: c.Bool("all")}
	if e := c.String("entity"); e != "" {
		ent, err := mapping.ParseEntity(e)
		if err != nil {
			return usageErrorf("--entity: %w", err)
		}
		filter.Kind = string(ent)
	}
	st, err := openState(c, state.Binding{})
	if err != nil {
		return err
	}
	defer st.Close()
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENTITY\tERP KEY\tREMOTE ID\tREASON\tRUN\tLOGGED\tACKNOWLEDGED")
	n := 0
	err = st.ScanDeletions(c.Context, filter, func(d state.DeletionEntry) error {
		n++
		run := "-"
		if d.RunID != 0 {
			run = fmt.Sprint(d.RunID)
		}
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Kind, d.ERPKey, d.RemoteID, d.Reason, run,
			shortTime(d.CreatedAt), shortTime(d.AckedAt))
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d entries\n", n)
	return nil
}

func runDeletionsAck(c *cli.Context) error {
	opts, err := ackOptions(c)
	if err != nil {
		return err
	}
	switch given := strings.TrimSpace(c.String("mappings-url")); {
	case c.IsSet("remote"):
		opts.RemoteMappings = c.Bool("remote")
	case given == mappingsNone:
	case given != "":
		opts.RemoteMappings = true
	default:
		// A mappings URL given to an earlier run keeps the remote in step here too.
		remembered, err := rememberedMappingsURL(c)
		if err != nil {
			return err
		}
		opts.RemoteMappings = remembered != "" && (remembered != sandboxMappings || c.Bool("sandbox"))
	}

	var (
		st   *state.Store
		sess *session
		ctx  context.Context
	)
	if opts.RemoteMappings {
		if sess, err = connect(c, true); err != nil {
			return err
		}
		defer sess.Close()
		if sess.Client.MappingsURL() == "" {
			return errNoMappingsURL("deletions ack --remote")
		}
		st, ctx = sess.Store, sess.Ctx
	} else {
		// Local only: no platform needed, but the lock is, since the state file is written.
		if st, err = openState(c, state.Binding{}); err != nil {
			return err
		}
		defer st.Close()
		lock, err := lockRun(c, st)
		if err != nil {
			return err
		}
		defer lock.Release()
		ctx = lock.Ctx
	}
	var rep syncer.AckReport
	if sess != nil {
		rep, err = syncer.AckDeletions(ctx, st, sess.Client, opts)
	} else {
		rep, err = syncer.AckDeletions(ctx, st, nil, opts)
	}
	if err != nil {
		return err
	}
	if opts.RemoteMappings {
		fmt.Fprintf(c.App.Writer, "acknowledged %d entries; dropped %d mappings locally, %d on the remote endpoint\n",
			rep.Acked, rep.MappingsLocal, rep.MappingsRemote)
	} else {
		fmt.Fprintf(c.App.Writer, "acknowledged %d entries; dropped %d mappings locally (no mappings URL: no remote endpoint to update)\n",
			rep.Acked, rep.MappingsLocal)
	}
	for _, k := range rep.NotFound {
		fmt.Fprintf(c.App.Writer, "  no unacknowledged entry for %s %s\n", k.Kind, k.ERPKey)
	}
	return nil
}

// ackOptions turns the flags into engine options, all but RemoteMappings, which may need the state file.
func ackOptions(c *cli.Context) (syncer.AckOptions, error) {
	opts := syncer.AckOptions{All: c.Bool("all"), Files: c.Args().Slice()}
	for _, k := range c.StringSlice("key") {
		kind, key, ok := strings.Cut(k, ":")
		e, err := mapping.ParseEntity(kind)
		if !ok || key == "" || err != nil {
			return opts, usageErrorf("--key %q: want ENTITY:ERPKEY, e.g. customers:0000100080", k)
		}
		opts.Keys = append(opts.Keys, state.EntityKey{Kind: string(e), ERPKey: key})
	}
	if opts.All && (len(opts.Keys) > 0 || len(opts.Files) > 0) {
		return opts, usageErrorf("--all acknowledges everything: give no FILE or --key with it")
	}
	if !opts.All && len(opts.Keys) == 0 && len(opts.Files) == 0 {
		return opts, usageErrorf("say what to acknowledge: FILE..., --key ENTITY:ERPKEY or --all")
	}
	return opts, nil
}
