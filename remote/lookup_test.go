package remote

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"custsync/sandbox"
)

// ids collects the ids a lookup yields, sorted.
func ids(t *testing.T, all iter.Seq2[Doc, error]) []string {
	t.Helper()
	var out []string
	for d, err := range all {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d["id"].(string))
	}
	slices.Sort(out)
	return out
}

// TestInQueriesBatchWithinTheLimits: values are deduplicated, quoted and escaped, at most LookupBatch to a
// query, and a query's URL-encoded form stays within maxLookupQuery bytes however long the values are.
func TestInQueriesBatchWithinTheLimits(t *testing.T) {
	t.Parallel()
	var values []string
	for i := range 120 {
		values = append(values, fmt.Sprintf("%04d", i), fmt.Sprintf("%04d", i), " ")
	}
	qs := inQueries("id", values, "")
	if len(qs) != 3 || strings.Count(qs[0], ",") != LookupBatch-1 || strings.Count(qs[2], ",") != 19 || !strings.HasPrefix(qs[0], `id:("0000","0001",`) {
		t.Fatalf("120 values: %d queries %q", len(qs), qs)
	}
	long := make([]string, 40)
	for i := range long {
		long[i] = fmt.Sprintf("Müller & Söhne GmbH %d %s", i, strings.Repeat("x", 300))
	}
	qs = inQueries("name", long, `parentId:"P 1"`)
	if len(qs) < 3 {
		t.Fatalf("40 long values fit %d queries", len(qs))
	}
	for _, q := range qs {
		if n := len(url.QueryEscape(q)); n > maxLookupQuery || !strings.HasSuffix(q, `) parentId:"P 1"`) {
			t.Errorf("query of %d encoded bytes: %.80q", n, q)
		}
	}
	if got := inQueries("name", []string{`say "hi" \ bye`}, ""); got[0] != `name:("say \"hi\" \\ bye")` {
		t.Errorf("escaping: %s", got[0])
	}
	if got := inQueries("id", nil, ""); len(got) != 0 {
		t.Errorf("no values: %q", got)
	}
}

// TestLookupsFindRecordsByTheirValues runs every lookup against the sandbox: customers by id (in batches),
// by a mixin field (leading zeros kept, numbers not matched), by e-mail ignoring case; companies by
// registration id and by name under a parent; locations by name; assignments by customer and by pair; and
// the size probe.
func TestLookupsFindRecordsByTheirValues(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{ContactPropagation: sandbox.PropagateDisabled})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	seedCustomers(t, c, 120)
	put := func(_ bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mixin := func(v any) Doc {
		return Doc{"lastName": "M", "mixins": map[string]any{"erp": map[string]any{"customerNumber": v}}}
	}
	put(c.UpsertCustomer(ctx, "M1", mixin("0001")))
	put(c.UpsertCustomer(ctx, "M2", mixin(float64(1))))
	put(c.UpsertCustomer(ctx, "E1", Doc{"contactEmail": "ann@example.com"}))
	put(c.UpsertCustomer(ctx, "E2", Doc{"contactEmail": "Bob.Smith+erp@Example.com"}))

	var asked []string
	for i := range 120 {
		if i%2 == 0 {
			asked = append(asked, customerID(i))
		}
	}
	p.srv.ResetRequests()
	if got := ids(t, c.CustomersWhere(ctx, "id", append(asked, "nobody"))); !slices.Equal(got, asked) {
		t.Fatalf("customers by id: %d found, want %d", len(got), len(asked))
	}
	if n := p.countRequests(http.MethodPost, "/customer/"+testTenant+"/customers/search"); n != 2 {
		t.Errorf("61 ids took %d searches, want 2", n)
	}
	var mixins []Doc
	for d, err := range c.CustomersWhere(ctx, "mixins.erp.customerNumber", []string{"0001", "1"}) {
		if err != nil {
			t.Fatal(err)
		}
		mixins = append(mixins, d)
	}
	if len(mixins) != 1 || mixins[0]["id"] != "M1" || mixins[0]["mixins"] == nil {
		t.Fatalf("customers by a mixin field: %v", mixins)
	}
	// As written or in lower case, in one request; another mix of cases needs the fold lookup.
	if got := ids(t, c.CustomersByEmail(ctx, []string{"ANN@example.com", "bob.smith+erp@example.com"})); !slices.Equal(got, []string{"E1"}) {
		t.Fatalf("customers by e-mail: %v", got)
	}
	if got := ids(t, c.CustomersByEmailFold(ctx, "bob.smith+ERP@example.COM")); !slices.Equal(got, []string{"E2"}) {
		t.Fatalf("customer by e-mail in any case: %v", got)
	}
	if literalRun("bob.smith+erp@example.com") != "erp@example" {
		t.Errorf("literal run %q", literalRun("bob.smith+erp@example.com"))
	}

	put(c.UpsertLegalEntity(ctx, "K1", Doc{"name": "Kappa", "type": "COMPANY", "legalInfo": map[string]any{"registrationId": "HRB 1"}}))
	put(c.UpsertLegalEntity(ctx, "K2", Doc{"name": "Kappa", "type": "SUBSIDIARY", "parentId": "K1", "legalInfo": map[string]any{"registrationId": "HRB 2"}}))
	put(c.UpsertLegalEntity(ctx, "K3", Doc{"name": "Kappa Süd", "type": "SUBSIDIARY", "parentId": "K1"}))
	if got := ids(t, c.LegalEntitiesWhere(ctx, "legalInfo.registrationId", []string{"HRB 2", "HRB 9"})); !slices.Equal(got, []string{"K2"}) {
		t.Fatalf("companies by registration id: %v", got)
	}
	if got := ids(t, c.LegalEntitiesNamed(ctx, "", []string{"Kappa"})); !slices.Equal(got, []string{"K1"}) {
		t.Fatalf("top-level companies named Kappa: %v", got)
	}
	if got := ids(t, c.LegalEntitiesNamed(ctx, "K1", []string{"Kappa", "Kappa Süd", "Kapp"})); !slices.Equal(got, []string{"K2", "K3"}) {
		t.Fatalf("companies under K1: %v", got)
	}
	put(c.UpsertLocation(ctx, "L1", Doc{"name": "HQ", "type": "HEADQUARTER", "contactDetails": map[string]any{}}))
	put(c.UpsertLocation(ctx, "L2", Doc{"name": "HQ North", "type": "OFFICE", "contactDetails": map[string]any{}}))
	if got := ids(t, c.LocationsWhere(ctx, "name", []string{"HQ"})); !slices.Equal(got, []string{"L1"}) {
		t.Fatalf("locations named HQ: %v", got)
	}
	for _, a := range [][2]string{{"K1", customerID(1)}, {"K2", customerID(1)}, {"K2", customerID(2)}} {
		put(c.UpsertContactAssignment(ctx, a[0]+"-"+a[1], Doc{"legalEntity": map[string]any{"id": a[0]}, "customer": map[string]any{"id": a[1]}, "type": "CONTACT"}))
	}
	if got := ids(t, c.ContactAssignmentsWhere(ctx, "customer.id", []string{customerID(1)})); !slices.Equal(got, []string{"K1-C00001", "K2-C00001"}) {
		t.Fatalf("assignments of C00001: %v", got)
	}
	if a, err := c.ContactAssignmentOf(ctx, customerID(2), "K2"); err != nil || a["id"] != "K2-C00002" {
		t.Fatalf("assignment of C00002 to K2: %v %v", a, err)
	}
	if a, err := c.ContactAssignmentOf(ctx, customerID(2), "K1"); err != nil || a != nil {
		t.Fatalf("assignment of C00002 to K1: %v %v", a, err)
	}

	for _, tc := range []struct {
		collection string
		n          int
		want       bool
	}{
		{CollectionCustomers, 124, true}, {CollectionCustomers, 125, false},
		{CollectionLegalEntities, 3, true}, {CollectionLegalEntities, 4, false},
		{CollectionLocations, 2, true}, {CollectionContactAssignments, 4, false},
	} {
		p.srv.ResetRequests()
		got, err := c.HasAtLeast(ctx, tc.collection, tc.n)
		if err != nil || got != tc.want || len(p.apiRequests()) != 1 {
			t.Errorf("%s has at least %d: %v %v (%d requests), want %v", tc.collection, tc.n, got, err, len(p.apiRequests()), tc.want)
		}
	}
}
