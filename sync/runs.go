package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"custsync/state"
)

// RunSucceeded reports whether a run of the history ended the way exit code 0 does: it completed, no row
// failed, no delete was held and every SD mapping was pushed. Dry runs (planned) and interrupted, failed or
// crashed runs did not succeed. Runs recorded with their exit code are judged by it.
func RunSucceeded(r state.Run) bool {
	if r.Status != state.RunCompleted {
		return false
	}
	var stats struct {
		DryRun         bool `json:"dryRun"`
		ExitCode       *int `json:"exitCode"`
		Failed         int  `json:"failed"`
		DeletesHeld    int  `json:"deletesHeld"`
		MappingsFailed int  `json:"mappingsFailed"`
	}
	if len(r.Stats) == 0 || json.Unmarshal(r.Stats, &stats) != nil || stats.DryRun {
		return false
	}
	if stats.ExitCode != nil {
		return *stats.ExitCode == 0
	}
	return stats.Failed == 0 && stats.DeletesHeld == 0 && stats.MappingsFailed == 0
}

// RunOutcome is a run's result in a few words for `state runs`: its exit code and what failed, was held or
// stayed pending, from the report the run recorded ("" if it recorded none).
func RunOutcome(r state.Run) string {
	var stats struct {
		ExitCode    *int `json:"exitCode"`
		Failed      int  `json:"failed"`
		DeletesHeld int  `json:"deletesHeld"`
		Pending     int  `json:"pending"`
	}
	if len(r.Stats) == 0 || json.Unmarshal(r.Stats, &stats) != nil {
		return ""
	}
	var parts []string
	if stats.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit %d", *stats.ExitCode))
	}
	for _, c := range []struct {
		n    int
		what string
	}{{stats.Failed, "failed"}, {stats.DeletesHeld, "deletes held"}, {stats.Pending, "pending"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return strings.Join(parts, ", ")
}

// LastSuccess returns when the most recent successful run of kind ("import") finished, or the zero time
// if none did. It reads the state's run history, so it survives across runs and processes.
func LastSuccess(ctx context.Context, st *state.Store, kind string) (time.Time, error) {
	runs, err := st.ListRuns(ctx, 0)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range runs { // most recent first
		if r.Kind == kind && RunSucceeded(r) {
			return r.FinishedAt, nil
		}
	}
	return time.Time{}, nil
}
