package remote

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
)

// ErrEmptyID is returned, before any request, when a call is given an empty id: a PUT or
// DELETE to ".../customers/" would address the collection instead.
var ErrEmptyID = errors.New("empty id")

func checkIDs(what string, ids ...string) error {
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			return fmt.Errorf("%s: %w", what, ErrEmptyID)
		}
	}
	return nil
}

func (c *Client) customersPath() string {
	return "/customer/" + url.PathEscape(c.cfg.Tenant) + "/customers"
}

func (c *Client) customerPath(id string) string {
	return c.customersPath() + "/" + url.PathEscape(id)
}

func (c *Client) addressPath(customerID, addressID string) string {
	return c.customerPath(customerID) + "/addresses/" + url.PathEscape(addressID)
}

// get fetches one document.
func (c *Client) get(ctx context.Context, path string, query url.Values) (Doc, error) {
	r := &request{method: http.MethodGet, base: c.baseURL, path: path, query: query, read: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeDoc(r, resp.body)
}

// getList fetches an unpaged array.
func (c *Client) getList(ctx context.Context, path string) ([]Doc, error) {
	r := &request{method: http.MethodGet, base: c.baseURL, path: path, read: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeDocs(r, resp.body)
}

// upsert PUTs body and reports whether the platform created the entity (201) rather than
// updating it (204).
func (c *Client) upsert(ctx context.Context, path string, query url.Values, body Doc) (bool, error) {
	if body == nil {
		body = Doc{}
	}
	resp, err := c.do(ctx, &request{method: http.MethodPut, base: c.baseURL, path: path, query: query, body: body})
	if err != nil {
		return false, err
	}
	return resp.status == http.StatusCreated, nil
}

func (c *Client) patch(ctx context.Context, path string, body Doc) error {
	if body == nil {
		body = Doc{}
	}
	_, err := c.do(ctx, &request{method: http.MethodPatch, base: c.baseURL, path: path, body: body})
	return err
}

func (c *Client) delete(ctx context.Context, base, path string) error {
	_, err := c.do(ctx, &request{method: http.MethodDelete, base: base, path: path})
	return err
}

// GetCustomer returns the customer with the given customer number. expand may name
// "addresses", "accounts" and "mixin:*". A missing customer gives an error for which
// IsNotFound is true.
func (c *Client) GetCustomer(ctx context.Context, id string, expand ...string) (Doc, error) {
	if err := checkIDs("get customer", id); err != nil {
		return nil, err
	}
	var q url.Values
	if len(expand) > 0 {
		q = url.Values{"expand": {strings.Join(expand, ",")}}
	}
	return c.get(ctx, c.customerPath(id), q)
}

// UpsertCustomer creates or replaces the customer with the given customer number (PUT) and
// reports whether it was created. The id travels in the path; the body need not repeat it.
// Password-reset e-mails are sent only if Config.SendPasswordResetNotifications is set.
func (c *Client) UpsertCustomer(ctx context.Context, id string, body Doc) (created bool, err error) {
	if err := checkIDs("upsert customer", id); err != nil {
		return false, err
	}
	q := url.Values{"sendPasswordResetNotifications": {strconv.FormatBool(c.cfg.SendPasswordResetNotifications)}}
	return c.upsert(ctx, c.customerPath(id), q, body)
}

// MergeUpsertCustomer creates the customer with the given customer number, or merges body into it if it
// exists (PUT with application/merge-patch+json), and reports whether it was created. Unlike UpsertCustomer,
// fields the body leaves out keep their platform value, which is what a create from an ERP row with blank
// cells needs when the platform may already hold the customer (a lost checkpoint, a replayed write). The
// schema of that content type (CustomerUpdateDto) has no active and no onHold: set those with PatchCustomer.
func (c *Client) MergeUpsertCustomer(ctx context.Context, id string, body Doc) (created bool, err error) {
	if body == nil {
		body = Doc{}
	}
	up, err := c.mergeUpsertCustomer(ctx, id, body)
	return up.Created, err
}

// MergeUpsertCustomerJSON is MergeUpsertCustomer with a body the caller encoded: one JSON object, sent as it
// is; it also says whether the answer came to a repeat of the request.
func (c *Client) MergeUpsertCustomerJSON(ctx context.Context, id string, body json.RawMessage) (Upserted, error) {
	return c.mergeUpsertCustomer(ctx, id, body)
}

func (c *Client) mergeUpsertCustomer(ctx context.Context, id string, body any) (Upserted, error) {
	if err := checkIDs("upsert customer", id); err != nil {
		return Upserted{}, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPut, base: c.baseURL, path: c.customerPath(id), rawQuery: c.resetQuery,
		body: body, header: mergePatchHeader})
	if err != nil {
		return Upserted{}, err
	}
	return upserted(resp), nil
}

// Upserted is the platform's answer to an upsert.
type Upserted struct {
	// Created: the platform created the record (201); else it held one under the id and wrote onto it.
	Created bool
	// Replayed: an earlier attempt of the request may have reached the platform without an answer, so an
	// answer that the record existed may be to the repeat of a create that made it.
	Replayed bool
}

func upserted(resp *response) Upserted {
	return Upserted{Created: resp.status == http.StatusCreated, Replayed: resp.replayed}
}

// PatchCustomer merges body into the customer (PATCH, application/json: CustomerPatchBySellerDto). That
// schema has every writable field, active and onHold included, but takes null only for restriction: clear
// other fields with MergePatchCustomer. The platform refuses to unset a contactEmail that has a value.
func (c *Client) PatchCustomer(ctx context.Context, id string, body Doc) error {
	if err := checkIDs("patch customer", id); err != nil {
		return err
	}
	return c.patch(ctx, c.customerPath(id), body)
}

// MergePatchCustomer merges body into the customer as an RFC 7396 merge patch (PATCH,
// application/merge-patch+json: CustomerPatchDto): a null member removes the field. That schema has no
// active and no onHold; send those with PatchCustomer.
func (c *Client) MergePatchCustomer(ctx context.Context, id string, body Doc) error {
	if err := checkIDs("patch customer", id); err != nil {
		return err
	}
	if body == nil {
		body = Doc{}
	}
	_, err := c.do(ctx, &request{method: http.MethodPatch, base: c.baseURL, path: c.customerPath(id), body: body,
		header: http.Header{"Content-Type": {mergePatchJSON}}})
	return err
}

// mergePatchJSON is the content type of RFC 7396 merge patches.
const mergePatchJSON = "application/merge-patch+json"

// mergePatchHeader is the header of a merge patch, shared by the creates (requests only read their header).
var mergePatchHeader = http.Header{"Content-Type": {mergePatchJSON}}

// DeleteCustomer deletes the customer and its login accounts (the platform answers 202).
// Deleting a missing customer gives an error for which IsNotFound is true.
func (c *Client) DeleteCustomer(ctx context.Context, id string) error {
	if err := checkIDs("delete customer", id); err != nil {
		return err
	}
	return c.delete(ctx, c.baseURL, c.customerPath(id))
}

// Customers iterates over the customers matching opts.Q, page by page (opts.Workers at once). With
// opts.Expand "addresses", every customer has its addresses (see fillAddresses).
func (c *Client) Customers(ctx context.Context, opts ListOptions) iter.Seq2[Doc, error] {
	path := c.customersPath()
	var complete func(context.Context, []Doc) error
	if slices.Contains(opts.Expand, "addresses") {
		complete = c.fillAddresses
	}
	return c.pages(ctx, pager{
		size:     pageSizeOr(opts.PageSize, CustomersPageSize),
		workers:  opts.Workers,
		complete: complete,
		build: func(page, size int) *request {
			q := pageQuery(opts, page, size)
			if opts.Q != "" {
				q.Set("q", opts.Q)
			}
			return &request{method: http.MethodGet, base: c.baseURL, path: path, query: q, read: true}
		},
	})
}

// SearchCustomers iterates over the customers matching q using POST .../customers/search,
// which carries the query in the body and so suits long queries (e.g. many ids); opts.Q is
// ignored. The search changes nothing, so it is retried like a GET. With opts.Expand "addresses",
// every customer has its addresses, as with Customers.
func (c *Client) SearchCustomers(ctx context.Context, q string, opts ListOptions) iter.Seq2[Doc, error] {
	path := c.customersPath() + "/search"
	var complete func(context.Context, []Doc) error
	if slices.Contains(opts.Expand, "addresses") {
		complete = c.fillAddresses
	}
	return c.pages(ctx, pager{
		size:     pageSizeOr(opts.PageSize, CustomersPageSize),
		workers:  opts.Workers,
		complete: complete,
		build: func(page, size int) *request {
			return &request{method: http.MethodPost, base: c.baseURL, path: path, query: pageQuery(opts, page, size),
				body: Doc{"q": q}, read: true, repeatable: true}
		},
	})
}

// fillAddresses fetches the addresses of the customers of a page that came without them (a platform
// that ignores expand=addresses), a few customers at once; a customer deleted since the page was read
// gets none.
func (c *Client) fillAddresses(ctx context.Context, docs []Doc) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(max(c.cfg.Readers, 0), 8))
	for _, d := range docs {
		if _, ok := d["addresses"].([]any); ok {
			continue
		}
		id, _ := d["id"].(string)
		if id == "" {
			continue
		}
		g.Go(func() error {
			addrs, err := c.Addresses(gctx, id)
			if IsNotFound(err) {
				addrs, err = nil, nil
			}
			if err != nil {
				return fmt.Errorf("addresses of customer %s: %w", id, err)
			}
			list := make([]any, len(addrs))
			for i, a := range addrs {
				list[i] = map[string]any(a)
			}
			d["addresses"] = list
			return nil
		})
	}
	return g.Wait()
}

// Addresses returns all addresses of a customer (the API does not page them).
func (c *Client) Addresses(ctx context.Context, customerID string) ([]Doc, error) {
	if err := checkIDs("list addresses", customerID); err != nil {
		return nil, err
	}
	return c.getList(ctx, c.customerPath(customerID)+"/addresses")
}

// GetAddress returns one address of a customer.
func (c *Client) GetAddress(ctx context.Context, customerID, addressID string) (Doc, error) {
	if err := checkIDs("get address", customerID, addressID); err != nil {
		return nil, err
	}
	return c.get(ctx, c.addressPath(customerID, addressID), nil)
}

// UpsertAddress creates or replaces an address of a customer (PUT, AddressUpdateDto) and reports whether it
// was created. Creating requires "contactName" in the body. Nothing in that schema is nullable: a field is
// cleared by leaving it out of the PUT.
func (c *Client) UpsertAddress(ctx context.Context, customerID, addressID string, body Doc) (created bool, err error) {
	if err := checkIDs("upsert address", customerID, addressID); err != nil {
		return false, err
	}
	return c.upsert(ctx, c.addressPath(customerID, addressID), nil, body)
}

// UpsertAddressJSON is UpsertAddress with a body the caller encoded: one JSON object, sent as it is.
func (c *Client) UpsertAddressJSON(ctx context.Context, customerID, addressID string, body json.RawMessage) (Upserted, error) {
	if err := checkIDs("upsert address", customerID, addressID); err != nil {
		return Upserted{}, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPut, base: c.baseURL, path: c.addressPath(customerID, addressID), body: body})
	if err != nil {
		return Upserted{}, err
	}
	return upserted(resp), nil
}

// PatchAddress merges body into an existing address (PATCH, AddressUpdateDto). Nothing in that schema is
// nullable, so a PATCH cannot clear a field; a PUT without it does.
func (c *Client) PatchAddress(ctx context.Context, customerID, addressID string, body Doc) error {
	if err := checkIDs("patch address", customerID, addressID); err != nil {
		return err
	}
	return c.patch(ctx, c.addressPath(customerID, addressID), body)
}

// DeleteAddress deletes an address of a customer.
func (c *Client) DeleteAddress(ctx context.Context, customerID, addressID string) error {
	if err := checkIDs("delete address", customerID, addressID); err != nil {
		return err
	}
	return c.delete(ctx, c.baseURL, c.addressPath(customerID, addressID))
}
