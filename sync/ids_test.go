package sync

import (
	"context"
	"testing"
)

// A customer whose row gives an explicit customerNumber (not the id its template makes of the ERP key) is
// where its addresses and contact assignments must go: in the run that creates it, whichever file comes
// first on the command line, and in later runs, which find its number in the checkpoint.

const (
	explicitCustomers = "sdCustomerNumber,customerNumber,firstName,lastName\n" +
		"0000100080,C7534120357,Ann,Lee\n0000100081,,Bob,Roe\n"
	explicitAddresses = "sdCustomerNumber,addressKey,contactName,street,city,country\n" +
		"0000100080,A1,Ann Lee,Main St,Boston,US\n0000100081,A1,Bob Roe,Elm St,Boston,US\n"
	explicitCompanies = "companyKey,name\nK1,Kappa\n"
	explicitContacts  = "companyKey,sdCustomerNumber,type,primary\nK1,0000100080,PRIMARY,true\n"
)

// checkExplicitIDs fails the test unless the platform holds customer 0000100080 under C7534120357 only, with
// its address, and customer 0000100081 under its key, with its.
func (e *env) checkExplicitIDs() {
	e.t.Helper()
	ctx := context.Background()
	platform := e.platformCustomers()
	if _, ok := platform["C7534120357"]; !ok || len(platform) != 2 {
		e.t.Fatalf("platform customers %v, want C7534120357 and 0000100081", keysOf(platform))
	}
	for _, c := range []struct{ customer, address string }{{"C7534120357", "0000100080-A1"}, {"0000100081", "0000100081-A1"}} {
		if _, err := e.rc.GetAddress(ctx, c.customer, c.address); err != nil {
			e.t.Errorf("address %s of customer %s: %v", c.address, c.customer, err)
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAddressesFollowAnExplicitCustomerNumberInTheSameRun(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"customers first", "addresses first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			cust, addr := e.file("customers.csv", explicitCustomers), e.file("addresses.csv", explicitAddresses)
			companies, contacts := e.file("companies.csv", explicitCompanies), e.file("contacts.csv", explicitContacts)
			files := []string{cust, addr, companies, contacts}
			if order == "addresses first" {
				files = []string{contacts, addr, companies, cust}
			}
			rep, err := e.run(ctx, Options{}, files...)
			if err != nil || rep.Created != 6 {
				t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
			}
			e.checkExplicitIDs()
			if a, err := e.rc.ContactAssignmentOf(ctx, "C7534120357", "K1"); err != nil || a == nil {
				t.Errorf("contact assignment of C7534120357 in K1: %v, %v", a, err)
			}
			e.srv.ResetRequests()
			if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Unchanged != 6 || len(e.writes()) != 0 {
				t.Fatalf("re-run: %v, writes %v\n%s", err, e.writes(), rep.Summary())
			}
		})
	}
}

// TestAddressesFollowAnExplicitCustomerNumberInLaterRuns: the customers were synced in an earlier run; the
// addresses come in a later one, and then change in another.
func TestAddressesFollowAnExplicitCustomerNumberInLaterRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if rep, err := e.run(ctx, Options{}, e.file("customers.csv", explicitCustomers)); err != nil || rep.Created != 2 {
		t.Fatalf("customers: %v\n%s", err, rep.Summary())
	}
	addr := e.file("addresses.csv", explicitAddresses)
	if rep, err := e.run(ctx, Options{}, addr); err != nil || rep.Created != 2 {
		t.Fatalf("addresses in a later run: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	e.checkExplicitIDs()
	e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country\n"+
		"0000100080,A1,Ann Lee,Main St,Salem,US\n0000100081,A1,Bob Roe,Elm St,Boston,US\n")
	if rep, err := e.run(ctx, Options{}, addr); err != nil || rep.Updated != 1 {
		t.Fatalf("address update: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	if a, err := e.rc.GetAddress(ctx, "C7534120357", "0000100080-A1"); err != nil || a["city"] != "Salem" {
		t.Errorf("updated address: %v, %v", a, err)
	}
}
