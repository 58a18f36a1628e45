package sandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"custsync/sandbox/query"
)

// customerCreateFields are CustomerCreateDto's members (metadata is BasicMetadataDto: mixins only).
// Read-only fields of the response model (businessModel, b2b.legalEntities, addresses, customerNumber, ...)
// are none of them.
var customerCreateFields = schema{
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
	"b2b":         {kind: kObject, sub: schema{"companyRegistrationId": {kind: kString, coerce: true}}},
	"metadata":    metadataMixinsOnly,
	"mixins":      {kind: kFreeObject},
	"restriction": {kind: kString, nullable: true},
}

// customerCommonFields are CustomerCommonDto's: the create members with metadata.version.
var customerCommonFields = withFields(customerCreateFields, schema{
	"metadata": metadataWithVersion,
})

// customerSellerFields are CustomerUpdateBySellerDto's (= CustomerPatchBySellerDto's): the common members,
// contactEmail and the account status flags. The merge-patch schemas (CustomerUpdateDto, CustomerPatchDto)
// have contactEmail but not active and onHold.
var (
	customerSellerFields = withFields(customerCommonFields, schema{
		"contactEmail": {kind: kString},
		"active":       {kind: kBool},
		"onHold":       {kind: kBool},
	})
	customerMergeFields = withFields(customerCommonFields, schema{"contactEmail": {kind: kString}})
)

// The customer request bodies: POST takes CustomerSignupBySellerDto (create members, a custom id, contactEmail
// and an initial password, but neither active nor onHold); PUT and PATCH take the seller schema as
// application/json and the narrower schema as application/merge-patch+json.
var (
	customerCreateBody = jsonBody("CustomerSignupBySellerDto", withFields(customerCreateFields, schema{
		"id":           {kind: kString, pattern: customIDPattern},
		"contactEmail": {kind: kString},
		"password":     {kind: kString},
	}))
	customerPutBody = operationBody{
		mediaJSON:       {name: "CustomerUpdateBySellerDto", fields: customerSellerFields, mode: plainJSON},
		mediaMergePatch: {name: "CustomerUpdateDto", fields: customerMergeFields, mode: mergePatchJSON},
	}
	customerPatchBody = operationBody{
		mediaJSON:       {name: "CustomerPatchBySellerDto", fields: customerSellerFields, mode: plainJSON},
		mediaMergePatch: {name: "CustomerPatchDto", fields: customerMergeFields, mode: mergePatchJSON},
	}
	// customerSearchBody is the search request: {"q": string}.
	customerSearchBody = jsonBody("customer search request", schema{"q": {kind: kString}})
	// optionalEmptyBody is the `type: object` body a customer or address DELETE may carry.
	optionalEmptyBody = jsonBody("an empty object", schema{})
)

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

// customerRelations holds what the views of a batch of customers need from other documents: their
// contact assignments with the names of the legal entities, and their addresses. Each is read in one
// query per batch, so a page of customers costs a fixed number of queries.
type customerRelations struct {
	assignments map[string][]map[string]any // by customer id
	addresses   map[string][]map[string]any // by customer id, in insertion order
	entityNames map[string]any              // legal entity id -> name; nil when the entity is gone
}

func (s *Server) relationsOf(tenant string, docs []map[string]any) *customerRelations {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = str(d, "id")
	}
	return s.relationsOfIDs(tenant, ids)
}

func (s *Server) relationsOfIDs(tenant string, ids []string) *customerRelations {
	rel := &customerRelations{assignments: map[string][]map[string]any{}, addresses: map[string][]map[string]any{},
		entityNames: map[string]any{}}
	if len(ids) == 0 {
		return rel
	}
	kinds := make([]string, len(ids))
	for i, id := range ids {
		kinds[i] = addressKind(id)
	}
	var entityIDs []string
	for _, a := range s.store.byRef(tenant, kindAssignment, ids...) {
		cust := refID(a["customer"])
		rel.assignments[cust] = append(rel.assignments[cust], a)
		if le := refID(a["legalEntity"]); le != "" {
			entityIDs = append(entityIDs, le)
		}
	}
	for _, le := range s.store.getMany(tenant, kindLegalEntity, entityIDs) {
		rel.entityNames[str(le, "id")] = le["name"]
	}
	for kind, addrs := range s.store.kinds(tenant, kinds) {
		rel.addresses[strings.TrimPrefix(kind, kindAddressPrefix)] = addrs
	}
	return rel
}

// customerView builds the CustomerForSellerDto of a stored customer with every derived field and
// its mixins; finishCustomerView then trims it to what `expand` asked for.
func (s *Server) customerView(doc map[string]any, rel *customerRelations) map[string]any {
	// A shallow copy suffices: views only replace top-level members (b2b gets a fresh map below),
	// and stored documents are never modified in place.
	v := shallowCopy(doc)
	var legalEntities []any
	for _, a := range rel.assignments[str(doc, "id")] {
		leID := refID(a["legalEntity"])
		item := map[string]any{"id": leID, "contactAssignmentId": a["id"]}
		if name, ok := rel.entityNames[leID]; ok {
			item["name"] = name
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
	for _, a := range rel.addresses[str(doc, "id")] {
		if a["isDefault"] == true {
			v["defaultAddress"] = a
			break
		}
	}
	return v
}

func (s *Server) finishCustomerView(v map[string]any, e expandSet, rel *customerRelations) map[string]any {
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
		for _, a := range rel.addresses[str(v, "id")] {
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

// views builds the views of a batch of customers.
func (s *Server) views(tenant string, docs []map[string]any) ([]map[string]any, *customerRelations) {
	rel := s.relationsOf(tenant, docs)
	out := make([]map[string]any, len(docs))
	for i, d := range docs {
		out[i] = s.customerView(d, rel)
	}
	return out, rel
}

func (s *Server) handleListCustomers(c *reqCtx) *apiError {
	return s.listCustomers(c, c.r.URL.Query().Get("q"))
}

func (s *Server) handleSearchCustomers(c *reqCtx) *apiError {
	body, _, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	q, _ := body["q"].(string)
	return s.listCustomers(c, q)
}

// indexedCustomerFields are the fields a `q` term can select customers by through an index rather
// than by reading the tenant: the primary key (id and customerNumber are the same) and the e-mail key.
var indexedCustomerFields = []string{"id", "customerNumber", "contactEmail", "email"}

// listCustomers serves the list and search endpoints. The `Count` header carries the number of
// customers in this response: the spec calls it "Number of retrieved customers" and documents no
// total (digest §5.4), so clients page until a short page.
//
// What a request costs depends on what it asks: without q and sort, a page is read directly at its
// position; a q that names ids or e-mails reads only those customers; any other q reads the tenant in
// batches until the page is full, and a sort reads all of it (keeping only sort keys in memory).
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
	order, err := query.ParseOrder(params.Get("sort"))
	if err != nil {
		return badRequest("Invalid sort: " + err.Error())
	}
	expand := parseExpand(params.Get("expand"))
	if expr.Empty() && order.Empty() {
		rows := s.store.pageRaw(c.tenant, kindCustomer, number, size)
		c.header("Count", strconv.Itoa(len(rows)))
		c.reply(http.StatusOK, s.customerPageJSON(c.tenant, rows, expand))
		return nil
	}
	views, rel := s.findCustomers(c.tenant, expr, order, number, size)
	out := make([]any, 0, len(views))
	for _, v := range views {
		out = append(out, s.finishCustomerView(v, expand, rel))
	}
	c.header("Count", strconv.Itoa(len(out)))
	c.reply(http.StatusOK, out)
	return nil
}

// customerPageJSON renders a page of stored customers. Most customers' views are their stored JSON
// plus derived members: no legal entity to merge into b2b and no mixins to trim. Those are spliced
// as text, which spares decoding and re-encoding them (two thirds of a page's cost at 200 customers);
// the others take the general path. Both give the same members.
func (s *Server) customerPageJSON(tenant string, rows []storedDoc, expand expandSet) rawJSON {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	rel := s.relationsOfIDs(tenant, ids)
	buf := make([]byte, 0, 64+len(rows)*700)
	buf = append(buf, '[')
	for i, r := range rows {
		if i > 0 {
			buf = append(buf, ',')
		}
		if len(rel.assignments[r.id]) > 0 || len(r.raw) < 3 || r.raw[len(r.raw)-1] != '}' ||
			strings.Contains(r.raw, `"mixins"`) || strings.Contains(r.raw, `"b2b":{}`) {
			doc, err := decodeDoc(r.raw)
			if err != nil {
				s.store.fail("decode customer %s/%s: %w", tenant, r.id, err)
			}
			buf = appendJSON(buf, s.finishCustomerView(s.customerView(doc, rel), expand, rel))
			continue
		}
		email := storedString(r.raw, "contactEmail")
		buf = append(buf, r.raw[:len(r.raw)-1]...)
		buf = append(buf, `,"businessModel":"B2C"`...)
		if email != "" {
			buf = append(buf, `,"email":`...)
			buf = appendJSON(buf, email)
		}
		addrs := rel.addresses[r.id]
		for _, a := range addrs {
			if a["isDefault"] == true {
				buf = append(buf, `,"defaultAddress":`...)
				buf = appendJSON(buf, a)
				break
			}
		}
		if expand.addresses {
			buf = append(buf, `,"addresses":`...)
			if addrs == nil {
				addrs = []map[string]any{}
			}
			buf = appendJSON(buf, addrs)
		}
		if expand.accounts {
			accounts := []any{}
			if email != "" {
				accounts = append(accounts, map[string]any{"id": email})
			}
			buf = append(buf, `,"accounts":`...)
			buf = appendJSON(buf, accounts)
		}
		buf = append(buf, '}')
	}
	return append(buf, ']', '\n')
}

// storedString reads a top-level string member of a stored customer without decoding the rest. It
// relies on what customerPageJSON checked: without mixins, no object nested in a customer (b2b,
// metadata) has a member of a customer field's name, and inside JSON strings quotes are escaped, so
// the first `"name":"` is the member.
func storedString(raw, name string) string {
	_, rest, ok := strings.Cut(raw, `"`+name+`":"`)
	if !ok {
		return ""
	}
	end := 0
	for end < len(rest) && rest[end] != '"' {
		if rest[end] == '\\' {
			end++
		}
		end++
	}
	var s string
	if end >= len(rest) || json.Unmarshal([]byte(`"`+rest[:end]+`"`), &s) != nil {
		return ""
	}
	return s
}

func appendJSON(buf []byte, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("encode a response: %w", err))
	}
	return append(buf, raw...)
}

// findCustomers returns the views of page number of the customers matching expr in the given order.
func (s *Server) findCustomers(tenant string, expr *query.Expr, order *query.Order, number, size int) ([]map[string]any, *customerRelations) {
	source := func(fn func(batch []map[string]any) bool) { s.store.scan(tenant, kindCustomer, fn) }
	for _, field := range indexedCustomerFields {
		values, ok := expr.StringsAt(field)
		if !ok {
			continue
		}
		var docs []map[string]any
		if field == "contactEmail" || field == "email" {
			lowered := make([]string, len(values))
			for i, v := range values {
				lowered[i] = strings.ToLower(v)
			}
			docs = s.store.byRef(tenant, kindCustomer, lowered...)
		} else {
			docs = s.store.getMany(tenant, kindCustomer, values)
		}
		source = func(fn func(batch []map[string]any) bool) { fn(docs) }
		break
	}
	skip := (number - 1) * size
	if order.Empty() {
		// Unsorted: the page is the matches after the first skip ones, so reading stops once it is full.
		var page []map[string]any
		source(func(batch []map[string]any) bool {
			views, _ := s.views(tenant, batch)
			for _, v := range views {
				if !expr.Match(v) {
					continue
				}
				if skip > 0 {
					skip--
					continue
				}
				page = append(page, v)
				if len(page) == size {
					return false
				}
			}
			return true
		})
		return page, s.relationsOf(tenant, page)
	}
	// Sorted: keep each match's sort keys and id, order them, then read the page's customers again.
	type match struct {
		id   string
		keys []any
	}
	var matches []match
	source(func(batch []map[string]any) bool {
		views, _ := s.views(tenant, batch)
		for _, v := range views {
			if expr.Match(v) {
				matches = append(matches, match{id: str(v, "id"), keys: order.Keys(v)})
			}
		}
		return true
	})
	slices.SortStableFunc(matches, func(a, b match) int { return order.Compare(a.keys, b.keys) })
	ids := make([]string, 0, size)
	for _, m := range page(matches, number, size) {
		ids = append(ids, m.id)
	}
	byID := map[string]map[string]any{}
	for _, d := range s.store.getMany(tenant, kindCustomer, ids) {
		byID[str(d, "id")] = d
	}
	docs := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		docs = append(docs, byID[id])
	}
	return s.views(tenant, docs)
}

func (s *Server) handleGetCustomer(c *reqCtx) *apiError {
	id := c.param("customerNumber")
	doc, ok := s.store.get(c.tenant, kindCustomer, id)
	if !ok {
		return customerNotFound(id)
	}
	views, rel := s.views(c.tenant, []map[string]any{doc})
	c.reply(http.StatusOK, s.finishCustomerView(views[0], parseExpand(c.r.URL.Query().Get("expand")), rel))
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
	for _, id := range s.store.customersWithEmail(tenant, email) {
		if id != exceptID {
			return true
		}
	}
	return false
}

// emailTakenByOther is emailTaken for an update of existing customer id: an e-mail the update leaves as it
// was cannot have become another customer's (every write checks), so it skips the index lookup that would
// otherwise cost every PATCH of a large tenant a probe.
func (s *Server) emailTakenByOther(tenant, email, id string, existing map[string]any) bool {
	if strings.EqualFold(email, str(existing, "contactEmail")) {
		return false
	}
	return s.emailTaken(tenant, email, id)
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
	// active/onHold are account status flags: when a write does not send them they keep their value, and a
	// new customer gets the tenant's creation defaults (customerActiveOnCreation, customerOnHoldOnCreation).
	for k, def := range map[string]bool{"active": !s.opts.CustomersInactiveOnCreation, "onHold": s.opts.CustomersOnHoldOnCreation} {
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
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	fields := rs.fields.pick(body, false)
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

// handleUpsertCustomer is PUT: 201 + {id} when it creates, 204 when it updates. With
// application/json (CustomerUpdateBySellerDto) the body replaces the writable fields (absent fields are
// removed, except that active/onHold keep their value and preferred* fall back to the defaults); with
// application/merge-patch+json (CustomerUpdateDto, which has no active or onHold) it is merged as in PATCH.
func (s *Server) handleUpsertCustomer(c *reqCtx) *apiError {
	if apiErr := checkBoolParam(c, "sendPasswordResetNotifications"); apiErr != nil {
		return apiErr
	}
	id := c.param("customerNumber")
	body, rs, apiErr := c.decodeBody()
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
		fields := rs.fields.pick(body, false)
		if rs.mode == mergePatchJSON {
			// A merge patch applied to nothing (RFC 7396): its null members, also those inside mixins,
			// remove what is not there, so none is stored.
			fields = map[string]any{}
			mergePatch(fields, rs.fields.pick(body, true))
		}
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
	if rs.mode == mergePatchJSON {
		var apiErr *apiError
		if doc, apiErr = s.mergeCustomer(existing, body, rs); apiErr != nil {
			return apiErr
		}
	} else {
		doc = s.buildCustomer(id, rs.fields.pick(body, false), docVersion(existing)+1, str(existing, "metadataCreatedAt"), existing)
	}
	if email := str(doc, "contactEmail"); s.emailTakenByOther(c.tenant, email, id, existing) {
		return duplicateAccount(email, c.tenant)
	}
	s.store.put(c.tenant, kindCustomer, id, doc)
	c.reply(http.StatusNoContent, nil)
	return nil
}

// mergeCustomer applies merge semantics: members sent replace, objects merge, and null removes (which an
// application/json body may send only where the schema says nullable).
func (s *Server) mergeCustomer(existing, body map[string]any, rs requestSchema) (map[string]any, *apiError) {
	if v, present := body["contactEmail"]; present && str(existing, "contactEmail") != "" {
		if s, _ := v.(string); s == "" {
			// Since 2026-04-27 contactEmail cannot be unset once it has a value (digest §8.1 rule 4).
			return nil, validationError(fieldProblem{Field: "contactEmail", Type: "invalid_value", Message: "contactEmail cannot be unset once a value is present."})
		}
	}
	patch := rs.fields.pick(body, true)
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
	body, rs, apiErr := c.decodeBody()
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
	doc, apiErr := s.mergeCustomer(existing, body, rs)
	if apiErr != nil {
		return apiErr
	}
	if email := str(doc, "contactEmail"); s.emailTakenByOther(c.tenant, email, id, existing) {
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
	for _, a := range s.store.byRef(c.tenant, kindAssignment, id) {
		s.store.del(c.tenant, kindAssignment, str(a, "id"))
	}
	s.store.put(c.tenant, kindDeletedCustomer, id, map[string]any{"id": id, "deletedAt": timestamp(s.now())})
	c.reply(http.StatusAccepted, nil)
	return nil
}
