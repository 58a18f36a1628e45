package sync

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"custsync/sandbox"
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

// TestCreatesPatchOnlyFlagsOffTheTenantDefaults: a customer the platform creates has the tenant's creation
// defaults for active and onHold, learned with one read of the first created customer, so only rows whose
// flags differ from them cost a PATCH; a create the platform merges into a customer it had (204) always sends
// the row's flags. Tested with the platform's defaults and with a tenant whose new customers start inactive
// and on hold.
func TestCreatesPatchOnlyFlagsOffTheTenantDefaults(t *testing.T) {
	t.Parallel()
	rows := "sdCustomerNumber,lastName,active,onHold\n" +
		"1,A,true,false\n2,B,true,false\n3,C,false,false\n4,D,true,true\n5,E,false,true\n6,F,true,false\n7,G,true,false\n8,H,,\n"
	for _, tc := range []struct {
		name    string
		opts    sandbox.Options
		patches int
	}{
		// Rows 3, 4 and 5 differ from active and not on hold; row 8 sets neither flag.
		{"platform defaults", sandbox.Options{}, 3},
		// Every row but 5 and 8 differs from inactive and on hold.
		{"inactive and on hold", sandbox.Options{CustomersInactiveOnCreation: true, CustomersOnHoldOnCreation: true}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvFor(t, tc.opts, nil)
			ctx := context.Background()
			// Customer 7 is on the platform already, inactive: its create merges into it (204), so it gets the
			// row's flags although they may equal the tenant's defaults.
			if _, err := e.rc.MergeUpsertCustomer(ctx, "7", map[string]any{"lastName": "G"}); err != nil {
				t.Fatal(err)
			}
			if err := e.rc.PatchCustomer(ctx, "7", map[string]any{"active": false, "onHold": true}); err != nil {
				t.Fatal(err)
			}
			e.srv.ResetRequests()
			rep, err := e.run(ctx, Options{Writers: 1}, e.file("customers.csv", rows))
			if err != nil || rep.Created != 7 || rep.Merged != 1 {
				t.Fatalf("import: %v\n%s", err, rep.Summary())
			}
			var puts, patches, gets int
			for _, r := range e.srv.Requests() {
				switch {
				case r.Method == http.MethodPut:
					puts++
				case r.Method == http.MethodPatch:
					patches++
				case r.Method == http.MethodGet && strings.Contains(r.Path, "/customers/"):
					gets++
				}
			}
			// The merged customer 7 always gets its PATCH.
			if want := tc.patches + 1; puts != 8 || patches != want || gets != 1 {
				t.Errorf("requests: %d PUT, %d PATCH, %d customer GET; want 8, %d, 1", puts, patches, gets, want)
			}
			platform := e.platformCustomers()
			for i, line := range strings.Split(strings.TrimSpace(rows), "\n")[1:] {
				cells := strings.Split(line, ",")
				got := platform[cells[0]]
				if cells[2] == "" {
					if got["active"] != !tc.opts.CustomersInactiveOnCreation || got["onHold"] != tc.opts.CustomersOnHoldOnCreation {
						t.Errorf("row %d without flags: active %v onHold %v, want the tenant's defaults", i+1, got["active"], got["onHold"])
					}
					continue
				}
				if fmt.Sprint(got["active"]) != cells[2] || fmt.Sprint(got["onHold"]) != cells[3] {
					t.Errorf("customer %s: active %v onHold %v, the row says %s %s", cells[0], got["active"], got["onHold"], cells[2], cells[3])
				}
			}
			e.srv.ResetRequests()
			if rep, err := e.run(ctx, Options{}, e.file("customers.csv", rows)); err != nil || rep.Unchanged != 8 || len(e.writes()) != 0 {
				t.Fatalf("re-run: %v, writes %v\n%s", err, e.writes(), rep.Summary())
			}
		})
	}
}
