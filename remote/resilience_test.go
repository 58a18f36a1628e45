package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"custsync/sandbox"
)

// putLog groups the logged PUTs of each path.
func putLog(p *platform) map[string][]sandbox.Request {
	out := map[string][]sandbox.Request{}
	for _, r := range p.srv.Requests() {
		if r.Method == http.MethodPut {
			out[r.Path] = append(out[r.Path], r)
		}
	}
	return out
}

func TestRetriesConvergeUnderInjected503And429(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{Faults: sandbox.Faults{Error503: 0.25, Error429: 0.15, Seed: 7}})
	synctest.Test(t, func(t *testing.T) { retriesConverge(t, p) })
}

func retriesConverge(t *testing.T, p *platform) {
	cfg := testConfig(p)
	cfg.MaxRetries = 25
	c := newBubbleClient(t, cfg)
	ctx := context.Background()

	const n = 120
	errs := runParallel(n, 8, func(i int) error {
		_, err := c.UpsertCustomer(ctx, customerID(i), customerBody(i))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("upsert %d: %v", i, err)
		}
	}

	// Each upsert reached the platform's logic exactly once: one answered PUT per customer,
	// a creation, and only injected faults besides.
	for path, reqs := range putLog(p) {
		applied := 0
		for _, r := range reqs {
			switch r.Fault {
			case "":
				applied++
				if r.Status != http.StatusCreated {
					t.Errorf("%s: applied with status %d, want 201", path, r.Status)
				}
			case "503", "429":
			default:
				t.Errorf("%s: unexpected fault %q", path, r.Fault)
			}
		}
		if applied != 1 {
			t.Errorf("%s applied %d times, want 1", path, applied)
		}
	}
	if got := len(putLog(p)); got != n {
		t.Errorf("PUTs for %d customers, want %d", got, n)
	}

	p.srv.SetFaults(sandbox.Faults{})
	for i := range n {
		d, err := c.GetCustomer(ctx, customerID(i))
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if d["firstName"] != customerBody(i)["firstName"] {
			t.Errorf("customer %d: %v", i, d)
		}
		if v := d["metadata"].(map[string]any)["version"].(json.Number); v.String() != "1" {
			t.Errorf("customer %d has version %s, want 1", i, v)
		}
	}

	s := c.Stats()
	if s.Retries == 0 || s.Throttled == 0 || s.ServerErrors == 0 {
		t.Errorf("stats do not show the faults: %+v", s)
	}
	// Every 429 carried Retry-After: 1, which paused the client.
	if s.PausedTime < time.Second {
		t.Errorf("paused %v, want at least 1s", s.PausedTime)
	}
	if s.Requests < n+s.Retries {
		t.Errorf("requests %d < %d upserts + %d retries", s.Requests, n, s.Retries)
	}
}

func TestDropAfterCommitIsRetriedWithoutDuplicates(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	synctest.Test(t, func(t *testing.T) { dropAfterCommit(t, p) })
}

func dropAfterCommit(t *testing.T, p *platform) {
	cfg := testConfig(p)
	cfg.MaxRetries = 20
	cfg.MappingsURL = p.http.URL // the sandbox also serves sdCustomerMappings
	c := newBubbleClient(t, cfg)
	ctx := context.Background()
	// Fetch the token before the faults start, so drops hit the data calls.
	if _, err := c.GetCustomer(ctx, "none"); !IsNotFound(err) {
		t.Fatal(err)
	}
	p.srv.SetFaults(sandbox.Faults{Drop: 0.4, Seed: 11})

	const n = 40
	errs := runParallel(n, 4, func(i int) error {
		_, err := c.UpsertCustomer(ctx, customerID(i), customerBody(i))
		return err
	})
	mappingErrs := runParallel(n, 4, func(i int) error {
		return c.CreateSDMapping(ctx, SDMapping{CustomerNumber: customerID(i), SDCustomerNumber: fmt.Sprint(1000 + i)})
	})
	for i := range n {
		if errs[i] != nil || mappingErrs[i] != nil {
			t.Errorf("item %d: upsert %v, mapping %v", i, errs[i], mappingErrs[i])
		}
	}
	p.srv.SetFaults(sandbox.Faults{})

	drops := 0
	for path, reqs := range putLog(p) {
		for _, r := range reqs {
			if r.Fault == "drop" {
				drops++
			}
		}
		last := reqs[len(reqs)-1]
		if last.Fault != "" {
			t.Errorf("%s: last attempt %q, want an answer", path, last.Fault)
		}
		// Every attempt was applied: a dropped PUT committed, and its replay replaced the
		// same customer instead of creating another. So the version counts the attempts.
		id := path[len("/customer/acme/customers/"):]
		d, err := c.GetCustomer(ctx, id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if v := d["metadata"].(map[string]any)["version"].(json.Number).String(); v != fmt.Sprint(len(reqs)) {
			t.Errorf("%s: version %s after %d applied attempts", id, v, len(reqs))
		}
		if len(reqs) > 1 && last.Status != http.StatusNoContent {
			t.Errorf("%s: replay after a committed drop answered %d, want 204", path, last.Status)
		}
	}
	if drops == 0 {
		t.Fatal("the sandbox dropped nothing; the test proves nothing")
	}
	count := 0
	for _, err := range c.Customers(ctx, ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != n {
		t.Errorf("%d customers on the platform, want %d", count, n)
	}
	mappings := 0
	for _, err := range c.SDMappings(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		mappings++
	}
	if mappings != n {
		t.Errorf("%d SD mappings, want %d", mappings, n)
	}
	if c.Stats().NetworkErrors < int64(drops) {
		t.Errorf("stats count %d network errors for %d drops", c.Stats().NetworkErrors, drops)
	}
}

// A replayed write that carries metadata.version meets the version its own first attempt
// produced; the 409 then says that an earlier attempt had an unknown outcome.
func TestConflictAfterUnknownOutcomeIsMarked(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	cfg := testConfig(p)
	rt := newRecordingTransport()
	cfg.HTTPClient = &http.Client{Transport: rt}
	c := newTestClient(t, cfg)
	ctx := context.Background()
	if _, err := c.UpsertLocation(ctx, "L1", Doc{"type": "OFFICE", "contactDetails": Doc{"city": "Bonn"}}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	rt.onDone = func(req *http.Request, err error) {
		if err != nil {
			once.Do(func() { p.srv.SetFaults(sandbox.Faults{}) })
		}
	}
	p.srv.SetFaults(sandbox.Faults{Drop: 1})
	_, err := c.UpsertLocation(ctx, "L1", Doc{"type": "OFFICE", "contactDetails": Doc{"city": "Köln"}, "metadata": Doc{"version": 1}})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || !apiErr.AfterUnknownOutcome || apiErr.Attempts != 2 {
		t.Fatalf("want a 409 after an unknown outcome on attempt 2, got %#v", err)
	}
	got, err := c.GetLocation(ctx, "L1")
	if err != nil || got["contactDetails"].(map[string]any)["city"] != "Köln" {
		t.Errorf("the dropped attempt was applied: %v %v", got, err)
	}
}

func TestRetryAfterPausesEveryWorker(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		maxRetryAfter time.Duration
		wantPause     time.Duration
	}{
		{"honoured", 0, time.Second},
		{"capped", 250 * time.Millisecond, 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPlatform(t, sandbox.Options{})
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(p)
				cfg.MaxRetryAfter = tc.maxRetryAfter
				c := newBubbleClient(t, cfg)
				ctx := context.Background()
				seedCustomers(t, c, 2)
				start := time.Now()

				p.srv.ResetRequests()
				p.srv.SetFaults(sandbox.Faults{Error429: 1})
				type result struct {
					err error
					at  time.Duration
				}
				results := make(chan result, 2)
				get := func(i int) {
					_, err := c.GetCustomer(ctx, customerID(i))
					results <- result{err, time.Since(start)}
				}
				go get(0)
				// Worker 1 got the 429 (Retry-After: 1) and now waits for the gate.
				synctest.Wait()
				p.srv.SetFaults(sandbox.Faults{})

				// Worker 2 starts after the 429: it must wait for the same gate, not send.
				go get(1)
				synctest.Wait()
				if n := len(p.apiRequests()); n != 1 {
					t.Fatalf("%d requests reached the platform during the pause, want only the 429", n)
				}
				for range 2 {
					// No fake time passes on the network: both finish exactly when the gate opens.
					r := <-results
					if r.err != nil {
						t.Errorf("after the pause: %v", r.err)
					}
					if r.at != tc.wantPause {
						t.Errorf("a worker finished at start+%v, want start+%v", r.at, tc.wantPause)
					}
				}
				reqs := p.apiRequests()
				if len(reqs) != 3 || reqs[0].Status != 429 || reqs[1].Status != 200 || reqs[2].Status != 200 {
					t.Errorf("request log %+v, want 429 then two 200s", reqs)
				}
				if s := c.Stats(); s.Throttled != 1 || s.PausedTime != tc.wantPause {
					t.Errorf("stats %+v", s)
				}
			})
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		cfg := testConfig(p)
		cfg.MaxRetries = 3
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c := newBubbleClient(t, cfg)
		ctx := context.Background()
		seedCustomers(t, c, 1)
		p.srv.ResetRequests()
		p.srv.SetFaults(sandbox.Faults{Error503: 1})

		start := time.Now()
		_, err := c.GetCustomer(ctx, customerID(0))
		elapsed := time.Since(start)
		if !errors.Is(err, ErrRetriesExhausted) || !IsTemporary(err) || IsFinal(err) {
			t.Fatalf("want exhausted retries, got %v", err)
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 503 || apiErr.Attempts != 4 {
			t.Errorf("last answer %#v", apiErr)
		}
		if n := p.countRequests(http.MethodGet, "/customer/acme/customers/"+customerID(0)); n != 4 {
			t.Errorf("%d attempts, want 1 + 3 retries", n)
		}
		// Three backoff sleeps, each within its full-jitter ceiling (1ms, 2ms, 4ms), and
		// nothing else took (fake) time.
		var delays []time.Duration
		for line := range strings.Lines(logs.String()) {
			var rec struct {
				Msg   string
				Delay time.Duration
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "retrying" {
				delays = append(delays, rec.Delay)
			}
		}
		if len(delays) != 3 {
			t.Fatalf("retry delays %v", delays)
		}
		var sum time.Duration
		for i, d := range delays {
			if ceiling := time.Millisecond << i; d > ceiling {
				t.Errorf("sleep %d = %v above its ceiling %v", i, d, ceiling)
			}
			sum += d
		}
		if elapsed != sum {
			t.Errorf("the call took %v, the backoff delays add up to %v", elapsed, sum)
		}
	})
}

func TestCancellationStopsInFlightRequest(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	cfg := testConfig(p)
	rt := newRecordingTransport()
	cfg.HTTPClient = &http.Client{Transport: rt}
	c := newTestClient(t, cfg)
	seedCustomers(t, c, 1)

	// The platform now takes ten minutes to answer.
	p.srv.SetFaults(sandbox.Faults{Latency: 10 * time.Minute})
	sent := make(chan struct{}, 1)
	rt.onSend = func(*http.Request) { sent <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// A GET: the sandbox notices a client hanging up during its latency only once it has
	// read the request body, which its latency fault does not do for writes.
	go func() { _, err := c.GetCustomer(ctx, customerID(0)); done <- err }()
	<-sent
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("want context.Canceled, got %v", err)
		}
		if IsTemporary(err) || IsFinal(err) {
			t.Errorf("a cancelled call is neither temporary nor final: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the in-flight request was not cancelled")
	}
	if s := c.Stats(); s.Retries != 0 {
		t.Errorf("a cancelled request was retried: %+v", s)
	}
}

func TestCancellationStopsWaiting(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults sandbox.Faults
		tps    float64
	}{
		{"backoff after 503", sandbox.Faults{Error503: 1}, 0},
		{"pause gate after 429", sandbox.Faults{Error429: 1}, 0},
		{"rate limiter", sandbox.Faults{}, 0.001},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startPlatform(t, sandbox.Options{})
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(p)
				cfg.TPS = tc.tps
				cfg.BaseBackoff = time.Second // a jitter draw of 0 is then practically impossible
				c := newBubbleClient(t, cfg)
				seedCustomers(t, c, 1) // takes the limiter's only token
				p.srv.ResetRequests()
				p.srv.SetFaults(tc.faults)

				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				start := time.Now()
				go func() { _, err := c.GetCustomer(ctx, customerID(0)); done <- err }()
				synctest.Wait() // the call waits: for its backoff, the gate or the limiter
				before := len(p.apiRequests())
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("want context.Canceled, got %v", err)
				}
				if after := len(p.apiRequests()); after != before {
					t.Errorf("%d requests sent after cancellation", after-before)
				}
				if waited := time.Since(start); waited != 0 {
					t.Errorf("cancelling took %v of the wait", waited)
				}
			})
		})
	}
}

func TestIteratorHonoursCancellation(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	seedCustomers(t, c, 130)
	p.srv.ResetRequests()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	items := 0
	var last error
	for _, err := range c.Customers(ctx, ListOptions{PageSize: 60}) {
		if err != nil {
			last = err
			continue
		}
		if items++; items == 10 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("iteration ended with %v, want context.Canceled", last)
	}
	if items != 60 {
		t.Errorf("%d items, want the 60 of the page already fetched", items)
	}
	if n := p.countRequests(http.MethodGet, "/customer/acme/customers"); n != 1 {
		t.Errorf("%d page requests, want 1", n)
	}
}

func TestConcurrencyLimitsPerKind(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	cfg := testConfig(p)
	cfg.Writers, cfg.Readers = 2, 3
	rt := newRecordingTransport()
	cfg.HTTPClient = &http.Client{Transport: rt}
	c := newTestClient(t, cfg)
	ctx := context.Background()
	seedCustomers(t, c, 1)
	p.srv.SetFaults(sandbox.Faults{Latency: 5 * time.Millisecond})

	var wg sync.WaitGroup
	wg.Add(2)
	var writeErrs, readErrs []error
	go func() {
		defer wg.Done()
		writeErrs = runParallel(24, 8, func(i int) error { _, err := c.UpsertCustomer(ctx, customerID(i+1), customerBody(i+1)); return err })
	}()
	go func() {
		defer wg.Done()
		readErrs = runParallel(24, 8, func(int) error { _, err := c.GetCustomer(ctx, customerID(0)); return err })
	}()
	wg.Wait()
	for i := range 24 {
		if writeErrs[i] != nil || readErrs[i] != nil {
			t.Fatalf("write %v, read %v", writeErrs[i], readErrs[i])
		}
	}
	if w := rt.peak(http.MethodPut); w > 2 {
		t.Errorf("%d concurrent writes, limit 2", w)
	}
	if r := rt.peak(http.MethodGet); r > 3 {
		t.Errorf("%d concurrent reads, limit 3", r)
	}
}

// A POST not marked repeatable (a create) is sent once when its outcome is unknown, but a 429
// is repeated: the platform refuses it before acting.
func TestUnsafePostIsNotRepeatedAfterUnknownOutcome(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	synctest.Test(t, func(t *testing.T) { unsafePostOnce(t, p) })
}

func unsafePostOnce(t *testing.T, p *platform) {
	cfg := testConfig(p)
	rt := recordOn(bubbleTransport())
	cfg.HTTPClient = &http.Client{Transport: rt}
	c := newTestClient(t, cfg)
	ctx := context.Background()
	seedCustomers(t, c, 1)
	create := func(id string) error {
		_, err := c.do(ctx, &request{method: http.MethodPost, base: c.baseURL, path: c.customersPath(), body: Doc{"id": id, "firstName": "New"}})
		return err
	}

	p.srv.SetFaults(sandbox.Faults{Drop: 1})
	err := create("P1")
	var netErr *NetworkError
	if !errors.As(err, &netErr) || !netErr.UnknownOutcome {
		t.Fatalf("want a network error with unknown outcome, got %v", err)
	}
	if !IsTemporary(err) {
		t.Errorf("%v should count as temporary", err)
	}
	if n := p.countRequests(http.MethodPost, c.customersPath()); n != 1 {
		t.Errorf("%d POSTs, want exactly 1", n)
	}
	p.srv.SetFaults(sandbox.Faults{})
	if _, err := c.GetCustomer(ctx, "P1"); err != nil {
		t.Errorf("the dropped create was applied, yet: %v", err)
	}

	var once sync.Once
	rt.onDone = func(req *http.Request, err error) {
		if req.Method == http.MethodPost {
			once.Do(func() { p.srv.SetFaults(sandbox.Faults{}) })
		}
	}
	p.srv.SetFaults(sandbox.Faults{Error429: 1})
	if err := create("P2"); err != nil {
		t.Fatalf("create after a 429: %v", err)
	}
	if n := p.countRequests(http.MethodPost, c.customersPath()); n != 3 {
		t.Errorf("%d POSTs in all, want 1 + 429 + repeat", n)
	}
}

// A rate limiter wait that would pass the caller's deadline (--max-duration) ends the call with the deadline,
// as every other wait does, and not with an error of the request: the run leaves the record for the next.
func TestLimiterWaitPastTheDeadlineEndsWithTheDeadline(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	synctest.Test(t, func(t *testing.T) {
		c := newOnePerSecondClient(t, p)
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		errs := runParallel(6, 6, func(i int) error {
			_, err := c.GetCustomer(ctx, customerID(i))
			return err
		})
		ended := 0
		for i, err := range errs {
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				ended++
			case !IsNotFound(err):
				t.Errorf("call %d: %v, want not found or the deadline", i, err)
			}
		}
		if ended == 0 {
			t.Error("no call met the deadline: the test did not exercise the limiter")
		}
	})
}
