// Package spectest checks the sandbox's HTTP traffic against the official Emporix OpenAPI specs in
// sandbox/testdata/specs, so that every sandbox test also proves the fake platform answers as documented.
// It is imported only by tests.
//
// Wrap a handler, run requests through the wrapped handler (for example with httptest.NewServer), and
// every response whose path a spec knows is validated: its status must be documented for the operation
// and its body must match that status's schema for the response's content type. Violations fail the
// test with t.Errorf. Request problems are only logged, because tests send bad requests on purpose.
//
// Statuses that no customer spec documents but that the platform's API gateway produces for any operation
// are accepted with their own checks instead of the spec's (see gatewayStatuses); anything else a test
// deliberately returns outside the spec must be declared with AllowStatus.
package spectest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specsDir is where the specs live relative to the module root.
const specsDir = "sandbox/testdata/specs"

// maxValidatedRequestBody bounds the request bodies that are decoded for request validation; tests that
// send oversize bodies on purpose should not spend seconds decoding them. Such requests are still served
// and their responses still validated.
const maxValidatedRequestBody = 1 << 20

// spec is one loaded, patched document and its router.
type spec struct {
	file    string
	doc     *openapi3.T
	router  routers.Router
	patches []string
}

// loadedSpecs caches the parsed documents: loading and validating 6,000 lines of YAML for every test
// would dominate the sandbox's test time. The documents are only read after loading.
var loadedSpecs = sync.OnceValues(loadSpecs)

func loadSpecs() ([]*spec, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(root, specsDir, "*.api.yml"))
	if err != nil {
		return nil, fmt.Errorf("list specs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.api.yml in %s", filepath.Join(root, specsDir))
	}
	sort.Strings(files)
	var specs []*spec
	for _, file := range files {
		s, err := loadSpec(file)
		if err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	return specs, nil
}

func loadSpec(file string) (*spec, error) {
	loader := openapi3.NewLoader()
	// The specs reference nothing outside themselves; refusing external refs keeps a future upstream
	// copy from making tests read other files or the network.
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(file)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", filepath.Base(file), err)
	}
	patches := patchDocument(doc)
	// Examples are documentation, and several are wrong (digest §12); they are checked separately by
	// TestPatchedSpecExamplesAreValid. Everything that validation relies on (schemas, parameters,
	// responses) is still validated here.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate %s after patching: %w", filepath.Base(file), err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", filepath.Base(file), err)
	}
	return &spec{file: filepath.Base(file), doc: doc, router: router, patches: patches}, nil
}

// moduleRoot walks up from the working directory (a package directory under go test) to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Validator validates traffic through wrapped handlers against the specs. Create it with New; it is safe
// for concurrent requests.
type Validator struct {
	t       testing.TB
	specs   []*spec
	checked atomic.Int64

	mu      sync.Mutex
	skipped map[string]int
	allowed map[allowKey]string
}

// allowKey identifies an operation (spec path template, or "*" for all) and a status.
type allowKey struct {
	method string
	path   string
	status int
}

// New loads every *.api.yml under the module's sandbox/testdata/specs, applies the documented defect
// patches, and returns a Validator reporting to t. Loading failures end the test with t.Fatalf.
func New(t testing.TB) *Validator {
	t.Helper()
	specs, err := loadedSpecs()
	if err != nil {
		t.Fatalf("spectest: %v", err)
		return nil
	}
	return &Validator{t: t, specs: specs, skipped: map[string]int{}, allowed: map[allowKey]string{}}
}

// AllowStatus accepts status for an operation although its spec does not document it. method is an
// HTTP method or "*", pathTemplate a spec path such as "/customer/{tenant}/customers/{customerNumber}" or
// "*". The reason is logged with every such response; the body is only checked to be well-formed JSON
// when it claims to be JSON. Use it for behaviour the digest documents outside the specs (for example a
// 409 for a stale metadata.version on PATCH, digest §6.4).
func (v *Validator) AllowStatus(method, pathTemplate string, status int, reason string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.allowed[allowKey{method: strings.ToUpper(method), path: pathTemplate, status: status}] = reason
}

// Checked reports how many responses were validated against a spec operation, so that a test can assert
// the validator actually saw its traffic.
func (v *Validator) Checked() int { return int(v.checked.Load()) }

// Skipped reports how many requests could not be validated: paths or methods no spec knows (the
// sandbox's /{tenant}/sdCustomerMappings, a PATCH on a legal entity), HEAD requests, and hijacked
// connections.
func (v *Validator) Skipped() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	total := 0
	for _, n := range v.skipped {
		total += n
	}
	return total
}

// SkippedRequests returns "METHOD path: reason" for every kind of request that was not validated, with
// counts, in a stable order.
func (v *Validator) SkippedRequests() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]string, 0, len(v.skipped))
	for what, n := range v.skipped {
		out = append(out, fmt.Sprintf("%s (x%d)", what, n))
	}
	sort.Strings(out)
	return out
}

func (v *Validator) skip(what string) {
	v.mu.Lock()
	v.skipped[what]++
	v.mu.Unlock()
}

// Wrap returns a handler that serves every request through h and then validates the exchange. The
// request body is buffered so that h and the validator both see it.
func (v *Validator) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var requestBody []byte
		if r.Body != nil && r.Body != http.NoBody {
			var err error
			requestBody, err = io.ReadAll(r.Body)
			_ = r.Body.Close()
			if err != nil {
				v.t.Logf("spectest: %s %s: reading the request body: %v", r.Method, r.URL.Path, err)
			}
			r.Body = io.NopCloser(bytes.NewReader(requestBody))
		}
		validationRequest := r.Clone(context.Background())
		recorder := newResponseRecorder(w)
		h.ServeHTTP(recorder, r)
		v.validate(validationRequest, requestBody, recorder)
	})
}

// route finds the spec operation for a request.
func (v *Validator) route(r *http.Request) (*routers.Route, map[string]string, error) {
	methodNotAllowed := false
	for _, s := range v.specs {
		route, params, err := s.router.FindRoute(r)
		if err == nil {
			return route, params, nil
		}
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			methodNotAllowed = true
		}
	}
	if methodNotAllowed {
		return nil, nil, routers.ErrMethodNotAllowed
	}
	return nil, nil, routers.ErrPathNotFound
}

func (v *Validator) validate(r *http.Request, requestBody []byte, rec *responseRecorder) {
	exchange := fmt.Sprintf("%s %s", r.Method, r.URL.Path)
	if rec.hijacked {
		v.skip(exchange + ": connection hijacked")
		return
	}
	if r.Method == http.MethodHead {
		v.skip(exchange + ": HEAD")
		return
	}
	route, params, err := v.route(r)
	if err != nil {
		v.skip(exchange + ": " + err.Error())
		return
	}
	operation := fmt.Sprintf("%s %s (%s)", r.Method, route.Path, operationName(route))
	requestInput := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			// The sandbox checks tokens and scopes itself; its tests assert the 401/403 answers.
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			MultiError:          true,
			SkipSettingDefaults: true,
		},
	}
	v.validateRequest(exchange, requestInput, requestBody)

	status := rec.statusCode()
	v.checked.Add(1)
	if extra, handled := v.undocumentedStatus(route, status, rec); handled {
		if extra != "" {
			v.t.Errorf("spectest: %s %s -> %d violates %s: %s", r.Method, r.URL.Path, status, operation, extra)
		}
		return
	}
	responseInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: requestInput,
		Status:                 status,
		Header:                 rec.Header(),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	responseInput.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), responseInput); err != nil {
		v.t.Errorf("spectest: %s %s -> %d violates %s: %v\nresponse body: %s",
			r.Method, r.URL.Path, status, operation, err, truncate(rec.body.Bytes()))
	}
	if status == http.StatusNoContent && rec.body.Len() > 0 {
		v.t.Errorf("spectest: %s %s -> 204 with a %d-byte body", r.Method, r.URL.Path, rec.body.Len())
	}
}

// validateRequest logs, never fails: tests send malformed requests on purpose.
func (v *Validator) validateRequest(exchange string, input *openapi3filter.RequestValidationInput, body []byte) {
	if len(body) > maxValidatedRequestBody {
		input.Options.ExcludeRequestBody = true
		v.t.Logf("spectest: %s: request body of %d bytes not validated (over %d)", exchange, len(body), maxValidatedRequestBody)
	}
	input.Request.Body = io.NopCloser(bytes.NewReader(body))
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		v.t.Logf("spectest: request %s does not match the spec (not a failure: tests send bad requests on purpose): %v", exchange, err)
	}
}

// operationName prefers the operationId, which the spec's documentation anchors use.
func operationName(route *routers.Route) string {
	if route.Operation != nil && route.Operation.OperationID != "" {
		return route.Operation.OperationID
	}
	return "no operationId"
}

// gatewayStatuses are produced by the platform's API gateway in front of every service and are
// documented by no customer spec. The sandbox must produce them (issue: rate limiting with Retry-After,
// 503 fault injection) and custsync must handle them (DESIGN.md: retries on 429/502/503/504), so they are
// accepted on every operation with the checks below instead of failing as undocumented.
var gatewayStatuses = map[int]string{
	http.StatusTooManyRequests:    "rate limited by the gateway",
	http.StatusBadGateway:         "gateway error",
	http.StatusServiceUnavailable: "service unavailable",
	http.StatusGatewayTimeout:     "gateway timeout",
}

// undocumentedStatus handles a status the operation does not document. handled is false when the spec
// documents the status (or a default) and the normal validation applies; problem is "" when the response
// is acceptable.
func (v *Validator) undocumentedStatus(route *routers.Route, status int, rec *responseRecorder) (problem string, handled bool) {
	responses := route.Operation.Responses
	if responses == nil || responses.Status(status) != nil || responses.Default() != nil {
		return "", false
	}
	if reason, ok := v.allowedReason(route, status); ok {
		v.t.Logf("spectest: %s %s -> %d accepted although undocumented: %s", route.Method, route.Path, status, reason)
		return jsonProblem(rec), true
	}
	switch {
	case status == http.StatusUnauthorized:
		// §6.3: a 401 comes from the gateway and has its fault body even where a spec forgot to declare it
		// (the OAuth spec documents no error at all). A token endpoint may also answer in RFC 6749 §5.2 form.
		return bodyProblem(rec, gatewayFaultOrOAuthError), true
	case status == http.StatusBadRequest && route.Path == "/oauth/token":
		// The OAuth spec documents only 200; RFC 6749 §5.2 specifies 400 for a bad grant request.
		return bodyProblem(rec, gatewayFaultOrOAuthError), true
	case gatewayStatuses[status] != "":
		if status == http.StatusTooManyRequests && !validRetryAfter(rec.Header().Get("Retry-After")) {
			return fmt.Sprintf("429 without a valid Retry-After header (got %q)", rec.Header().Get("Retry-After")), true
		}
		return jsonProblem(rec), true
	}
	return fmt.Sprintf("status %d is not documented for this operation (documented: %s)", status, documentedStatuses(responses)), true
}

func (v *Validator) allowedReason(route *routers.Route, status int) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, method := range []string{strings.ToUpper(route.Method), "*"} {
		for _, path := range []string{route.Path, "*"} {
			if reason, ok := v.allowed[allowKey{method: method, path: path, status: status}]; ok {
				return reason, true
			}
		}
	}
	return "", false
}

func documentedStatuses(responses *openapi3.Responses) string {
	codes := make([]string, 0, responses.Len())
	for code := range responses.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}

// validRetryAfter accepts delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func validRetryAfter(value string) bool {
	if value == "" {
		return false
	}
	if seconds, err := strconv.Atoi(value); err == nil {
		return seconds >= 0
	}
	_, err := http.ParseTime(value)
	return err == nil
}

// gatewayFaultOrOAuthError is the gateway's fault body (digest §6.3, the schema every customer spec
// declares for 401, with `fault` required) or an RFC 6749 §5.2 error body.
var gatewayFaultOrOAuthError = func() *openapi3.Schema {
	detail := openapi3.NewObjectSchema().WithProperty("errorcode", openapi3.NewStringSchema())
	fault := openapi3.NewObjectSchema().
		WithProperty("faultstring", openapi3.NewStringSchema()).
		WithProperty("detail", detail)
	fault.Required = []string{"faultstring"}
	gateway := openapi3.NewObjectSchema().WithProperty("fault", fault)
	gateway.Required = []string{"fault"}
	oauth := openapi3.NewObjectSchema().
		WithProperty("error", openapi3.NewStringSchema()).
		WithProperty("error_description", openapi3.NewStringSchema())
	oauth.Required = []string{"error"}
	return openapi3.NewAnyOfSchema(gateway, oauth)
}()

// bodyProblem checks a JSON body against schema.
func bodyProblem(rec *responseRecorder, schema *openapi3.Schema) string {
	if !isJSON(rec.Header().Get("Content-Type")) {
		return fmt.Sprintf("body must be JSON, Content-Type is %q", rec.Header().Get("Content-Type"))
	}
	value, err := decodeJSON(rec.body.Bytes())
	if err != nil {
		return fmt.Sprintf("body is not JSON: %v; body: %s", err, truncate(rec.body.Bytes()))
	}
	if err := schema.VisitJSON(value, openapi3.MultiErrors()); err != nil {
		return fmt.Sprintf("body does not match the gateway fault or OAuth error shape: %v; body: %s", err, truncate(rec.body.Bytes()))
	}
	return ""
}

// jsonProblem only checks that a body claiming to be JSON is JSON.
func jsonProblem(rec *responseRecorder) string {
	if rec.body.Len() == 0 || !isJSON(rec.Header().Get("Content-Type")) {
		return ""
	}
	if _, err := decodeJSON(rec.body.Bytes()); err != nil {
		return fmt.Sprintf("Content-Type says JSON but the body is not JSON: %v; body: %s", err, truncate(rec.body.Bytes()))
	}
	return ""
}

func isJSON(contentType string) bool {
	base, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	base = strings.TrimSpace(base)
	return base == "application/json" || strings.HasSuffix(base, "+json")
}

func decodeJSON(data []byte) (any, error) {
	var value any
	decoder := jsonDecoder(data)
	if err := decoder.Decode(&value); err != nil {
		return nil, err
	}
	if decoder.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return value, nil
}

func truncate(body []byte) string {
	const max = 600
	if len(body) <= max {
		return string(body)
	}
	return string(body[:max]) + "…"
}
