package sync

import (
	"context"
	"net/http"
	"testing"
)

// TestImportWritesInTheFormEachSchemaHas: the account flags of a new customer reach the platform although
// the merge-patch schema of the create lacks them, and clears reach it although no application/json schema
// takes null: customers clear through a merge patch, addresses through a PUT without the field, companies
// are created without the cleared field. The sandbox refuses any member or null a request schema does not
// have, so each of these writes fails if it is sent in the wrong form.
func TestImportWritesInTheFormEachSchemaHas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactPhone,active,onHold\n"+
		"7,Ann,Lee,+1 555,false,true\n8,Bob,Roe,+1 556,true,false\n")
	addresses := e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country\n"+
		"7,A1,Ann Lee,Main St,Boston,US\n")
	companies := e.file("companies.csv", "companyKey,name,legalInfo.legalName,legalInfo.registrationId\nK1,Kappa,#N/A,HRB 1\n")
	rep, err := e.run(ctx, Options{}, customers, addresses, companies)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("first import: %v\n%s", err, rep.Summary())
	}
	ann := e.platformCustomers()["7"]
	if ann["active"] != false || ann["onHold"] != true || ann["contactPhone"] != "+1 555" {
		t.Fatalf("created customer: %v", ann)
	}
	le, err := e.rc.GetLegalEntity(ctx, "K1")
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := le["legalInfo"].(map[string]any); info["registrationId"] != "HRB 1" || info["legalName"] != nil {
		t.Fatalf("created company: %v", le)
	}

	// Clears and flag changes in one update; a plain change in another.
	e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactPhone,active,onHold\n"+
		"7,Ann,Lee,#N/A,true,false\n8,Bobby,Roe,+1 556,true,false\n")
	e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country\n"+
		"7,A1,Ann Lee,Elm St,#N/A,US\n")
	e.srv.ResetRequests()
	rep, err = e.run(ctx, Options{}, customers, addresses)
	if err != nil || rep.Failed != 0 || rep.Updated != 3 {
		t.Fatalf("update: %v\n%s", err, rep.Summary())
	}
	// Customer 7: a merge patch with the clear, then the flags as application/json; customer 8: one PATCH.
	// The address: read, then PUT.
	var patches, puts, gets int
	for _, r := range e.srv.Requests() {
		switch r.Method {
		case http.MethodPatch:
			patches++
		case http.MethodPut:
			puts++
		case http.MethodGet:
			if r.Path == "/customer/"+testTenant+"/customers/7/addresses/7-A1" {
				gets++
			}
		}
	}
	if patches != 3 || puts != 1 || gets != 1 {
		t.Fatalf("update requests: %d PATCH, %d PUT, %d address GET; want 3, 1, 1", patches, puts, gets)
	}
	platform := e.platformCustomers()
	ann, bob := platform["7"], platform["8"]
	if _, ok := ann["contactPhone"]; ok || ann["active"] != true || ann["onHold"] != false || ann["firstName"] != "Ann" {
		t.Fatalf("customer 7 after clearing contactPhone and flipping the flags: %v", ann)
	}
	if bob["firstName"] != "Bobby" {
		t.Fatalf("customer 8: %v", bob)
	}
	addr, err := e.rc.GetAddress(ctx, "7", "7-A1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := addr["city"]; ok || addr["street"] != "Elm St" || addr["contactName"] != "Ann Lee" || addr["country"] != "US" {
		t.Fatalf("address after clearing city: %v", addr)
	}
	// Nothing left to do.
	e.srv.ResetRequests()
	if rep, err = e.run(ctx, Options{}, customers, addresses); err != nil || rep.Unchanged != 3 {
		t.Fatalf("re-run: %v\n%s", err, rep.Summary())
	}
	if w := e.writes(); len(w) != 0 {
		t.Fatalf("re-run sent %v", w)
	}
}
