package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"custsync/state"
	syncer "custsync/sync"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:  "state",
		Usage: "inspect the state file (checkpoint, runs, lock), prune old journals and remove a stale lock",
		Description: "The state file keeps the checkpoint, the SD mappings, the deletion log, the run history and each\n" +
			"run's journal (what it planned and did, which resuming and custsync restore read). Journals are the\n" +
			"part that grows: every import that completes removes those of all runs but the last 30\n" +
			"(--journal-keep-runs), never the journal of a run the next import resumes; state prune does it on\n" +
			"demand and with --vacuum gives the space back to the file system.",
		Subcommands: []*cli.Command{
			{Name: "show", Usage: "summarise the state file: binding, entities, mappings, deletions, lock, last runs", Action: runStateShow},
			{
				Name:  "runs",
				Usage: "list the most recent runs",
				Description: "--json prints the runs as a JSON array, most recent first, for other tools: id, kind, status\n" +
					"(completed, failed, interrupted, planned for a dry run, running), succeeded (ended as exit code 0\n" +
					"would: completed, no row failed), startedAt, finishedAt (null while running), durationSeconds,\n" +
					"args, stats (the import's JSON report), restore (what custsync restore can put back) and\n" +
					"journalPrunedAt (when the journal retention removed the run's journal, which a restore needs;\n" +
					"null while it keeps it); every key is always present. RESTORABLE says \"journal pruned\" for those.",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "limit", Value: 20, Usage: "how many runs"},
					&cli.BoolFlag{Name: "json", Usage: "print the runs as a JSON array"},
				},
				Action: runStateRuns,
			},
			{
				Name:  "unlock",
				Usage: "remove the run lock left by a crashed run",
				Description: "Shows who holds the lock. A lock whose heartbeat is fresh belongs to a run that is probably still\n" +
					"active and is only removed with --force; removing it makes that run stop at its next heartbeat.",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "remove the lock even if its heartbeat is fresh"}},
				Action: runStateUnlock,
			},
			statePruneCommand(),
		},
	}
}

func runStateShow(c *cli.Context) error {
	st, err := openState(c, state.Binding{})
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.Describe(c.Context)
	if err != nil {
		return err
	}
	out := c.App.Writer
	fmt.Fprintf(out, "state file:   %s (schema %d, this custsync knows %d)\n", d.Path, d.SchemaVersion, d.KnownSchemaVersion)
	if d.Binding.IsZero() {
		fmt.Fprintln(out, "bound to:     nothing yet (no run has been accepted by a platform)")
	} else {
		fmt.Fprintf(out, "bound to:     tenant %s at %s (since %s)\n", d.Binding.Tenant, d.Binding.APIURL, shortTime(d.BoundAt))
	}
	if d.MappingsURL == "" {
		fmt.Fprintln(out, "mappings URL: none (SD customer mappings are kept only here)")
	} else {
		fmt.Fprintf(out, "mappings URL: %s (every run keeps it in step)\n", d.MappingsURL)
	}
	kinds := make([]string, 0, len(d.Entities))
	for k := range d.Entities {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprint(out, "checkpoint:  ")
	if len(kinds) == 0 {
		fmt.Fprint(out, " empty")
	}
	for _, k := range kinds {
		fmt.Fprintf(out, " %s %d", k, d.Entities[k])
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "mappings:     %d (%d deleted in platform, %d not pushed)\n", d.Mappings.Total, d.Mappings.DeletedInYaaS, d.Mappings.Unpushed)
	fmt.Fprintf(out, "deletion log: %d unacknowledged\n", d.UnackedDeletions)
	fmt.Fprintf(out, "journals:     kept by %s, pruned of %d (custsync state prune)\n", state.Count(d.JournalRuns, "run", "runs"), d.PrunedJournals)
	if d.Lock != nil {
		fmt.Fprintf(out, "lock:         %s\n", lockText(*d.Lock))
	} else {
		fmt.Fprintln(out, "lock:         none")
	}
	if d.Resumable != nil {
		fmt.Fprintf(out, "resumable:    run %d (%s, started %s): the next import resumes it\n", d.Resumable.ID, d.Resumable.Status, shortTime(d.Resumable.StartedAt))
	}
	if len(d.LastRuns) > 0 {
		changes, err := runChanges(c, st, d.LastRuns)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "last runs:")
		printRuns(c, d.LastRuns, changes)
	}
	return nil
}

func lockText(l state.LockInfo) string {
	age := time.Since(l.Heartbeat).Round(time.Second)
	s := fmt.Sprintf("held by %s since %s, last heartbeat %s ago", l.Owner, shortTime(l.Since), age)
	if l.Stale(state.DefaultStaleAfter) {
		s += " (stale)"
	}
	return s
}

func runStateRuns(c *cli.Context) error {
	if c.Int("limit") < 1 {
		return usageErrorf("--limit must be at least 1")
	}
	st, err := openState(c, state.Binding{})
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.ListRuns(c.Context, c.Int("limit"))
	if err != nil {
		return err
	}
	changes, err := runChanges(c, st, runs)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printRunsJSON(c, runs, changes)
	}
	if len(runs) == 0 {
		fmt.Fprintln(c.App.Writer, "no runs yet")
		return nil
	}
	printRuns(c, runs, changes)
	return nil
}

// runChanges counts, per run that could have changed the platform (an import or a restore that was applied),
// what it changed and what of it a restore can put back.
func runChanges(c *cli.Context, st *state.Store, runs []state.Run) (map[int64]*state.RunChanges, error) {
	out := map[int64]*state.RunChanges{}
	for _, r := range runs {
		if (r.Kind != "import" && r.Kind != "restore") || r.Status == state.RunPlanned || r.JournalPruned() {
			continue
		}
		ch, err := st.RunChanges(c.Context, r.ID)
		if err != nil {
			return nil, err
		}
		out[r.ID] = &ch
	}
	return out, nil
}

// runJSON is one run of `state runs --json`.
type runJSON struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	Status     state.RunStatus `json:"status"`
	Succeeded  bool            `json:"succeeded"`
	StartedAt  time.Time       `json:"startedAt"`
	FinishedAt *time.Time      `json:"finishedAt"`
	Seconds    *float64        `json:"durationSeconds"`
	Args       json.RawMessage `json:"args"`
	Stats      json.RawMessage `json:"stats"`
	// Restore is what `custsync restore --run ID` can put back; null for a run that changed nothing or whose
	// journal was pruned.
	Restore *restoreJSON `json:"restore"`
	// JournalPrunedAt is when the journal retention removed the run's journal; null while the run keeps it.
	JournalPrunedAt *time.Time `json:"journalPrunedAt"`
}

// restoreJSON counts what a restore of a run can put back.
type restoreJSON struct {
	Updates int `json:"updates"`
	Deletes int `json:"deletes"`
	Creates int `json:"creates"`
}

func printRunsJSON(c *cli.Context, runs []state.Run, changes map[int64]*state.RunChanges) error {
	out := make([]runJSON, len(runs))
	for i, r := range runs {
		out[i] = runJSON{ID: r.ID, Kind: r.Kind, Status: r.Status, Succeeded: syncer.RunSucceeded(r), StartedAt: r.StartedAt,
			Args: orNull(r.Args), Stats: orNull(r.Stats)}
		if ch := changes[r.ID]; ch != nil {
			out[i].Restore = &restoreJSON{Updates: ch.UpdateImages, Deletes: ch.DeletePreImages, Creates: ch.Created}
		}
		if r.JournalPruned() {
			pruned := r.JournalPrunedAt
			out[i].JournalPrunedAt = &pruned
		}
		if !r.FinishedAt.IsZero() {
			finished, secs := r.FinishedAt, r.FinishedAt.Sub(r.StartedAt).Seconds()
			out[i].FinishedAt, out[i].Seconds = &finished, &secs
		}
	}
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// orNull keeps a key present in the JSON when the state holds no value for it.
func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func printRuns(c *cli.Context, runs []state.Run, changes map[int64]*state.RunChanges) {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tKIND\tSTATUS\tOUTCOME\tSTARTED\tDURATION\tRESTORABLE\tARGS")
	for _, r := range runs {
		dur := "-"
		if !r.FinishedAt.IsZero() {
			dur = r.FinishedAt.Sub(r.StartedAt).Round(10 * time.Millisecond).String()
		}
		outcome := syncer.RunOutcome(r)
		if outcome == "" {
			outcome = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Status, outcome, shortTime(r.StartedAt), dur,
			restoreText(r, changes[r.ID]), string(r.Args))
	}
	_ = tw.Flush()
}

func runStateUnlock(c *cli.Context) error {
	st, err := openState(c, state.Binding{})
	if err != nil {
		return err
	}
	defer st.Close()
	info, locked, err := st.ReadLock(c.Context)
	if err != nil {
		return err
	}
	if !locked {
		fmt.Fprintln(c.App.Writer, "the state file is not locked")
		return nil
	}
	fmt.Fprintf(c.App.Writer, "lock %s\n", lockText(info))
	if !info.Stale(state.DefaultStaleAfter) && !c.Bool("force") {
		return &exitError{code: ExitState, err: fmt.Errorf("the lock's heartbeat is fresh, so its run is probably still active; "+
			"stop it first, or wait %s for the lock to go stale, or use --force", state.DefaultStaleAfter)}
	}
	removed, ok, err := st.ForceUnlock(c.Context)
	if err != nil {
		return err
	}
	if ok {
		fmt.Fprintf(c.App.Writer, "removed the lock of %s\n", removed.Owner)
	}
	return nil
}
