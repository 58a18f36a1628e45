package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
)

// SDMapping links a platform customer number to the ERP (SAP SD) customer number, as the
// Engagement Center Customer service's sdCustomerMappings records do. DeletedInYaaS marks a
// customer deleted on the platform, for the ERP's deletion processing.
type SDMapping struct {
	CustomerNumber   string `json:"customerNumber"`
	SDCustomerNumber string `json:"sdCustomerNumber"`
	DeletedInYaaS    bool   `json:"deletedInYaaS"`
}

func (c *Client) sdMappingsPath() string {
	return "/" + url.PathEscape(c.cfg.Tenant) + "/sdCustomerMappings"
}

// CreateSDMapping stores a mapping at {MappingsURL}/{tenant}/sdCustomerMappings. The endpoint
// keeps one record per customer number and replaces it on a repeated POST, so the call is
// retried like an upsert.
func (c *Client) CreateSDMapping(ctx context.Context, m SDMapping) error {
	if err := checkIDs("create SD mapping", m.CustomerNumber); err != nil {
		return err
	}
	if c.mappingsURL == "" {
		return fmt.Errorf("create SD mapping: %w", ErrNoMappingsURL)
	}
	_, err := c.do(ctx, &request{method: http.MethodPost, base: c.mappingsURL, path: c.sdMappingsPath(), body: m, repeatable: true})
	return err
}

// SDMappings iterates over the mappings matching the query q (empty: all), page by page.
func (c *Client) SDMappings(ctx context.Context, q string) iter.Seq2[SDMapping, error] {
	if c.mappingsURL == "" {
		return func(yield func(SDMapping, error) bool) {
			yield(SDMapping{}, fmt.Errorf("list SD mappings: %w", ErrNoMappingsURL))
		}
	}
	path := c.sdMappingsPath()
	docs := c.pages(ctx, pager{
		size:        SDMappingsPageSize,
		totalHeader: "hybris-Count",
		build: func(page, size int) *request {
			query := pageQuery(ListOptions{}, page, size)
			if q != "" {
				query.Set("q", q)
			}
			return &request{method: http.MethodGet, base: c.mappingsURL, path: path, query: query, read: true}
		},
	})
	return func(yield func(SDMapping, error) bool) {
		for d, err := range docs {
			if err != nil {
				yield(SDMapping{}, err)
				return
			}
			m, err := docToSDMapping(d)
			if err != nil {
				yield(SDMapping{}, fmt.Errorf("GET %s: %w", path, err))
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

func docToSDMapping(d Doc) (SDMapping, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return SDMapping{}, err
	}
	var m SDMapping
	if err := json.Unmarshal(raw, &m); err != nil {
		return SDMapping{}, fmt.Errorf("decode SD mapping: %w", err)
	}
	return m, nil
}

// DeleteSDMapping deletes the mapping of a customer number.
func (c *Client) DeleteSDMapping(ctx context.Context, customerNumber string) error {
	if err := checkIDs("delete SD mapping", customerNumber); err != nil {
		return err
	}
	if c.mappingsURL == "" {
		return fmt.Errorf("delete SD mapping: %w", ErrNoMappingsURL)
	}
	return c.delete(ctx, c.mappingsURL, c.sdMappingsPath()+"/"+url.PathEscape(customerNumber))
}
