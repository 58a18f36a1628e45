package sandbox

import (
	"fmt"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"custsync/sandbox/query"
)

// customerSchema holds the writable customer fields shared by create, upsert and patch
// (CustomerCreateDto + CustomerUpdateBySellerDto). Read-only fields such as businessModel,
// b2b.legalEntities, addresses or customerNumber are ignored when sent.
var customerSchema = schema{
	"title":             {kind: kString},
	"firstName":         {kind: kString},
	"middleName":        {kind: kString},
	"lastName":          {kind: kString},
	"contactPhone":      {kind: kString},
	"company":           {kind: kString},
	"preferredLanguage": {kind: kString},
	"preferredCurrency": {kind: kString, minLen: 3, maxLen: 3},
	"preferredSite":     {kind: kString},
	// The spec lists the supported values in prose only; an empty value means CUSTOMER.
	"type":     {kind: kString, enum: []string{"CUSTOMER", "CONTACT", ""}},
	"photoUrl": {kind: kString},
	// The platform's own tutorial sends a numeric companyRegistrationId (digest §12.17): accepted as text.
	"b2b":          {kind: kObject, sub: schema{"companyRegistrationId": {kind: kString, coerce: true}}},
	"metadata":     {kind: kObject, sub: schema{"mixins": {kind: kFreeObject}, "version": {kind: kInt, minValue: one()}}},
	"mixins":       {kind: kFreeObject},
	"restriction":  {kind: kString},
	"contactEmail": {kind: kString},
	"active":       {kind: kBool},
	"onHold":       {kind: kBool},
}

// customerCreateSchema adds the create-only members of CustomerSignupBySellerDto.
var customerCreateSchema = withFields(customerSchema, schema{
	"id":       {kind: kString, pattern: customIDPattern},
	"password": {kind: kString},
})

func one() *float64 { v := 1.0; return &v }

func withFields(base, extra schema) schema {
	out := schema{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// customerDefaults are the platform defaults of CustomerCreateDto.
var customerDefaults = map[string]string{"preferredLanguage": "en_US", "preferredCurrency": "USD", "preferredSite": "main"}

// customerNotFound is the documented 404 (its `type` really is "application/json" in the spec,
// digest §6.1; the sandbox answers exactly that).
func customerNotFound(customerNumber string) *apiError {
	return newError(http.StatusNotFound, "application/json", "Customer not Found",
		fieldProblem{Message: fmt.Sprintf("Couldn't find a customer with customerNumber '%s'", customerNumber)})
}

func duplicateAccount(email, tenant string) *apiError {
	return conflict(fmt.Sprintf("Duplicate account '%s' for tenant '%s'.", email, tenant))
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// expandSet is the parsed `expand` parameter.
type expandSet struct {
	addresses, accounts bool
	allMixins           bool
	mixins              map[string]bool
}

func parseExpand(v string) expandSet {
	var e expandSet
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "addresses":
			e.addresses = true
		case part == "accounts":
			e.accounts = true
		case part == "mixin" || part == "mixins" || part == "mixin:*" || part == "mixin:{*}":
			e.allMixins = true
		case strings.HasPrefix(part, "mixin:"):
			if e.mixins == nil {
				e.mixins = map[string]bool{}
			}
			e.mixins[strings.Trim(strings.TrimPrefix(part, "mixin:"), "{}")] = true
		}
	}
	return e
}

// assignmentIndex maps a customer id to its contact assignments, built once per request.
type assignmentIndex map[string][]map[string]any

func (s *Server) assignmentsByCustomer(tenant string) assignmentIndex {
	idx := assignmentIndex{}
	for _, a := range s.store.list(tenant, kindAssignment) {
		cust, _ := a["customer"].(map[string]any)
		id, _ := cust["id"].(string)
		idx[id] = append(idx[id], a)
	}
	return idx
}

// customerView builds the CustomerForSellerDto of a stored customer with every derived field and
// its mixins; finishCustomerView then trims it to what `expand` asked for.
func (s *Server) customerView(tenant string, doc map[string]any, idx assignmentIndex) map[string]any {
	// A shallow copy suffices: views only replace top-level members (b2b gets a fresh map below),
	// and stored documents are never modified in place.
	v := shallowCopy(doc)
	var legalEntities []any
	for _, a := range idx[str(doc, "id")] {
		le, _ := a["legalEntity"].(map[string]any)
		leID, _ := le["id"].(string)
		item := map[string]any{"id": leID, "contactAssignmentId": a["id"]}
		if stored, ok := s.store.get(tenant, kindLegalEntity, leID); ok {
			item["name"] = stored["name"]
		}
		legalEntities = append(legalEntities, item)
	}
	b2b := map[string]any{}
	if stored, ok := v["b2b"].(map[string]any); ok {
		for k, x := range stored {
			b2b[k] = x
		}
	}
	if len(legalEntities) > 0 {
		b2b["legalEntities"] = legalEntities
		v["businessModel"] = "B2B"
	} else {
		v["businessModel"] = "B2C"
	}
	if len(b2b) > 0 {
		v["b2b"] = b2b
	} else {
		delete(v, "b2b")
	}
	if email := str(doc, "contactEmail"); email != "" {
		v["email"] = email
	}
	for _, a := range s.store.list(tenant, addressKind(str(doc, "id"))) {
		if a["isDefault"] == true {
			v["defaultAddress"] = a
			break
		}
	}
	return v
}

func (s *Server) finishCustomerView(tenant string, v map[string]any, e expandSet) map[string]any {
	switch {
	case e.allMixins:
	case len(e.mixins) > 0:
		if m, ok := v["mixins"].(map[string]any); ok {
			kept := map[string]any{}
			for k := range e.mixins {
				if x, ok := m[k]; ok {
					kept[k] = x
				}
			}
			v["mixins"] = kept
		}
	default:
		delete(v, "mixins")
	}
	if e.addresses {
		addrs := []any{}
		for _, a := range s.store.list(tenant, addressKind(str(v, "id"))) {
			addrs = append(addrs, a)
		}
		v["addresses"] = addrs
	}
	if e.accounts {
		accounts := []any{}
		if email := str(v, "contactEmail"); email != "" {
			accounts = append(accounts, map[string]any{"id": email})
		}
		v["accounts"] = accounts
	}
	return v
}

func (s *Server) handleListCustomers(c *reqCtx) *apiError {
	return s.listCustomers(c, c.r.URL.Query().Get("q"))
}

func (s *Server) handleSearchCustomers(c *reqCtx) *apiError {
	body, apiErr := c.decodeObject()
	if apiErr != nil {
		return apiErr
	}
	q := ""
	if body["q"] != nil {
		s, ok := body["q"].(string)
		if !ok {
			return validationError(fieldProblem{Field: "q", Type: "invalid_type", Message: "q must be a string."})
		}
		q = s
	}
	return s.listCustomers(c, q)
}

// listCustomers serves the list and search endpoints. The `Count` header carries the number of
// customers in this response: the spec calls it "Number of retrieved customers" and documents no
// total (digest §5.4), so clients page until a short page.
func (s *Server) listCustomers(c *reqCtx, q string) *apiError {
	params := c.r.URL.Query()
	expr, err := query.Parse(q)
	if err != nil {
		return badRequest("Invalid query: " + err.Error())
	}
	number, size, apiErr := c.paging(60)
	if apiErr != nil {
		return apiErr
	}
	idx := s.assignmentsByCustomer(c.tenant)
	docs := s.store.list(c.tenant, kindCustomer)
	sortSpec := params.Get("sort")
	if strings.TrimSpace(q) == "" && sortSpec == "" {
		// Nothing to match or sort on: build views for the requested page only, so that paging through a
		// large tenant costs O(page) per request rather than O(tenant).
		docs = page(docs, number, size)
		number = 1
	}
	var matched []map[string]any
	for _, doc := range docs {
		v := s.customerView(c.tenant, doc, idx)
		if expr.Match(v) {
			matched = append(matched, v)
		}
	}
	if sortSpec != "" {
		if err := query.SortDocs(matched, sortSpec); err != nil {
			return badRequest("Invalid sort: " + err.Error())
		}
	}
	expand := parseExpand(params.Get("expand"))
	out := []any{}
	for _, v := range page(matched, number, size) {
		out = append(out, s.finishCustomerView(c.tenant, v, expand))
	}
	c.header("Count", strconv.Itoa(len(out)))
	c.reply(http.StatusOK, out)
	return nil
}

func (s *Server) handleGetCustomer(c *reqCtx) *apiError {
	id := c.param("customerNumber")
	doc, ok := s.store.get(c.tenant, kindCustomer, id)
	if !ok {
		return customerNotFound(id)
	}
	v := s.customerView(c.tenant, doc, s.assignmentsByCustomer(c.tenant))
	c.reply(http.StatusOK, s.finishCustomerView(c.tenant, v, parseExpand(c.r.URL.Query().Get("expand"))))
	return nil
}

func checkBoolParam(c *reqCtx, name string) *apiError {
	if v := c.r.URL.Query().Get(name); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return validationError(fieldProblem{Field: name, Type: "invalid_type", Message: name + " must be true or false."})
		}
	}
	return nil
}

// emailTaken reports whether another customer of the tenant has the contact e-mail (compared
// case-insensitively, as login e-mails are).
func (s *Server) emailTaken(tenant, email, exceptID string) bool {
	if email == "" {
		return false
	}
	for id := range s.store.customersWithEmail(tenant, email) {
		if id != exceptID {
			return true
		}
	}
	return false
}

func (s *Server) newCustomerNumber(tenant string) string {
	for {
		id := strconv.Itoa(10000000 + rand.IntN(90000000))
		if _, ok := s.store.get(tenant, kindCustomer, id); ok {
			continue
		}
		if _, ok := s.store.get(tenant, kindDeletedCustomer, id); ok {
			continue
		}
		return id
	}
}

// checkNewCustomerNumber enforces the rules for a caller-chosen customer number.
func (s *Server) checkNewCustomerNumber(tenant, id string) *apiError {
	if _, ok := s.store.get(tenant, kindCustomer, id); ok {
		return conflict(fmt.Sprintf("Customer with id '%s' already exists.", id))
	}
	if _, ok := s.store.get(tenant, kindDeletedCustomer, id); ok && !s.opts.RecreateDeletedCustomers {
		// The platform blocks reuse of a deleted customer's number unless the tenant sets
		// enableRecreationOfDeletedCustomer (digest §8.1 rule 1); Options.RecreateDeletedCustomers mirrors it.
		return conflict(fmt.Sprintf("Customer with id '%s' was deleted and its number cannot be reused.", id))
	}
	return nil
}

// buildCustomer assembles a stored customer from the picked writable fields.
func (s *Server) buildCustomer(id string, fields map[string]any, version int, createdAt string, previous map[string]any) map[string]any {
	doc := map[string]any{}
	for k, v := range fields {
		doc[k] = v
	}
	delete(doc, "id")
	delete(doc, "password")
	for k, def := range customerDefaults {
		if str(doc, k) == "" {
			doc[k] = def
		}
	}
	// active/onHold are account status flags: when a write does not send them they keep their value
	// (new customers start active and not on hold, the platform's default tenant configuration).
	for k, def := range map[string]bool{"active": true, "onHold": false} {
		if _, ok := doc[k].(bool); !ok {
			if prev, ok := previous[k].(bool); ok {
				doc[k] = prev
			} else {
				doc[k] = def
			}
		}
	}
	md := map[string]any{"version": version}
	if m, ok := fields["metadata"].(map[string]any); ok {
		if mixins, ok := m["mixins"].(map[string]any); ok {
			md["mixins"] = mixins
		}
	}
	doc["metadata"] = md
	doc["id"], doc["customerNumber"], doc["metadataCreatedAt"] = id, id, createdAt
	return doc
}

func (s *Server) handleCreateCustomer(c *reqCtx) *apiError {
	if apiErr := checkBoolParam(c, "sendPasswordResetNotifications"); apiErr != nil {
		return apiErr
	}
	body, apiErr := c.decodeChecked(customerCreateSchema)
	if apiErr != nil {
		return apiErr
	}
	fields := customerCreateSchema.pick(body, false)
	id, _ := fields["id"].(string)
	if id == "" {
		id = s.newCustomerNumber(c.tenant)
	} else if apiErr := s.checkNewCustomerNumber(c.tenant, id); apiErr != nil {
		return apiErr
	}
	if email := str(fields, "contactEmail"); s.emailTaken(c.tenant, email, "") {
		return duplicateAccount(email, c.tenant)
	}
	s.store.put(c.tenant, kindCustomer, id, s.buildCustomer(id, fields, 1, timestamp(s.now()), nil))
	c.reply(http.StatusCreated, map[string]any{"id": id})
	return nil
}

func isMergePatch(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/merge-patch+json"
}

// handleUpsertCustomer is PUT: 201 + {id} when it creates, 204 when it updates. With
// application/json the body replaces the writable fields (absent fields are removed, except that
// active/onHold keep their value and preferred* fall back to the defaults); with
// application/merge-patch+json it is merged as in PATCH.
func (s *Server) handleUpsertCustomer(c *reqCtx) *apiError {
	if apiErr := checkBoolParam(c, "sendPasswordResetNotifications"); apiErr != nil {
		return apiErr
	}
	id := c.param("customerNumber")
	body, apiErr := c.decodeChecked(customerSchema)
	if apiErr != nil {
		return apiErr
	}
	existing, exists := s.store.get(c.tenant, kindCustomer, id)
	if !exists {
		if !customIDPattern.MatchString(id) {
			return validationError(fieldProblem{Field: "customerNumber", Type: "invalid_value", Message: "customerNumber " + validIDMessage})
		}
		if apiErr := s.checkNewCustomerNumber(c.tenant, id); apiErr != nil {
			return apiErr
		}
		fields := customerSchema.pick(body, false)
		if email := str(fields, "contactEmail"); s.emailTaken(c.tenant, email, "") {
			return duplicateAccount(email, c.tenant)
		}
		s.store.put(c.tenant, kindCustomer, id, s.buildCustomer(id, fields, 1, timestamp(s.now()), nil))
		c.reply(http.StatusCreated, map[string]any{"id": id})
		return nil
	}
	if v, ok := bodyVersion(body); ok && v != docVersion(existing) {
		return staleVersion(docVersion(existing))
	}
	var doc map[string]any
	if isMergePatch(c.r) {
		var apiErr *apiError
		if doc, apiErr = s.mergeCustomer(existing, body); apiErr != nil {
			return apiErr
		}
	} else {
		doc = s.buildCustomer(id, customerSchema.pick(body, false), docVersion(existing)+1, str(existing, "metadataCreatedAt"), existing)
	}
	if email := str(doc, "contactEmail"); s.emailTaken(c.tenant, email, id) {
		return duplicateAccount(email, c.tenant)
	}
	s.store.put(c.tenant, kindCustomer, id, doc)
	c.reply(http.StatusNoContent, nil)
	return nil
}

// mergeCustomer applies merge-patch semantics: members sent replace, null removes, objects merge.
func (s *Server) mergeCustomer(existing, body map[string]any) (map[string]any, *apiError) {
	if v, present := body["contactEmail"]; present && str(existing, "contactEmail") != "" {
		if s, _ := v.(string); s == "" {
			// Since 2026-04-27 contactEmail cannot be unset once it has a value (digest §8.1 rule 4).
			return nil, validationError(fieldProblem{Field: "contactEmail", Type: "invalid_value", Message: "contactEmail cannot be unset once a value is present."})
		}
	}
	patch := customerSchema.pick(body, true)
	if md, present := patch["metadata"]; present {
		mdObj, _ := md.(map[string]any)
		if mdObj == nil {
			mdObj = map[string]any{"mixins": nil}
		}
		delete(mdObj, "version")
		patch["metadata"] = mdObj
	}
	doc := cloneDoc(existing)
	mergePatch(doc, patch)
	for k, def := range customerDefaults {
		if str(doc, k) == "" {
			doc[k] = def
		}
	}
	md, _ := doc["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	md["version"] = docVersion(existing) + 1
	doc["metadata"] = md
	return doc, nil
}

// handlePatchCustomer is PATCH: merge semantics, 200 without a body, 404 when missing.
func (s *Server) handlePatchCustomer(c *reqCtx) *apiError {
	id := c.param("customerNumber")
	body, apiErr := c.decodeChecked(customerSchema)
	if apiErr != nil {
		return apiErr
	}
	existing, ok := s.store.get(c.tenant, kindCustomer, id)
	if !ok {
		return customerNotFound(id)
	}
	if v, ok := bodyVersion(body); ok && v != docVersion(existing) {
		return staleVersion(docVersion(existing))
	}
	doc, apiErr := s.mergeCustomer(existing, body)
	if apiErr != nil {
		return apiErr
	}
	if email := str(doc, "contactEmail"); s.emailTaken(c.tenant, email, id) {
		return duplicateAccount(email, c.tenant)
	}
	s.store.put(c.tenant, kindCustomer, id, doc)
	c.reply(http.StatusOK, nil)
	return nil
}

// handleDeleteCustomer is DELETE: 202. It removes the profile, its addresses and, since an
// assignment to a missing customer cannot be rendered, its contact assignments (the docs are
// silent on that). The number is remembered so it cannot be reused (see checkNewCustomerNumber).
func (s *Server) handleDeleteCustomer(c *reqCtx) *apiError {
	id := c.param("customerNumber")
	if _, ok := s.store.get(c.tenant, kindCustomer, id); !ok {
		return customerNotFound(id)
	}
	s.store.del(c.tenant, kindCustomer, id)
	s.store.del(c.tenant, kindAccount, id)
	s.store.delKind(c.tenant, addressKind(id))
	var doomed []string
	s.store.each(c.tenant, kindAssignment, func(a map[string]any) bool {
		if refID(a["customer"]) == id {
			doomed = append(doomed, str(a, "id"))
		}
		return true
	})
	for _, aid := range doomed {
		s.store.del(c.tenant, kindAssignment, aid)
	}
	s.store.put(c.tenant, kindDeletedCustomer, id, map[string]any{"id": id, "deletedAt": timestamp(s.now())})
	c.reply(http.StatusAccepted, nil)
	return nil
}
