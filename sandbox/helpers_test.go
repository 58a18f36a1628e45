package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testAPI is a sandbox behind a real loopback HTTP server plus a bearer token for the demo client.
type testAPI struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	token string
}

func newTestAPI(t *testing.T, opts Options) *testAPI {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(specWrap(t, srv))
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	a := &testAPI{t: t, srv: srv, http: hs}
	if opts.Clients == nil {
		a.token = a.fetchToken(DemoClientID, DemoClientSecret, "")
	}
	return a
}

func (a *testAPI) fetchToken(id, secret, scope string) string {
	a.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	resp, err := http.Post(a.http.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		a.t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		a.t.Fatalf("token response: %v", err)
	}
	if resp.StatusCode != 200 {
		a.t.Fatalf("token status %d: %v", resp.StatusCode, body)
	}
	return body["access_token"].(string)
}

type result struct {
	status int
	header http.Header
	raw    []byte
}

func (r result) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.status, r.raw)
	}
	return m
}

func (r result) list(t *testing.T) []map[string]any {
	t.Helper()
	var m []map[string]any
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("response is not a JSON array (%d): %s", r.status, r.raw)
	}
	return m
}

// call sends a request with the test token; body may be nil, a string (sent verbatim) or a value
// (JSON-encoded). headers are name, value pairs.
func (a *testAPI) call(method, path string, body any, headers ...string) result {
	a.t.Helper()
	return a.callWith(a.token, method, path, body, headers...)
}

func (a *testAPI) callWith(token, method, path string, body any, headers ...string) result {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.http.URL+path, rd)
	if err != nil {
		a.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// A dropped connection (the drop fault) is reported as status 0.
		return result{status: 0, raw: []byte(err.Error())}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// must asserts the status and returns the result.
func (a *testAPI) must(want int, method, path string, body any, headers ...string) result {
	a.t.Helper()
	r := a.call(method, path, body, headers...)
	if r.status != want {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.raw)
	}
	return r
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// customerErr checks a Customer Service error body.
func customerErr(t *testing.T, r result, status int, typ string) map[string]any {
	t.Helper()
	m := r.obj(t)
	if m["status"] != float64(status) || (typ != "" && m["type"] != typ) {
		t.Fatalf("error body %s: want status %d type %q", r.raw, status, typ)
	}
	return m
}

// managementErr checks a Customer Management error body.
func managementErr(t *testing.T, r result, status int) map[string]any {
	t.Helper()
	m := r.obj(t)
	if m["code"] != float64(status) || m["status"] != http.StatusText(status) {
		t.Fatalf("error body %s: want code %d", r.raw, status)
	}
	return m
}
