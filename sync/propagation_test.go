package sync

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"custsync/mapping"
	"custsync/remote"
)

// assignmentsByPair lists the platform's contact assignments as "company/customer" -> assignment.
func assignmentsByPair(t *testing.T, rc *remote.Client) map[string]remote.Doc {
	t.Helper()
	out := map[string]remote.Doc{}
	for d, err := range rc.ContactAssignments(context.Background(), remote.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out[remote.RefID(d["legalEntity"])+"/"+remote.RefID(d["customer"])] = d
	}
	return out
}

// TestImportAdoptsAssignmentsThePlatformPropagated: the platform copies a subsidiary's new contact to the
// parent (UPWARD, its default), so the row for the parent finds its pair assigned already. The import adopts
// that assignment (written in place, recorded under the platform's id) instead of failing with 409 every
// night; a re-run sends nothing; a change goes to the adopted assignment; --mode full deletes only what rows
// stopped naming and never an assignment the platform made; check calls that one propagated, not a
// difference.
func TestImportAdoptsAssignmentsThePlatformPropagated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	files := []string{
		e.file("companies.csv", "companyKey,name,type,parentCompanyKey\nZ,Parent,COMPANY,\nS,Sub,SUBSIDIARY,Z\nT,SubSub,SUBSIDIARY,S\n"),
		e.file("customers.csv", "sdCustomerNumber,lastName\nX,Ex\nY,Why\n"),
		// One writer applies the rows in key order: S/X first, whose propagation makes Z/X.
		e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nS,X,PRIMARY,true\nZ,X,BILLING,false\nT,Y,CONTACT,false\n"),
	}
	rep, err := e.run(ctx, Options{Writers: 1}, files...)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("import: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	if c := rep.Entities[mapping.Contacts]; c.Created != 2 || c.Adopted != 1 || !strings.Contains(rep.Summary(), "1 adopted") {
		t.Fatalf("contacts %+v\n%s", c, rep.Summary())
	}
	pairs := assignmentsByPair(t, e.rc)
	zx := pairs["Z/X"]
	if id := zx["id"].(string); id == "Z-X" || len(id) != 24 || zx["type"] != "BILLING" || zx["primary"] != false {
		t.Fatalf("the adopted assignment Z/X: %v", zx)
	}
	// T/Y propagated to S and Z: 3 rows, 5 assignments.
	if len(pairs) != 5 || pairs["S/Y"] == nil || pairs["Z/Y"] == nil {
		t.Fatalf("assignments on the platform: %v", pairs)
	}
	refs, err := e.st.LoadEntities(ctx, string(mapping.Contacts))
	if err != nil {
		t.Fatal(err)
	}
	if refs["Z/X"].RemoteID != zx["id"] {
		t.Fatalf("checkpoint of Z/X: %+v, want the platform's id %s", refs["Z/X"], zx["id"])
	}

	chk, err := Check(ctx, e.st, e.rc, CheckOptions{Files: files})
	if err != nil || chk.Differences() != 0 || chk.Totals[CheckPropagated] != 2 {
		t.Fatalf("check: %v %v %+v", err, chk.Totals, chk.Problems)
	}

	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{}, files...); err != nil || rep.Unchanged != 8 || len(e.writes()) != 0 {
		t.Fatalf("re-run: %v %v\n%s", err, e.writes(), rep.Summary())
	}

	// A change of the adopted row goes to the platform's assignment.
	e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nS,X,PRIMARY,true\nZ,X,LOGISTICS,false\nT,Y,CONTACT,false\n")
	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{}, files...); err != nil || rep.Updated != 1 {
		t.Fatalf("update: %v\n%s", err, rep.Summary())
	}
	if w := e.writes(); w[http.MethodPut] != 1 || len(w) != 1 {
		t.Fatalf("update sent %v", w)
	}
	if got := assignmentsByPair(t, e.rc)["Z/X"]; got["id"] != zx["id"] || got["type"] != "LOGISTICS" {
		t.Fatalf("Z/X after the update: %v", got)
	}

	// A full snapshot without S/X deletes S/X only: the platform's own S/Y and Z/Y stay, and so does Z/X,
	// which a row still names.
	e.file("contacts.csv", "companyKey,sdCustomerNumber,type,primary\nZ,X,LOGISTICS,false\nT,Y,CONTACT,false\n")
	rep, err = e.run(ctx, Options{Mode: ModeFull, MaxDelete: DeleteLimit{Percent: 100, IsPct: true}}, files[2])
	if err != nil || rep.Deleted != 1 {
		t.Fatalf("full run: %v\n%s", err, rep.Summary())
	}
	pairs = assignmentsByPair(t, e.rc)
	if len(pairs) != 4 || pairs["S/X"] != nil || pairs["Z/X"] == nil || pairs["S/Y"] == nil || pairs["Z/Y"] == nil {
		t.Fatalf("after the full run: %v", pairs)
	}
}

// TestImportAdoptsAHandMadeAssignmentAndCheckMatchesByPair: an assignment made on the platform by hand under
// an id custsync would not choose, for a pair a row names. Before the import, check matches the row with it by
// customer and company (same, not one only in the file and one only on the platform); the import adopts it,
// and the next run sends nothing.
func TestImportAdoptsAHandMadeAssignmentAndCheckMatchesByPair(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	setup := []string{
		e.file("companies.csv", "companyKey,name\nK,Kappa\n"),
		e.file("customers.csv", "sdCustomerNumber,lastName\nX,Ex\n"),
	}
	if rep, err := e.run(ctx, Options{}, setup...); err != nil || rep.Failed != 0 {
		t.Fatalf("setup: %v", err)
	}
	if _, err := e.rc.UpsertContactAssignment(ctx, "by-hand", remote.Doc{"legalEntity": map[string]any{"id": "K"},
		"customer": map[string]any{"id": "X"}, "type": "BILLING"}); err != nil {
		t.Fatal(err)
	}
	contacts := e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nK,X,BILLING\n")
	chk, err := Check(ctx, e.st, e.rc, CheckOptions{Files: []string{contacts}})
	if err != nil || chk.Totals[CheckSame] != 1 || chk.Differences() != 0 {
		t.Fatalf("check before the import: %v %v %+v", err, chk.Totals, chk.Problems)
	}
	if p := chk.Entities[mapping.Contacts]; p[CheckSame] != 1 {
		t.Fatalf("contacts verdicts %v", p)
	}
	rep, err := e.run(ctx, Options{}, contacts)
	if err != nil || rep.Adopted != 1 || rep.Failed != 0 {
		t.Fatalf("import: %v\n%s", err, rep.Summary())
	}
	if pairs := assignmentsByPair(t, e.rc); len(pairs) != 1 || pairs["K/X"]["id"] != "by-hand" {
		t.Fatalf("assignments %v", pairs)
	}
	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{}, contacts); err != nil || rep.Unchanged != 1 || len(e.srv.Requests()) != 0 {
		t.Fatalf("re-run: %v %d requests\n%s", err, len(e.srv.Requests()), rep.Summary())
	}
}

// TestCheckReadsOnlyTheFilesKeysOnALargeTenant: a 5-row file against a tenant of 150 customers, 80 companies
// and 20 assignments
// is checked by key (batched lookups by id and by customer), not by listing the tenant: every request names
// the keys, the tenant's other records are not reported, and what differs under the keys is still found.
func TestCheckReadsOnlyTheFilesKeysOnALargeTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	seedCustomers(t, e.rc, 150)
	var companies strings.Builder
	companies.WriteString("companyKey,name\n")
	for i := range 80 {
		fmt.Fprintf(&companies, "Q%02d,Other %d\n", i, i)
	}
	if _, err := e.run(ctx, Options{}, e.file("others.csv", companies.String())); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := e.rc.UpsertContactAssignment(ctx, fmt.Sprintf("other-%d", i), remote.Doc{"legalEntity": map[string]any{"id": fmt.Sprintf("Q%02d", i)},
			"customer": map[string]any{"id": fmt.Sprintf("%010d", 500000+i)}, "type": "CONTACT"}); err != nil {
			t.Fatal(err)
		}
	}
	files := []string{
		e.file("companies.csv", "companyKey,name,type,parentCompanyKey\nP,Parent,COMPANY,\nS,Sub,SUBSIDIARY,P\n"),
		e.file("customers.csv", "sdCustomerNumber,lastName,contactEmail\nX,Ex,x@example.com\nY,Why,y@example.com\n"),
		e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nS,X,PRIMARY\n"),
	}
	if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Failed != 0 {
		t.Fatalf("import: %v", err)
	}
	if err := e.rc.PatchCustomer(ctx, "Y", remote.Doc{"lastName": "Changed"}); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequests()
	chk, err := Check(ctx, e.st, e.rc, CheckOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(entityNames(chk.ByKey), ",") != "customers,companies,contacts" {
		t.Fatalf("read by key: %v", chk.ByKey)
	}
	if chk.Differences() != 1 || chk.Totals[CheckDiffers] != 1 || chk.Totals[CheckPropagated] != 1 || chk.Totals[CheckSame] != 4 {
		t.Fatalf("verdicts %v %+v", chk.Totals, chk.Problems)
	}
	for _, r := range e.srv.Requests() {
		if r.Method != http.MethodGet || strings.HasPrefix(r.Path, "/oauth/") {
			continue
		}
		// A list without a q is one of the three size probes (one record), never a listing of the tenant.
		if !strings.Contains(r.RawQuery, "q=") && !strings.HasSuffix(r.RawQuery, "pageSize=1") {
			t.Errorf("check listed the tenant: GET %s?%s", r.Path, r.RawQuery)
		}
	}

	// The same file against a tenant it is most of is listed whole, with the same verdicts.
	chk, err = Check(ctx, e.st, e.rc, CheckOptions{Files: files, KeysRatio: 1000})
	if err != nil || len(chk.ByKey) != 0 {
		t.Fatalf("check with a high ratio: %v %v", err, chk.ByKey)
	}
	if chk.Totals[CheckOnlyOnPlatform] != 250 || chk.Totals[CheckDiffers] != 1 || chk.Totals[CheckPropagated] != 1 {
		t.Fatalf("verdicts when listing the tenant: %v", chk.Totals)
	}
}
