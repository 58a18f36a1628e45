package sandbox

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// garbageBodies are bodies no client should send; none of them may produce a 5xx.
var garbageBodies = []string{
	``, `{`, `}`, `null`, `[]`, `"text"`, `42`, `true`, `{"a":}`, `{"id":null}`, `{"id":""}`, `{"id":{"x":1}}`,
	`{"id":"` + strings.Repeat("x", 100) + `"}`, `{"q":null}`, `{"q":["a"]}`, `{"q":"((("}`, `{"q":"a:(>1 AND"}`,
	`{"metadata":null}`, `{"metadata":"v"}`, `{"metadata":{"version":-1}}`, `{"metadata":{"version":1e300}}`,
	`{"metadata":{"version":1.5}}`, `{"metadata":{"mixins":[1]}}`, `{"mixins":"m"}`, `{"tags":[1,2]}`, `{"tags":{}}`,
	`{"contactName":["x"]}`, `{"legalEntity":"x","customer":[]}`, `{"legalEntity":{"id":5},"customer":{"id":null}}`,
	`{"customerGroups":[1]}`, `{"customerGroups":[{"id":null}]}`, `{"entitiesAddresses":"x"}`, `{"approvalGroup":[{}]}`,
	`{"contactDetails":"x"}`, `{"contactDetails":{"emails":[null]}}`, `{"accountLimit":{"value":"many"}}`,
	`{"restrictions":"DE"}`, `{"parentId":7}`, `{"type":null,"name":null}`, `{"b2b":{"companyRegistrationId":{}}}`,
	`{"customerNumber":5,"deletedInYaaS":"yes"}`, `{"contactEmail":7}`, "\x00\x01\x02", `{"a":"\ud800"}`,
	strings.Repeat("[", 5000) + strings.Repeat("]", 5000), `{"x":` + strings.Repeat(`{"x":`, 2000) + `1` + strings.Repeat(`}`, 2001),
}

var garbageSegments = []string{"x", "C1", "le1", "%20", "..", "a%2Fb", strings.Repeat("z", 300), "ÄÖÜ", "search", "-"}

var garbageQueries = []string{
	"", "?q=(((", "?q=a:", "?q=" + strings.Repeat("a:b%20", 200), "?pageSize=0", "?pageSize=99999999999999999999",
	"?pageNumber=-1", "?sort=::", "?sort=a:desc,b:foo,", "?expand=mixin:,,", "?fields=,,.", "?tags=", "?tags=,,",
	"?primary=x", "?type=NOPE", "?X-Total-Count=true", "?sendPasswordResetNotifications=x",
}

func TestGarbageNeverFails(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{MaxBodyBytes: 64 << 10})
	// Some data so item routes reach their handlers' deeper paths.
	a.must(201, "PUT", cust+"/C1", map[string]any{"contactEmail": "c1@x.com"})
	a.must(201, "PUT", cust+"/C1/addresses/x", map[string]any{"contactName": "C"})
	a.must(201, "POST", cm+"/legal-entities", map[string]any{"id": "le1", "name": "LE"})
	a.must(201, "POST", cm+"/locations", map[string]any{"id": "x", "type": "OFFICE", "contactDetails": map[string]any{}})
	a.must(201, "POST", cm+"/contact-assignments", map[string]any{"id": "x", "legalEntity": map[string]any{"id": "le1"}, "customer": map[string]any{"id": "C1"}})

	rng := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	n := 0
	for _, rt := range a.srv.routes {
		for round := 0; round < 12; round++ {
			segs := make([]string, len(rt.segs))
			for i, s := range rt.segs {
				switch {
				case s == "{tenant}":
					segs[i] = []string{"acme", "acme", "acme", "AC", "x1"}[rng.IntN(5)]
				case strings.HasPrefix(s, "{"):
					segs[i] = garbageSegments[rng.IntN(len(garbageSegments))]
				default:
					segs[i] = s
				}
			}
			method := rt.method
			if round%4 == 3 {
				method = methods[rng.IntN(len(methods))]
			}
			path := "/" + strings.Join(segs, "/") + garbageQueries[rng.IntN(len(garbageQueries))]
			body := garbageBodies[rng.IntN(len(garbageBodies))]
			headers := []string{"X-Total-Count", []string{"true", "nope", ""}[rng.IntN(3)]}
			if rng.IntN(3) == 0 {
				headers = append(headers, "Content-Type", []string{"application/merge-patch+json", "text/plain", "application/x-www-form-urlencoded"}[rng.IntN(3)])
			}
			r := a.call(method, path, body, headers...)
			n++
			if r.status == 0 || r.status >= 500 {
				t.Errorf("%s %s with body %.60q: status %d: %s", method, path, body, r.status, r.raw)
			}
		}
	}
	// The token endpoint with garbage forms.
	for _, form := range []string{"", "%%%", "grant_type=client_credentials&client_id=%ZZ", strings.Repeat("a=b&", 1000)} {
		req, _ := http.NewRequest("POST", a.http.URL+"/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("token form %.40q: %d", form, resp.StatusCode)
		}
	}
	t.Logf("%d garbage requests", n)
}

func TestOversizeBody(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{MaxBodyBytes: 1024})
	big := `{"firstName":"` + strings.Repeat("x", 2000) + `"}`
	customerErr(t, a.must(413, "POST", cust, big), 413, "payload_too_large")
	managementErr(t, a.must(413, "POST", cm+"/locations", big), 413)
	// A chunked body without Content-Length is cut off by the reader as well.
	req, _ := http.NewRequest("POST", a.http.URL+cust, &slowReader{data: []byte(big)})
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked oversize body: %d", resp.StatusCode)
	}
	form := "grant_type=client_credentials&client_id=sandbox&client_secret=sandbox&pad=" + strings.Repeat("p", 2000)
	resp, err = http.Post(a.http.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("oversize token form: %d", resp.StatusCode)
	}
}

// slowReader hides its length so the request is sent chunked.
type slowReader struct {
	data []byte
	off  int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 100)], r.data[r.off:])
	r.off += n
	return n, nil
}
