package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func postToken(t *testing.T, a *testAPI, form url.Values, basic ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", a.http.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{Clients: []Client{
		{ID: "reader", Secret: "r-secret", Scopes: []string{scopeCustomerRead, scopeLocationRead}},
	}})
	status, body := postToken(t, a, url.Values{"grant_type": {"client_credentials"}, "client_id": {"reader"}, "client_secret": {"r-secret"}})
	if status != 200 || body["token_type"] != "Bearer" || body["expires_in"] != float64(14399) || body["refresh_token"] != "" ||
		body["refresh_token_expires_in"] != float64(0) || body["session_idle_time"] != float64(120) {
		t.Fatalf("token response %d %v", status, body)
	}
	if body["scope"] != scopeCustomerRead+" "+scopeLocationRead+" tenant=sandbox" {
		t.Errorf("scope %q", body["scope"])
	}
	status, body = postToken(t, a, url.Values{"grant_type": {"client_credentials"}, "scope": {"tenant=acme " + scopeLocationRead}}, "reader", "r-secret")
	if status != 200 || body["scope"] != scopeLocationRead+" tenant=acme" {
		t.Fatalf("basic auth + scope: %d %v", status, body)
	}
	limited := body["access_token"].(string)
	// The narrowed token cannot read customers: 403 in the service's shape.
	r := a.callWith(limited, "GET", cust, nil)
	if r.status != 403 {
		t.Fatalf("status %d", r.status)
	}
	customerErr(t, r, 403, "forbidden")
	if r := a.callWith(limited, "GET", "/customer-management/acme/legal-entities", nil); r.status != 403 {
		t.Fatalf("CM status %d", r.status)
	} else {
		managementErr(t, r, 403)
	}
	if r := a.callWith(limited, "GET", "/customer-management/acme/locations", nil); r.status != 200 {
		t.Fatalf("granted scope: %d %s", r.status, r.raw)
	}

	for name, form := range map[string]url.Values{
		"wrong secret": {"grant_type": {"client_credentials"}, "client_id": {"reader"}, "client_secret": {"nope"}},
		"unknown":      {"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"y"}},
	} {
		status, body := postToken(t, a, form)
		if status != 401 || body["fault"] == nil {
			t.Errorf("%s: %d %v", name, status, body)
		}
	}
	if status, body := postToken(t, a, url.Values{"grant_type": {"password"}, "client_id": {"reader"}, "client_secret": {"r-secret"}}); status != 400 || body["error"] != "unsupported_grant_type" {
		t.Errorf("grant type: %d %v", status, body)
	}
	if status, body := postToken(t, a, url.Values{"grant_type": {"client_credentials"}, "client_id": {"reader"}, "client_secret": {"r-secret"}, "scope": {scopeCustomerManage}}); status != 400 || body["error"] != "invalid_scope" {
		t.Errorf("scope not held: %d %v", status, body)
	}
	resp, err := http.Post(a.http.URL+"/oauth/token", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON token request: %d", resp.StatusCode)
	}
	if r := a.callWith("", "GET", "/oauth/token", nil); r.status != 405 {
		t.Errorf("GET token: %d", r.status)
	}
	// The secret never shows up in the request log.
	for _, req := range a.srv.Requests() {
		if strings.Contains(req.RawQuery+req.Path, "r-secret") {
			t.Errorf("secret logged: %+v", req)
		}
	}
}

func TestBearerChecks(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := newTestAPI(t, Options{Now: clock.Now, TokenTTL: time.Hour})
	wantFault := func(r result, code string) {
		t.Helper()
		if r.status != 401 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		fault := r.obj(t)["fault"].(map[string]any)
		if fault["detail"].(map[string]any)["errorcode"] != code {
			t.Fatalf("fault %v", fault)
		}
	}
	wantFault(a.callWith("", "GET", cust, nil), "oauth.v2.InvalidAccessToken")
	wantFault(a.callWith("made-up", "GET", "/customer-management/acme/locations", nil), "oauth.v2.InvalidAccessToken")
	wantFault(a.callWith("", "GET", "/acme/sdCustomerMappings", nil), "oauth.v2.InvalidAccessToken")
	r := a.call("GET", cust, nil, "Authorization", "Basic abc")
	wantFault(r, "oauth.v2.InvalidAccessToken")
	a.must(200, "GET", cust, nil)
	clock.now = clock.now.Add(time.Hour - time.Second)
	a.must(200, "GET", cust, nil)
	clock.now = clock.now.Add(time.Second)
	wantFault(a.call("GET", cust, nil), "keymanagement.service.access_token_expired")
	a.token = a.fetchToken(DemoClientID, DemoClientSecret, "")
	a.must(200, "GET", cust, nil)
}

func TestTenantValidation(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	for _, tenant := range []string{"AB", "Acme", "1acme", "ab", "averyveryverylongtenant", "ac-me"} {
		r := a.call("GET", "/customer/"+tenant+"/customers", nil)
		if r.status != 400 {
			t.Errorf("tenant %q: %d", tenant, r.status)
			continue
		}
		customerErr(t, r, 400, "bad_request")
		r = a.call("GET", "/customer-management/"+tenant+"/locations", nil)
		if r.status != 400 {
			t.Errorf("CM tenant %q: %d", tenant, r.status)
			continue
		}
		managementErr(t, r, 400)
	}
	// Tenants are isolated from each other.
	a.must(201, "PUT", "/customer/tenanta/customers/X1", map[string]any{})
	a.must(404, "GET", "/customer/tenantb/customers/X1", nil)
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	customerErr(t, a.must(404, "GET", "/customer/acme/nothing", nil), 404, "")
	managementErr(t, a.must(404, "GET", "/customer-management/acme/nothing", nil), 404)
	for _, p := range []string{"legal-entities/x", "locations/x", "contact-assignments/x"} {
		r := a.must(405, "PATCH", "/customer-management/acme/"+p, map[string]any{})
		managementErr(t, r, 405)
	}
	if r := a.must(405, "PATCH", cust, map[string]any{}); r.header.Get("Allow") == "" {
		t.Errorf("no Allow header")
	}
}
