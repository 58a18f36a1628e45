package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBackoffDelayGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	base, maxDelay := 100*time.Millisecond, 1500*time.Millisecond
	// randN(n) = n-1 picks the ceiling of each draw.
	top := func(n int64) int64 { return n - 1 }
	want := []time.Duration{100, 200, 400, 800, 1500, 1500, 1500}
	for i, w := range want {
		retry := i + 1
		if got := backoffDelay(retry, base, maxDelay, top); got != w*time.Millisecond {
			t.Errorf("retry %d: ceiling %v, want %v", retry, got, w*time.Millisecond)
		}
	}
	if got := backoffDelay(200, base, maxDelay, top); got != maxDelay {
		t.Errorf("retry 200: %v, want the cap %v (no overflow)", got, maxDelay)
	}
	if got := backoffDelay(0, base, maxDelay, top); got != 0 {
		t.Errorf("retry 0: %v, want 0", got)
	}
}

func TestBackoffDelayFullJitterSpansRange(t *testing.T) {
	t.Parallel()
	base, maxDelay := 100*time.Millisecond, time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	var below, above int
	for range 2000 {
		d := backoffDelay(3, base, maxDelay, rng.Int64N)
		if d < 0 || d > 400*time.Millisecond {
			t.Fatalf("delay %v outside [0, 400ms]", d)
		}
		if d < 200*time.Millisecond {
			below++
		} else {
			above++
		}
	}
	// Full jitter is uniform over the whole range, not "base plus a little".
	if below < 800 || above < 800 {
		t.Errorf("delays not spread over the range: %d below 200ms, %d above", below, above)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"Mon, 23 Nov 2026 20:00:30 GMT", 30 * time.Second, true},
		{"Monday, 23-Nov-26 20:01:00 GMT", time.Minute, true},
		{"Mon Nov 23 20:00:05 2026", 5 * time.Second, true},
		{"Mon, 23 Nov 2026 19:00:00 GMT", 0, true}, // in the past: go now
		{"-3", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{"NaN", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRefreshTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		ttl  time.Duration
		want time.Duration // after issue
	}{
		{14399 * time.Second, 14399*time.Second - 1439900*time.Millisecond}, // 10% margin
		{5 * time.Minute, 4 * time.Minute},                                  // one-minute floor
		{90 * time.Second, 45 * time.Second},                                // halfway for short tokens
		{2 * time.Second, time.Second},
	}
	for _, tt := range tests {
		if got := refreshTime(at, tt.ttl).Sub(at); got != tt.want {
			t.Errorf("ttl %v: refresh after %v, want %v", tt.ttl, got, tt.want)
		}
	}
	if !refreshTime(at, 0).IsZero() {
		t.Error("unknown ttl must give a zero refresh time")
	}
}

func TestParseExpiresIn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		`14399`: 14399 * time.Second, `"2591999"`: 2591999 * time.Second, `0`: 0, `"x"`: 0, `null`: 0, ``: 0,
	} {
		if got := parseExpiresIn(json.RawMessage(in)); got != want {
			t.Errorf("parseExpiresIn(%s) = %v, want %v", in, got, want)
		}
	}
}

func decodeForTest(status int, header http.Header, body string) *APIError {
	if header == nil {
		header = http.Header{}
	}
	return newAPIError("PUT", "/customer/acme/customers/C1", &http.Response{StatusCode: status, Header: header}, []byte(body))
}

func TestDecodeCustomerServiceError(t *testing.T) {
	t.Parallel()
	e := decodeForTest(404, http.Header{"X-Request-Id": {"req-42"}},
		`{"status":404,"type":"application/json","message":"Customer not Found","details":[{"message":"Couldn't find a customer with customerNumber 'C1'"}]}`)
	if e.Status != 404 || e.Type != "application/json" || e.Message != "Customer not Found" || e.RequestID != "req-42" {
		t.Errorf("decoded %+v", e)
	}
	if len(e.Details) != 1 || e.Details[0] != "Couldn't find a customer with customerNumber 'C1'" {
		t.Errorf("details %q", e.Details)
	}
	if !IsNotFound(e) || IsConflict(e) || IsTemporary(e) || !IsFinal(e) || IsAuth(e) {
		t.Errorf("classification wrong for %v", e)
	}
	msg := e.Error()
	for _, want := range []string{"PUT", "/customer/acme/customers/C1", "404", "Customer not Found", "req-42"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}

	v := decodeForTest(400, nil, `{"status":400,"type":"validation_failure","message":"Validation failed.","moreInfo":"",`+
		`"details":[{"field":"preferredCurrency","type":"invalid","message":"length must be 3"},{"field":"contactEmail","type":"invalid_format"}]}`)
	if v.Type != "validation_failure" || len(v.Details) != 2 || v.Details[0] != "preferredCurrency: length must be 3" || v.Details[1] != "contactEmail: invalid_format" {
		t.Errorf("validation error decoded as %+v", v)
	}
}

func TestDecodeCustomerManagementError(t *testing.T) {
	t.Parallel()
	e := decodeForTest(409, http.Header{"X-Correlation-Id": {"corr-7"}},
		`{"code":409,"status":"Conflict","message":"Given resource already exists.","resourceId":"LE1","details":["id LE1 is in use"]}`)
	if e.Status != 409 || e.Type != "Conflict" || e.Message != "Given resource already exists." || e.ResourceID != "LE1" || e.RequestID != "corr-7" {
		t.Errorf("decoded %+v", e)
	}
	if len(e.Details) != 1 || e.Details[0] != "id LE1 is in use" {
		t.Errorf("details %q", e.Details)
	}
	if !IsConflict(e) || !errors.Is(e, ErrConflict) || IsNotFound(e) || !IsFinal(e) {
		t.Errorf("classification wrong for %v", e)
	}
}

func TestDecodeGatewayFaultAndOAuthError(t *testing.T) {
	t.Parallel()
	f := decodeForTest(401, nil, `{"fault":{"faultstring":"Access Token expired","detail":{"errorcode":"keymanagement.service.access_token_expired"}}}`)
	if f.Message != "Access Token expired" || f.Code != "keymanagement.service.access_token_expired" {
		t.Errorf("fault decoded as %+v", f)
	}
	if !IsAuth(f) || !errors.Is(f, ErrCredentialsRefused) || IsTemporary(f) || !IsFinal(f) {
		t.Errorf("classification wrong for %v", f)
	}
	o := decodeForTest(400, nil, `{"error":"invalid_scope","error_description":"The client does not hold the scope x."}`)
	if o.Code != "invalid_scope" || o.Message != "The client does not hold the scope x." {
		t.Errorf("oauth error decoded as %+v", o)
	}
}

func TestDecodeNonJSONErrorBody(t *testing.T) {
	t.Parallel()
	page := "<html><body><h1>502 Bad Gateway</h1>\n" + strings.Repeat("x", 1000) + "</body></html>"
	e := decodeForTest(502, nil, page)
	if !strings.HasPrefix(e.Message, `HTML page "502 Bad Gateway xxx`) || len(e.Message) > maxMessageLen+len(`HTML page "…"`) {
		t.Errorf("excerpt %q (%d bytes)", e.Message, len(e.Message))
	}
	nginx := "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	if e := decodeForTest(500, nil, nginx); e.Message != `HTML page "500 Internal Server Error"` {
		t.Errorf("the title is the excerpt of a page that has one: %q", e.Message)
	}
	if e := decodeForTest(500, nil, "upstream connect error or disconnect/reset before headers\n"+strings.Repeat("y", 500)); strings.Contains(e.Message, "\n") || len(e.Message) > maxMessageLen+len("…") {
		t.Errorf("plain text is one short line: %q", e.Message)
	}
	if !IsTemporary(e) || IsFinal(e) {
		t.Errorf("502 must be temporary")
	}
	if empty := decodeForTest(503, nil, ""); empty.Message != "" || !strings.Contains(empty.Error(), "503 Service Unavailable") {
		t.Errorf("empty body: %q", empty.Error())
	}
}

func TestRetriesExhaustedKeepsLastStatus(t *testing.T) {
	t.Parallel()
	last := decodeForTest(503, nil, `{"fault":{"faultstring":"Service unavailable","detail":{"errorcode":"sandbox.fault"}}}`)
	err := fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, 7, last)
	var apiErr *APIError
	if !errors.Is(err, ErrRetriesExhausted) || !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("exhausted error does not expose the last answer: %v", err)
	}
	if !IsTemporary(err) || IsFinal(err) {
		t.Error("exhausted retries are temporary")
	}
}

func TestConfigNeverPrintsCredentials(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "https://api.example", Tenant: "acme", ClientID: "client-id-xyz", ClientSecret: "s3cr3t-value"}
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("config", "cfg", cfg)
	creds := Credentials{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}
	logger.Info("creds", "creds", creds)
	outputs := []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", &cfg),
		fmt.Sprint(creds), fmt.Sprintf("%#v", creds), logs.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, "s3cr3t-value") || strings.Contains(out, "client-id-xyz") {
			t.Errorf("credentials printed: %s", out)
		}
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("no redaction marker in %s", out)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	good := Config{BaseURL: "http://127.0.0.1:1/", Tenant: "acme", ClientID: "id", ClientSecret: "secret"}
	c, err := New(good)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.BaseURL() != "http://127.0.0.1:1" {
		t.Errorf("base URL not normalised: %q", c.BaseURL())
	}
	bad := map[string]func(*Config){
		"relative URL":     func(c *Config) { c.BaseURL = "api.example.com" },
		"ftp URL":          func(c *Config) { c.BaseURL = "ftp://api.example.com" },
		"user info":        func(c *Config) { c.BaseURL = "https://u:p@api.example.com" },
		"uppercase tenant": func(c *Config) { c.Tenant = "Acme" },
		"slash in tenant":  func(c *Config) { c.Tenant = "ac/me" },
		"no secret":        func(c *Config) { c.ClientSecret = "" },
		"bad mappings URL": func(c *Config) { c.MappingsURL = "not a url" },
	}
	for name, mutate := range bad {
		cfg := good
		mutate(&cfg)
		_, err := New(cfg)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") && cfg.ClientSecret != "" && strings.Contains(err.Error(), cfg.ClientSecret) {
			t.Errorf("%s: secret in error %q", name, err)
		}
	}
}

func TestLoadCredentialsPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("  file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvClientID: "env-id", EnvClientSecret: "env-secret"}
	getenv := func(k string) string { return env[k] }
	noenv := func(string) string { return "" }

	got, err := LoadCredentials(CredentialSources{FlagClientID: "flag-id", FlagClientSecret: "flag-secret", SecretFile: secretFile, Getenv: getenv})
	if err != nil || got.ClientID != "flag-id" || got.ClientSecret != "flag-secret" {
		t.Errorf("flags: %v %v", got.ClientID, err)
	}
	got, err = LoadCredentials(CredentialSources{SecretFile: secretFile, Getenv: getenv})
	if err != nil || got.ClientID != "env-id" || got.ClientSecret != "env-secret" {
		t.Errorf("env: %v %v", got.ClientID, err)
	}
	got, err = LoadCredentials(CredentialSources{FlagClientID: "flag-id", SecretFile: secretFile, Getenv: noenv})
	if err != nil || got.ClientSecret != "file-secret" {
		t.Errorf("file: secret trimmed wrongly or not read (err %v)", err)
	}
	if _, err := LoadCredentials(CredentialSources{FlagClientID: "flag-id", Getenv: noenv}); !errors.Is(err, ErrMissingCredentials) {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := LoadCredentials(CredentialSources{FlagClientSecret: "x", Getenv: noenv}); !errors.Is(err, ErrMissingCredentials) {
		t.Errorf("missing id: %v", err)
	}
}

func TestLoadCredentialsSecretFileChecks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noenv := func(string) string { return "" }

	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("world-readable-secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	got, err := LoadCredentials(CredentialSources{FlagClientID: "id", SecretFile: open, Getenv: noenv, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil || got.ClientSecret != "world-readable-secret" {
		t.Fatalf("0644 file: %v", err)
	}
	if !strings.Contains(logs.String(), "readable by group or others") {
		t.Errorf("no permission warning, log: %q", logs.String())
	}
	if strings.Contains(logs.String(), "world-readable-secret") {
		t.Error("secret logged")
	}

	twoLines := filepath.Join(dir, "two")
	if err := os.WriteFile(twoLines, []byte("line-one-secret\nline-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadCredentials(CredentialSources{FlagClientID: "id", SecretFile: twoLines, Getenv: noenv})
	if err == nil || strings.Contains(err.Error(), "line-one-secret") {
		t.Errorf("multi-line secret file: err %v", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCredentials(CredentialSources{FlagClientID: "id", SecretFile: empty, Getenv: noenv}); err == nil {
		t.Error("empty secret file accepted")
	}
	if _, err := LoadCredentials(CredentialSources{FlagClientID: "id", SecretFile: filepath.Join(dir, "missing"), Getenv: noenv}); err == nil {
		t.Error("missing secret file accepted")
	}
}

func TestScrubRemovesSecretAndTokens(t *testing.T) {
	t.Parallel()
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", Tenant: "acme", ClientID: "id", ClientSecret: "the-secret"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		c.rememberToken(fmt.Sprintf("token-%d", i))
	}
	e := decodeForTest(400, nil, `{"status":400,"type":"bad_request","message":"bad secret the-secret and token-9","details":[{"field":"x","message":"token-8"}]}`)
	c.scrubAPIError(e, nil)
	if s := e.Error(); strings.Contains(s, "the-secret") || strings.Contains(s, "token-9") || strings.Contains(s, "token-8") {
		t.Errorf("not scrubbed: %s", s)
	}
	if len(c.secrets) != 5 || c.secrets[0] != "the-secret" {
		t.Errorf("secret list %d entries, first kept: %v", len(c.secrets), c.secrets[0] == "the-secret")
	}
}
