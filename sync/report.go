package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Counts are the outcomes of one entity (or of the whole run).
type Counts struct {
	Created int `json:"created"`
	// Adopted are records the platform held already that the row took over: with --adopt customers and
	// addresses (adopt.go), always a contact assignment of the same customer and company (made by hand or by
	// the platform's propagation). Written in place (only what differs) and recorded in the checkpoint under
	// the platform's id, instead of failing or being created twice.
	Adopted int `json:"adopted"`
	// Merged are creates that met a record the platform held already under the row's id (a lost or new state
	// file, a record made by hand, a create repeated after its answer was lost): the platform merged the row
	// into it (its upsert answered "updated", not "created"). What the record held before is not kept, so a
	// restore cannot put it back; a --live dry run predicts them with the fields that would change.
	Merged    int `json:"merged"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
	Failed    int `json:"failed"`
	Ignored   int `json:"ignored"`
	// Held are rows not applied because their customer was deleted on the platform outside custsync; they
	// wait until the ERP acknowledges the deletion (custsync deletions ack).
	Held int `json:"held"`
	// DeletesHeld are planned deletes not made because rows of the entity, or of an entity that depends on
	// it, failed in the run (see holdDeletes); they wait for a run in which those rows succeed.
	DeletesHeld int `json:"deletesHeld"`
	// Pending are planned ops not applied because the run stopped early (interrupted, or a run-fatal error).
	Pending int `json:"pending"`
}

func (c *Counts) add(o Counts) {
	c.Created += o.Created
	c.Adopted += o.Adopted
	c.Merged += o.Merged
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Deleted += o.Deleted
	c.Failed += o.Failed
	c.Ignored += o.Ignored
	c.Held += o.Held
	c.DeletesHeld += o.DeletesHeld
	c.Pending += o.Pending
}

// PlannedChange is one change of a dry run (or of a real run's plan), for the field-level diff.
type PlannedChange struct {
	Entity string                `json:"entity"`
	Key    string                `json:"key"`
	Action string                `json:"action"`
	Source string                `json:"source"` // "" for a full-snapshot delete, which has no row
	Fields []mapping.FieldChange `json:"fields"`
}

// RowFailure is a row that failed, as reported.
type RowFailure struct {
	Source string `json:"source"`
	Entity string `json:"entity"` // "" when the row could not be read far enough to tell
	Key    string `json:"key"`
	Action string `json:"action"`
	Column string `json:"column"`
	Status int    `json:"status"` // the platform's HTTP status; 0 when the row failed before or without an answer
	Reason string `json:"reason"`
}

// DeleteHold says why the deletes of one entity were held.
type DeleteHold struct {
	Entity  mapping.Entity `json:"entity"`
	Deletes int            `json:"deletes"`
	Reason  string         `json:"reason"`
}

// Report describes a finished (or stopped) import. Its top level carries the run totals. Its JSON form is
// the report of `custsync import --json` and the stats of `state runs`; cmd/custsync/report.schema.json
// documents it, and every key is always present.
type Report struct {
	RunID  int64 `json:"-"` // 0 on dry runs and runs that stopped before they were recorded
	DryRun bool  `json:"dryRun"`
	Mode   Mode  `json:"mode"`
	// ExitCode is the process exit code this outcome gives (Options.ExitCode decides it).
	ExitCode int `json:"exitCode"`
	// Stopped says why the run stopped before doing all it planned ("" if it did not): a guard, an input
	// error, the platform refusing or failing, an interruption.
	Stopped string `json:"-"`
	Counts
	// DeleteHolds explain the held deletes, one entry per entity.
	DeleteHolds []DeleteHold               `json:"deleteHolds"`
	Entities    map[mapping.Entity]*Counts `json:"entities"`
	Rows        int                        `json:"rows"`
	Retried     int64                      `json:"retried"`
	Requests    int64                      `json:"requests"`
	Duration    time.Duration              `json:"-"`
	Seconds     float64                    `json:"durationSeconds"`
	// ResumedRun is the interrupted run whose pending ops this run took over (0 if none).
	ResumedRun     int64 `json:"-"`
	ResumedPending int   `json:"resumedPending"`
	// RestoredRuns are the runs a restore put back (a dry run: would put back), newest first: the one named, or
	// with --run last the last import and the interrupted runs it resumed; empty for an import.
	RestoredRuns []int64         `json:"restoredRuns"`
	Changes      []PlannedChange `json:"changes"`
	// ChangesNotListed counts the changes of a dry run beyond the first maxListedChanges of an entity and
	// action (in key order), which are counted but not listed.
	ChangesNotListed int          `json:"changesNotListed"`
	Failures         []RowFailure `json:"failures"`
	ResultFiles      []string     `json:"resultFiles"`
	// Warnings explain what the run left out on purpose, e.g. full-mode deletes withheld because a row's key
	// could not be read.
	Warnings []string `json:"warnings"`
	// DeletedInPlatform counts customers found deleted on the platform before planning (--detect-deletions).
	DeletedInPlatform int `json:"deletedInPlatform"`
	// MappingsPushed and MappingsFailed count the SD customer mappings sent to the remote endpoint.
	MappingsPushed int `json:"mappingsPushed"`
	MappingsFailed int `json:"mappingsFailed"`
	// LoginsImported counts the customers created with their logins through the bulk import (also counted as
	// created).
	LoginsImported int `json:"loginsImported"`
	// JournalsPruned counts the older runs whose journal this run removed under the journal retention.
	JournalsPruned int `json:"journalsPruned"`
	// Drift is, per entity, what --verify found changed on the platform since custsync wrote it (and repaired
	// or, in a dry run, would repair); entities without drift are absent.
	Drift map[mapping.Entity]*Drift `json:"drift"`
}

// MarshalJSON writes every key, also when empty: absent values are null (runId of a dry run, resumedRun,
// stopped) and empty lists are [], so a cron job can read the report without guessing.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	w := struct {
		plain
		RunID      *int64  `json:"runId"`
		ResumedRun *int64  `json:"resumedRun"`
		Stopped    *string `json:"stopped"`
	}{plain: plain(r)}
	if r.RunID != 0 {
		w.RunID = &r.RunID
	}
	if r.ResumedRun != 0 {
		w.ResumedRun = &r.ResumedRun
	}
	if r.Stopped != "" {
		w.Stopped = &r.Stopped
	}
	w.DeleteHolds = orEmpty(w.DeleteHolds)
	w.Changes = orEmpty(w.Changes)
	for i := range w.Changes {
		w.Changes[i].Fields = orEmpty(w.Changes[i].Fields)
	}
	w.Failures = orEmpty(w.Failures)
	w.ResultFiles = orEmpty(w.ResultFiles)
	w.Warnings = orEmpty(w.Warnings)
	w.RestoredRuns = orEmpty(w.RestoredRuns)
	if w.Entities == nil {
		w.Entities = map[mapping.Entity]*Counts{}
	}
	if w.Drift == nil {
		w.Drift = map[mapping.Entity]*Drift{}
	}
	return json.Marshal(w)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// maxReportedFailures bounds the failures kept in the report; the error file has them all.
const maxReportedFailures = 1000

// finish completes the report of a run that ends with err: its duration, requests, totals, why it stopped and
// the exit code (exitCode, if set, decides it).
func (r *Report) finish(start time.Time, rc *remote.Client, exitCode func(error) int, err error) (*Report, error) {
	r.Duration = time.Since(start)
	if rc != nil {
		s := rc.Stats()
		r.Requests, r.Retried = s.Requests, s.Retries
	}
	r.total()
	if err != nil && !errors.Is(err, ErrPartial) && r.Stopped == "" {
		r.Stopped = err.Error()
	}
	if exitCode != nil {
		r.ExitCode = exitCode(err)
	}
	return r, err
}

func (r *Report) total() {
	r.Counts = Counts{}
	for _, c := range r.Entities {
		r.Counts.add(*c)
	}
	r.Seconds = r.Duration.Seconds()
}

// Summary is the one-paragraph, human-readable result of the run. A run that stopped says so first, and one
// that stopped before sending anything (a guard, an input error) shows no counts that could pass for a result.
func (r *Report) Summary() string {
	var b strings.Builder
	run := "import"
	if r.Mode == ModeRestore {
		run = "restore"
	}
	verb := run
	if r.DryRun {
		verb = "dry run (nothing sent)"
	}
	if r.Stopped != "" {
		verb = run
		if r.DryRun {
			verb = "dry run"
		}
		fmt.Fprintf(&b, "%s stopped: %s", verb, r.Stopped)
		if r.RunID == 0 {
			b.WriteString("\n  nothing was written to the platform")
			return b.String()
		}
		verb = "\n  before it stopped"
	}
	fmt.Fprintf(&b, "%s: %d created, %d updated, %d unchanged, %d deleted, %d failed", verb,
		r.Created, r.Updated, r.Unchanged, r.Deleted, r.Failed)
	if r.Adopted > 0 {
		fmt.Fprintf(&b, ", %d adopted", r.Adopted)
	}
	if r.Merged > 0 {
		fmt.Fprintf(&b, ", %d merged into records the platform had", r.Merged)
	}
	if r.Ignored > 0 {
		fmt.Fprintf(&b, ", %d ignored", r.Ignored)
	}
	if r.DeletesHeld > 0 {
		fmt.Fprintf(&b, ", %d deletes held", r.DeletesHeld)
	}
	if r.Pending > 0 {
		fmt.Fprintf(&b, ", %d pending", r.Pending)
	}
	if r.Held > 0 {
		fmt.Fprintf(&b, ", %d held (deleted on the platform; see custsync deletions list)", r.Held)
	}
	if !r.DryRun {
		fmt.Fprintf(&b, ", %d retried", r.Retried)
	}
	fmt.Fprintf(&b, " in %s", r.Duration.Round(time.Millisecond))
	var ents []string
	for e := range r.Entities {
		ents = append(ents, string(e))
	}
	sort.Strings(ents)
	for _, e := range ents {
		c := r.Entities[mapping.Entity(e)]
		fmt.Fprintf(&b, "\n  %-10s %6d created %6d updated %6d unchanged %6d deleted %6d failed", e,
			c.Created, c.Updated, c.Unchanged, c.Deleted, c.Failed)
		if c.Adopted > 0 {
			fmt.Fprintf(&b, " %6d adopted", c.Adopted)
		}
		if c.Merged > 0 {
			fmt.Fprintf(&b, " %6d merged", c.Merged)
		}
		if c.DeletesHeld > 0 {
			fmt.Fprintf(&b, " %6d deletes held", c.DeletesHeld)
		}
		if c.Pending > 0 {
			fmt.Fprintf(&b, " %6d pending", c.Pending)
		}
	}
	for _, h := range r.DeleteHolds {
		verb := "held"
		if r.DryRun {
			verb = "would be held"
		}
		fmt.Fprintf(&b, "\n  %d deletes of %s %s: %s", h.Deletes, h.Entity, verb, h.Reason)
	}
	b.WriteString(r.driftText())
	if r.DeletedInPlatform > 0 {
		fmt.Fprintf(&b, "\n  %d customers were deleted on the platform outside custsync (see custsync deletions list)", r.DeletedInPlatform)
	}
	if r.LoginsImported > 0 {
		fmt.Fprintf(&b, "\n  %d customers created with their logins (bulk import)", r.LoginsImported)
	}
	if r.MappingsPushed+r.MappingsFailed > 0 {
		fmt.Fprintf(&b, "\n  SD customer mappings: %d pushed, %d failed", r.MappingsPushed, r.MappingsFailed)
	}
	if len(r.RestoredRuns) > 1 {
		fmt.Fprintf(&b, "\n  put back runs %s, newest first (the last import and the interrupted runs it resumed)", joinIDs(r.RestoredRuns))
	}
	if r.ResumedRun != 0 {
		fmt.Fprintf(&b, "\n  resumed interrupted run %d (%s pending)", r.ResumedRun, state.Count(r.ResumedPending, "op was", "ops were"))
	}
	if r.JournalsPruned > 0 {
		journals := fmt.Sprintf("journals of %d older runs", r.JournalsPruned)
		if r.JournalsPruned == 1 {
			journals = "journal of 1 older run"
		}
		fmt.Fprintf(&b, "\n  pruned the %s (journal retention; custsync state runs)", journals)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "\n  warning: %s", w)
	}
	for _, f := range r.ResultFiles {
		fmt.Fprintf(&b, "\n  wrote %s", f)
	}
	return b.String()
}

// Progress is a snapshot of a running import, for progress lines.
type Progress struct {
	Planned  int64
	Done     int64
	Failed   int64
	Requests int64
	Retried  int64
	Elapsed  time.Duration
}

// String renders a short progress line.
func (p Progress) String() string {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Requests) / s
	}
	pct := 100.0
	if p.Planned > 0 {
		pct = 100 * float64(p.Done+p.Failed) / float64(p.Planned)
	}
	return fmt.Sprintf("%d/%d applied (%.0f%%), %d failed, %d retried, %.0f req/s, %s", p.Done+p.Failed, p.Planned, pct,
		p.Failed, p.Retried, rate, p.Elapsed.Round(time.Second))
}

// startTicker calls report(false) every interval until the returned stop is called; stop(final) waits for
// the ticking to end and then, if final, calls report(true) once. Import and export show progress with it.
func startTicker(every time.Duration, report func(final bool)) (stop func(final bool)) {
	quit := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report(false)
			}
		}
	}()
	return func(final bool) {
		close(quit)
		<-stopped
		if final {
			report(true)
		}
	}
}
