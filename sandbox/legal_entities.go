package sandbox

import (
	"fmt"
	"net/http"
)

var legalEntityCommon = schema{
	"name":     {kind: kString},
	"type":     {kind: kString, enum: []string{"COMPANY", "SUBSIDIARY"}},
	"parentId": {kind: kString},
	"accountLimit": {kind: kObject, sub: schema{
		"currency": {kind: kString},
		"value":    {kind: kNumber, minValue: zero()},
	}},
	"legalInfo": {kind: kObject, sub: schema{
		"legalName":             {kind: kString},
		"registrationDate":      {kind: kString},
		"taxRegistrationNumber": {kind: kString},
		"registrationAgency":    {kind: kString},
		"countryOfRegistration": {kind: kString},
		"registrationId":        {kind: kString},
	}},
	"entitiesAddresses": {kind: kRefArray},
	"approvalGroup":     {kind: kRefArray},
	// `maximum: 1` on an array in the spec means at most one value (digest §12.2).
	"restrictions": {kind: kStringArray, maxLen: 1, nullable: true},
	"mixins":       {kind: kFreeObject},
}

// legalEntityCreateBody is legalEntityCreate: customerGroups are full objects, metadata only mixins.
var legalEntityCreateBody = jsonBody("legalEntityCreate", withFields(legalEntityCommon, schema{
	"id": {kind: kString, pattern: customIDPattern},
	"customerGroups": {kind: kObjectArray, sub: schema{
		"id":   {kind: kString},
		"name": {kind: kStringMap},
		"role": {kind: kString},
	}},
	"metadata": metadataMixinsOnly,
}))

// legalEntityUpdateBody is legalEntityUpdate: customerGroups are {id} references, no id member.
var legalEntityUpdateBody = jsonBody("legalEntityUpdate", withFields(legalEntityCommon, schema{
	"customerGroups": {kind: kRefArray},
	"metadata":       metadataWithVersion,
}))

// legalEntitySearchBody is the search request: {"q": string}.
var legalEntitySearchBody = jsonBody("legal entity search request", schema{"q": {kind: kString}})

// autoGroups are the customer groups the platform creates with every legal entity (Admin, Buyer,
// Requester since 2025-07-23). Their ids are derived from the entity id so that a PUT can recognise
// them.
var autoGroups = []struct{ suffix, name, role string }{
	{"admin", "Admin", "ADMIN"},
	{"buyer", "Buyer", "BUYER"},
	{"requester", "Requester", "REQUESTER"},
}

func autoGroupDocs(entityID string) []any {
	var groups []any
	for _, g := range autoGroups {
		groups = append(groups, map[string]any{"id": entityID + "-" + g.suffix, "name": map[string]any{"en": g.name}, "role": g.role})
	}
	return groups
}

func legalEntityNotFound() *apiError { return cmNotFound("legal entity") }

// legalEntityView expands a stored legal entity into the response model: entitiesAddresses become
// the full locations and approvalGroup the assignments with their customer. References to
// locations or assignments that do not exist (yet) are left out of the response but kept, so
// entities can be written before the locations they name.
func (s *Server) legalEntityView(tenant string, doc map[string]any) map[string]any {
	v := shallowCopy(doc)
	if ids := refIDs(doc["entitiesAddresses"]); doc["entitiesAddresses"] != nil {
		locs := []any{}
		for _, id := range ids {
			if loc, ok := s.store.get(tenant, kindLocation, id); ok {
				locs = append(locs, loc)
			}
		}
		v["entitiesAddresses"] = locs
	}
	if ids := refIDs(doc["approvalGroup"]); doc["approvalGroup"] != nil {
		group := []any{}
		for _, id := range ids {
			if a, ok := s.store.get(tenant, kindAssignment, id); ok {
				item := s.assignmentCore(tenant, a)
				item["legalEntity"] = map[string]any{"id": refID(a["legalEntity"])}
				group = append(group, item)
			}
		}
		v["approvalGroup"] = group
	}
	return v
}

func refID(v any) string {
	obj, _ := v.(map[string]any)
	s, _ := obj["id"].(string)
	return s
}

// checkParent validates parentId: it must name an existing entity, and following parents from it
// must not come back to the entity itself. A SUBSIDIARY must have a parent.
func (s *Server) checkParent(tenant, id string, fields map[string]any) *apiError {
	parent := str(fields, "parentId")
	if parent == "" {
		if str(fields, "type") == "SUBSIDIARY" {
			return validationError(fieldProblem{Field: "parentId", Type: "missing_value", Message: "A subsidiary must have its parent company specified in parentId."})
		}
		return nil
	}
	seen := map[string]bool{id: true}
	for cur := parent; cur != ""; {
		if seen[cur] {
			return validationError(fieldProblem{Field: "parentId", Type: "invalid_value", Message: fmt.Sprintf("parentId '%s' would make the legal entity its own ancestor.", parent)})
		}
		seen[cur] = true
		doc, ok := s.store.get(tenant, kindLegalEntity, cur)
		if !ok {
			if cur == parent {
				return validationError(fieldProblem{Field: "parentId", Type: "invalid_value", Message: fmt.Sprintf("The parent legal entity '%s' does not exist.", parent)})
			}
			return nil
		}
		cur = str(doc, "parentId")
	}
	return nil
}

func (s *Server) legalEntityFilters() []listFilter {
	return []listFilter{
		// Only the id filter is documented case-insensitive; the other "equals" filters compare exactly.
		{param: "id", paths: []string{"id"}, mode: equalsFold},
		{param: "name", paths: []string{"name"}, mode: containsFold},
		{param: "type", paths: []string{"type"}, mode: equalsFold, enum: []string{"COMPANY", "SUBSIDIARY"}},
		{param: "parentId", paths: []string{"parentId"}, mode: equals},
		{param: "legalInfo.legalName", paths: []string{"legalInfo.legalName"}, mode: containsFold},
		{param: "legalInfo.registrationDate", paths: []string{"legalInfo.registrationDate"}, mode: equals},
		{param: "legalInfo.taxRegistrationNumber", paths: []string{"legalInfo.taxRegistrationNumber"}, mode: equals},
		{param: "legalInfo.registrationAgency", paths: []string{"legalInfo.registrationAgency"}, mode: containsFold},
		{param: "legalInfo.countryOfRegistration", paths: []string{"legalInfo.countryOfRegistration"}, mode: containsFold},
		{param: "legalInfo.registrationId", paths: []string{"legalInfo.registrationId"}, mode: equals},
	}
}

// The _read_own scope restricts the list to the calling customer's entities on the platform; the
// sandbox issues only service tokens, so it answers read_own like read.
func (s *Server) listLegalEntities(c *reqCtx, q string) *apiError {
	return s.cmList(c, q, kindLegalEntity, func(d map[string]any) map[string]any { return s.legalEntityView(c.tenant, d) }, s.legalEntityFilters())
}

func (s *Server) handleListLegalEntities(c *reqCtx) *apiError {
	return s.listLegalEntities(c, c.r.URL.Query().Get("q"))
}

func (s *Server) handleSearchLegalEntities(c *reqCtx) *apiError {
	body, _, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	q, _ := body["q"].(string)
	return s.listLegalEntities(c, q)
}

func (s *Server) handleGetLegalEntity(c *reqCtx) *apiError {
	doc, ok := s.store.get(c.tenant, kindLegalEntity, c.param("legalEntityId"))
	if !ok {
		return legalEntityNotFound()
	}
	c.reply(http.StatusOK, project(s.legalEntityView(c.tenant, doc), parseFields(c.r.URL.Query().Get("fields"))))
	return nil
}

// buildLegalEntity assembles the stored entity. On creation the auto groups come first, then the
// groups the body names (as objects on POST, as {id} references on PUT).
func (s *Server) buildLegalEntity(id string, fields map[string]any, groups []any, version int, createdAt string) map[string]any {
	doc := writeOnly(fields)
	doc["id"] = id
	if str(doc, "type") == "" {
		doc["type"] = "COMPANY"
	}
	doc["customerGroups"] = groups
	now := timestamp(s.now())
	if createdAt == "" {
		createdAt = now
	}
	doc["metadata"] = managementMetadata(fields, version, createdAt, now)
	return doc
}

func mergeGroups(base []any, extra any) []any {
	out := append([]any{}, base...)
	seen := map[string]bool{}
	for _, g := range base {
		seen[refID(g)] = true
	}
	arr, _ := extra.([]any)
	for _, g := range arr {
		obj, _ := g.(map[string]any)
		id, _ := obj["id"].(string)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, obj)
	}
	return out
}

func (s *Server) handleCreateLegalEntity(c *reqCtx) *apiError {
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	var problems []fieldProblem
	if p := requireString(body, "name"); p != nil {
		problems = append(problems, *p)
	}
	if arr, ok := body["customerGroups"].([]any); ok {
		for i, g := range arr {
			if obj, ok := g.(map[string]any); ok {
				if p := requireString(obj, "id"); p != nil {
					problems = append(problems, fieldProblem{Field: fmt.Sprintf("customerGroups[%d].id", i), Type: "missing_value", Message: fmt.Sprintf("customerGroups[%d].id is required.", i)})
				}
			}
		}
	}
	if len(problems) > 0 {
		return validationError(problems...)
	}
	fields := rs.fields.pick(body, false)
	id := str(fields, "id")
	if id == "" {
		id = newManagementID()
	} else if _, taken := s.store.get(c.tenant, kindLegalEntity, id); taken {
		return cmConflict()
	}
	if apiErr := s.checkParent(c.tenant, id, fields); apiErr != nil {
		return apiErr
	}
	groups := mergeGroups(autoGroupDocs(id), fields["customerGroups"])
	s.store.put(c.tenant, kindLegalEntity, id, s.buildLegalEntity(id, fields, groups, 1, ""))
	c.reply(http.StatusCreated, map[string]any{"id": id})
	return nil
}

// handleUpsertLegalEntity is PUT (201/204). name and type are required; the body replaces the
// writable fields. A `customerGroups` list in the body is authoritative: auto-created groups it
// omits are removed, as the spec warns. A body without `customerGroups` keeps the current groups
// (the sandbox's reading; it keeps a plain re-PUT of ERP data from dropping the IAM groups).
func (s *Server) handleUpsertLegalEntity(c *reqCtx) *apiError {
	id := c.param("legalEntityId")
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	var problems []fieldProblem
	for _, name := range []string{"name", "type"} {
		if p := requireString(body, name); p != nil {
			problems = append(problems, *p)
		}
	}
	if len(problems) > 0 {
		return validationError(problems...)
	}
	fields := rs.fields.pick(body, false)
	if apiErr := s.checkParent(c.tenant, id, fields); apiErr != nil {
		return apiErr
	}
	existing, exists := s.store.get(c.tenant, kindLegalEntity, id)
	if !exists {
		if !customIDPattern.MatchString(id) {
			return validationError(fieldProblem{Field: "legalEntityId", Type: "invalid_value", Message: "legalEntityId " + validIDMessage})
		}
		groups := mergeGroups(autoGroupDocs(id), fields["customerGroups"])
		s.store.put(c.tenant, kindLegalEntity, id, s.buildLegalEntity(id, fields, groups, 1, ""))
		c.reply(http.StatusCreated, map[string]any{"id": id})
		return nil
	}
	if v, ok := bodyVersion(body); ok && v != docVersion(existing) {
		return staleVersion(docVersion(existing))
	}
	current, _ := existing["customerGroups"].([]any)
	groups := current
	if refs, present := fields["customerGroups"]; present {
		byID := map[string]any{}
		for _, g := range current {
			byID[refID(g)] = g
		}
		groups = []any{}
		for _, id := range refIDs(refs) {
			if g, ok := byID[id]; ok {
				groups = append(groups, g)
			} else {
				groups = append(groups, map[string]any{"id": id})
			}
		}
	}
	s.store.put(c.tenant, kindLegalEntity, id, s.buildLegalEntity(id, fields, groups, docVersion(existing)+1, createdAtOf(existing)))
	c.reply(http.StatusNoContent, nil)
	return nil
}

// handleDeleteLegalEntity is DELETE (204). "Entities exclusively subordinated" to it are read as:
// its subsidiaries (recursively) and the contact assignments of all of them; their customer
// groups go with them. Locations are shared between entities and stay. The platform does this
// asynchronously; the sandbox does it before answering so tests see a consistent state.
func (s *Server) handleDeleteLegalEntity(c *reqCtx) *apiError {
	id := c.param("legalEntityId")
	if _, ok := s.store.get(c.tenant, kindLegalEntity, id); !ok {
		return legalEntityNotFound()
	}
	doomed := map[string]bool{id: true}
	for level := []string{id}; len(level) > 0; {
		var next []string
		for _, d := range s.store.byRef(c.tenant, kindLegalEntity, level...) {
			if did := str(d, "id"); !doomed[did] {
				doomed[did] = true
				next = append(next, did)
			}
		}
		level = next
	}
	for leID := range doomed {
		s.store.del(c.tenant, kindLegalEntity, leID)
	}
	var gone []string
	s.store.scan(c.tenant, kindAssignment, func(batch []map[string]any) bool {
		for _, a := range batch {
			if doomed[refID(a["legalEntity"])] {
				gone = append(gone, str(a, "id"))
			}
		}
		return true
	})
	for _, aid := range gone {
		s.store.del(c.tenant, kindAssignment, aid)
	}
	c.reply(http.StatusNoContent, nil)
	return nil
}

// handleParentHierarchy is GET …/parent-hierarchy: [self, parent, …, root]. The spec documents no
// 404; an unknown id gets the Customer Management 404 all the same.
func (s *Server) handleParentHierarchy(c *reqCtx) *apiError {
	doc, ok := s.store.get(c.tenant, kindLegalEntity, c.param("legalEntityId"))
	if !ok {
		return legalEntityNotFound()
	}
	out := []any{}
	seen := map[string]bool{}
	for ok && !seen[str(doc, "id")] {
		seen[str(doc, "id")] = true
		out = append(out, s.legalEntityView(c.tenant, doc))
		parent := str(doc, "parentId")
		if parent == "" {
			break
		}
		doc, ok = s.store.get(c.tenant, kindLegalEntity, parent)
	}
	c.reply(http.StatusOK, out)
	return nil
}
