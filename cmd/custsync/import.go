package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	syncer "custsync/sync"
)

func importCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "dry-run", Usage: "plan and print the changes; send nothing, change nothing"},
		&cli.StringFlag{Name: "mode", Value: "delta", Usage: "delta: apply the rows; full: the files are complete snapshots, keys missing from them are deleted"},
		&cli.StringFlag{Name: "max-delete", Value: "10%", Usage: "stop (exit 6, nothing deleted) if an entity would lose more than `N` or P% of its synced records (0: no deletion at all)"},
		&cli.BoolFlag{Name: "delete-despite-failures", Usage: "make the planned deletes even when rows of the entity or of entities that hang on it failed (they are held otherwise, exit 3)"},
		&cli.BoolFlag{Name: "allow-empty", Usage: "accept input files without data rows (otherwise a safety stop)"},
		&cli.StringFlag{Name: "results", Usage: "write success and error files per input table into `DIR`"},
		&cli.StringFlag{Name: "format", Value: "csv", Usage: "format of the result files: csv or xlsx"},
		bomFlag(),
		&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object on stdout"},
		&cli.BoolFlag{Name: "send-password-reset", Usage: "let the platform e-mail a password-reset link to each customer created (off by default)"},
		&cli.BoolFlag{Name: "adopt", Usage: "take over the records the platform holds already (customers by number, --key-field or e-mail; addresses by place) instead of creating them twice"},
		&cli.StringFlag{Name: "key-field", Usage: "with --adopt: dotted `PATH` of the platform customer field holding the ERP number (e.g. mixins.erp.customerNumber)"},
		&cli.BoolFlag{Name: "verify", Usage: "compare the rows synced before with the live records and send what differs from the file (repairs changes made on the platform)"},
		&cli.BoolFlag{Name: "live", Usage: "with --dry-run: ask the platform what the run would meet (adoptions, e-mail addresses held by other customers, --verify's repairs); only reads"},
		&cli.BoolFlag{Name: "detect-deletions", Usage: "before writing, list the platform's customers and record those deleted outside custsync (their rows are held)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: new(int), Usage: "show the field-level diff of a dry run and every failure"},
		&cli.DurationFlag{Name: "max-duration", Usage: "stop taking new work after this long (the next run resumes)"},
	}
	return &cli.Command{
		Name:      "import",
		Usage:     "synchronise ERP files (CSV/XLSX) to the platform",
		ArgsUsage: "FILE...",
		Description: "Reads the files, validates every row, compares it with the checkpoint and applies only what changed.\n" +
			"Writes are idempotent upserts keyed by the ERP number; deletes need a deletion flag, a command column\n" +
			"or --mode full, and always stay under --max-delete.\n\n" +
			"Examples:\n" +
			"  custsync import --sandbox samples/customers.csv samples/addresses.csv\n" +
			"  custsync import --tenant acme --dry-run -v customers.csv\n" +
			"  custsync import --tenant acme --mapping samples/mappings/sap-sd.yaml --results out/ KNA1.csv\n" +
			"  custsync import --tenant acme --mode full --max-delete 2% customers.xlsx\n" +
			"  custsync import --tenant acme --adopt --dry-run --live -v customers.csv   # first run on a populated tenant\n" +
			"  custsync import --tenant acme --verify customers.csv                       # repair edits made on the platform",
		Flags:  append(append(append(flags, journalRetentionFlags()...), inputReadFlags()...), platformFlags()...),
		Action: runImport,
	}
}

// runImport runs an import and prints its report. With --json, the report is printed however the command ends,
// also when it stops before the import starts (a usage error, a state file refused): a cron job gets one
// JSON object with the exit code and the reason in every case.
func runImport(c *cli.Context) error {
	rep, err := importRun(c)
	started := rep != nil
	if !started {
		mode, _ := syncer.ParseMode(c.String("mode"))
		if mode == "" {
			mode = syncer.ModeDelta
		}
		rep = unstartedReport(c.Bool("dry-run"), mode, err, ExitCode(err))
	}
	return printRunReport(c, rep, started, err)
}

// unstartedReport is the report of an import or a restore that stopped before it started, with err and its
// exit code.
func unstartedReport(dryRun bool, mode syncer.Mode, err error, exitCode int) *syncer.Report {
	rep := &syncer.Report{DryRun: dryRun, Mode: mode, ExitCode: exitCode}
	if err != nil {
		rep.Stopped = err.Error()
	}
	return rep
}

// reportPrintedKey marks, in the app's metadata, that the command printed its report: run prints one for
// import and restore --json (unstartedModes) only where the command could not.
const reportPrintedKey = "reportPrinted"

// printRunReport prints the report of an import or a restore (--json: as JSON however the run ended) and
// returns err.
func printRunReport(c *cli.Context, rep *syncer.Report, started bool, err error) error {
	rep.ExitCode = ExitCode(err)
	c.App.Metadata[reportPrintedKey] = true
	switch {
	case c.Bool("json"):
		writeJSONReport(c.App.Writer, rep)
	case !started, errors.Is(err, syncer.ErrInput):
		// Refused before it started, or a file that cannot be read: the error line says it all, and a
		// summary would only suggest that something ran.
	default:
		printImportReport(c, rep)
	}
	return err
}

// writeJSONReport prints rep as the one JSON object of --json.
func writeJSONReport(w io.Writer, rep *syncer.Report) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(rep)
}

// importRun does the import; the report is nil when the import did not start.
func importRun(c *cli.Context) (*syncer.Report, error) {
	if c.NArg() == 0 {
		return nil, usageErrorf("import needs at least one FILE")
	}
	opts, err := importOptions(c)
	if err != nil {
		return nil, err
	}
	sess, err := connect(c, !opts.DryRun)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	ctx := sess.Ctx
	maxDuration := c.Duration("max-duration")
	if maxDuration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxDuration)
		defer cancel()
	}

	rep, err := importWithProgress(ctx, c, sess, opts)
	if maxDuration > 0 && errors.Is(err, context.DeadlineExceeded) && sess.Ctx.Err() == nil {
		err = fmt.Errorf("--max-duration %s ran out: custsync stopped taking new work; the rows not sent stay pending and the next run resumes them (%w)", maxDuration, err)
	}
	if rep != nil {
		// The history includes this run: Import has recorded how it ended.
		figuresOf(c).lastSuccess, _ = syncer.LastSuccess(context.WithoutCancel(ctx), sess.Store, "import")
	}
	return rep, err
}

// importWithProgress runs an import through sess with a progress line on stderr, pushing SD mappings where the
// session has an endpoint for them, and keeps its rows for --metrics-file.
func importWithProgress(ctx context.Context, c *cli.Context, sess *session, opts syncer.Options) (*syncer.Report, error) {
	progress := newLineProgress(c.App.ErrWriter)
	opts.Progress = func(p syncer.Progress) {
		if p.Planned > 0 {
			progress.show(p.String(), false)
		}
	}
	opts.ProgressEvery = progress.every
	opts.PushMappings = sess.Client.MappingsURL() != ""
	rep, err := syncer.Import(ctx, sess.Store, sess.Client, opts)
	progress.finish()
	if rep != nil {
		figuresOf(c).rows = rep.Entities
	}
	return rep, err
}

// importOptions turns the flags into engine options.
func importOptions(c *cli.Context) (syncer.Options, error) {
	var opts syncer.Options
	var err error
	opts.Files = c.Args().Slice()
	if opts.Mode, err = syncer.ParseMode(c.String("mode")); err != nil {
		return opts, usageErrorf("--mode: %w", err)
	}
	if opts.MaxDelete, err = syncer.ParseDeleteLimit(c.String("max-delete")); err != nil {
		return opts, usageErrorf("--max-delete: %w", err)
	}
	in, err := inputOptions(c)
	if err != nil {
		return opts, err
	}
	opts.Read, opts.Spec, opts.Entity, opts.ExpectRows = in.Read, in.Spec, in.Entity, in.ExpectRows
	switch f := strings.ToLower(c.String("format")); f {
	case "csv", "xlsx":
		opts.ResultsFormat = f
	default:
		return opts, usageErrorf("--format must be csv or xlsx, not %q", f)
	}
	opts.ResultsDir = c.String("results")
	opts.ResultsBOM = bomChoice(c)
	opts.DryRun = c.Bool("dry-run")
	opts.DeleteDespiteFailures = c.Bool("delete-despite-failures")
	opts.ExitCode = ExitCode
	opts.AllowEmpty = c.Bool("allow-empty")
	opts.DetectDeletions = c.Bool("detect-deletions")
	opts.Adopt, opts.KeyField, opts.Live = c.Bool("adopt"), strings.TrimSpace(c.String("key-field")), c.Bool("live")
	opts.Verify = c.Bool("verify")
	if opts.Live && !opts.DryRun {
		return opts, usageErrorf("--live goes with --dry-run (a real run asks the platform when --adopt needs it)")
	}
	if opts.KeyField != "" && !opts.Adopt {
		return opts, usageErrorf("--key-field says how --adopt finds customers: add --adopt")
	}
	if opts.JournalRetention, err = journalRetention(c, "journal-keep-runs", "journal-keep-days", 0); err != nil {
		return opts, err
	}
	opts.Writers = c.Int("writers")
	if opts.Writers < 1 {
		return opts, usageErrorf("--writers must be at least 1")
	}
	opts.Logger = logger(c)
	opts.Args = map[string]any{"files": opts.Files, "mode": opts.Mode, "maxDelete": opts.MaxDelete.String(),
		"dryRun": opts.DryRun, "mapping": c.String("mapping"), "deleteDespiteFailures": opts.DeleteDespiteFailures,
		"adopt": opts.Adopt, "keyField": opts.KeyField, "verify": opts.Verify}
	return opts, nil
}

// printImportReport prints the summary and, for a dry run, the plan.
func printImportReport(c *cli.Context, rep *syncer.Report) {
	out := c.App.Writer
	verbose := c.Count("verbose") > 0
	if rep.DryRun {
		for _, ch := range rep.Changes {
			src := ""
			if ch.Source != "" {
				src = " (" + ch.Source + ")"
			}
			fmt.Fprintf(out, "%-8s %s %s%s\n", ch.Action, ch.Entity, ch.Key, src)
			if verbose {
				for _, f := range ch.Fields {
					fmt.Fprintf(out, "    %s\n", f)
				}
			}
		}
	}
	if rep.ChangesNotListed > 0 {
		fmt.Fprintf(out, "... and %d more changes, counted below but not listed\n", rep.ChangesNotListed)
	}
	fmt.Fprintln(out, rep.Summary())
	shown := rep.Failures
	if !verbose && len(shown) > 10 {
		shown = shown[:10]
	}
	for _, f := range shown {
		where := f.Source
		if where == "-" {
			where = f.Entity + " " + f.Key
		}
		fmt.Fprintf(out, "  failed %s: %s\n", where, f.Reason)
	}
	if len(shown) < len(rep.Failures) {
		fmt.Fprintf(out, "  ... %d more failures (use -v, --json or --results DIR)\n", len(rep.Failures)-len(shown))
	}
}
