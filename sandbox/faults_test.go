package sandbox

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	t.Parallel()
	f, err := ParseFaults(" 503=0.05, 429=0.02,drop=0.01,latency=20ms,seed=7 ")
	if err != nil {
		t.Fatal(err)
	}
	if f != (Faults{Error503: 0.05, Error429: 0.02, Drop: 0.01, Latency: 20 * time.Millisecond, Seed: 7}) {
		t.Fatalf("parsed %+v", f)
	}
	if f, err := ParseFaults(""); err != nil || f != (Faults{}) {
		t.Fatalf("empty: %+v %v", f, err)
	}
	for spec, part := range map[string]string{
		"503=2":             "503=2",
		"429=x":             "429=x",
		"drop":              "drop",
		"latency=soon":      "latency=soon",
		"seed=1.5":          "seed=1.5",
		"500=0.1":           "500",
		"503=0.7,429=0.7":   "more than 1",
		"503=0.1,,jitter=1": "jitter",
	} {
		_, err := ParseFaults(spec)
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("%q: error %v should name %q", spec, err, part)
		}
	}
	if _, err := New(Options{Faults: Faults{Drop: 1.5}}); err == nil {
		t.Error("New accepted drop=1.5")
	}
}

func TestFaultFractionsAreSeededAndLogged(t *testing.T) {
	t.Parallel()
	run := func() []Request {
		a := newTestAPI(t, Options{})
		a.srv.SetFaults(Faults{Error503: 0.2, Error429: 0.1, Seed: 42})
		a.srv.ResetRequests()
		for i := 0; i < 400; i++ {
			r := a.call("GET", cust, nil)
			switch r.status {
			case 429:
				if r.header.Get("Retry-After") != "1" {
					t.Fatalf("429 without Retry-After: 1: %v", r.header)
				}
			case 200, 503:
			default:
				t.Fatalf("unexpected status %d", r.status)
			}
		}
		return a.srv.Requests()
	}
	first, second := run(), run()
	count := map[string]int{}
	for i, req := range first {
		if req.Fault != second[i].Fault || req.Status != second[i].Status {
			t.Fatalf("request %d differs between seeded runs: %+v vs %+v", i, req, second[i])
		}
		count[req.Fault]++
		if want := map[string]int{"": 200, "503": 503, "429": 429}[req.Fault]; req.Status != want {
			t.Fatalf("fault %q logged with status %d", req.Fault, req.Status)
		}
	}
	// 400 draws at p=0.2 and p=0.1: far outside these bounds only if the draws are broken.
	if count["503"] < 40 || count["503"] > 130 || count["429"] < 15 || count["429"] > 70 {
		t.Fatalf("fault counts %v", count)
	}
}

func TestDropAfterCommit(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	a.srv.SetFaults(Faults{Drop: 1, Seed: 1})
	// Reads are never dropped.
	a.must(200, "GET", cust, nil)
	a.must(0, "PUT", cust+"/D1", map[string]any{"firstName": "Dropped"})
	a.srv.SetFaults(Faults{})
	if got := a.must(200, "GET", cust+"/D1", nil).obj(t); got["firstName"] != "Dropped" {
		t.Fatalf("write was not committed: %v", got)
	}
	log := a.srv.Requests()
	var dropped []Request
	for _, r := range log {
		if r.Fault == "drop" {
			dropped = append(dropped, r)
		}
	}
	if len(dropped) != 1 || dropped[0].Status != 0 || dropped[0].Method != "PUT" || dropped[0].Path != cust+"/D1" || dropped[0].ClientID != DemoClientID {
		t.Fatalf("dropped log %+v", dropped)
	}
}

func TestLatencyIsApplied(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{Faults: Faults{Latency: 30 * time.Millisecond}})
	start := time.Now()
	a.must(200, "GET", cust, nil)
	// A lower bound only: the latency is a minimum added delay.
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("request took %v, want at least 30ms", d)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{RateLimit: 2})
	a.srv.ResetRequests()
	var limited []result
	for i := 0; i < 6; i++ {
		if r := a.call("GET", cust, nil); r.status == 429 {
			limited = append(limited, r)
		}
	}
	if len(limited) == 0 {
		t.Fatal("no request was rate limited")
	}
	for _, r := range limited {
		if r.header.Get("Retry-After") == "" || r.obj(t)["fault"] == nil {
			t.Fatalf("429 without Retry-After or fault body: %v %s", r.header, r.raw)
		}
	}
	n := 0
	for _, req := range a.srv.Requests() {
		if req.Fault == "ratelimit" {
			n++
			if req.Status != 429 {
				t.Fatalf("ratelimit logged as %d", req.Status)
			}
		}
	}
	if n != len(limited) {
		t.Fatalf("logged %d rate-limited requests, saw %d", n, len(limited))
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	a.must(201, "PUT", cust+"/L1", map[string]any{})
	a.must(404, "GET", cust+"/L2?expand=addresses", nil)
	a.callWith("", "GET", "/customer-management/acme/locations", nil)
	log := a.srv.Requests()
	if len(log) != 4 {
		t.Fatalf("log %+v", log)
	}
	if log[0].Path != "/oauth/token" || log[0].Status != 200 || log[0].ClientID != DemoClientID {
		t.Errorf("token entry %+v", log[0])
	}
	if log[1].Method != "PUT" || log[1].Status != 201 || log[1].Tenant != "acme" || log[1].ClientID != DemoClientID {
		t.Errorf("PUT entry %+v", log[1])
	}
	if log[2].RawQuery != "expand=addresses" || log[2].Status != 404 {
		t.Errorf("GET entry %+v", log[2])
	}
	if log[3].Status != 401 || log[3].ClientID != "" {
		t.Errorf("unauthenticated entry %+v", log[3])
	}
	a.srv.ResetRequests()
	if len(a.srv.Requests()) != 0 {
		t.Fatal("ResetRequests kept entries")
	}
}

func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				id := "W" + string(rune('A'+w)) + strings.Repeat("x", i%3) + string(rune('a'+i))
				req, _ := http.NewRequest("PUT", a.http.URL+cust+"/"+id, strings.NewReader(`{"firstName":"n"}`))
				req.Header.Set("Authorization", "Bearer "+a.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 201 {
					errs <- resp.Status
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	r := a.must(200, "GET", cust+"?pageSize=1000", nil)
	if len(r.list(t)) != 200 {
		t.Fatalf("%d customers", len(r.list(t)))
	}
}

func TestDiscardRequestsKeepsNoLogButServesAndFaultsAlike(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{DiscardRequests: true})
	a.srv.SetFaults(Faults{Drop: 1, Seed: 1})
	a.must(200, "GET", cust, nil)
	a.must(0, "PUT", cust+"/D1", map[string]any{"firstName": "Dropped"})
	a.srv.SetFaults(Faults{})
	a.must(200, "PATCH", cust+"/D1", map[string]any{"lastName": "Kept"})
	if got := a.must(200, "GET", cust+"/D1", nil).obj(t); got["firstName"] != "Dropped" || got["lastName"] != "Kept" {
		t.Fatalf("writes were not committed: %v", got)
	}
	if log := a.srv.Requests(); len(log) != 0 {
		t.Fatalf("request log holds %d entries, want none: %+v", len(log), log)
	}
}
