package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"custsync/state"
)

// journalRetentionFlags are import's: the retention every completed import applies to the older journals.
func journalRetentionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "journal-keep-runs", Value: state.DefaultJournalKeepRuns, Usage: "once the import has completed, remove the journals of older runs but the last `N` (0: keep every journal; see custsync state prune)"},
		&cli.IntFlag{Name: "journal-keep-days", Usage: "also keep the journals of the runs of the last `D` days"},
	}
}

// journalRetention reads a retention from a command's flags: runs and days name them. For import, 0 runs is
// no automatic pruning (KeepRuns 0); minRuns is the least number of runs the command accepts.
func journalRetention(c *cli.Context, runs, days string, minRuns int) (state.JournalRetention, error) {
	keep := retention(c.Int(runs), c.Int(days))
	if keep.KeepRuns < minRuns {
		return keep, usageErrorf("--%s must be at least %d", runs, minRuns)
	}
	if d := c.Int(days); d < 0 || d > maxJournalKeepDays {
		return keep, usageErrorf("--%s must be 0 to %d (100 years), not %d", days, maxJournalKeepDays, d)
	}
	return keep, nil
}

// maxJournalKeepDays bounds --journal-keep-days and a profile's journal-keep-days: 100 years.
const maxJournalKeepDays = 36_500

// retention is the journal retention of runs and days, as the flags and a profile give them.
func retention(runs, days int) state.JournalRetention {
	return state.JournalRetention{KeepRuns: runs, KeepFor: time.Duration(days) * 24 * time.Hour}
}

func statePruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove the journals of older runs and say how much space it freed",
		Description: "A run's journal is what it planned and did (its ops with their payloads, the images of its updates):\n" +
			"what resuming an interrupted run and custsync restore read. prune removes the journals of all runs but\n" +
			"the last --keep-runs that have one (and those of the last --keep-days days). It never removes the\n" +
			"journal of a run that is still running or crashed, or of an interrupted or failed run whose planned\n" +
			"ops the next import resumes, whatever their age; it keeps the run history (state runs marks the\n" +
			"runs whose journal was pruned; custsync restore refuses them), the checkpoint, the SD mappings and\n" +
			"the deletion log. Every import that completes applies its own --journal-keep-runs the same way.\n\n" +
			"The space removed rows took stays in the file, where later runs reuse it. --vacuum gives it back to\n" +
			"the file system by rewriting the file: that needs free space of about twice what the file keeps (a\n" +
			"temporary copy, in SQLITE_TMPDIR, TMPDIR or /var/tmp, and the write-ahead log beside the file); prune\n" +
			"checks it first and does not start VACUUM without it. prune takes the run lock.\n\n" +
			"Examples:\n" +
			"  custsync state prune --dry-run\n" +
			"  custsync state prune --keep-runs 10 --vacuum",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "keep-runs", Aliases: []string{"journal-keep-runs"}, Value: state.DefaultJournalKeepRuns, Usage: "keep the journals of the last `N` runs that have one (at least 1)"},
			&cli.IntFlag{Name: "keep-days", Aliases: []string{"journal-keep-days"}, Usage: "also keep the journals of the runs of the last `D` days"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be removed; change nothing"},
			&cli.BoolFlag{Name: "vacuum", Usage: "then rewrite the file to give the freed space back to the file system (needs free space of about twice the data)"},
		},
		Action: runStatePrune,
	}
}

func runStatePrune(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("state prune takes no arguments (got %q)", c.Args().First())
	}
	keep, err := journalRetention(c, "keep-runs", "keep-days", 1)
	if err != nil {
		return err
	}
	dryRun, vacuum := c.Bool("dry-run"), c.Bool("vacuum")
	st, err := openState(c, state.Binding{})
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := c.Context
	if !dryRun {
		lock, err := lockRun(c, st)
		if err != nil {
			return err
		}
		defer lock.Release()
		ctx = lock.Ctx
	}
	before, err := st.FileSize()
	if err != nil {
		return err
	}
	res, err := st.PruneJournals(ctx, keep, dryRun)
	if err != nil {
		return err
	}
	out := c.App.Writer
	verb := "pruned"
	if dryRun {
		verb = "would prune"
	}
	for _, j := range res.Pruned {
		fmt.Fprintf(out, "%s the journal of run %d (%s, %s, started %s): %s, %s\n", verb, j.RunID, j.Kind, j.Status,
			shortTime(j.StartedAt), state.Count(j.Ops, "op", "ops"), state.Count(j.UpdateImages, "update image", "update images"))
	}
	for _, k := range res.Unfinished {
		fmt.Fprintf(out, "kept the journal of run %d (%s, %s, started %s): %s\n", k.RunID, k.Kind, k.Status, shortTime(k.StartedAt), k.Why)
	}
	lastRuns := "the last run"
	if keep.KeepRuns != 1 {
		lastRuns = fmt.Sprintf("the last %d runs", keep.KeepRuns)
	}
	fmt.Fprintf(out, "%s %s (%s, %s); kept %d by the retention (%s%s)", verb, state.Count(len(res.Pruned), "journal", "journals"),
		state.Count(res.Ops, "op", "ops"), state.Count(res.UpdateImages, "update image", "update images"), res.Retained, lastRuns,
		daysText(c.Int("keep-days")))
	if len(res.Unfinished) > 0 {
		fmt.Fprintf(out, " and %d a resume needs", len(res.Unfinished))
	}
	fmt.Fprintln(out)
	if dryRun {
		fmt.Fprintf(out, "dry run: nothing was removed; the file is %s\n", state.ByteSize(before))
		return nil
	}
	if len(res.Pruned) > 0 {
		if err := st.TruncateWAL(ctx); err != nil {
			return err
		}
	}
	if vacuum {
		if err := st.Vacuum(ctx); err != nil {
			return err
		}
	}
	after, err := st.FileSize()
	if err != nil {
		return err
	}
	switch {
	case vacuum:
		fmt.Fprintf(out, "vacuumed: the file is %s, was %s (%s freed)\n", state.ByteSize(after), state.ByteSize(before), state.ByteSize(max(before-after, 0)))
	case len(res.Pruned) > 0:
		fmt.Fprintf(out, "the file is %s, was %s: the space of the removed rows stays in it for later runs to reuse (--vacuum gives it back to the file system)\n",
			state.ByteSize(after), state.ByteSize(before))
	default:
		fmt.Fprintf(out, "the file is %s\n", state.ByteSize(after))
	}
	return nil
}

// daysText is the age rule of a retention, for the summary of a prune.
func daysText(days int) string {
	if days <= 0 {
		return ""
	}
	return " and the runs of the last " + strconv.Itoa(days) + " days"
}
