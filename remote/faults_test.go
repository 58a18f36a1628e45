package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"custsync/sandbox"
	"custsync/sandbox/faultproxy"
)

// startProxy puts a fault-injecting proxy in front of the platform.
func startProxy(t *testing.T, p *platform) *faultproxy.Proxy {
	t.Helper()
	proxy, err := faultproxy.Start(p.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	return proxy
}

// proxiedConfig is testConfig with every request going through proxy.
func proxiedConfig(p *platform, proxy *faultproxy.Proxy) Config {
	cfg := testConfig(p)
	cfg.BaseURL = proxy.URL
	return cfg
}

// A token endpoint that keeps failing is asked MaxRetries+1 times in all, however many workers
// need a token, and then every call fails at once with the same *TokenError.
func TestTokenEndpointFailureStopsEveryCallAfterOneRetriedFetch(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	proxy := startProxy(t, p)
	proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: tokenPath, Answer: faultproxy.HTML(500, "500 Internal Server Error")})
	synctest.Test(t, func(t *testing.T) {
		cfg := proxiedConfig(p, proxy)
		cfg.MaxRetries = 3
		c := newBubbleClient(t, cfg)
		errs := runParallel(30, 8, func(i int) error {
			_, err := c.UpsertCustomer(context.Background(), customerID(i), customerBody(i))
			return err
		})
		for i, err := range errs {
			var te *TokenError
			if !errors.As(err, &te) || !errors.Is(err, ErrRetriesExhausted) || !IsTemporary(err) {
				t.Fatalf("upsert %d: want a *TokenError of exhausted retries, got %v", i, err)
			}
			if te.Attempts != 4 || te.Status != 500 {
				t.Errorf("token error %+v", te)
			}
			msg := err.Error()
			if !strings.Contains(msg, proxy.URL+"/oauth/token") || !strings.Contains(msg, `HTML page "500 Internal Server Error"`) ||
				strings.Contains(msg, "<") || strings.Contains(msg, "\n") {
				t.Errorf("message must name the endpoint and quote one line of the answer: %q", msg)
			}
		}
		if n := proxy.Requests(http.MethodPost, tokenPath); n != 4 {
			t.Errorf("%d token requests for 30 calls, want 4 (1 + 3 retries)", n)
		}
		if n := proxy.Total(); n != 4 {
			t.Errorf("%d requests in all; nothing but the token requests may be sent", n)
		}
	})
}

func TestTokenAnswerCutShortIsRetried(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]faultproxy.Answer{
		// The header announces more than arrives: the client sees the connection end early.
		"connection closed": faultproxy.CutShort(`{"access_token":"abc","token_type":"Bearer","expires_in":14399}`, 17),
		// Well framed, but the JSON itself ends early.
		"incomplete JSON": faultproxy.Body(200, "application/json", `{"access_token":"abc","token_ty`),
		"empty body":      faultproxy.Body(200, "application/json", ""),
	} {
		t.Run(name, func(t *testing.T) {
			p := startPlatform(t, sandbox.Options{})
			proxy := startProxy(t, p)
			proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: tokenPath, Times: 2, Answer: answer})
			synctest.Test(t, func(t *testing.T) {
				c := newBubbleClient(t, proxiedConfig(p, proxy))
				if _, err := c.UpsertCustomer(context.Background(), customerID(1), customerBody(1)); err != nil {
					t.Fatalf("after two bad token answers the third is good: %v", err)
				}
				if n := proxy.Requests(http.MethodPost, tokenPath); n != 3 {
					t.Errorf("%d token requests, want 3", n)
				}
				if s := c.Stats(); s.Retries != 2 || s.TokenFetches != 3 || s.Requests != 4 {
					t.Errorf("stats %+v", s)
				}
			})
		})
	}
}

// Answers that cannot come from the platform's OAuth service are a configuration error at the
// first answer: no retry, no API request.
func TestTokenEndpointThatIsNotThePlatform(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]faultproxy.Answer{
		"501 HTML":           faultproxy.HTML(501, "501 Not Implemented"),
		"200 HTML":           faultproxy.Body(200, "text/html", "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>...</body></html>"),
		"404 HTML":           faultproxy.HTML(404, "404 Not Found"),
		"404 JSON":           faultproxy.Body(404, "application/json", `{"timestamp":"2026-01-01","status":404,"error":"Not Found","path":"/oauth/token"}`),
		"200 JSON, no token": faultproxy.Body(200, "application/json", `{"status":"UP"}`),
		"401 HTML":           faultproxy.HTML(401, "401 Authorization Required"),
	} {
		t.Run(name, func(t *testing.T) {
			p := startPlatform(t, sandbox.Options{})
			proxy := startProxy(t, p)
			proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: tokenPath, Answer: answer})
			c := newTestClient(t, proxiedConfig(p, proxy))
			_, err := c.GetCustomer(context.Background(), customerID(1))
			var te *TokenError
			if !errors.As(err, &te) || !errors.Is(err, ErrNotPlatform) || IsTemporary(err) || IsAuth(err) {
				t.Fatalf("want a *TokenError of ErrNotPlatform, got %v", err)
			}
			if !strings.Contains(err.Error(), "does not answer like the platform") || !strings.Contains(err.Error(), proxy.URL+"/oauth/token") {
				t.Errorf("message %q", err)
			}
			if n := proxy.Total(); n != 1 {
				t.Errorf("%d requests, want the one token request", n)
			}
		})
	}
}

// A token endpoint that does not answer is retried, each attempt bounded by RequestTimeout.
// Real time: a fake clock stands still while the client waits on the network.
func TestTokenEndpointTimeoutsAreRetried(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	proxy := startProxy(t, p)
	proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: tokenPath, Answer: faultproxy.Hang()})
	cfg := proxiedConfig(p, proxy)
	cfg.MaxRetries = 2
	// Long enough that each attempt reaches the proxy on a loaded machine (at 50 ms an attempt sometimes timed
	// out before the proxy saw it, and the count below was short).
	cfg.RequestTimeout = 250 * time.Millisecond
	c := newTestClient(t, cfg)
	_, err := c.GetCustomer(context.Background(), customerID(1))
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, ErrRetriesExhausted) || te.Attempts != 3 || !strings.Contains(err.Error(), "no answer within 250ms") {
		t.Fatalf("want a *TokenError after 3 timed-out attempts, got %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("an attempt's timeout must not read as the caller's deadline (exit 130): %v", err)
	}
	if n := proxy.Requests(http.MethodPost, tokenPath); n != 3 {
		t.Errorf("%d token requests, want 3", n)
	}
}

// A token request is subject to the client's rate limit like every other request.
func TestTokenRequestTakesARateLimiterToken(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	synctest.Test(t, func(t *testing.T) {
		c := newOnePerSecondClient(t, p)
		start := time.Now()
		if _, err := c.GetCustomer(context.Background(), customerID(1)); !IsNotFound(err) {
			t.Fatal(err)
		}
		// The token request took the burst; the GET waited one second for the next token.
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("the first call took %v, want 1s", waited)
		}
	})
}

// Idempotent writes retry a 500 ServerErrorRetries times; a create (POST) is never repeated.
func TestServerErrorRetriedOnlyForIdempotentRequests(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	proxy := startProxy(t, p)
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleClient(t, proxiedConfig(p, proxy))
		ctx := context.Background()
		seedCustomers(t, c, 1)
		path := "/customer/acme/customers/" + customerID(5)

		proxy.Inject(faultproxy.Fault{Method: http.MethodPut, Path: path, Times: 1, Answer: faultproxy.HTML(500, "500 Internal Server Error")})
		if _, err := c.UpsertCustomer(ctx, customerID(5), customerBody(5)); err != nil {
			t.Fatalf("a passing 500 is retried: %v", err)
		}
		if n := proxy.Requests(http.MethodPut, path); n != 2 {
			t.Errorf("%d PUTs, want 2", n)
		}

		proxy.Inject(faultproxy.Fault{Method: http.MethodDelete, Path: path, Answer: faultproxy.HTML(500, "500 Internal Server Error")})
		err := c.DeleteCustomer(ctx, customerID(5))
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 500 || apiErr.Attempts != 1+ServerErrorRetries || errors.Is(err, ErrRetriesExhausted) {
			t.Fatalf("a lasting 500 is the record's failure after %d attempts, got %v", 1+ServerErrorRetries, err)
		}
		if got := err.Error(); got != "DELETE "+path+`: 500 Internal Server Error: HTML page "500 Internal Server Error"` {
			t.Errorf("failure line %q", got)
		}
		if n := proxy.Requests(http.MethodDelete, path); n != 1+ServerErrorRetries {
			t.Errorf("%d DELETEs, want %d", n, 1+ServerErrorRetries)
		}

		proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: "/customer/acme/customers", Answer: faultproxy.HTML(500, "500 Internal Server Error")})
		_, err = c.do(ctx, &request{method: http.MethodPost, base: c.baseURL, path: c.customersPath(), body: Doc{"id": "P1"}})
		if !errors.As(err, &apiErr) || apiErr.Status != 500 || apiErr.Attempts != 1 {
			t.Fatalf("a create is not repeated after a 500: %v", err)
		}
		if n := proxy.Requests(http.MethodPost, "/customer/acme/customers"); n != 1 {
			t.Errorf("%d POSTs, want 1", n)
		}
	})
}

// The binding hook runs once, after the first 2xx to an authenticated request, and not for a
// client whose credentials were refused.
func TestOnAcceptedRunsOnceAfterTheFirstAuthenticatedSuccess(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	var mu sync.Mutex
	calls := 0
	cfg := testConfig(p)
	cfg.OnAccepted = func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return errors.New("state busy")
		}
		return nil
	}
	c := newTestClient(t, cfg)
	ctx := context.Background()
	if _, err := c.GetCustomer(ctx, customerID(1)); !IsNotFound(err) {
		t.Fatalf("a 404 is no acceptance: %v", err)
	}
	if calls != 0 {
		t.Fatalf("hook ran %d times before any 2xx", calls)
	}
	if _, err := c.UpsertCustomer(ctx, customerID(1), customerBody(1)); err == nil || !strings.Contains(err.Error(), "state busy") {
		t.Fatalf("a failing hook fails the call: %v", err)
	}
	errs := runParallel(10, 5, func(i int) error { _, err := c.GetCustomer(ctx, customerID(1)); return err })
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Errorf("hook ran %d times, want 2 (the failure, then once)", calls)
	}

	refused := cfg
	refused.ClientSecret = "Wr0ng-secret-5c1d"
	calls = 0
	if _, err := newTestClient(t, refused).GetCustomer(ctx, customerID(1)); !IsAuth(err) {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("hook ran for refused credentials")
	}
}

// With fewer retries than ServerErrorRetries (--retries 1 or 0), a lasting 500 still fails its record after
// the retries there are, like with the default, instead of ending as exhausted retries that stop the run.
func TestServerErrorFailsItsRecordWhateverTheRetries(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	proxy := startProxy(t, p)
	for _, tc := range []struct {
		maxRetries, attempts int
	}{{1, 2}, {-1, 1}} {
		t.Run(fmt.Sprint("retries ", max(tc.maxRetries, 0)), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := proxiedConfig(p, proxy)
				cfg.MaxRetries = tc.maxRetries
				c := newBubbleClient(t, cfg)
				id := fmt.Sprintf("R%d", tc.attempts)
				path := "/customer/acme/customers/" + id
				proxy.Inject(faultproxy.Fault{Method: http.MethodPut, Path: path, Answer: faultproxy.HTML(500, "500 Internal Server Error")})
				_, err := c.UpsertCustomer(context.Background(), id, customerBody(tc.attempts))
				var apiErr *APIError
				if !errors.As(err, &apiErr) || apiErr.Status != 500 || apiErr.Attempts != tc.attempts || errors.Is(err, ErrRetriesExhausted) {
					t.Fatalf("want the record's 500 after %d attempts, got %v", tc.attempts, err)
				}
			})
		})
	}
}

// An https:// URL of a server that does not speak TLS (plain HTTP, or another protocol) is a wrong API URL:
// the token request is not repeated and fails as not the platform.
func TestServerWithoutTLSIsNotThePlatform(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			conn, err := other.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			_ = conn.Close()
		}
	}()
	for name, base := range map[string]string{
		"plain HTTP":     strings.Replace(p.http.URL, "http://", "https://", 1),
		"other protocol": "https://" + other.Addr().String(),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(p)
			cfg.BaseURL = base
			_, err := newTestClient(t, cfg).GetCustomer(context.Background(), customerID(1))
			var tokenErr *TokenError
			if !errors.As(err, &tokenErr) || !errors.Is(err, ErrNotPlatform) || tokenErr.Attempts != 1 ||
				!strings.Contains(err.Error(), "check the API URL") {
				t.Fatalf("want one token request refused as not the platform, got %v", err)
			}
		})
	}
}
