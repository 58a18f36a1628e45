// Package sync is the custsync engine: it reads ERP files, plans the changes against the checkpoint, guards
// against dangerous plans, applies the changes to the platform with bounded concurrency, and records every
// success in the checkpoint.
package sync

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"custsync/formats"
	"custsync/mapping"
	"custsync/state"
)

// Mode selects how deletions are found.
type Mode string

// Modes of an import.
const (
	// ModeDelta applies the rows of the files; only rows flagged for deletion delete anything.
	ModeDelta Mode = "delta"
	// ModeFull treats each file as a complete snapshot of its entity: keys synced before and missing now are
	// deleted (under the max-delete guard).
	ModeFull Mode = "full"
)

// ParseMode parses "delta" or "full".
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", ModeDelta:
		return ModeDelta, nil
	case ModeFull:
		return ModeFull, nil
	}
	return "", fmt.Errorf("mode must be delta or full, not %q", s)
}

// DeleteLimit caps the deletions of one entity in one run: an absolute count or a percentage of the entities
// of that kind in the checkpoint.
type DeleteLimit struct {
	Count   int
	Percent float64
	IsPct   bool
	// set tells a limit of 0 ("--max-delete 0": no deletion at all) from the zero value (no limit given: the
	// default applies).
	set bool
}

// given reports whether the limit was set, by ParseDeleteLimit or as a literal.
func (l DeleteLimit) given() bool { return l.set || l.IsPct || l.Count > 0 }

// DefaultDeleteLimit is 10% of the checkpoint.
var DefaultDeleteLimit = DeleteLimit{Percent: 10, IsPct: true, set: true}

// ParseDeleteLimit parses "N" or "P%".
func ParseDeleteLimit(s string) (DeleteLimit, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultDeleteLimit, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > 100 || math.IsNaN(f) {
			return DeleteLimit{}, fmt.Errorf("max-delete %q: a percentage must be between 0%% and 100%%", s)
		}
		return DeleteLimit{Percent: f, IsPct: true, set: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return DeleteLimit{}, fmt.Errorf("max-delete %q: want a count (e.g. 50) or a percentage (e.g. 5%%)", s)
	}
	return DeleteLimit{Count: n, set: true}, nil
}

// Allowed returns how many deletions the limit allows when the checkpoint holds total entities of a kind.
func (l DeleteLimit) Allowed(total int) int {
	if !l.IsPct {
		return l.Count
	}
	return int(math.Floor(float64(total) * l.Percent / 100))
}

func (l DeleteLimit) String() string {
	if l.IsPct {
		return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(l.Count)
}

// Options configure one import.
type Options struct {
	Files  []string
	Spec   *mapping.Spec  // nil: the default columns
	Entity mapping.Entity // optional: the entity of every table, overriding detection by name
	Read   formats.Options

	Mode       Mode
	MaxDelete  DeleteLimit
	AllowEmpty bool // accept an input without data rows instead of stopping (exit 6)
	DryRun     bool
	Writers    int // concurrent write requests; defaults to 8

	// ResultsDir, if set, receives success and error files per input table; ResultsFormat is csv or xlsx.
	ResultsDir    string
	ResultsFormat string
	// ResultsBOM says whether CSV result files start with a UTF-8 byte-order mark; nil follows each input
	// table (formats.CSVStyleFor), whose delimiter they use too.
	ResultsBOM *bool
	// resultRunBytes overrides resultRunBytes (tests: many small runs to merge).
	resultRunBytes int

	// DetectDeletions lists the platform's customers once the input was read and planned, and records those
	// deleted outside custsync (see DetectDeletedInPlatform); if it found any, the input is planned again, so
	// that their rows are held. Without it, deletions on the platform are still found when an update meets a
	// 404.
	DetectDeletions bool

	// Adopt takes over the records the platform holds already for rows not in the checkpoint instead of
	// creating them twice (adopt.go); KeyField is the dotted path of a platform customer field holding the
	// ERP number (e.g. "mixins.erp.customerNumber"), one of the ways a customer is found.
	Adopt    bool
	KeyField string
	// Live makes a dry run ask the platform what the real run would meet: the adoptions, the creates the
	// platform would refuse (an e-mail address held by another customer), the repairs of Verify.
	Live bool
	// Verify compares the rows the checkpoint knows with their live records and sends what differs from the
	// file (verify.go); VerifyKeys, when set, limits the run to these keys per entity (check --fix): they
	// are verified (or created, or deleted, as their rows say), and no other row is written (plan.leavesOut).
	Verify     bool
	VerifyKeys map[mapping.Entity]map[string]bool
	// RecreateMissing makes Verify create again, under its own id, the record of a row the checkpoint knows
	// but the platform no longer holds, instead of only counting it missing: for migration copy, whose file is
	// the source tenant, so the checkpoint's belief that the target holds the record is what is wrong.
	RecreateMissing bool

	// DeleteDespiteFailures makes the planned deletes even when rows failed (see holdDeletes).
	DeleteDespiteFailures bool

	// ExitCode, if set, gives the report the exit code an outcome (the error Import returns) means.
	ExitCode func(error) int

	// PushMappings sends every new or changed SD customer mapping to the remote sdCustomerMappings endpoint.
	PushMappings bool

	// JournalRetention prunes, once the run has completed, the journals of older runs beyond it (see
	// state.Store.PruneJournals); KeepRuns 0 prunes nothing.
	JournalRetention state.JournalRetention

	// Progress, if set, is called about every ProgressEvery while changes are applied, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration

	Logger *slog.Logger
	// Args are recorded with the run (for `state runs`); they must not contain secrets.
	Args any

	// ExpectRows are control totals checked by the input stage (--expect-rows).
	ExpectRows []RowCount
}

// input returns the options of the input stage.
func (o *Options) input() InputOptions {
	return InputOptions{Files: o.Files, Spec: o.Spec, Entity: o.Entity, Read: o.Read, AllowEmpty: o.AllowEmpty, ExpectRows: o.ExpectRows}
}

func (o *Options) normalise() {
	if o.Mode == "" {
		o.Mode = ModeDelta
	}
	if !o.MaxDelete.given() {
		o.MaxDelete = DefaultDeleteLimit
	}
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Spec == nil {
		o.Spec = mapping.DefaultSpec()
	}
	if o.ResultsFormat == "" {
		o.ResultsFormat = "csv"
	}
}

// Errors the CLI maps to exit codes.
var (
	// ErrInput marks input the command cannot work from: an unreadable file, a wrong header, an
	// acknowledgement file without its columns, export options that make no sense. Nothing was sent or written.
	ErrInput = errors.New("input error")
	// ErrSafetyStop marks a guard that stopped the run before any write: nothing was deleted.
	ErrSafetyStop = errors.New("safety stop")
	// ErrPartial marks a finished run in which some rows failed; a re-run is safe.
	ErrPartial = errors.New("some rows failed")
)

// GuardError says which guard stopped the run and why.
type GuardError struct {
	Entity mapping.Entity
	Reason string
}

func (e *GuardError) Error() string {
	if e.Entity == "" {
		return "safety stop: " + e.Reason
	}
	return fmt.Sprintf("safety stop (%s): %s", e.Entity, e.Reason)
}

// Is makes errors.Is(err, ErrSafetyStop) true.
func (e *GuardError) Is(target error) bool { return target == ErrSafetyStop }
