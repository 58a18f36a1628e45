package main

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/mapping"
	"custsync/state"
	syncer "custsync/sync"
)

func checkCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "report", Value: "check-report.csv", Usage: "write the verdict of every key to `FILE` (CSV or XLSX by extension or --format)"},
		&cli.StringFlag{Name: "format", Usage: "report format: csv or xlsx (default: from the --report extension)"},
		bomFlag(),
		&cli.BoolFlag{Name: "fail-on-diff", Usage: "exit 1 when any key is not the same on the platform (for monitoring)"},
		&cli.IntFlag{Name: "page-workers", Value: 4, Usage: "customer pages fetched at once (all requests share --tps)"},
		&cli.BoolFlag{Name: "fix", Usage: "then repair: send what differs to the platform for the keys that differ (an import --verify of these keys; writes)"},
		&cli.StringFlag{Name: "from-report", Usage: "with --fix: repair the keys a check report `FILE` (CSV or XLSX) gives as differing, without comparing again"},
		&cli.BoolFlag{Name: "record-deletions", Usage: "also record mapped customers deleted on the platform in the deletion log (the one thing that writes: the state file)"},
	}
	flags = append(flags, inputReadFlags()...)
	flags = append(flags, journalRetentionFlags()...)
	return &cli.Command{
		Name:      "check",
		Usage:     "compare ERP files, the checkpoint and the live platform; change nothing (unless --fix)",
		ArgsUsage: "FILE...",
		Description: "Reports each key as same, differs (with the fields: platform value -> file value), only-in-file,\n" +
			"only-on-platform or error, and says of each differing field whether the file changed it since the last\n" +
			"import or the platform changed it behind custsync's back. Nothing is written to the platform or the state file, unless --fix\n" +
			"repairs the keys that differ (as import --verify does for them).\n\n" +
			"Examples:\n" +
			"  custsync check --tenant acme customers.csv addresses.csv\n" +
			"  custsync check --tenant acme --report drift.xlsx --fail-on-diff customers.xlsx\n" +
			"  custsync check --tenant acme --fix customers.csv\n" +
			"  custsync check --tenant acme --fix --from-report drift.xlsx customers.xlsx",
		Flags:  append(flags, platformFlags()...),
		Action: runCheck,
	}
}

func runCheck(c *cli.Context) error {
	opts, err := checkOptions(c)
	if err != nil {
		return err
	}
	fix, fromReport := c.Bool("fix"), c.String("from-report")
	switch {
	case fromReport != "" && !fix:
		return usageErrorf("--from-report says what --fix repairs: add --fix")
	case fix && c.Bool("fail-on-diff"):
		return usageErrorf("--fix repairs what differs, --fail-on-diff only reports it: give one of them")
	}
	// A repair is an import: once it has completed it prunes the older journals as an import does, so that a
	// scheduled check --fix does not grow the state file without end.
	keep, err := journalRetention(c, "journal-keep-runs", "journal-keep-days", 0)
	if err != nil {
		return err
	}
	sess, err := connect(c, fix || c.Bool("record-deletions"))
	if err != nil {
		return err
	}
	defer sess.Close()
	if c.Bool("record-deletions") {
		if err := detectDeletions(sess.Ctx, c, sess); err != nil {
			return err
		}
	}
	if fromReport != "" {
		keys, err := syncer.ReadFixKeys(fromReport, opts.Read)
		if err != nil {
			return err
		}
		return runFix(c, sess, opts, keys, keep)
	}
	rep, err := syncer.Check(sess.Ctx, sess.Store, sess.Client, opts)
	if err != nil {
		return err
	}
	printCheckReport(c, rep)
	if fix {
		return runFix(c, sess, opts, rep.FixKeys(), keep)
	}
	if c.Bool("fail-on-diff") && rep.Differences() > 0 {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%s between the files and the platform", state.Count(rep.Differences(), "key differs", "keys differ"))}
	}
	return nil
}

// runFix repairs the keys a check found different: an import of the check's files in which those rows are
// compared with their live records (sync.Options.VerifyKeys), with the import's report and exit code.
func runFix(c *cli.Context, sess *session, check syncer.CheckOptions, keys map[mapping.Entity]map[string]bool, keep state.JournalRetention) error {
	n := 0
	for _, ks := range keys {
		n += len(ks)
	}
	if n == 0 {
		fmt.Fprintln(c.App.Writer, "fix: no key differs, nothing to repair")
		return nil
	}
	fmt.Fprintf(c.App.Writer, "fix: repairing %s\n", state.Count(n, "key that differs", "keys that differ"))
	opts := syncer.Options{Files: check.Files, Spec: check.Spec, Entity: check.Entity, Read: check.Read, ExpectRows: check.ExpectRows,
		Verify: true, VerifyKeys: keys, Writers: c.Int("writers"), ExitCode: ExitCode, Logger: logger(c), JournalRetention: keep,
		Args: map[string]any{"files": check.Files, "fix": true, "keys": n, "mapping": c.String("mapping")}}
	if opts.Writers < 1 {
		return usageErrorf("--writers must be at least 1")
	}
	rep, err := syncer.Import(sess.Ctx, sess.Store, sess.Client, opts)
	if rep != nil {
		fig := figuresOf(c)
		fig.rows = rep.Entities
		printImportReport(c, rep)
	}
	return err
}

// printCheckReport prints the verdicts per entity and the first differences.
func printCheckReport(c *cli.Context, rep syncer.CheckReport) {
	out := c.App.Writer
	entities := make([]string, 0, len(rep.Entities))
	for e := range rep.Entities {
		entities = append(entities, string(e))
	}
	sort.Strings(entities)
	for _, e := range entities {
		fmt.Fprintf(out, "%-10s %s\n", e, verdictLine(rep.Entities[mapping.Entity(e)]))
	}
	if len(rep.ByKey) > 0 {
		names := make([]string, len(rep.ByKey))
		for i, e := range rep.ByKey {
			names[i] = string(e)
		}
		fmt.Fprintf(out, "read by key (the files are small against the tenant): %s; records no row names are listed only where a row's customer reaches them\n",
			strings.Join(names, ", "))
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
		line := fmt.Sprintf("  %-16s %s %s", p.Status, p.Entity, cmp.Or(p.Key, p.RemoteID))
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
}

// checkOptions turns the flags into engine options.
func checkOptions(c *cli.Context) (syncer.CheckOptions, error) {
	if c.NArg() == 0 {
		return syncer.CheckOptions{}, usageErrorf("check needs at least one FILE")
	}
	in, err := inputOptions(c)
	if err != nil {
		return syncer.CheckOptions{}, err
	}
	if f := strings.ToLower(c.String("format")); f != "" && f != "csv" && f != "xlsx" {
		return syncer.CheckOptions{}, usageErrorf("--format must be csv or xlsx, not %q", f)
	}
	return syncer.CheckOptions{Files: in.Files, Spec: in.Spec, Entity: in.Entity, Read: in.Read, ExpectRows: in.ExpectRows,
		Report: c.String("report"), Format: c.String("format"), ReportBOM: bomChoice(c), PageWorkers: c.Int("page-workers")}, nil
}

func verdictLine(counts map[syncer.CheckStatus]int) string {
	order := []syncer.CheckStatus{syncer.CheckSame, syncer.CheckDiffers, syncer.CheckOnlyInFile, syncer.CheckOnlyOnPlatform, syncer.CheckError}
	parts := make([]string, 0, len(order)+1)
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
	}
	if n := counts[syncer.CheckPropagated]; n > 0 {
		parts = append(parts, fmt.Sprintf("%s %d (made by the platform)", syncer.CheckPropagated, n))
	}
	return strings.Join(parts, ", ")
}

// detectDeletions runs the deleted-in-platform detection and prints what it found.
func detectDeletions(ctx context.Context, c *cli.Context, sess *session) error {
	rep, err := syncer.DetectDeletedInPlatform(ctx, sess.Store, sess.Client)
	if err != nil {
		return fmt.Errorf("detect customers deleted on the platform: %w", err)
	}
	if len(rep.Deleted) == 0 {
		fmt.Fprintf(c.App.Writer, "no customer deleted on the platform (%d checked)\n", rep.Checked)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "%d customers deleted on the platform, now in the deletion log (with them %d addresses and %d contact assignments left the checkpoint): %s\n",
		len(rep.Deleted), rep.Addresses, rep.Contacts, strings.Join(rep.Deleted, ", "))
	return nil
}
