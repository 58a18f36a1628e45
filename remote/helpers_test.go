package remote

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"custsync/sandbox"
)

const testTenant = "acme"

// testSecret is deliberately unusual so that a leak is found by a plain substring search.
const testSecret = "Xq7-unique-secret-9f3b2"

// platform is a sandbox served over real HTTP on a loopback port.
type platform struct {
	srv  *sandbox.Server
	http *httptest.Server
	// offset moves the sandbox clock (token expiry) forward.
	offset atomic.Int64
}

func startPlatform(t testing.TB, opts sandbox.Options) *platform {
	t.Helper()
	p := &platform{}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().Add(time.Duration(p.offset.Load())) }
	}
	if opts.Clients == nil {
		opts.Clients = []sandbox.Client{{ID: "custsync-test", Secret: testSecret, Scopes: sandbox.AllScopes}}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox.New: %v", err)
	}
	p.srv = srv
	p.http = httptest.NewServer(srv)
	t.Cleanup(func() {
		p.http.Close()
		_ = srv.Close()
	})
	return p
}

// advance moves the sandbox's clock, e.g. past the token lifetime.
func (p *platform) advance(d time.Duration) { p.offset.Add(int64(d)) }

// apiRequests returns the logged requests other than token requests.
func (p *platform) apiRequests() []sandbox.Request {
	var out []sandbox.Request
	for _, r := range p.srv.Requests() {
		if r.Path != tokenPath {
			out = append(out, r)
		}
	}
	return out
}

// countRequests counts logged requests matching method and path (path "" matches all).
func (p *platform) countRequests(method, path string) int {
	n := 0
	for _, r := range p.srv.Requests() {
		if (method == "" || r.Method == method) && (path == "" || r.Path == path) {
			n++
		}
	}
	return n
}

func testConfig(p *platform) Config {
	return Config{
		BaseURL:      p.http.URL,
		Tenant:       testTenant,
		ClientID:     "custsync-test",
		ClientSecret: testSecret,
		BaseBackoff:  time.Millisecond,
		MaxBackoff:   10 * time.Millisecond,
	}
}

// bubbleTransport is an HTTP transport for clients inside a testing/synctest bubble, whose fake
// clock makes backoff and Retry-After waits cost no real time. It keeps no idle connections:
// time in a bubble stands still while any of its goroutines waits on a socket, and an idle
// connection's reader always does.
func bubbleTransport() *http.Transport {
	return &http.Transport{DisableKeepAlives: true}
}

// newBubbleClient is newTestClient for a client used inside a synctest bubble (and created
// there, so that its transport belongs to the bubble).
func newBubbleClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: bubbleTransport()}
	}
	return newTestClient(t, cfg)
}

// newOnePerSecondClient is a bubble client of p whose rate limit allows one request a second, no burst.
func newOnePerSecondClient(t testing.TB, p *platform) *Client {
	t.Helper()
	cfg := testConfig(p)
	cfg.TPS, cfg.Burst = 1, 1
	return newBubbleClient(t, cfg)
}

func newTestClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// recordingTransport wraps the real transport and notes what the client sent: the
// Authorization headers (to look for token leaks) and how many requests of a method were in
// flight at once. It changes nothing about the exchange.
type recordingTransport struct {
	next http.RoundTripper

	mu          sync.Mutex
	authHeaders map[string]bool
	inFlight    map[string]int
	maxInFlight map[string]int
	// onSend, if set, runs when a request is handed to the network.
	onSend func(*http.Request)
	// onDone, if set, runs when the exchange is over (err is the transport error, if any).
	onDone func(*http.Request, error)
}

func newRecordingTransport() *recordingTransport {
	return recordOn(defaultHTTPClient().Transport)
}

// recordOn wraps next, e.g. a bubbleTransport.
func recordOn(next http.RoundTripper) *recordingTransport {
	return &recordingTransport{
		next:        next,
		authHeaders: map[string]bool{},
		inFlight:    map[string]int{},
		maxInFlight: map[string]int{},
	}
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	if a := req.Header.Get("Authorization"); a != "" {
		rt.authHeaders[strings.TrimPrefix(a, "Bearer ")] = true
	}
	rt.inFlight[req.Method]++
	rt.maxInFlight[req.Method] = max(rt.maxInFlight[req.Method], rt.inFlight[req.Method])
	onSend, onDone := rt.onSend, rt.onDone
	rt.mu.Unlock()
	if onSend != nil {
		onSend(req)
	}
	resp, err := rt.next.RoundTrip(req)
	rt.mu.Lock()
	rt.inFlight[req.Method]--
	rt.mu.Unlock()
	if onDone != nil {
		onDone(req, err)
	}
	return resp, err
}

func (rt *recordingTransport) tokens() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []string
	for tok := range rt.authHeaders {
		out = append(out, tok)
	}
	return out
}

func (rt *recordingTransport) peak(method string) int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.maxInFlight[method]
}

func customerBody(i int) Doc {
	return Doc{
		"firstName":    fmt.Sprintf("First%03d", i),
		"lastName":     "Tester",
		"contactEmail": fmt.Sprintf("c%03d@example.com", i),
	}
}

func customerID(i int) string { return fmt.Sprintf("C%05d", i) }

// seedCustomers creates n customers with a client that has no faults to go through.
func seedCustomers(t testing.TB, c *Client, n int) {
	t.Helper()
	for i := range n {
		if _, err := c.UpsertCustomer(context.Background(), customerID(i), customerBody(i)); err != nil {
			t.Fatalf("seed customer %d: %v", i, err)
		}
	}
}

// runParallel calls fn for 0..n-1 on the given number of workers and returns the errors by index.
func runParallel(n, workers int, fn func(i int) error) []error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}
