package state

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"
)

func TestRunsLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	first, err := s.BeginRun(ctx, "import", map[string]any{"files": []string{"a.csv"}, "mode": "delta"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, first, RunRunning, nil); err == nil {
		t.Fatal("FinishRun accepted running as a final status")
	}
	if err := s.FinishRun(ctx, first, "done", nil); err == nil {
		t.Fatal("FinishRun accepted an unknown status")
	}
	if err := s.FinishRun(ctx, 999, RunCompleted, nil); err == nil {
		t.Fatal("FinishRun accepted an unknown run")
	}
	if err := s.FinishRun(ctx, first, RunCompleted, map[string]int{"created": 3}); err != nil {
		t.Fatal(err)
	}
	second, _ := s.BeginRun(ctx, "export", nil)

	runs, err := s.ListRuns(ctx, 0)
	if err != nil || len(runs) != 2 {
		t.Fatalf("ListRuns = %+v, %v", runs, err)
	}
	if runs[0].ID != second || runs[0].Status != RunRunning || !runs[0].FinishedAt.IsZero() {
		t.Fatalf("latest run %+v", runs[0])
	}
	r := runs[1]
	var stats map[string]int
	if err := json.Unmarshal(r.Stats, &stats); err != nil || stats["created"] != 3 {
		t.Fatalf("stats %s: %v", r.Stats, err)
	}
	if r.Kind != "import" || r.Status != RunCompleted || r.FinishedAt.Before(r.StartedAt) ||
		string(r.Args) != `{"files":["a.csv"],"mode":"delta"}` {
		t.Fatalf("first run %+v", r)
	}
	if time.Since(r.StartedAt) > time.Hour || r.StartedAt.Location() != time.UTC {
		t.Fatalf("start time %v not a recent UTC time", r.StartedAt)
	}
	if limited, _ := s.ListRuns(ctx, 1); len(limited) != 1 || limited[0].ID != second {
		t.Fatalf("ListRuns(1) = %+v", limited)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	plan := []PlannedOp{customerOp(1), customerOp(2), {Kind: "address", ERPKey: "A1", RemoteID: "C-1/A1", Action: ActionCreate, NewHash: 9}}
	runID, seqs := journalPlan(t, s, plan)
	if err := s.Commit(ctx, []Outcome{doneOutcome(runID, seqs[0], plan[0]),
		{RunID: runID, Seq: seqs[2], Kind: "address", ERPKey: "A1", Action: ActionCreate, RemoteID: "C-1/A1", RowHash: 9}}); err != nil {
		t.Fatal(err)
	}
	lock, err := s.AcquireLock(ctx, CurrentLockOwner(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()

	d, err := s.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Binding != testBinding || d.SchemaVersion != KnownSchemaVersion() || d.KnownSchemaVersion < 1 {
		t.Fatalf("description header %+v", d)
	}
	if d.Entities["customer"] != 1 || d.Entities["address"] != 1 || len(d.Entities) != 2 {
		t.Fatalf("entity counts %v", d.Entities)
	}
	if d.Mappings.Total != 1 || d.UnackedDeletions != 0 || len(d.LastRuns) != 1 {
		t.Fatalf("description %+v", d)
	}
	if d.Lock == nil || d.Lock.Owner != CurrentLockOwner() {
		t.Fatalf("lock %+v", d.Lock)
	}
	if d.Resumable == nil || d.Resumable.ID != runID {
		t.Fatalf("resumable %+v, want run %d (one op planned)", d.Resumable, runID)
	}
}

func TestScanEntitiesInKeyOrderAndSnapshotsInChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	const n = 1200 // more than two snapshot chunks
	var plan []PlannedOp
	for i := n - 1; i >= 0; i-- { // journaled in reverse key order
		plan = append(plan, customerOp(i))
	}
	runID, seqs := journalPlan(t, s, plan)
	var outs []Outcome
	for i, op := range plan {
		outs = append(outs, doneOutcome(runID, seqs[i], op))
	}
	if err := s.Commit(ctx, outs); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err := s.ScanEntities(ctx, "customer", func(e Entity) error {
		keys = append(keys, e.ERPKey)
		return nil
	})
	if err != nil || len(keys) != n || !sort.StringsAreSorted(keys) {
		t.Fatalf("ScanEntities gave %d keys, sorted=%v, err=%v", len(keys), sort.StringsAreSorted(keys), err)
	}
	stop := fmt.Errorf("stop")
	calls := 0
	if err := s.ScanEntities(ctx, "customer", func(Entity) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("ScanEntities did not stop on the callback's error: %v after %d calls", err, calls)
	}
	want := append(keys[:0:0], keys...)
	want = append(want, "missing")
	snaps, err := s.Snapshots(ctx, "customer", want)
	if err != nil || len(snaps) != n {
		t.Fatalf("Snapshots gave %d, %v; want %d", len(snaps), err, n)
	}
	if got := string(snaps["0000123"]); got != string(customerOp(123).Payload) {
		t.Fatalf("snapshot of 0000123 = %s", got)
	}
	loaded, err := s.LoadEntities(ctx, "customer")
	if err != nil || len(loaded) != n || loaded["0000042"] != (EntityRef{RemoteID: "C-0000042", RowHash: customerOp(42).NewHash}) {
		t.Fatalf("LoadEntities: %d entries, %+v, %v", len(loaded), loaded["0000042"], err)
	}
}
