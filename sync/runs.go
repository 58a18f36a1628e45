package sync

import (
	"context"
	"encoding/json"
	"time"

	"custsync/state"
)

// RunSucceeded reports whether a run of the history ended the way exit code 0 does: it completed, no row
// failed and every SD mapping was pushed. Dry runs (planned) and interrupted, failed or crashed runs did
// not succeed.
func RunSucceeded(r state.Run) bool {
	if r.Status != state.RunCompleted {
		return false
	}
	var stats struct {
		DryRun         bool `json:"dryRun"`
		Failed         int  `json:"failed"`
		MappingsFailed int  `json:"mappingsFailed"`
	}
	if len(r.Stats) == 0 || json.Unmarshal(r.Stats, &stats) != nil {
		return false
	}
	return !stats.DryRun && stats.Failed == 0 && stats.MappingsFailed == 0
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
