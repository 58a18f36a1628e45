package state

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func customerOp(i int) PlannedOp {
	return PlannedOp{
		Kind:     "customer",
		ERPKey:   fmt.Sprintf("%07d", i),
		RemoteID: fmt.Sprintf("C-%07d", i),
		Action:   ActionCreate,
		NewHash:  uint64(i)*0x9E3779B97F4A7C15 | 1<<63, // high bit set: the full uint64 range must survive
		Payload:  json.RawMessage(fmt.Sprintf(`{"firstName":"F%d","lastName":"L%d"}`, i, i)),
	}
}

func doneOutcome(runID, seq int64, op PlannedOp) Outcome {
	return Outcome{
		RunID: runID, Seq: seq, Kind: op.Kind, ERPKey: op.ERPKey, Action: op.Action,
		Attempts: 1, HTTPStatus: 201, RemoteID: op.RemoteID, RowHash: op.NewHash, Snapshot: op.Payload,
		Mapping: &SDMapping{CustomerNumber: op.RemoteID, SDCustomerNumber: op.ERPKey},
	}
}

func TestJournalCommitCrashResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTestStore(t)

	const total, committed, failed = 1000, 400, 10
	plan := make([]PlannedOp, total)
	for i := range plan {
		plan[i] = customerOp(i)
	}
	plan[total-1] = PlannedOp{Kind: "customer", ERPKey: "gone", RemoteID: "C-gone", Action: ActionDelete, Reason: ReasonFullSnapshot}
	runID, seqs := journalPlan(t, s, plan)
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("seq of op %d is %d, want %d", i, seq, i+1)
		}
	}

	// Commit the first ops in small batches, and record a few failures.
	for start := 0; start < committed; start += 100 {
		batch := make([]Outcome, 0, 100)
		for i := start; i < start+100; i++ {
			batch = append(batch, doneOutcome(runID, seqs[i], plan[i]))
		}
		if err := s.Commit(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var failures []Outcome
	for i := committed; i < committed+failed; i++ {
		failures = append(failures, Outcome{RunID: runID, Seq: seqs[i], Kind: "customer", ERPKey: plan[i].ERPKey,
			Action: ActionCreate, Attempts: 3, HTTPStatus: 400, Error: "400 Bad Request: invalid email"})
	}
	if err := s.Commit(ctx, failures); err != nil {
		t.Fatal(err)
	}

	// The crash: the process ends without finishing the run.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)

	run, ok, err := s.ResumableRun(ctx, 0)
	if err != nil || !ok || run.ID != runID || run.Status != RunRunning {
		t.Fatalf("ResumableRun = %+v, %v, %v; want run %d still running", run, ok, err, runID)
	}
	pending, err := s.PendingOps(ctx, runID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != total-committed-failed {
		t.Fatalf("%d pending ops, want %d", len(pending), total-committed-failed)
	}
	for k, op := range pending {
		i := committed + failed + k
		want := plan[i]
		if op.Seq != seqs[i] || op.Status != OpPlanned || op.ERPKey != want.ERPKey || op.RemoteID != want.RemoteID ||
			op.Action != want.Action || op.NewHash != want.NewHash || op.Reason != want.Reason ||
			string(op.Payload) != string(want.Payload) {
			t.Fatalf("pending op %d = %+v, want seq %d of %+v", k, op, seqs[i], want)
		}
	}

	counts, err := s.CountOps(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if counts != (OpCounts{Planned: total - committed - failed, Done: committed, Failed: failed}) {
		t.Fatalf("op counts %+v", counts)
	}
	var failedOps []Op
	if err := s.ScanOps(ctx, runID, OpFilter{Status: OpFailed}, func(op Op) error {
		failedOps = append(failedOps, op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(failedOps) != failed || failedOps[0].Error != "400 Bad Request: invalid email" ||
		failedOps[0].Attempts != 3 || failedOps[0].HTTPStatus != 400 {
		t.Fatalf("failed ops %+v", failedOps)
	}
	entities, err := s.LoadEntities(ctx, "customer")
	if err != nil {
		t.Fatal(err)
	}
	if len(entities) != committed {
		t.Fatalf("%d entities in the checkpoint, want %d (only committed ops)", len(entities), committed)
	}

	// A new run marks the crashed one interrupted; its leftovers stay resumable until skipped.
	newRun, err := s.BeginRun(ctx, "import", nil)
	if err != nil {
		t.Fatal(err)
	}
	old, _, _ := s.GetRun(ctx, runID)
	if old.Status != RunInterrupted {
		t.Fatalf("crashed run status %q after a new run began, want interrupted", old.Status)
	}
	if run, ok, _ := s.ResumableRun(ctx, newRun); !ok || run.ID != runID {
		t.Fatalf("ResumableRun after BeginRun = %+v, %v; want run %d", run, ok, runID)
	}
	// The new run journals its own plan; asked from the new run, the old one is still the one to resume.
	j, err := s.BeginJournal(ctx, newRun)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Add(customerOp(5000)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if run, ok, _ := s.ResumableRun(ctx, newRun); !ok || run.ID != runID {
		t.Fatalf("ResumableRun(current=%d) = %+v, %v; want run %d", newRun, run, ok, runID)
	}
	deletes, err := s.PendingOps(ctx, runID, "address")
	if err != nil || len(deletes) != 0 {
		t.Fatalf("pending address ops %v, %v; want none", deletes, err)
	}
	n, err := s.SkipPendingOps(ctx, runID, "", fmt.Sprintf("taken over by run %d", newRun))
	if err != nil || n != int64(total-committed-failed) {
		t.Fatalf("SkipPendingOps = %d, %v", n, err)
	}
	if run, ok, _ := s.ResumableRun(ctx, newRun); ok {
		t.Fatalf("run %d with no planned ops left is still offered for resuming", run.ID)
	}
}

func TestAbortedJournalIsNotResumable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	runID, err := s.BeginRun(ctx, "import", nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.BeginJournal(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < journalRowsPerTx+10; i++ { // past one transaction, so some ops are committed
		if _, err := j.Add(customerOp(i)); err != nil {
			t.Fatal(err)
		}
	}
	j.Abort()
	if _, err := j.Add(customerOp(0)); err == nil {
		t.Fatal("Add after Abort succeeded")
	}
	if _, ok, err := s.ResumableRun(ctx, 0); err != nil || ok {
		t.Fatalf("ResumableRun after an aborted journal = %v, %v; want nothing", ok, err)
	}
	// The writer is free again.
	if err := s.FinishRun(ctx, runID, RunFailed, map[string]int{"created": 0}); err != nil {
		t.Fatal(err)
	}
}

func TestJournalRejectsInvalidOps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	runID, _ := s.BeginRun(ctx, "import", nil)
	j, err := s.BeginJournal(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Abort()
	for _, bad := range []PlannedOp{
		{Kind: "customer", Action: ActionCreate},
		{Kind: "customer", ERPKey: "1", Action: "upsert"},
		{Kind: "customer", ERPKey: "1", Action: ActionDelete},
		{Kind: "customer", ERPKey: "1", Action: ActionUpdate, Reason: ReasonERPDeleted},
	} {
		if _, err := j.Add(bad); err == nil {
			t.Errorf("Add(%+v) accepted an invalid op", bad)
		}
	}
}

func TestJournalContinuesSeqs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	runID, _ := journalPlan(t, s, []PlannedOp{customerOp(1), customerOp(2)})
	j, err := s.BeginJournal(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := j.Add(customerOp(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if seq != 3 {
		t.Fatalf("seq after two journaled ops = %d, want 3", seq)
	}
}

func TestCommitIsAtomicPerBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	a, b := customerOp(1), customerOp(2)
	b.RemoteID = a.RemoteID // two ERP keys on one platform record: the checkpoint refuses it
	runID, seqs := journalPlan(t, s, []PlannedOp{a, b})

	err := s.Commit(ctx, []Outcome{doneOutcome(runID, seqs[0], a), doneOutcome(runID, seqs[1], b)})
	if !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Commit of a batch violating a constraint: %v, want ErrWriteFailed", err)
	}
	assertNothingCommitted(t, s, runID, a)

	// An outcome for an op that was never journaled also fails the whole batch.
	stray := doneOutcome(runID, 99, customerOp(99))
	if err := s.Commit(ctx, []Outcome{doneOutcome(runID, seqs[0], a), stray}); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Commit with an unknown op: %v, want ErrWriteFailed", err)
	}
	assertNothingCommitted(t, s, runID, a)

	// The first op alone commits entity, snapshot, mapping and op status together.
	if err := s.Commit(ctx, []Outcome{doneOutcome(runID, seqs[0], a)}); err != nil {
		t.Fatal(err)
	}
	e, ok, err := s.GetEntity(ctx, EntityKey{"customer", a.ERPKey})
	if err != nil || !ok || e.RemoteID != a.RemoteID || e.RowHash != a.NewHash || e.SyncedRun != runID {
		t.Fatalf("entity %+v, %v, %v", e, ok, err)
	}
	snaps, err := s.Snapshots(ctx, "customer", []string{a.ERPKey})
	if err != nil || string(snaps[a.ERPKey]) != string(a.Payload) {
		t.Fatalf("snapshot %q, %v; want %q", snaps[a.ERPKey], err, a.Payload)
	}
	m, ok, err := s.GetMapping(ctx, a.RemoteID)
	if err != nil || !ok || m.SDCustomerNumber != a.ERPKey || m.Pushed || m.DeletedInYaaS {
		t.Fatalf("mapping %+v, %v, %v", m, ok, err)
	}
	if c, _ := s.CountOps(ctx, runID); c.Done != 1 || c.Planned != 1 {
		t.Fatalf("op counts %+v, want 1 done 1 planned", c)
	}
}

func assertNothingCommitted(t *testing.T, s *Store, runID int64, op PlannedOp) {
	t.Helper()
	ctx := context.Background()
	if _, ok, _ := s.GetEntity(ctx, EntityKey{"customer", op.ERPKey}); ok {
		t.Fatal("a failed batch left an entity behind")
	}
	if _, ok, _ := s.GetMapping(ctx, op.RemoteID); ok {
		t.Fatal("a failed batch left a mapping behind")
	}
	if snaps, _ := s.Snapshots(ctx, "customer", []string{op.ERPKey}); len(snaps) != 0 {
		t.Fatal("a failed batch left a snapshot behind")
	}
	if c, _ := s.CountOps(ctx, runID); c.Done != 0 || c.Planned != 2 {
		t.Fatalf("a failed batch changed op statuses: %+v", c)
	}
}

func TestCommitUpdateKeepsMappingPushedAndDropsMissingSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	op := customerOp(7)
	runID, seqs := journalPlan(t, s, []PlannedOp{op})
	if err := s.Commit(ctx, []Outcome{doneOutcome(runID, seqs[0], op)}); err != nil {
		t.Fatal(err)
	}
	m, _, _ := s.GetMapping(ctx, op.RemoteID)
	if n, err := s.MarkMappingsPushed(ctx, []SDMapping{m}); err != nil || n != 1 {
		t.Fatalf("MarkMappingsPushed = %d, %v", n, err)
	}

	update := op
	update.Action, update.NewHash, update.Payload = ActionUpdate, 42, nil
	run2, seqs2 := journalPlan(t, s, []PlannedOp{update})
	out := doneOutcome(run2, seqs2[0], update)
	out.Snapshot = nil
	if err := s.Commit(ctx, []Outcome{out}); err != nil {
		t.Fatal(err)
	}
	e, _, _ := s.GetEntity(ctx, EntityKey{"customer", op.ERPKey})
	if e.RowHash != 42 || e.SyncedRun != run2 {
		t.Fatalf("entity after update %+v", e)
	}
	if snaps, _ := s.Snapshots(ctx, "customer", []string{op.ERPKey}); len(snaps) != 0 {
		t.Fatalf("an update without a snapshot kept the old one: %q", snaps)
	}
	if m, _, _ := s.GetMapping(ctx, op.RemoteID); !m.Pushed {
		t.Fatal("an unchanged mapping lost its pushed flag")
	}
}

// TestCommitUpdatesSettleKeysTheCheckpointLacksOrHoldsUnderAnotherID commits one batch of updates, large enough
// for every statement size, among which the checkpoint lacks one key, holds one under another remote id and
// holds one without a snapshot: each must end exactly as its outcome says, like the rows the fast path updates.
func TestCommitUpdatesSettleKeysTheCheckpointLacksOrHoldsUnderAnotherID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	const n, lacked, movedID, noSnapshot = 70, 3, 66, 69
	var creates []PlannedOp
	for i := range n {
		if i == lacked {
			continue
		}
		op := customerOp(i)
		if i == noSnapshot {
			op.Payload = nil
		}
		creates = append(creates, op)
	}
	runID, seqs := journalPlan(t, s, creates)
	var outs []Outcome
	for i, op := range creates {
		out := doneOutcome(runID, seqs[i], op)
		if op.Payload == nil {
			out.Snapshot = nil
		}
		outs = append(outs, out)
	}
	if err := s.Commit(ctx, outs); err != nil {
		t.Fatal(err)
	}

	var updates []PlannedOp
	for i := range n {
		op := customerOp(i)
		op.Action, op.NewHash = ActionUpdate, uint64(1000+i)
		op.Payload = json.RawMessage(fmt.Sprintf(`{"firstName":"U%d"}`, i))
		if i == movedID {
			op.RemoteID = "C-moved"
		}
		updates = append(updates, op)
	}
	run2, seqs2 := journalPlan(t, s, updates)
	outs = outs[:0]
	for i, op := range updates {
		out := doneOutcome(run2, seqs2[i], op)
		out.Mapping = nil
		outs = append(outs, out)
	}
	if err := s.Commit(ctx, outs); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, n)
	for _, op := range updates {
		keys = append(keys, op.ERPKey)
	}
	snaps, err := s.Snapshots(ctx, "customer", keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range updates {
		e, ok, err := s.GetEntity(ctx, EntityKey{op.Kind, op.ERPKey})
		if err != nil || !ok || e.RemoteID != op.RemoteID || e.RowHash != op.NewHash || e.SyncedRun != run2 {
			t.Errorf("entity %s = %+v, %v, %v; want remote id %s, row hash %d, run %d", op.ERPKey, e, ok, err,
				op.RemoteID, op.NewHash, run2)
		}
		if got := string(snaps[op.ERPKey]); got != string(op.Payload) {
			t.Errorf("snapshot %s = %q, want %q", op.ERPKey, got, op.Payload)
		}
	}
}

func TestCommitMasksSecretsInErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	op := customerOp(1)
	runID, seqs := journalPlan(t, s, []PlannedOp{op})
	err := s.Commit(ctx, []Outcome{{RunID: runID, Seq: seqs[0], Kind: op.Kind, ERPKey: op.ERPKey, Action: op.Action,
		HTTPStatus: 401, Error: `401: Authorization: Bearer eyJhbGciOi.abc.def; body client_secret=hunter2&x=1 {"access_token": "tok123"}`}})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	_ = s.ScanOps(ctx, runID, OpFilter{}, func(op Op) error { stored = op.Error; return nil })
	for _, secret := range []string{"eyJhbGciOi", "hunter2", "tok123"} {
		if strings.Contains(stored, secret) {
			t.Errorf("stored error %q contains the secret %q", stored, secret)
		}
	}
}

func TestCommitWithoutOpAdoptsAndValidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	adopt := Outcome{Kind: "customer", ERPKey: "0042", Action: ActionCreate, RemoteID: "existing-id", RowHash: 7,
		Mapping: &SDMapping{CustomerNumber: "existing-id", SDCustomerNumber: "0042"}}
	if err := s.Commit(ctx, []Outcome{adopt}); err != nil {
		t.Fatal(err)
	}
	e, ok, _ := s.GetEntity(ctx, EntityKey{"customer", "0042"})
	if !ok || e.RemoteID != "existing-id" || e.SyncedRun != 0 {
		t.Fatalf("adopted entity %+v, %v", e, ok)
	}
	for _, bad := range []Outcome{
		{Kind: "customer", ERPKey: "1", Action: ActionCreate},                                       // no remote id
		{Kind: "customer", ERPKey: "1", Action: ActionDelete, RemoteID: "x"},                        // no reason
		{Kind: "customer", ERPKey: "1", Action: ActionCreate, Error: "boom"},                        // failure without op
		{Kind: "customer", ERPKey: "1", Action: ActionCreate, RemoteID: "x", Mapping: &SDMapping{}}, // empty mapping
	} {
		if err := s.Commit(ctx, []Outcome{bad}); err == nil {
			t.Errorf("Commit(%+v) accepted an invalid outcome", bad)
		}
	}
}

func TestJournalPhasesPagesAndMoves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	runID, err := s.BeginRun(ctx, "import", nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.BeginJournal(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	// Journaled out of phase order, with a flush in between (the planner flushes while other writes wait).
	var want []string
	add := func(phase, i int) int64 {
		op := customerOp(i)
		op.Record = []byte{byte(i), 0, 0xff}
		seq, err := j.AddIn(phase, op)
		if err != nil {
			t.Fatal(err)
		}
		if PhaseOf(seq) != phase {
			t.Fatalf("seq %d is in phase %d, want %d", seq, PhaseOf(seq), phase)
		}
		return seq
	}
	add(2, 20)
	add(1, 10)
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	moved := add(2, 21)
	add(1, 11)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = s.BeginJournal(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	add(1, 12)
	if _, err := j.AddIn(MaxPhase+1, customerOp(1)); err == nil {
		t.Fatal("AddIn accepted a phase beyond MaxPhase")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Op 21 moves to phase 0, before everything else.
	if err := s.MoveOps(ctx, runID, []OpMove{{From: moved, To: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MoveOps(ctx, runID, []OpMove{{From: moved, To: 6}}); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("moving an op that is no longer there: %v, want ErrWriteFailed", err)
	}
	want = []string{"0000021", "0000010", "0000011", "0000012", "0000020"}
	var got []string
	var after int64
	for {
		page, err := s.PlannedPage(ctx, runID, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, op := range page {
			i := op.ERPKey[len(op.ERPKey)-2:]
			if string(op.Record) != string([]byte{byte(op.ERPKey[5]-'0')*10 + byte(op.ERPKey[6]-'0'), 0, 0xff}) {
				t.Fatalf("op %s record %v", i, op.Record)
			}
			got = append(got, op.ERPKey)
			after = op.Seq
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("planned ops in seq order: %v, want %v", got, want)
	}
}

func TestCommitBatchTouchingOneKeyTwiceKeepsItsOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	a := customerOp(1)
	runID, seqs := journalPlan(t, s, []PlannedOp{a})
	// Adopted first (no op), then written by the run's op: the later outcome wins.
	adopt := Outcome{Kind: a.Kind, ERPKey: a.ERPKey, Action: ActionCreate, RemoteID: a.RemoteID, RowHash: 7}
	if err := s.Commit(ctx, []Outcome{adopt, doneOutcome(runID, seqs[0], a)}); err != nil {
		t.Fatal(err)
	}
	e, ok, err := s.GetEntity(ctx, EntityKey{a.Kind, a.ERPKey})
	if err != nil || !ok || e.RowHash != a.NewHash || e.SyncedRun != runID {
		t.Fatalf("entity %+v, %v, %v; want the op's row hash and run", e, ok, err)
	}
}

// TestJournalKeepsEveryColumnOfMixedShapes journals ops of more kinds, actions and reasons than the journal
// prepares statements for, with and without payloads and records, some shapes filling several multi-row inserts
// and leaving rows over, across a Flush; every op must read back exactly as it was added.
func TestJournalKeepsEveryColumnOfMixedShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	runID, err := s.BeginRun(ctx, "import", nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.BeginJournal(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	var want []Op
	add := func(phase int, op PlannedOp) {
		t.Helper()
		seq, err := j.AddIn(phase, op)
		if err != nil {
			t.Fatalf("AddIn(%+v): %v", op, err)
		}
		want = append(want, Op{RunID: runID, Seq: seq, PlannedOp: op, Status: OpPlanned})
	}
	for i := 0; i < 700; i++ {
		kind := fmt.Sprintf("kind'%d", i%(maxJournalShapes+5)) // a quote must survive the literal
		op := PlannedOp{Kind: kind, ERPKey: fmt.Sprintf("K%04d", i), RemoteID: fmt.Sprintf("R-%04d", i),
			Action: []Action{ActionCreate, ActionUpdate, ActionDelete}[i%3], NewHash: uint64(i) * 0x9E3779B97F4A7C15}
		if op.Action == ActionDelete {
			op.NewHash = 0
			op.Reason = []DeletionReason{ReasonERPDeleted, ReasonFullSnapshot}[i%2]
		}
		switch i % 4 {
		case 0:
			op.Record = []byte{byte(i), 0, byte(i >> 8)}
		case 1:
			op.Payload = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
		case 2:
			op.Record, op.Payload = []byte("r"), json.RawMessage(`{"both":true}`)
		}
		if i < 300 { // a run of one shape: several full inserts of it
			op.Kind, op.Action, op.Reason, op.Payload = "customer", ActionCreate, "", nil
		}
		add(i%3, op)
		if i == 450 {
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b Op) int { return cmp.Compare(a.Seq, b.Seq) })
	var got []Op
	if err := s.ScanOps(ctx, runID, OpFilter{}, func(op Op) error {
		got = append(got, op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read back %d ops, journaled %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("op %d read back as\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}
