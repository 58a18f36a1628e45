package sync

import (
	"context"
	"net/http"
	"testing"

	"custsync/mapping"
	"custsync/remote"
)

// TestVerifyRepairsWhatThePlatformChanged: after an import, support staff edit a customer's first name, an
// address's city, a company's name and an assignment's type on the platform. A plain re-run sees nothing (it
// compares with the checkpoint) and sends nothing; --dry-run --live --verify lists the repairs and sends no
// write; --verify sends exactly the drifted fields and reports them per entity; the next --verify writes
// nothing. A field the file changes beside a drifted one is a change, not drift.
func TestVerifyRepairsWhatThePlatformChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	files := []string{
		e.file("companies.csv", "companyKey,name,type\nK,Kappa,COMPANY\n"),
		e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\nA,Ann,Alder,ann@example.com\nB,Bob,Birch,bob@example.com\n"),
		e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country\nA,main,Ann Alder,Weg 1,Bonn,DE\n"),
		e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nK,A,BILLING\n"),
	}
	if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Failed != 0 {
		t.Fatalf("import: %v\n%s", err, rep.Summary())
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.rc.PatchCustomer(ctx, "A", remote.Doc{"firstName": "Anne"}))
	must(e.rc.PatchCustomer(ctx, "B", remote.Doc{"lastName": "Beech"}))
	must(e.rc.PatchAddress(ctx, "A", "A-main", remote.Doc{"city": "Köln"}))
	company, err := e.rc.GetLegalEntity(ctx, "K")
	must(err)
	company = requestShape(company)
	company["name"] = "Kappa GmbH"
	_, err = e.rc.UpsertLegalEntity(ctx, "K", company)
	must(err)
	assignment, err := e.rc.GetContactAssignment(ctx, "K-A")
	must(err)
	assignment = requestShape(assignment)
	assignment["type"] = "LOGISTICS"
	_, err = e.rc.UpsertContactAssignment(ctx, "K-A", assignment)
	must(err)
	// The file changes B's first name; B's last name drifted on the platform.
	files[1] = e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\nA,Ann,Alder,ann@example.com\nB,Bobby,Birch,bob@example.com\n")

	e.srv.ResetRequests()
	pred, err := e.run(ctx, Options{Verify: true, DryRun: true, Live: true}, files...)
	if err != nil || len(e.writes()) != 0 {
		t.Fatalf("dry run: %v %v\n%s", err, e.writes(), pred.Summary())
	}
	want := map[mapping.Entity]Drift{
		mapping.Customers: {Rows: 2, Fields: map[string]int{"firstName": 1, "lastName": 1}},
		mapping.Addresses: {Rows: 1, Fields: map[string]int{"city": 1}},
		mapping.Companies: {Rows: 1, Fields: map[string]int{"name": 1}},
		mapping.Contacts:  {Rows: 1, Fields: map[string]int{"type": 1}},
	}
	checkDrift := func(what string, rep *Report) {
		t.Helper()
		if len(rep.Drift) != len(want) {
			t.Errorf("%s: drift %v", what, rep.Drift)
		}
		for ent, w := range want {
			d := rep.Drift[ent]
			if d == nil || d.Rows != w.Rows || d.Missing != 0 || len(d.Fields) != len(w.Fields) {
				t.Errorf("%s: drift of %s %+v, want %+v", what, ent, d, w)
				continue
			}
			for f, n := range w.Fields {
				if d.Fields[f] != n {
					t.Errorf("%s: drift of %s %+v, want %+v", what, ent, d, w)
				}
			}
		}
	}
	checkDrift("dry run", pred)
	fields := map[string]int{}
	for _, c := range pred.Changes {
		fields[c.Entity+" "+c.Key] = len(c.Fields)
	}
	if fields["customers B"] != 2 || fields["customers A"] != 1 || fields["addresses A/main"] != 1 || pred.Updated != 5 {
		t.Errorf("dry run changes %v\n%s", fields, pred.Summary())
	}

	e.srv.ResetRequests()
	rep, err := e.run(ctx, Options{Verify: true}, files...)
	if err != nil || rep.Updated != 5 || rep.Failed != 0 {
		t.Fatalf("verify: %v\n%s", err, rep.Summary())
	}
	checkDrift("verify", rep)
	if w := e.writes(); w[http.MethodPatch] != 3 || w[http.MethodPut] != 2 || len(w) != 2 {
		t.Errorf("verify wrote %v: want 3 PATCHes (2 customers, 1 address) and 2 PUTs (company, assignment)", w)
	}
	platform := e.platformCustomers()
	if platform["A"]["firstName"] != "Ann" || platform["B"]["firstName"] != "Bobby" || platform["B"]["lastName"] != "Birch" {
		t.Errorf("customers after the repair: %v", platform)
	}
	if c, _ := e.rc.GetLegalEntity(ctx, "K"); c["name"] != "Kappa" {
		t.Errorf("company after the repair: %v", c)
	}
	if a, _ := e.rc.GetAddress(ctx, "A", "A-main"); a["city"] != "Bonn" {
		t.Errorf("address after the repair: %v", a)
	}

	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{Verify: true}, files...); err != nil || rep.Unchanged != 5 || len(rep.Drift) != 0 {
		t.Fatalf("second verify: %v %v\n%s", err, rep.Drift, rep.Summary())
	}
	if w := e.writes(); w[http.MethodPatch]+w[http.MethodPut]+w[http.MethodDelete] != 0 {
		t.Errorf("the second verify wrote %v", w)
	}
	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{}, files...); err != nil || rep.Unchanged != 5 || len(e.srv.Requests()) != 0 {
		t.Fatalf("plain re-run: %v %d requests\n%s", err, len(e.srv.Requests()), rep.Summary())
	}
}
