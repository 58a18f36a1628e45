package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
)

// route is one endpoint of the platform.
type route struct {
	method string
	path   string   // a net/http.ServeMux path pattern, e.g. /customer/{tenant}/customers/{customerNumber}
	segs   []string // the path's segments: literals or "{name}" wildcards
	shape  errorShape
	public bool     // no bearer token needed
	scopes []string // any one suffices; empty = any valid token
	// accepts are the request bodies the operation takes, by content type (nil: it reads no body).
	accepts operationBody
	handle  func(c *reqCtx) *apiError
}

func newRoute(method, path string, shape errorShape, scopes []string, h func(*reqCtx) *apiError) route {
	return route{method: method, path: path, segs: strings.Split(strings.TrimPrefix(path, "/"), "/"), shape: shape, scopes: scopes, handle: h}
}

// reqCtx carries one request through a handler. Handlers answer through reply so that the
// endpoint wrapper can commit the store before anything reaches the client.
type reqCtx struct {
	s       *Server
	r       *http.Request
	tenant  string
	shape   errorShape
	status  int
	body    any
	headers http.Header
	entry   *Request
	token   *token
	accepts operationBody // the route's request bodies (see decodeBody)
	decoded *decodedBody  // the body, read and decoded before the handler takes the lock (see decodeValue)
}

func (c *reqCtx) reply(status int, body any) {
	c.status, c.body = status, body
}

func (c *reqCtx) header(k, v string) {
	if c.headers == nil {
		c.headers = http.Header{}
	}
	c.headers.Set(k, v)
}

func (c *reqCtx) param(name string) string { return c.r.PathValue(name) }

var tenantPattern = regexp.MustCompile(`^[a-z][a-z0-9]+$`)

func validTenant(t string) bool {
	return len(t) >= 3 && len(t) <= 16 && tenantPattern.MatchString(t)
}

func shapeForPath(path string) errorShape {
	if strings.HasPrefix(path, "/customer-management/") {
		return shapeManagement
	}
	return shapeCustomer
}

// entryKey carries the request-log entry from ServeHTTP to the endpoint that fills in its client id.
type entryKey struct{}

// handle registers a route with the mux behind the endpoint wrapper.
func (s *Server) handle(rt route) {
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.method+" "+rt.path, s.endpoint(rt))
}

// dispatch routes a request through the mux. Requests no pattern serves get the platform's error
// bodies instead of the mux's plain-text 404 and 405; a handler that panics answers 500 and is logged.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, entry *Request) {
	shape := shapeForPath(r.URL.Path)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.Error("sandbox handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeError(w, shape, newError(http.StatusInternalServerError, "internal_error",
				"A server-side exception occurred that prevented the system from correctly returning the result."))
		}
	}()
	// The mux redirects unclean paths. An empty segment matches no endpoint of the platform, and "." or
	// ".." are ordinary (if unlikely) ids there, so they are escaped to reach the routes as such.
	if strings.Contains(r.URL.Path, "//") {
		writeError(w, shape, notFound("No endpoint "+r.Method+" "+r.URL.Path+"."))
		return
	}
	r = withDotSegmentsEscaped(r)
	if h, pattern := s.mux.Handler(r); pattern == "" {
		// Let the mux decide between 404 and 405 (with its Allow header), then answer in the platform's shape.
		probe := &discardWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeError(w, shape, newError(http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("Request method '%s' is not supported.", r.Method)))
			return
		}
		writeError(w, shape, notFound("No endpoint "+r.Method+" "+r.URL.Path+"."))
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), entryKey{}, entry)))
}

// withDotSegmentsEscaped returns r, or a copy whose escaped path spells "." and ".." segments as
// %2E so that the mux matches them literally instead of redirecting to the cleaned path.
func withDotSegmentsEscaped(r *http.Request) *http.Request {
	segs := strings.Split(r.URL.EscapedPath(), "/")
	changed := false
	for i, seg := range segs {
		if seg == "." || seg == ".." {
			segs[i] = strings.ReplaceAll(seg, ".", "%2E")
			changed = true
		}
	}
	if !changed {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawPath = strings.Join(segs, "/")
	return r2
}

// endpoint wraps a route's handler: body limit, bearer token, tenant and scopes are checked before it
// runs, and its answer (or error, in the route's shape) is written after the store committed.
func (s *Server) endpoint(rt route) http.Handler {
	hasTenant := strings.Contains(rt.path, "{tenant}")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry, _ := r.Context().Value(entryKey{}).(*Request)
		if entry == nil {
			entry = &Request{}
		}
		c := &reqCtx{s: s, r: r, shape: rt.shape, entry: entry, accepts: rt.accepts}
		if r.ContentLength > s.opts.MaxBodyBytes {
			writeError(w, rt.shape, tooLarge(s.opts.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		if !rt.public {
			tok, fault := s.authenticate(r)
			if fault != nil {
				writeFault(w, http.StatusUnauthorized, fault.faultString, fault.errorCode)
				return
			}
			entry.ClientID = tok.clientID
			c.token = &tok
		}
		if hasTenant {
			t := r.PathValue("tenant")
			if !validTenant(t) {
				writeError(w, rt.shape, badRequest("The tenant information provided with the request is not valid."))
				return
			}
			c.tenant = t
		}
		if c.token != nil && len(rt.scopes) > 0 && !c.token.hasAny(rt.scopes) {
			if rt.shape == shapeManagement {
				writeError(w, rt.shape, newError(http.StatusForbidden, "forbidden", "The access to the given resource is forbidden."))
			} else {
				// The spec's example uses type "Forbidden", which breaks its own lowercase rule; the sandbox
				// follows the schema's rule.
				writeError(w, rt.shape, newError(http.StatusForbidden, "forbidden", "User not authorized."))
			}
			return
		}
		var apiErr *apiError
		if rt.public {
			apiErr = rt.handle(c)
		} else {
			if rt.accepts != nil {
				// Read and decode the body before taking the lock that serialises every request: a client
				// that sends its body slowly would otherwise hold every other client up while it does.
				// Errors wait in the result for the handler, so which error a request gets is unchanged.
				c.decodeValue()
			}
			apiErr = s.handleLocked(c, rt.handle)
		}
		if apiErr != nil {
			writeError(w, rt.shape, apiErr)
			return
		}
		c.write(w)
	})
}

// write sends a handler's successful answer.
func (c *reqCtx) write(w http.ResponseWriter) {
	for k, vs := range c.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	switch body := c.body.(type) {
	case nil:
		w.WriteHeader(c.status)
	case rawJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(c.status)
		_, _ = w.Write(body)
	default:
		writeJSON(w, c.status, body)
	}
}

// buildRoutes lists every endpoint with its scopes (any one suffices) and error shape.
func (s *Server) buildRoutes() []route {
	var routes []route
	add := func(method, path string, shape errorShape, scopes []string, h func(*reqCtx) *apiError) {
		routes = append(routes, newRoute(method, path, shape, scopes, h))
	}
	// addWith adds a route that reads a request body of the given schemas.
	addWith := func(method, path string, shape errorShape, scopes []string, accepts operationBody, h func(*reqCtx) *apiError) {
		rt := newRoute(method, path, shape, scopes, h)
		rt.accepts = accepts
		routes = append(routes, rt)
	}
	cs, cm := shapeCustomer, shapeManagement
	custRead := []string{scopeCustomerRead, scopeCustomerReadOwn}
	custManage := []string{scopeCustomerManage, scopeCustomerManageOwn}
	// Address endpoints accept only the plain scopes, no _own variants (digest §12.4); the tag-add
	// endpoint declares none and gets customer_manage (digest §12.3).
	addrRead := []string{scopeCustomerRead}
	addrManage := []string{scopeCustomerManage}

	token := newRoute(http.MethodPost, "/oauth/token", cs, nil, s.handleToken)
	token.public = true
	routes = append(routes, token)

	add("GET", "/customer/{tenant}/customers", cs, custRead, s.handleListCustomers)
	addWith("POST", "/customer/{tenant}/customers", cs, custManage, customerCreateBody, s.handleCreateCustomer)
	addWith("POST", "/customer/{tenant}/customers/search", cs, custRead, customerSearchBody, s.handleSearchCustomers)
	addWith("POST", "/customer/{tenant}/customers/import", cs, []string{scopeImportManage}, importBody, s.handleImportCustomers)
	add("GET", "/customer/{tenant}/config/password-migration-retention", cs, []string{scopeImportRead}, s.handleGetRetention)
	addWith("POST", "/customer/{tenant}/config/password-migration-retention", cs, []string{scopeImportManage}, retentionBody, s.handleSetRetention)
	add("DELETE", "/customer/{tenant}/config/password-migration-retention", cs, []string{scopeImportManage}, s.handleDeleteRetention)
	add("GET", "/customer/{tenant}/customers/{customerNumber}", cs, custRead, s.handleGetCustomer)
	addWith("PUT", "/customer/{tenant}/customers/{customerNumber}", cs, custManage, customerPutBody, s.handleUpsertCustomer)
	addWith("PATCH", "/customer/{tenant}/customers/{customerNumber}", cs, custManage, customerPatchBody, s.handlePatchCustomer)
	addWith("DELETE", "/customer/{tenant}/customers/{customerNumber}", cs, custManage, optionalEmptyBody, s.handleDeleteCustomer)
	add("GET", "/customer/{tenant}/customers/{customerNumber}/addresses", cs, addrRead, s.handleListAddresses)
	addWith("POST", "/customer/{tenant}/customers/{customerNumber}/addresses", cs, addrManage, addressCreateBody, s.handleCreateAddress)
	add("GET", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrRead, s.handleGetAddress)
	addWith("PUT", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrManage, addressUpdateBody, s.handleUpsertAddress)
	addWith("PATCH", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrManage, addressUpdateBody, s.handlePatchAddress)
	addWith("DELETE", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", cs, addrManage, optionalEmptyBody, s.handleDeleteAddress)
	add("POST", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}/tags", cs, addrManage, s.handleAddressTags(true))
	add("DELETE", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}/tags", cs, addrManage, s.handleAddressTags(false))

	leRead := []string{scopeLegalEntityRead, scopeLegalEntityReadOwn}
	leManage := []string{scopeLegalEntityManage}
	add("GET", "/customer-management/{tenant}/legal-entities", cm, leRead, s.handleListLegalEntities)
	addWith("POST", "/customer-management/{tenant}/legal-entities", cm, leManage, legalEntityCreateBody, s.handleCreateLegalEntity)
	addWith("POST", "/customer-management/{tenant}/legal-entities/search", cm, leRead, legalEntitySearchBody, s.handleSearchLegalEntities)
	add("GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, []string{scopeLegalEntityRead}, s.handleGetLegalEntity)
	addWith("PUT", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, leManage, legalEntityUpdateBody, s.handleUpsertLegalEntity)
	add("DELETE", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, leManage, s.handleDeleteLegalEntity)
	add("PATCH", "/customer-management/{tenant}/legal-entities/{legalEntityId}", cm, nil, methodNotAllowed)
	add("GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}/parent-hierarchy", cm,
		[]string{scopeLegalEntityRead, scopeLegalEntityManage}, s.handleParentHierarchy)

	add("GET", "/customer-management/{tenant}/locations", cm, []string{scopeLocationRead}, s.handleListLocations)
	addWith("POST", "/customer-management/{tenant}/locations", cm, []string{scopeLocationManage}, locationCreateBody, s.handleCreateLocation)
	add("GET", "/customer-management/{tenant}/locations/{locationId}", cm, []string{scopeLocationRead}, s.handleGetLocation)
	addWith("PUT", "/customer-management/{tenant}/locations/{locationId}", cm, []string{scopeLocationManage}, locationUpdateBody, s.handleUpsertLocation)
	add("DELETE", "/customer-management/{tenant}/locations/{locationId}", cm, []string{scopeLocationManage}, s.handleDeleteLocation)
	add("PATCH", "/customer-management/{tenant}/locations/{locationId}", cm, nil, methodNotAllowed)

	add("GET", "/customer-management/{tenant}/contact-assignments", cm, []string{scopeAssignmentRead}, s.handleListAssignments)
	addWith("POST", "/customer-management/{tenant}/contact-assignments", cm, []string{scopeAssignmentManage}, assignmentCreateBody, s.handleCreateAssignment)
	add("GET", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, []string{scopeAssignmentRead}, s.handleGetAssignment)
	addWith("PUT", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, []string{scopeAssignmentManage}, assignmentUpdateBody, s.handleUpsertAssignment)
	add("DELETE", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, []string{scopeAssignmentManage}, s.handleDeleteAssignment)
	add("PATCH", "/customer-management/{tenant}/contact-assignments/{contactAssignmentId}", cm, nil, methodNotAllowed)

	// The YaaS scopes of the Engagement Center service are accepted next to the Emporix ones.
	sdRead := []string{scopeCustomerRead, scopeCustomerManage, scopeCECenterView, scopeCECenterManage}
	sdManage := []string{scopeCustomerManage, scopeCECenterManage}
	addWith("POST", "/{tenant}/sdCustomerMappings", cs, sdManage, sdMappingBody, s.handleCreateSDMapping)
	add("GET", "/{tenant}/sdCustomerMappings", cs, sdRead, s.handleListSDMappings)
	add("DELETE", "/{tenant}/sdCustomerMappings/{customerNumber}", cs, sdManage, s.handleDeleteSDMapping)
	return routes
}
