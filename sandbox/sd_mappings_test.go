package sandbox

import (
	"fmt"
	"strings"
	"testing"
)

func TestSDCustomerMappings(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	const base = "/acme/sdCustomerMappings"
	customerErr(t, a.must(400, "POST", base, map[string]any{"sdCustomerNumber": "0003144965"}), 400, "validation_failure")
	customerErr(t, a.must(400, "POST", base, map[string]any{"customerNumber": "C1", "deletedInYaaS": "no"}), 400, "validation_failure")
	r := a.must(201, "POST", base, map[string]any{"customerNumber": "C010101001", "sdCustomerNumber": "0003144965", "deletedInYaaS": false}).obj(t)
	if r["id"] == "" || !strings.HasSuffix(r["link"].(string), "/acme/sdCustomerMappings/C010101001") {
		t.Fatalf("create response %v", r)
	}
	// A second POST for the same customerNumber replaces the record and keeps its id.
	r2 := a.must(201, "POST", base, map[string]any{"customerNumber": "C010101001", "sdCustomerNumber": "0003144966", "deletedInYaaS": true}).obj(t)
	if r2["id"] != r["id"] {
		t.Errorf("id changed: %v vs %v", r2["id"], r["id"])
	}
	for i := 0; i < 5; i++ {
		a.must(201, "POST", base, map[string]any{"customerNumber": fmt.Sprintf("K%d", i), "sdCustomerNumber": fmt.Sprintf("%010d", i)})
	}
	l := a.must(200, "GET", base, nil).list(t)
	if len(l) != 6 || l[0]["sdCustomerNumber"] != "0003144966" || l[0]["deletedInYaaS"] != true || len(l[0]) != 3 {
		t.Fatalf("list %v", l)
	}
	if l := a.must(200, "GET", base+"?q=deletedInYaaS:true", nil).list(t); len(l) != 1 || l[0]["customerNumber"] != "C010101001" {
		t.Fatalf("q: %v", l)
	}
	res := a.must(200, "GET", base+"?pageNumber=2&pageSize=4", nil)
	if l := res.list(t); len(l) != 2 || l[0]["customerNumber"] != "K3" || res.header.Get("hybris-Count") != "6" {
		t.Fatalf("paging: %v %v", l, res.header)
	}
	a.must(400, "GET", base+"?pageSize=abc", nil)
	a.must(400, "GET", base+"?q=(((", nil)
	a.must(204, "DELETE", base+"/K3", nil)
	customerErr(t, a.must(404, "DELETE", base+"/K3", nil), 404, "resource_not_found")
	if l := a.must(200, "GET", base+"?pageSize=100", nil).list(t); len(l) != 5 {
		t.Fatalf("after delete %d", len(l))
	}
}

func TestSDMappingScopes(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{Clients: []Client{
		{ID: "yaas", Secret: "s", Scopes: []string{scopeCECenterManage}},
		{ID: "viewer", Secret: "s", Scopes: []string{scopeCECenterView}},
	}})
	manage := a.fetchToken("yaas", "s", "")
	view := a.fetchToken("viewer", "s", "")
	if r := a.callWith(manage, "POST", "/acme/sdCustomerMappings", map[string]any{"customerNumber": "1"}); r.status != 201 {
		t.Fatalf("manage POST %d %s", r.status, r.raw)
	}
	if r := a.callWith(view, "GET", "/acme/sdCustomerMappings", nil); r.status != 200 {
		t.Fatalf("view GET %d", r.status)
	}
	if r := a.callWith(view, "POST", "/acme/sdCustomerMappings", map[string]any{"customerNumber": "2"}); r.status != 403 {
		t.Fatalf("view POST %d", r.status)
	}
	if r := a.callWith(view, "DELETE", "/acme/sdCustomerMappings/1", nil); r.status != 403 {
		t.Fatalf("view DELETE %d", r.status)
	}
}
