package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"custsync/sandbox"
)

// specSecurity reads the OAuth2 scopes of every operation of the official specs the sandbox serves.
func specSecurity(t *testing.T) map[Endpoint][]string {
	t.Helper()
	files, err := filepath.Glob("../sandbox/testdata/specs/customer-*.api.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec files: %v", err)
	}
	type operation struct {
		Security []map[string][]string `yaml:"security"`
	}
	out := map[Endpoint][]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Paths map[string]map[string]yaml.Node `yaml:"paths"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for path, ops := range doc.Paths {
			for method, node := range ops {
				var op operation
				if err := node.Decode(&op); err != nil {
					continue // path-level parameters
				}
				var scopes []string
				for _, req := range op.Security {
					scopes = append(scopes, req["OAuth2"]...)
				}
				out[Endpoint{strings.ToUpper(method), path}] = scopes
			}
		}
	}
	return out
}

// TestSpecScopesMatchTheSpecs keeps the scope table equal to the security sections of the official
// specs, for every endpoint custsync calls.
func TestSpecScopesMatchTheSpecs(t *testing.T) {
	t.Parallel()
	spec := specSecurity(t)
	for ep, scopes := range specScopes {
		want, ok := spec[ep]
		if !ok {
			t.Errorf("%s: not in the specs", ep)
			continue
		}
		if !slices.Equal(scopes, want) {
			t.Errorf("%s: table %v, spec %v", ep, scopes, want)
		}
	}
}

func TestServesEndpoint(t *testing.T) {
	t.Parallel()
	cases := []struct {
		granted []string
		ep      Endpoint
		want    ScopeVerdict
		scope   string
	}{
		{[]string{"customer.customer_manage"}, PutCustomer, ScopeGranted, "customer.customer_manage"},
		{[]string{"customer.customer_manage_own"}, PutCustomer, ScopeLimited, "customer.customer_manage_own"},
		{[]string{"customer.customer_read--DE"}, ListCustomers, ScopeLimited, "customer.customer_read--DE"},
		{[]string{"customer.customer_read"}, PutCustomer, ScopeMissing, "customer.customer_manage"},
		{nil, GetParentHierarchy, ScopeMissing, "customermanagement.legalentity_read"},
		{[]string{"customermanagement.legalentity_manage"}, GetParentHierarchy, ScopeGranted, "customermanagement.legalentity_manage"},
		// A _read_own grant does not serve GET by id, which the spec opens to legalentity_read only.
		{[]string{"customermanagement.legalentity_read_own"}, GetLegalEntity, ScopeMissing, "customermanagement.legalentity_read"},
	}
	for _, tc := range cases {
		got, scope := ServesEndpoint(tc.granted, tc.ep)
		if got != tc.want || scope != tc.scope {
			t.Errorf("ServesEndpoint(%v, %s) = %v %q, want %v %q", tc.granted, tc.ep, got, scope, tc.want, tc.scope)
		}
	}
}

func TestRequestGrantReportsTheGrantedScopes(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{Clients: []sandbox.Client{
		{ID: "reader", Secret: testSecret, Scopes: []string{"customer.customer_read", "customermanagement.location_read"}},
	}})
	cfg := testConfig(p)
	cfg.ClientID = "reader"
	c := newTestClient(t, cfg)
	g, err := c.RequestGrant(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !g.Listed || !slices.Equal(g.Scopes, []string{"customer.customer_read", "customermanagement.location_read"}) {
		t.Fatalf("grant %+v", g)
	}
	if n := p.countRequests("POST", tokenPath); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	// The grant's token serves the next call: no second token request.
	if _, err := c.GetCustomer(context.Background(), "nobody"); !IsNotFound(err) {
		t.Fatalf("GetCustomer: %v", err)
	}
	if n := p.countRequests("POST", tokenPath); n != 1 {
		t.Errorf("%d token requests after a call, want 1", n)
	}

	cfg.ClientSecret = "wrong-" + testSecret
	_, err = newTestClient(t, cfg).RequestGrant(context.Background())
	if !errors.Is(err, ErrCredentialsRefused) || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("refused grant: %v", err)
	}
}
