package sandbox

import (
	"net/http"
)

var locationCommon = schema{
	"name": {kind: kString},
	"type": {kind: kString, enum: []string{"HEADQUARTER", "WAREHOUSE", "OFFICE"}},
	"contactDetails": {kind: kObject, sub: schema{
		"emails":       {kind: kStringArray},
		"phones":       {kind: kStringArray},
		"addressLine1": {kind: kString},
		"addressLine2": {kind: kString},
		"city":         {kind: kString},
		"state":        {kind: kString},
		"postcode":     {kind: kString},
		"countryCode":  {kind: kString},
		"tags":         {kind: kStringArray},
	}},
	"mixins": {kind: kFreeObject},
}

var locationCreateBody, locationUpdateBody = managementBodies("locationCreate", "locationUpdate", locationCommon)

var locationFilters = []listFilter{
	{param: "name", paths: []string{"name"}, mode: containsFold},
	{param: "type", paths: []string{"type"}, mode: equalsFold, enum: []string{"HEADQUARTER", "WAREHOUSE", "OFFICE"}},
	{param: "contactDetails.email", paths: []string{"contactDetails.emails"}, mode: containsFold},
	{param: "contactDetails.phone", paths: []string{"contactDetails.phones"}, mode: containsFold},
	{param: "contactDetails.address", paths: []string{"contactDetails.addressLine1", "contactDetails.addressLine2"}, mode: containsFold},
	{param: "contactDetails.city", paths: []string{"contactDetails.city"}, mode: containsFold},
	{param: "contactDetails.state", paths: []string{"contactDetails.state"}, mode: containsFold},
	{param: "contactDetails.postcode", paths: []string{"contactDetails.postcode"}, mode: containsFold},
	{param: "contactDetails.countryCode", paths: []string{"contactDetails.countryCode"}, mode: equalsFold},
}

// checkLocation applies the create/update rule: type and contactDetails are required.
func checkLocation(body map[string]any) *apiError {
	var problems []fieldProblem
	if p := requireString(body, "type"); p != nil {
		problems = append(problems, *p)
	}
	if _, ok := body["contactDetails"].(map[string]any); !ok && body["contactDetails"] == nil {
		problems = append(problems, fieldProblem{Field: "contactDetails", Type: "missing_value", Message: "contactDetails is required."})
	}
	if len(problems) > 0 {
		return validationError(problems...)
	}
	return nil
}

func (s *Server) buildLocation(id string, fields map[string]any, version int, createdAt string) map[string]any {
	doc := writeOnly(fields)
	doc["id"] = id
	now := timestamp(s.now())
	if createdAt == "" {
		createdAt = now
	}
	doc["metadata"] = managementMetadata(fields, version, createdAt, now)
	return doc
}

func (s *Server) handleListLocations(c *reqCtx) *apiError {
	return s.cmList(c, c.r.URL.Query().Get("q"), kindLocation, nil, locationFilters)
}

func (s *Server) handleGetLocation(c *reqCtx) *apiError {
	doc, ok := s.store.get(c.tenant, kindLocation, c.param("locationId"))
	if !ok {
		return cmNotFound("location")
	}
	c.reply(http.StatusOK, project(doc, parseFields(c.r.URL.Query().Get("fields"))))
	return nil
}

func (s *Server) handleCreateLocation(c *reqCtx) *apiError {
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	if apiErr := checkLocation(body); apiErr != nil {
		return apiErr
	}
	fields := rs.fields.pick(body, false)
	id := str(fields, "id")
	if id == "" {
		id = newManagementID()
	} else if _, taken := s.store.get(c.tenant, kindLocation, id); taken {
		return cmConflict()
	}
	s.store.put(c.tenant, kindLocation, id, s.buildLocation(id, fields, 1, ""))
	c.reply(http.StatusCreated, map[string]any{"id": id})
	return nil
}

// handleUpsertLocation is PUT (201/204); the body replaces the writable fields.
func (s *Server) handleUpsertLocation(c *reqCtx) *apiError {
	id := c.param("locationId")
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	if apiErr := checkLocation(body); apiErr != nil {
		return apiErr
	}
	fields := rs.fields.pick(body, false)
	existing, exists := s.store.get(c.tenant, kindLocation, id)
	if !exists {
		if !customIDPattern.MatchString(id) {
			return validationError(fieldProblem{Field: "locationId", Type: "invalid_value", Message: "locationId " + validIDMessage})
		}
		s.store.put(c.tenant, kindLocation, id, s.buildLocation(id, fields, 1, ""))
		c.reply(http.StatusCreated, map[string]any{"id": id})
		return nil
	}
	if v, ok := bodyVersion(body); ok && v != docVersion(existing) {
		return staleVersion(docVersion(existing))
	}
	s.store.put(c.tenant, kindLocation, id, s.buildLocation(id, fields, docVersion(existing)+1, createdAtOf(existing)))
	c.reply(http.StatusNoContent, nil)
	return nil
}

// handleDeleteLocation is DELETE (204). Legal entities that reference the location keep the
// reference; their responses simply no longer include it.
func (s *Server) handleDeleteLocation(c *reqCtx) *apiError {
	if !s.store.del(c.tenant, kindLocation, c.param("locationId")) {
		return cmNotFound("location")
	}
	c.reply(http.StatusNoContent, nil)
	return nil
}
