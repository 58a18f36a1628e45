package sandbox

import (
	"fmt"
	"net/http"
)

var assignmentTypes = []string{"PRIMARY", "BILLING", "LOGISTICS", "CONTACT"}

var assignmentCommon = schema{
	"legalEntity": {kind: kObject, sub: schema{"id": {kind: kString}}},
	"customer":    {kind: kObject, sub: schema{"id": {kind: kString}}},
	"type":        {kind: kString, enum: assignmentTypes},
	"primary":     {kind: kBool},
	"mixins":      {kind: kFreeObject},
}

var assignmentCreateBody, assignmentUpdateBody = managementBodies("contactAssignmentCreate", "contactAssignmentUpdate", assignmentCommon)

var assignmentFilters = []listFilter{
	{param: "legalEntity.id", paths: []string{"legalEntity.id"}, mode: equalsFold},
	{param: "customer.id", paths: []string{"customer.id"}, mode: equalsFold},
	{param: "type", paths: []string{"type"}, mode: equalsFold, enum: assignmentTypes},
	{param: "primary", paths: []string{"primary"}, mode: boolEquals},
}

// customerSummary is the `customer` object embedded in assignments: {id, name, surname, email, phone}.
func (s *Server) customerSummary(tenant, id string) map[string]any {
	out := map[string]any{"id": id}
	doc, ok := s.store.get(tenant, kindCustomer, id)
	if !ok {
		return out
	}
	for from, to := range map[string]string{"firstName": "name", "lastName": "surname", "contactEmail": "email", "contactPhone": "phone"} {
		if v := str(doc, from); v != "" {
			out[to] = v
		}
	}
	return out
}

// assignmentCore is an assignment without its legalEntity member.
func (s *Server) assignmentCore(tenant string, a map[string]any) map[string]any {
	v := shallowCopy(a)
	v["customer"] = s.customerSummary(tenant, refID(a["customer"]))
	delete(v, "mixins")
	delete(v, "legalEntity")
	return v
}

// assignmentView embeds the fully expanded legal entity and the customer summary.
func (s *Server) assignmentView(tenant string, a map[string]any) map[string]any {
	v := shallowCopy(a)
	v["customer"] = s.customerSummary(tenant, refID(a["customer"]))
	leID := refID(a["legalEntity"])
	if le, ok := s.store.get(tenant, kindLegalEntity, leID); ok {
		v["legalEntity"] = s.legalEntityView(tenant, le)
	} else {
		v["legalEntity"] = map[string]any{"id": leID}
	}
	return v
}

func (s *Server) handleListAssignments(c *reqCtx) *apiError {
	return s.cmList(c, c.r.URL.Query().Get("q"), kindAssignment, func(a map[string]any) map[string]any { return s.assignmentView(c.tenant, a) }, assignmentFilters)
}

func (s *Server) handleGetAssignment(c *reqCtx) *apiError {
	a, ok := s.store.get(c.tenant, kindAssignment, c.param("contactAssignmentId"))
	if !ok {
		return cmNotFound("contact assignment")
	}
	c.reply(http.StatusOK, project(s.assignmentView(c.tenant, a), parseFields(c.r.URL.Query().Get("fields"))))
	return nil
}

// checkAssignmentBody applies the required members: legalEntity.id and customer.id and, for PUT, type.
func checkAssignmentBody(body map[string]any, requireType bool) *apiError {
	var problems []fieldProblem
	for _, ref := range []string{"legalEntity", "customer"} {
		obj, _ := body[ref].(map[string]any)
		if id, _ := obj["id"].(string); id == "" {
			problems = append(problems, fieldProblem{Field: ref + ".id", Type: "missing_value", Message: ref + ".id is required."})
		}
	}
	if requireType {
		if p := requireString(body, "type"); p != nil {
			problems = append(problems, *p)
		}
	}
	if len(problems) > 0 {
		return validationError(problems...)
	}
	return nil
}

// checkAssignmentTargets enforces that the legal entity and the customer exist (missingStatus is
// 400 for POST, which documents no 404, and 404 for PUT) and that the customer has no other
// assignment to the same legal entity, whatever its type (digest §8.4 rule 2).
func (s *Server) checkAssignmentTargets(tenant, selfID, leID, custID string, missingStatus int) *apiError {
	if _, ok := s.store.get(tenant, kindLegalEntity, leID); !ok {
		return newError(missingStatus, "bad_request", fmt.Sprintf("The legal entity '%s' does not exist.", leID))
	}
	if _, ok := s.store.get(tenant, kindCustomer, custID); !ok {
		return newError(missingStatus, "bad_request", fmt.Sprintf("The customer '%s' does not exist.", custID))
	}
	for _, a := range s.store.byRef(tenant, kindAssignment, custID) {
		if str(a, "id") != selfID && refID(a["legalEntity"]) == leID {
			clash := conflict(fmt.Sprintf("Customer '%s' is already assigned to legal entity '%s'.", custID, leID))
			clash.ResourceID = str(a, "id")
			return clash
		}
	}
	return nil
}

func (s *Server) buildAssignment(id string, fields map[string]any, version int, createdAt string) map[string]any {
	doc := writeOnly(fields)
	doc["id"] = id
	doc["legalEntity"] = map[string]any{"id": refID(fields["legalEntity"])}
	doc["customer"] = map[string]any{"id": refID(fields["customer"])}
	if str(doc, "type") == "" {
		doc["type"] = "CONTACT"
	}
	if _, ok := doc["primary"].(bool); !ok {
		doc["primary"] = false
	}
	now := timestamp(s.now())
	if createdAt == "" {
		createdAt = now
	}
	doc["metadata"] = managementMetadata(fields, version, createdAt, now)
	return doc
}

// handleCreateAssignment is POST (201); the new assignment propagates (see propagation.go).
func (s *Server) handleCreateAssignment(c *reqCtx) *apiError {
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	if apiErr := checkAssignmentBody(body, false); apiErr != nil {
		return apiErr
	}
	fields := rs.fields.pick(body, false)
	id := str(fields, "id")
	if id == "" {
		id = newManagementID()
	} else if _, taken := s.store.get(c.tenant, kindAssignment, id); taken {
		return cmConflict()
	}
	if apiErr := s.checkAssignmentTargets(c.tenant, id, refID(fields["legalEntity"]), refID(fields["customer"]), http.StatusBadRequest); apiErr != nil {
		return apiErr
	}
	created := s.buildAssignment(id, fields, 1, "")
	s.store.put(c.tenant, kindAssignment, id, created)
	s.propagateAssignment(c.tenant, created)
	c.reply(http.StatusCreated, map[string]any{"id": id})
	return nil
}

// handleUpsertAssignment is PUT (201/204); an assignment it creates propagates (see propagation.go).
func (s *Server) handleUpsertAssignment(c *reqCtx) *apiError {
	id := c.param("contactAssignmentId")
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	if apiErr := checkAssignmentBody(body, true); apiErr != nil {
		return apiErr
	}
	fields := rs.fields.pick(body, false)
	existing, exists := s.store.get(c.tenant, kindAssignment, id)
	if !exists && !customIDPattern.MatchString(id) {
		return validationError(fieldProblem{Field: "contactAssignmentId", Type: "invalid_value", Message: "contactAssignmentId " + validIDMessage})
	}
	if exists {
		if v, ok := bodyVersion(body); ok && v != docVersion(existing) {
			return staleVersion(docVersion(existing))
		}
	}
	if apiErr := s.checkAssignmentTargets(c.tenant, id, refID(fields["legalEntity"]), refID(fields["customer"]), http.StatusNotFound); apiErr != nil {
		return apiErr
	}
	if !exists {
		created := s.buildAssignment(id, fields, 1, "")
		s.store.put(c.tenant, kindAssignment, id, created)
		s.propagateAssignment(c.tenant, created)
		c.reply(http.StatusCreated, map[string]any{"id": id})
		return nil
	}
	s.store.put(c.tenant, kindAssignment, id, s.buildAssignment(id, fields, docVersion(existing)+1, createdAtOf(existing)))
	c.reply(http.StatusNoContent, nil)
	return nil
}

func (s *Server) handleDeleteAssignment(c *reqCtx) *apiError {
	if !s.store.del(c.tenant, kindAssignment, c.param("contactAssignmentId")) {
		return cmNotFound("contact assignment")
	}
	c.reply(http.StatusNoContent, nil)
	return nil
}
