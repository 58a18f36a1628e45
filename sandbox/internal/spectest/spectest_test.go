package spectest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// recordingTB captures what the Validator reports instead of failing the surrounding test, so that the
// tests can assert that a violation was reported.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	logs   []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) errorList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

func (r *recordingTB) logList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.logs...)
}

// exchange is one canned response for one request.
type exchange struct {
	status      int
	contentType string
	headers     map[string]string
	body        string
}

func (e exchange) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	if e.contentType != "" {
		w.Header().Set("Content-Type", e.contentType)
	}
	for k, v := range e.headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, e.body)
}

// serve runs one request through a wrapped handler on a real loopback server.
func serve(t *testing.T, v *Validator, h http.Handler, method, path, contentType, body string) *http.Response {
	t.Helper()
	server := httptest.NewServer(v.Wrap(h))
	t.Cleanup(server.Close)
	req, err := http.NewRequest(method, server.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

const conformingCustomerList = `[{
  "id": "13869000", "customerNumber": "13869000", "firstName": "Ada", "lastName": "Lovelace",
  "contactEmail": "ada@example.com", "active": true, "onHold": false, "businessModel": "B2B",
  "b2b": {"legalEntities": [{"id": "le-1", "name": "Analytical Engines", "contactAssignmentId": "ca-1"}]},
  "metadata": {"version": 2, "createdAt": "2026-01-02T03:04:05.678Z", "modifiedAt": "2026-01-03T03:04:05Z"}
}]`

func TestConformingCustomerListPasses(t *testing.T) {
	rec := &recordingTB{TB: t}
	v := New(rec)
	h := exchange{status: 200, contentType: "application/json", headers: map[string]string{"Count": "1"}, body: conformingCustomerList}
	serve(t, v, h, http.MethodGet, "/customer/mytenant/customers?pageSize=60&q=customerNumber:13869000", "", "")
	if errs := rec.errorList(); len(errs) > 0 {
		t.Fatalf("a conforming response was reported: %v", errs)
	}
	if v.Checked() != 1 || v.Skipped() != 0 {
		t.Errorf("Checked() = %d, Skipped() = %d; want 1, 0", v.Checked(), v.Skipped())
	}
}

func TestResponseViolationsAreReported(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		h      exchange
		want   string
	}{
		{
			name: "wrong type for a field", method: http.MethodGet, path: "/customer/mytenant/customers",
			h:    exchange{status: 200, contentType: "application/json", body: `[{"customerNumber":"1","active":"yes"}]`},
			want: "active",
		},
		{
			name: "enum violated", method: http.MethodGet, path: "/customer/mytenant/customers/1",
			h:    exchange{status: 200, contentType: "application/json", body: `{"customerNumber":"1","businessModel":"B2X"}`},
			want: "businessModel",
		},
		{
			name: "undocumented status", method: http.MethodGet, path: "/customer/mytenant/customers",
			h:    exchange{status: 500, contentType: "application/json", body: `{"status":500,"type":"internal","message":"boom"}`},
			want: "status 500 is not documented",
		},
		{
			name: "undocumented 404 on a list", method: http.MethodGet, path: "/customer-management/mytenant/legal-entities",
			h:    exchange{status: 404, contentType: "application/json", body: `{"code":404,"status":"Not Found"}`},
			want: "not documented",
		},
		{
			name: "wrong error body for Customer Management", method: http.MethodGet, path: "/customer-management/mytenant/legal-entities/le-1",
			h:    exchange{status: 404, contentType: "application/json", body: `{"status":404,"type":"not_found","message":"nope"}`},
			want: "code",
		},
		{
			name: "missing Content-Type", method: http.MethodGet, path: "/customer/mytenant/customers/1",
			h:    exchange{status: 200, body: `{"customerNumber":"1"}`},
			want: "Content-Type",
		},
		{
			name: "body that is not JSON", method: http.MethodGet, path: "/customer/mytenant/customers/1",
			h:    exchange{status: 200, contentType: "application/json", body: `{"customerNumber":`},
			want: "decode",
		},
		{
			name: "documented 401 with a body of the wrong shape", method: http.MethodGet, path: "/customer/mytenant/customers",
			h:    exchange{status: 401, contentType: "application/json", body: `{"fault":"Invalid access token"}`},
			want: "fault",
		},
		{
			name: "undocumented 401 (OAuth) with a Customer Service error body", method: http.MethodPost, path: "/oauth/token",
			h:    exchange{status: 401, contentType: "application/json", body: `{"status":401,"type":"unauthorized"}`},
			want: "gateway fault or OAuth error",
		},
		{
			name: "429 without Retry-After", method: http.MethodGet, path: "/customer/mytenant/customers",
			h:    exchange{status: 429, contentType: "application/json", body: `{}`},
			want: "Retry-After",
		},
		{
			name: "503 with broken JSON", method: http.MethodGet, path: "/customer/mytenant/customers",
			h:    exchange{status: 503, contentType: "application/json", body: `{`},
			want: "not JSON",
		},
		{
			name: "oauth token with a numeric field as string", method: http.MethodPost, path: "/oauth/token",
			h:    exchange{status: 200, contentType: "application/json", body: `{"access_token":"x","token_type":"Bearer","expires_in":"14399"}`},
			want: "expires_in",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			v := New(rec)
			serve(t, v, tc.h, tc.method, tc.path, "", "")
			errs := rec.errorList()
			if len(errs) == 0 {
				t.Fatalf("violation not reported; logs: %v", rec.logList())
			}
			joined := strings.Join(errs, "\n")
			if !strings.Contains(joined, tc.want) || !strings.Contains(joined, fmt.Sprint(tc.h.status)) {
				t.Errorf("report %q does not mention %q and the status", joined, tc.want)
			}
			if v.Checked() != 1 {
				t.Errorf("Checked() = %d, want 1", v.Checked())
			}
		})
	}
}

func TestAcceptedExchanges(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		h      exchange
	}{
		{"upsert update 204", http.MethodPut, "/customer/mytenant/customers/13869000", exchange{status: 204}},
		{"upsert create 201", http.MethodPut, "/customer-management/mytenant/legal-entities/le-1", exchange{status: 201, contentType: "application/json", body: `{"id":"le-1"}`}},
		{"delete customer 202", http.MethodDelete, "/customer/mytenant/customers/13869000", exchange{status: 202}},
		{"customer service error body", http.MethodGet, "/customer/mytenant/customers/404",
			exchange{status: 404, contentType: "application/json", body: `{"status":404,"type":"application/json","message":"Customer not Found","details":[{"message":"Couldn't find a customer with customerNumber '404'"}]}`}},
		{"customer management error body", http.MethodGet, "/customer-management/mytenant/legal-entities/x",
			exchange{status: 404, contentType: "application/json", body: `{"code":404,"status":"Not Found","message":"The legal entity with the requested code does not exist."}`}},
		{"403 example with type Forbidden (unanchored pattern)", http.MethodGet, "/customer/mytenant/customers",
			exchange{status: 403, contentType: "application/json", body: `{"type":"Forbidden","status":403,"message":"User not authorized."}`}},
		{"documented 401 gateway fault", http.MethodGet, "/customer/mytenant/customers",
			exchange{status: 401, contentType: "application/json", body: `{"fault":{"faultstring":"Invalid access token","detail":{"errorcode":"oauth.v2.InvalidAccessToken"}}}`}},
		{"undocumented 401 gateway fault on the token endpoint", http.MethodPost, "/oauth/token",
			exchange{status: 401, contentType: "application/json", body: `{"fault":{"faultstring":"Invalid client","detail":{"errorcode":"oauth.v2.InvalidClientIdentifier"}}}`}},
		{"400 RFC 6749 error on the token endpoint", http.MethodPost, "/oauth/token",
			exchange{status: 400, contentType: "application/json", body: `{"error":"unsupported_grant_type"}`}},
		{"token 200", http.MethodPost, "/oauth/token",
			exchange{status: 200, contentType: "application/json", body: `{"access_token":"x","token_type":"Bearer","expires_in":14399,"scope":"customer.customer_read tenant=mytenant"}`}},
		{"429 with Retry-After seconds", http.MethodGet, "/customer/mytenant/customers",
			exchange{status: 429, contentType: "application/json", headers: map[string]string{"Retry-After": "2"}, body: `{"status":429,"type":"too_many_requests"}`}},
		{"429 with Retry-After date", http.MethodGet, "/customer/mytenant/customers",
			exchange{status: 429, headers: map[string]string{"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}}},
		{"503 from fault injection", http.MethodPost, "/customer-management/mytenant/legal-entities", exchange{status: 503}},
		{"legal entity list with restrictions of one item", http.MethodGet, "/customer-management/mytenant/legal-entities",
			exchange{status: 200, contentType: "application/json; charset=utf-8", headers: map[string]string{"X-Total-Count": "1"},
				body: `[{"id":"le-1","name":"ACME","type":"COMPANY","restrictions":["DE"],"metadata":{"version":1}}]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			v := New(rec)
			serve(t, v, tc.h, tc.method, tc.path, "", "")
			if errs := rec.errorList(); len(errs) > 0 {
				t.Fatalf("acceptable exchange reported: %v", errs)
			}
			if v.Checked() != 1 {
				t.Errorf("Checked() = %d, want 1", v.Checked())
			}
		})
	}
}

func TestRestrictionsArrayIsLimitedToOneItem(t *testing.T) {
	rec := &recordingTB{TB: t}
	v := New(rec)
	h := exchange{status: 200, contentType: "application/json", body: `[{"id":"le-1","name":"ACME","type":"COMPANY","restrictions":["DE","FR"]}]`}
	serve(t, v, h, http.MethodGet, "/customer-management/mytenant/legal-entities", "", "")
	if errs := rec.errorList(); len(errs) != 1 || !strings.Contains(errs[0], "restrictions") {
		t.Errorf("two restrictions not reported as a maxItems violation: %v", errs)
	}
}

func TestAllowStatus(t *testing.T) {
	h := exchange{status: 409, contentType: "application/json", body: `{"status":409,"type":"conflict_resource","message":"stale version"}`}
	const path = "/customer/mytenant/customers/13869000"

	rec := &recordingTB{TB: t}
	v := New(rec)
	serve(t, v, h, http.MethodPatch, path, "application/json", `{"firstName":"Ada"}`)
	if len(rec.errorList()) != 1 {
		t.Fatalf("undocumented 409 on PATCH not reported: %v", rec.errorList())
	}

	rec = &recordingTB{TB: t}
	v = New(rec)
	v.AllowStatus("patch", "/customer/{tenant}/customers/{customerNumber}", 409, "optimistic locking, digest §6.4")
	serve(t, v, h, http.MethodPatch, path, "application/json", `{"firstName":"Ada"}`)
	if errs := rec.errorList(); len(errs) > 0 {
		t.Fatalf("allowed status reported: %v", errs)
	}
	if logs := strings.Join(rec.logList(), "\n"); !strings.Contains(logs, "optimistic locking") {
		t.Errorf("the reason was not logged: %s", logs)
	}

	rec = &recordingTB{TB: t}
	v = New(rec)
	v.AllowStatus("*", "*", 409, "anything")
	serve(t, v, exchange{status: 409, contentType: "application/json", body: `{`}, http.MethodPatch, path, "application/json", `{}`)
	if errs := rec.errorList(); len(errs) != 1 || !strings.Contains(errs[0], "not JSON") {
		t.Errorf("an allowed status with a broken JSON body was not reported: %v", errs)
	}
}

func TestUnknownPathsAndMethodsAreSkippedAndCounted(t *testing.T) {
	rec := &recordingTB{TB: t}
	v := New(rec)
	// The 500 would be a violation if these requests were validated.
	h := exchange{status: 500, contentType: "text/plain", body: "nope"}
	serve(t, v, h, http.MethodGet, "/mytenant/sdCustomerMappings?q=customerNumber:1", "", "")
	serve(t, v, h, http.MethodPatch, "/customer-management/mytenant/legal-entities/le-1", "application/json", `{}`)
	serve(t, v, h, http.MethodHead, "/customer/mytenant/customers", "", "")
	if errs := rec.errorList(); len(errs) > 0 {
		t.Fatalf("skipped requests reported: %v", errs)
	}
	if v.Checked() != 0 || v.Skipped() != 3 {
		t.Errorf("Checked() = %d, Skipped() = %d; want 0, 3 (%v)", v.Checked(), v.Skipped(), v.SkippedRequests())
	}
	skipped := strings.Join(v.SkippedRequests(), "\n")
	for _, want := range []string{"sdCustomerMappings", "method not allowed", "HEAD"} {
		if !strings.Contains(skipped, want) {
			t.Errorf("SkippedRequests() %q lacks %q", skipped, want)
		}
	}
}

func TestRequestProblemsAreOnlyLogged(t *testing.T) {
	rec := &recordingTB{TB: t}
	v := New(rec)
	var seenBody string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seenBody = string(body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"status":400,"type":"bad_request","message":"Malformed JSON"}`)
	})
	serve(t, v, h, http.MethodPost, "/customer/mytenant/customers", "application/json", `{"firstName": 42`)
	if errs := rec.errorList(); len(errs) > 0 {
		t.Fatalf("a bad request with a documented answer was reported: %v", errs)
	}
	if seenBody != `{"firstName": 42` {
		t.Errorf("the handler saw body %q, want the request's", seenBody)
	}
	if logs := strings.Join(rec.logList(), "\n"); !strings.Contains(logs, "request POST /customer/mytenant/customers does not match") {
		t.Errorf("request problem not logged: %s", logs)
	}
}

func TestCustomIDPatternIsPatched(t *testing.T) {
	rec := &recordingTB{TB: t}
	v := New(rec)
	h := exchange{status: 201, contentType: "application/json", body: `{"id":"13869000"}`}
	serve(t, v, h, http.MethodPost, "/customer/mytenant/customers", "application/json", `{"id":"13869000","firstName":"Ada","contactEmail":"ada@example.com"}`)
	if errs := rec.errorList(); len(errs) > 0 {
		t.Fatalf("create reported: %v", errs)
	}
	for _, line := range rec.logList() {
		if strings.Contains(line, "pattern") {
			t.Errorf("a valid 8-character custom id was rejected by the id pattern: %s", line)
		}
	}
	serve(t, v, h, http.MethodPost, "/customer/mytenant/customers", "application/json", `{"id":"has space","firstName":"Ada"}`)
	if logs := strings.Join(rec.logList(), "\n"); !strings.Contains(logs, "pattern") {
		t.Errorf("an id with a space passed the patched pattern: %s", logs)
	}
}

// TestPatchesAreApplied proves every patch still finds its defect: if upstream fixes one, the patch and
// its comment must go.
func TestPatchesAreApplied(t *testing.T) {
	specs, err := loadedSpecs()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{}
	for _, s := range specs {
		for _, change := range s.patches {
			all[change] = s.file
		}
	}
	joined := ""
	for change := range all {
		joined += change + "\n"
	}
	for _, want := range []string{
		"info.version", "servers: removed",
		"pattern ^[a-zA-Z0-9_-]$ -> ^[a-zA-Z0-9_-]{1,66}$",
		"restrictions: array maximum: 1 -> maxItems: 1",
		"initialPassword: type string -> boolean or string",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no patch %q applied; patches:\n%s", want, joined)
		}
	}
	if n := strings.Count(joined, "-> ^[a-zA-Z0-9_-]{1,66}$"); n < 4 {
		t.Errorf("id pattern patched %d times, want every occurrence (4 in the specs)", n)
	}
	for _, s := range specs {
		walkSchemas(s.doc, func(where string, schema *openapi3.Schema) {
			if schema.Pattern == idPatternDefect {
				t.Errorf("%s %s still has the one-character id pattern", s.file, where)
			}
		})
	}
}

// TestPatchedSpecExamplesAreValid validates the documentation examples that New skips: after the
// patches, every example in the specs must match its schema, which shows the patches cover the
// documented defects without loosening anything else.
func TestPatchedSpecExamplesAreValid(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, specsDir, "*.api.yml"))
	if err != nil || len(files) != 4 {
		t.Fatalf("specs: %v %v", files, err)
	}
	for _, file := range files {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(file)
		if err != nil {
			t.Fatal(err)
		}
		patchDocument(doc)
		if err := doc.Validate(context.Background()); err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
		}
	}
}

func TestHijackedConnectionsAreSkipped(t *testing.T) {
	rec := &recordingTB{TB: t}
	v := New(rec)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack through the wrapper: %v", err)
			return
		}
		_ = conn.Close()
	})
	server := httptest.NewServer(v.Wrap(h))
	defer server.Close()
	resp, err := http.Get(server.URL + "/customer/mytenant/customers")
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("a dropped connection produced a response")
	}
	// The client sees the connection close before the wrapper has counted the exchange, and the server does not
	// track a hijacked connection's handler, so wait (bounded) for the count.
	for i := 0; i < 200 && v.Skipped() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if errs := rec.errorList(); len(errs) > 0 {
		t.Fatalf("hijacked exchange reported: %v", errs)
	}
	if v.Checked() != 0 || v.Skipped() != 1 {
		t.Errorf("Checked() = %d, Skipped() = %d; want 0, 1", v.Checked(), v.Skipped())
	}
}

func BenchmarkValidateCustomerList(b *testing.B) {
	v := New(b)
	server := httptest.NewServer(v.Wrap(exchange{status: 200, contentType: "application/json", body: conformingCustomerList}))
	defer server.Close()
	client := server.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(server.URL + "/customer/mytenant/customers")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

func TestConcurrentRequests(t *testing.T) {
	rec := &recordingTB{TB: t}
	v := New(rec)
	server := httptest.NewServer(v.Wrap(exchange{status: 200, contentType: "application/json", body: conformingCustomerList}))
	defer server.Close()
	const requests = 20
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			path := "/customer/mytenant/customers"
			if i%2 == 1 {
				path = "/mytenant/sdCustomerMappings"
			}
			resp, err := server.Client().Get(server.URL + path)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	if errs := rec.errorList(); len(errs) > 0 {
		t.Fatalf("reported: %v", errs)
	}
	if v.Checked() != requests/2 || v.Skipped() != requests/2 {
		t.Errorf("Checked() = %d, Skipped() = %d; want %d each", v.Checked(), v.Skipped(), requests/2)
	}
}
