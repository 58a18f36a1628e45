package sync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	stdsync "sync"
	"testing"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// entitiesAddressIDs returns the ids of the locations a legal entity lists.
func (e *env) entitiesAddressIDs(companyID string) []string {
	e.t.Helper()
	doc, err := e.rc.GetLegalEntity(context.Background(), companyID)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, l := range doc["entitiesAddresses"].([]any) {
		ids = append(ids, l.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

// TestImportLocationCompanyKeyListsTheLocationOnTheCompany: a locations file that names its company, with a
// companies file that does not list locations, links them on the company (where the platform keeps the
// link); a re-run sends nothing, and a location moved to another company is added there.
func TestImportLocationCompanyKeyListsTheLocationOnTheCompany(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	companies := e.file("companies.csv", "companyKey,name,type\nK1,One,COMPANY\nK2,Two,COMPANY\n")
	locations := e.file("locations.csv", "locationKey,name,type,companyKey\nL1,Plant,WAREHOUSE,K1\nL2,Office,OFFICE,\"K1,K2\"\nL3,Depot,WAREHOUSE,\n")
	rep, err := e.run(ctx, Options{}, companies, locations)
	if err != nil || rep.Created != 5 {
		t.Fatalf("first import: %v\n%s", err, rep.Summary())
	}
	if got := e.entitiesAddressIDs("K1"); strings.Join(got, ",") != "L1,L2" {
		t.Errorf("K1 lists %v, want L1,L2", got)
	}
	if got := e.entitiesAddressIDs("K2"); strings.Join(got, ",") != "L2" {
		t.Errorf("K2 lists %v, want L2", got)
	}
	chk, err := Check(ctx, e.st, e.rc, CheckOptions{Files: []string{companies, locations}})
	if err != nil || chk.Totals[CheckSame] != 5 || len(chk.Problems) != 0 {
		t.Fatalf("check after the import: %v %+v %+v", err, chk.Totals, chk.Problems)
	}

	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{}, companies, locations); err != nil || rep.Unchanged != 5 {
		t.Fatalf("re-run: %v\n%s", err, rep.Summary())
	}
	if w := e.writes(); len(w) != 0 {
		t.Fatalf("re-run sent %v", w)
	}

	// L1 moves to K2 (and only its companyKey changes): K2 lists it; K1 keeps it, companyKey never unlinks.
	e.file("locations.csv", "locationKey,name,type,companyKey\nL1,Plant,WAREHOUSE,K2\nL2,Office,OFFICE,\"K1,K2\"\nL3,Depot,WAREHOUSE,\n")
	if rep, err = e.run(ctx, Options{}, companies, locations); err != nil || rep.Updated != 1 {
		t.Fatalf("move: %v\n%s", err, rep.Summary())
	}
	if got := e.entitiesAddressIDs("K2"); strings.Join(got, ",") != "L1,L2" {
		t.Errorf("K2 lists %v after the move, want L1,L2", got)
	}

	// A company neither in the input nor synced is a row error; the other rows go on.
	bad := e.file("more.csv", "locationKey,name,type,companyKey\nL4,Lab,OFFICE,K9\nL5,Shop,OFFICE,K1\n")
	rep, err = e.run(ctx, Options{Entity: mapping.Locations}, bad)
	if !errors.Is(err, ErrPartial) || rep.Created != 1 || len(rep.Failures) != 1 ||
		!strings.Contains(rep.Failures[0].Reason, `companyKey "K9": the company is neither in the input nor synced before`) {
		t.Fatalf("unknown company: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	if got := e.entitiesAddressIDs("K1"); !slices.Contains(got, "L5") || slices.Contains(got, "L4") {
		t.Errorf("K1 lists %v", got)
	}
}

// TestImportLocationCompanyKeyMustAgreeWithLocationKeys: when the companies file says which locations a
// company has, a location naming that company must be among them.
func TestImportLocationCompanyKeyMustAgreeWithLocationKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	companies := e.file("companies.csv", "companyKey,name,type,locationKeys\nK1,One,COMPANY,L1\nK2,Two,COMPANY,\n")
	locations := e.file("locations.csv", "locationKey,name,type,companyKey\nL1,Plant,WAREHOUSE,K1\nL2,Office,OFFICE,K1\nL3,Depot,WAREHOUSE,K2\n")
	rep, err := e.run(ctx, Options{}, companies, locations)
	if !errors.Is(err, ErrPartial) || len(rep.Failures) != 1 {
		t.Fatalf("import: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	f := rep.Failures[0]
	if f.Key != "L2" || f.Column != "companyKey" || !strings.Contains(f.Reason, `the locationKeys of company "K1" in this input do not list location "L2"`) {
		t.Errorf("failure %+v", f)
	}
	if got := e.entitiesAddressIDs("K1"); strings.Join(got, ",") != "L1" {
		t.Errorf("K1 lists %v", got)
	}
	// K2's locationKeys cell is blank: it keeps what it has, and L3's companyKey adds the link.
	if got := e.entitiesAddressIDs("K2"); strings.Join(got, ",") != "L3" {
		t.Errorf("K2 lists %v", got)
	}

	// Once K1 lists L2 both sides agree. When K1's row drops it again while L2's row (unchanged since it was
	// synced) still names K1, L2's row is refused: every row of both tables is read, not only changed ones.
	e.file("companies.csv", "companyKey,name,type,locationKeys\nK1,One,COMPANY,\"L1,L2\"\nK2,Two,COMPANY,\n")
	if rep, err = e.run(ctx, Options{}, companies, locations); err != nil {
		t.Fatalf("agreeing import: %v\n%s", err, rep.Summary())
	}
	e.file("companies.csv", "companyKey,name,type,locationKeys\nK1,One,COMPANY,L1\nK2,Two,COMPANY,\n")
	rep, err = e.run(ctx, Options{}, companies, locations)
	if !errors.Is(err, ErrPartial) || len(rep.Failures) != 1 || rep.Failures[0].Key != "L2" {
		t.Fatalf("third import: %v\n%s", err, rep.Summary())
	}
	if c := rep.Entities[mapping.Locations]; c.Unchanged != 2 || c.Failed != 1 {
		t.Errorf("locations counted %+v", c)
	}
}

// TestImportApprovalGroupNamesAssignmentsOfTheSameRun: a company's approval group names contact assignments
// created in the same run; the company is written without them first, then with them, and a re-run sends
// nothing.
func TestImportApprovalGroupNamesAssignmentsOfTheSameRun(t *testing.T) {
	t.Parallel()
	var mu stdsync.Mutex
	var puts []string // bodies of the PUTs of legal entity K1, in order
	e := newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/legal-entities/K1") {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				mu.Lock()
				puts = append(puts, string(body))
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	files := []string{
		e.file("companies.csv", "companyKey,name,type,parentCompanyKey,approvalGroup\nK1,One,COMPANY,,\"C1,K2/C2\"\nK2,Two,SUBSIDIARY,K1,C2\n"),
		e.file("customers.csv", "sdCustomerNumber,firstName,lastName\nC1,Ann,A\nC2,Bob,B\n"),
		e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nK1,C1,PRIMARY\nK2,C2,BILLING\n"),
	}
	rep, err := e.run(ctx, Options{}, files...)
	if err != nil || rep.Created != 6 {
		t.Fatalf("import: %v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	doc, err := e.rc.GetLegalEntity(ctx, "K1")
	if err != nil {
		t.Fatal(err)
	}
	var group []string
	for _, a := range doc["approvalGroup"].([]any) {
		group = append(group, a.(map[string]any)["id"].(string))
	}
	if strings.Join(group, ",") != "K1-C1,K2-C2" {
		t.Errorf("K1's approval group %v", group)
	}
	// Written before its assignments existed, then with the group once they did.
	if len(puts) != 2 || strings.Contains(puts[0], "approvalGroup") || !strings.Contains(puts[1], `"approvalGroup":[{"id":"K1-C1"},{"id":"K2-C2"}]`) {
		t.Errorf("PUTs of K1: %q", puts)
	}
	chk, err := Check(ctx, e.st, e.rc, CheckOptions{Files: files})
	if err != nil || len(chk.Problems) != 0 {
		t.Fatalf("check: %v %+v", err, chk.Problems)
	}
	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{}, files...); err != nil || rep.Unchanged != 6 || len(e.writes()) != 0 {
		t.Fatalf("re-run: %v %v\n%s", err, e.writes(), rep.Summary())
	}
	// A member that exists nowhere is refused before anything is sent for that company.
	e.file("companies.csv", "companyKey,name,type,parentCompanyKey,approvalGroup\nK1,One,COMPANY,,\"C1,C9\"\nK2,Two,SUBSIDIARY,K1,C2\n")
	rep, err = e.run(ctx, Options{}, files...)
	if !errors.Is(err, ErrPartial) || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Reason, `"K1/C9"`) {
		t.Fatalf("unknown member: %v\n%+v", err, rep.Failures)
	}
}

// TestDeletionPreImagesKeepMixins: the deletion log's pre-image of a deleted customer and of a deleted
// company holds their mixins (a customer is read with its mixins expanded), so nothing of them is lost.
func TestDeletionPreImagesKeepMixins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := e.file("customers.csv", "sdCustomerNumber,lastName,metadata.mixins.erp,mixins.erp.rating:number,deleted\nC1,One,https://schema.example/erp.json,7,\nC2,Two,,,\n")
	companies := e.file("companies.csv", "companyKey,name,mixins.erp.segment,deleted\nK1,One,A,\nK2,Two,,\n")
	if _, err := e.run(ctx, Options{}, companies, customers); err != nil {
		t.Fatal(err)
	}
	e.file("customers.csv", "sdCustomerNumber,lastName,metadata.mixins.erp,mixins.erp.rating:number,deleted\nC1,One,https://schema.example/erp.json,7,X\nC2,Two,,,\n")
	e.file("companies.csv", "companyKey,name,mixins.erp.segment,deleted\nK1,One,A,X\nK2,Two,,\n")
	if rep, err := e.run(ctx, Options{MaxDelete: DeleteLimit{Percent: 50, IsPct: true}}, companies, customers); err != nil || rep.Deleted != 2 {
		t.Fatalf("delete: %v\n%s", err, rep.Summary())
	}
	pre := map[string]string{}
	err := e.st.ScanDeletions(ctx, state.DeletionFilter{}, func(d state.DeletionEntry) error {
		pre[d.Kind+" "+d.ERPKey] = string(d.PreImage)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := pre["customers C1"]; !strings.Contains(c, `"mixins":{"erp":{"rating":7}}`) || !strings.Contains(c, `"erp":"https://schema.example/erp.json"`) {
		t.Errorf("customer pre-image %s", c)
	}
	if k := pre["companies K1"]; !strings.Contains(k, `"mixins":{"erp":{"segment":"A"}}`) {
		t.Errorf("company pre-image %s", k)
	}
}

// The writes that read a record, apply the row onto it and PUT it back under the version they read (a customer
// row holding a null, an address row clearing a field, a location's companyKey listing it on its company) read
// it again when someone changed the record in between (409), and keep that other change.
func TestReadApplyPutWritesRetryAVersionConflict(t *testing.T) {
	t.Parallel()
	var e *env
	var interfere stdsync.Map // path suffix of the PUT -> the concurrent edit, run once just before it
	e = newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				interfere.Range(func(suffix, edit any) bool {
					if strings.HasSuffix(r.URL.Path, suffix.(string)) {
						interfere.Delete(suffix)
						if err := edit.(func(context.Context) error)(r.Context()); err != nil {
							t.Errorf("concurrent edit of %s: %v", suffix, err)
						}
					}
					return true
				})
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n500,Ann,A,ann@example.com\n")
	addresses := e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country,companyName\n500,HQ,Ann A,Main 1,Berlin,DE,Acme\n")
	companies := e.file("companies.csv", "companyKey,name,type\nK1,One,COMPANY\n")
	if _, err := e.run(ctx, Options{}, customers, addresses, companies); err != nil {
		t.Fatal(err)
	}
	customer, _ := e.st.LoadEntities(ctx, string(mapping.Customers))
	address, _ := e.st.LoadEntities(ctx, string(mapping.Addresses))
	custID, addrID := customer["500"].RemoteID, address["500/HQ"].RemoteID
	_, addrOnly, _ := strings.Cut(addrID, "/")
	interfere.Store("/customers/"+custID, func(ctx context.Context) error {
		return e.rc.MergePatchCustomer(ctx, custID, remote.Doc{"title": "Dr."})
	})
	interfere.Store("/addresses/"+addrOnly, func(ctx context.Context) error {
		return e.rc.PatchAddress(ctx, custID, addrOnly, remote.Doc{"city": "Bonn"})
	})
	interfere.Store("/legal-entities/K1", func(ctx context.Context) error {
		doc, err := e.rc.GetLegalEntity(ctx, "K1")
		if err == nil {
			body := requestShape(doc)
			body["legalInfo"] = map[string]any{"legalName": "Edited Elsewhere GmbH"}
			_, err = e.rc.UpsertLegalEntity(ctx, "K1", body)
		}
		return err
	})
	e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail,mixins.erp.note:json\n500,Ann,A,ann@example.com,null\n")
	e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country,companyName\n500,HQ,Ann A,Main 1,Berlin,DE,#N/A\n")
	locations := e.file("locations.csv", "locationKey,name,type,companyKey\nL1,Plant,WAREHOUSE,K1\n")
	e.srv.ResetRequests()
	rep, err := e.run(ctx, Options{}, customers, addresses, companies, locations)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	pending := 0
	interfere.Range(func(suffix, _ any) bool { pending++; t.Errorf("no PUT of %s was sent", suffix); return true })
	conflicts := 0
	for _, r := range e.srv.Requests() {
		if r.Status == http.StatusConflict {
			conflicts++
		}
	}
	if pending == 0 && conflicts != 3 {
		t.Errorf("%d version conflicts, want 3 (one per write)", conflicts)
	}
	if doc := e.customer(custID); doc["title"] != "Dr." {
		t.Errorf("customer after the retry: %v", doc)
	}
	if doc, err := e.rc.GetAddress(ctx, custID, addrOnly); err != nil || doc["city"] != "Bonn" || doc["companyName"] != nil {
		t.Errorf("address after the retry: %v %v", doc, err)
	}
	company, err := e.rc.GetLegalEntity(ctx, "K1")
	legal, _ := company["legalInfo"].(map[string]any)
	if err != nil || legal["legalName"] != "Edited Elsewhere GmbH" || len(idRefs(company["entitiesAddresses"])) != 1 {
		t.Errorf("company after the retry: %v %v", company, err)
	}
}
