package sandbox

import (
	"testing"
)

func TestAddressesLifecycle(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	a.must(201, "PUT", cust+"/A1", map[string]any{"firstName": "Ann"})
	base := cust + "/A1/addresses"

	r := a.must(400, "POST", base, map[string]any{"street": "Main"})
	if d := customerErr(t, r, 400, "validation_failure")["details"].([]any); d[0].(map[string]any)["field"] != "contactName" {
		t.Fatalf("details %v", d)
	}
	a.must(400, "POST", base, map[string]any{"contactName": "Ann", "country": "DEU"})
	a.must(400, "POST", base, map[string]any{"contactName": "Ann", "tags": "BILLING"})
	customerErr(t, a.must(404, "POST", cust+"/NOPE/addresses", map[string]any{"contactName": "x"}), 404, "")

	genID := a.must(201, "POST", base, map[string]any{"contactName": "Ann", "country": "DE", "isDefault": true, "tags": []any{"BILLING"}}).obj(t)["id"].(string)
	if len(genID) != 10 {
		t.Errorf("generated address id %q", genID)
	}
	a.must(201, "POST", base, map[string]any{"id": "ship-1", "contactName": "Ann", "city": "Berlin"})
	customerErr(t, a.must(409, "POST", base, map[string]any{"id": "ship-1", "contactName": "Ann"}), 409, "conflict_resource")

	got := a.must(200, "GET", base+"/ship-1", nil).obj(t)
	if got["city"] != "Berlin" || got["isDefault"] != false || got["metadata"].(map[string]any)["version"] != float64(1) {
		t.Fatalf("address %v", got)
	}
	nf := customerErr(t, a.must(404, "GET", base+"/zzz", nil), 404, "resource_not_found")
	if nf["message"] != "Address zzz of customer A1 not found." {
		t.Errorf("message %v", nf["message"])
	}
	if l := a.must(200, "GET", base, nil).list(t); len(l) != 2 {
		t.Fatalf("list %v", l)
	}
	customerErr(t, a.must(404, "GET", cust+"/NOPE/addresses", nil), 404, "")

	// The customer exposes its default address.
	if c := a.must(200, "GET", cust+"/A1", nil).obj(t); c["defaultAddress"].(map[string]any)["id"] != genID {
		t.Fatalf("defaultAddress %v", c["defaultAddress"])
	}
	// Making another address the default clears the first. AddressUpdateDto has nothing nullable: a PATCH
	// cannot clear a field, a PUT that leaves it out does.
	a.must(400, "PATCH", base+"/ship-1", map[string]any{"city": nil})
	a.must(200, "PATCH", base+"/ship-1", map[string]any{"isDefault": true})
	shipping := a.must(200, "GET", base+"/ship-1", nil).obj(t)
	delete(shipping, "city")
	delete(shipping, "id")
	a.must(204, "PUT", base+"/ship-1", shipping)
	if first := a.must(200, "GET", base+"/"+genID, nil).obj(t); first["isDefault"] != false {
		t.Fatalf("old default kept: %v", first)
	}
	got = a.must(200, "GET", base+"/ship-1", nil).obj(t)
	if got["isDefault"] != true || got["city"] != nil || got["metadata"].(map[string]any)["version"] != float64(3) {
		t.Fatalf("after patch %v", got)
	}
	a.must(400, "PATCH", base+"/ship-1", map[string]any{"contactName": nil})
	a.must(409, "PATCH", base+"/ship-1", map[string]any{"city": "X", "metadata": map[string]any{"version": 1}})
	a.must(404, "PATCH", base+"/zzz", map[string]any{})

	// PUT upsert: create needs contactName; update replaces fields.
	a.must(400, "PUT", base+"/new-1", map[string]any{"city": "Paris"})
	if r := a.must(201, "PUT", base+"/new-1", map[string]any{"contactName": "Bob", "city": "Paris", "tags": []any{"SHIPPING"}}); r.obj(t)["id"] != "new-1" {
		t.Fatalf("PUT create %s", r.raw)
	}
	a.must(204, "PUT", base+"/new-1", map[string]any{"street": "Rue 1", "metadata": map[string]any{"version": 1}})
	got = a.must(200, "GET", base+"/new-1", nil).obj(t)
	if got["contactName"] != "Bob" || got["city"] != nil || got["street"] != "Rue 1" || got["tags"] != nil {
		t.Fatalf("after PUT %v", got)
	}
	a.must(409, "PUT", base+"/new-1", map[string]any{"metadata": map[string]any{"version": 1}})
	a.must(404, "PUT", cust+"/NOPE/addresses/x", map[string]any{"contactName": "x"})

	// Tags: set semantics.
	a.must(204, "POST", base+"/new-1/tags?tags=BILLING,SHIPPING", nil)
	a.must(204, "POST", base+"/new-1/tags?tags=BILLING", nil)
	if tags := a.must(200, "GET", base+"/new-1", nil).obj(t)["tags"].([]any); len(tags) != 2 || tags[0] != "BILLING" || tags[1] != "SHIPPING" {
		t.Fatalf("tags %v", tags)
	}
	a.must(204, "DELETE", base+"/new-1/tags?tags=BILLING,OTHER", nil)
	if tags := a.must(200, "GET", base+"/new-1", nil).obj(t)["tags"].([]any); len(tags) != 1 || tags[0] != "SHIPPING" {
		t.Fatalf("tags %v", tags)
	}
	a.must(400, "POST", base+"/new-1/tags", nil)
	a.must(404, "POST", base+"/zzz/tags?tags=A", nil)

	a.must(204, "DELETE", base+"/new-1", nil)
	a.must(404, "DELETE", base+"/new-1", nil)

	// Deleting the customer takes its addresses along.
	a.must(202, "DELETE", cust+"/A1", nil)
	a.must(404, "GET", base, nil)
}
