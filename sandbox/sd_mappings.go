package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"custsync/sandbox/query"
)

// The SD customer mappings follow the Engagement Center Customer service (seed 004): records
// {customerNumber, sdCustomerNumber, deletedInYaaS}. The sandbox keeps one record per
// customerNumber: a POST for a customerNumber that already has one replaces it (and keeps its id),
// although the seed's list example shows a duplicate. One record per customer is what the DELETE by
// customerNumber presupposes.

// sdMappingBody is the record the POST takes (seed 004 publishes no schema; the record's own fields).
var sdMappingBody = jsonBody("sdCustomerMapping", schema{
	"customerNumber":   {kind: kString},
	"sdCustomerNumber": {kind: kString},
	"deletedInYaaS":    {kind: kBool},
})

func sdMappingView(doc map[string]any) map[string]any {
	return map[string]any{
		"customerNumber":   doc["customerNumber"],
		"sdCustomerNumber": doc["sdCustomerNumber"],
		"deletedInYaaS":    doc["deletedInYaaS"],
	}
}

func (s *Server) handleCreateSDMapping(c *reqCtx) *apiError {
	body, _, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	if p := requireString(body, "customerNumber"); p != nil {
		return validationError(*p)
	}
	cn := str(body, "customerNumber")
	id := newHexID(24)
	if existing, ok := s.store.get(c.tenant, kindSDMapping, cn); ok {
		id = str(existing, "id")
	}
	deleted, _ := body["deletedInYaaS"].(bool)
	s.store.put(c.tenant, kindSDMapping, cn, map[string]any{
		"id":               id,
		"customerNumber":   cn,
		"sdCustomerNumber": str(body, "sdCustomerNumber"),
		"deletedInYaaS":    deleted,
	})
	// The link names the customerNumber, the only item path the service defines (DELETE).
	link := fmt.Sprintf("%s/%s/sdCustomerMappings/%s", baseURL(c.r), c.tenant, url.PathEscape(cn))
	c.reply(http.StatusCreated, map[string]any{"id": id, "link": link})
	return nil
}

// handleListSDMappings is GET with q and paging (default page size 60 like the customer list; the
// seed document names none). The total is in the hybris-Count header as in the seed's service.
func (s *Server) handleListSDMappings(c *reqCtx) *apiError {
	params := c.r.URL.Query()
	expr, err := query.Parse(params.Get("q"))
	if err != nil {
		return badRequest("Invalid query: " + err.Error())
	}
	number, size, apiErr := c.paging(60)
	if apiErr != nil {
		return apiErr
	}
	sortSpec := params.Get("sort")
	out := []any{}
	if expr.Empty() && sortSpec == "" {
		for _, doc := range s.store.page(c.tenant, kindSDMapping, number, size) {
			out = append(out, sdMappingView(doc))
		}
		c.header("hybris-Count", strconv.Itoa(s.store.count(c.tenant, kindSDMapping)))
		c.reply(http.StatusOK, out)
		return nil
	}
	var matched []map[string]any
	s.store.scan(c.tenant, kindSDMapping, func(batch []map[string]any) bool {
		for _, doc := range batch {
			if v := sdMappingView(doc); expr.Match(v) {
				matched = append(matched, v)
			}
		}
		return true
	})
	if err := query.SortDocs(matched, sortSpec); err != nil {
		return badRequest("Invalid sort: " + err.Error())
	}
	for _, v := range page(matched, number, size) {
		out = append(out, v)
	}
	c.header("hybris-Count", strconv.Itoa(len(matched)))
	c.reply(http.StatusOK, out)
	return nil
}

func (s *Server) handleDeleteSDMapping(c *reqCtx) *apiError {
	cn := c.param("customerNumber")
	if !s.store.del(c.tenant, kindSDMapping, cn) {
		return notFound(fmt.Sprintf("No SD customer mapping for customer number '%s'.", cn))
	}
	c.reply(http.StatusNoContent, nil)
	return nil
}
