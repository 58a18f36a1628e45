package state

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// journalSize counts a run's ops and update images.
func journalSize(t *testing.T, s *Store, runID int64) (ops, images int64) {
	t.Helper()
	if err := s.reader.QueryRow(`SELECT (SELECT count(*) FROM ops WHERE run_id = ?1), (SELECT count(*) FROM update_images WHERE run_id = ?1)`,
		runID).Scan(&ops, &images); err != nil {
		t.Fatal(err)
	}
	return ops, images
}

// fileDigest hashes the state file and its write-ahead log.
func fileDigest(t *testing.T, path string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// prunedIDs lists the runs of a prune result.
func prunedIDs(res PruneResult) []int64 {
	var ids []int64
	for _, j := range res.Pruned {
		ids = append(ids, j.RunID)
	}
	return ids
}

// A history of every kind of run, the oldest beyond the retention: the prune removes the journals of the
// finished ones and keeps the journal of the interrupted run whose planned ops the next import resumes, the
// run that is marked running, every run row, the checkpoint, the SD mappings and the deletion log. A dry run
// changes no byte; a second prune finds nothing more.
func TestPruneJournalsKeepsWhatAResumeNeeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTestStore(t)
	finish := func(run int64, status RunStatus) {
		t.Helper()
		if err := s.FinishRun(ctx, run, status, map[string]int{"failed": 0}); err != nil {
			t.Fatal(err)
		}
	}
	commitAll := func(run int64, seqs []int64, ops []PlannedOp) {
		t.Helper()
		var outs []Outcome
		for i, seq := range seqs {
			outs = append(outs, doneOutcome(run, seq, ops[i]))
		}
		if err := s.Commit(ctx, outs); err != nil {
			t.Fatal(err)
		}
	}

	// 1: completed; created three customers, updated one (with its image) and deleted one (deletion log).
	created := []PlannedOp{customerOp(1), customerOp(2), customerOp(3)}
	completedOld, seqs := journalPlan(t, s, created)
	commitAll(completedOld, seqs, created)
	update := customerOp(1)
	update.Action = ActionUpdate
	gone := PlannedOp{Kind: "customer", ERPKey: customerOp(3).ERPKey, RemoteID: customerOp(3).RemoteID, Action: ActionDelete, Reason: ReasonERPDeleted}
	j, err := s.BeginJournal(ctx, completedOld)
	if err != nil {
		t.Fatal(err)
	}
	upSeq, _ := j.AddIn(1, update)
	delSeq, _ := j.AddIn(1, gone)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	up := doneOutcome(completedOld, upSeq, update)
	up.HTTPStatus = 200
	up.Image = &UpdateImage{Before: json.RawMessage(`{"firstName":"F1"}`), After: json.RawMessage(`{"firstName":"New1"}`)}
	del := Outcome{RunID: completedOld, Seq: delSeq, Kind: gone.Kind, ERPKey: gone.ERPKey, Action: ActionDelete, Reason: ReasonERPDeleted,
		RemoteID: gone.RemoteID, PreImage: json.RawMessage(`{"id":"C-0000003","firstName":"F3"}`)}
	if err := s.Commit(ctx, []Outcome{up, del}); err != nil {
		t.Fatal(err)
	}
	finish(completedOld, RunCompleted)

	// 2: interrupted with two of its three ops still planned: the next import resumes it.
	interruptedOps := []PlannedOp{customerOp(4), customerOp(5), customerOp(6)}
	interrupted, seqs := journalPlan(t, s, interruptedOps)
	commitAll(interrupted, seqs[:1], interruptedOps)
	finish(interrupted, RunInterrupted)

	// 3: failed, its planned ops taken over by a later run: nothing resumes it.
	superseded, _ := journalPlan(t, s, []PlannedOp{customerOp(7), customerOp(8)})
	finish(superseded, RunFailed)
	if _, err := s.SkipPendingOps(ctx, superseded, "", "taken over by run 9"); err != nil {
		t.Fatal(err)
	}

	// 4: a plan a guard refused (planned, never applied).
	shelved, _ := journalPlan(t, s, []PlannedOp{customerOp(9)})
	finish(shelved, RunPlanned)

	// 5: stopped while planning: its journal was never completed, so it is never resumed.
	abandoned, err := s.BeginRun(ctx, "import", nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err = s.BeginJournal(ctx, abandoned)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Add(customerOp(10)); err != nil {
		t.Fatal(err)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	j.Abort()
	finish(abandoned, RunFailed)

	// 6: marked running (its process died; no run began since), with planned ops.
	crashed, _ := journalPlan(t, s, []PlannedOp{customerOp(11)})

	// 7: an export, which has no journal.
	export, err := s.BeginRun(ctx, "export", nil)
	if err != nil {
		t.Fatal(err)
	}
	finish(export, RunCompleted)

	// 8, 9: the two most recent journals, which the retention keeps.
	recent := make([]int64, 2)
	for i := range recent {
		ops := []PlannedOp{customerOp(20 + i)}
		var seqs []int64
		recent[i], seqs = journalPlan(t, s, ops)
		commitAll(recent[i], seqs, ops)
		finish(recent[i], RunCompleted)
	}
	// BeginRun marked the crashed run interrupted; as if `state prune` came between the crash and the next run:
	if _, err := s.writer.Exec(`UPDATE runs SET status = 'running' WHERE id = ?`, crashed); err != nil {
		t.Fatal(err)
	}

	entities, _ := s.CountEntities(ctx)
	mappings, _ := s.CountMappings(ctx)
	keep := JournalRetention{KeepRuns: 2}
	wantPruned := []int64{completedOld, superseded, shelved, abandoned}

	before := fileDigest(t, path)
	dry, err := s.PruneJournals(ctx, keep, true)
	if err != nil {
		t.Fatal(err)
	}
	if after := fileDigest(t, path); after != before {
		t.Fatal("the dry run changed the state file")
	}
	if got := prunedIDs(dry); !slices.Equal(got, wantPruned) || dry.Ops != 5+2+1+1 || dry.UpdateImages != 1 || dry.Retained != 2 {
		t.Fatalf("dry run would prune %v (%d ops, %d images, %d retained), want %v (9 ops, 1 image, 2 retained)", got, dry.Ops, dry.UpdateImages, dry.Retained, wantPruned)
	}
	for _, run := range wantPruned {
		if r, _, _ := s.GetRun(ctx, run); r.JournalPruned() {
			t.Fatalf("the dry run marked run %d pruned", run)
		}
	}

	res, err := s.PruneJournals(ctx, keep, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := prunedIDs(res); !slices.Equal(got, wantPruned) || res.Ops != dry.Ops || res.UpdateImages != dry.UpdateImages {
		t.Fatalf("pruned %v (%d ops, %d images), want what the dry run said: %v (%d ops, %d images)", got, res.Ops, res.UpdateImages, wantPruned, dry.Ops, dry.UpdateImages)
	}
	var kept []string
	for _, k := range res.Unfinished {
		kept = append(kept, fmt.Sprintf("%d %s", k.RunID, k.Why))
	}
	if len(kept) != 2 || !strings.HasPrefix(kept[0], fmt.Sprintf("%d the run is marked running", crashed)) ||
		kept[1] != fmt.Sprintf("%d 2 ops of the interrupted run are still planned: the next import resumes it", interrupted) {
		t.Fatalf("kept beyond the retention:\n%s", strings.Join(kept, "\n"))
	}

	runs, err := s.ListRuns(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 9 {
		t.Fatalf("%d runs in the history after the prune, want all 9", len(runs))
	}
	for _, r := range runs {
		ops, images := journalSize(t, s, r.ID)
		wantGone := slices.Contains(wantPruned, r.ID)
		if r.JournalPruned() != wantGone || (wantGone && ops+images != 0) {
			t.Errorf("run %d (%s %s): pruned %v with %d ops and %d images left; want pruned %v", r.ID, r.Kind, r.Status, r.JournalPruned(), ops, images, wantGone)
		}
		if !wantGone && r.Kind == "import" && ops == 0 {
			t.Errorf("run %d (%s): its journal went", r.ID, r.Status)
		}
	}
	if n, _ := s.CountEntities(ctx); !maps.Equal(n, entities) {
		t.Fatalf("checkpoint %v after the prune, was %v", n, entities)
	}
	if n, _ := s.CountMappings(ctx); n != mappings {
		t.Fatalf("mappings %+v after the prune, were %+v", n, mappings)
	}
	var logged []string
	if err := s.ScanDeletions(ctx, DeletionFilter{RunID: completedOld, IncludeAcked: true}, func(d DeletionEntry) error {
		logged = append(logged, d.RemoteID+" "+string(d.PreImage))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(logged) != 1 || logged[0] != `C-0000003 {"id":"C-0000003","firstName":"F3"}` {
		t.Fatalf("deletion log of the pruned run: %v", logged)
	}
	if run, ok, err := s.ResumableRun(ctx, 0); err != nil || ok {
		t.Fatalf("resumable after the prune: %v %v %v (the most recent runs completed)", run.ID, ok, err)
	}

	again, err := s.PruneJournals(ctx, keep, false)
	if err != nil || len(again.Pruned) != 0 || len(again.Unfinished) != 2 {
		t.Fatalf("second prune: %+v, %v", again, err)
	}
}

// The age rule keeps the journals of recent runs beyond KeepRuns; a retention below one run is refused.
func TestPruneJournalsByAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	var runs []int64
	for i := range 4 {
		run, _ := journalPlan(t, s, []PlannedOp{customerOp(i + 1)})
		if err := s.FinishRun(ctx, run, RunCompleted, nil); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	// The first two started 40 days ago.
	old := formatTime(time.Now().Add(-40 * 24 * time.Hour))
	if _, err := s.writer.Exec(`UPDATE runs SET started_at = ? WHERE id IN (?, ?)`, old, runs[0], runs[1]); err != nil {
		t.Fatal(err)
	}
	res, err := s.PruneJournals(ctx, JournalRetention{KeepRuns: 1, KeepFor: 30 * 24 * time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := prunedIDs(res); !slices.Equal(got, runs[:2]) || res.Retained != 2 {
		t.Fatalf("by age: would prune %v, retain %d; want %v, 2", got, res.Retained, runs[:2])
	}
	if _, err := s.PruneJournals(ctx, JournalRetention{KeepRuns: 0}, true); err == nil {
		t.Fatal("a retention of 0 runs was accepted")
	}
}

// A prune that stopped after marking a run leaves rows that no reader takes for a whole journal; the next
// prune removes them.
func TestPruneJournalsFinishesAStoppedPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	run, _ := journalPlan(t, s, []PlannedOp{customerOp(1), customerOp(2)})
	if err := s.FinishRun(ctx, run, RunCompleted, nil); err != nil {
		t.Fatal(err)
	}
	newer, _ := journalPlan(t, s, []PlannedOp{customerOp(3)})
	if err := s.FinishRun(ctx, newer, RunCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.Exec(`UPDATE runs SET journal_pruned_at = ? WHERE id = ?`, formatTime(time.Now()), run); err != nil {
		t.Fatal(err)
	}
	res, err := s.PruneJournals(ctx, JournalRetention{KeepRuns: 5}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ops, _ := journalSize(t, s, run); ops != 0 || !slices.Equal(prunedIDs(res), []int64{run}) || res.Retained != 1 {
		t.Fatalf("after the prune: %d ops left, pruned %v, retained %d", ops, prunedIDs(res), res.Retained)
	}
}

// A large journal pruned leaves its pages free in the file; VACUUM gives them back to the file system and
// the write-ahead log is emptied.
func TestPruneThenVacuumShrinksTheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTestStore(t)
	big := make([]PlannedOp, 20_000)
	for i := range big {
		big[i] = customerOp(i + 1)
		big[i].Payload = json.RawMessage(fmt.Sprintf(`{"firstName":"F%d","lastName":"%s"}`, i, strings.Repeat("x", 200)))
	}
	run, _ := journalPlan(t, s, big)
	if err := s.FinishRun(ctx, run, RunCompleted, nil); err != nil {
		t.Fatal(err)
	}
	small, _ := journalPlan(t, s, []PlannedOp{customerOp(1)})
	if err := s.FinishRun(ctx, small, RunCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.TruncateWAL(ctx); err != nil {
		t.Fatal(err)
	}
	full, err := s.FileSize()
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.PruneJournals(ctx, JournalRetention{KeepRuns: 1}, false)
	if err != nil || res.Ops != 20_000 {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	if err := s.TruncateWAL(ctx); err != nil {
		t.Fatal(err)
	}
	pruned, _ := s.FileSize()
	if err := s.Vacuum(ctx); err != nil {
		t.Fatal(err)
	}
	vacuumed, _ := s.FileSize()
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() != 0 {
		t.Fatalf("the write-ahead log keeps %d bytes after the vacuum", wal.Size())
	}
	t.Logf("file %d bytes with the journal, %d pruned, %d vacuumed", full, pruned, vacuumed)
	if full < 4_000_000 || vacuumed > full/5 {
		t.Fatalf("file %d bytes with the journal, %d after prune and vacuum: want less than a fifth", full, vacuumed)
	}
	if ops, _ := journalSize(t, s, small); ops != 1 {
		t.Fatalf("the kept journal has %d ops after the vacuum", ops)
	}
}

// Messages count things in the singular for one: "kept by 1 run", not "1 runs".
func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 ops"}, {1, "1 op"}, {2, "2 ops"}, {1_000_000, "1000000 ops"}} {
		if got := Count(tc.n, "op", "ops"); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := Count(1, "journal of a run", "journals"); got != "1 journal of a run" {
		t.Errorf("Count(1) with an int: %q", got)
	}
}
