package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"custsync/state"
)

// Nightly imports under a retention of two journals: a completed run prunes the older journals, an interrupted
// or failed one prunes nothing, and a restore of a pruned run is refused as an input error before any request.
func TestImportPrunesOlderJournalsOnlyAfterACompletedRun(t *testing.T) {
	t.Parallel()
	var refuse atomic.Bool
	e := newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() && !strings.HasPrefix(r.URL.Path, "/oauth/") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"code":401,"status":"Unauthorized","message":"token revoked"}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	opts := Options{JournalRetention: state.JournalRetention{KeepRuns: 2}}
	importFile := func(ctx context.Context, opts Options, content string) (*Report, error) {
		t.Helper()
		return e.run(ctx, opts, e.file("customers.csv", content))
	}
	journal := func(run int64) (pruned bool, ops int) {
		t.Helper()
		r, ok, err := e.st.GetRun(ctx, run)
		if err != nil || !ok {
			t.Fatalf("run %d: %v %v", run, ok, err)
		}
		err = e.st.ScanOps(ctx, run, state.OpFilter{}, func(state.Op) error { ops++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return r.JournalPruned(), ops
	}

	var runs []int64
	for i, change := range []map[int]string{nil, {0: "Changed0"}, {1: "Changed1"}} {
		rep, err := importFile(ctx, opts, customersCSV(30, change))
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		runs = append(runs, rep.RunID)
		if want := max(i-1, 0); rep.JournalsPruned != want {
			t.Fatalf("run %d pruned %d journals, want %d", i+1, rep.JournalsPruned, want)
		}
	}
	if pruned, ops := journal(runs[0]); !pruned || ops != 0 {
		t.Fatalf("the first run's journal: pruned %v, %d ops; want it pruned by the third run", pruned, ops)
	}
	if pruned, ops := journal(runs[1]); pruned || ops != 1 {
		t.Fatalf("the second run's journal: pruned %v, %d ops; want its one update kept", pruned, ops)
	}

	// Interrupted: the journals of the two runs before stay, although the second is now beyond the retention.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interruptOpts := opts
	interruptOpts.Writers, interruptOpts.ProgressEvery = 2, 1
	interruptOpts.Progress = func(p Progress) {
		if p.Done >= 20 {
			cancel()
		}
	}
	rep, err := importFile(cctx, interruptOpts, customersCSV(300, map[int]string{1: "Changed1"}))
	if !errors.Is(err, context.Canceled) || rep.JournalsPruned != 0 {
		t.Fatalf("interrupted run: %v, pruned %d\n%s", err, rep.JournalsPruned, rep.Summary())
	}
	if pruned, ops := journal(runs[1]); pruned || ops != 1 {
		t.Fatalf("after the interrupted run, the second run's journal: pruned %v, %d ops", pruned, ops)
	}
	runs = append(runs, rep.RunID)

	// Failed (the platform refuses the token): nothing pruned either.
	refuse.Store(true)
	e.open()
	rep, err = importFile(ctx, opts, customersCSV(300, map[int]string{1: "Changed1"}))
	refuse.Store(false)
	if err == nil || rep.JournalsPruned != 0 {
		t.Fatalf("failed run: %v, pruned %d\n%s", err, rep.JournalsPruned, rep.Summary())
	}
	if r, _, _ := e.st.GetRun(ctx, rep.RunID); r.Status != state.RunFailed {
		t.Fatalf("the refused run is %s, want failed", r.Status)
	}
	if pruned, _ := journal(runs[1]); pruned {
		t.Fatal("the failed run pruned the second run's journal")
	}
	runs = append(runs, rep.RunID)

	// Completed again: it resumes the failed run's work and prunes every journal but its own and the failed
	// run's (which it took over; the most recent two).
	e.open()
	rep, err = importFile(ctx, opts, customersCSV(300, map[int]string{1: "Changed1"}))
	if err != nil || rep.ResumedRun != runs[4] || rep.JournalsPruned != 3 {
		t.Fatalf("completed run: %v, resumed %d, pruned %d\n%s", err, rep.ResumedRun, rep.JournalsPruned, rep.Summary())
	}
	for i, run := range runs {
		if pruned, _ := journal(run); pruned != (i < 4) {
			t.Errorf("run %d: journal pruned %v", run, pruned)
		}
	}

	e.srv.ResetRequests()
	_, err = Restore(ctx, e.st, e.rc, RestoreOptions{RunID: runs[1]})
	want := fmt.Sprintf("run %d cannot be restored: its journal (what it created and updated) was pruned", runs[1])
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), want) {
		t.Fatalf("restore of a pruned run: %v\nwant an input error containing %q", err, want)
	}
	if reqs := e.srv.Requests(); len(reqs) != 0 {
		t.Fatalf("the refused restore sent %d requests", len(reqs))
	}
}
