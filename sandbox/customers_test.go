package sandbox

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

const cust = "/customer/acme/customers"

func TestCustomerCreateGetAndDerivedFields(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	// Members CustomerSignupBySellerDto does not define (read-only fields of the response, the account
	// flags) are refused, each named, instead of being dropped.
	refused := customerErr(t, a.must(400, "POST", cust, map[string]any{
		"contactEmail": "john@example.com", "businessModel": "B2B", "customerNumber": "x", "addresses": []any{}, "onHold": true,
	}), 400, "validation_failure")
	var fields []string
	for _, d := range refused["details"].([]any) {
		fields = append(fields, d.(map[string]any)["field"].(string))
	}
	if strings.Join(fields, ",") != "addresses,businessModel,customerNumber,onHold" {
		t.Fatalf("refused fields %v: %v", fields, refused)
	}
	r := a.must(201, "POST", cust, map[string]any{
		"contactEmail": "john@example.com", "firstName": "John", "lastName": "Doe",
		"b2b":      map[string]any{"companyRegistrationId": 12345}, // numeric as in the platform tutorial
		"mixins":   map[string]any{"loyalty": map[string]any{"tier": "gold"}},
		"password": "secret123",
	})
	id := r.obj(t)["id"].(string)
	if !regexp.MustCompile(`^[0-9]{8}$`).MatchString(id) {
		t.Fatalf("generated id %q is not an 8-digit number", id)
	}
	got := a.must(200, "GET", cust+"/"+id, nil).obj(t)
	want := map[string]any{
		"id": id, "customerNumber": id, "contactEmail": "john@example.com", "email": "john@example.com",
		"firstName": "John", "preferredLanguage": "en_US", "preferredCurrency": "USD", "preferredSite": "main",
		"businessModel": "B2C", "active": true, "onHold": false,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got["metadata"].(map[string]any)["version"] != float64(1) {
		t.Errorf("metadata.version = %v, want 1", got["metadata"])
	}
	if got["b2b"].(map[string]any)["companyRegistrationId"] != "12345" {
		t.Errorf("b2b = %v", got["b2b"])
	}
	if _, ok := got["metadataCreatedAt"].(string); !ok {
		t.Errorf("metadataCreatedAt missing: %v", got)
	}
	for _, hidden := range []string{"mixins", "password", "addresses", "accounts"} {
		if _, ok := got[hidden]; ok {
			t.Errorf("%s returned without expand: %v", hidden, got[hidden])
		}
	}
	expanded := a.must(200, "GET", cust+"/"+id+"?expand=addresses,accounts,mixin:*", nil).obj(t)
	if expanded["mixins"].(map[string]any)["loyalty"] == nil {
		t.Errorf("mixins not expanded: %v", expanded)
	}
	if accts := expanded["accounts"].([]any); len(accts) != 1 || accts[0].(map[string]any)["id"] != "john@example.com" {
		t.Errorf("accounts = %v", expanded["accounts"])
	}
	if addrs := expanded["addresses"].([]any); len(addrs) != 0 {
		t.Errorf("addresses = %v", addrs)
	}
}

func TestCustomerCreateConflictsAndValidation(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	a.must(201, "POST", cust, map[string]any{"id": "C-001", "contactEmail": "Jane@Example.com"})
	r := a.must(409, "POST", cust, map[string]any{"id": "C-001"})
	customerErr(t, r, 409, "conflict_resource")
	r = a.must(409, "POST", cust, map[string]any{"contactEmail": "jane@example.com"})
	if m := customerErr(t, r, 409, "conflict_resource"); m["message"] != "Duplicate account 'jane@example.com' for tenant 'acme'." {
		t.Errorf("message = %v", m["message"])
	}
	for name, body := range map[string]any{
		"bad id":           map[string]any{"id": "has space"},
		"long id":          map[string]any{"id": strings.Repeat("a", 67)},
		"wrong type":       map[string]any{"firstName": 5},
		"currency length":  map[string]any{"preferredCurrency": "EURO"},
		"unknown type":     map[string]any{"type": "ROBOT"},
		"array body":       []any{1, 2},
		"bad bool":         map[string]any{"active": "yes"},
		"nested bad":       map[string]any{"b2b": "x"},
		"metadata version": map[string]any{"metadata": map[string]any{"version": "one"}},
	} {
		r := a.call("POST", cust, body)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400: %s", name, r.status, r.raw)
			continue
		}
		customerErr(t, r, 400, "")
	}
	r = a.must(400, "POST", cust, map[string]any{"firstName": 5, "active": "x"})
	details := customerErr(t, r, 400, "validation_failure")["details"].([]any)
	if len(details) != 2 || details[0].(map[string]any)["field"] == nil {
		t.Errorf("details = %v", details)
	}
	a.must(400, "POST", cust, `{"firstName": "x"`)
	a.must(400, "POST", cust, `{"a":1} {"b":2}`)
	a.must(400, "POST", cust+"?sendPasswordResetNotifications=maybe", map[string]any{})
	a.must(201, "POST", cust+"?sendPasswordResetNotifications=false", nil)
}

func TestCustomerUpsertPatchDelete(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	r := a.must(201, "PUT", cust+"/K100", map[string]any{"firstName": "Ann", "contactEmail": "ann@example.com", "company": "ACME"})
	if r.obj(t)["id"] != "K100" {
		t.Fatalf("PUT create body %s", r.raw)
	}
	// PUT replaces the writable fields: company is gone, active keeps its value.
	a.must(204, "PUT", cust+"/K100", map[string]any{"firstName": "Anna", "contactEmail": "ann@example.com", "metadata": map[string]any{"version": 1}})
	got := a.must(200, "GET", cust+"/K100", nil).obj(t)
	if got["firstName"] != "Anna" || got["company"] != nil || got["active"] != true || got["metadata"].(map[string]any)["version"] != float64(2) {
		t.Fatalf("after PUT: %v", got)
	}
	customerErr(t, a.must(409, "PUT", cust+"/K100", map[string]any{"firstName": "X", "metadata": map[string]any{"version": 1}}), 409, "conflict_resource")
	// merge-patch+json on PUT merges.
	a.must(204, "PUT", cust+"/K100", `{"company":"NewCo"}`, "Content-Type", "application/merge-patch+json")
	got = a.must(200, "GET", cust+"/K100", nil).obj(t)
	if got["company"] != "NewCo" || got["firstName"] != "Anna" {
		t.Fatalf("after merge PUT: %v", got)
	}
	// merge-patch+json on PUT has no active or onHold (CustomerUpdateDto): refused, not dropped.
	customerErr(t, a.must(400, "PUT", cust+"/K100", `{"onHold":true}`, "Content-Type", "application/merge-patch+json"), 400, "validation_failure")
	// A PATCH merges; application/json takes no null (CustomerPatchBySellerDto declares none nullable but
	// restriction), application/merge-patch+json clears with it but has no active.
	customerErr(t, a.must(400, "PATCH", cust+"/K100", map[string]any{"company": nil}), 400, "validation_failure")
	customerErr(t, a.must(400, "PATCH", cust+"/K100", `{"active":false}`, "Content-Type", "application/merge-patch+json"), 400, "validation_failure")
	r = a.must(200, "PATCH", cust+"/K100", map[string]any{"lastName": "Smith", "active": false, "restriction": nil})
	if len(r.raw) != 0 {
		t.Errorf("PATCH body %q", r.raw)
	}
	a.must(200, "PATCH", cust+"/K100", `{"company":null}`, "Content-Type", "application/merge-patch+json")
	got = a.must(200, "GET", cust+"/K100", nil).obj(t)
	if got["company"] != nil || got["lastName"] != "Smith" || got["firstName"] != "Anna" || got["active"] != false || got["metadata"].(map[string]any)["version"] != float64(5) {
		t.Fatalf("after PATCH: %v", got)
	}
	customerErr(t, a.must(400, "PATCH", cust+"/K100", map[string]any{"contactEmail": nil}), 400, "validation_failure")
	customerErr(t, a.must(400, "PATCH", cust+"/K100", map[string]any{"contactEmail": ""}), 400, "validation_failure")
	customerErr(t, a.must(409, "PATCH", cust+"/K100", map[string]any{"lastName": "Q", "metadata": map[string]any{"version": 1}}), 409, "conflict_resource")
	nf := customerErr(t, a.must(404, "PATCH", cust+"/NOPE", map[string]any{}), 404, "")
	if nf["message"] != "Customer not Found" {
		t.Errorf("404 body %v", nf)
	}
	a.must(201, "PUT", cust+"/K200", map[string]any{"contactEmail": "other@example.com"})
	customerErr(t, a.must(409, "PATCH", cust+"/K200", map[string]any{"contactEmail": "ANN@example.com"}), 409, "conflict_resource")
	customerErr(t, a.must(409, "PUT", cust+"/K300", map[string]any{"contactEmail": "ann@example.com"}), 409, "conflict_resource")
	a.must(400, "PUT", cust+"/bad%20id", map[string]any{})

	a.must(202, "DELETE", cust+"/K100", nil)
	customerErr(t, a.must(404, "GET", cust+"/K100", nil), 404, "")
	a.must(404, "DELETE", cust+"/K100", nil)
	// A deleted customer's number cannot be used again (enableRecreationOfDeletedCustomer=false).
	a.must(409, "PUT", cust+"/K100", map[string]any{})
	a.must(409, "POST", cust, map[string]any{"id": "K100"})
	// Its e-mail is free again.
	a.must(201, "POST", cust, map[string]any{"contactEmail": "ann@example.com"})
}

func TestRecreateDeletedCustomersOption(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{RecreateDeletedCustomers: true})
	a.must(201, "PUT", cust+"/R1", map[string]any{})
	a.must(202, "DELETE", cust+"/R1", nil)
	a.must(201, "PUT", cust+"/R1", map[string]any{})
}

// TestCustomerCreationDefaults: a customer created without active or onHold gets the tenant's creation
// defaults (customerActiveOnCreation, customerOnHoldOnCreation), by every way of creating one; a later write
// without them keeps what the customer has.
func TestCustomerCreationDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts           Options
		active, onHold bool
	}{
		{Options{}, true, false},
		{Options{CustomersInactiveOnCreation: true, CustomersOnHoldOnCreation: true}, false, true},
	} {
		a := newTestAPI(t, tc.opts)
		a.must(201, "PUT", cust+"/D1", `{"lastName":"Merge"}`, "Content-Type", "application/merge-patch+json")
		a.must(201, "PUT", cust+"/D2", map[string]any{"lastName": "Put"})
		a.must(201, "POST", cust, map[string]any{"id": "D3", "lastName": "Post"})
		for _, id := range []string{"D1", "D2", "D3"} {
			got := a.must(200, "GET", cust+"/"+id, nil).obj(t)
			if got["active"] != tc.active || got["onHold"] != tc.onHold {
				t.Errorf("%+v: %s created with active %v onHold %v, want %v %v", tc.opts, id, got["active"], got["onHold"], tc.active, tc.onHold)
			}
		}
		a.must(200, "PATCH", cust+"/D1", map[string]any{"active": !tc.active})
		a.must(204, "PUT", cust+"/D1", `{"lastName":"Again"}`, "Content-Type", "application/merge-patch+json")
		if got := a.must(200, "GET", cust+"/D1", nil).obj(t); got["active"] != !tc.active || got["onHold"] != tc.onHold {
			t.Errorf("%+v: a merge without the flags changed them: active %v onHold %v", tc.opts, got["active"], got["onHold"])
		}
	}
}

func TestCustomerListQuerySortPagingCount(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	for i := 1; i <= 65; i++ {
		a.must(201, "PUT", fmt.Sprintf("%s/C%03d", cust, i), map[string]any{
			"firstName": fmt.Sprintf("Name%03d", 100-i), "contactEmail": fmt.Sprintf("c%d@example.com", i),
			"company": map[bool]string{true: "Even", false: "Odd"}[i%2 == 0],
		})
	}
	r := a.must(200, "GET", cust, nil)
	if l := r.list(t); len(l) != 60 || r.header.Get("Count") != "60" || l[0]["id"] != "C001" {
		t.Fatalf("default page: %d items, Count %q, first %v", len(l), r.header.Get("Count"), l[0]["id"])
	}
	r = a.must(200, "GET", cust+"?pageNumber=2&pageSize=60", nil)
	if l := r.list(t); len(l) != 5 || r.header.Get("Count") != "5" {
		t.Fatalf("page 2: %d items, Count %q", len(l), r.header.Get("Count"))
	}
	r = a.must(200, "GET", cust+"?q=company:Even&sort=firstName:desc&pageSize=3", nil)
	l := r.list(t)
	if len(l) != 3 || l[0]["id"] != "C002" || l[1]["id"] != "C004" {
		t.Fatalf("filtered sorted: %v", ids(l))
	}
	r = a.must(200, "GET", cust+"?q=contactEmail:c7@example.com", nil)
	if l := r.list(t); len(l) != 1 || l[0]["id"] != "C007" {
		t.Fatalf("email query: %v", ids(l))
	}
	r = a.must(200, "POST", cust+"/search?pageSize=100", map[string]any{"q": "firstName:~Name09 company:Odd"})
	if l := r.list(t); len(l) != 5 {
		t.Fatalf("search: %v", ids(l))
	}
	a.must(400, "GET", cust+"?pageSize=0", nil)
	a.must(400, "GET", cust+"?pageNumber=x", nil)
	a.must(400, "GET", cust+"?q=firstName:(", nil)
	a.must(400, "POST", cust+"/search", map[string]any{"q": 5})
	a.must(400, "POST", cust+"/search", "nope")
	r = a.must(200, "GET", cust+"?pageNumber=9", nil)
	if len(r.list(t)) != 0 || r.header.Get("Count") != "0" {
		t.Fatalf("page beyond end: %s", r.raw)
	}
}

func ids(l []map[string]any) []any {
	var out []any
	for _, d := range l {
		out = append(out, d["id"])
	}
	return out
}

func TestCustomerEmailUniquenessFollowsChangesAndDeletes(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	a.must(201, "POST", cust, map[string]any{"id": "A", "contactEmail": "x@example.com"})
	// A changes its e-mail: the old one is free, the new one taken.
	a.must(200, "PATCH", cust+"/A", map[string]any{"contactEmail": "y@example.com"})
	a.must(201, "POST", cust, map[string]any{"id": "B", "contactEmail": "X@example.com"})
	a.must(409, "POST", cust, map[string]any{"id": "C", "contactEmail": "y@EXAMPLE.com"})
	// A customer may keep its own e-mail on an update, also in other letter case, on every kind of update.
	a.must(204, "PUT", cust+"/A", map[string]any{"contactEmail": "y@example.com", "firstName": "Ann"})
	a.must(200, "PATCH", cust+"/A", map[string]any{"contactEmail": "Y@example.com", "firstName": "Anne"})
	a.must(204, "PUT", cust+"/A", `{"contactEmail":"y@example.com"}`, "Content-Type", "application/merge-patch+json")
	a.must(200, "PATCH", cust+"/A", map[string]any{"firstName": "Ann"})
	// Taking another customer's e-mail stays refused on every kind of update.
	a.must(409, "PATCH", cust+"/B", map[string]any{"contactEmail": "Y@example.com"})
	a.must(409, "PUT", cust+"/B", `{"contactEmail":"y@example.COM"}`, "Content-Type", "application/merge-patch+json")
	a.must(409, "PUT", cust+"/B", map[string]any{"contactEmail": "y@example.com"})
	// Deleting A frees its e-mail.
	a.must(202, "DELETE", cust+"/A", nil)
	a.must(201, "POST", cust, map[string]any{"id": "C", "contactEmail": "y@example.com"})
}

func TestCustomerListKeepsInsertionOrderAcrossChanges(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	for _, id := range []string{"A", "B", "C"} {
		a.must(201, "PUT", cust+"/"+id, map[string]any{"firstName": id})
	}
	ids := func() string {
		var out []string
		for _, c := range a.must(200, "GET", cust+"?pageSize=10", nil).list(t) {
			out = append(out, c["id"].(string))
		}
		return strings.Join(out, ",")
	}
	if got := ids(); got != "A,B,C" {
		t.Fatalf("order %s", got)
	}
	a.must(202, "DELETE", cust+"/B", nil)
	a.must(204, "PUT", cust+"/A", map[string]any{"firstName": "A2"}) // an update keeps the place
	a.must(201, "PUT", cust+"/D", map[string]any{"firstName": "D"})
	if got := ids(); got != "A,C,D" {
		t.Fatalf("order after delete, update and insert: %s", got)
	}
}
