package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// addressCommonFields are AddressCommonDto's members; metadata is DefaultDtoMetadata (mixins, version).
var addressCommonFields = schema{
	"contactName":    {kind: kString},
	"companyName":    {kind: kString},
	"street":         {kind: kString},
	"streetNumber":   {kind: kString},
	"streetAppendix": {kind: kString},
	"extraLine1":     {kind: kString},
	"extraLine2":     {kind: kString},
	"extraLine3":     {kind: kString},
	"extraLine4":     {kind: kString},
	"zipCode":        {kind: kString},
	"city":           {kind: kString},
	"country":        {kind: kString, minLen: 2, maxLen: 2},
	"state":          {kind: kString},
	"contactPhone":   {kind: kString},
	"tags":           {kind: kStringArray},
	"metadata":       metadataWithVersion,
	"mixins":         {kind: kFreeObject},
}

// The address request bodies, application/json only and nothing nullable: POST takes Address_2 (a custom
// id; metadata only mixins), PUT and PATCH take AddressUpdateDto. A field is cleared by a PUT that leaves
// it out, never by null.
var (
	addressCreateBody = jsonBody("Address_2", withFields(addressCommonFields, schema{
		"id":        {kind: kString, pattern: customIDPattern},
		"isDefault": {kind: kBool},
		"metadata":  metadataMixinsOnly,
	}))
	addressUpdateBody = jsonBody("AddressUpdateDto", withFields(addressCommonFields, schema{"isDefault": {kind: kBool}}))
)

func addressNotFound(addressID, customerNumber string) *apiError {
	return notFound(fmt.Sprintf("Address %s of customer %s not found.", addressID, customerNumber))
}

func contactNameRequired() *apiError {
	return validationError(fieldProblem{Field: "contactName", Type: "missing_value", Message: "contactName is required."})
}

// newHexID makes the lowercase 10-character ids the platform generates for addresses.
func newHexID(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// customerFor loads the customer of an address route or answers the customer 404.
func (s *Server) customerFor(c *reqCtx) (string, *apiError) {
	id := c.param("customerNumber")
	if _, ok := s.store.get(c.tenant, kindCustomer, id); !ok {
		return "", customerNotFound(id)
	}
	return id, nil
}

// buildAddress assembles a stored address; metadata carries version and mixin links.
func buildAddress(id string, fields map[string]any, version int) map[string]any {
	doc := map[string]any{}
	for k, v := range fields {
		doc[k] = v
	}
	delete(doc, "id")
	if _, ok := doc["isDefault"].(bool); !ok {
		doc["isDefault"] = false
	}
	md := map[string]any{"version": version}
	if m, ok := fields["metadata"].(map[string]any); ok {
		if mixins, ok := m["mixins"].(map[string]any); ok {
			md["mixins"] = mixins
		}
	}
	doc["metadata"] = md
	doc["id"] = id
	return doc
}

// saveAddress stores an address and keeps one default per customer: marking an address default
// clears the flag on the customer's other addresses (the docs imply a single default address).
func (s *Server) saveAddress(tenant, customerNumber string, doc map[string]any) {
	kind := addressKind(customerNumber)
	id := str(doc, "id")
	if doc["isDefault"] == true {
		for _, other := range s.store.list(tenant, kind) {
			if str(other, "id") != id && other["isDefault"] == true {
				o := cloneDoc(other)
				o["isDefault"] = false
				s.store.put(tenant, kind, str(o, "id"), o)
			}
		}
	}
	s.store.put(tenant, kind, id, doc)
}

func (s *Server) handleListAddresses(c *reqCtx) *apiError {
	cn, apiErr := s.customerFor(c)
	if apiErr != nil {
		return apiErr
	}
	out := []any{}
	for _, a := range s.store.list(c.tenant, addressKind(cn)) {
		out = append(out, a)
	}
	c.reply(http.StatusOK, out)
	return nil
}

func (s *Server) handleCreateAddress(c *reqCtx) *apiError {
	cn, apiErr := s.customerFor(c)
	if apiErr != nil {
		return apiErr
	}
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	fields := rs.fields.pick(body, false)
	if str(fields, "contactName") == "" {
		return contactNameRequired()
	}
	id := str(fields, "id")
	if id == "" {
		for id = newHexID(10); ; id = newHexID(10) {
			if _, taken := s.store.get(c.tenant, addressKind(cn), id); !taken {
				break
			}
		}
	} else if _, taken := s.store.get(c.tenant, addressKind(cn), id); taken {
		return conflict(fmt.Sprintf("Address with id '%s' already exists.", id))
	}
	s.saveAddress(c.tenant, cn, buildAddress(id, fields, 1))
	c.reply(http.StatusCreated, map[string]any{"id": id})
	return nil
}

func (s *Server) handleGetAddress(c *reqCtx) *apiError {
	cn, apiErr := s.customerFor(c)
	if apiErr != nil {
		return apiErr
	}
	doc, ok := s.store.get(c.tenant, addressKind(cn), c.param("addressId"))
	if !ok {
		return addressNotFound(c.param("addressId"), cn)
	}
	c.reply(http.StatusOK, doc)
	return nil
}

// handleUpsertAddress is PUT: creates (201, contactName required) or replaces the writable fields
// (204; contactName keeps its value when not sent, because the read model requires it).
func (s *Server) handleUpsertAddress(c *reqCtx) *apiError {
	cn, apiErr := s.customerFor(c)
	if apiErr != nil {
		return apiErr
	}
	id := c.param("addressId")
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	fields := rs.fields.pick(body, false)
	existing, exists := s.store.get(c.tenant, addressKind(cn), id)
	if !exists {
		if !customIDPattern.MatchString(id) {
			return validationError(fieldProblem{Field: "addressId", Type: "invalid_value", Message: "addressId " + validIDMessage})
		}
		if str(fields, "contactName") == "" {
			return contactNameRequired()
		}
		s.saveAddress(c.tenant, cn, buildAddress(id, fields, 1))
		c.reply(http.StatusCreated, map[string]any{"id": id})
		return nil
	}
	if v, ok := bodyVersion(body); ok && v != docVersion(existing) {
		return staleVersion(docVersion(existing))
	}
	if str(fields, "contactName") == "" {
		fields["contactName"] = existing["contactName"]
	}
	s.saveAddress(c.tenant, cn, buildAddress(id, fields, docVersion(existing)+1))
	c.reply(http.StatusNoContent, nil)
	return nil
}

// handlePatchAddress is PATCH: the members sent replace theirs, 200 without a body. AddressUpdateDto has
// nothing nullable, so a PATCH cannot clear a field (a PUT that leaves it out does).
func (s *Server) handlePatchAddress(c *reqCtx) *apiError {
	cn, apiErr := s.customerFor(c)
	if apiErr != nil {
		return apiErr
	}
	id := c.param("addressId")
	body, rs, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	existing, ok := s.store.get(c.tenant, addressKind(cn), id)
	if !ok {
		return addressNotFound(id, cn)
	}
	if v, ok := bodyVersion(body); ok && v != docVersion(existing) {
		return staleVersion(docVersion(existing))
	}
	if v, present := body["contactName"]; present {
		if s, _ := v.(string); s == "" {
			return validationError(fieldProblem{Field: "contactName", Type: "invalid_value", Message: "contactName cannot be removed."})
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
	if _, ok := doc["isDefault"].(bool); !ok {
		doc["isDefault"] = false
	}
	md, _ := doc["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	md["version"] = docVersion(existing) + 1
	doc["metadata"] = md
	s.saveAddress(c.tenant, cn, doc)
	c.reply(http.StatusOK, nil)
	return nil
}

func (s *Server) handleDeleteAddress(c *reqCtx) *apiError {
	cn, apiErr := s.customerFor(c)
	if apiErr != nil {
		return apiErr
	}
	id := c.param("addressId")
	if !s.store.del(c.tenant, addressKind(cn), id) {
		return addressNotFound(id, cn)
	}
	c.reply(http.StatusNoContent, nil)
	return nil
}

// parseTags reads the required comma-separated `tags` query parameter.
func parseTags(c *reqCtx) ([]string, *apiError) {
	var tags []string
	for _, t := range strings.Split(c.r.URL.Query().Get("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return nil, validationError(fieldProblem{Field: "tags", Type: "missing_value", Message: "tags is required: a comma-separated list of tags."})
	}
	return tags, nil
}

// handleAddressTags adds (POST) or removes (DELETE) tags with set semantics: adding a present tag
// or removing an absent one changes nothing. 204.
func (s *Server) handleAddressTags(add bool) func(c *reqCtx) *apiError {
	return func(c *reqCtx) *apiError {
		cn, apiErr := s.customerFor(c)
		if apiErr != nil {
			return apiErr
		}
		tags, apiErr := parseTags(c)
		if apiErr != nil {
			return apiErr
		}
		id := c.param("addressId")
		existing, ok := s.store.get(c.tenant, addressKind(cn), id)
		if !ok {
			return addressNotFound(id, cn)
		}
		var current []string
		if arr, ok := existing["tags"].([]any); ok {
			for _, t := range arr {
				if ts, ok := t.(string); ok {
					current = append(current, ts)
				}
			}
		}
		next := []string{}
		changed := false
		if add {
			next = append(next, current...)
			for _, t := range tags {
				if !contains(next, t) {
					next = append(next, t)
					changed = true
				}
			}
		} else {
			for _, t := range current {
				if contains(tags, t) {
					changed = true
					continue
				}
				next = append(next, t)
			}
		}
		if changed {
			doc := cloneDoc(existing)
			doc["tags"] = next
			md, _ := doc["metadata"].(map[string]any)
			if md == nil {
				md = map[string]any{}
			}
			md["version"] = docVersion(existing) + 1
			doc["metadata"] = md
			s.store.put(c.tenant, addressKind(cn), id, doc)
		}
		c.reply(http.StatusNoContent, nil)
		return nil
	}
}
