package remote

import (
	"context"
	"slices"
	"strings"
)

// Endpoint names one platform operation by method and path template, written as the official
// OpenAPI specs write it (e.g. "PUT /customer/{tenant}/customers/{customerNumber}").
type Endpoint struct {
	Method, Path string
}

// String returns "METHOD /path/template".
func (e Endpoint) String() string { return e.Method + " " + e.Path }

// The platform operations the Client calls. sdCustomerMappings is not an Emporix API (see
// MappingEndpoints) and is not listed here.
var (
	ListCustomers   = Endpoint{"GET", "/customer/{tenant}/customers"}
	SearchCustomers = Endpoint{"POST", "/customer/{tenant}/customers/search"}
	GetCustomer     = Endpoint{"GET", "/customer/{tenant}/customers/{customerNumber}"}
	PutCustomer     = Endpoint{"PUT", "/customer/{tenant}/customers/{customerNumber}"}
	PatchCustomer   = Endpoint{"PATCH", "/customer/{tenant}/customers/{customerNumber}"}
	DeleteCustomer  = Endpoint{"DELETE", "/customer/{tenant}/customers/{customerNumber}"}

	ImportCustomers = Endpoint{"POST", "/customer/{tenant}/customers/import"}
	GetRetention    = Endpoint{"GET", "/customer/{tenant}/config/password-migration-retention"}
	SetRetention    = Endpoint{"POST", "/customer/{tenant}/config/password-migration-retention"}
	DeleteRetention = Endpoint{"DELETE", "/customer/{tenant}/config/password-migration-retention"}

	ListAddresses = Endpoint{"GET", "/customer/{tenant}/customers/{customerNumber}/addresses"}
	GetAddress    = Endpoint{"GET", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}"}
	PutAddress    = Endpoint{"PUT", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}"}
	PatchAddress  = Endpoint{"PATCH", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}"}
	DeleteAddress = Endpoint{"DELETE", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}"}

	ListLegalEntities  = Endpoint{"GET", "/customer-management/{tenant}/legal-entities"}
	GetLegalEntity     = Endpoint{"GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}"}
	PutLegalEntity     = Endpoint{"PUT", "/customer-management/{tenant}/legal-entities/{legalEntityId}"}
	DeleteLegalEntity  = Endpoint{"DELETE", "/customer-management/{tenant}/legal-entities/{legalEntityId}"}
	GetParentHierarchy = Endpoint{"GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}/parent-hierarchy"}

	ListLocations  = Endpoint{"GET", "/customer-management/{tenant}/locations"}
	GetLocation    = Endpoint{"GET", "/customer-management/{tenant}/locations/{locationId}"}
	PutLocation    = Endpoint{"PUT", "/customer-management/{tenant}/locations/{locationId}"}
	DeleteLocation = Endpoint{"DELETE", "/customer-management/{tenant}/locations/{locationId}"}

	ListContactAssignments  = Endpoint{"GET", "/customer-management/{tenant}/contact-assignments"}
	GetContactAssignment    = Endpoint{"GET", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}"}
	PutContactAssignment    = Endpoint{"PUT", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}"}
	DeleteContactAssignment = Endpoint{"DELETE", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}"}
)

// MappingEndpoints are the operations of the SD customer mappings endpoint (--mappings-url). It is
// not an Emporix API: whatever serves it decides which scopes it wants, so its needs cannot be
// checked against a token of the platform.
var MappingEndpoints = []Endpoint{
	{"POST", "/{tenant}/sdCustomerMappings"},
	{"GET", "/{tenant}/sdCustomerMappings"},
	{"DELETE", "/{tenant}/sdCustomerMappings/{customerNumber}"},
}

// specScopes are the scopes the official specs accept for each endpoint (security.OAuth2; any one
// suffices). A test compares this table with the spec files.
var specScopes = map[Endpoint][]string{
	ListCustomers:   {"customer.customer_read", "customer.customer_read_own"},
	SearchCustomers: {"customer.customer_read", "customer.customer_read_own"},
	GetCustomer:     {"customer.customer_read", "customer.customer_read_own"},
	PutCustomer:     {"customer.customer_manage", "customer.customer_manage_own"},
	PatchCustomer:   {"customer.customer_manage", "customer.customer_manage_own"},
	DeleteCustomer:  {"customer.customer_manage", "customer.customer_manage_own"},

	ImportCustomers: {"customer.import_manage"},
	GetRetention:    {"customer.import_read"},
	SetRetention:    {"customer.import_manage"},
	DeleteRetention: {"customer.import_manage"},

	ListAddresses: {"customer.customer_read"},
	GetAddress:    {"customer.customer_read"},
	PutAddress:    {"customer.customer_manage"},
	PatchAddress:  {"customer.customer_manage"},
	DeleteAddress: {"customer.customer_manage"},

	ListLegalEntities:  {"customermanagement.legalentity_read", "customermanagement.legalentity_read_own"},
	GetLegalEntity:     {"customermanagement.legalentity_read"},
	PutLegalEntity:     {"customermanagement.legalentity_manage"},
	DeleteLegalEntity:  {"customermanagement.legalentity_manage"},
	GetParentHierarchy: {"customermanagement.legalentity_read", "customermanagement.legalentity_manage"},

	ListLocations:  {"customermanagement.location_read"},
	GetLocation:    {"customermanagement.location_read"},
	PutLocation:    {"customermanagement.location_manage"},
	DeleteLocation: {"customermanagement.location_manage"},

	ListContactAssignments:  {"customermanagement.contactassignment_read"},
	GetContactAssignment:    {"customermanagement.contactassignment_read"},
	PutContactAssignment:    {"customermanagement.contactassignment_manage"},
	DeleteContactAssignment: {"customermanagement.contactassignment_manage"},
}

// SpecScopes returns the scopes the official spec accepts for e (any one suffices), or nil for an
// operation outside the specs.
func SpecScopes(e Endpoint) []string { return slices.Clone(specScopes[e]) }

// ScopeVerdict is how a grant serves one endpoint.
type ScopeVerdict int

// The verdicts of ServesEndpoint.
const (
	// ScopeMissing: no scope the endpoint accepts was granted; the call answers 403.
	ScopeMissing ScopeVerdict = iota
	// ScopeLimited: only an _own variant or a restriction-suffixed scope (customer.customer_read--DE)
	// was granted. The platform then answers, but filters what it reads and writes to the caller's
	// company or restriction instead of failing (digest §12): a tenant-wide sync would see part of the
	// data and take the rest for deleted.
	ScopeLimited
	// ScopeGranted: a tenant-wide scope the endpoint accepts was granted.
	ScopeGranted
)

// ServesEndpoint judges a grant against one endpoint of the specs and returns the scope that decided
// it: the granted one, or the tenant-wide scope that is missing.
func ServesEndpoint(granted []string, e Endpoint) (ScopeVerdict, string) {
	var tenantWide, own []string
	for _, s := range specScopes[e] {
		if strings.HasSuffix(s, "_own") {
			own = append(own, s)
		} else {
			tenantWide = append(tenantWide, s)
		}
	}
	for _, want := range tenantWide {
		if slices.Contains(granted, want) {
			return ScopeGranted, want
		}
	}
	for _, g := range granted {
		restricted := slices.ContainsFunc(tenantWide, func(want string) bool { return strings.HasPrefix(g, want+"--") })
		if restricted || slices.Contains(own, g) {
			return ScopeLimited, g
		}
	}
	if len(tenantWide) == 0 {
		return ScopeMissing, ""
	}
	return ScopeMissing, tenantWide[0]
}

// Grant is what one token request answered: the scopes the platform granted the client.
type Grant struct {
	// Scopes are the granted scopes in the order the platform listed them, without the tenant entry.
	Scopes []string
	// Tenant is the value of the tenant=... entry of the answer's scope, if any.
	Tenant string
	// Listed is false when the answer carried no scope at all; Scopes is then unknown, not empty.
	Listed bool
}

// parseGrant splits the token answer's space-separated scope ("a b tenant=acme").
func parseGrant(scope string) Grant {
	g := Grant{Listed: strings.TrimSpace(scope) != ""}
	for _, s := range strings.Fields(scope) {
		if t, ok := strings.CutPrefix(s, "tenant="); ok {
			g.Tenant = t
			continue
		}
		g.Scopes = append(g.Scopes, s)
	}
	return g
}

// RequestGrant makes one token request (temporary failures are retried like any request) and
// reports what it granted. The new token replaces the cached one. Refused credentials give an
// error wrapping ErrCredentialsRefused; no error carries the secret.
func (c *Client) RequestGrant(ctx context.Context) (Grant, error) {
	tok, err := c.tokens.fetch(ctx)
	if err != nil {
		return Grant{}, err
	}
	c.tokens.mu.Lock()
	c.tokens.current = tok
	c.tokens.mu.Unlock()
	return parseGrant(tok.scope), nil
}
