package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"custsync/mapping"
	"custsync/state"
)

// A guard that trips after the planner journaled ops leaves them as a plan that was never applied: the run is
// recorded as planned, nothing was sent, and the next run neither resumes nor supersedes it.
func TestGuardTripLeavesAPlanNoRunResumes(t *testing.T) {
	e := newEnv(t)
	path := e.file("customers.csv", customersCSV(40, nil))
	if _, err := e.run(context.Background(), Options{}, path); err != nil {
		t.Fatal(err)
	}
	changed := map[int]string{}
	for i := 0; i < 20; i++ {
		changed[i] = fmt.Sprintf("Changed%d", i)
	}
	e.file("customers.csv", customersCSV(20, changed)) // 20 updates journaled, then 20 of 40 deletes refused
	e.srv.ResetRequests()
	rep, err := e.run(context.Background(), Options{Mode: ModeFull}, path)
	if !errors.Is(err, ErrSafetyStop) {
		t.Fatalf("err = %v, want a safety stop", err)
	}
	if len(e.srv.Requests()) != 0 {
		t.Fatalf("a tripped guard sent %d requests", len(e.srv.Requests()))
	}
	run, ok, err := e.st.GetRun(context.Background(), rep.RunID)
	if err != nil || !ok || run.Status != state.RunPlanned || run.JournaledAt.IsZero() {
		t.Fatalf("the refused run is %+v (%v, %v); want a journaled run with status planned", run, ok, err)
	}
	counts, err := e.st.CountOps(context.Background(), rep.RunID)
	if err != nil || counts.Planned != 20 || counts.Total() != 20 {
		t.Fatalf("ops of the refused plan: %+v, %v; want 20 planned updates", counts, err)
	}
	if _, ok, err := e.st.ResumableRun(context.Background(), 0); ok || err != nil {
		t.Fatalf("the refused plan is offered for resuming (%v)", err)
	}

	rep, err = e.run(context.Background(), Options{}, path)
	if err != nil || rep.ResumedRun != 0 || rep.Updated != 20 || rep.Unchanged != 0 {
		t.Fatalf("next run: %v, resumed run %d\n%s", err, rep.ResumedRun, rep.Summary())
	}
	if counts, _ := e.st.CountOps(context.Background(), run.ID); counts.Planned != 20 {
		t.Fatalf("the next run touched the refused plan: %+v", counts)
	}
}

// A dry run of more changes than it lists counts them all and lists the first ones in key order.
func TestDryRunListsABoundedPlan(t *testing.T) {
	e := newEnv(t)
	const n = maxListedChanges + 25
	path := e.file("customers.csv", customersCSV(n, nil))
	rep, err := e.run(context.Background(), Options{DryRun: true}, path)
	if err != nil || rep.Created != n {
		t.Fatalf("dry run: %v\n%s", err, rep.Summary())
	}
	if len(rep.Changes) != maxListedChanges || rep.ChangesNotListed != 25 {
		t.Fatalf("%d changes listed, %d not listed; want %d and 25", len(rep.Changes), rep.ChangesNotListed, maxListedChanges)
	}
	for i, c := range rep.Changes {
		if want := fmt.Sprintf("%010d", 100000+i); c.Key != want || !strings.HasPrefix(c.Action, "create") {
			t.Fatalf("change %d is %s %s, want create %s", i, c.Action, c.Key, want)
		}
	}
}

// A change list offered keys in any order lists the first maxListedChanges by key (of equal keys the first
// offered) and counts the rest; in key order, as ERP exports mostly come, it builds few more changes than it
// lists.
func TestChangeListKeepsTheFirstKeysAndBuildsFew(t *testing.T) {
	const n = 5*maxListedChanges + 17
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("K%07d", i/3) // each key three times: the first offered is kept
	}
	for _, order := range []string{"ascending", "descending", "shuffled"} {
		t.Run(order, func(t *testing.T) {
			offered := slices.Clone(keys)
			switch order {
			case "descending":
				slices.Reverse(offered)
			case "shuffled":
				rand.New(rand.NewPCG(3, 4)).Shuffle(n, func(i, j int) { offered[i], offered[j] = offered[j], offered[i] })
			}
			var l changeList
			built := 0
			for i, k := range offered {
				l.offer(k, func() PlannedChange {
					built++
					return PlannedChange{Key: k, Source: strconv.Itoa(i)}
				})
			}
			l.trim()
			if len(l.items) != maxListedChanges || l.dropped != n-maxListedChanges {
				t.Fatalf("%d listed, %d dropped; want %d and %d", len(l.items), l.dropped, maxListedChanges, n-maxListedChanges)
			}
			firstOffer := map[string]int{}
			for i, k := range offered {
				if _, seen := firstOffer[k]; !seen {
					firstOffer[k] = i
				}
			}
			sorted := slices.Sorted(slices.Values(keys))
			for i, c := range l.items {
				if c.Key != sorted[i] {
					t.Fatalf("change %d has key %s, want %s", i, c.Key, sorted[i])
				}
				if i == 0 || c.Key != l.items[i-1].Key {
					if want := strconv.Itoa(firstOffer[c.Key]); c.Source != want {
						t.Fatalf("key %s listed from offer %s, want the first, %s", c.Key, c.Source, want)
					}
				}
			}
			if order == "ascending" && built > 2*maxListedChanges {
				t.Fatalf("built %d changes in key order to list %d", built, maxListedChanges)
			}
		})
	}
}

// BenchmarkDecodeUpdateOp reads back the journal records of streamed customer updates (the sample's rows, each
// changing its first name against its checkpoint snapshot), as the apply of a 1% delta does for each PATCH;
// the sub-benchmarks time decodeOp's parts: the snapshot's decode and the diff.
func BenchmarkDecodeUpdateOp(b *testing.B) {
	recs := loadRecords(b, "../samples/customers.csv", mapping.Customers)
	records := make([][]byte, len(recs))
	ops := make([]*op, len(recs))
	for i, rec := range recs {
		prev := rec.ApplyTo(nil)
		prev["firstName"] = "Before"
		raw, err := json.Marshal(prev)
		if err != nil {
			b.Fatal(err)
		}
		o := &op{rec: rec, entity: mapping.Customers}
		o.Kind, o.ERPKey, o.Action = string(mapping.Customers), rec.Key, state.ActionUpdate
		if err := o.setPrev(raw); err != nil || len(o.diff) != 1 {
			b.Fatalf("diff %v: %v", o.diff, err)
		}
		records[i], ops[i] = o.appendRecord(nil, false, nil), o
	}
	b.Run("decodeOp", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := state.Op{Seq: 1, PlannedOp: ops[i%len(ops)].PlannedOp}
			j.Record = records[i%len(records)]
			if _, _, err := decodeOp(j, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var prev map[string]any
			if err := json.Unmarshal(ops[i%len(ops)].prevRaw, &prev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("diff", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			o := ops[i%len(ops)]
			mapping.DiffRemote(o.prev, o.rec)
		}
	})
}
