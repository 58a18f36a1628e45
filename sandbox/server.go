// Package sandbox is a local implementation of the Emporix customer APIs custsync talks to: the
// OAuth token endpoint, the tenant-managed Customer Service (customers, addresses, tags, the bulk
// import with password migration and its retention configuration), Customer
// Management (legal entities, locations, contact assignments) and the Engagement Center style
// SD customer mappings. It follows the official OpenAPI specs in testdata/specs and the decisions
// recorded in the research digest, so every other package is tested over real HTTP against it.
//
// It also injects faults (503, 429, latency, commit-then-drop), rate-limits and keeps a request log
// tests can assert on. Its records live in SQLite: a data file for rehearsals and restarts, or an
// in-memory database for tests.
package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client is an OAuth client the sandbox accepts at POST /oauth/token.
type Client struct {
	ID     string
	Secret string
	Scopes []string
}

// Options configures a sandbox Server.
type Options struct {
	// Clients are the accepted OAuth clients; nil means the demo client "sandbox"/"sandbox" holding every scope.
	Clients []Client
	// RateLimit is the server-wide limit in requests per second (token bucket, burst max(1, int(RateLimit)));
	// 0 means unlimited. Excess requests get 429 with Retry-After.
	RateLimit float64
	// Faults are injected from the start; see SetFaults to change them later.
	Faults Faults
	// DataFile is the SQLite file the records live in (only SQLite's bounded page cache is in memory,
	// so a tenant of millions fits) and survive a restart in; "" keeps them in an in-memory database.
	DataFile string
	// TokenTTL is the access token lifetime; 0 means 14399 s as on the platform.
	TokenTTL time.Duration
	// MaxBodyBytes caps request bodies; 0 means 10 MiB. Larger bodies get 413.
	MaxBodyBytes int64
	// Now is the clock for token expiry and metadata timestamps; nil means time.Now.
	Now func() time.Time
	// RecreateDeletedCustomers mirrors the tenant configuration enableRecreationOfDeletedCustomer:
	// when false (the platform default) a deleted customer's number cannot be used again (409).
	RecreateDeletedCustomers bool
	// CustomersInactiveOnCreation and CustomersOnHoldOnCreation mirror the tenant configurations
	// customerActiveOnCreation (false) and customerOnHoldOnCreation (true): the account flags a customer
	// gets when its create does not set them. The platform defaults are active and not on hold.
	CustomersInactiveOnCreation bool
	CustomersOnHoldOnCreation   bool
	// ContactPropagation mirrors the tenant configuration companyContactPropagation (seed 003): how a new
	// contact assignment is copied within its company's hierarchy. "" means UPWARD, the platform default.
	ContactPropagation Propagation
	// DiscardRequests keeps no request log (Requests stays empty). A long-running sandbox serving millions of
	// writes sets it: the log grows by one entry per request, and its garbage collection came to dominate the
	// sandbox's CPU under the CLI's soft heap limit.
	DiscardRequests bool
	// Logger receives recovered panics and persistence failures; nil means slog.Default().
	Logger *slog.Logger
}

// Request is one entry of the request log.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	Tenant   string
	ClientID string
	Status   int    // final status; 0 when the connection was dropped
	Fault    string // "", "503", "429", "drop" or "ratelimit"
}

// DemoClientID and DemoClientSecret are the credentials of the default client.
const (
	DemoClientID     = "sandbox"
	DemoClientSecret = "sandbox"
)

// AllScopes lists every scope the sandbox knows; the demo client holds all of them. Treat it as
// read-only.
var AllScopes = []string{
	scopeCustomerRead, scopeCustomerReadOwn, scopeCustomerManage, scopeCustomerManageOwn,
	scopeImportRead, scopeImportManage,
	scopeLegalEntityRead, scopeLegalEntityReadOwn, scopeLegalEntityManage,
	scopeAssignmentRead, scopeAssignmentManage,
	scopeLocationRead, scopeLocationManage,
	scopeCECenterView, scopeCECenterManage,
}

const (
	scopeCustomerRead       = "customer.customer_read"
	scopeCustomerReadOwn    = "customer.customer_read_own"
	scopeCustomerManage     = "customer.customer_manage"
	scopeCustomerManageOwn  = "customer.customer_manage_own"
	scopeLegalEntityRead    = "customermanagement.legalentity_read"
	scopeLegalEntityReadOwn = "customermanagement.legalentity_read_own"
	scopeLegalEntityManage  = "customermanagement.legalentity_manage"
	scopeAssignmentRead     = "customermanagement.contactassignment_read"
	scopeAssignmentManage   = "customermanagement.contactassignment_manage"
	scopeLocationRead       = "customermanagement.location_read"
	scopeLocationManage     = "customermanagement.location_manage"
	scopeCECenterView       = "hybris.cecentercustomer_view"
	scopeCECenterManage     = "hybris.cecentercustomer_manage"
)

const (
	defaultTokenTTL     = 14399 * time.Second
	defaultMaxBodyBytes = 10 << 20
)

// Server is the sandbox platform; it is an http.Handler.
type Server struct {
	opts    Options
	clients map[string]Client
	now     func() time.Time
	logger  *slog.Logger
	faults  *faultInjector
	limiter *rateLimiter
	mux     *http.ServeMux
	routes  []route

	// Tokens stay in memory, unlike the records: a restarted sandbox refuses the old ones with 401, which
	// exercises the clients' token refresh, and no bearer secret is ever written to the data file.
	tokMu  sync.Mutex
	tokens map[string]token

	mu    sync.Mutex // guards store
	store *store

	logMu sync.Mutex
	log   []Request
}

// New builds a Server. With a DataFile it opens (or creates) the SQLite file and loads its data.
func New(opts Options) (*Server, error) {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = defaultTokenTTL
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBodyBytes
	}
	if opts.RateLimit < 0 {
		return nil, fmt.Errorf("sandbox rate limit %v: must not be negative", opts.RateLimit)
	}
	if err := checkFaults(opts.Faults); err != nil {
		return nil, err
	}
	if opts.ContactPropagation == "" {
		opts.ContactPropagation = PropagateUpward
	}
	if !slices.Contains(propagations, opts.ContactPropagation) {
		return nil, fmt.Errorf("sandbox contact propagation %q: want one of %v", opts.ContactPropagation, propagations)
	}
	clients := opts.Clients
	if clients == nil {
		clients = []Client{{ID: DemoClientID, Secret: DemoClientSecret, Scopes: append([]string(nil), AllScopes...)}}
	}
	s := &Server{
		opts:    opts,
		clients: map[string]Client{},
		now:     opts.Now,
		logger:  opts.Logger,
		faults:  newFaultInjector(opts.Faults),
		limiter: newRateLimiter(opts.RateLimit),
		tokens:  map[string]token{},
	}
	for _, c := range clients {
		if c.ID == "" {
			return nil, errors.New("sandbox client with an empty ID")
		}
		s.clients[c.ID] = c
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	st, err := openStore(opts.DataFile)
	if err != nil {
		return nil, err
	}
	s.store = st
	s.mux = http.NewServeMux()
	for _, rt := range s.buildRoutes() {
		s.handle(rt)
	}
	return s, nil
}

func checkFaults(f Faults) error {
	for name, p := range map[string]float64{"503": f.Error503, "429": f.Error429, "drop": f.Drop} {
		if p < 0 || p > 1 {
			return fmt.Errorf("sandbox fault %s=%v: want a fraction between 0 and 1", name, p)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("sandbox fault latency %v: must not be negative", f.Latency)
	}
	return nil
}

// Close closes the SQLite file, if any.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.close()
}

// SetFaults replaces the injected faults (and reseeds the fault draws).
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// Requests returns a copy of the request log in arrival order; it is empty when Options.DiscardRequests is set.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = nil
}

func (s *Server) record(req Request) {
	if s.opts.DiscardRequests {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = append(s.log, req)
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// ServeHTTP applies latency, rate limit and faults, then routes the request, and logs it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry := Request{Time: s.now(), Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Tenant: tenantOf(r.URL.Path)}
	plan := s.faults.plan(isWrite(r.Method))
	if plan.latency > 0 {
		t := time.NewTimer(plan.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if ok, wait := s.limiter.allow(); !ok {
		entry.Status, entry.Fault = http.StatusTooManyRequests, "ratelimit"
		s.record(entry)
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeFault(w, http.StatusTooManyRequests, "Rate limit quota violation. Quota limit exceeded.", "policies.ratelimit.QuotaViolation")
		return
	}
	switch plan.status {
	case http.StatusServiceUnavailable:
		entry.Status, entry.Fault = plan.status, "503"
		s.record(entry)
		writeFault(w, plan.status, "The Service is temporarily unavailable", "messaging.adaptors.http.flow.ServiceUnavailable")
		return
	case http.StatusTooManyRequests:
		entry.Status, entry.Fault = plan.status, "429"
		s.record(entry)
		w.Header().Set("Retry-After", "1")
		writeFault(w, plan.status, "Spike arrest violation.", "policies.ratelimit.SpikeArrestViolation")
		return
	}
	if plan.drop {
		// The request is applied in full (its writes are committed) but its answer is thrown away
		// and the connection closed, as a network failure after the platform committed would look.
		s.dispatch(&discardWriter{header: http.Header{}}, r, &entry)
		entry.Status, entry.Fault = 0, "drop"
		s.record(entry)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	rec := &statusWriter{ResponseWriter: w}
	s.dispatch(rec, r, &entry)
	entry.Status = rec.status
	if entry.Status == 0 {
		entry.Status = http.StatusOK
	}
	s.record(entry)
}

// tenantOf extracts the tenant from a platform path for the request log.
func tenantOf(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case len(segs) >= 2 && (segs[0] == "customer" || segs[0] == "customer-management"):
		return segs[1]
	case len(segs) >= 2 && segs[1] == "sdCustomerMappings":
		return segs[0]
	}
	return ""
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

// Hijack lets the drop fault close connections even through the status recorder.
func (sw *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := sw.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot hijack")
	}
	return hj.Hijack()
}

type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(b), nil
}
func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

// handleLocked runs a data handler under the store mutex and commits its writes before anything is
// answered. The deferred unlock and rollback keep a panicking handler from deadlocking the server or
// leaking half its writes into the next commit.
func (s *Server) handleLocked(c *reqCtx, handle func(*reqCtx) *apiError) (apiErr *apiError) {
	s.mu.Lock()
	committed := false
	defer func() {
		if !committed {
			s.store.rollback()
		}
		s.mu.Unlock()
	}()
	if apiErr = handle(c); apiErr != nil {
		return apiErr
	}
	committed = true
	if err := s.store.commit(); err != nil {
		s.logger.Error("sandbox commit failed", "method", c.r.Method, "path", c.r.URL.Path, "error", err)
		return newError(http.StatusInternalServerError, "internal_error", "The change could not be stored.")
	}
	return nil
}

// rawJSON is a pre-encoded response body.
type rawJSON []byte

func tooLarge(limit int64) *apiError {
	return newError(http.StatusRequestEntityTooLarge, "payload_too_large",
		fmt.Sprintf("The request body exceeds the limit of %d bytes.", limit))
}

// readBody reads the whole body, mapping an oversize body to 413.
func (c *reqCtx) readBody() ([]byte, *apiError) {
	if c.r.Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(c.r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, badRequest("The request body could not be read.")
	}
	return raw, nil
}

// decodedBody is the outcome of decoding a request's body, kept for the handler (see decodeValue).
type decodedBody struct {
	v      any
	empty  bool
	apiErr *apiError
}

// decodeValue decodes a JSON body of any type; empty reports a body of nothing but white space. The body is
// read and decoded once: the endpoint does it before taking the lock, the handler gets the same outcome.
func (c *reqCtx) decodeValue() (v any, empty bool, apiErr *apiError) {
	if c.decoded == nil {
		v, empty, apiErr := c.readAndDecode()
		c.decoded = &decodedBody{v: v, empty: empty, apiErr: apiErr}
	}
	return c.decoded.v, c.decoded.empty, c.decoded.apiErr
}

func (c *reqCtx) readAndDecode() (v any, empty bool, apiErr *apiError) {
	raw, apiErr := c.readBody()
	if apiErr != nil {
		return nil, false, apiErr
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, true, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&v); err != nil {
		return nil, false, badRequest("Malformed JSON: " + err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, badRequest("Malformed JSON: unexpected data after the JSON value.")
	}
	return v, false, nil
}

// decodeArray decodes a JSON array body, as the bulk endpoints take.
func (c *reqCtx) decodeArray() ([]any, *apiError) {
	v, _, apiErr := c.decodeValue()
	if apiErr != nil {
		return nil, apiErr
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, badRequest("The request body must be a JSON array.")
	}
	return arr, nil
}

// decodeObject decodes a JSON object body. An empty body is an empty object: no endpoint here requires
// a body as such, only fields in it, which the schemas check.
func (c *reqCtx) decodeObject() (map[string]any, *apiError) {
	v, empty, apiErr := c.decodeValue()
	if apiErr != nil {
		return nil, apiErr
	}
	if empty {
		return map[string]any{}, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("The request body must be a JSON object.")
	}
	return obj, nil
}

// bodySchema returns the schema the route declares for the request's content type (application/json when
// the request names none). A content type the operation does not take is refused with a 400: the specs
// document no 415, and 400 is what they give for a request the operation cannot read.
func (c *reqCtx) bodySchema() (requestSchema, *apiError) {
	media := mediaJSON
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		parsed, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return requestSchema{}, badRequest("The Content-Type header " + strconv.Quote(ct) + " cannot be parsed.")
		}
		media = parsed
	}
	rs, ok := c.accepts[media]
	if !ok {
		return requestSchema{}, badRequest(fmt.Sprintf("Content type '%s' is not supported here; use %s.", media, strings.Join(slices.Sorted(maps.Keys(c.accepts)), " or ")))
	}
	return rs, nil
}

// decodeBody decodes the JSON object body and checks it against the route's schema for its content type
// (bodySchema): a body that does not fit is 400 with one detail per problem. It returns the body and the
// schema it was read with, whose mode says what a null member means.
func (c *reqCtx) decodeBody() (map[string]any, requestSchema, *apiError) {
	rs, apiErr := c.bodySchema()
	if apiErr != nil {
		return nil, rs, apiErr
	}
	body, apiErr := c.decodeObject()
	if apiErr != nil {
		return nil, rs, apiErr
	}
	if problems := rs.check(body); len(problems) > 0 {
		return nil, rs, validationError(problems...)
	}
	return body, rs, nil
}

// paging reads pageNumber/pageSize (1-based) with the service's default page size.
func (c *reqCtx) paging(defaultSize int) (number, size int, apiErr *apiError) {
	q := c.r.URL.Query()
	number, size = 1, defaultSize
	for _, p := range []struct {
		name string
		dst  *int
	}{{"pageNumber", &number}, {"pageSize", &size}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, validationError(fieldProblem{Field: p.name, Type: "invalid_value", Message: p.name + " must be an integer of at least 1."})
		}
		*p.dst = n
	}
	return number, size, nil
}

func page[T any](items []T, number, size int) []T {
	start := (number - 1) * size
	if start < 0 || start >= len(items) || size <= 0 {
		return []T{}
	}
	end := start + size
	if end > len(items) || end < start {
		end = len(items)
	}
	return items[start:end]
}

// baseURL is the scheme://host the request reached, for links in responses.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host}
	return u.String()
}
