package sandbox

import (
	"net/http"
	"strings"
)

// buildRoutes lists every endpoint with its scopes (any one suffices) and error shape.
func (s *Server) buildRoutes() []route {
	var routes []route
	add := func(method, path string, shape errorShape, scopes []string, h func(*reqCtx) *apiError) {
		routes = append(routes, route{method: method, segs: strings.Split(strings.TrimPrefix(path, "/"), "/"), shape: shape, scopes: scopes, handle: h})
	}
	cs, cm := shapeCustomer, shapeManagement
	custRead := []string{scopeCustomerRead, scopeCustomerReadOwn}
	custManage := []string{scopeCustomerManage, scopeCustomerManageOwn}
	// Address endpoints accept only the plain scopes, no _own variants (digest §12.4); the tag-add
	// endpoint declares none and gets customer_manage (digest §12.3).
	addrRead := []string{scopeCustomerRead}
	addrManage := []string{scopeCustomerManage}

	routes = append(routes, route{method: http.MethodPost, segs: []string{"oauth", "token"}, shape: cs, public: true, handle: s.handleToken})

	add("GET", "/customer/{tenant}/customers", cs, custRead, s.handleListCustomers)
	add("POST", "/customer/{tenant}/customers", cs, custManage, s.handleCreateCustomer)
	add("POST", "/customer/{tenant}/customers/search", cs, custRead, s.handleSearchCustomers)
	add("GET", "/customer/{tenant}/customers/{customerNumber}", cs, custRead, s.handleGetCustomer)
	add("PUT", "/customer/{tenant}/customers/{customerNumber}", cs, custManage, s.handleUpsertCustomer)
	add("PATCH", "/customer/{tenant}/customers/{customerNumber}", cs, custManage, s.handlePatchCustomer)
	add("DELETE", "/customer/{tenant}/customers/{customerNumber}", cs, custManage, s.handleDeleteCustomer)
	add("GET", "/customer/{tenant}/customers/{customerNumber}/addresses", cs, addrRead, s.handleListAddresses)
	add("POST", "/customer/{tenant}/customers/{customerNumber}/addresses", cs, addrManage, s.handleCreateAddress)
	add("GET", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrRead, s.handleGetAddress)
	add("PUT", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrManage, s.handleUpsertAddress)
	add("PATCH", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrManage, s.handlePatchAddress)
	add("DELETE", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrManage, s.handleDeleteAddress)
	add("POST", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}/tags", cs, addrManage, s.handleAddressTags(true))
	add("DELETE", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}/tags", cs, addrManage, s.handleAddressTags(false))

	leRead := []string{scopeLegalEntityRead, scopeLegalEntityReadOwn}
	leManage := []string{scopeLegalEntityManage}
	add("GET", "/customer-management/{tenant}/legal-entities", cm, leRead, s.handleListLegalEntities)
	add("POST", "/customer-management/{tenant}/legal-entities", cm, leManage, s.handleCreateLegalEntity)
	add("POST", "/customer-management/{tenant}/legal-entities/search", cm, leRead, s.handleSearchLegalEntities)
	add("GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, []string{scopeLegalEntityRead}, s.handleGetLegalEntity)
	add("PUT", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, leManage, s.handleUpsertLegalEntity)
	add("DELETE", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, leManage, s.handleDeleteLegalEntity)
	add("PATCH", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, nil, methodNotAllowed)
	add("GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}/parent-hierarchy", cm,
		[]string{scopeLegalEntityRead, scopeLegalEntityManage}, s.handleParentHierarchy)

	add("GET", "/customer-management/{tenant}/locations", cm, []string{scopeLocationRead}, s.handleListLocations)
	add("POST", "/customer-management/{tenant}/locations", cm, []string{scopeLocationManage}, s.handleCreateLocation)
	add("GET", "/customer-management/{tenant}/locations/{locationId}", cm, []string{scopeLocationRead}, s.handleGetLocation)
	add("PUT", "/customer-management/{tenant}/locations/{locationId}", cm, []string{scopeLocationManage}, s.handleUpsertLocation)
	add("DELETE", "/customer-management/{tenant}/locations/{locationId}", cm, []string{scopeLocationManage}, s.handleDeleteLocation)
	add("PATCH", "/customer-management/{tenant}/locations/{locationId}", cm, nil, methodNotAllowed)

	add("GET", "/customer-management/{tenant}/contact-assignments", cm, []string{scopeAssignmentRead}, s.handleListAssignments)
	add("POST", "/customer-management/{tenant}/contact-assignments", cm, []string{scopeAssignmentManage}, s.handleCreateAssignment)
	add("GET", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, []string{scopeAssignmentRead}, s.handleGetAssignment)
	add("PUT", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, []string{scopeAssignmentManage}, s.handleUpsertAssignment)
	add("DELETE", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, []string{scopeAssignmentManage}, s.handleDeleteAssignment)
	add("PATCH", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, nil, methodNotAllowed)

	// The YaaS scopes of the Engagement Center service are accepted next to the Emporix ones.
	sdRead := []string{scopeCustomerRead, scopeCustomerManage, scopeCECenterView, scopeCECenterManage}
	sdManage := []string{scopeCustomerManage, scopeCECenterManage}
	add("POST", "/{tenant}/sdCustomerMappings", cs, sdManage, s.handleCreateSDMapping)
	add("GET", "/{tenant}/sdCustomerMappings", cs, sdRead, s.handleListSDMappings)
	add("DELETE", "/{tenant}/sdCustomerMappings/{customerNumber}", cs, sdManage, s.handleDeleteSDMapping)
	return routes
}
