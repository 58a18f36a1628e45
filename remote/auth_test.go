package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"custsync/sandbox"
)

func TestExpiredTokenIsRefreshedOnceOn401(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	seedCustomers(t, c, 1)
	if n := p.countRequests(http.MethodPost, tokenPath); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}

	// The platform's clock passes the token's lifetime; the client's does not, so only the
	// 401 can tell the client.
	p.advance(4 * time.Hour)
	p.srv.ResetRequests()
	if _, err := c.GetCustomer(ctx, customerID(0)); err != nil {
		t.Fatalf("get after expiry: %v", err)
	}
	reqs := p.srv.Requests()
	want := []string{"GET 401", "POST 200", "GET 200"}
	var got []string
	for _, r := range reqs {
		got = append(got, fmt.Sprintf("%s %d", r.Method, r.Status))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests %v, want %v (one refresh, one repeat)", got, want)
	}
	if s := c.Stats(); s.Retries != 0 || s.TokenFetches != 2 {
		t.Errorf("stats %+v: a refresh is not a retry", s)
	}
}

func TestConcurrentWorkersShareOneTokenFetch(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{Faults: sandbox.Faults{Latency: 2 * time.Millisecond}})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()

	errs := runParallel(32, 16, func(i int) error { _, err := c.UpsertCustomer(ctx, customerID(i), customerBody(i)); return err })
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := p.countRequests(http.MethodPost, tokenPath); n != 1 {
		t.Errorf("16 workers made %d token requests, want 1", n)
	}

	// All workers hold the expired token; their 401s must cause a single refresh.
	p.advance(4 * time.Hour)
	errs = runParallel(32, 16, func(i int) error { _, err := c.GetCustomer(ctx, customerID(i)); return err })
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := p.countRequests(http.MethodPost, tokenPath); n != 2 {
		t.Errorf("%d token requests after expiry, want 2", n)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{TokenTTL: 100 * time.Second})
	synctest.Test(t, func(t *testing.T) {
		c := newBubbleClient(t, testConfig(p))
		ctx := context.Background()
		seedCustomers(t, c, 1)

		time.Sleep(40 * time.Second) // before the refresh point (50 s for a 100 s token)
		if _, err := c.GetCustomer(ctx, customerID(0)); err != nil {
			t.Fatal(err)
		}
		if n := p.countRequests(http.MethodPost, tokenPath); n != 1 {
			t.Errorf("%d token requests at 40s, want 1", n)
		}
		time.Sleep(20 * time.Second)
		if _, err := c.GetCustomer(ctx, customerID(0)); err != nil {
			t.Fatal(err)
		}
		if n := p.countRequests(http.MethodPost, tokenPath); n != 2 {
			t.Errorf("%d token requests at 60s, want 2", n)
		}
		for _, r := range p.srv.Requests() {
			if r.Status == http.StatusUnauthorized {
				t.Errorf("a request was refused: %+v", r)
			}
		}
	})
}

func TestSecondUnauthorizedIsFinal(t *testing.T) {
	t.Parallel()
	// Tokens that are dead on arrival: the refresh cannot help.
	p := startPlatform(t, sandbox.Options{TokenTTL: time.Nanosecond})
	c := newTestClient(t, testConfig(p))
	_, err := c.GetCustomer(context.Background(), customerID(0))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != "keymanagement.service.access_token_expired" {
		t.Fatalf("want the gateway's 401, got %#v", err)
	}
	if !IsAuth(err) || !errors.Is(err, ErrCredentialsRefused) || !IsFinal(err) || IsTemporary(err) {
		t.Errorf("classification of %v", err)
	}
	if n := p.countRequests(http.MethodPost, tokenPath); n != 2 {
		t.Errorf("%d token requests, want 2 (initial and one refresh)", n)
	}
	if n := len(p.apiRequests()); n != 2 {
		t.Errorf("%d API requests, want 2", n)
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	cfg := testConfig(p)
	cfg.ClientSecret = "Wr0ng-secret-5c1d"
	c := newTestClient(t, cfg)
	_, err := c.UpsertCustomer(context.Background(), customerID(0), customerBody(0))
	if !errors.Is(err, ErrCredentialsRefused) || !IsAuth(err) || IsTemporary(err) {
		t.Fatalf("want refused credentials, got %v", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Path != tokenPath || apiErr.Status != 401 || apiErr.Code != "oauth.v2.InvalidClientIdentifier" {
		t.Errorf("token error decoded as %#v", apiErr)
	}
	if strings.Contains(err.Error(), cfg.ClientSecret) {
		t.Errorf("secret in %q", err)
	}
	if want := "the platform refused the client credentials at " + p.http.URL + "/oauth/token: 401 Unauthorized (oauth.v2.InvalidClientIdentifier)"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
	if n := p.countRequests(http.MethodPost, tokenPath); n != 1 {
		t.Errorf("%d token requests, want 1: a refusal is not retried", n)
	}
	if n := len(p.apiRequests()); n != 0 {
		t.Errorf("%d API requests without a token", n)
	}
}

// TestSecretsNeverLeak drives every error path it can and searches all error messages and the
// debug log for the client secrets and every token the client sent.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt := newRecordingTransport()
	cfg := testConfig(p)
	cfg.Logger = logger
	cfg.HTTPClient = &http.Client{Transport: rt}
	cfg.MaxRetries = 2
	c := newTestClient(t, cfg)
	ctx := context.Background()
	var errs []error
	keep := func(err error) {
		if err == nil {
			t.Error("expected an error")
			return
		}
		errs = append(errs, err)
	}

	seedCustomers(t, c, 1)
	_, err := c.GetCustomer(ctx, "missing")
	keep(err) // 404
	_, err = c.UpsertCustomer(ctx, "C9", Doc{"preferredCurrency": "EURO"})
	keep(err) // 400 with details
	_, err = c.UpsertCustomer(ctx, "C8", customerBody(0))
	keep(err) // 409 duplicate e-mail
	_, err = c.GetLegalEntity(ctx, "missing")
	keep(err) // Customer Management 404

	p.srv.SetFaults(sandbox.Faults{Error503: 1})
	_, err = c.GetCustomer(ctx, customerID(0))
	keep(err) // retries exhausted
	p.srv.SetFaults(sandbox.Faults{Error429: 1})
	cfgFast := cfg
	cfgFast.MaxRetries = -1
	fast := newTestClient(t, cfgFast)
	_, err = fast.GetCustomer(ctx, customerID(0))
	keep(err) // token fetch throttled
	p.srv.SetFaults(sandbox.Faults{})

	p.advance(4 * time.Hour)
	dead := startPlatform(t, sandbox.Options{TokenTTL: time.Nanosecond})
	cfgDead := cfg
	cfgDead.BaseURL = dead.http.URL
	deadClient := newTestClient(t, cfgDead)
	_, err = deadClient.GetCustomer(ctx, customerID(0))
	keep(err) // 401 after refresh

	cfgWrong := cfg
	cfgWrong.ClientSecret = "Wr0ng-secret-5c1d"
	wrong := newTestClient(t, cfgWrong)
	_, err = wrong.GetCustomer(ctx, customerID(0))
	keep(err) // token refused

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cfgClosed := cfg
	cfgClosed.BaseURL = closed.URL
	unreachable := newTestClient(t, cfgClosed)
	_, err = unreachable.GetCustomer(ctx, customerID(0))
	keep(err) // connection refused

	// The gateway echoes nothing secret, but a proxy might: messages are scrubbed.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"client_secret %s rejected; auth %s"}`, r.PostForm.Get("client_secret"), r.Header.Get("Authorization"))
	}))
	defer echo.Close()
	cfgEcho := cfg
	cfgEcho.BaseURL = echo.URL
	echoing := newTestClient(t, cfgEcho)
	_, err = echoing.GetCustomer(ctx, customerID(0))
	keep(err)

	tokens := rt.tokens()
	if len(tokens) < 2 {
		t.Fatalf("saw %d tokens; the test should have used several", len(tokens))
	}
	secrets := append([]string{testSecret, "Wr0ng-secret-5c1d"}, tokens...)
	var texts []string
	for _, err := range errs {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			texts = append(texts, fmt.Sprintf("%+v", *apiErr))
		}
	}
	logMu.Lock()
	texts = append(texts, logs.String())
	logMu.Unlock()
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret or token %.4s… found in %q", s, text)
			}
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Error("the debug log recorded no retries; the test did not exercise logging")
	}
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

// echoConfig is a client configuration for a hand-written server at url that quotes what it was sent.
func echoConfig(url, secret string) Config {
	return Config{BaseURL: url, Tenant: testTenant, ClientID: "custsync-test", ClientSecret: secret,
		BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
}

// A token endpoint that quotes the request's form body in its refusal, in JSON or plain text, long enough
// for the quote to be cut: no form of the secret, and no head of it, reaches the error.
func TestEchoedSecretIsRedactedInEveryForm(t *testing.T) {
	t.Parallel()
	secrets := []string{"Qa+Leak/Secret=9&z", "QAsecret-Zq9x7Pl*~k/=&+tail", `Sp"ace <x> \q`}
	padding := strings.Repeat("p", 90)
	echoes := map[string]func(w http.ResponseWriter, form string){
		"JSON": func(w http.ResponseWriter, form string) {
			w.Header().Set("Content-Type", "application/json")
			desc, _ := json.Marshal("bad request body: " + form)
			fmt.Fprintf(w, `{"error":"invalid_request","error_description":%s}`, desc)
		},
		"JSON quoting the decoded secret": func(w http.ResponseWriter, form string) {
			values, _ := url.ParseQuery(form)
			desc, _ := json.Marshal("secret " + values.Get("client_secret") + " path " + url.PathEscape(values.Get("client_secret")))
			fmt.Fprintf(w, `{"error":"invalid_request","error_description":%s}`, desc)
		},
		"text cut at the quote limit": func(w http.ResponseWriter, form string) {
			values, _ := url.ParseQuery(form)
			fmt.Fprintf(w, "%s secret %s and then some more text", padding, values.Get("client_secret"))
		},
	}
	for name, echo := range echoes {
		for _, secret := range secrets {
			t.Run(name+"/"+secret, func(t *testing.T) {
				t.Parallel()
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					w.WriteHeader(http.StatusBadRequest)
					echo(w, string(body))
				}))
				defer srv.Close()
				_, err := newTestClient(t, echoConfig(srv.URL, secret)).GetCustomer(context.Background(), "C1")
				if err == nil {
					t.Fatal("no error from a refusing token endpoint")
				}
				text := err.Error()
				for _, form := range append(secretForms([]string{secret}), secret[:8], url.QueryEscape(secret)[:8]) {
					if strings.Contains(text, form) {
						t.Errorf("%q holds %q", text, form)
					}
				}
				if !strings.Contains(text, "[REDACTED]") {
					t.Errorf("nothing redacted in %q: the echo did not reach the message", text)
				}
			})
		}
	}
}

// A gateway quoting the request's Authorization header in a plain-text refusal, so that the quote limit cuts
// the token: no head of the token reaches the error.
func TestEchoedBearerTokenIsRedactedBeforeTheQuoteIsCut(t *testing.T) {
	t.Parallel()
	const tok = "tok-Zx81qLm2Vb7Kc9Pd4Rf6Tg"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600}`, tok)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "%s refused Authorization: %s for this path", strings.Repeat("q", 80), r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	_, err := newTestClient(t, echoConfig(srv.URL, testSecret)).GetCustomer(context.Background(), "C1")
	if err == nil {
		t.Fatal("no error from a refusing gateway")
	}
	if text := err.Error(); strings.Contains(text, tok[:6]) || !strings.Contains(text, "[REDACT") {
		t.Errorf("token head in, or nothing redacted in, %q", text)
	}
}

// An answer longer than the client reads is cut; a secret the cut splits leaves no head behind.
func TestScrubBodyDropsASecretTheReadCut(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, echoConfig("http://127.0.0.1:1", "Cut-secret-7Hq2"))
	body := []byte(strings.Repeat("z", 20) + "Cut-secret-7Hq2")
	if got := string(c.scrubBody(body[:28], 27, nil)); got != strings.Repeat("z", 20) {
		t.Errorf("scrubBody kept %q", got)
	}
}
