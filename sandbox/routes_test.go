package sandbox

import (
	"strings"
	"testing"
)

func TestRoutingEdges(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	// "." and ".." are ids like any other (the mux would redirect them to the cleaned path).
	nf := customerErr(t, a.must(404, "GET", cust+"/..", nil), 404, "application/json")
	if !strings.Contains(nf["details"].([]any)[0].(map[string]any)["message"].(string), "'..'") {
		t.Errorf("dot segment did not reach the handler: %v", nf)
	}
	// An empty segment or a trailing slash matches no endpoint.
	for _, p := range []string{"/customer/acme//customers", cust + "/", "/customer-management/acme/locations/"} {
		r := a.call("GET", p, nil)
		if r.status != 404 || !strings.Contains(string(r.raw), "No endpoint") {
			t.Errorf("GET %s: %d %s", p, r.status, r.raw)
		}
	}
	// 405 names the methods the path has, in the platform's error shape rather than the mux's text.
	r := a.must(405, "DELETE", cm+"/locations", nil)
	managementErr(t, r, 405)
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow %q", allow)
	}
	customerErr(t, a.must(405, "PUT", cust, map[string]any{}), 405, "method_not_allowed")
	// Scopes are checked after the route matched: a reader cannot write.
	b := newTestAPI(t, Options{Clients: []Client{{ID: "reader", Secret: "r", Scopes: []string{scopeCustomerRead}}}})
	b.token = b.fetchToken("reader", "r", "")
	customerErr(t, b.must(403, "PUT", cust+"/C1", map[string]any{}), 403, "forbidden")
	b.must(200, "GET", cust, nil)
}
