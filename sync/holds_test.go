package sync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"custsync/mapping"
	"custsync/state"
)

// holdFiles writes customers 1-10 with an address each and locations L1-L10, and imports them.
func holdFiles(t *testing.T, e *env) (customers, addresses, locations string) {
	t.Helper()
	var c, a, l strings.Builder
	c.WriteString("sdCustomerNumber,firstName,deleted\n")
	a.WriteString("sdCustomerNumber,addressKey,contactName,street,zipCode,city,country,deleted\n")
	l.WriteString("locationKey,name,type,contactDetails.city,contactDetails.countryCode,deleted\n")
	for i := 1; i <= 10; i++ {
		n := string(rune('0' + i%10))
		if i == 10 {
			n = "10"
		}
		c.WriteString(n + ",Name" + n + ",\n")
		a.WriteString(n + ",A1,Contact " + n + ",Main Street,10115,Berlin,DE,\n")
		l.WriteString("L" + n + ",Site " + n + ",OFFICE,Berlin,DE,\n")
	}
	customers, addresses, locations = e.file("customers.csv", c.String()), e.file("addresses.csv", a.String()), e.file("locations.csv", l.String())
	if rep, err := e.run(context.Background(), Options{}, customers, addresses, locations); err != nil {
		t.Fatalf("first import: %v\n%s", err, rep.Summary())
	}
	// The next run deletes customer 10, the address of customer 9 and location L10, and has one invalid
	// address row (customer 3's, with a country that is not a code).
	e.file("customers.csv", "sdCustomerNumber,firstName,deleted\n10,Name10,X\n")
	e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,zipCode,city,country,deleted\n"+
		"9,A1,Contact 9,Main Street,10115,Berlin,DE,X\n3,A1,Contact 3,Main Street,10115,Berlin,Germany,\n")
	e.file("locations.csv", "locationKey,name,type,contactDetails.city,contactDetails.countryCode,deleted\nL10,Site 10,OFFICE,Berlin,DE,X\n")
	return customers, addresses, locations
}

// A failed row holds the deletes of its own entity and of the entities it hangs on, and nothing else: the
// invalid address holds the address deletes and the customer deletes (a customer's delete takes its addresses
// along), while the location delete goes ahead.
func TestFailedRowsHoldOnlyTheDeletesTheyConcern(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	customers, addresses, locations := holdFiles(t, e)
	ctx := context.Background()

	// The dry run predicts it from the invalid row.
	e.srv.ResetRequests()
	dry, err := e.run(ctx, Options{DryRun: true}, customers, addresses, locations)
	if !errors.Is(err, ErrPartial) || dry.DeletesHeld != 2 || dry.Deleted != 1 || len(dry.DeleteHolds) != 2 {
		t.Fatalf("dry run: %v\n%s", err, dry.Summary())
	}
	if w := e.writes(); len(w) != 0 {
		t.Fatalf("the dry run wrote: %v", w)
	}

	rep, err := e.run(ctx, Options{}, customers, addresses, locations)
	if !errors.Is(err, ErrPartial) || !strings.Contains(err.Error(), "2 deletes held") {
		t.Fatalf("err = %v, want a partial run naming the held deletes\n%s", err, rep.Summary())
	}
	if rep.Deleted != 1 || rep.DeletesHeld != 2 || rep.Failed != 1 || rep.Pending != 0 {
		t.Fatalf("counts %+v\n%s", rep.Counts, rep.Summary())
	}
	for _, e := range []mapping.Entity{mapping.Customers, mapping.Addresses} {
		if rep.Entities[e].DeletesHeld != 1 {
			t.Errorf("%s: %d deletes held, want 1", e, rep.Entities[e].DeletesHeld)
		}
	}
	if rep.Entities[mapping.Locations].Deleted != 1 {
		t.Errorf("the location delete was held too:\n%s", rep.Summary())
	}
	for _, h := range rep.DeleteHolds {
		if !strings.Contains(h.Reason, "1 addresses") || !strings.Contains(h.Reason, "--delete-despite-failures") {
			t.Errorf("hold of %s: reason %q", h.Entity, h.Reason)
		}
	}
	if !strings.Contains(rep.Summary(), "1 deletes of customers held: rows failed in this run (1 addresses)") {
		t.Errorf("summary does not explain the hold:\n%s", rep.Summary())
	}
	platform := e.platformCustomers()
	if _, ok := platform["10"]; !ok {
		t.Error("customer 10 was deleted although its delete was held")
	}
	// The journal says why, for `state runs` and the next run.
	var ops []state.Op
	if err := e.st.ScanOps(ctx, rep.RunID, state.OpFilter{Kind: string(mapping.Customers)}, func(o state.Op) error {
		ops = append(ops, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || !strings.HasPrefix(ops[0].Error, "held: rows failed in this run") {
		t.Errorf("journal of the held customer delete: %+v", ops)
	}

	// Knowingly: the deletes go, the invalid row still makes the run partial.
	rep, err = e.run(ctx, Options{DeleteDespiteFailures: true}, customers, addresses, locations)
	if !errors.Is(err, ErrPartial) || rep.Deleted != 2 || rep.DeletesHeld != 0 {
		t.Fatalf("--delete-despite-failures: %v\n%s", err, rep.Summary())
	}
	if _, ok := e.platformCustomers()["10"]; ok {
		t.Error("customer 10 still exists")
	}
}

func TestMaxDeleteZeroAllowsNoDeletion(t *testing.T) {
	t.Parallel()
	for _, limit := range []string{"0", "0%"} {
		t.Run(limit, func(t *testing.T) {
			e := newEnv(t)
			path := e.file("c.csv", customersCSV(10, nil))
			if _, err := e.run(context.Background(), Options{}, path); err != nil {
				t.Fatal(err)
			}
			e.file("c.csv", "sdCustomerNumber,firstName,deleted\n0000100003,C,X\n")
			e.srv.ResetRequests()
			max, err := ParseDeleteLimit(limit)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := e.run(context.Background(), Options{MaxDelete: max}, path)
			if !errors.Is(err, ErrSafetyStop) || rep.Deleted != 0 || !strings.Contains(err.Error(), "allows (0)") {
				t.Fatalf("--max-delete %s: %v", limit, err)
			}
			if w := e.writes(); len(w) != 0 {
				t.Fatalf("writes after the stop: %v", w)
			}
		})
	}
}
