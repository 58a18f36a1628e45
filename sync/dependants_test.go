package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// failureOf returns the reported failure of a row by entity and key, failing the test if there is none or more
// than one.
func failureOf(t *testing.T, rep *Report, entity, key string) RowFailure {
	t.Helper()
	var found []RowFailure
	for _, f := range rep.Failures {
		if f.Entity == entity && f.Key == key {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s %q: %d failures reported, want 1: %+v", entity, key, len(found), rep.Failures)
	}
	return found[0]
}

// TestParentWithAnInvalidRowIsNamed: a subsidiary whose parent's row is in the input but invalid (and the
// parent not synced) fails saying so, naming the parent's row, and so do its own subsidiaries; a parent that is
// nowhere is still "neither in the input nor synced before".
func TestParentWithAnInvalidRowIsNamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	companies := e.file("companies.csv", "companyKey,name,parentCompanyKey,accountLimit.value\n"+
		"P1,Parent,,lots\nC1,Child,P1,\nG1,Grandchild,C1,\nC2,Orphan,P9,\n")
	rep, err := e.run(context.Background(), Options{}, companies)
	if !errors.Is(err, ErrPartial) || rep.Failed != 4 || rep.Created != 0 {
		t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	row := companies + ":2"
	for key, chain := range map[string]string{"C1": "C1 -> P1", "G1": "G1 -> C1 -> P1"} {
		f := failureOf(t, rep, "companies", key)
		if !strings.Contains(f.Reason, `parent company "P1" failed validation at `+row) || !strings.Contains(f.Reason, "lots") ||
			!strings.Contains(f.Reason, "chain: "+chain) {
			t.Errorf("%s: %q, want the parent's invalid row %s named, and the chain %s", key, f.Reason, row, chain)
		}
	}
	if f := failureOf(t, rep, "companies", "C2"); !strings.Contains(f.Reason, `parent company "P9" is neither in the input nor synced before`) {
		t.Errorf("C2: %q", f.Reason)
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("writes %v, want none", w)
	}
}

// TestDependantsOfAnInvalidRowFailWithItsReason: what references a record that no row of the run writes (not
// synced, its row invalid) fails naming that row, without a request: a location listed in an invalid company,
// an address of an invalid customer, a contact assignment of either. A record that is synced, or whose first
// row is valid (a later duplicate is what failed), does not block anything.
func TestDependantsOfAnInvalidRowFailWithItsReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := e.file("customers.csv", "sdCustomerNumber,firstName,contactEmail\n3,Cy,cy@example.com\n")
	addrHeader := "sdCustomerNumber,addressKey,contactName,country\n"
	addresses := e.file("addresses.csv", addrHeader+"3,A,Cy,DE\n")
	if rep, err := e.run(ctx, Options{}, customers, addresses); err != nil {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}
	// Customer 1 is new and invalid; customer 3 is synced and its row invalid now; customer 4's first row is
	// valid and its second a duplicate.
	e.file("customers.csv", "sdCustomerNumber,firstName,contactEmail\n1,Ann,not-an-email\n3,Cy,not-an-email\n4,Di,di@example.com\n4,Di,di@example.com\n")
	e.file("addresses.csv", addrHeader+"1,A,Ann,DE\n3,A,Cy,AT\n4,A,Di,DE\n")
	companies := e.file("companies.csv", "companyKey,name,accountLimit.value\nP1,Parent,lots\nK2,Kappa,\n")
	locations := e.file("locations.csv", "locationKey,name,type,companyKey\nL1,Depot,WAREHOUSE,P1\nL2,Store,WAREHOUSE,K2\n")
	contacts := e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nP1,4,PRIMARY,true\nK2,1,PRIMARY,true\nK2,4,PRIMARY,true\n")
	e.srv.ResetRequests()
	rep, err := e.run(ctx, Options{}, customers, addresses, companies, locations, contacts)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	want := map[[2]string]string{
		{"locations", "L1"}:  `company "P1" cannot be written: its row (` + companies + `:2) is invalid`,
		{"addresses", "1/A"}: `customer "1" cannot be written: its row (` + customers + `:2) is invalid`,
		{"contacts", "P1/4"}: `company "P1" cannot be written`,
		{"contacts", "K2/1"}: `customer "1" cannot be written`,
	}
	for k, reason := range want {
		if f := failureOf(t, rep, k[0], k[1]); !strings.Contains(f.Reason, reason) || f.Status != 0 {
			t.Errorf("%s %s: %q (status %d), want %q and no request", k[0], k[1], f.Reason, f.Status, reason)
		}
	}
	// The invalid rows themselves (customers 1 and 3, the duplicate of 4, company P1) and the four dependants.
	if rep.Failed != 8 || rep.Created != 5 || rep.Updated != 1 {
		t.Errorf("want 8 failed; L2, K2, customer 4, its address and its K2 assignment created; 3's address updated\n%s\n%+v", rep.Summary(), rep.Failures)
	}
	for _, r := range e.srv.Requests() {
		if strings.Contains(r.Path, "/P1") || strings.Contains(r.Path, "/L1") || strings.Contains(r.Path, "/customers/1/") {
			t.Errorf("a request for a record no row writes: %s %s", r.Method, r.Path)
		}
	}
	if a, err := e.rc.GetAddress(ctx, "3", "3-A"); err != nil || a["country"] != "AT" {
		t.Errorf("the address of the synced customer 3: %v, %v", a, err)
	}
	if le, err := e.rc.GetLegalEntity(ctx, "K2"); err != nil || !strings.Contains(fmt.Sprint(le["entitiesAddresses"]), "L2") {
		t.Errorf("K2 lists its location: %v, %v", le, err)
	}
	if n := countRequests(e, http.MethodPut, "/locations/L2"); n != 1 {
		t.Errorf("%d PUTs of L2, want 1", n)
	}
}

func countRequests(e *env, method, pathSuffix string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, pathSuffix) {
			n++
		}
	}
	return n
}
