package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"custsync/sandbox"
)

func TestCustomerLifecycle(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()

	created, err := c.UpsertCustomer(ctx, "C1", Doc{"firstName": "Ada", "lastName": "Lovelace", "contactEmail": "ada@example.com"})
	if err != nil || !created {
		t.Fatalf("first upsert: created=%v err=%v", created, err)
	}
	created, err = c.UpsertCustomer(ctx, "C1", Doc{"firstName": "Ada", "lastName": "King", "contactEmail": "ada@example.com"})
	if err != nil || created {
		t.Fatalf("second upsert: created=%v err=%v", created, err)
	}
	got, err := c.GetCustomer(ctx, "C1")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got["lastName"] != "King" || got["id"] != "C1" {
		t.Errorf("customer after upsert: %v", got)
	}
	if v, ok := got["metadata"].(map[string]any)["version"].(json.Number); !ok || v.String() != "2" {
		t.Errorf("version %v (want json.Number 2)", got["metadata"])
	}
	// The client must not make the platform e-mail password resets by default.
	for _, r := range p.srv.Requests() {
		if r.Method == http.MethodPut && r.RawQuery != "sendPasswordResetNotifications=false" {
			t.Errorf("customer PUT query %q", r.RawQuery)
		}
	}

	if err := c.PatchCustomer(ctx, "C1", Doc{"contactPhone": "+49 1"}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	got, err = c.GetCustomer(ctx, "C1")
	if err != nil || got["contactPhone"] != "+49 1" || got["lastName"] != "King" {
		t.Fatalf("after patch: %v %v", got, err)
	}

	if err := c.DeleteCustomer(ctx, "C1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = c.GetCustomer(ctx, "C1")
	if !IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := c.DeleteCustomer(ctx, "C1"); !IsNotFound(err) || !IsFinal(err) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := c.UpsertCustomer(ctx, "", Doc{}); !errors.Is(err, ErrEmptyID) {
		t.Errorf("empty id: %v", err)
	}
}

func TestCustomerServiceErrorShapeDecoded(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()

	_, err := c.UpsertCustomer(ctx, "C2", Doc{"firstName": "Bad", "preferredCurrency": "EURO"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *APIError, got %v", err)
	}
	if apiErr.Status != 400 || apiErr.Type != "validation_failure" || apiErr.Message == "" || len(apiErr.Details) == 0 {
		t.Errorf("validation error decoded as %+v", apiErr)
	}
	if apiErr.Method != http.MethodPut || apiErr.Path != "/customer/acme/customers/C2" || apiErr.Attempts != 1 {
		t.Errorf("request identity %s %s attempts %d", apiErr.Method, apiErr.Path, apiErr.Attempts)
	}
	if !IsFinal(err) || IsTemporary(err) {
		t.Errorf("400 must be final")
	}

	if _, err := c.UpsertCustomer(ctx, "C3", Doc{"contactEmail": "dup@example.com"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpsertCustomer(ctx, "C4", Doc{"contactEmail": "dup@example.com"})
	if !errors.As(err, &apiErr) || !IsConflict(err) || apiErr.Type != "conflict_resource" {
		t.Errorf("duplicate e-mail: %v", err)
	}
	_, err = c.GetCustomer(ctx, "nobody")
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Message == "" {
		t.Errorf("404: %#v", err)
	}
}

func TestCustomerManagementCallsAndErrorShape(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()

	_, err := c.GetLegalEntity(ctx, "missing")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Type != "Not Found" || apiErr.Message == "" {
		t.Fatalf("Customer Management 404 decoded as %#v", err)
	}

	if created, err := c.UpsertLocation(ctx, "LOC1", Doc{"type": "HEADQUARTER", "name": "HQ",
		"contactDetails": Doc{"addressLine1": "Main St 1", "city": "Berlin", "countryCode": "DE"}}); err != nil || !created {
		t.Fatalf("upsert location: %v %v", created, err)
	}
	if created, err := c.UpsertLegalEntity(ctx, "LE1", Doc{"name": "Parent AG", "type": "COMPANY", "entitiesAddresses": []Doc{{"id": "LOC1"}}}); err != nil || !created {
		t.Fatalf("upsert parent: %v %v", created, err)
	}
	if created, err := c.UpsertLegalEntity(ctx, "LE2", Doc{"name": "Child GmbH", "type": "SUBSIDIARY", "parentId": "LE1"}); err != nil || !created {
		t.Fatalf("upsert child: %v %v", created, err)
	}
	if created, err := c.UpsertLegalEntity(ctx, "LE2", Doc{"name": "Child GmbH & Co", "type": "SUBSIDIARY", "parentId": "LE1"}); err != nil || created {
		t.Fatalf("update child: %v %v", created, err)
	}
	hierarchy, err := c.ParentHierarchy(ctx, "LE2")
	if err != nil || len(hierarchy) != 2 || hierarchy[0]["id"] != "LE2" || hierarchy[1]["id"] != "LE1" {
		t.Fatalf("hierarchy %v %v", hierarchy, err)
	}
	// A stale metadata.version is an optimistic-lock conflict.
	_, err = c.UpsertLegalEntity(ctx, "LE2", Doc{"name": "x", "type": "SUBSIDIARY", "parentId": "LE1", "metadata": Doc{"version": 1}})
	if !errors.As(err, &apiErr) || !IsConflict(err) || apiErr.Type != "Conflict" {
		t.Errorf("stale version: %v", err)
	}

	if _, err := c.UpsertCustomer(ctx, "C1", Doc{"firstName": "Ada"}); err != nil {
		t.Fatal(err)
	}
	if created, err := c.UpsertContactAssignment(ctx, "CA1", Doc{"legalEntity": Doc{"id": "LE1"}, "customer": Doc{"id": "C1"}, "type": "PRIMARY"}); err != nil || !created {
		t.Fatalf("upsert assignment: %v %v", created, err)
	}
	got, err := c.GetContactAssignment(ctx, "CA1")
	if err != nil || got["type"] != "PRIMARY" {
		t.Fatalf("get assignment: %v %v", got, err)
	}
	var ids []string
	for d, err := range c.ContactAssignments(ctx, ListOptions{Filters: map[string]string{FilterCustomerID: "C1"}}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fmt.Sprint(d["id"]))
	}
	if !slices.Equal(ids, []string{"CA1"}) {
		t.Errorf("assignments of C1: %v", ids)
	}
	for d, err := range c.ContactAssignments(ctx, ListOptions{Filters: map[string]string{FilterLegalEntityID: "LE2"}}) {
		t.Errorf("LE2 has no assignment, got %v %v", d, err)
	}

	if err := c.DeleteContactAssignment(ctx, "CA1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteLegalEntity(ctx, "LE2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetLocation(ctx, "LOC1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteLocation(ctx, "LOC1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetLocation(ctx, "LOC1"); !IsNotFound(err) {
		t.Errorf("location after delete: %v", err)
	}
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	if _, err := c.UpsertCustomer(ctx, "C1", Doc{"firstName": "Ada"}); err != nil {
		t.Fatal(err)
	}
	created, err := c.UpsertAddress(ctx, "C1", "A1", Doc{"contactName": "Ada", "street": "Main St", "city": "Berlin", "country": "DE", "tags": []string{"BILLING"}})
	if err != nil || !created {
		t.Fatalf("upsert address: %v %v", created, err)
	}
	if created, err = c.UpsertAddress(ctx, "C1", "A1", Doc{"contactName": "Ada L.", "city": "Hamburg", "country": "DE"}); err != nil || created {
		t.Fatalf("update address: %v %v", created, err)
	}
	if err := c.PatchAddress(ctx, "C1", "A1", Doc{"zipCode": "20095"}); err != nil {
		t.Fatalf("patch address: %v", err)
	}
	list, err := c.Addresses(ctx, "C1")
	if err != nil || len(list) != 1 || list[0]["city"] != "Hamburg" || list[0]["zipCode"] != "20095" {
		t.Fatalf("addresses %v %v", list, err)
	}
	if _, err := c.GetAddress(ctx, "C1", "A1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAddress(ctx, "C1", "A1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAddress(ctx, "C1", "A1"); !IsNotFound(err) {
		t.Errorf("address after delete: %v", err)
	}
	if _, err := c.Addresses(ctx, "nobody"); !IsNotFound(err) {
		t.Errorf("addresses of a missing customer: %v", err)
	}
}

func TestCustomerPagingFetchesPageByPage(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	seedCustomers(t, c, 130)
	listPath := "/customer/acme/customers"

	p.srv.ResetRequests()
	seen := map[string]bool{}
	for d, err := range c.Customers(ctx, ListOptions{PageSize: 60, Sort: "id"}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[fmt.Sprint(d["id"])] = true
	}
	if len(seen) != 130 {
		t.Errorf("listed %d distinct customers, want 130", len(seen))
	}
	if n := p.countRequests(http.MethodGet, listPath); n != 3 {
		t.Errorf("%d list requests, want 3 pages (60+60+10)", n)
	}

	// Breaking out of the loop stops fetching: 70 items need two pages, not three.
	p.srv.ResetRequests()
	count := 0
	for _, err := range c.Customers(ctx, ListOptions{PageSize: 60}) {
		if err != nil {
			t.Fatal(err)
		}
		if count++; count == 70 {
			break
		}
	}
	if n := p.countRequests(http.MethodGet, listPath); n != 2 {
		t.Errorf("%d list requests after breaking at item 70, want 2", n)
	}

	// An exact multiple of the page size ends with one empty page.
	p.srv.ResetRequests()
	count = 0
	for _, err := range c.Customers(ctx, ListOptions{PageSize: 65}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 130 || p.countRequests(http.MethodGet, listPath) != 3 {
		t.Errorf("pageSize 65: %d items in %d requests, want 130 in 3", count, p.countRequests(http.MethodGet, listPath))
	}

	// q filters; the search endpoint takes q in the body.
	var firstNames []string
	for d, err := range c.Customers(ctx, ListOptions{Q: "firstName:First007"}) {
		if err != nil {
			t.Fatal(err)
		}
		firstNames = append(firstNames, fmt.Sprint(d["firstName"]))
	}
	if !slices.Equal(firstNames, []string{"First007"}) {
		t.Errorf("q filter: %v", firstNames)
	}
	p.srv.ResetRequests()
	n := 0
	for _, err := range c.SearchCustomers(ctx, "lastName:Tester", ListOptions{PageSize: 100}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 130 || p.countRequests(http.MethodPost, listPath+"/search") != 2 {
		t.Errorf("search: %d items, %d requests", n, p.countRequests(http.MethodPost, listPath+"/search"))
	}
}

func TestManagementPagingUsesTotalCount(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	for i := range 40 {
		if _, err := c.UpsertLocation(ctx, fmt.Sprintf("L%02d", i), Doc{"type": "OFFICE", "contactDetails": Doc{"city": "Köln"}}); err != nil {
			t.Fatal(err)
		}
	}
	p.srv.ResetRequests()
	count := 0
	for _, err := range c.Locations(ctx, ListOptions{PageSize: 16}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 40 {
		t.Errorf("%d locations, want 40", count)
	}
	if n := p.countRequests(http.MethodGet, "/customer-management/acme/locations"); n != 3 {
		t.Errorf("%d list requests, want 3", n)
	}
	// With the total known, an exact multiple needs no trailing empty page.
	p.srv.ResetRequests()
	count = 0
	for _, err := range c.Locations(ctx, ListOptions{PageSize: 20}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 40 || p.countRequests(http.MethodGet, "/customer-management/acme/locations") != 2 {
		t.Errorf("pageSize 20: %d items in %d requests, want 40 in 2", count, p.countRequests(http.MethodGet, "/customer-management/acme/locations"))
	}
	for range c.LegalEntities(ctx, ListOptions{}) {
		t.Error("no legal entities expected")
	}
}

func TestSDMappingsOnSeparateEndpoint(t *testing.T) {
	t.Parallel()
	api := startPlatform(t, sandbox.Options{})
	mappings := startPlatform(t, sandbox.Options{})
	cfg := testConfig(api)
	cfg.MappingsURL = mappings.http.URL
	// The two hosts issue their own tokens; the client must ask each for one.
	c := newTestClient(t, cfg)
	ctx := context.Background()
	if _, err := c.GetCustomer(ctx, customerID(0)); !IsNotFound(err) {
		t.Fatalf("customer on the API host: %v", err)
	}

	for i := range 3 {
		m := SDMapping{CustomerNumber: customerID(i), SDCustomerNumber: fmt.Sprintf("00%07d", i)}
		if err := c.CreateSDMapping(ctx, m); err != nil {
			t.Fatalf("create mapping %d: %v", i, err)
		}
	}
	// A repeated POST replaces the record.
	if err := c.CreateSDMapping(ctx, SDMapping{CustomerNumber: customerID(1), SDCustomerNumber: "0000000001", DeletedInYaaS: true}); err != nil {
		t.Fatal(err)
	}
	var got []SDMapping
	for m, err := range c.SDMappings(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 3 {
		t.Fatalf("mappings %v", got)
	}
	var flagged []SDMapping
	for m, err := range c.SDMappings(ctx, "deletedInYaaS:true") {
		if err != nil {
			t.Fatal(err)
		}
		flagged = append(flagged, m)
	}
	if len(flagged) != 1 || flagged[0] != (SDMapping{CustomerNumber: customerID(1), SDCustomerNumber: "0000000001", DeletedInYaaS: true}) {
		t.Errorf("flagged mappings %v", flagged)
	}
	if err := c.DeleteSDMapping(ctx, customerID(0)); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSDMapping(ctx, customerID(0)); !IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
	if n := api.countRequests("", "/acme/sdCustomerMappings"); n != 0 {
		t.Errorf("%d mapping requests went to the API host", n)
	}
	if api.countRequests(http.MethodPost, tokenPath) != 1 || mappings.countRequests(http.MethodPost, tokenPath) != 1 {
		t.Errorf("token requests: %d on the API host, %d on the mappings host; want one each",
			api.countRequests(http.MethodPost, tokenPath), mappings.countRequests(http.MethodPost, tokenPath))
	}
	if n := mappings.countRequests(http.MethodPost, "/acme/sdCustomerMappings"); n != 4 {
		t.Errorf("%d mapping POSTs on the mappings host, want 4", n)
	}
}

func TestMergeUpsertCustomerKeepsFieldsItDoesNotSend(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	created, err := c.MergeUpsertCustomer(ctx, "M1", Doc{"firstName": "Ann", "lastName": "Lee", "contactPhone": "+1 555"})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	// A second merge upsert sends only firstName: the other fields must stay (a plain PUT would drop them).
	created, err = c.MergeUpsertCustomer(ctx, "M1", Doc{"firstName": "Anna"})
	if err != nil || created {
		t.Fatalf("merge: %v %v", created, err)
	}
	doc, err := c.GetCustomer(ctx, "M1")
	if err != nil {
		t.Fatal(err)
	}
	if doc["firstName"] != "Anna" || doc["lastName"] != "Lee" || doc["contactPhone"] != "+1 555" {
		t.Fatalf("after merge upsert: %v", doc)
	}
	if _, err := c.UpsertCustomer(ctx, "M1", Doc{"firstName": "Anna"}); err != nil {
		t.Fatal(err)
	}
	doc, _ = c.GetCustomer(ctx, "M1")
	if _, kept := doc["lastName"]; kept {
		t.Fatalf("the contrast case no longer holds: a plain PUT kept lastName: %v", doc)
	}
}

// TestMergePatchCustomerClearsWithNull: a merge patch removes a field with null, which the application/json
// PATCH may not send (the sandbox refuses it as the schema does); the account flags go only as
// application/json.
func TestMergePatchCustomerClearsWithNull(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	if _, err := c.UpsertCustomer(ctx, "P1", Doc{"firstName": "Ann", "contactPhone": "+1 555", "onHold": true}); err != nil {
		t.Fatal(err)
	}
	if err := c.PatchCustomer(ctx, "P1", Doc{"contactPhone": nil}); statusOf(err) != http.StatusBadRequest {
		t.Fatalf("null in an application/json PATCH: %v", err)
	}
	if err := c.MergePatchCustomer(ctx, "P1", Doc{"onHold": false}); statusOf(err) != http.StatusBadRequest {
		t.Fatalf("onHold in a merge patch: %v", err)
	}
	if err := c.MergePatchCustomer(ctx, "P1", Doc{"contactPhone": nil, "lastName": "Lee"}); err != nil {
		t.Fatal(err)
	}
	doc, err := c.GetCustomer(ctx, "P1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["contactPhone"]; ok || doc["lastName"] != "Lee" || doc["onHold"] != true {
		t.Fatalf("after the merge patch: %v", doc)
	}
}

// TestListWithWorkersKeepsPageOrder reads lists several pages at once: the items come in the order one
// page after the other gives, each once, and a list with a total count costs no request past its end.
func TestListWithWorkersKeepsPageOrder(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	seedCustomers(t, c, 130)
	ids := func(opts ListOptions) []string {
		var out []string
		for d, err := range c.Customers(ctx, opts) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(d["id"]))
		}
		return out
	}
	one := ids(ListOptions{PageSize: 20, Sort: "id"})
	p.srv.ResetRequests()
	four := ids(ListOptions{PageSize: 20, Sort: "id", Workers: 4})
	if len(one) != 130 || !slices.Equal(one, four) {
		t.Fatalf("with 4 workers: %d customers %v..., one after the other: %d", len(four), four[:min(3, len(four))], len(one))
	}
	// 7 pages hold them; without a total the end shows in the short page, with at most 3 asked for beyond
	// it, and one more when the walk reads page 8 to tell a capped page size from the end (taking page 8
	// from the queue lets the fetcher start page 11 before the walk stops).
	if n := p.countRequests(http.MethodGet, "/customer/acme/customers"); n < 7 || n > 11 {
		t.Errorf("%d list requests, want 7 to 11", n)
	}

	for i := range 40 {
		if _, err := c.UpsertLocation(ctx, fmt.Sprintf("L%02d", i), Doc{"type": "OFFICE", "contactDetails": Doc{}}); err != nil {
			t.Fatal(err)
		}
	}
	p.srv.ResetRequests()
	n := 0
	for _, err := range c.Locations(ctx, ListOptions{PageSize: 16, Workers: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if lists := p.countRequests(http.MethodGet, "/customer-management/acme/locations"); n != 40 || lists != 3 {
		t.Fatalf("locations with 4 workers: %d in %d requests, want 40 in 3 (the total count tells where the list ends)", n, lists)
	}
}

// TestListFillsAddressesThePlatformLeftOut: a platform that ignores expand=addresses still gives every
// customer its addresses, fetched customer by customer.
func TestListFillsAddressesThePlatformLeftOut(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	ignoring := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("expand")
		r.URL.RawQuery = q.Encode()
		p.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ignoring.Close)
	cfg := testConfig(p)
	cfg.BaseURL = ignoring.URL
	c := newTestClient(t, cfg)
	ctx := context.Background()
	seedCustomers(t, c, 5)
	if _, err := c.UpsertAddress(ctx, customerID(2), "A1", Doc{"contactName": "Ada", "street": "Main St", "city": "Berlin", "country": "DE"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for d, err := range c.Customers(ctx, ListOptions{Expand: []string{"addresses"}, Workers: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		list, ok := d["addresses"].([]any)
		if !ok {
			t.Fatalf("customer %v came without addresses", d["id"])
		}
		got[fmt.Sprint(d["id"])] = len(list)
	}
	if len(got) != 5 || got[customerID(2)] != 1 || got[customerID(1)] != 0 {
		t.Fatalf("addresses per customer: %v", got)
	}
}

// statusOf is the HTTP status of an *APIError, 0 for other errors.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
