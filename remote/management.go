package remote

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// Customer Management collections.
const (
	legalEntitiesCollection      = "legal-entities"
	locationsCollection          = "locations"
	contactAssignmentsCollection = "contact-assignments"
)

func (c *Client) managementPath(collection string) string {
	return "/customer-management/" + url.PathEscape(c.cfg.Tenant) + "/" + collection
}

func (c *Client) managementItemPath(collection, id string) string {
	return c.managementPath(collection) + "/" + url.PathEscape(id)
}

// managementList iterates over a Customer Management collection. It asks for X-Total-Count
// so that the end of the list is known even if the server caps the page size.
func (c *Client) managementList(ctx context.Context, collection string, opts ListOptions) iter.Seq2[Doc, error] {
	path := c.managementPath(collection)
	return c.pages(ctx, pager{
		size:        pageSizeOr(opts.PageSize, CustomerManagementPageSize),
		workers:     opts.Workers,
		totalHeader: "X-Total-Count",
		build: func(page, size int) *request {
			q := pageQuery(opts, page, size)
			if opts.Q != "" {
				q.Set("q", opts.Q)
			}
			return &request{method: http.MethodGet, base: c.baseURL, path: path, query: q, read: true,
				header: http.Header{"X-Total-Count": {"true"}}}
		},
	})
}

// GetLegalEntity returns a legal entity (company or subsidiary), with its locations and
// contact assignments expanded by the platform.
func (c *Client) GetLegalEntity(ctx context.Context, id string) (Doc, error) {
	if err := checkIDs("get legal entity", id); err != nil {
		return nil, err
	}
	return c.get(ctx, c.managementItemPath(legalEntitiesCollection, id), nil)
}

// UpsertLegalEntity creates or replaces a legal entity (PUT) and reports whether it was
// created. The body needs "name" and "type"; references are by id (entitiesAddresses[{id}],
// approvalGroup[{id}], customerGroups[{id}]). A customerGroups list that omits an
// auto-created group deletes that group on the platform.
func (c *Client) UpsertLegalEntity(ctx context.Context, id string, body Doc) (created bool, err error) {
	if err := checkIDs("upsert legal entity", id); err != nil {
		return false, err
	}
	return c.upsert(ctx, c.managementItemPath(legalEntitiesCollection, id), nil, body)
}

// DeleteLegalEntity deletes a legal entity; the platform then removes what was exclusively
// subordinated to it, asynchronously.
func (c *Client) DeleteLegalEntity(ctx context.Context, id string) error {
	if err := checkIDs("delete legal entity", id); err != nil {
		return err
	}
	return c.delete(ctx, c.baseURL, c.managementItemPath(legalEntitiesCollection, id))
}

// LegalEntities iterates over the legal entities matching opts.
func (c *Client) LegalEntities(ctx context.Context, opts ListOptions) iter.Seq2[Doc, error] {
	return c.managementList(ctx, legalEntitiesCollection, opts)
}

// Subsidiaries yields the legal entities whose parent is parentID, through the list's documented parentId
// filter (an equals comparison). Only the ids and parents are asked for, and only an exact parent passes, however
// the platform compares case.
func (c *Client) Subsidiaries(ctx context.Context, parentID string) iter.Seq2[Doc, error] {
	opts := ListOptions{Filters: map[string]string{FilterParentID: parentID}, Fields: []string{"id", "parentId"}}
	return filterDocs(c.LegalEntities(ctx, opts), func(d Doc) bool { return d["parentId"] == parentID })
}

// ParentHierarchy returns the legal entity followed by its parent, grandparent and so on up
// to the root.
func (c *Client) ParentHierarchy(ctx context.Context, id string) ([]Doc, error) {
	if err := checkIDs("parent hierarchy", id); err != nil {
		return nil, err
	}
	return c.getList(ctx, c.managementItemPath(legalEntitiesCollection, id)+"/parent-hierarchy")
}

// GetLocation returns a location.
func (c *Client) GetLocation(ctx context.Context, id string) (Doc, error) {
	if err := checkIDs("get location", id); err != nil {
		return nil, err
	}
	return c.get(ctx, c.managementItemPath(locationsCollection, id), nil)
}

// UpsertLocation creates or replaces a location (PUT) and reports whether it was created.
// The body needs "type" and "contactDetails".
func (c *Client) UpsertLocation(ctx context.Context, id string, body Doc) (created bool, err error) {
	if err := checkIDs("upsert location", id); err != nil {
		return false, err
	}
	return c.upsert(ctx, c.managementItemPath(locationsCollection, id), nil, body)
}

// DeleteLocation deletes a location.
func (c *Client) DeleteLocation(ctx context.Context, id string) error {
	if err := checkIDs("delete location", id); err != nil {
		return err
	}
	return c.delete(ctx, c.baseURL, c.managementItemPath(locationsCollection, id))
}

// Locations iterates over the locations matching opts.
func (c *Client) Locations(ctx context.Context, opts ListOptions) iter.Seq2[Doc, error] {
	return c.managementList(ctx, locationsCollection, opts)
}

// GetContactAssignment returns a contact assignment, with its legal entity embedded.
func (c *Client) GetContactAssignment(ctx context.Context, id string) (Doc, error) {
	if err := checkIDs("get contact assignment", id); err != nil {
		return nil, err
	}
	return c.get(ctx, c.managementItemPath(contactAssignmentsCollection, id), nil)
}

// UpsertContactAssignment creates or replaces a contact assignment (PUT) and reports whether
// it was created. The body needs "legalEntity":{"id"}, "customer":{"id"} and "type". A
// customer can be assigned to a legal entity only once: a second assignment of the same pair
// under another id is a 409.
func (c *Client) UpsertContactAssignment(ctx context.Context, id string, body Doc) (created bool, err error) {
	if err := checkIDs("upsert contact assignment", id); err != nil {
		return false, err
	}
	return c.upsert(ctx, c.managementItemPath(contactAssignmentsCollection, id), nil, body)
}

// DeleteContactAssignment deletes a contact assignment.
func (c *Client) DeleteContactAssignment(ctx context.Context, id string) error {
	if err := checkIDs("delete contact assignment", id); err != nil {
		return err
	}
	return c.delete(ctx, c.baseURL, c.managementItemPath(contactAssignmentsCollection, id))
}

// ContactAssignments iterates over the contact assignments matching opts; filter with
// opts.Filters[FilterLegalEntityID] and opts.Filters[FilterCustomerID].
func (c *Client) ContactAssignments(ctx context.Context, opts ListOptions) iter.Seq2[Doc, error] {
	return c.managementList(ctx, contactAssignmentsCollection, opts)
}
