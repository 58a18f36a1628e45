package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"custsync/mapping"
	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
)

const companiesHeader = "companyKey,name,type,parentCompanyKey,accountLimit.currency,accountLimit.value\n"

func TestImportCompanyHierarchyFromShuffledFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Grandchild first, root last: the engine must still write parents before children.
	path := e.file("companies.csv", companiesHeader+
		"C3,Grandchild,SUBSIDIARY,C2,EUR,10\n"+
		"C2,Child,SUBSIDIARY,C1,EUR,20\n"+
		"C1,Root,COMPANY,,EUR,30\n")
	rep, err := e.run(context.Background(), Options{}, path)
	if err != nil || rep.Created != 3 {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}
	order := map[string]int{}
	for i, r := range e.srv.Requests() {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "/legal-entities/") {
			order[r.Path[strings.LastIndex(r.Path, "/")+1:]] = i
		}
	}
	if !(order["C1"] < order["C2"] && order["C2"] < order["C3"]) {
		t.Fatalf("write order %v, want C1 < C2 < C3", order)
	}
	h, err := e.rc.ParentHierarchy(context.Background(), "C3")
	if err != nil || len(h) != 3 || h[2]["id"] != "C1" {
		t.Fatalf("parent hierarchy of C3: %v %v", err, h)
	}

	// Re-parent the grandchild under the root.
	e.file("companies.csv", companiesHeader+
		"C3,Grandchild,SUBSIDIARY,C1,EUR,10\n"+
		"C2,Child,SUBSIDIARY,C1,EUR,20\n"+
		"C1,Root,COMPANY,,EUR,30\n")
	rep, err = e.run(context.Background(), Options{}, path)
	if err != nil || rep.Updated != 1 || rep.Unchanged != 2 {
		t.Fatalf("re-parent: %v\n%s", err, rep.Summary())
	}
	le, err := e.rc.GetLegalEntity(context.Background(), "C3")
	if err != nil || le["parentId"] != "C1" {
		t.Fatalf("C3 after re-parenting: %v %v", err, le["parentId"])
	}
}

func TestImportCompanyCycleAndMissingParentAreRowErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.file("companies.csv", companiesHeader+
		"A,A,SUBSIDIARY,B,EUR,1\n"+
		"B,B,SUBSIDIARY,A,EUR,1\n"+
		"X,X,SUBSIDIARY,NOPE,EUR,1\n"+
		"Y,Y,SUBSIDIARY,X,EUR,1\n"+
		"OK,Fine,COMPANY,,EUR,1\n")
	rep, err := e.run(context.Background(), Options{}, path)
	if !errors.Is(err, ErrPartial) || rep.Created != 1 || rep.Failed != 4 {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}
	reasons := map[string]string{}
	for _, f := range rep.Failures {
		reasons[f.Key] = f.Reason
	}
	if !strings.Contains(reasons["A"], "A -> B -> A") || !strings.Contains(reasons["B"], "cycle") {
		t.Errorf("cycle not named: %q / %q", reasons["A"], reasons["B"])
	}
	if !strings.Contains(reasons["X"], `"NOPE"`) || !strings.Contains(reasons["Y"], "Y -> X -> NOPE") {
		t.Errorf("missing parent chain not named: %q / %q", reasons["X"], reasons["Y"])
	}
	if _, err := e.rc.GetLegalEntity(context.Background(), "A"); !remote.IsNotFound(err) {
		t.Errorf("a company in a cycle was written: %v", err)
	}
}

func TestImportContactsAfterCustomersAndCompanies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The contacts file comes first on the command line and the customer only in the last file.
	contacts := e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nC1,500,PRIMARY,true\n")
	companies := e.file("companies.csv", companiesHeader+"C1,Root,COMPANY,,EUR,30\n")
	customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName\n500,Ann,Lee\n")
	rep, err := e.run(context.Background(), Options{}, contacts, companies, customers)
	if err != nil || rep.Created != 3 {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}
	list := 0
	for doc, err := range e.rc.ContactAssignments(context.Background(), remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		list++
		if doc["type"] != "PRIMARY" {
			t.Errorf("assignment %v", doc)
		}
	}
	if list != 1 {
		t.Fatalf("%d assignments, want 1", list)
	}
	// Changing the type updates the one assignment.
	e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nC1,500,BILLING,false\n")
	rep, err = e.run(context.Background(), Options{}, contacts)
	if err != nil || rep.Updated != 1 {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}
	for doc := range e.rc.ContactAssignments(context.Background(), remote.ListOptions{}) {
		if doc["type"] != "BILLING" {
			t.Errorf("assignment after the change: %v", doc["type"])
		}
	}
	// A second row for the same pair is a row error.
	e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nC1,500,BILLING,false\nC1,500,PRIMARY,true\n")
	if rep, err := e.run(context.Background(), Options{}, contacts); !errors.Is(err, ErrPartial) || rep.Failed != 1 {
		t.Fatalf("duplicate pair: %v\n%s", err, rep.Summary())
	}
}

func TestImportLegalEntityVersionConflictIsRetried(t *testing.T) {
	t.Parallel()
	var interfere atomic.Bool
	var e *env
	e = newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The first update PUT of C1 meets a concurrent edit made just before it reaches the platform.
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/legal-entities/C1") && interfere.CompareAndSwap(true, false) {
				other, err := remote.New(remote.Config{BaseURL: "http://" + r.Host, Tenant: testTenant, ClientID: "sandbox", ClientSecret: "sandbox"})
				if err == nil {
					doc, err := other.GetLegalEntity(r.Context(), "C1")
					if err == nil {
						body := requestShape(doc)
						body["legalInfo"] = map[string]any{"legalName": "Edited Elsewhere GmbH"}
						_, _ = other.UpsertLegalEntity(r.Context(), "C1", body)
					}
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	path := e.file("companies.csv", companiesHeader+"C1,Root,COMPANY,,EUR,30\n")
	if _, err := e.run(context.Background(), Options{}, path); err != nil {
		t.Fatal(err)
	}
	before, _ := e.rc.GetLegalEntity(context.Background(), "C1")
	groups := len(before["customerGroups"].([]any))
	e.file("companies.csv", companiesHeader+"C1,Root Renamed,COMPANY,,EUR,30\n")
	interfere.Store(true)
	rep, err := e.run(context.Background(), Options{}, path)
	if err != nil || rep.Updated != 1 {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}
	if interfere.Load() {
		t.Fatal("the concurrent edit never happened")
	}
	conflicts := 0
	for _, r := range e.srv.Requests() {
		if r.Status == http.StatusConflict {
			conflicts++
		}
	}
	after, _ := e.rc.GetLegalEntity(context.Background(), "C1")
	legal, _ := after["legalInfo"].(map[string]any)
	if conflicts != 1 || after["name"] != "Root Renamed" || legal["legalName"] != "Edited Elsewhere GmbH" {
		t.Fatalf("conflicts %d, after %v", conflicts, after)
	}
	if n := len(after["customerGroups"].([]any)); n != groups || groups == 0 {
		t.Fatalf("auto-created customer groups: %d before, %d after", groups, n)
	}
}

func TestImportCustomerGroupsFromFileKeepPlatformGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.file("companies.csv", "companyKey,name,type\nC1,Root,COMPANY\n")
	if _, err := e.run(context.Background(), Options{}, path); err != nil {
		t.Fatal(err)
	}
	e.file("companies.csv", "companyKey,name,type,customerGroups\nC1,Root,COMPANY,EXTRA-GROUP\n")
	if _, err := e.run(context.Background(), Options{}, path); err != nil {
		t.Fatal(err)
	}
	after, _ := e.rc.GetLegalEntity(context.Background(), "C1")
	var roles int
	for _, g := range after["customerGroups"].([]any) {
		if m := g.(map[string]any); m["role"] != nil && m["role"] != "" {
			roles++
		}
	}
	if roles != 3 {
		t.Fatalf("platform-owned groups after a file set customerGroups: %v", after["customerGroups"])
	}
}

func TestImportDeletingParentCompanyWithChildren(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.file("companies.csv", companiesHeader+
		"C1,Root,COMPANY,,EUR,30\nC2,Child,SUBSIDIARY,C1,EUR,20\nC3,Grandchild,SUBSIDIARY,C2,EUR,10\nD1,Other,COMPANY,,EUR,1\n")
	if _, err := e.run(context.Background(), Options{}, path); err != nil {
		t.Fatal(err)
	}
	// Deleting the root alone would take its subsidiaries with it on the platform: refused.
	flagged := e.file("delete.csv", "companyKey,deleted\nC1,X\n")
	e.srv.ResetRequests()
	rep, err := e.run(context.Background(), Options{MaxDelete: DeleteLimit{Percent: 100, IsPct: true}}, flagged)
	if !errors.Is(err, ErrPartial) || rep.Deleted != 0 || !strings.Contains(rep.Failures[0].Reason, "C2, C3") {
		t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	if w := e.writes(); w["DELETE"] != 0 {
		t.Fatalf("deletes sent: %v", w)
	}
	// All three together, under the default 10% guard: refused as a whole.
	e.file("delete.csv", "companyKey,deleted\nC1,X\nC2,X\nC3,X\n")
	if _, err := e.run(context.Background(), Options{}, flagged); !errors.Is(err, ErrSafetyStop) {
		t.Fatalf("guard: %v", err)
	}
	// With the guard raised they go, children first.
	e.srv.ResetRequests()
	rep, err = e.run(context.Background(), Options{MaxDelete: DeleteLimit{Count: 3}}, flagged)
	if err != nil || rep.Deleted != 3 {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}
	var order []string
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodDelete {
			order = append(order, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if strings.Join(order, ",") != "C3,C2,C1" {
		t.Fatalf("delete order %v, want children first", order)
	}
	dels, _ := e.st.ListDeletions(context.Background(), state.DeletionFilter{Kind: string(mapping.Companies)})
	if len(dels) != 3 {
		t.Fatalf("deletion log %+v", dels)
	}
}

// TestImportKeepsPlatformEditsOfFieldsTheFileLeaves: a company, a location and an address edited on the
// platform in a field the ERP file does not change keep that edit when the file changes another field of the
// same record, the address's change being a clear (which re-writes the whole address). Only what the file
// changes is written, as for customers.
func TestImportKeepsPlatformEditsOfFieldsTheFileLeaves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// The ERP's files: what changes between the nights is the location's city, the company's account limit and
	// the address's state.
	write := func(city, limit, state string) []string {
		return []string{
			e.file("locations.csv", "locationKey,name,type,contactDetails.phones,contactDetails.city,contactDetails.countryCode\n"+
				"L1,HQ,HEADQUARTER,+49 1,"+city+",DE\n"),
			e.file("companies.csv", "companyKey,name,type,legalInfo.legalName,accountLimit.currency,accountLimit.value,locationKeys\n"+
				"C1,Acme,COMPANY,Acme AG,EUR,"+limit+",L1\n"),
			e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n0000000001,Anna,Berg,anna@x.example\n"),
			e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,zipCode,city,country,state,contactPhone\n"+
				"0000000001,A1,Anna Berg,Hauptstr,10115,Berlin,DE,"+state+",+49 111\n"),
		}
	}
	files := write("Berlin", "1000", "BE")
	if rep, err := e.run(ctx, Options{}, files...); err != nil {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}

	edit := func(get func(context.Context, string) (remote.Doc, error), put func(context.Context, string, remote.Doc) (bool, error),
		id string, change func(body map[string]any)) {
		doc, err := get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		body := requestShape(doc)
		change(body)
		if _, err := put(ctx, id, body); err != nil {
			t.Fatal(err)
		}
	}
	edit(e.rc.GetLegalEntity, e.rc.UpsertLegalEntity, "C1", func(b map[string]any) { b["name"] = "Acme EDITED ON PLATFORM" })
	edit(e.rc.GetLocation, e.rc.UpsertLocation, "L1", func(b map[string]any) {
		b["contactDetails"].(map[string]any)["phones"] = []any{"+49 EDITED"}
	})
	if err := e.rc.PatchAddress(ctx, "0000000001", "0000000001-A1", remote.Doc{"contactPhone": "+49 EDITED"}); err != nil {
		t.Fatal(err)
	}

	write("Potsdam", "2000", "#N/A")
	rep, err := e.run(ctx, Options{}, files...)
	if err != nil || rep.Updated != 3 {
		t.Fatalf("%v\n%s", err, rep.Summary())
	}

	le, err := e.rc.GetLegalEntity(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	if limit, _ := le["accountLimit"].(map[string]any); le["name"] != "Acme EDITED ON PLATFORM" || !mapping.SameValue(limit["value"], 2000.0) {
		t.Errorf("company: name %v, accountLimit %v; want the platform's name and the file's limit", le["name"], le["accountLimit"])
	}
	loc, err := e.rc.GetLocation(ctx, "L1")
	if err != nil {
		t.Fatal(err)
	}
	details, _ := loc["contactDetails"].(map[string]any)
	if phones, _ := details["phones"].([]any); len(phones) != 1 || phones[0] != "+49 EDITED" || details["city"] != "Potsdam" {
		t.Errorf("location contactDetails %v; want the platform's phone and the file's city", details)
	}
	addr, err := e.rc.GetAddress(ctx, "0000000001", "0000000001-A1")
	if err != nil {
		t.Fatal(err)
	}
	if _, hasState := addr["state"]; addr["contactPhone"] != "+49 EDITED" || hasState {
		t.Errorf("address contactPhone %v, state %v; want the platform's phone and the state cleared", addr["contactPhone"], addr["state"])
	}

	// The checkpoint holds what custsync wrote, so the next run with the same files sends nothing and the
	// platform's edits stay.
	e.srv.ResetRequests()
	if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Updated != 0 {
		t.Fatalf("re-run: %v\n%s", err, rep.Summary())
	}
	if w := e.writes(); len(w) != 0 {
		t.Fatalf("re-run wrote %v", w)
	}
}

// TestImportRecreatesWhatTheLastDeleteTookAlong runs QA's r4 and r5 against the sandbox: a company deleted
// on the platform takes its contact assignments along, a customer its addresses and assignments. When the ERP
// un-flags them the next night, the rows of those dependents must be written again, not taken for unchanged
// because the checkpoint still held them.
func TestImportRecreatesWhatTheLastDeleteTookAlong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	assignments := func(e *env) map[string]remote.Doc { return assignmentsByPair(t, e.rc) }
	halfMayGo := Options{MaxDelete: DeleteLimit{Percent: 50, IsPct: true}}

	t.Run("company", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		companies := e.file("companies.csv", "companyKey,name,type,deleted\nC1,Acme,COMPANY,\nC2,Beta,COMPANY,\n")
		customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n0000000001,Anna,Berg,anna@x.example\n")
		contacts := e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nC1,0000000001,PRIMARY\n")
		files := []string{companies, customers, contacts}
		if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Created != 4 {
			t.Fatalf("%v\n%s", err, rep.Summary())
		}
		e.file("companies.csv", "companyKey,name,type,deleted\nC1,Acme,COMPANY,true\nC2,Beta,COMPANY,\n")
		if rep, err := e.run(ctx, halfMayGo, files...); err != nil || rep.Deleted != 1 {
			t.Fatalf("delete: %v\n%s", err, rep.Summary())
		}
		if n := len(assignments(e)); n != 0 {
			t.Fatalf("%d assignments left after the company's delete, want the platform to have removed it", n)
		}
		if _, ok, err := e.st.GetEntity(ctx, state.EntityKey{Kind: string(mapping.Contacts), ERPKey: mapping.JoinKey("C1", "0000000001")}); ok || err != nil {
			t.Fatalf("the checkpoint keeps the assignment the platform removed (%v)", err)
		}
		dels, _ := e.st.ListDeletions(ctx, state.DeletionFilter{})
		if len(dels) != 1 || dels[0].Kind != string(mapping.Companies) {
			t.Fatalf("deletion log %+v, want the company's entry alone", dels)
		}

		e.file("companies.csv", "companyKey,name,type,deleted\nC1,Acme,COMPANY,\nC2,Beta,COMPANY,\n")
		if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Created != 2 {
			t.Fatalf("un-flagged: %v\n%s", err, rep.Summary())
		}
		if a, ok := assignments(e)["C1/0000000001"]; !ok || a["type"] != "PRIMARY" {
			t.Fatalf("assignment after the company came back: %v", assignments(e))
		}
	})

	t.Run("customer", func(t *testing.T) {
		t.Parallel()
		// The tenant lets a deleted customer's number be used again, so the customer can come back.
		e := newEnvFor(t, sandbox.Options{RecreateDeletedCustomers: true}, nil)
		companies := e.file("companies.csv", "companyKey,name,type\nC1,Acme,COMPANY\n")
		customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail,deleted\n"+
			"0000000001,Anna,Berg,anna@x.example,\n0000000002,Bob,Kurz,bob@x.example,\n")
		addresses := e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country\n0000000001,A1,Anna,Hauptstr 1,Berlin,DE\n")
		contacts := e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nC1,0000000001,PRIMARY\n")
		files := []string{companies, customers, addresses, contacts}
		if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Created != 5 {
			t.Fatalf("%v\n%s", err, rep.Summary())
		}
		e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail,deleted\n"+
			"0000000001,Anna,Berg,anna@x.example,true\n0000000002,Bob,Kurz,bob@x.example,\n")
		if rep, err := e.run(ctx, halfMayGo, files...); err != nil || rep.Deleted != 1 {
			t.Fatalf("delete: %v\n%s", err, rep.Summary())
		}
		for _, k := range []state.EntityKey{{Kind: string(mapping.Addresses), ERPKey: mapping.JoinKey("0000000001", "A1")},
			{Kind: string(mapping.Contacts), ERPKey: mapping.JoinKey("C1", "0000000001")}} {
			if _, ok, err := e.st.GetEntity(ctx, k); ok || err != nil {
				t.Fatalf("the checkpoint keeps %s %s, which the platform removed (%v)", k.Kind, k.ERPKey, err)
			}
		}

		// The ERP takes the deletion back: it acknowledges it, which releases the customer's rows.
		if _, err := AckDeletions(ctx, e.st, nil, AckOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail,deleted\n"+
			"0000000001,Anna,Berg,anna@x.example,\n0000000002,Bob,Kurz,bob@x.example,\n")
		if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Created != 3 {
			t.Fatalf("un-flagged: %v\n%s", err, rep.Summary())
		}
		if _, err := e.rc.GetAddress(ctx, "0000000001", "0000000001-A1"); err != nil {
			t.Fatalf("address after the customer came back: %v", err)
		}
		if _, ok := assignments(e)["C1/0000000001"]; !ok {
			t.Fatalf("assignment after the customer came back: %v", assignments(e))
		}
	})
}

// TestImportRefusesDeletingCompanyWithSubsidiaryMadeOnPlatform runs QA's r3: a shop user creates a subsidiary
// of C1 on the platform, which the checkpoint does not know; the ERP then deletes C1 (a deletion flag, or
// --mode full). Deleting C1 would make the platform delete the subsidiary too, so the run refuses it (exit 3,
// naming the subsidiary) and deletes what it may; a dry run with --live predicts that, one without reads nothing.
func TestImportRefusesDeletingCompanyWithSubsidiaryMadeOnPlatform(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, file string
		opts       Options
	}{
		{"flag", "companyKey,name,type,parentCompanyKey,deleted\nC1,Acme,COMPANY,,true\nC2,Beta,COMPANY,,\nC3,Gamma,COMPANY,,\n", Options{}},
		{"full", "companyKey,name,type,parentCompanyKey\nC2,Beta,COMPANY,\nC3,Gamma,COMPANY,\n", Options{Mode: ModeFull}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			path := e.file("companies.csv", "companyKey,name,type,parentCompanyKey\nC1,Acme,COMPANY,\nC2,Beta,COMPANY,\nC3,Gamma,COMPANY,\n"+
				"K1,Kid,SUBSIDIARY,C2\n")
			if rep, err := e.run(ctx, Options{}, path); err != nil {
				t.Fatalf("%v\n%s", err, rep.Summary())
			}
			if _, err := e.rc.UpsertLegalEntity(ctx, "SHOPSUB", remote.Doc{"name": "Acme Shop Sub", "type": "SUBSIDIARY", "parentId": "C1"}); err != nil {
				t.Fatal(err)
			}
			// C2 goes with its subsidiary K1, which the file deletes too: that delete is not refused.
			body := strings.Replace(tc.file, "C2,Beta,COMPANY,", "C2,Beta,COMPANY,,true\nK1,Kid,SUBSIDIARY,C2,true", 1)
			if tc.opts.Mode == ModeFull {
				body = strings.Replace(tc.file, "C2,Beta,COMPANY,\n", "", 1)
			}
			e.file("companies.csv", body)
			opts := tc.opts
			opts.MaxDelete = DeleteLimit{Percent: 100, IsPct: true}

			e.srv.ResetRequests()
			dry := opts
			dry.DryRun = true
			if rep, err := e.run(ctx, dry, path); err != nil || rep.Failed != 0 {
				t.Fatalf("dry run without --live: %v\n%s", err, rep.Summary())
			}
			if n := len(e.srv.Requests()); n != 0 {
				t.Fatalf("a dry run without --live sent %d requests", n)
			}
			dry.Live = true
			rep, err := e.run(ctx, dry, path)
			if !errors.Is(err, ErrPartial) || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Reason, "SHOPSUB") {
				t.Fatalf("dry run --live: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
			}

			rep, err = e.run(ctx, opts, path)
			if !errors.Is(err, ErrPartial) || rep.Deleted != 2 || len(rep.Failures) != 1 {
				t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
			}
			if f := rep.Failures[0]; f.Key != "C1" || !strings.Contains(f.Reason, "not deleted: its subsidiaries SHOPSUB stay on the platform") {
				t.Fatalf("failure %+v", f)
			}
			for id, want := range map[string]bool{"C1": true, "SHOPSUB": true, "C2": false, "K1": false, "C3": true} {
				if _, err := e.rc.GetLegalEntity(ctx, id); (err == nil) != want {
					t.Errorf("%s on the platform: %v, want %t", id, err, want)
				}
			}
		})
	}
}

// TestImportRefusesDeletingLocationACompanyLists: a location that a company still lists in its locationKeys
// (its input row's cell, or the checkpoint's snapshot when the input has no row that sets it) is not deleted,
// since the platform would drop it from the company's entitiesAddresses while the run reports the company
// unchanged. The refusal is a row error naming the company; once the company's row stops listing it, it goes.
func TestImportRefusesDeletingLocationACompanyLists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const (
		locationsHeader = "locationKey,name,type,deleted\n"
		bothListed      = "C1,Acme,COMPANY,\"L1,L2\"\n"
		oneListed       = "C1,Acme,COMPANY,L1\n"
	)
	for _, tc := range []struct {
		name, locations string
		withCompanies   bool
		opts            Options
	}{
		{"full with companies", locationsHeader + "L1,Main,HEADQUARTER,\n", true, Options{Mode: ModeFull}},
		{"full, checkpoint only", locationsHeader + "L1,Main,HEADQUARTER,\n", false, Options{Mode: ModeFull}},
		{"flag", locationsHeader + "L1,Main,HEADQUARTER,\nL2,Store,WAREHOUSE,true\n", false, Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			locations := e.file("locations.csv", locationsHeader+"L1,Main,HEADQUARTER,\nL2,Store,WAREHOUSE,\n")
			companies := e.file("companies.csv", "companyKey,name,type,locationKeys\n"+bothListed)
			if rep, err := e.run(ctx, Options{}, locations, companies); err != nil || rep.Created != 3 {
				t.Fatalf("%v\n%s", err, rep.Summary())
			}
			e.file("locations.csv", tc.locations)
			files := []string{locations}
			if tc.withCompanies {
				files = append(files, companies)
			}
			opts := tc.opts
			opts.MaxDelete = DeleteLimit{Percent: 100, IsPct: true}
			rep, err := e.run(ctx, opts, files...)
			if !errors.Is(err, ErrPartial) || rep.Deleted != 0 || len(rep.Failures) != 1 {
				t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
			}
			if f := rep.Failures[0]; f.Key != "L2" || f.Reason != "not deleted: company C1 still lists it in locationKeys; remove it there first" {
				t.Fatalf("failure %+v", f)
			}
			le, err := e.rc.GetLegalEntity(ctx, "C1")
			if err != nil || len(idRefs(le["entitiesAddresses"])) != 2 {
				t.Fatalf("C1 after the refused delete: %v %v", err, le["entitiesAddresses"])
			}

			// The ERP takes the location off the company: now it goes, and the company's change is written.
			e.file("companies.csv", "companyKey,name,type,locationKeys\n"+oneListed)
			rep, err = e.run(ctx, opts, locations, companies)
			if err != nil || rep.Deleted != 1 || rep.Updated != 1 {
				t.Fatalf("after unlisting: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
			}
			if _, err := e.rc.GetLocation(ctx, "L2"); err == nil {
				t.Fatal("L2 is still on the platform")
			}
		})
	}
}

// A Customer Management update that meets a version conflict on every PUT (someone edits the record each time
// just before it arrives) reads it again maxVersionRetries times and then fails its row with the conflict,
// instead of retrying for ever.
func TestManagementUpdateGivesUpAfterMaxVersionRetries(t *testing.T) {
	t.Parallel()
	var interfere atomic.Bool
	var edits atomic.Int32
	var e *env
	e = newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/legal-entities/C1") && interfere.Load() {
				doc, err := e.rc.GetLegalEntity(r.Context(), "C1")
				if err == nil {
					body := requestShape(doc)
					body["legalInfo"] = map[string]any{"legalName": fmt.Sprintf("Edit %d", edits.Add(1))}
					interfere.Store(false) // the edit's own PUT passes
					_, err = e.rc.UpsertLegalEntity(r.Context(), "C1", body)
					interfere.Store(true)
				}
				if err != nil {
					t.Errorf("concurrent edit: %v", err)
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	path := e.file("companies.csv", companiesHeader+"C1,Root,COMPANY,,EUR,30\n")
	if _, err := e.run(ctx, Options{}, path); err != nil {
		t.Fatal(err)
	}
	e.file("companies.csv", companiesHeader+"C1,Root Renamed,COMPANY,,EUR,30\n")
	interfere.Store(true)
	e.srv.ResetRequests()
	rep, err := e.run(ctx, Options{}, path)
	interfere.Store(false)
	if !errors.Is(err, ErrPartial) || rep.Failed != 1 || len(rep.Failures) != 1 || rep.Failures[0].Status != http.StatusConflict {
		t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	if st := e.statuses(); st[http.StatusConflict] != 1+maxVersionRetries || int(edits.Load()) != 1+maxVersionRetries {
		t.Fatalf("%d edits, answers %v: want %d conflicts", edits.Load(), st, 1+maxVersionRetries)
	}
	if doc, _ := e.rc.GetLegalEntity(ctx, "C1"); doc["name"] != "Root" {
		t.Fatalf("the company after the failed update: %v", doc)
	}
}
