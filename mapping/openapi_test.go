package mapping_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"custsync/mapping"
)

// TestSamplePayloadsMatchOfficialSchemas validates the PUT payload of every sample record against the
// platform's official request schemas (copies in sandbox/testdata/specs), so the samples import cleanly.
func TestSamplePayloadsMatchOfficialSchemas(t *testing.T) {
	t.Parallel()
	specDir := filepath.Join("..", "sandbox", "testdata", "specs")
	load := func(name string) *openapi3.T {
		doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(specDir, name))
		if err != nil {
			t.Skipf("official spec %s not available: %v", name, err)
		}
		return doc
	}
	customerSvc := load("customer-service-tenant-managed.api.yml")
	management := load("customer-management.api.yml")
	schemas := map[mapping.Entity]*openapi3.Schema{
		mapping.Customers: customerSvc.Components.Schemas["CustomerUpdateBySellerDto"].Value,
		mapping.Addresses: customerSvc.Components.Schemas["AddressUpdateDto"].Value,
		mapping.Companies: management.Components.Schemas["legalEntityUpdate"].Value,
		mapping.Locations: management.Components.Schemas["locationUpdate"].Value,
		mapping.Contacts:  management.Components.Schemas["contactAssignmentUpdate"].Value,
	}
	// The validation has teeth: a company without name and type is refused.
	if err := schemas[mapping.Companies].VisitJSON(map[string]any{"parentId": "C1"}); err == nil {
		t.Fatal("schema validation accepts a legal entity without name and type")
	}
	for _, e := range mapping.Entities() {
		schema := schemas[e]
		if schema == nil {
			t.Fatalf("no schema for %s", e)
		}
		for _, r := range loadSample(t, string(e)+".csv") {
			raw, err := json.Marshal(r.Payload())
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if err := schema.VisitJSON(doc); err != nil {
				t.Errorf("%s %s: payload %s does not match the official schema: %v", e, r.Key, raw, err)
			}
		}
	}
	// The SAP sample's customers and default addresses too.
	spec, err := mapping.LoadMappingFile(filepath.Join(samplesDir, "mappings", "sap-sd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(samplesDir, "sap", "KNA1.csv")
	h, rows, lines := readCSVFile(t, path, ';')
	recs, errs := mapTable(t, spec, mapping.Table{File: path}, h, rows, lines)
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	for _, r := range recs {
		if r.Command != mapping.Upsert {
			continue
		}
		raw, _ := json.Marshal(r.Payload())
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if err := schemas[r.Entity].VisitJSON(doc); err != nil {
			t.Errorf("SAP %s %s: %s: %v", r.Entity, r.Key, raw, err)
		}
	}
	// Address creation additionally needs contactName, which every sample address has.
	for _, r := range loadSample(t, "addresses.csv") {
		if v, ok := r.Get("contactName"); !ok || v.String() == "" {
			t.Errorf("address %s has no contactName (required to create it)", r.Key)
		}
	}
}
