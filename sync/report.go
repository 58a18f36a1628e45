package sync

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"custsync/mapping"
)

// Counts are the outcomes of one entity (or of the whole run).
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
	Failed    int `json:"failed"`
	Ignored   int `json:"ignored"`
	// Held are rows not applied because their customer was deleted on the platform outside custsync; they
	// wait until the ERP acknowledges the deletion (custsync deletions ack).
	Held int `json:"held"`
	// Pending are planned ops not applied: the run was interrupted, or deletes were held back after failures.
	Pending int `json:"pending"`
}

func (c *Counts) add(o Counts) {
	c.Created += o.Created
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Deleted += o.Deleted
	c.Failed += o.Failed
	c.Ignored += o.Ignored
	c.Held += o.Held
	c.Pending += o.Pending
}

// PlannedChange is one change of a dry run (or of a real run's plan), for the field-level diff.
type PlannedChange struct {
	Entity string                `json:"entity"`
	Key    string                `json:"key"`
	Action string                `json:"action"`
	Source string                `json:"source,omitempty"`
	Fields []mapping.FieldChange `json:"fields,omitempty"`
}

// RowFailure is a row that failed, as reported.
type RowFailure struct {
	Source string `json:"source"`
	Entity string `json:"entity,omitempty"`
	Key    string `json:"key,omitempty"`
	Action string `json:"action"`
	Column string `json:"column,omitempty"`
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason"`
}

// Report describes a finished (or stopped) import. Its top level carries the run totals.
type Report struct {
	RunID  int64 `json:"runId,omitempty"`
	DryRun bool  `json:"dryRun"`
	Mode   Mode  `json:"mode"`
	Counts
	Entities map[mapping.Entity]*Counts `json:"entities"`
	Rows     int                        `json:"rows"`
	Retried  int64                      `json:"retried"`
	Requests int64                      `json:"requests"`
	Duration time.Duration              `json:"-"`
	Seconds  float64                    `json:"durationSeconds"`
	// ResumedRun is the interrupted run whose pending ops this run took over (0 if none).
	ResumedRun     int64           `json:"resumedRun,omitempty"`
	ResumedPending int             `json:"resumedPending,omitempty"`
	Changes        []PlannedChange `json:"changes,omitempty"`
	Failures       []RowFailure    `json:"failures,omitempty"`
	ResultFiles    []string        `json:"resultFiles,omitempty"`
	// Warnings explain what the run left out on purpose, e.g. full-mode deletes withheld because a row's key
	// could not be read.
	Warnings []string `json:"warnings,omitempty"`
	// DeletedInPlatform counts customers found deleted on the platform before planning (--detect-deletions).
	DeletedInPlatform int `json:"deletedInPlatform,omitempty"`
	// MappingsPushed and MappingsFailed count the SD customer mappings sent to the remote endpoint.
	MappingsPushed int    `json:"mappingsPushed,omitempty"`
	MappingsFailed int    `json:"mappingsFailed,omitempty"`
	Stopped        string `json:"stopped,omitempty"` // why the run stopped early, if it did
}

// maxReportedFailures bounds the failures kept in the report; the error file has them all.
const maxReportedFailures = 1000

func (r *Report) total() {
	r.Counts = Counts{}
	for _, c := range r.Entities {
		r.Counts.add(*c)
	}
	r.Seconds = r.Duration.Seconds()
}

// Summary is the one-paragraph, human-readable result of the run.
func (r *Report) Summary() string {
	var b strings.Builder
	verb := "import"
	if r.DryRun {
		verb = "dry run (nothing sent)"
	}
	fmt.Fprintf(&b, "%s: %d created, %d updated, %d unchanged, %d deleted, %d failed", verb,
		r.Created, r.Updated, r.Unchanged, r.Deleted, r.Failed)
	if r.Ignored > 0 {
		fmt.Fprintf(&b, ", %d ignored", r.Ignored)
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
		if c.Pending > 0 {
			fmt.Fprintf(&b, " %6d pending", c.Pending)
		}
	}
	if r.DeletedInPlatform > 0 {
		fmt.Fprintf(&b, "\n  %d customers were deleted on the platform outside custsync (see custsync deletions list)", r.DeletedInPlatform)
	}
	if r.MappingsPushed+r.MappingsFailed > 0 {
		fmt.Fprintf(&b, "\n  SD customer mappings: %d pushed, %d failed", r.MappingsPushed, r.MappingsFailed)
	}
	if r.ResumedRun != 0 {
		fmt.Fprintf(&b, "\n  resumed interrupted run %d (%d ops were pending)", r.ResumedRun, r.ResumedPending)
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "\n  stopped early: %s", r.Stopped)
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
