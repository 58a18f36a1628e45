package sandbox

import (
	"fmt"
	"strings"
	"testing"
)

const cm = "/customer-management/acme"

func TestLegalEntitiesLifecycle(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	managementErr(t, a.must(400, "POST", cm+"/legal-entities", map[string]any{"type": "COMPANY"}), 400)
	managementErr(t, a.must(400, "POST", cm+"/legal-entities", map[string]any{"name": "X", "type": "PARTNER"}), 400)
	managementErr(t, a.must(400, "POST", cm+"/legal-entities", map[string]any{"name": "X", "accountLimit": map[string]any{"value": -1}}), 400)
	managementErr(t, a.must(400, "POST", cm+"/legal-entities", map[string]any{"name": "X", "restrictions": []any{"DE", "US"}}), 400)
	managementErr(t, a.must(400, "POST", cm+"/legal-entities", map[string]any{"name": "Sub", "type": "SUBSIDIARY"}), 400)
	managementErr(t, a.must(400, "POST", cm+"/legal-entities", map[string]any{"name": "Sub", "type": "SUBSIDIARY", "parentId": "nope"}), 400)

	a.must(201, "POST", cm+"/locations", map[string]any{"id": "hq", "type": "HEADQUARTER", "contactDetails": map[string]any{"city": "Berlin"}})
	id := a.must(201, "POST", cm+"/legal-entities", map[string]any{
		"name": "ACME", "legalInfo": map[string]any{"legalName": "ACME GmbH", "countryOfRegistration": "DE"},
		"entitiesAddresses": []any{map[string]any{"id": "hq"}, map[string]any{"id": "later"}},
		"customerGroups":    []any{map[string]any{"id": "extra", "name": map[string]any{"en": "Extra"}}},
	}).obj(t)["id"].(string)
	if len(id) != 24 {
		t.Errorf("generated id %q", id)
	}
	managementErr(t, a.must(409, "POST", cm+"/legal-entities", map[string]any{"id": id, "name": "Again"}), 409)

	got := a.must(200, "GET", cm+"/legal-entities/"+id, nil).obj(t)
	if got["type"] != "COMPANY" || got["metadata"].(map[string]any)["version"] != float64(1) {
		t.Fatalf("entity %v", got)
	}
	groups := got["customerGroups"].([]any)
	if len(groups) != 4 || groups[0].(map[string]any)["id"] != id+"-admin" || groups[3].(map[string]any)["id"] != "extra" {
		t.Fatalf("groups %v", groups)
	}
	locs := got["entitiesAddresses"].([]any)
	if len(locs) != 1 || locs[0].(map[string]any)["contactDetails"].(map[string]any)["city"] != "Berlin" {
		t.Fatalf("entitiesAddresses not expanded: %v", locs)
	}
	// A location created later shows up without touching the entity.
	a.must(201, "PUT", cm+"/locations/later", map[string]any{"type": "WAREHOUSE", "contactDetails": map[string]any{}})
	if locs := a.must(200, "GET", cm+"/legal-entities/"+id, nil).obj(t)["entitiesAddresses"].([]any); len(locs) != 2 {
		t.Fatalf("late location: %v", locs)
	}
	if f := a.must(200, "GET", cm+"/legal-entities/"+id+"?fields=name,legalInfo.legalName", nil).obj(t); len(f) != 2 || f["legalInfo"].(map[string]any)["legalName"] != "ACME GmbH" {
		t.Fatalf("fields projection %v", f)
	}
	managementErr(t, a.must(404, "GET", cm+"/legal-entities/nope", nil), 404)

	// PUT: name+type required, version lock, customerGroups authoritative when present.
	managementErr(t, a.must(400, "PUT", cm+"/legal-entities/"+id, map[string]any{"name": "ACME"}), 400)
	a.must(204, "PUT", cm+"/legal-entities/"+id, map[string]any{"name": "ACME 2", "type": "COMPANY", "metadata": map[string]any{"version": 1}})
	got = a.must(200, "GET", cm+"/legal-entities/"+id, nil).obj(t)
	if got["name"] != "ACME 2" || got["legalInfo"] != nil || len(got["customerGroups"].([]any)) != 4 || got["metadata"].(map[string]any)["version"] != float64(2) {
		t.Fatalf("after PUT %v", got)
	}
	managementErr(t, a.must(409, "PUT", cm+"/legal-entities/"+id, map[string]any{"name": "X", "type": "COMPANY", "metadata": map[string]any{"version": 1}}), 409)
	a.must(204, "PUT", cm+"/legal-entities/"+id, map[string]any{"name": "ACME 2", "type": "COMPANY",
		"customerGroups": []any{map[string]any{"id": id + "-admin"}, map[string]any{"id": "extra"}}})
	groups = a.must(200, "GET", cm+"/legal-entities/"+id, nil).obj(t)["customerGroups"].([]any)
	if len(groups) != 2 || groups[0].(map[string]any)["role"] != "ADMIN" || groups[1].(map[string]any)["name"].(map[string]any)["en"] != "Extra" {
		t.Fatalf("groups after PUT %v", groups)
	}

	// Hierarchy: sub under id, subsub under sub; cycles refused.
	if r := a.must(201, "PUT", cm+"/legal-entities/sub", map[string]any{"name": "Sub", "type": "SUBSIDIARY", "parentId": id}); r.obj(t)["id"] != "sub" {
		t.Fatalf("PUT create %s", r.raw)
	}
	a.must(201, "POST", cm+"/legal-entities", map[string]any{"id": "subsub", "name": "SubSub", "type": "SUBSIDIARY", "parentId": "sub"})
	managementErr(t, a.must(400, "PUT", cm+"/legal-entities/"+id, map[string]any{"name": "ACME", "type": "SUBSIDIARY", "parentId": "subsub"}), 400)
	managementErr(t, a.must(400, "PUT", cm+"/legal-entities/sub", map[string]any{"name": "Sub", "type": "SUBSIDIARY", "parentId": "sub"}), 400)
	h := a.must(200, "GET", cm+"/legal-entities/subsub/parent-hierarchy", nil).list(t)
	if len(h) != 3 || h[0]["id"] != "subsub" || h[1]["id"] != "sub" || h[2]["id"] != id {
		t.Fatalf("hierarchy %v", ids(h))
	}
	managementErr(t, a.must(404, "GET", cm+"/legal-entities/nope/parent-hierarchy", nil), 404)
	// The parentId filter lists an entity's direct subsidiaries, comparing ids exactly ("equals"; unlike the
	// id filter, the spec does not call it case-insensitive).
	if l := a.must(200, "GET", cm+"/legal-entities?parentId=sub", nil).list(t); len(l) != 1 || l[0]["id"] != "subsub" {
		t.Fatalf("subsidiaries of sub: %v", ids(l))
	}
	if l := a.must(200, "GET", cm+"/legal-entities?parentId=SUB", nil).list(t); len(l) != 0 {
		t.Fatalf("subsidiaries of SUB: %v", ids(l))
	}

	// Delete removes subordinated subsidiaries and their assignments.
	a.must(201, "PUT", cust+"/P1", map[string]any{"firstName": "Pat"})
	a.must(201, "POST", cm+"/contact-assignments", map[string]any{"id": "as1", "legalEntity": map[string]any{"id": "subsub"}, "customer": map[string]any{"id": "P1"}})
	a.must(201, "POST", cm+"/legal-entities", map[string]any{"id": "other", "name": "Other"})
	a.must(204, "DELETE", cm+"/legal-entities/"+id, nil)
	for _, gone := range []string{id, "sub", "subsub"} {
		a.must(404, "GET", cm+"/legal-entities/"+gone, nil)
	}
	a.must(404, "GET", cm+"/contact-assignments/as1", nil)
	a.must(200, "GET", cm+"/legal-entities/other", nil)
	a.must(200, "GET", cm+"/locations/hq", nil)
	managementErr(t, a.must(404, "DELETE", cm+"/legal-entities/"+id, nil), 404)
}

func TestLegalEntityListFiltersPagingTotal(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	for i := 1; i <= 20; i++ {
		typ, parent := "COMPANY", ""
		if i > 10 {
			typ, parent = "SUBSIDIARY", "le01"
		}
		body := map[string]any{"id": fmt.Sprintf("le%02d", i), "name": fmt.Sprintf("Company %02d", i), "type": typ,
			"legalInfo": map[string]any{"countryOfRegistration": map[bool]string{true: "DE", false: "US"}[i%2 == 0], "registrationId": fmt.Sprintf("R%d", i),
				"taxRegistrationNumber": fmt.Sprintf("DE8%d", i), "registrationDate": fmt.Sprintf("2004-05-%02dT00:00:00Z", i)}}
		if parent != "" {
			body["parentId"] = parent
		}
		a.must(201, "POST", cm+"/legal-entities", body)
	}
	r := a.must(200, "GET", cm+"/legal-entities", nil)
	if len(r.list(t)) != 16 || r.header.Get("X-Total-Count") != "" {
		t.Fatalf("default page: %d, X-Total-Count %q", len(r.list(t)), r.header.Get("X-Total-Count"))
	}
	r = a.must(200, "GET", cm+"/legal-entities?pageNumber=2", nil, "X-Total-Count", "true")
	if len(r.list(t)) != 4 || r.header.Get("X-Total-Count") != "20" {
		t.Fatalf("page 2: %d, X-Total-Count %q", len(r.list(t)), r.header.Get("X-Total-Count"))
	}
	r = a.must(200, "GET", cm+"/legal-entities?type=SUBSIDIARY&legalInfo.countryOfRegistration=de&name=company%201&sort=name:DESC", nil, "X-Total-Count", "true")
	l := r.list(t)
	if len(l) != 4 || l[0]["id"] != "le18" || r.header.Get("X-Total-Count") != "4" {
		t.Fatalf("filters: %v total %q", ids(l), r.header.Get("X-Total-Count"))
	}
	if l := a.must(200, "GET", cm+"/legal-entities?id=LE05", nil).list(t); len(l) != 1 || l[0]["id"] != "le05" {
		t.Fatalf("id filter %v", ids(l))
	}
	// The legalInfo "equals" filters compare exactly: the spec calls only the id filter case-insensitive.
	for param, value := range map[string]string{"registrationId": "R5", "taxRegistrationNumber": "DE85", "registrationDate": "2004-05-05T00:00:00Z"} {
		if l := a.must(200, "GET", cm+"/legal-entities?legalInfo."+param+"="+value, nil).list(t); len(l) != 1 || l[0]["id"] != "le05" {
			t.Fatalf("%s filter %s: %v", param, value, ids(l))
		}
		if l := a.must(200, "GET", cm+"/legal-entities?legalInfo."+param+"="+strings.ToLower(value), nil).list(t); len(l) != 0 {
			t.Fatalf("%s filter %s matches %v", param, strings.ToLower(value), ids(l))
		}
	}
	if l := a.must(200, "GET", cm+"/legal-entities?sort=name:Desc&pageSize=1", nil).list(t); l[0]["id"] != "le01" {
		t.Fatalf("'Desc' must sort ascending: %v", ids(l))
	}
	if l := a.must(200, "GET", cm+"/legal-entities?q=parentId:le01%20name:~company&fields=id&pageSize=50", nil).list(t); len(l) != 10 || len(l[0]) != 1 {
		t.Fatalf("q + fields: %v", l)
	}
	if l := a.must(200, "POST", cm+"/legal-entities/search?pageSize=50", map[string]any{"q": "type:COMPANY"}).list(t); len(l) != 10 {
		t.Fatalf("search: %v", ids(l))
	}
	a.must(400, "GET", cm+"/legal-entities?type=PARTNER", nil)
	a.must(400, "GET", cm+"/legal-entities?pageSize=-1", nil)
	a.must(400, "GET", cm+"/legal-entities", nil, "X-Total-Count", "perhaps")
	a.must(400, "POST", cm+"/legal-entities/search", map[string]any{"q": []any{}})
}

func TestLocations(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	managementErr(t, a.must(400, "POST", cm+"/locations", map[string]any{"name": "x"}), 400)
	managementErr(t, a.must(400, "POST", cm+"/locations", map[string]any{"type": "HEADQUARTER"}), 400)
	managementErr(t, a.must(400, "POST", cm+"/locations", map[string]any{"type": "CASTLE", "contactDetails": map[string]any{}}), 400)
	managementErr(t, a.must(400, "POST", cm+"/locations", map[string]any{"type": "OFFICE", "contactDetails": map[string]any{"emails": "a@b"}}), 400)
	id := a.must(201, "POST", cm+"/locations", map[string]any{"name": "Main HQ", "type": "HEADQUARTER",
		"contactDetails": map[string]any{"emails": []any{"hq@acme.com"}, "addressLine1": "W Sample St", "city": "South Bend", "countryCode": "US"}}).obj(t)["id"].(string)
	a.must(201, "POST", cm+"/locations", map[string]any{"id": "wh", "name": "Warehouse", "type": "WAREHOUSE", "contactDetails": map[string]any{"city": "Berlin", "countryCode": "DE"}})
	managementErr(t, a.must(409, "POST", cm+"/locations", map[string]any{"id": "wh", "type": "OFFICE", "contactDetails": map[string]any{}}), 409)
	for query, want := range map[string]string{
		"contactDetails.email=HQ@":      id,
		"contactDetails.address=sample": id,
		"contactDetails.countryCode=de": "wh",
		"type=WAREHOUSE":                "wh",
		"name=main":                     id,
	} {
		if l := a.must(200, "GET", cm+"/locations?"+query, nil).list(t); len(l) != 1 || l[0]["id"] != want {
			t.Errorf("%s: %v", query, ids(l))
		}
	}
	a.must(204, "PUT", cm+"/locations/wh", map[string]any{"type": "OFFICE", "contactDetails": map[string]any{"city": "Hamburg"}, "metadata": map[string]any{"version": 1}})
	got := a.must(200, "GET", cm+"/locations/wh", nil).obj(t)
	md := got["metadata"].(map[string]any)
	if got["type"] != "OFFICE" || got["name"] != nil || md["version"] != float64(2) || md["createdAt"] == nil || md["modifiedAt"] == nil {
		t.Fatalf("after PUT %v", got)
	}
	managementErr(t, a.must(409, "PUT", cm+"/locations/wh", map[string]any{"type": "OFFICE", "contactDetails": map[string]any{}, "metadata": map[string]any{"version": 1}}), 409)
	managementErr(t, a.must(400, "PUT", cm+"/locations/wh", map[string]any{"type": "OFFICE"}), 400)
	a.must(400, "PUT", cm+"/locations/bad.id", map[string]any{"type": "OFFICE", "contactDetails": map[string]any{}})
	a.must(204, "DELETE", cm+"/locations/wh", nil)
	managementErr(t, a.must(404, "GET", cm+"/locations/wh", nil), 404)
	managementErr(t, a.must(404, "DELETE", cm+"/locations/wh", nil), 404)
}

func TestContactAssignments(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	a.must(201, "PUT", cust+"/C1", map[string]any{"firstName": "Ann", "lastName": "Lee", "contactEmail": "ann@x.com", "contactPhone": "123"})
	a.must(201, "PUT", cust+"/C2", map[string]any{"firstName": "Bob"})
	a.must(201, "POST", cm+"/legal-entities", map[string]any{"id": "le1", "name": "ACME"})
	a.must(201, "POST", cm+"/legal-entities", map[string]any{"id": "le2", "name": "Beta"})

	managementErr(t, a.must(400, "POST", cm+"/contact-assignments", map[string]any{"customer": map[string]any{"id": "C1"}}), 400)
	managementErr(t, a.must(400, "POST", cm+"/contact-assignments", map[string]any{"legalEntity": map[string]any{"id": "nope"}, "customer": map[string]any{"id": "C1"}}), 400)
	managementErr(t, a.must(400, "POST", cm+"/contact-assignments", map[string]any{"legalEntity": map[string]any{"id": "le1"}, "customer": map[string]any{"id": "nope"}}), 400)
	managementErr(t, a.must(400, "POST", cm+"/contact-assignments", map[string]any{"legalEntity": map[string]any{"id": "le1"}, "customer": map[string]any{"id": "C1"}, "type": "BOSS"}), 400)

	id := a.must(201, "POST", cm+"/contact-assignments", map[string]any{"legalEntity": map[string]any{"id": "le1"}, "customer": map[string]any{"id": "C1"}}).obj(t)["id"].(string)
	got := a.must(200, "GET", cm+"/contact-assignments/"+id, nil).obj(t)
	if got["type"] != "CONTACT" || got["primary"] != false {
		t.Fatalf("defaults %v", got)
	}
	c := got["customer"].(map[string]any)
	if c["id"] != "C1" || c["name"] != "Ann" || c["surname"] != "Lee" || c["email"] != "ann@x.com" || c["phone"] != "123" {
		t.Fatalf("customer %v", c)
	}
	if le := got["legalEntity"].(map[string]any); le["name"] != "ACME" || le["customerGroups"] == nil {
		t.Fatalf("legal entity not embedded: %v", le)
	}
	// One assignment per customer and legal entity, whatever the type.
	managementErr(t, a.must(409, "POST", cm+"/contact-assignments", map[string]any{"legalEntity": map[string]any{"id": "le1"}, "customer": map[string]any{"id": "C1"}, "type": "BILLING"}), 409)
	managementErr(t, a.must(409, "PUT", cm+"/contact-assignments/other", map[string]any{"legalEntity": map[string]any{"id": "le1"}, "customer": map[string]any{"id": "C1"}, "type": "BILLING"}), 409)
	managementErr(t, a.must(409, "POST", cm+"/contact-assignments", map[string]any{"id": id, "legalEntity": map[string]any{"id": "le2"}, "customer": map[string]any{"id": "C1"}}), 409)

	// The customer becomes B2B with the legal entity listed.
	cv := a.must(200, "GET", cust+"/C1", nil).obj(t)
	les := cv["b2b"].(map[string]any)["legalEntities"].([]any)
	if cv["businessModel"] != "B2B" || len(les) != 1 || les[0].(map[string]any)["name"] != "ACME" || les[0].(map[string]any)["contactAssignmentId"] != id {
		t.Fatalf("customer view %v", cv)
	}
	if l := a.must(200, "GET", cust+"?q=businessModel:B2B", nil).list(t); len(l) != 1 {
		t.Fatalf("query on derived field: %v", ids(l))
	}

	// PUT: type required, 404 for missing references, 201/204.
	managementErr(t, a.must(400, "PUT", cm+"/contact-assignments/as2", map[string]any{"legalEntity": map[string]any{"id": "le2"}, "customer": map[string]any{"id": "C2"}}), 400)
	managementErr(t, a.must(404, "PUT", cm+"/contact-assignments/as2", map[string]any{"legalEntity": map[string]any{"id": "zz"}, "customer": map[string]any{"id": "C2"}, "type": "PRIMARY"}), 404)
	a.must(201, "PUT", cm+"/contact-assignments/as2", map[string]any{"legalEntity": map[string]any{"id": "le2"}, "customer": map[string]any{"id": "C2"}, "type": "PRIMARY", "primary": true})
	a.must(204, "PUT", cm+"/contact-assignments/as2", map[string]any{"legalEntity": map[string]any{"id": "le2"}, "customer": map[string]any{"id": "C2"}, "type": "BILLING", "metadata": map[string]any{"version": 1}})
	managementErr(t, a.must(409, "PUT", cm+"/contact-assignments/as2", map[string]any{"legalEntity": map[string]any{"id": "le2"}, "customer": map[string]any{"id": "C2"}, "type": "BILLING", "metadata": map[string]any{"version": 1}}), 409)
	if got := a.must(200, "GET", cm+"/contact-assignments/as2", nil).obj(t); got["type"] != "BILLING" || got["primary"] != false {
		t.Fatalf("after PUT %v", got)
	}

	for query, want := range map[string]int{"": 2, "legalEntity.id=le1": 1, "customer.id=C2": 1, "type=BILLING": 1, "primary=false": 2, "type=CONTACT&customer.id=C2": 0} {
		if l := a.must(200, "GET", cm+"/contact-assignments?"+query, nil).list(t); len(l) != want {
			t.Errorf("%q: %d results, want %d", query, len(l), want)
		}
	}
	a.must(400, "GET", cm+"/contact-assignments?primary=maybe", nil)

	// Approval groups expand to assignments without the embedded entity.
	a.must(204, "PUT", cm+"/legal-entities/le1", map[string]any{"name": "ACME", "type": "COMPANY", "approvalGroup": []any{map[string]any{"id": id}}})
	ag := a.must(200, "GET", cm+"/legal-entities/le1", nil).obj(t)["approvalGroup"].([]any)
	if len(ag) != 1 || ag[0].(map[string]any)["legalEntity"].(map[string]any)["id"] != "le1" || ag[0].(map[string]any)["customer"].(map[string]any)["name"] != "Ann" {
		t.Fatalf("approvalGroup %v", ag)
	}

	a.must(204, "DELETE", cm+"/contact-assignments/"+id, nil)
	managementErr(t, a.must(404, "DELETE", cm+"/contact-assignments/"+id, nil), 404)
	if cv := a.must(200, "GET", cust+"/C1", nil).obj(t); cv["businessModel"] != "B2C" {
		t.Fatalf("still B2B: %v", cv)
	}
	// Deleting a customer removes its assignments.
	a.must(202, "DELETE", cust+"/C2", nil)
	managementErr(t, a.must(404, "GET", cm+"/contact-assignments/as2", nil), 404)
}
