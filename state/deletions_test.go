package state

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"custsync/mapping"
)

func TestDeleteOutcomeLogsPreImage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	op := customerOp(5)
	runID, seqs := journalPlan(t, s, []PlannedOp{op})
	if err := s.Commit(ctx, []Outcome{doneOutcome(runID, seqs[0], op)}); err != nil {
		t.Fatal(err)
	}

	del := PlannedOp{Kind: op.Kind, ERPKey: op.ERPKey, RemoteID: op.RemoteID, Action: ActionDelete, Reason: ReasonERPDeleted}
	run2, seqs2 := journalPlan(t, s, []PlannedOp{del})
	preImage := json.RawMessage(`{"id":"C-0000005","firstName":"F5","metadata":{"version":3},"note":"ü \"quoted\""}`)
	err := s.Commit(ctx, []Outcome{{
		RunID: run2, Seq: seqs2[0], Kind: del.Kind, ERPKey: del.ERPKey, Action: ActionDelete, Attempts: 1,
		HTTPStatus: 202, RemoteID: del.RemoteID, Reason: ReasonERPDeleted, PreImage: preImage,
		Mapping: &SDMapping{CustomerNumber: op.RemoteID, SDCustomerNumber: op.ERPKey, DeletedInYaaS: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetEntity(ctx, EntityKey{op.Kind, op.ERPKey}); ok {
		t.Fatal("deleted entity still in the checkpoint")
	}
	if snaps, _ := s.Snapshots(ctx, op.Kind, []string{op.ERPKey}); len(snaps) != 0 {
		t.Fatal("deleted entity's snapshot is still stored")
	}
	if m, _, _ := s.GetMapping(ctx, op.RemoteID); !m.DeletedInYaaS || m.Pushed {
		t.Fatalf("mapping after delete %+v, want deletedInYaaS and unpushed", m)
	}
	log, err := s.ListDeletions(ctx, DeletionFilter{})
	if err != nil || len(log) != 1 {
		t.Fatalf("deletion log %+v, %v", log, err)
	}
	e := log[0]
	if e.Kind != op.Kind || e.ERPKey != op.ERPKey || e.RemoteID != op.RemoteID || e.Reason != ReasonERPDeleted ||
		e.RunID != run2 || e.CreatedAt.IsZero() || !e.AckedAt.IsZero() {
		t.Fatalf("deletion entry %+v", e)
	}
	if !bytes.Equal(e.PreImage, preImage) {
		t.Fatalf("pre-image %s, want %s", e.PreImage, preImage)
	}
}

func TestDeleteEntityAndAcks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	var plan []PlannedOp
	for i := 0; i < 3; i++ {
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

	// Found missing on the platform: entity removed and logged together; remote id taken from the checkpoint.
	id, err := s.DeleteEntity(ctx, DeletionEntry{Kind: "customer", ERPKey: plan[0].ERPKey, Reason: ReasonDeletedInPlatform})
	if err != nil || id == 0 {
		t.Fatalf("DeleteEntity = %d, %v", id, err)
	}
	if _, ok, _ := s.GetEntity(ctx, EntityKey{"customer", plan[0].ERPKey}); ok {
		t.Fatal("DeleteEntity left the entity")
	}
	if _, err := s.LogDeletion(ctx, DeletionEntry{Kind: "customer", ERPKey: plan[1].ERPKey, RemoteID: plan[1].RemoteID,
		Reason: ReasonFullSnapshot, PreImage: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LogDeletion(ctx, DeletionEntry{Kind: "address", ERPKey: "A1", RemoteID: "x", Reason: ReasonERPDeleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LogDeletion(ctx, DeletionEntry{Kind: "customer", ERPKey: "1", Reason: "because"}); err == nil {
		t.Fatal("LogDeletion accepted an unknown reason")
	}

	log, _ := s.ListDeletions(ctx, DeletionFilter{Kind: "customer"})
	if len(log) != 2 || log[0].RemoteID != plan[0].RemoteID || log[0].Reason != ReasonDeletedInPlatform || log[0].PreImage != nil {
		t.Fatalf("customer deletions %+v", log)
	}

	n, err := s.AckDeletions(ctx, []EntityKey{{"customer", plan[0].ERPKey}, {"customer", "unknown"}})
	if err != nil || n != 1 {
		t.Fatalf("AckDeletions = %d, %v; want 1", n, err)
	}
	if open, _ := s.ListDeletions(ctx, DeletionFilter{}); len(open) != 2 {
		t.Fatalf("%d unacknowledged entries, want 2", len(open))
	}
	all, _ := s.ListDeletions(ctx, DeletionFilter{IncludeAcked: true})
	if len(all) != 3 || all[0].AckedAt.IsZero() {
		t.Fatalf("acknowledged entry not kept with its ack time: %+v", all)
	}
	if n, err := s.AckAllDeletions(ctx); err != nil || n != 2 {
		t.Fatalf("AckAllDeletions = %d, %v; want 2", n, err)
	}
	if c, _ := s.CountUnackedDeletions(ctx); c != 0 {
		t.Fatalf("%d unacknowledged after ack all", c)
	}
}

func TestMappings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	in := []SDMapping{
		{CustomerNumber: "C1", SDCustomerNumber: "0001"},
		{CustomerNumber: "C2", SDCustomerNumber: "0002"},
		{CustomerNumber: "C3", SDCustomerNumber: "0003", DeletedInYaaS: true},
	}
	if err := s.PutMappings(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMappings(ctx, []SDMapping{{CustomerNumber: "C4"}}); err == nil {
		t.Fatal("PutMappings accepted a mapping without an SD number")
	}
	unpushed, _ := s.ListMappings(ctx, MappingFilter{OnlyUnpushed: true})
	if len(unpushed) != 3 {
		t.Fatalf("%d unpushed, want 3", len(unpushed))
	}
	if n, err := s.MarkMappingsPushed(ctx, unpushed); err != nil || n != 3 {
		t.Fatalf("MarkMappingsPushed = %d, %v", n, err)
	}
	// Changed meanwhile: marking the old form pushed must not mark the new one.
	if err := s.PutMappings(ctx, []SDMapping{{CustomerNumber: "C2", SDCustomerNumber: "0002-new"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.MarkMappingsPushed(ctx, []SDMapping{in[1]}); n != 0 {
		t.Fatal("a stale push marked the changed mapping pushed")
	}
	// Unchanged upsert keeps pushed and its time, through PutMappings and through a run's commit alike.
	before, _ := s.ListMappings(ctx, MappingFilter{})
	if err := s.PutMappings(ctx, []SDMapping{in[0]}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []Outcome{{Kind: "customers", ERPKey: "0003", Action: ActionUpdate, RemoteID: "C3",
		Mapping: &SDMapping{CustomerNumber: "C3", SDCustomerNumber: "0003", DeletedInYaaS: true}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListMappings(ctx, MappingFilter{OnlyUnpushed: true}); len(got) != 1 || got[0].CustomerNumber != "C2" {
		t.Fatalf("unpushed after unchanged upserts %+v, want only the changed C2", got)
	}
	if after, _ := s.ListMappings(ctx, MappingFilter{}); !slices.Equal(after, before) {
		t.Fatalf("unchanged mappings rewritten: %+v, were %+v", after, before)
	}
	if n, err := s.MarkMappingsDeleted(ctx, []string{"C1", "C3", "C9"}); err != nil || n != 1 {
		t.Fatalf("MarkMappingsDeleted = %d, %v; want 1 (C3 was already deleted, C9 unknown)", n, err)
	}
	got, _ := s.ListMappings(ctx, MappingFilter{OnlyUnpushed: true})
	if len(got) != 2 || got[0].CustomerNumber != "C1" || !got[0].DeletedInYaaS || got[1].SDCustomerNumber != "0002-new" {
		t.Fatalf("unpushed after changes %+v", got)
	}
	deleted, _ := s.ListMappings(ctx, MappingFilter{OnlyDeletedInYaaS: true})
	if len(deleted) != 2 {
		t.Fatalf("deletedInYaaS mappings %+v", deleted)
	}
	bySD, err := s.MappingsBySDNumber(ctx, "0003")
	if err != nil || len(bySD) != 1 || bySD[0].CustomerNumber != "C3" {
		t.Fatalf("MappingsBySDNumber = %+v, %v", bySD, err)
	}
	if n, err := s.DeleteMappings(ctx, []string{"C1", "C3"}); err != nil || n != 2 {
		t.Fatalf("DeleteMappings = %d, %v", n, err)
	}
	c, _ := s.CountMappings(ctx)
	if c != (MappingCounts{Total: 1, Unpushed: 1}) {
		t.Fatalf("counts %+v", c)
	}
}

// TestDeleteOutcomeRemovesItsDependents: the rows a delete's Dependents select go in its transaction, by the
// part of their key and no other (a key whose part merely starts alike stays), without deletion log entries,
// and an entity index loaded before sees them gone.
func TestDeleteOutcomeRemovesItsDependents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	rows := map[string][]string{
		"companies": {"C1"},
		"customers": {"1"},
		"contacts":  {"C1/1", "C1/2", "C10/3", "C1%2FX/2", "C2/1", "C2/10", "C2/21"},
		"addresses": {"1/A", "1/B", "10/A", "11/A"},
	}
	var upserts []Outcome
	for kind, keys := range rows {
		for _, k := range keys {
			upserts = append(upserts, Outcome{Kind: kind, ERPKey: k, Action: ActionCreate, RemoteID: kind + "-" + k, RowHash: 1})
		}
	}
	if err := s.Commit(ctx, upserts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadEntityIndex(ctx, "contacts", nil); err != nil {
		t.Fatal(err)
	}
	deletes := []Outcome{
		{Kind: "companies", ERPKey: "C1", Action: ActionDelete, Reason: ReasonERPDeleted,
			Dependents: []Dependents{{Kind: "contacts", KeyPrefix: "C1/"}}},
		{Kind: "customers", ERPKey: "1", Action: ActionDelete, Reason: ReasonERPDeleted,
			Dependents: []Dependents{{Kind: "addresses", KeyPrefix: "1/"}, {Kind: "contacts", KeySuffix: "/1"}}},
	}
	if err := s.Commit(ctx, deletes); err != nil {
		t.Fatal(err)
	}
	// C1/1 went with the company, before the customer's delete could count it.
	if c, a, k := deletes[0].Dependents[0].Removed, deletes[1].Dependents[0].Removed, deletes[1].Dependents[1].Removed; c != 2 || a != 2 || k != 1 {
		t.Errorf("removed: company's contacts %d, customer's addresses %d and contacts %d; want 2, 2, 1", c, a, k)
	}
	want := map[string][]string{
		"contacts":  {"C1%2FX/2", "C10/3", "C2/10", "C2/21"},
		"addresses": {"10/A", "11/A"},
	}
	for kind, keys := range want {
		idx, err := s.LoadEntityIndex(ctx, kind, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := range idx.Len() {
			got = append(got, idx.Key(i))
		}
		slices.Sort(got)
		if !slices.Equal(got, keys) {
			t.Errorf("%s left: %v, want %v", kind, got, keys)
		}
	}
	log, err := s.ListDeletions(ctx, DeletionFilter{})
	if err != nil || len(log) != 2 {
		t.Fatalf("deletion log %+v (%v), want the two deletes' entries alone", log, err)
	}
}

// TestBatchOfDeletesRemovesExactlyTheirAssignments: the contact assignments of several customers deleted in
// one batch, selected by the customer part at the end of their keys as sync names them (mapping.JoinKey with
// an empty company), all go, including one created earlier in the batch and one a company's delete in the
// batch selects too; no assignment of another customer goes, though its number ends with a deleted one's
// ("112", "1/12") or a company has the deleted customer's number; each selection counts the rows it removed.
func TestBatchOfDeletesRemovesExactlyTheirAssignments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	assignment := func(company, customer string) string { return mapping.JoinKey(company, customer) }
	gone := []string{assignment("C1", "12"), assignment("C2", "12"), assignment("C2", "3"), assignment("C1", "45"),
		assignment("C/1", "12")}
	kept := []string{assignment("C1", "112"), assignment("C3", "13"), assignment("C1", "1/12"), assignment("12", "5"),
		assignment("C1", "4"), assignment("C3", "%12")}
	var upserts []Outcome
	for _, k := range append(slices.Clone(gone), kept...) {
		upserts = append(upserts, Outcome{Kind: "contacts", ERPKey: k, Action: ActionCreate, RemoteID: "A-" + k, RowHash: 1})
	}
	for _, k := range []string{"12", "3", "45", "112"} {
		upserts = append(upserts, Outcome{Kind: "customers", ERPKey: k, Action: ActionCreate, RemoteID: "R-" + k, RowHash: 1})
	}
	upserts = append(upserts, Outcome{Kind: "companies", ERPKey: "C2", Action: ActionCreate, RemoteID: "R-C2", RowHash: 1})
	if err := s.Commit(ctx, upserts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadEntityIndex(ctx, "contacts", nil); err != nil {
		t.Fatal(err)
	}
	createdInBatch := assignment("C4", "3")
	gone = append(gone, createdInBatch)
	batch := []Outcome{{Kind: "contacts", ERPKey: createdInBatch, Action: ActionCreate, RemoteID: "A-" + createdInBatch, RowHash: 1}}
	for _, k := range []string{"12", "3", "45"} {
		batch = append(batch, Outcome{Kind: "customers", ERPKey: k, Action: ActionDelete, Reason: ReasonERPDeleted,
			Dependents: []Dependents{{Kind: "contacts", KeySuffix: assignment("", k)}}})
	}
	batch = append(batch, Outcome{Kind: "companies", ERPKey: "C2", Action: ActionDelete, Reason: ReasonERPDeleted,
		Dependents: []Dependents{{Kind: "contacts", KeyPrefix: assignment("C2", "")}}})
	if err := s.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// A row two selections name counts for the first, as when each delete went on its own.
	for i, want := range []int{3, 2, 1, 0} {
		if d := batch[1+i].Dependents[0]; d.Removed != want {
			t.Errorf("%s %s removed %d assignments, want %d", batch[1+i].Kind, batch[1+i].ERPKey, d.Removed, want)
		}
	}
	idx, err := s.LoadEntityIndex(ctx, "contacts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Len() != len(kept) {
		t.Errorf("the entity index holds %d assignments, want the %d kept", idx.Len(), len(kept))
	}
	for _, k := range kept {
		if _, ok := idx.Lookup(k); !ok {
			t.Errorf("assignment %q is gone from the entity index", k)
		}
		if _, ok, err := s.GetEntity(ctx, EntityKey{Kind: "contacts", ERPKey: k}); !ok || err != nil {
			t.Errorf("assignment %q is gone from the checkpoint (%v)", k, err)
		}
	}
	for _, k := range gone {
		if _, ok, err := s.GetEntity(ctx, EntityKey{Kind: "contacts", ERPKey: k}); ok || err != nil {
			t.Errorf("assignment %q is still in the checkpoint (%v)", k, err)
		}
	}
}
