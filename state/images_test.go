package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Updates keep their images per op, batched or one by one (a batch touching one key twice), next to the
// deletion log's pre-images and the journal's creates, so that a run's changes can be counted and put back.
func TestUpdateImagesAndRunChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)

	first, seqs := journalPlan(t, s, []PlannedOp{customerOp(1), customerOp(2), customerOp(3)})
	var created []Outcome
	for i, seq := range seqs {
		created = append(created, doneOutcome(first, seq, customerOp(i+1)))
	}
	if err := s.Commit(ctx, created); err != nil {
		t.Fatal(err)
	}

	update := func(i int) PlannedOp {
		op := customerOp(i)
		op.Action = ActionUpdate
		return op
	}
	gone := PlannedOp{Kind: "customer", ERPKey: customerOp(3).ERPKey, RemoteID: customerOp(3).RemoteID, Action: ActionDelete, Reason: ReasonERPDeleted}
	second, seqs := journalPlan(t, s, []PlannedOp{update(1), update(2), gone, update(2)})
	image := func(i int, before string) *UpdateImage {
		return &UpdateImage{Before: json.RawMessage(before), After: json.RawMessage(fmt.Sprintf(`{"firstName":"New%d","mixins.loyalty.level":null}`, i))}
	}
	batched := []Outcome{doneOutcome(second, seqs[0], update(1)), doneOutcome(second, seqs[1], update(2))}
	batched[0].Image = image(1, `{"firstName":"F1","mixins.loyalty.level":"gold"}`)
	batched[1].Image = image(2, `{}`) // nothing known before: the fields were custsync's first values
	del := Outcome{RunID: second, Seq: seqs[2], Kind: gone.Kind, ERPKey: gone.ERPKey, Action: ActionDelete, Reason: ReasonERPDeleted,
		RemoteID: gone.RemoteID, PreImage: json.RawMessage(`{"id":"C-0000003","firstName":"F3","mixins":{"loyalty":{"level":"gold"}}}`)}
	if err := s.Commit(ctx, append(batched, del)); err != nil {
		t.Fatal(err)
	}
	// One key twice in a batch: recorded one by one, in order.
	again := doneOutcome(second, seqs[3], update(2))
	again.Image = image(2, `{"firstName":"New2"}`)
	if err := s.Commit(ctx, []Outcome{again, again}); err != nil {
		t.Fatal(err)
	}

	var got []string
	err := s.ScanUpdateImages(ctx, second, func(r UpdateImageRow) error {
		got = append(got, fmt.Sprintf("%d %s %s %s -> %s", r.Seq, r.ERPKey, r.RemoteID, r.Before, r.After))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf(`%d 0000001 C-0000001 {"firstName":"F1","mixins.loyalty.level":"gold"} -> {"firstName":"New1","mixins.loyalty.level":null}`, seqs[0]),
		fmt.Sprintf(`%d 0000002 C-0000002 {} -> {"firstName":"New2","mixins.loyalty.level":null}`, seqs[1]),
		fmt.Sprintf(`%d 0000002 C-0000002 {"firstName":"New2"} -> {"firstName":"New2","mixins.loyalty.level":null}`, seqs[3]),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("images:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, tc := range []struct {
		run  int64
		want RunChanges
	}{
		{first, RunChanges{Created: 3}},
		{second, RunChanges{Updated: 3, Deleted: 1, UpdateImages: 3, DeletePreImages: 1}},
	} {
		c, err := s.RunChanges(ctx, tc.run)
		if err != nil {
			t.Fatal(err)
		}
		if c != tc.want {
			t.Errorf("run %d: %+v, want %+v", tc.run, c, tc.want)
		}
	}
	c, _ := s.RunChanges(ctx, first)
	if c.Restorable(false) || !c.Restorable(true) {
		t.Errorf("a run that only created is restorable only with its creates: %+v", c)
	}
}

func TestUpdateImagesAreValidated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t)
	runID, seqs := journalPlan(t, s, []PlannedOp{customerOp(1)})
	o := doneOutcome(runID, seqs[0], customerOp(1)) // a create
	o.Image = &UpdateImage{Before: json.RawMessage(`{}`), After: json.RawMessage(`{}`)}
	if err := s.Commit(ctx, []Outcome{o}); err == nil {
		t.Error("an image on a create was accepted")
	}
	o.Action = ActionUpdate
	for _, after := range []string{`"text"`, `null`, ``, ` `, `{"firstName":`, `{"a":1}}`, `[{}]`} {
		o.Image.After = json.RawMessage(after)
		if err := s.Commit(ctx, []Outcome{o}); err == nil {
			t.Errorf("an image whose after is %q, no JSON object, was accepted", after)
		}
	}
	o.Image.After = json.RawMessage(" \n{\"firstName\": \"New1\"}\n")
	if err := s.Commit(ctx, []Outcome{o}); err != nil {
		t.Errorf("an image that is a JSON object with spaces around it was refused: %v", err)
	}
}

// An error text that quotes a password hash is masked before it is stored, like other secrets.
func TestErrorTextMasksPasswordHashes(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"passwordHash":"1:10000:abc"}`, `legacyAuth.hash=abc123`, `"hash": "abc123"`} {
		if out := errorText(in); strings.Contains(out, "abc") {
			t.Errorf("errorText(%s) = %s", in, out)
		}
	}
}
