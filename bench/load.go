package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"custsync/formats"
	"custsync/mapping"
)

// LoadResult is what the plain HTTP load generator achieved.
type LoadResult struct {
	Requests int
	Errors   int // non-2xx answers and transport errors
	Elapsed  time.Duration
}

// Rate is the achieved requests per second.
func (r LoadResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Bodies returns, for every row of the data set, the customer id and the exact body of the PUT custsync sends
// to create it (the mapped row's payload without the account flags), so that a load generator sends the same
// work.
func (d Dataset) Bodies() (ids []string, bodies [][]byte, err error) {
	m, err := customerMapper()
	if err != nil {
		return nil, nil, err
	}
	cells := make([]string, 0, len(CustomerHeader))
	for i := 0; i < d.Rows; i++ {
		rec, err := d.record(m, cells, i)
		if err != nil {
			return nil, nil, err
		}
		body := rec.Payload()
		// The account flags are not part of the merge-patch create's schema: custsync sends them in a PATCH
		// after the create where they differ from the tenant's creation defaults (runner.createCustomer in
		// sync), so the create PUT carries the rest.
		delete(body, "active")
		delete(body, "onHold")
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, fmt.Errorf("encode row %d: %w", i, err)
		}
		ids = append(ids, rec.RemoteID)
		bodies = append(bodies, b)
	}
	return ids, bodies, nil
}

// UpdateBodies returns, for every row whose revision in d differs from its revision in prev, the customer id
// and the body of the PATCH custsync sends to bring the platform from prev's row to d's: the fields of d's row
// that differ from prev's (mapping.Record.Changed of the diff, as sync's patchBody), so that a load generator
// sends the same updates.
func (d Dataset) UpdateBodies(prev Dataset) (ids []string, bodies [][]byte, err error) {
	m, err := customerMapper()
	if err != nil {
		return nil, nil, err
	}
	cells := make([]string, 0, len(CustomerHeader))
	for i := 0; i < d.Rows; i++ {
		if d.revision(i) == prev.revision(i) {
			continue
		}
		before, err := prev.record(m, cells, i)
		if err != nil {
			return nil, nil, err
		}
		after, err := d.record(m, cells, i)
		if err != nil {
			return nil, nil, err
		}
		b, err := json.Marshal(after.Changed(mapping.DiffRemote(before.Payload(), after)).Payload())
		if err != nil {
			return nil, nil, fmt.Errorf("encode row %d: %w", i, err)
		}
		ids = append(ids, after.RemoteID)
		bodies = append(bodies, b)
	}
	return ids, bodies, nil
}

// UpdateContentType is the content type of custsync's update PATCHes (sync's updates go through
// remote.Client.PatchCustomer), which a load generator sending UpdateBodies sends too.
const UpdateContentType = "application/json"

// customerMapper maps the data set's columns as custsync maps a customer file with the default column names.
func customerMapper() (*mapping.Mapper, error) {
	mappers, err := mapping.Resolve(nil, mapping.Table{File: "customers.csv"}, CustomerHeader)
	if err != nil {
		return nil, fmt.Errorf("resolve customer columns: %w", err)
	}
	return mappers[0], nil
}

// record maps row i as custsync does (cells is scratch space for the row's cells).
func (d Dataset) record(m *mapping.Mapper, cells []string, i int) (mapping.Record, error) {
	rec, ferrs := m.Map(formats.Position{File: "customers.csv", Line: i + 2}, d.Row(cells, i))
	if len(ferrs) > 0 {
		return mapping.Record{}, fmt.Errorf("row %d: %s", i, ferrs[0].Error())
	}
	return rec, nil
}

// FetchToken gets a bearer token from the sandbox's OAuth endpoint with the demo client.
func FetchToken(ctx context.Context, hc *http.Client, baseURL string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {SandboxClientID}, "client_secret": {SandboxClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token response %d: no access token", resp.StatusCode)
	}
	return tok.AccessToken, nil
}

// CreateCustomerURL is the URL of the create PUT of customer id, as custsync sends it (no password reset
// mail); the load generators of the benchmarks send their creates there.
func CreateCustomerURL(baseURL, tenant, id string) string {
	return CustomerURL(baseURL, tenant, id) + "?sendPasswordResetNotifications=false"
}

// CustomerURL is the URL of customer id of tenant, where custsync sends an update's PATCH.
func CustomerURL(baseURL, tenant, id string) string {
	return baseURL + "/customer/" + tenant + "/customers/" + url.PathEscape(id)
}

// CreateCustomersURL is where a POST creates a customer of tenant whose number the platform chooses.
func CreateCustomersURL(baseURL, tenant string) string {
	return baseURL + "/customer/" + tenant + "/customers?sendPasswordResetNotifications=false"
}

// PutCustomers is a plain HTTP load generator: it PUTs every body to its customer id (the same merge-patch
// upsert custsync sends) with conns requests in flight, as fast as the server answers.
func PutCustomers(ctx context.Context, baseURL, tenant string, conns int, ids []string, bodies [][]byte) (LoadResult, error) {
	if len(ids) != len(bodies) {
		return LoadResult{}, errors.New("ids and bodies differ in length")
	}
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	token, err := FetchToken(ctx, hc, baseURL)
	if err != nil {
		return LoadResult{}, err
	}
	auth := "Bearer " + token
	var next, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				u := CreateCustomerURL(baseURL, tenant, ids[i])
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(bodies[i]))
				if err == nil {
					req.Header.Set("Authorization", auth)
					req.Header.Set("Content-Type", "application/merge-patch+json")
					var resp *http.Response
					resp, err = hc.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						if resp.StatusCode/100 != 2 {
							err = fmt.Errorf("PUT customer %s: status %d", ids[i], resp.StatusCode)
						}
					}
				}
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	res := LoadResult{Requests: len(ids), Errors: int(failed.Load()), Elapsed: time.Since(start)}
	if firstErr != nil {
		return res, fmt.Errorf("%d of %d requests failed, first: %w", res.Errors, res.Requests, firstErr)
	}
	return res, ctx.Err()
}
