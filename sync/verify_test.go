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
	// Customer Management records are edited as a whole: read, change one field, PUT back.
	edit := func(get func(context.Context, string) (remote.Doc, error), put func(context.Context, string, remote.Doc) (bool, error), id, field, value string) {
		t.Helper()
		doc, err := get(ctx, id)
		must(err)
		doc = requestShape(doc)
		doc[field] = value
		_, err = put(ctx, id, doc)
		must(err)
	}
	edit(e.rc.GetLegalEntity, e.rc.UpsertLegalEntity, "K", "name", "Kappa GmbH")
	edit(e.rc.GetContactAssignment, e.rc.UpsertContactAssignment, "K-A", "type", "LOGISTICS")
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

// TestFirstRunOnAPopulatedTenant is issue 15's acceptance run over real HTTP: a tenant populated by direct API
// calls (customers whose e-mail addresses differ in case from the file, a 3-level company hierarchy with a
// registration id, a location, an assignment the platform propagated up the hierarchy). The --live dry run
// predicts the first import --adopt count for count; that import, with a fresh state, duplicates nothing and
// meets no 409; a second run sends no request; check then finds no difference. A first name changed through
// the API is repaired by --verify, after which --verify writes nothing; the same edit again is repaired by
// check --fix's path (Check, then the import of the keys that differ).
func TestFirstRunOnAPopulatedTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.populateCompanies() // le-1 > le-2 > le-3, loc-hq, customer 70000001 assigned to le-3 (propagated to le-2, le-1)
	e.populate(map[string]remote.Doc{
		"70000002": {"firstName": "Yann", "lastName": "Why", "contactEmail": "Yann.Why@Example.com"},
		"70000003": {"firstName": "Zoe", "lastName": "Zed", "contactEmail": "zoe@example.com"},
	}, map[string]remote.Doc{"70000002/shop-1": {"contactName": "Yann Why", "street": "Gasse 3", "zipCode": "50667", "city": "Köln", "country": "DE"}})
	files := []string{
		e.file("companies.csv", "companyKey,name,type,parentCompanyKey,legalInfo.registrationId\n"+
			"C1,Holding,COMPANY,,HRB 1\nC2,Sub,SUBSIDIARY,C1,\nC3,SubSub,SUBSIDIARY,C2,\n"),
		e.file("locations.csv", "locationKey,name,type,companyKey\nL1,Holding HQ,HEADQUARTER,C1\n"),
		e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n"+
			"X,Xena,Ex,Xena@Example.com\nY,Yann,Why,yann.why@example.com\nZ,Zoe,Zed,ZOE@example.com\nN,Nora,New,nora@example.com\n"),
		e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,zipCode,city,country\n"+
			"Y,main,Yann Why,Gasse 3,50667,Köln,DE\nN,main,Nora New,Platz 1,01067,Dresden,DE\n"),
		e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nC3,X,PRIMARY,true\nC2,X,CONTACT,false\nC1,X,CONTACT,false\n"),
	}
	before := len(e.platformCustomers())
	pred, err := e.run(ctx, Options{Adopt: true, DryRun: true, Live: true}, files...)
	if err != nil {
		t.Fatalf("dry run: %v\n%s\n%+v", err, pred.Summary(), pred.Failures)
	}
	e.srv.ResetRequests()
	rep, err := e.run(ctx, Options{Adopt: true}, files...)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("first import: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	if st := e.statuses(); st[http.StatusConflict] != 0 {
		t.Fatalf("the first import met 409s: %v", st)
	}
	for ent, c := range rep.Entities {
		if p := pred.Entities[ent]; p == nil || *p != *c {
			t.Errorf("%s: the import did %+v, the dry run predicted %+v", ent, *c, p)
		}
	}
	if rep.Adopted != 3+1+3+1+3 || rep.Created != 2 {
		t.Fatalf("first import: %d adopted, %d created\n%s", rep.Adopted, rep.Created, rep.Summary())
	}
	if n := len(e.platformCustomers()); n != before+1 {
		t.Errorf("%d customers on the platform, want the %d there and Nora", n, before)
	}
	if pairs := assignmentsByPair(t, e.rc); len(pairs) != 3 {
		t.Errorf("assignments %v", pairs)
	}

	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{Adopt: true}, files...); err != nil || len(e.srv.Requests()) != 0 || rep.Unchanged != 3+1+4+2+3 {
		t.Fatalf("second run: %v, %d requests\n%s", err, len(e.srv.Requests()), rep.Summary())
	}
	// The namesake company le-9 no row names stays only on the platform.
	noDifference := func(when string) {
		t.Helper()
		chk, err := Check(ctx, e.st, e.rc, CheckOptions{Files: files})
		if err != nil || chk.Differences() != chk.Totals[CheckOnlyOnPlatform] || chk.Totals[CheckOnlyOnPlatform] != 1 {
			t.Fatalf("check %s: %v %v %+v", when, err, chk.Totals, chk.Problems)
		}
	}
	noDifference("after the first run")

	if err := e.rc.PatchCustomer(ctx, "70000002", remote.Doc{"firstName": "Jan"}); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{Verify: true}, files...); err != nil || rep.Updated != 1 || rep.Drift[mapping.Customers].Fields["firstName"] != 1 {
		t.Fatalf("verify: %v\n%s", err, rep.Summary())
	}
	if w := e.writes(); w[http.MethodPatch] != 1 || len(w) != 1 {
		t.Errorf("verify wrote %v", w)
	}
	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{Verify: true}, files...); err != nil || len(e.writes()) != 0 || len(rep.Drift) != 0 {
		t.Fatalf("second verify: %v %v\n%s", err, e.writes(), rep.Summary())
	}
	noDifference("after the repair")

	if err := e.rc.PatchCustomer(ctx, "70000002", remote.Doc{"firstName": "Jan"}); err != nil {
		t.Fatal(err)
	}
	chk, err := Check(ctx, e.st, e.rc, CheckOptions{Files: files})
	if err != nil || chk.Totals[CheckDiffers] != 1 {
		t.Fatalf("check: %v %v", err, chk.Totals)
	}
	e.srv.ResetRequests()
	rep, err = e.run(ctx, Options{Verify: true, VerifyKeys: chk.FixKeys()}, files...)
	if err != nil || rep.Updated != 1 || len(e.writes()) != 1 {
		t.Fatalf("fix: %v %v\n%s", err, e.writes(), rep.Summary())
	}
	noDifference("after the fix")
}
