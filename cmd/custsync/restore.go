package main

import (
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"custsync/state"
	syncer "custsync/sync"
)

func restoreCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "run", Usage: "the `ID` of the run to put back (see custsync state runs), or last: the most recent import or restore, with the interrupted runs that import resumed"},
		&cli.BoolFlag{Name: "dry-run", Usage: "plan and print what would be put back; send nothing, change nothing"},
		&cli.BoolFlag{Name: "include-creates", Usage: "also delete the records the run created (kept by default)"},
		&cli.StringFlag{Name: "max-delete", Value: "10%", Usage: "stop (exit 6, nothing deleted) if an entity would lose more than `N` or P% of its synced records"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object on stdout"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: new(int), Usage: "show the fields a dry run would put back and every failure"},
	}
	flags = append(flags, journalRetentionFlags()...)
	return &cli.Command{
		Name:  "restore",
		Usage: "put a run's changes back: re-create what it deleted, revert what it updated",
		Description: "Reads what the run changed from the state file: the records it deleted (the deletion log keeps them\n" +
			"as they were), the fields its updates changed (before and after) and the records it created. Deleted\n" +
			"records are created again (a deleted customer's number only where the tenant allows its reuse:\n" +
			"enableRecreationOfDeletedCustomer), updated fields get their values back unless someone changed them\n" +
			"since (then the record is left alone and reported), and with --include-creates what the run created is\n" +
			"deleted, under --max-delete. A restore is a run itself (state runs), reported like an import, and can\n" +
			"be restored in turn.\n\n" +
			"Examples:\n" +
			"  custsync state runs --tenant acme\n" +
			"  custsync restore --tenant acme --run 42 --dry-run -v\n" +
			"  custsync restore --tenant acme --run 42 --include-creates --max-delete 100",
		Flags:  append(flags, platformFlags()...),
		Action: runRestore,
	}
}

// runRestore runs a restore and prints its report as runImport does.
func runRestore(c *cli.Context) error {
	rep, err := restoreRun(c)
	if rep == nil {
		return printRunReport(c, unstartedReport(c.Bool("dry-run"), syncer.ModeRestore, err, ExitCode(err)), false, err)
	}
	return printRunReport(c, rep, true, err)
}

// restoreRun does the restore; the report is nil when it did not start.
func restoreRun(c *cli.Context) (*syncer.Report, error) {
	opts, err := restoreOptions(c)
	if err != nil {
		return nil, err
	}
	if err := stateFileExists(c); err != nil {
		return nil, err // no state file has runs to put back
	}
	sess, err := connect(c, !opts.DryRun)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	return syncer.Restore(sess.Ctx, sess.Store, sess.Client, opts)
}

// restoreOptions turns the flags into engine options.
func restoreOptions(c *cli.Context) (syncer.RestoreOptions, error) {
	var opts syncer.RestoreOptions
	if c.NArg() > 0 {
		return opts, usageErrorf("restore takes no arguments (got %q); name the run with --run ID", c.Args().First())
	}
	switch run := c.String("run"); run {
	case "":
		return opts, usageErrorf("--run ID is required: the run to put back (custsync state runs lists them), or --run last")
	case "last":
	default:
		id, err := strconv.ParseInt(run, 10, 64)
		if err != nil || id <= 0 {
			return opts, usageErrorf("--run %q is not a run id (custsync state runs lists them) or last", run)
		}
		opts.RunID = id
	}
	var err error
	if opts.MaxDelete, err = syncer.ParseDeleteLimit(c.String("max-delete")); err != nil {
		return opts, usageErrorf("--max-delete: %w", err)
	}
	opts.DryRun = c.Bool("dry-run")
	opts.IncludeCreates = c.Bool("include-creates")
	if opts.Writers = flagInt(c, "writers", defaultWriters); opts.Writers < 1 {
		return opts, usageErrorf("--writers must be at least 1")
	}
	opts.ExitCode = ExitCode
	opts.Args = map[string]any{"run": c.String("run"), "includeCreates": opts.IncludeCreates, "maxDelete": opts.MaxDelete.String(), "dryRun": opts.DryRun}
	if opts.JournalRetention, err = journalRetention(c, "journal-keep-runs", "journal-keep-days", 0); err != nil {
		return opts, err
	}
	return opts, nil
}

// restoreText says, for `state runs`, what a restore of a run would put back.
func restoreText(r state.Run, ch *state.RunChanges) string {
	switch {
	case r.JournalPruned():
		return "journal pruned"
	case ch == nil:
		return "-"
	case ch.Restorable(false):
		s := fmt.Sprintf("%d updates, %d deletes", ch.UpdateImages, ch.DeletePreImages)
		if ch.Created > 0 {
			s += fmt.Sprintf(" (+%d creates)", ch.Created)
		}
		return s
	case ch.Restorable(true):
		return fmt.Sprintf("%d creates only", ch.Created)
	}
	return "-"
}
